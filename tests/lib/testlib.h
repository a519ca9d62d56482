/*
 * Helpers shared by the tests: run the real sensor as a child, read the
 * JSON lines it writes, find events in them.
 *
 * Every helper that allocates says who frees. The sensor child gets
 * PR_SET_PDEATHSIG so it dies with the test even when the test crashes.
 */
#ifndef RINGWARD_TESTLIB_H
#define RINGWARD_TESTLIB_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/types.h>
#include <cmocka.h>
#include <json-c/json.h>

/* Why the kernel tests cannot run here (not root, no BTF), or NULL. */
const char *rwt_kernel_skip_reason(void);

/* Path of the build directory ($BUILD, default "build"). */
const char *rwt_build_dir(void);

struct rwt_sensor {
	pid_t pid;
	char out_path[256];
	char err_path[256];
	char state_dir[256];	/* made here unless the caller passes --state-dir */
	json_object **recs;	/* every record read so far; owned here */
	size_t n_recs, cap_recs;
	long read_pos;
};

/* Start `build/ringward run --events --output <tmp> [extra...]` and wait
 * (up to 60 s) for its sensor-started record. Returns 0 or -errno. */
int rwt_sensor_start(struct rwt_sensor *s, const char *const extra[]);
/* SIGTERM the sensor, wait for it, read the remaining records; returns its
 * exit status as from waitpid, or -1. Safe to call twice. */
int rwt_sensor_stop(struct rwt_sensor *s);
/* Free records and remove the output files. */
void rwt_sensor_free(struct rwt_sensor *s);

/* Read any new complete lines from the sensor's output. */
void rwt_sensor_poll(struct rwt_sensor *s);

typedef bool (*rwt_pred)(json_object *rec, void *arg);
/* Wait up to timeout_ms for a record matching pred; returns it (owned by s)
 * or NULL. Scans every record from the start. */
json_object *rwt_wait_for(struct rwt_sensor *s, rwt_pred pred, void *arg, int timeout_ms);
/* Count the records matching pred that have been read so far. */
size_t rwt_count(struct rwt_sensor *s, rwt_pred pred, void *arg);

/* Dotted-path access into a record ("process.parent.pid"); NULL/dflt when
 * absent. Strings are owned by the record. */
json_object *rwt_get(json_object *rec, const char *dotted);
const char *rwt_str(json_object *rec, const char *dotted);
int64_t rwt_int(json_object *rec, const char *dotted, int64_t dflt);

/* A record whose event.action is `action` and process.pid is `pid`
 * (pid 0: any pid). */
struct rwt_match { const char *action; pid_t pid; const char *field; const char *value; };
bool rwt_match_action(json_object *rec, void *arg);

/* In a test whose group setup starts the sensor: skip with the reason
 * when this machine cannot run kernel tests, fail when the sensor did not
 * start although it could have. */
#define RWT_SKIP_UNLESS_UP(up)						\
	do {								\
		if (!(up)) {					\
			const char *why_ = rwt_kernel_skip_reason();	\
			printf("%s\n", why_ ? why_ : "skipped: sensor did not start"); \
			if (why_)					\
				skip();					\
			fail_msg("sensor did not start");		\
		}							\
	} while (0)

/* Fail, naming the field, unless rec's string field is want. */
void rwt_expect_str(json_object *rec, const char *field, const char *want);

/* Children of a test: tracked so that a failing test still kills and
 * reaps them (call rwt_kids_reap() from every teardown). */
void rwt_kid_add(pid_t pid);
/* Wait for a tracked child and forget it; returns its wait status. */
int rwt_kid_wait(pid_t pid);
/* Forget a child the test reaped itself. */
void rwt_kid_forget(pid_t pid);
/* SIGKILL and reap every child still tracked. */
void rwt_kids_reap(void);
/* A child (root) that becomes uid/gid 65534 with setresgid + setresuid,
 * then tries setuid(0), refused; waited for. Its pid. */
pid_t rwt_setid_child(void);

/* Make a fresh temporary directory under /tmp; returns a malloc'd path. */
char *rwt_mkdtemp(const char *tag);
/* rm -rf a test directory (only under /tmp/ringward-test-). */
void rwt_rmtree(const char *path);

#endif
