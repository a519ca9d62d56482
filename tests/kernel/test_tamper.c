/*
 * Tamper-relevant events from the eBPF source, end to end, with the real
 * sensor started as `--hooks +tamper-syscalls`: a signal sent to the
 * sensor, a BPF program loaded by this test (found both by the program-id
 * scan and by the bpf() syscall hook), ptrace attach, memfd_create and
 * set*id in a child.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "testlib.h"

#define WAIT_MS 10000

static struct rwt_sensor sensor;
static bool sensor_up;



static int group_setup(void **state)
{
	static const char *const extra[] = { "--hooks", "+tamper-syscalls", NULL };

	if (rwt_kernel_skip_reason())
		return 0;
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
	const char *sk;		/* and a string field */
	const char *sv;
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
	if (w->sk) {
		const char *v = rwt_str(rec, w->sk);

		if (!v || strcmp(v, w->sv) != 0)
			return false;
	}
	return true;
}

static json_object *wait_want(struct want w)
{
	json_object *rec = rwt_wait_for(&sensor, match_want, &w, WAIT_MS);

	if (!rec)
		fail_msg("no %s event with %s=%lld%s%s%s%s", w.action, w.k1, (long long)w.v1,
			 w.k2 ? " and " : "", w.k2 ? w.k2 : "", w.sk ? " and " : "",
			 w.sk ? w.sk : "");
	return rec;
}

static void assert_str_at(json_object *rec, const char *key, const char *want)
{
	const char *got = rwt_str(rec, key);

	if (!got || strcmp(got, want) != 0)
		fail_msg("%s: want \"%s\", got \"%s\"", key, want, got ? got : "(absent)");
}

static pid_t spawn_pauser(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		for (;;)
			pause();
	}
	rwt_kid_add(pid);
	return pid;
}

/* ---- tests ----------------------------------------------------------------- */

static void test_hooks_in_force(void **state)
{
	static const char *const need[] = {
		"bpf:signal_generate", "bpf-prog-scan", "bpf:sys_enter_ptrace", "bpf:sys_bpf",
		"bpf:sys_memfd_create", "bpf:sys_setuid", "bpf:sys_setresuid", "bpf:sys_setresgid",
	};
	struct rwt_match m = { "sensor-started", 0, NULL, NULL };
	json_object *rec, *hooks;

	RWT_SKIP_UNLESS_UP(sensor_up);
	rec = rwt_wait_for(&sensor, rwt_match_action, &m, 0);
	assert_non_null(rec);
	hooks = rwt_get(rec, "ringward.sensor.hooks");
	assert_non_null(hooks);
	for (size_t n = 0; n < sizeof(need) / sizeof(need[0]); n++) {
		bool found = false;

		for (size_t i = 0; i < json_object_array_length(hooks); i++)
			found |= strcmp(json_object_get_string(json_object_array_get_idx(hooks, i)),
					need[n]) == 0;
		if (!found)
			fail_msg("hook %s not in force", need[n]);
	}
}

static void test_signal_to_sensor(void **state)
{
	char exe[PATH_MAX], path[PATH_MAX];
	json_object *rec;
	pid_t other;

	RWT_SKIP_UNLESS_UP(sensor_up);
	/* first a signal to an unprotected process: not reported */
	other = spawn_pauser();
	assert_int_equal(kill(other, SIGURG), 0);
	/* SIGURG is ignored by default: harmless to the sensor */
	assert_int_equal(kill(sensor.pid, SIGURG), 0);

	rec = wait_want((struct want){ "signal", "process.pid", getpid(),
				       "ringward.target.process.pid", sensor.pid });
	assert_str_at(rec, "event.kind", "event");
	assert_str_at(rec, "event.category", "process");
	assert_str_at(rec, "event.type", "info");
	assert_int_equal(rwt_int(rec, "ringward.signal.number", -1), SIGURG);
	assert_str_at(rec, "ringward.signal.name", "SIGURG");
	assert_int_equal(rwt_int(rec, "process.thread.id", -1), getpid());
	snprintf(path, sizeof(path), "%s/ringward", rwt_build_dir());
	assert_non_null(realpath(path, exe));
	assert_str_at(rec, "ringward.target.process.executable", exe);
	/* the ring is ordered: the earlier signal would be here by now */
	{
		struct want w = { "signal", "ringward.target.process.pid", other, NULL, 0, NULL, NULL };

		assert_int_equal(rwt_count(&sensor, match_want, &w), 0);
	}
}

/* The engine loads its content before the hooks attach: the content was
 * loaded before sensor-started was written (its records wait, so that
 * sensor-started is still the first record), and the engine is still a
 * protected process although it started before the kernel's map existed. */
static void test_engine_before_hooks(void **state)
{
	struct rwt_match m = { "engine-started", 0, NULL, NULL };
	struct rwt_match l = { "content-loaded", 0, NULL, NULL };
	json_object *started, *loaded, *rec;
	const char *t_loaded, *t_started;
	pid_t engine;

	RWT_SKIP_UNLESS_UP(sensor_up);
	started = rwt_wait_for(&sensor, rwt_match_action, &m, WAIT_MS);
	loaded = rwt_wait_for(&sensor, rwt_match_action, &l, WAIT_MS);
	assert_non_null(started);
	assert_non_null(loaded);
	assert_true(sensor.n_recs > 0);
	assert_str_at(sensor.recs[0], "event.action", "sensor-started");
	/* the same RFC 3339 form with nanoseconds: compared as strings */
	t_loaded = rwt_str(loaded, "@timestamp");
	t_started = rwt_str(sensor.recs[0], "@timestamp");
	assert_non_null(t_loaded);
	assert_non_null(t_started);
	if (strcmp(t_loaded, t_started) > 0)
		fail_msg("content loaded at %s, after sensor-started at %s", t_loaded, t_started);
	engine = (pid_t)rwt_int(started, "ringward.engine.pid", 0);
	assert_true(engine > 0);
	/* SIGURG is ignored by default: harmless to the engine */
	assert_int_equal(kill(engine, SIGURG), 0);
	rec = wait_want((struct want){ "signal", "process.pid", getpid(),
				       "ringward.target.process.pid", engine });
	assert_int_equal(rwt_int(rec, "ringward.signal.number", -1), SIGURG);
}

static void test_bpf_load(void **state)
{
	/* r0 = 0; exit */
	struct bpf_insn insns[2] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	char tag[2 * BPF_TAG_SIZE + 1], uid[16];
	json_object *rec;
	int fd;

	RWT_SKIP_UNLESS_UP(sensor_up);
	fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "rwt_probe", "GPL", insns, 2, NULL);
	assert_true(fd >= 0);
	memset(&info, 0, sizeof(info));
	assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	for (int i = 0; i < BPF_TAG_SIZE; i++)
		snprintf(tag + 2 * i, 3, "%02x", info.tag[i]);
	snprintf(uid, sizeof(uid), "%u", geteuid());

	/* the per-second scan of program ids: held open until it is seen */
	rec = wait_want((struct want){ "bpf-load", "ringward.bpf.prog.id", info.id, NULL, 0,
				       NULL, NULL });
	close(fd);
	assert_str_at(rec, "event.kind", "event");
	assert_str_at(rec, "event.type", "info");
	assert_str_at(rec, "ringward.bpf.prog.name", "rwt_probe");
	assert_str_at(rec, "ringward.bpf.prog.type", "socket_filter");
	assert_str_at(rec, "ringward.bpf.prog.tag", tag);
	assert_str_at(rec, "user.id", uid);

	/* and the bpf() syscall hook, which knows the loading process */
	rec = wait_want((struct want){ "bpf-load", "process.pid", getpid(), NULL, 0,
				       "ringward.bpf.prog.name", "rwt_probe" });
	assert_str_at(rec, "ringward.bpf.prog.type", "socket_filter");
	assert_str_at(rec, "event.outcome", "success");
	assert_str_at(rec, "user.id", uid);
}

static void test_ptrace_attach(void **state)
{
	json_object *rec;
	pid_t child;
	int st;

	RWT_SKIP_UNLESS_UP(sensor_up);
	child = spawn_pauser();
	assert_int_equal(ptrace(PTRACE_ATTACH, child, NULL, NULL), 0);
	assert_int_equal(waitpid(child, &st, 0), child);
	assert_true(WIFSTOPPED(st));
	assert_int_equal(ptrace(PTRACE_DETACH, child, NULL, NULL), 0);

	rec = wait_want((struct want){ "ptrace", "process.pid", getpid(),
				       "ringward.target.process.pid", child });
	assert_str_at(rec, "event.category", "process");
	assert_str_at(rec, "event.type", "info");
	assert_int_equal(rwt_int(rec, "ringward.ptrace.request", -1), PTRACE_ATTACH);
	assert_int_equal(rwt_int(rec, "process.parent.pid", -1), getppid());

	/* PTRACE_SEIZE too */
	assert_int_equal(ptrace(PTRACE_SEIZE, child, NULL, NULL), 0);
	rec = wait_want((struct want){ "ptrace", "ringward.target.process.pid", child,
				       "ringward.ptrace.request", PTRACE_SEIZE });
	assert_int_equal(rwt_int(rec, "process.pid", -1), getpid());
	/* a seized tracee runs and cannot be detached; teardown kills it */
}

static void test_memfd_create(void **state)
{
	json_object *rec;
	int fd;

	RWT_SKIP_UNLESS_UP(sensor_up);
	fd = memfd_create("rwt-tamper-memfd", MFD_CLOEXEC);
	assert_true(fd >= 0);
	rec = wait_want((struct want){ "memfd-create", "process.pid", getpid(), NULL, 0,
				       "ringward.memfd.name", "rwt-tamper-memfd" });
	assert_str_at(rec, "event.category", "process");
	assert_int_equal(rwt_int(rec, "process.thread.id", -1), getpid());
	close(fd);
}

static void test_setid_in_child(void **state)
{
	json_object *rec;
	pid_t child;

	RWT_SKIP_UNLESS_UP(sensor_up);
	child = rwt_setid_child();

	rec = wait_want((struct want){ "setgid", "process.pid", child, NULL, 0, "group.id", "65534" });
	assert_str_at(rec, "event.outcome", "success");
	assert_int_equal(rwt_int(rec, "process.parent.pid", -1), getpid());

	rec = wait_want((struct want){ "setuid", "process.pid", child, NULL, 0,
				       "user.changes.id", "65534" });
	assert_str_at(rec, "event.outcome", "success");
	/* credentials as they are after the call */
	assert_str_at(rec, "process.user.id", "65534");
	assert_str_at(rec, "process.real_user.id", "65534");

	rec = wait_want((struct want){ "setuid", "process.pid", child, NULL, 0,
				       "user.changes.id", "0" });
	assert_str_at(rec, "event.outcome", "failure");
	assert_str_at(rec, "process.user.id", "65534");
	/* with the syscall hooks on, the capability hook stays quiet: each
	 * call once, from the syscall hooks (no capability-check reason) */
	{
		struct want w = { "setuid", "process.pid", child, NULL, 0, NULL, NULL };

		assert_int_equal(rwt_count(&sensor, match_want, &w), 2);
		assert_null(rwt_str(rec, "event.reason"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hooks_in_force),
		cmocka_unit_test_teardown(test_signal_to_sensor, test_teardown),
		cmocka_unit_test_teardown(test_engine_before_hooks, test_teardown),
		cmocka_unit_test_teardown(test_bpf_load, test_teardown),
		cmocka_unit_test_teardown(test_ptrace_attach, test_teardown),
		cmocka_unit_test_teardown(test_memfd_create, test_teardown),
		cmocka_unit_test_teardown(test_setid_in_child, test_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
