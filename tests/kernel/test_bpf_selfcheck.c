/*
 * The sensor notices when its own BPF programs are detached or removed,
 * end to end on the real sensor.
 *
 * The sensor's programs are on raw tracepoints and perf-event tracepoints,
 * whose links the kernel will not detach from outside (BPF_LINK_DETACH and
 * `bpftool link detach` answer EOPNOTSUPP for them). What an attacker with
 * root can do is what this test does: ptrace the sensor and make it close
 * the fds that hold its link (the hook is gone) or its link and program
 * (the program is gone). The sensor must raise one ringward-tamper alert
 * per incident naming the program, and report the hook as not in force.
 *
 * The fd injection needs x86_64 register layout; elsewhere the tests skip.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "testlib.h"

#define WAIT_MS		10000
#define QUIET_MS	3000	/* time for a few more checks (one a second) */
#define MAX_FDS		256

static struct rwt_sensor sensor;
static bool sensor_up;
static char *dir;
static char sock[PATH_MAX];

static int group_setup(void **state)
{
	const char *extra[] = { "--status-socket", sock, NULL };

	if (rwt_kernel_skip_reason())
		return 0;
	dir = rwt_mkdtemp("selfcheck");
	if (!dir)
		return 0;
	snprintf(sock, sizeof(sock), "%s/status.sock", dir);
	if (rwt_sensor_start(&sensor, extra) == 0)
		sensor_up = true;
	return 0;
}

static int group_teardown(void **state)
{
	rwt_kids_reap();
	if (sensor_up) {
		rwt_sensor_stop(&sensor);
		rwt_sensor_free(&sensor);
	}
	rwt_rmtree(dir);
	free(dir);
	return 0;
}

/* A test that failed mid-injection leaves the sensor traced and stopped,
 * and its alarm set. */
static int test_teardown(void **state)
{
	alarm(0);
	if (sensor_up && sensor.pid > 0)
		ptrace(PTRACE_DETACH, sensor.pid, NULL, NULL);
	return 0;
}

/* ---- the sensor's bpf fds, from /proc/<pid>/fdinfo ----------------------- */

struct bpf_fd {
	int fd;
	__u32 prog_id;
	__u32 link_id;		/* 0: a program fd */
};

/* Every program and link fd the sensor holds; returns how many. */
static int sensor_bpf_fds(struct bpf_fd *out, int max)
{
	char path[PATH_MAX], line[256];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo", (int)sensor.pid);
	d = opendir(path);
	assert_non_null(d);
	while ((e = readdir(d)) && n < max) {
		struct bpf_fd b = { .fd = atoi(e->d_name) };
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", (int)sensor.pid, e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			sscanf(line, "prog_id: %u", &b.prog_id);
			sscanf(line, "link_id: %u", &b.link_id);
		}
		fclose(f);
		if (b.prog_id)
			out[n++] = b;
	}
	closedir(d);
	return n;
}

/* The sensor's raw tracepoint link on tracepoint tp, or fails. */
static struct bpf_fd sensor_raw_tp_link(const char *tp)
{
	struct bpf_fd fds[MAX_FDS];
	int n = sensor_bpf_fds(fds, MAX_FDS);

	for (int i = 0; i < n; i++) {
		struct bpf_link_info info;
		__u32 len = sizeof(info);
		char name[128] = "";
		int fd;

		if (!fds[i].link_id)
			continue;
		fd = bpf_link_get_fd_by_id(fds[i].link_id);
		assert_true(fd >= 0);
		/* the type first: the name buffer means other things to other types */
		memset(&info, 0, sizeof(info));
		assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
		if (info.type == BPF_LINK_TYPE_RAW_TRACEPOINT) {
			memset(&info, 0, sizeof(info));
			len = sizeof(info);
			info.raw_tracepoint.tp_name = (__u64)(unsigned long)name;
			info.raw_tracepoint.tp_name_len = sizeof(name);
			assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
		}
		close(fd);
		if (info.type == BPF_LINK_TYPE_RAW_TRACEPOINT && strcmp(name, tp) == 0) {
			assert_int_equal(info.prog_id, fds[i].prog_id);
			return fds[i];
		}
	}
	fail_msg("the sensor holds no raw tracepoint link on %s", tp);
	return (struct bpf_fd){ -1, 0, 0 };
}

/* The sensor's fd of program id (not a link's), or fails. */
static int sensor_prog_fd(__u32 prog_id)
{
	struct bpf_fd fds[MAX_FDS];
	int n = sensor_bpf_fds(fds, MAX_FDS);

	for (int i = 0; i < n; i++)
		if (!fds[i].link_id && fds[i].prog_id == prog_id)
			return fds[i].fd;
	fail_msg("the sensor holds no fd of program %u", prog_id);
	return -1;
}

static void prog_tag(__u32 prog_id, char out[2 * BPF_TAG_SIZE + 1])
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(prog_id);

	assert_true(fd >= 0);
	memset(&info, 0, sizeof(info));
	assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	close(fd);
	for (int i = 0; i < BPF_TAG_SIZE; i++)
		snprintf(out + 2 * i, 3, "%02x", info.tag[i]);
}

/* ---- making the sensor close fds: ptrace syscall injection ------------------ */

#if defined(__x86_64__)
/* Resume pid until its next syscall-entry stop; fails if it exits. */
static void to_syscall_entry(pid_t pid)
{
	int sig = 0;

	for (;;) {
		struct __ptrace_syscall_info si;
		int st;

		assert_int_equal(ptrace(PTRACE_SYSCALL, pid, NULL, (void *)(long)sig), 0);
		sig = 0;
		assert_int_equal(waitpid(pid, &st, 0), pid);
		if (!WIFSTOPPED(st))
			fail_msg("the sensor ended while traced (status %#x)", st);
		if (WSTOPSIG(st) == (SIGTRAP | 0x80)) {
			memset(&si, 0, sizeof(si));
			assert_true(ptrace(PTRACE_GET_SYSCALL_INFO, pid, (void *)sizeof(si), &si) > 0);
			if (si.op == PTRACE_SYSCALL_INFO_ENTRY)
				return;
			continue;
		}
		/* a signal for the sensor: deliver it; an event stop: go on */
		if (st >> 16 == 0)
			sig = WSTOPSIG(st);
	}
}

/*
 * Make the sensor close fds[0..n): at each of its next syscalls, the
 * syscall is turned into close(fd) on entry and restarted as it was on
 * exit, so the sensor runs on unaware.
 */
static void sensor_close_fds(const int *fds, int n)
{
	pid_t pid = sensor.pid;
	int st;

	alarm(60);	/* never hang the suite on a sensor that makes no syscall */
	assert_int_equal(ptrace(PTRACE_SEIZE, pid, NULL, (void *)PTRACE_O_TRACESYSGOOD), 0);
	assert_int_equal(ptrace(PTRACE_INTERRUPT, pid, NULL, NULL), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSTOPPED(st));
	for (int i = 0; i < n; i++) {
		struct user_regs_struct saved, r;

		to_syscall_entry(pid);
		assert_int_equal(ptrace(PTRACE_GETREGS, pid, NULL, &saved), 0);
		r = saved;
		r.orig_rax = SYS_close;
		r.rdi = (unsigned long long)fds[i];
		assert_int_equal(ptrace(PTRACE_SETREGS, pid, NULL, &r), 0);
		/* to the exit of close(): the next syscall stop */
		assert_int_equal(ptrace(PTRACE_SYSCALL, pid, NULL, NULL), 0);
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFSTOPPED(st) && WSTOPSIG(st) == (SIGTRAP | 0x80));
		assert_int_equal(ptrace(PTRACE_GETREGS, pid, NULL, &r), 0);
		if ((long long)r.rax != 0)
			fail_msg("close(%d) in the sensor: %lld", fds[i], (long long)r.rax);
		/* back to the syscall instruction, to make the call it meant */
		saved.rip -= 2;
		saved.rax = saved.orig_rax;
		assert_int_equal(ptrace(PTRACE_SETREGS, pid, NULL, &saved), 0);
	}
	assert_int_equal(ptrace(PTRACE_DETACH, pid, NULL, NULL), 0);
	alarm(0);
}
#define CAN_INJECT 1
#else
static void sensor_close_fds(const int *fds, int n)
{
}
#define CAN_INJECT 0
#endif

#define SKIP_UNLESS_READY()						\
	do {								\
		RWT_SKIP_UNLESS_UP(sensor_up);				\
		if (!CAN_INJECT) {					\
			printf("skipped: fd injection is written for x86_64\n"); \
			skip();						\
		}							\
	} while (0)

/* ---- matching and status ---------------------------------------------------- */

struct want {
	const char *action;
	__u32 prog_id;
};

static bool match_alert(json_object *rec, void *arg)
{
	const struct want *w = arg;
	const char *a = rwt_str(rec, "event.action");

	return a && strcmp(a, w->action) == 0 &&
	       rwt_int(rec, "ringward.bpf.prog.id", -1) == (int64_t)w->prog_id;
}

static bool match_tamper(json_object *rec, void *arg)
{
	const char *r = rwt_str(rec, "rule.id");

	return r && strcmp(r, "ringward-tamper") == 0;
}

static bool never(json_object *rec, void *arg)
{
	return false;
}

/* `ringward status --format json`, parsed (caller puts). */
static json_object *status_json(void)
{
	char cmd[PATH_MAX + 128], buf[1 << 16];
	json_object *o;
	size_t n;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s/ringward status --socket %s --format json", rwt_build_dir(),
		 sock);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(buf, 1, sizeof(buf) - 1, p);
	assert_int_equal(pclose(p), 0);
	buf[n] = 0;
	o = json_tokener_parse(buf);
	assert_non_null(o);
	return o;
}

/* The entry of hook in a status's "hooks" (owned by st), or fails. */
static json_object *status_hook(json_object *st, const char *hook)
{
	json_object *hooks = rwt_get(st, "hooks");

	assert_non_null(hooks);
	for (size_t i = 0; i < json_object_array_length(hooks); i++) {
		json_object *h = json_object_array_get_idx(hooks, i);
		const char *name = rwt_str(h, "name");

		if (name && strcmp(name, hook) == 0)
			return h;
	}
	fail_msg("status lists no hook %s", hook);
	return NULL;
}

static bool hook_in_force(json_object *st, const char *hook)
{
	json_object *v = rwt_get(status_hook(st, hook), "in_force");

	assert_non_null(v);
	return json_object_get_boolean(v);
}

/* Every field of a self-check alert about program prog_id named name. */
static void assert_alert(json_object *rec, __u32 prog_id, const char *name, const char *tag,
			 const char *hook)
{
	const char *reason = rwt_str(rec, "event.reason");
	char id[16];

	rwt_expect_str(rec, "event.kind", "alert");
	rwt_expect_str(rec, "rule.id", "ringward-tamper");
	rwt_expect_str(rec, "rule.name", "ringward-tamper");
	rwt_expect_str(rec, "event.module", "ringward");
	rwt_expect_str(rec, "ringward.bpf.prog.name", name);
	rwt_expect_str(rec, "ringward.bpf.prog.tag", tag);
	rwt_expect_str(rec, "ringward.bpf.prog.type", "raw_tracepoint");
	assert_int_equal(rwt_int(rec, "ringward.bpf.prog.id", -1), prog_id);
	assert_int_equal(rwt_int(rec, "process.pid", -1), sensor.pid);
	assert_int_equal(rwt_int(rec, "event.severity", -1), 4);
	assert_non_null(reason);
	snprintf(id, sizeof(id), "id %u", prog_id);
	if (!strstr(reason, name) || !strstr(reason, id) || !strstr(reason, hook))
		fail_msg("event.reason does not name %s, %s and %s: %s", name, id, hook, reason);
}

/* ---- tests ------------------------------------------------------------------ */

static void test_selfcheck_in_force(void **state)
{
	json_object *st, *rec;

	RWT_SKIP_UNLESS_UP(sensor_up);
	st = status_json();
	assert_true(hook_in_force(st, "bpf-selfcheck"));
	assert_true(hook_in_force(st, "bpf:sched_process_exec"));
	assert_true(hook_in_force(st, "bpf:signal_generate"));
	json_object_put(st);
	/* nothing is amiss on a sensor left alone */
	assert_null(rwt_wait_for(&sensor, never, NULL, QUIET_MS));
	rec = rwt_wait_for(&sensor, match_tamper, NULL, 0);
	if (rec)
		fail_msg("a tamper alert on an untouched sensor: %s",
			 json_object_to_json_string(rec));
}

/* The link of sched_process_exec closed: the hook is gone, the program stays. */
static void test_link_detached(void **state)
{
	struct want w = { "sensor-bpf-link-detached", 0 };
	char tag[2 * BPF_TAG_SIZE + 1], link_id[16];
	struct bpf_fd link;
	json_object *rec, *st;
	int fd;

	SKIP_UNLESS_READY();
	link = sensor_raw_tp_link("sched_process_exec");
	prog_tag(link.prog_id, tag);
	/* the kernel will not detach this link type from outside */
	fd = bpf_link_get_fd_by_id(link.link_id);
	assert_true(fd >= 0);
	assert_int_equal(bpf_link_detach(fd), -EOPNOTSUPP);
	close(fd);

	sensor_close_fds(&link.fd, 1);
	/* really gone: the link was the sensor's alone */
	assert_true(bpf_link_get_fd_by_id(link.link_id) < 0);
	assert_int_equal(errno, ENOENT);

	w.prog_id = link.prog_id;
	rec = rwt_wait_for(&sensor, match_alert, &w, WAIT_MS);
	if (!rec)
		fail_msg("no sensor-bpf-link-detached alert for program %u", link.prog_id);
	assert_alert(rec, link.prog_id, "sched_process_exec", tag, "bpf:sched_process_exec");
	snprintf(link_id, sizeof(link_id), "link %u", link.link_id);
	assert_non_null(strstr(rwt_str(rec, "event.reason"), link_id));
	rwt_expect_str(rec, "event.category", "host");

	/* ringward status: the hook is no longer in force, and why */
	st = status_json();
	assert_false(hook_in_force(st, "bpf:sched_process_exec"));
	assert_non_null(strstr(rwt_str(status_hook(st, "bpf:sched_process_exec"), "why"),
			       link_id));
	assert_true(hook_in_force(st, "bpf:sched_process_fork"));
	json_object_put(st);

	/* one alert per incident, not one per check */
	assert_null(rwt_wait_for(&sensor, never, NULL, QUIET_MS));
	assert_int_equal(rwt_count(&sensor, match_alert, &w), 1);
}

/* The link and the program of signal_generate closed: the program is gone. */
static void test_program_missing(void **state)
{
	struct want w = { "sensor-bpf-program-missing", 0 };
	char tag[2 * BPF_TAG_SIZE + 1];
	struct bpf_fd link;
	json_object *rec, *st;
	int fds[2];

	SKIP_UNLESS_READY();
	link = sensor_raw_tp_link("signal_generate");
	prog_tag(link.prog_id, tag);
	fds[0] = sensor_prog_fd(link.prog_id);
	fds[1] = link.fd;

	sensor_close_fds(fds, 2);

	w.prog_id = link.prog_id;
	rec = rwt_wait_for(&sensor, match_alert, &w, WAIT_MS);
	if (!rec)
		fail_msg("no sensor-bpf-program-missing alert for program %u", link.prog_id);
	/* the kernel let go of it: the sensor held the only references */
	assert_true(bpf_prog_get_fd_by_id(link.prog_id) < 0);
	assert_int_equal(errno, ENOENT);
	assert_alert(rec, link.prog_id, "signal_generate", tag, "bpf:signal_generate");

	st = status_json();
	assert_false(hook_in_force(st, "bpf:signal_generate"));
	json_object_put(st);

	assert_null(rwt_wait_for(&sensor, never, NULL, QUIET_MS));
	assert_int_equal(rwt_count(&sensor, match_alert, &w), 1);
}

/* A sensor whose fds were closed behind its back still stops cleanly: it
 * does not close the numbers again (they may be reused by then). */
static void test_stops_cleanly(void **state)
{
	struct rwt_match m = { "sensor-stopped", 0, NULL, NULL };
	int st;

	RWT_SKIP_UNLESS_UP(sensor_up);
	st = rwt_sensor_stop(&sensor);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_non_null(rwt_wait_for(&sensor, rwt_match_action, &m, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_selfcheck_in_force, test_teardown),
		cmocka_unit_test_teardown(test_link_detached, test_teardown),
		cmocka_unit_test_teardown(test_program_missing, test_teardown),
		cmocka_unit_test_teardown(test_stops_cleanly, test_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
