/*
 * Process events from the eBPF source, end to end: the real sensor runs
 * (default hooks), this test execs, forks, spawns a thread, exits and gets
 * killed for real, and every field of the resulting events is checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

#define WAIT_MS 10000

extern char **environ;

static struct rwt_sensor sensor;
static bool sensor_up;
static char *tmpdir;


static int group_setup(void **state)
{
	if (rwt_kernel_skip_reason())
		return 0;
	tmpdir = rwt_mkdtemp("proc");
	if (!tmpdir)
		return -1;
	if (rwt_sensor_start(&sensor, NULL) == 0)
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
	rwt_rmtree(tmpdir);
	free(tmpdir);
	return 0;
}

static int test_teardown(void **state)
{
	rwt_kids_reap();
	return 0;
}

/* ---- matching ------------------------------------------------------------ */

struct want {
	const char *action;
	const char *k1;
	int64_t v1;
	const char *k2;
	int64_t v2;
};

static bool match_want(json_object *rec, void *arg)
{
	const struct want *w = arg;
	const char *a = rwt_str(rec, "event.action");

	if (!a || strcmp(a, w->action) != 0)
		return false;
	if (w->k1 && rwt_int(rec, w->k1, INT64_MIN) != w->v1)
		return false;
	if (w->k2 && rwt_int(rec, w->k2, INT64_MIN) != w->v2)
		return false;
	return true;
}

static json_object *wait_event(const char *action, const char *k1, int64_t v1,
			       const char *k2, int64_t v2)
{
	struct want w = { action, k1, v1, k2, v2 };
	json_object *rec = rwt_wait_for(&sensor, match_want, &w, WAIT_MS);

	if (!rec)
		fail_msg("no %s event with %s=%lld%s%s", action, k1, (long long)v1,
			 k2 ? " and " : "", k2 ? k2 : "");
	return rec;
}

static void assert_str_at(json_object *rec, const char *key, const char *want)
{
	const char *got = rwt_str(rec, key);

	if (!got || strcmp(got, want) != 0)
		fail_msg("%s: want \"%s\", got %s%s%s", key, want, got ? "\"" : "",
			 got ? got : "(absent)", got ? "\"" : "");
}

static void assert_args(json_object *rec, const char *const *argv, int argc)
{
	json_object *a = rwt_get(rec, "process.args");

	assert_non_null(a);
	assert_true(json_object_is_type(a, json_type_array));
	assert_int_equal(json_object_array_length(a), argc);
	for (int i = 0; i < argc; i++)
		assert_string_equal(json_object_get_string(json_object_array_get_idx(a, i)), argv[i]);
	assert_int_equal(rwt_int(rec, "process.args_count", -1), argc);
}

static void uid_str(char *buf, size_t len, unsigned id)
{
	snprintf(buf, len, "%u", id);
}

/* The common fields of every process event. */
static void assert_process_event(json_object *rec, const char *type)
{
	assert_str_at(rec, "event.kind", "event");
	assert_str_at(rec, "event.category", "process");
	assert_str_at(rec, "event.type", type);
	assert_non_null(rwt_str(rec, "@timestamp"));
}

/* ---- helpers that make real events ----------------------------------- */

/* fork; the child chdirs to cwd (if any) and execs path with argv. */
static pid_t spawn(const char *cwd, const char *path, char *const argv[])
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		if (cwd && chdir(cwd) < 0)
			_exit(126);
		execv(path, argv);
		_exit(127);
	}
	rwt_kid_add(pid);
	return pid;
}

static void copy_file(const char *from, int to_fd)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	assert_true(in >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(to_fd, buf, (size_t)n), n);
	assert_int_equal(n, 0);
	close(in);
}

/* ---- tests ----------------------------------------------------------------- */

static void test_default_hooks(void **state)
{
	json_object *started, *hooks;
	bool exec = false, fork_ = false, exit_ = false;

	RWT_SKIP_UNLESS_UP(sensor_up);
	{
		struct rwt_match m = { "sensor-started", 0, NULL, NULL };

		started = rwt_wait_for(&sensor, rwt_match_action, &m, 0);
	}
	assert_non_null(started);
	hooks = rwt_get(started, "ringward.sensor.hooks");
	assert_non_null(hooks);
	for (size_t i = 0; i < json_object_array_length(hooks); i++) {
		const char *h = json_object_get_string(json_object_array_get_idx(hooks, i));

		exec |= strcmp(h, "bpf:sched_process_exec") == 0;
		fork_ |= strcmp(h, "bpf:sched_process_fork") == 0;
		exit_ |= strcmp(h, "bpf:sched_process_exit") == 0;
		/* no syscall tracepoint by default: they tax every syscall */
		if (strncmp(h, "bpf:sys_", 8) == 0)
			fail_msg("syscall hook %s attached by default", h);
	}
	assert_true(exec);
	assert_true(fork_);
	assert_true(exit_);
}

static void test_exec_known_args(void **state)
{
	char *const argv[] = { "true", "alpha", "two words", "", "--x=1", NULL };
	const char *want_args[] = { "true", "alpha", "two words", "", "--x=1" };
	char exe[PATH_MAX], cwd[PATH_MAX], id[16];
	json_object *rec;
	pid_t pid;
	int st;

	RWT_SKIP_UNLESS_UP(sensor_up);
	assert_non_null(realpath("/bin/true", exe));
	assert_non_null(realpath(tmpdir, cwd));
	pid = spawn(tmpdir, "/bin/true", argv);
	st = rwt_kid_wait(pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	rec = wait_event("exec", "process.pid", pid, NULL, 0);
	assert_process_event(rec, "start");
	assert_int_equal(rwt_int(rec, "process.thread.id", -1), pid);
	assert_int_equal(rwt_int(rec, "process.parent.pid", -1), getpid());
	assert_str_at(rec, "process.executable", exe);
	assert_str_at(rec, "process.name", strrchr(exe, '/') + 1);
	assert_args(rec, want_args, 5);
	assert_str_at(rec, "process.command_line", "true alpha two words  --x=1");
	assert_str_at(rec, "process.working_directory", cwd);
	uid_str(id, sizeof(id), geteuid());
	assert_str_at(rec, "user.id", id);
	assert_str_at(rec, "process.user.id", id);
	uid_str(id, sizeof(id), getuid());
	assert_str_at(rec, "process.real_user.id", id);
	uid_str(id, sizeof(id), getegid());
	assert_str_at(rec, "process.group.id", id);
	uid_str(id, sizeof(id), getgid());
	assert_str_at(rec, "process.real_group.id", id);
	assert_int_equal(rwt_int(rec, "process.session_leader.pid", -1), getsid(0));
	assert_non_null(rwt_str(rec, "process.start"));
	assert_true(strcmp(rwt_str(rec, "process.start"), rwt_str(rec, "@timestamp")) <= 0);

	/* cgroup v2: the id is the inode of the cgroup's directory */
	{
		FILE *f = fopen("/proc/self/cgroup", "r");
		char path[PATH_MAX + 32], line[PATH_MAX];
		struct stat sb;

		assert_non_null(f);
		while (fgets(line, sizeof(line), f))
			if (strncmp(line, "0::", 3) == 0)
				break;
		fclose(f);
		line[strcspn(line, "\n")] = 0;
		snprintf(path, sizeof(path), "/sys/fs/cgroup%s", line + 3);
		if (strncmp(line, "0::", 3) == 0 && stat(path, &sb) == 0)
			assert_int_equal(rwt_int(rec, "ringward.cgroup.id", -1), sb.st_ino);
	}
	/* the audit login uid, when set */
	{
		FILE *f = fopen("/proc/self/loginuid", "r");
		unsigned long luid = 4294967295UL;

		if (f) {
			if (fscanf(f, "%lu", &luid) != 1)
				luid = 4294967295UL;
			fclose(f);
		}
		if (luid != 4294967295UL) {
			uid_str(id, sizeof(id), (unsigned)luid);
			assert_str_at(rec, "ringward.process.login_uid", id);
		} else {
			assert_null(rwt_get(rec, "ringward.process.login_uid"));
		}
	}
}

static void test_exec_relative_path(void **state)
{
	char *const argv[] = { "./x", "rel", NULL };
	const char *want_args[] = { "./x", "rel" };
	char path[PATH_MAX], want[PATH_MAX];
	json_object *rec;
	pid_t pid;
	int fd, st;

	RWT_SKIP_UNLESS_UP(sensor_up);
	snprintf(path, sizeof(path), "%s/x", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	assert_true(fd >= 0);
	copy_file("/bin/true", fd);
	close(fd);
	assert_non_null(realpath(path, want));

	pid = spawn(tmpdir, "./x", argv);
	st = rwt_kid_wait(pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	rec = wait_event("exec", "process.pid", pid, NULL, 0);
	assert_str_at(rec, "process.executable", want);
	assert_str_at(rec, "process.name", "x");
	assert_args(rec, want_args, 2);
	assert_int_equal(rwt_int(rec, "process.parent.pid", -1), getpid());
	unlink(path);
}

static void test_exec_symlinked_cwd(void **state)
{
	char *const argv[] = { "true", NULL };
	char real[PATH_MAX], link[PATH_MAX], want[PATH_MAX];
	json_object *rec;
	pid_t pid;

	RWT_SKIP_UNLESS_UP(sensor_up);
	snprintf(real, sizeof(real), "%s/real-dir", tmpdir);
	snprintf(link, sizeof(link), "%s/link-dir", tmpdir);
	assert_int_equal(mkdir(real, 0755), 0);
	assert_int_equal(symlink(real, link), 0);
	assert_non_null(realpath(real, want));

	pid = spawn(link, "/bin/true", argv);
	rwt_kid_wait(pid);
	rec = wait_event("exec", "process.pid", pid, NULL, 0);
	/* the kernel's cwd is the directory, not the name it was reached by */
	assert_str_at(rec, "process.working_directory", want);
	unlink(link);
	rmdir(real);
}

static void test_exec_tty_session(void **state)
{
	char *const argv[] = { "true", "tty", NULL };
	char *pts;
	json_object *rec;
	struct stat sb;
	pid_t pid;
	int m;

	RWT_SKIP_UNLESS_UP(sensor_up);
	m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(m >= 0);
	assert_int_equal(grantpt(m), 0);
	assert_int_equal(unlockpt(m), 0);
	pts = ptsname(m);
	assert_non_null(pts);
	assert_int_equal(stat(pts, &sb), 0);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* a new session whose controlling terminal is the pty */
		if (setsid() < 0 || open(pts, O_RDWR) < 0)
			_exit(126);
		execv("/bin/true", argv);
		_exit(127);
	}
	rwt_kid_add(pid);
	rwt_kid_wait(pid);
	close(m);

	rec = wait_event("exec", "process.pid", pid, NULL, 0);
	assert_int_equal(rwt_int(rec, "process.session_leader.pid", -1), pid);
	assert_true(json_object_get_boolean(rwt_get(rec, "process.interactive")));
	assert_int_equal(rwt_int(rec, "process.tty.char_device.major", -1), major(sb.st_rdev));
	assert_int_equal(rwt_int(rec, "process.tty.char_device.minor", -1), minor(sb.st_rdev));
}

static void test_no_tty(void **state)
{
	char *const argv[] = { "true", "notty", NULL };
	json_object *rec, *inter;
	pid_t pid;

	RWT_SKIP_UNLESS_UP(sensor_up);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setsid() < 0)	/* a new session has no terminal */
			_exit(126);
		execv("/bin/true", argv);
		_exit(127);
	}
	rwt_kid_add(pid);
	rwt_kid_wait(pid);
	rec = wait_event("exec", "process.pid", pid, NULL, 0);
	inter = rwt_get(rec, "process.interactive");
	assert_non_null(inter);
	assert_false(json_object_get_boolean(inter));
	assert_null(rwt_get(rec, "process.tty"));
}

static void test_fork(void **state)
{
	json_object *rec;
	pid_t pid;

	RWT_SKIP_UNLESS_UP(sensor_up);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	rwt_kid_add(pid);
	rwt_kid_wait(pid);
	rec = wait_event("fork", "process.pid", pid, NULL, 0);
	assert_process_event(rec, "start");
	/* the event's process is the child; its parent is us */
	assert_int_equal(rwt_int(rec, "process.thread.id", -1), pid);
	assert_int_equal(rwt_int(rec, "process.parent.pid", -1), getpid());
}

static void *thread_main(void *arg)
{
	*(pid_t *)arg = (pid_t)syscall(SYS_gettid);
	return NULL;
}

static void test_clone_thread(void **state)
{
	pthread_t t;
	pid_t tid = 0;
	json_object *rec;

	RWT_SKIP_UNLESS_UP(sensor_up);
	assert_int_equal(pthread_create(&t, NULL, thread_main, &tid), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(tid > 0 && tid != getpid());
	rec = wait_event("clone-thread", "process.pid", getpid(), "process.thread.id", tid);
	assert_process_event(rec, "start");
	assert_int_equal(rwt_int(rec, "process.parent.pid", -1), getppid());
	/* a thread is not a process: no fork event for it */
	{
		struct want w = { "fork", "process.pid", tid, NULL, 0 };

		assert_int_equal(rwt_count(&sensor, match_want, &w), 0);
	}
}

static void test_exit_code(void **state)
{
	json_object *rec;
	pid_t pid;
	int st;

	RWT_SKIP_UNLESS_UP(sensor_up);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(7);
	rwt_kid_add(pid);
	st = rwt_kid_wait(pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 7);
	rec = wait_event("exit", "process.pid", pid, NULL, 0);
	assert_process_event(rec, "end");
	assert_int_equal(rwt_int(rec, "process.exit_code", -1), 7);
	assert_int_equal(rwt_int(rec, "process.parent.pid", -1), getpid());
	assert_null(rwt_get(rec, "ringward.signal"));
}

static void *sleeper(void *arg)
{
	for (;;)
		pause();
	return NULL;
}

static void test_killed_multithreaded(void **state)
{
	json_object *rec;
	int ready[2];
	pid_t pid;
	char c;

	RWT_SKIP_UNLESS_UP(sensor_up);
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		pthread_t t;

		/* two threads: one exit event, for the process, not per thread */
		if (pthread_create(&t, NULL, sleeper, NULL) != 0)
			_exit(1);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	rwt_kid_add(pid);
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	assert_int_equal(kill(pid, SIGKILL), 0);
	rwt_kid_wait(pid);

	rec = wait_event("exit", "process.pid", pid, NULL, 0);
	assert_int_equal(rwt_int(rec, "process.exit_code", -1), 137);
	assert_int_equal(rwt_int(rec, "ringward.signal.number", -1), 9);
	assert_str_at(rec, "ringward.signal.name", "SIGKILL");
	{
		struct want w = { "exit", "process.pid", pid, NULL, 0 };

		assert_int_equal(rwt_count(&sensor, match_want, &w), 1);
	}
}

static void test_memfd_exec(void **state)
{
	char *const argv[] = { "memfd-true", "m1", NULL };
	const char *want_args[] = { "memfd-true", "m1" };
	json_object *rec;
	pid_t pid;
	int st;

	RWT_SKIP_UNLESS_UP(sensor_up);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char buf[65536];
		int in = open("/bin/true", O_RDONLY);
		int fd = memfd_create("rwt-fileless", MFD_CLOEXEC | MFD_EXEC);
		ssize_t n;

		if (fd < 0)	/* kernels before 6.3 know no MFD_EXEC */
			fd = memfd_create("rwt-fileless", MFD_CLOEXEC);
		if (in < 0 || fd < 0)
			_exit(126);
		while ((n = read(in, buf, sizeof(buf))) > 0)
			if (write(fd, buf, (size_t)n) != n)
				_exit(126);
		fexecve(fd, argv, environ);
		_exit(127);
	}
	rwt_kid_add(pid);
	st = rwt_kid_wait(pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	rec = wait_event("memfd-exec", "process.pid", pid, NULL, 0);
	assert_process_event(rec, "start");
	assert_str_at(rec, "process.executable", "/memfd:rwt-fileless");
	assert_str_at(rec, "process.name", "memfd:rwt-fileless");
	assert_args(rec, want_args, 2);
	assert_int_equal(rwt_int(rec, "process.parent.pid", -1), getpid());
	{
		struct want w = { "exec", "process.pid", pid, NULL, 0 };

		assert_int_equal(rwt_count(&sensor, match_want, &w), 0);
	}
}

/* argv longer than the kernel copies: cut, flagged, counted, never lost */
static void test_exec_long_args(void **state)
{
	static char big[3000];
	char *const argv[] = { "true", big, big, NULL };
	json_object *rec, *args;
	pid_t pid;

	RWT_SKIP_UNLESS_UP(sensor_up);
	memset(big, 'a', sizeof(big) - 1);
	pid = spawn(NULL, "/bin/true", argv);
	rwt_kid_wait(pid);
	rec = wait_event("exec", "process.pid", pid, NULL, 0);
	assert_int_equal(rwt_int(rec, "process.args_count", -1), 3);
	args = rwt_get(rec, "process.args");
	assert_int_equal(json_object_array_length(args), 3);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(args, 1)), big);
	/* 4096 bytes copied: "true\0" + 2999 + 1, then 1091 of the third */
	assert_int_equal(strlen(json_object_get_string(json_object_array_get_idx(args, 2))),
			 4096 - 5 - 3000);
}

/* a working directory deeper than the kernel walks: its deepest 48
 * components, marked as cut, and counted */
static void test_exec_deep_cwd(void **state)
{
	char *const argv[] = { "true", "deep", NULL };
	char path[PATH_MAX], want[256];
	json_object *rec;
	size_t len;
	pid_t pid;

	RWT_SKIP_UNLESS_UP(sensor_up);
	len = (size_t)snprintf(path, sizeof(path), "%s", tmpdir);
	for (int i = 0; i < 60; i++) {
		len += (size_t)snprintf(path + len, sizeof(path) - len, "/d");
		assert_int_equal(mkdir(path, 0755), 0);
	}
	pid = spawn(path, "/bin/true", argv);
	rwt_kid_wait(pid);
	rec = wait_event("exec", "process.pid", pid, NULL, 0);
	len = (size_t)snprintf(want, sizeof(want), "...");
	for (int i = 0; i < 48; i++)	/* RW_PATH_DEPTH */
		len += (size_t)snprintf(want + len, sizeof(want) - len, "/d");
	assert_str_at(rec, "process.working_directory", want);
}

static json_object *counter(json_object *rec, const char *name)
{
	json_object *c = rwt_get(rec, "ringward.counters"), *v = NULL;

	assert_non_null(c);
	if (!json_object_object_get_ex(c, name, &v))
		fail_msg("counter %s missing", name);
	return v;
}

/* Last: stop the sensor and read what it counted. */
static void test_counters_at_stop(void **state)
{
	struct rwt_match m = { "sensor-stopped", 0, NULL, NULL };
	json_object *rec;

	RWT_SKIP_UNLESS_UP(sensor_up);
	assert_true(WIFEXITED(rwt_sensor_stop(&sensor)));
	rec = rwt_wait_for(&sensor, rwt_match_action, &m, 0);
	assert_non_null(rec);
	/* test_exec_long_args and test_exec_deep_cwd were cut, not lost */
	assert_true(json_object_get_int64(counter(rec, "truncated.kernel.args")) >= 1);
	assert_true(json_object_get_int64(counter(rec, "truncated.kernel.path")) >= 1);
	assert_int_equal(json_object_get_int64(counter(rec, "drops.user.ring_malformed")), 0);
	assert_int_equal(json_object_get_int64(counter(rec, "drops.kernel.ringbuf_full")), 0);
	assert_true(json_object_get_int64(counter(rec, "events.exec")) >= 7);
	assert_true(json_object_get_int64(counter(rec, "events.memfd-exec")) >= 1);
	assert_true(json_object_get_int64(counter(rec, "input.ring_records")) >= 20);
}

/* set*id with the default hooks: no syscall tracepoint, the capability
 * check inside the call (bpf:cap_capable) reports the changes that need
 * CAP_SETUID/CAP_SETGID, and the attempts refused for lack of it. */
struct setid_want {
	const char *action;
	pid_t pid;
	const char *key, *id;
};

static bool match_setid(json_object *rec, void *arg)
{
	const struct setid_want *w = arg;
	const char *a = rwt_str(rec, "event.action"), *id = rwt_str(rec, w->key);

	return a && !strcmp(a, w->action) && rwt_int(rec, "process.pid", -1) == w->pid &&
	       id && !strcmp(id, w->id);
}

static json_object *wait_setid(const char *action, pid_t pid, const char *key, const char *id)
{
	struct setid_want w = { action, pid, key, id };
	json_object *rec = rwt_wait_for(&sensor, match_setid, &w, WAIT_MS);

	if (!rec)
		fail_msg("no %s event of pid %d with %s=%s", action, (int)pid, key, id);
	return rec;
}

static void test_setid_by_capability(void **state)
{
	struct rwt_match m = { "sensor-started", 0, NULL, NULL };
	json_object *started, *hooks, *rec;
	bool in_force = false;
	pid_t child;

	RWT_SKIP_UNLESS_UP(sensor_up);
	started = rwt_wait_for(&sensor, rwt_match_action, &m, 0);
	assert_non_null(started);
	hooks = rwt_get(started, "ringward.sensor.hooks");
	for (size_t i = 0; hooks && i < json_object_array_length(hooks); i++)
		in_force |= !strcmp(json_object_get_string(json_object_array_get_idx(hooks, i)),
				    "bpf:cap_capable");
	if (!in_force) {
		print_message("skipped: bpf:cap_capable not in force (no capability:cap_capable "
			      "tracepoint on this kernel?)\n");
		skip();
	}
	child = rwt_setid_child();

	rec = wait_setid("setgid", child, "group.id", "65534");
	assert_str_at(rec, "event.outcome", "success");
	assert_str_at(rec, "event.reason", "the call needed CAP_SETGID: held");
	assert_int_equal(rwt_int(rec, "process.parent.pid", -1), getpid());

	rec = wait_setid("setuid", child, "user.changes.id", "65534");
	assert_str_at(rec, "event.outcome", "success");
	assert_str_at(rec, "event.reason", "the call needed CAP_SETUID: held");
	/* seen inside the call, before the change: still root */
	assert_str_at(rec, "process.user.id", "0");

	rec = wait_setid("setuid", child, "user.changes.id", "0");
	assert_str_at(rec, "event.outcome", "failure");
	assert_str_at(rec, "event.reason", "the call needed CAP_SETUID: not held, refused");
	assert_str_at(rec, "process.user.id", "65534");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_hooks),
		cmocka_unit_test_teardown(test_exec_known_args, test_teardown),
		cmocka_unit_test_teardown(test_exec_relative_path, test_teardown),
		cmocka_unit_test_teardown(test_exec_symlinked_cwd, test_teardown),
		cmocka_unit_test_teardown(test_exec_tty_session, test_teardown),
		cmocka_unit_test_teardown(test_no_tty, test_teardown),
		cmocka_unit_test_teardown(test_fork, test_teardown),
		cmocka_unit_test_teardown(test_clone_thread, test_teardown),
		cmocka_unit_test_teardown(test_exit_code, test_teardown),
		cmocka_unit_test_teardown(test_killed_multithreaded, test_teardown),
		cmocka_unit_test_teardown(test_memfd_exec, test_teardown),
		cmocka_unit_test_teardown(test_exec_long_args, test_teardown),
		cmocka_unit_test_teardown(test_exec_deep_cwd, test_teardown),
		cmocka_unit_test_teardown(test_setid_by_capability, test_teardown),
		cmocka_unit_test_teardown(test_counters_at_stop, test_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
