/*
 * Fault containment on a real running sensor: the engine process is
 * killed, crashes, hangs and runs out of memory, and the sensor recovers.
 * Real rule files, real execs, real signals, alerts counted from the
 * sensor's output; the engine's sandbox read from /proc; the status read
 * over the real socket.
 *
 * Every test uses its own content, state directory and status socket
 * under /tmp/ringward-test-*, and removes them.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#define WAIT_MS 20000

static const char rule_fmt[] =
	"title: containment test %s\n"
	"id: %s\n"
	"status: test\n"
	"description: exec of /bin/true with a marker argument\n"
	"author: ringward tests\n"
	"level: high\n"
	"logsource:\n"
	"    category: process_creation\n"
	"    product: linux\n"
	"detection:\n"
	"    selection:\n"
	"        Image|endswith: '/true'\n"
	"        CommandLine|contains: '%s'\n"
	"%s"
	"    condition: selection\n"
	"%s";

#define ID_COUNT	"6c0a11e0-0000-4000-8000-000000000001"
#define ID_CRASH	"6c0a11e0-0000-4000-8000-000000000002"
#define ID_HANG		"6c0a11e0-0000-4000-8000-000000000003"
#define ID_ALLOC	"6c0a11e0-0000-4000-8000-000000000004"
#define ID_FIELD21	"6c0a11e0-0000-4000-8000-000000000021"

/* One test's world: content, state, socket, sensor. */
struct world {
	char *dir;		/* /tmp/ringward-test-containment.XXXXXX */
	char content[512], state[512], sock[512];
	struct rwt_sensor s;
	bool up;
};

static struct world *cur;	/* freed by the teardown if a test fails */

static void world_init(struct world *w)
{
	memset(w, 0, sizeof(*w));
	cur = w;
	w->dir = rwt_mkdtemp("containment");
	assert_non_null(w->dir);
	snprintf(w->content, sizeof(w->content), "%s/content", w->dir);
	snprintf(w->state, sizeof(w->state), "%s/state", w->dir);
	snprintf(w->sock, sizeof(w->sock), "%s/status.sock", w->dir);
	assert_int_equal(mkdir(w->content, 0700), 0);
}

static void world_stop(struct world *w)
{
	if (w->up) {
		rwt_sensor_stop(&w->s);
		rwt_sensor_free(&w->s);
		w->up = false;
	}
}

static void world_free(struct world *w)
{
	world_stop(w);
	if (w->dir) {
		rwt_rmtree(w->dir);
		free(w->dir);
		w->dir = NULL;
	}
	cur = NULL;
}

static int teardown(void **state)
{
	if (cur)
		world_free(cur);
	return 0;
}

static void put_file(struct world *w, const char *name, const char *text)
{
	char path[700], tmp[700];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", w->content, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", w->content, name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(rename(tmp, path), 0);
}

/* A rule on `/bin/true <marker>`; extra selection lines and a ringward:
 * block when given. */
static void put_rule(struct world *w, const char *name, const char *id, const char *marker,
		     const char *more_selection, const char *tail)
{
	char text[4096];

	snprintf(text, sizeof(text), rule_fmt, marker, id, marker,
		 more_selection ? more_selection : "", tail ? tail : "");
	put_file(w, name, text);
}

/* Start the sensor on the world, with more arguments. */
static void world_start(struct world *w, const char *const more[])
{
	const char *args[40] = { "--content", w->content, "--state-dir", w->state,
				 "--status-socket", w->sock, "--hooks", "process" };
	int n = 8;

	for (int i = 0; more && more[i]; i++)
		args[n++] = more[i];
	args[n] = NULL;
	assert_int_equal(rwt_sensor_start(&w->s, args), 0);
	w->up = true;
}

static bool skip_if_needed(void)
{
	const char *why = rwt_kernel_skip_reason();

	if (why) {
		printf("%s\n", why);
		return true;
	}
	return false;
}

static void run_true(const char *marker)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		execl("/bin/true", "true", marker, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	/* the host is never made to wait for the engine: every exec runs
	 * to completion whatever state the engine is in */
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* ---- reading records ---- */

struct want {
	const char *action;
	const char *field, *value;	/* and this field has this value */
	size_t nth;			/* the nth such record (1-based) */
	size_t seen;
};

static bool want_match(json_object *rec, void *arg)
{
	struct want *w = arg;
	const char *a = rwt_str(rec, "event.action"), *v;

	if (!a || strcmp(a, w->action))
		return false;
	if (w->field && (!(v = rwt_str(rec, w->field)) || strcmp(v, w->value)))
		return false;
	return ++w->seen >= w->nth;
}

static json_object *wait_rec(struct world *w, const char *action, const char *field,
			     const char *value, size_t nth)
{
	for (int waited = 0; waited <= WAIT_MS; waited += 50) {
		struct want want = { action, field, value, nth ? nth : 1, 0 };
		json_object *r = rwt_wait_for(&w->s, want_match, &want, 0);

		if (r)
			return r;
		usleep(50 * 1000);
	}
	return NULL;
}

static size_t count_rec(struct world *w, const char *action, const char *field,
			const char *value)
{
	size_t n = 0;

	rwt_sensor_poll(&w->s);
	for (size_t i = 0; i < w->s.n_recs; i++) {
		struct want want = { action, field, value, 1, 0 };

		n += want_match(w->s.recs[i], &want);
	}
	return n;
}

struct alert_want {
	const char *rule_id, *marker;
};

static bool is_alert(json_object *rec, void *arg)
{
	struct alert_want *a = arg;
	const char *kind = rwt_str(rec, "event.kind"), *id = rwt_str(rec, "rule.id");
	const char *cmd = rwt_str(rec, "process.command_line");

	return kind && !strcmp(kind, "alert") && id && !strcmp(id, a->rule_id) && cmd &&
	       strstr(cmd, a->marker);
}

static size_t count_alerts(struct world *w, const char *rule_id, const char *marker)
{
	struct alert_want a = { rule_id, marker };

	rwt_sensor_poll(&w->s);
	return rwt_count(&w->s, is_alert, &a);
}

/* Wait until n alerts are there, then a little more so that extra ones
 * (duplicates) would show; returns the count. */
static size_t settle_alerts(struct world *w, const char *rule_id, const char *marker, size_t n)
{
	for (int waited = 0; waited < WAIT_MS && count_alerts(w, rule_id, marker) < n; waited += 50)
		usleep(50 * 1000);
	usleep(300 * 1000);
	return count_alerts(w, rule_id, marker);
}

/* The pid of the engine of the latest engine-started record. */
static pid_t engine_pid(struct world *w, size_t nth)
{
	json_object *r = wait_rec(w, "engine-started", NULL, NULL, nth);

	assert_non_null(r);
	return (pid_t)rwt_int(r, "ringward.engine.pid", 0);
}

/* A counter from a status or metrics object (names contain dots). */
static int64_t counter(json_object *st, const char *name)
{
	json_object *c = rwt_get(st, "counters"), *v;

	if (!c || !json_object_object_get_ex(c, name, &v))
		return -1;
	return json_object_get_int64(v);
}

/* The status over the socket, parsed (caller puts). */
static json_object *status(struct world *w, const char *format)
{
	char cmd[1024], buf[1 << 16];
	size_t n = 0;
	FILE *p;
	json_object *o;

	snprintf(cmd, sizeof(cmd), "%s/ringward status --socket %s --format %s", rwt_build_dir(),
		 w->sock, format);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(buf, 1, sizeof(buf) - 1, p);
	assert_int_equal(pclose(p), 0);
	buf[n] = 0;
	if (strcmp(format, "text") == 0)
		return json_object_new_string(buf);
	o = json_tokener_parse(buf);
	assert_non_null(o);
	return o;
}

/* A line of /proc/<pid>/status, e.g. "CapEff". */
static char *proc_status(pid_t pid, const char *key, char *out, size_t len)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	out[0] = 0;
	while (fgets(line, sizeof(line), f)) {
		size_t k = strlen(key);

		if (!strncmp(line, key, k) && line[k] == ':') {
			char *v = line + k + 1;

			while (*v == ' ' || *v == '\t')
				v++;
			v[strcspn(v, "\n")] = 0;
			snprintf(out, len, "%s", v);
			break;
		}
	}
	fclose(f);
	return out;
}

/* ---- tests ---- */

/* The engine runs with no capabilities, no_new_privs, a seccomp filter,
 * landlock, only the fds it was given, and a read-only event ring. */
static void test_engine_sandbox(void **state)
{
	static struct world w;
	char v[256], path[128], link[256];
	json_object *st, *sb;
	pid_t pid;

	if (skip_if_needed()) {
		skip();
		return;
	}
	world_init(&w);
	put_rule(&w, "count.yml", ID_COUNT, "rw-cont-sandbox", NULL, NULL);
	world_start(&w, NULL);
	assert_non_null(wait_rec(&w, "content-loaded", NULL, NULL, 1));
	pid = engine_pid(&w, 1);
	assert_true(pid > 0);
	assert_string_equal(proc_status(pid, "CapEff", v, sizeof(v)), "0000000000000000");
	assert_string_equal(proc_status(pid, "CapPrm", v, sizeof(v)), "0000000000000000");
	assert_string_equal(proc_status(pid, "CapInh", v, sizeof(v)), "0000000000000000");
	assert_string_equal(proc_status(pid, "CapBnd", v, sizeof(v)), "0000000000000000");
	assert_string_equal(proc_status(pid, "CapAmb", v, sizeof(v)), "0000000000000000");
	assert_string_equal(proc_status(pid, "NoNewPrivs", v, sizeof(v)), "1");
	assert_string_equal(proc_status(pid, "Seccomp", v, sizeof(v)), "2");
	/* uid 0 without capabilities (see README) */
	assert_string_equal(proc_status(pid, "Uid", v, sizeof(v)), "0\t0\t0\t0");
	/* only the fds it was handed: stdin, stdout (/dev/null), stderr,
	 * the two memfds, the wakeup eventfd and the verdict reply eventfd */
	for (int fd = 0; fd < 64; fd++) {
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
		n = readlink(path, link, sizeof(link) - 1);
		if (fd <= 6) {
			assert_true(n > 0);
			link[n] = 0;
			if (fd == 1)
				assert_string_equal(link, "/dev/null");
			if (fd == 3)
				assert_non_null(strstr(link, "ringward-ctl"));
			if (fd == 4)
				assert_non_null(strstr(link, "ringward-events"));
			if (fd == 5 || fd == 6)
				assert_non_null(strstr(link, "eventfd"));
		} else {
			assert_true(n < 0);
		}
	}
	/* the event ring is mapped read-only in the engine */
	{
		char maps[64], line[512];
		FILE *f;
		bool seen = false;

		snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)pid);
		f = fopen(maps, "r");
		assert_non_null(f);
		while (fgets(line, sizeof(line), f))
			if (strstr(line, "ringward-events")) {
				char perms[8];

				assert_int_equal(sscanf(line, "%*s %7s", perms), 1);
				assert_string_equal(perms, "r--s");
				seen = true;
			}
		fclose(f);
		assert_true(seen);
	}
	/* and the status says the same */
	st = status(&w, "json");
	sb = rwt_get(st, "engine.sandbox");
	assert_non_null(sb);
	assert_true(json_object_get_boolean(rwt_get(sb, "capabilities_dropped")));
	assert_true(json_object_get_boolean(rwt_get(sb, "no_new_privs")));
	assert_true(json_object_get_boolean(rwt_get(sb, "seccomp")));
	assert_true(json_object_get_boolean(rwt_get(sb, "landlock")));
	assert_true(rwt_int(sb, "landlock_abi", 0) >= 1);
	assert_int_equal(rwt_int(st, "engine.pid", 0), pid);
	json_object_put(st);
	world_free(&w);
}

/* Kill the engine while events wait for it: SIGSTOP it, run N execs (each
 * completes), kill it with sig, run M more while it restarts; every one of
 * the N+M execs gets exactly one alert from the restarted engine. */
static void kill_and_count(struct world *w, int sig, const char *signame, size_t nth)
{
	char marker[64];
	json_object *f;
	pid_t pid = engine_pid(w, nth), next;
	const size_t n = 25, m = 25;

	snprintf(marker, sizeof(marker), "rw-cont-count-%s", signame);
	assert_int_equal(kill(pid, SIGSTOP), 0);
	for (size_t i = 0; i < n; i++)
		run_true(marker);
	/* a stopped process takes SIGKILL at once, anything else on SIGCONT */
	assert_int_equal(kill(pid, sig), 0);
	if (sig != SIGKILL)
		assert_int_equal(kill(pid, SIGCONT), 0);
	for (size_t i = 0; i < m; i++)
		run_true(marker);
	f = wait_rec(w, "engine-failed", "ringward.engine.signal", signame, 1);
	assert_non_null(f);
	assert_string_equal(rwt_str(f, "ringward.engine.cause"), "crash");
	assert_int_equal(rwt_int(f, "ringward.engine.pid", 0), pid);
	next = engine_pid(w, nth + 1);
	assert_true(next > 0 && next != pid);
	assert_int_equal(settle_alerts(w, ID_COUNT, marker, n + m), n + m);
}

static void test_kill_restart_no_loss(void **state)
{
	static struct world w;
	const char *more[] = { "--engine-hang-ms", "60000", NULL };
	json_object *st;

	if (skip_if_needed()) {
		skip();
		return;
	}
	world_init(&w);
	put_rule(&w, "count.yml", ID_COUNT, "rw-cont-count", NULL, NULL);
	world_start(&w, more);
	assert_non_null(wait_rec(&w, "content-loaded", NULL, NULL, 1));
	kill_and_count(&w, SIGKILL, "SIGKILL", 1);
	kill_and_count(&w, SIGSEGV, "SIGSEGV", 2);
	/* the status has both restarts and their causes */
	st = status(&w, "json");
	assert_int_equal(rwt_int(st, "engine.restarts", -1), 2);
	assert_int_equal(counter(st, "engine.failures.crash"), 2);
	assert_int_equal(counter(st, "drops.engine.ring_full"), 0);
	assert_string_equal(rwt_str(st, "engine.state"), "running");
	{
		json_object *fl = rwt_get(st, "engine.failures");

		assert_int_equal(json_object_array_length(fl), 2);
		assert_string_equal(rwt_str(json_object_array_get_idx(fl, 0), "signal"), "SIGKILL");
		assert_string_equal(rwt_str(json_object_array_get_idx(fl, 1), "signal"), "SIGSEGV");
	}
	json_object_put(st);
	world_free(&w);
}

/* Events still in the ring when the sensor stops, with its engine unable
 * to take them, are counted as lost, never dropped silently. */
static void test_unevaluated_counted_at_stop(void **state)
{
	static struct world w;
	const char *more[] = { "--engine-hang-ms", "60000", NULL };
	struct rwt_match stopped = { "sensor-stopped", 0, NULL, NULL };
	json_object *rec, *c, *v;
	pid_t engine;
	const int n = 20;
	int st;

	if (skip_if_needed()) {
		skip();
		return;
	}
	world_init(&w);
	put_rule(&w, "count.yml", ID_COUNT, "rw-cont-stop", NULL, NULL);
	world_start(&w, more);
	assert_non_null(wait_rec(&w, "content-loaded", NULL, NULL, 1));
	engine = engine_pid(&w, 1);
	assert_true(engine > 0);
	assert_int_equal(kill(engine, SIGSTOP), 0);
	for (int i = 0; i < n; i++)
		run_true("rw-cont-stop");
	/* the engine cannot finish the ring: it is killed at the stop deadline */
	st = rwt_sensor_stop(&w.s);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	rec = rwt_wait_for(&w.s, rwt_match_action, &stopped, 0);
	assert_non_null(rec);
	c = rwt_get(rec, "ringward.counters");
	assert_non_null(c);
	assert_true(json_object_object_get_ex(c, "drops.engine.unevaluated_at_stop", &v));
	/* at least the n execs (their forks and exits are in the ring too) */
	assert_true(json_object_get_int64(v) >= n);
	assert_int_equal(count_alerts(&w, ID_COUNT, "rw-cont-stop"), 0);
	world_free(&w);
}

/* The engine is one of the sensor's processes: a signal aimed at it is
 * reported like one aimed at the core (SIGURG: ignored by default). */
static void test_signal_to_engine_reported(void **state)
{
	static struct world w;
	const char *more[] = { "--hooks", "process,tamper", NULL };
	pid_t engine;
	struct rwt_match sig = { "signal", 0, NULL, NULL };
	json_object *rec = NULL;

	if (skip_if_needed()) {
		skip();
		return;
	}
	world_init(&w);
	put_rule(&w, "count.yml", ID_COUNT, "rw-cont-sig", NULL, NULL);
	world_start(&w, more);
	assert_non_null(wait_rec(&w, "content-loaded", NULL, NULL, 1));
	engine = engine_pid(&w, 1);
	assert_true(engine > 0);
	assert_int_equal(kill(engine, SIGURG), 0);
	for (int waited = 0; waited < WAIT_MS && !rec; waited += 50) {
		rwt_sensor_poll(&w.s);
		for (size_t i = 0; i < w.s.n_recs && !rec; i++)
			if (rwt_match_action(w.s.recs[i], &sig) &&
			    rwt_int(w.s.recs[i], "ringward.target.process.pid", 0) == engine)
				rec = w.s.recs[i];
		if (!rec)
			usleep(50 * 1000);
	}
	assert_non_null(rec);
	assert_int_equal(rwt_int(rec, "ringward.signal.number", 0), SIGURG);
	assert_int_equal(rwt_int(rec, "process.pid", 0), getpid());
	world_free(&w);
}

/* The output is written by a child with no privileges (uid 65534, no
 * capabilities, seccomp strict); killed, it is replaced, the records in
 * the failed write are counted as lost, and later records arrive. */
static void test_output_writer_unprivileged(void **state)
{
	static struct world w;
	struct rwt_match stopped = { "sensor-stopped", 0, NULL, NULL };
	struct rwt_match after = { "exec", 0, "process.command_line", "true rw-out-after" };
	char path[64], v[128], fds[64];
	pid_t engine, writer = 0;
	json_object *rec, *c, *n;
	FILE *f;
	int st;

	if (skip_if_needed()) {
		skip();
		return;
	}
	world_init(&w);
	put_rule(&w, "count.yml", ID_COUNT, "rw-cont-out", NULL, NULL);
	world_start(&w, NULL);
	assert_non_null(wait_rec(&w, "content-loaded", NULL, NULL, 1));
	engine = engine_pid(&w, 1);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)w.s.pid, (int)w.s.pid);
	f = fopen(path, "r");
	assert_non_null(f);
	for (int pid; fscanf(f, "%d", &pid) == 1;)
		if (pid != engine)
			writer = pid;
	fclose(f);
	assert_true(writer > 0);
	assert_string_equal(proc_status(writer, "Uid", v, sizeof(v)), "65534\t65534\t65534\t65534");
	assert_string_equal(proc_status(writer, "CapEff", v, sizeof(v)), "0000000000000000");
	assert_string_equal(proc_status(writer, "CapPrm", v, sizeof(v)), "0000000000000000");
	assert_string_equal(proc_status(writer, "NoNewPrivs", v, sizeof(v)), "1");
	assert_string_equal(proc_status(writer, "Seccomp", v, sizeof(v)), "1");
	/* only the pipe, the destination and stderr */
	snprintf(path, sizeof(path), "/proc/%d/fd/3", (int)writer);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(fds, sizeof(fds), "/proc/%d/fd/1", (int)writer);
	assert_int_equal(access(fds, F_OK), 0);

	assert_int_equal(kill(writer, SIGKILL), 0);
	usleep(200 * 1000);
	run_true("rw-out-after");
	assert_non_null(rwt_wait_for(&w.s, rwt_match_action, &after, WAIT_MS));
	st = rwt_sensor_stop(&w.s);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	rec = rwt_wait_for(&w.s, rwt_match_action, &stopped, 0);
	assert_non_null(rec);
	c = rwt_get(rec, "ringward.counters");
	assert_true(json_object_object_get_ex(c, "output.writer_starts", &n));
	assert_int_equal(json_object_get_int64(n), 2);
	/* what met the dead writer's pipe went to the new writer */
	assert_true(json_object_object_get_ex(c, "drops.output.write_failed", &n));
	assert_int_equal(json_object_get_int64(n), 0);
	world_free(&w);
}

/* A rule that spins forever: the engine is killed for the hang, and the
 * record names the rule. */
static void test_hang_detected(void **state)
{
	static struct world w;
	const char *more[] = { "--test-faults", "rules", "--engine-hang-ms", "1000", NULL };
	json_object *f;
	pid_t pid;

	if (skip_if_needed()) {
		skip();
		return;
	}
	world_init(&w);
	put_rule(&w, "hang.yml", ID_HANG, "rw-cont-hang", NULL, "ringward:\n    fault: hang\n");
	world_start(&w, more);
	assert_non_null(wait_rec(&w, "content-loaded", NULL, NULL, 1));
	pid = engine_pid(&w, 1);
	run_true("rw-cont-hang");
	f = wait_rec(&w, "engine-failed", NULL, NULL, 1);
	assert_non_null(f);
	assert_string_equal(rwt_str(f, "ringward.engine.cause"), "hang");
	assert_string_equal(rwt_str(f, "ringward.engine.signal"), "SIGKILL");
	assert_string_equal(rwt_str(f, "ringward.engine.phase"), "running");
	assert_string_equal(rwt_str(f, "ringward.engine.rule.id"), ID_HANG);
	assert_string_equal(rwt_str(f, "ringward.engine.rule.name"),
			    "containment test rw-cont-hang");
	assert_int_equal(rwt_int(f, "ringward.engine.pid", 0), pid);
	assert_true(engine_pid(&w, 2) != pid);
	world_free(&w);
}

/* A rule that allocates without bound: killed for memory. */
static void test_runaway_memory(void **state)
{
	static struct world w;
	const char *more[] = { "--test-faults", "rules", "--engine-memory-mb", "128", NULL };
	json_object *f;

	if (skip_if_needed()) {
		skip();
		return;
	}
	world_init(&w);
	put_rule(&w, "alloc.yml", ID_ALLOC, "rw-cont-alloc", NULL, "ringward:\n    fault: alloc\n");
	world_start(&w, more);
	assert_non_null(wait_rec(&w, "content-loaded", NULL, NULL, 1));
	run_true("rw-cont-alloc");
	f = wait_rec(&w, "engine-failed", NULL, NULL, 1);
	assert_non_null(f);
	assert_string_equal(rwt_str(f, "ringward.engine.cause"), "memory");
	assert_string_equal(rwt_str(f, "ringward.engine.rule.id"), ID_ALLOC);
	assert_true(engine_pid(&w, 2) > 0);
	world_free(&w);
}

/* Without --test-faults, a rule asking for a fault does not load, and the
 * validator refuses it too. */
static void test_fault_refused_without_flag(void **state)
{
	static struct world w;
	json_object *f, *errs;
	char cmd[1024];

	if (skip_if_needed()) {
		skip();
		return;
	}
	world_init(&w);
	put_rule(&w, "crash.yml", ID_CRASH, "rw-cont-crash", NULL, "ringward:\n    fault: crash\n");
	world_start(&w, NULL);
	f = wait_rec(&w, "content-load-failed", NULL, NULL, 1);
	assert_non_null(f);
	errs = rwt_get(f, "ringward.content.errors");
	assert_non_null(errs);
	assert_non_null(strstr(json_object_get_string(json_object_array_get_idx(errs, 0)),
			       "'ringward.fault' is for tests only"));
	run_true("rw-cont-crash");
	usleep(300 * 1000);
	assert_int_equal(count_rec(&w, "engine-failed", NULL, NULL), 0);
	world_stop(&w);
	snprintf(cmd, sizeof(cmd), "%s/ringward validate %s/crash.yml >/dev/null 2>&1",
		 rwt_build_dir(), w.content);
	assert_int_not_equal(system(cmd), 0);
	world_free(&w);
}

/* Run `count` execs of /bin/true in a child; returns its pid. */
static pid_t workload(int count)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		for (int i = 0; i < count; i++) {
			pid_t c = fork();
			int st;

			if (c == 0) {
				execl("/bin/true", "true", "rw-cont-workload", (char *)NULL);
				_exit(127);
			}
			if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st))
				_exit(1);
		}
		_exit(0);
	}
	return pid;
}

static void workload_done(pid_t pid)
{
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/*
 * A crash loop on new content rolls back to the last-known-good: V1 runs
 * and becomes LKG; V2 adds a rule that crashes the engine; after K
 * failures V2 is marked bad, the alert names V2, the cause and the rule,
 * and the engine runs V1's copy. A workload runs to completion meanwhile.
 * `bad_rule` is the rule V2 adds (selection lines and tail). Returns V2's
 * version id (malloc'd).
 */
static char *crash_loop_rolls_back(struct world *w, const char *bad_id, const char *bad_marker,
				   const char *bad_sel, const char *bad_tail, const char *cause_signal)
{
	json_object *lkg, *v2, *rb, *started;
	char *v1_id, *v2_id;
	pid_t load;

	put_rule(w, "count.yml", ID_COUNT, "rw-cont-A", NULL, NULL);
	{
		const char *more[] = { "--test-faults", "all", "--lkg-after", "1",
				       "--engine-failure-window", "600", NULL };

		world_start(w, more);
	}
	assert_non_null(wait_rec(w, "content-loaded", NULL, NULL, 1));
	lkg = wait_rec(w, "content-lkg-saved", NULL, NULL, 1);
	assert_non_null(lkg);
	v1_id = strdup(rwt_str(lkg, "ringward.content.version"));
	/* V2: a rule that takes the engine down when it matches */
	put_rule(w, "bad.yml", bad_id, bad_marker, bad_sel, bad_tail);
	v2 = wait_rec(w, "content-loaded", NULL, NULL, 2);
	assert_non_null(v2);
	assert_int_equal(rwt_int(v2, "ringward.content.rules", 0), 2);
	v2_id = strdup(rwt_str(v2, "ringward.content.version"));
	assert_string_not_equal(v1_id, v2_id);

	load = workload(300);
	run_true(bad_marker);
	rb = wait_rec(w, "ringward-content-rollback", NULL, NULL, 1);
	assert_non_null(rb);
	assert_string_equal(rwt_str(rb, "event.kind"), "alert");
	assert_string_equal(rwt_str(rb, "rule.name"), "ringward-content-rollback");
	assert_string_equal(rwt_str(rb, "ringward.content.version"), v2_id);
	assert_string_equal(rwt_str(rb, "ringward.content.last_known_good"), v1_id);
	assert_string_equal(rwt_str(rb, "ringward.engine.cause"), "crash");
	assert_string_equal(rwt_str(rb, "ringward.engine.signal"), cause_signal);
	assert_string_equal(rwt_str(rb, "ringward.engine.rule.id"), bad_id);
	assert_int_equal(rwt_int(rb, "ringward.engine.failures", 0), 3);
	assert_non_null(strstr(rwt_str(rb, "event.reason"), v2_id));
	/* exactly K failures, all on V2 */
	assert_int_equal(count_rec(w, "engine-failed", "ringward.content.version", v2_id), 3);
	/* the engine is back, on the LKG copy of V1 */
	started = wait_rec(w, "engine-started", "ringward.content.source", "last-known-good", 1);
	assert_non_null(started);
	assert_string_equal(rwt_str(started, "ringward.content.version"), v1_id);
	assert_non_null(wait_rec(w, "content-loaded", "ringward.content.source",
				 "last-known-good", 1));
	run_true("rw-cont-A-after");
	assert_int_equal(settle_alerts(w, ID_COUNT, "rw-cont-A-after", 1), 1);
	workload_done(load);
	free(v1_id);
	return v2_id;
}

static void test_rollback_and_refusal(void **state)
{
	static struct world w;
	json_object *st, *bad, *ref, *loaded;
	char *v2_id;

	if (skip_if_needed()) {
		skip();
		return;
	}
	world_init(&w);
	v2_id = crash_loop_rolls_back(&w, ID_CRASH, "rw-cont-crash", NULL,
				      "ringward:\n    fault: crash\n", "SIGSEGV");
	/* status: LKG active, V2 marked bad with the rule, verdict degraded */
	st = status(&w, "json");
	assert_string_equal(rwt_str(st, "content.active.source"), "last-known-good");
	bad = rwt_get(st, "content.bad");
	assert_int_equal(json_object_array_length(bad), 1);
	assert_string_equal(rwt_str(json_object_array_get_idx(bad, 0), "version"), v2_id);
	assert_string_equal(rwt_str(json_object_array_get_idx(bad, 0), "rule.id"), ID_CRASH);
	assert_string_equal(rwt_str(st, "health.verdict"), "degraded");
	assert_int_equal(counter(st, "content.rollbacks"), 1);
	json_object_put(st);
	st = status(&w, "text");
	assert_non_null(strstr(json_object_get_string(st), "marked bad: "));
	assert_non_null(strstr(json_object_get_string(st), "health: degraded"));
	json_object_put(st);

	/* V2 is refused after a restart of the sensor too */
	world_stop(&w);
	{
		const char *more[] = { "--test-faults", "all", NULL };

		world_start(&w, more);
	}
	ref = wait_rec(&w, "content-refused", NULL, NULL, 1);
	assert_non_null(ref);
	assert_string_equal(rwt_str(ref, "ringward.content.version"), v2_id);
	assert_string_equal(rwt_str(ref, "ringward.engine.rule.id"), ID_CRASH);
	loaded = wait_rec(&w, "content-loaded", NULL, NULL, 1);
	assert_non_null(loaded);
	assert_string_equal(rwt_str(loaded, "ringward.content.source"), "last-known-good");
	assert_int_equal(rwt_int(loaded, "ringward.content.rules", 0), 1);
	run_true("rw-cont-crash");	/* no crash: V2's rule is not loaded */
	run_true("rw-cont-A-again");
	assert_int_equal(settle_alerts(&w, ID_COUNT, "rw-cont-A-again", 1), 1);
	assert_int_equal(count_rec(&w, "engine-failed", NULL, NULL), 0);
	free(v2_id);
	world_free(&w);
}

/* Safe mode after repeated unclean starts: the sensor comes up collecting
 * and reporting, content off, and says so; a clean stop ends it. */
static void test_safe_mode(void **state)
{
	static struct world w;
	json_object *started, *st;

	if (skip_if_needed()) {
		skip();
		return;
	}
	world_init(&w);
	put_rule(&w, "count.yml", ID_COUNT, "rw-cont-safe", NULL, NULL);
	for (int i = 0; i < 3; i++) {
		int stw;

		world_start(&w, NULL);
		started = wait_rec(&w, "sensor-started", NULL, NULL, 1);
		assert_false(json_object_get_boolean(rwt_get(started, "ringward.sensor.safe_mode")));
		assert_int_equal(rwt_int(started, "ringward.sensor.unclean_starts", -1), i);
		/* a crash of the sensor itself */
		assert_int_equal(kill(w.s.pid, SIGKILL), 0);
		assert_int_equal(waitpid(w.s.pid, &stw, 0), w.s.pid);
		w.s.pid = 0;
		world_stop(&w);
	}
	world_start(&w, NULL);
	started = wait_rec(&w, "sensor-started", NULL, NULL, 1);
	assert_true(json_object_get_boolean(rwt_get(started, "ringward.sensor.safe_mode")));
	assert_int_equal(rwt_int(started, "ringward.sensor.unclean_starts", -1), 3);
	assert_non_null(strstr(rwt_str(started, "event.reason"), "safe mode"));
	/* collection on: the exec is reported; content off: no engine */
	run_true("rw-cont-safe");
	{
		struct rwt_match m = { "exec", 0, "process.command_line", "true rw-cont-safe" };

		assert_non_null(rwt_wait_for(&w.s, rwt_match_action, &m, WAIT_MS));
	}
	st = status(&w, "json");
	assert_true(json_object_get_boolean(rwt_get(st, "sensor.safe_mode")));
	assert_string_equal(rwt_str(st, "health.verdict"), "failing");
	assert_string_equal(rwt_str(st, "engine.state"), "off");
	assert_int_equal(rwt_int(st, "engine.pid", -1), 0);
	json_object_put(st);
	assert_int_equal(count_rec(&w, "engine-started", NULL, NULL), 0);
	assert_int_equal(count_alerts(&w, ID_COUNT, "rw-cont-safe"), 0);
	/* a clean stop: the next start is normal */
	world_stop(&w);
	world_start(&w, NULL);
	started = wait_rec(&w, "sensor-started", NULL, NULL, 1);
	assert_false(json_object_get_boolean(rwt_get(started, "ringward.sensor.safe_mode")));
	assert_non_null(wait_rec(&w, "content-loaded", NULL, NULL, 1));
	world_free(&w);
}

/* The status socket: mode 0600, root's; refused to another uid; JSON with
 * versions, pids, hooks, counters and a verdict; text for people. */
static void test_status_socket(void **state)
{
	static struct world w;
	struct stat sst;
	json_object *st, *text;
	pid_t pid, child;
	int stw;

	if (skip_if_needed()) {
		skip();
		return;
	}
	world_init(&w);
	put_rule(&w, "count.yml", ID_COUNT, "rw-cont-status", NULL, NULL);
	world_start(&w, NULL);
	assert_non_null(wait_rec(&w, "content-loaded", NULL, NULL, 1));
	pid = engine_pid(&w, 1);
	assert_int_equal(stat(w.sock, &sst), 0);
	assert_true(S_ISSOCK(sst.st_mode));
	assert_int_equal(sst.st_mode & 0777, 0600);
	assert_int_equal(sst.st_uid, 0);
	/* another uid cannot connect */
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fd;

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", w.sock);
		if (chmod(w.dir, 0755) || setgid(65534) || setuid(65534))
			_exit(3);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			_exit(1);
		_exit(errno == EACCES ? 0 : 2);
	}
	assert_int_equal(waitpid(child, &stw, 0), child);
	assert_true(WIFEXITED(stw));
	assert_int_equal(WEXITSTATUS(stw), 0);

	st = status(&w, "json");
	assert_string_equal(rwt_str(st, "sensor.version"), "0.1.0");
	assert_int_equal(rwt_int(st, "sensor.pid", 0), w.s.pid);
	assert_int_equal(rwt_int(st, "engine.pid", 0), pid);
	assert_string_equal(rwt_str(st, "engine.state"), "running");
	assert_true(rwt_int(st, "sensor.uptime_s", -1) >= 0);
	assert_true(json_object_array_length(rwt_get(st, "hooks")) >= 3);
	assert_true(counter(st, "engine.queued") >= 0);
	assert_int_equal(counter(st, "drops.engine.ring_full"), 0);
	assert_non_null(rwt_str(st, "health.verdict"));
	assert_int_equal(rwt_int(st, "content.active.rules", 0), 1);
	assert_string_equal(rwt_str(st, "content.active.source"), "configured");
	assert_non_null(strstr(rwt_str(st, "content.active.version"), "sha256:"));
	assert_true(json_object_is_type(rwt_get(st, "content.last_known_good"), json_type_null));
	json_object_put(st);
	text = status(&w, "text");
	assert_non_null(strstr(json_object_get_string(text), "engine: running"));
	assert_non_null(strstr(json_object_get_string(text), "sandbox: capabilities dropped"));
	json_object_put(text);
	world_stop(&w);
	/* gone with the sensor */
	assert_int_not_equal(access(w.sock, F_OK), 0);
	world_free(&w);
}

/* The 2024 scenario. A rule reads a field the sensor does not supply
 * ("the 21st of 20"). (1) validate rejects it; (2) with validation
 * bypassed, the run-time bounds check disables the rule, counts it, and
 * nothing crashes; (3) with the bounds check disabled as well, the engine
 * crashes, and the crash is contained and rolled back while the host runs
 * on. */
static const char field21_sel[] = "        TemplateField21: 'x'\n";

/* Step (2) on build/ringward-asan: started through a directory whose
 * "ringward" is that binary, so that the engine it execs (its own image)
 * is the ASan build too. Any out-of-bounds access would be an ASan report
 * in the sensor's stderr, or a crash of the engine. */
static void asan_step2(void)
{
	static struct world w;
	char asan[512], bin[512], link[600], line[512];
	const char *old = getenv("BUILD"), *old_asan = getenv("ASAN_OPTIONS");
	char *saved = old ? strdup(old) : NULL;
	char *saved_asan = old_asan ? strdup(old_asan) : NULL;
	const char *more[] = { "--test-faults", "unknown-fields", NULL };
	json_object *st = NULL;
	FILE *err;

	snprintf(asan, sizeof(asan), "%s/ringward-asan", rwt_build_dir());
	if (access(asan, X_OK) != 0) {
		printf("# 2024 step (2) under ASan not run: no %s (make %s)\n", asan, asan);
		free(saved);
		free(saved_asan);
		return;
	}
	world_init(&w);
	snprintf(bin, sizeof(bin), "%s/bin", w.dir);
	assert_int_equal(mkdir(bin, 0700), 0);
	snprintf(link, sizeof(link), "%s/ringward", bin);
	assert_non_null(realpath(asan, line));
	assert_int_equal(symlink(line, link), 0);
	put_rule(&w, "field21.yml", ID_FIELD21, "rw-cont-21", field21_sel, NULL);
	setenv("BUILD", bin, 1);
	setenv("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=0", 1);
	world_start(&w, more);
	if (saved)
		setenv("BUILD", saved, 1);
	else
		unsetenv("BUILD");
	if (saved_asan)
		setenv("ASAN_OPTIONS", saved_asan, 1);
	else
		unsetenv("ASAN_OPTIONS");
	free(saved);
	free(saved_asan);
	assert_non_null(wait_rec(&w, "content-loaded", NULL, NULL, 1));
	run_true("rw-cont-21");
	run_true("rw-cont-21");
	for (int waited = 0; waited < WAIT_MS; waited += 100) {
		st = status(&w, "json");
		if (counter(st, "engine.rules_disabled_out_of_bounds") >= 1)
			break;
		json_object_put(st);
		st = NULL;
		usleep(100 * 1000);
	}
	assert_non_null(st);
	assert_int_equal(counter(st, "engine.rules_disabled_out_of_bounds"), 1);
	assert_int_equal(rwt_int(st, "engine.restarts", -1), 0);
	json_object_put(st);
	assert_int_equal(count_rec(&w, "engine-failed", NULL, NULL), 0);
	rwt_sensor_stop(&w.s);
	err = fopen(w.s.err_path, "r");
	assert_non_null(err);
	while (fgets(line, sizeof(line), err))
		assert_null(strstr(line, "Sanitizer"));
	fclose(err);
	printf("# 2024 step (2) also passed under ASan+UBSan (%s)\n", asan);
	world_free(&w);
}

static void test_2024_scenario(void **state)
{
	static struct world w;
	char cmd[1024], out[4096];
	json_object *st;
	FILE *p;
	size_t n;
	pid_t pid;

	if (skip_if_needed()) {
		skip();
		return;
	}
	/* (1) */
	world_init(&w);
	put_rule(&w, "field21.yml", ID_FIELD21, "rw-cont-21", field21_sel, NULL);
	snprintf(cmd, sizeof(cmd), "%s/ringward validate %s/field21.yml 2>&1", rwt_build_dir(),
		 w.content);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = 0;
	assert_int_not_equal(pclose(p), 0);
	assert_non_null(strstr(out, "field 'TemplateField21' is not supplied"));

	/* (2) */
	{
		const char *more[] = { "--test-faults", "unknown-fields", NULL };

		world_start(&w, more);
	}
	assert_non_null(wait_rec(&w, "content-loaded", NULL, NULL, 1));
	pid = engine_pid(&w, 1);
	run_true("rw-cont-21");
	run_true("rw-cont-21");
	for (int waited = 0; waited < WAIT_MS; waited += 50) {
		st = status(&w, "json");
		if (counter(st, "engine.rules_disabled_out_of_bounds") >= 1)
			break;
		json_object_put(st);
		st = NULL;
		usleep(50 * 1000);
	}
	assert_non_null(st);
	assert_int_equal(counter(st, "engine.rules_disabled_out_of_bounds"), 1);
	assert_int_equal(rwt_int(st, "engine.pid", 0), pid);
	assert_int_equal(rwt_int(st, "engine.restarts", -1), 0);
	json_object_put(st);
	assert_int_equal(count_rec(&w, "engine-failed", NULL, NULL), 0);
	assert_int_equal(count_alerts(&w, ID_FIELD21, "rw-cont-21"), 0);
	world_free(&w);

	/* (2) again with the sensor and its engine built with ASan+UBSan
	 * (make build/ringward-asan), when it is there */
	asan_step2();

	/* (3) */
	world_init(&w);
	free(crash_loop_rolls_back(&w, ID_FIELD21, "rw-cont-21", field21_sel, NULL, "SIGSEGV"));
	world_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_engine_sandbox, teardown),
		cmocka_unit_test_teardown(test_kill_restart_no_loss, teardown),
		cmocka_unit_test_teardown(test_unevaluated_counted_at_stop, teardown),
		cmocka_unit_test_teardown(test_signal_to_engine_reported, teardown),
		cmocka_unit_test_teardown(test_output_writer_unprivileged, teardown),
		cmocka_unit_test_teardown(test_hang_detected, teardown),
		cmocka_unit_test_teardown(test_runaway_memory, teardown),
		cmocka_unit_test_teardown(test_fault_refused_without_flag, teardown),
		cmocka_unit_test_teardown(test_rollback_and_refusal, teardown),
		cmocka_unit_test_teardown(test_safe_mode, teardown),
		cmocka_unit_test_teardown(test_status_socket, teardown),
		cmocka_unit_test_teardown(test_2024_scenario, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
