/*
 * The process table: /proc scan (a fake procfs tree under
 * /tmp/ringward-test-*, and the real /proc finding this very process),
 * fork/exec/exit updates, bounded memory and eviction, and enrichment of
 * real rw_events (only the fields the event lacks).
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#include "common/event.h"
#include "core/proc_table.h"

#define BOOT_NS		1700000000000000000LL	/* fake boot time for the fake tree */
#define NS		1000000000ULL

static int g_argc;
static char **g_argv;

/* 64-hex container ids used in the fake cgroup files */
#define CID_DOCKER	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define CID_CONTAINERD	"fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define CID_CRIO	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define CID_V1		"1111111111111111111111111111111111111111111111111111111111111111"

struct fixture {
	char *dir;		/* /tmp/ringward-test-..., removed in teardown */
	char root[512];		/* dir/proc */
	struct proc_table *pt;
	struct rw_event *ev;
	pid_t child;		/* a live child to read from /proc, killed in teardown */
	int child_pipe;
};

/* ---- the fake procfs --------------------------------------------------------- */

struct fake {
	int pid;
	const char *comm;
	int ppid, sid;
	unsigned tty_nr;
	unsigned long long start_ticks;
	const char *uid, *gid;		/* "real\teff\tsaved\tfs" */
	const char *exe, *cwd;		/* symlink targets; NULL: no link */
	const char *cmdline;
	size_t cmdline_len;
	const char *cgroup;
};

static void write_file(const char *dir, const char *name, const char *data, size_t len)
{
	char path[1024];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void fake_proc(const char *root, const struct fake *f)
{
	char dir[1024], path[1200], buf[2048];
	int n;

	snprintf(dir, sizeof(dir), "%s/%d", root, f->pid);
	assert_int_equal(mkdir(dir, 0755), 0);
	/* proc(5) layout: starttime is field 22 */
	n = snprintf(buf, sizeof(buf),
		     "%d (%s) S %d %d %d %u -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 %llu "
		     "12345678 321 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0\n",
		     f->pid, f->comm, f->ppid, f->pid, f->sid, f->tty_nr, f->start_ticks);
	write_file(dir, "stat", buf, (size_t)n);
	n = snprintf(buf, sizeof(buf),
		     "Name:\t%.15s\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t%d\nNgid:\t0\n"
		     "Pid:\t%d\nPPid:\t%d\nTracerPid:\t0\nUid:\t%s\nGid:\t%s\nFDSize:\t64\n",
		     f->comm, f->pid, f->pid, f->ppid, f->uid, f->gid);
	write_file(dir, "status", buf, (size_t)n);
	write_file(dir, "cmdline", f->cmdline, f->cmdline_len);
	write_file(dir, "cgroup", f->cgroup, strlen(f->cgroup));
	if (f->exe) {
		snprintf(path, sizeof(path), "%s/exe", dir);
		assert_int_equal(symlink(f->exe, path), 0);
	}
	if (f->cwd) {
		snprintf(path, sizeof(path), "%s/cwd", dir);
		assert_int_equal(symlink(f->cwd, path), 0);
	}
}

#define CMD(s) s, sizeof(s) - 1

static const struct fake fakes[] = {
	{ 1, "systemd", 0, 1, 0, 1, "0\t0\t0\t0", "0\t0\t0\t0", "/usr/lib/systemd/systemd", "/",
	  CMD("/sbin/init\0splash\0"), "0::/init.scope\n" },
	{ 2, "kthreadd", 0, 0, 0, 1, "0\t0\t0\t0", "0\t0\t0\t0", NULL, "/", CMD(""), "0::/\n" },
	{ 100, "bash", 1, 100, (136 << 8) | 3, 5000, "1000\t1000\t1000\t1000", "1000\t1000\t1000\t1000",
	  "/usr/bin/bash", "/home/alice", CMD("-bash\0"),
	  "12:pids:/user.slice/user-1000.slice\n0::/user.slice/user-1000.slice/session-1.scope\n" },
	/* a rewritten process title: one argument with spaces, no NULs */
	{ 200, "nginx", 100, 100, 0, 7000, "0\t101\t101\t101", "0\t102\t102\t102", "/usr/sbin/nginx", "/",
	  CMD("nginx: master process nginx -g daemon off;"),
	  "0::/system.slice/docker-" CID_DOCKER ".scope\n" },
	{ 201, "pause", 1, 201, 0, 7001, "65535\t65535\t65535\t65535", "65535\t65535\t65535\t65535",
	  "/pause", "/", CMD("/pause\0"),
	  "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234abcd_5678_90ef.slice/"
	  "cri-containerd-" CID_CONTAINERD ".scope\n" },
	{ 202, "sleep", 1, 202, 0, 7002, "0\t0\t0\t0", "0\t0\t0\t0", "/usr/bin/sleep", "/",
	  CMD("sleep\0infinity\0"), "0::/kubepods/besteffort/pod0b1c/crio-" CID_CRIO ".scope\n" },
	{ 203, "redis", 1, 203, 0, 7003, "999\t999\t999\t999", "999\t999\t999\t999", "/usr/bin/redis", "/data",
	  CMD("redis-server\0*:6379\0"),
	  "11:memory:/docker/" CID_V1 "\n5:cpu,cpuacct:/docker/" CID_V1 "\n" },
	/* 63 hex digits: not a container id */
	{ 204, "fake", 1, 204, 0, 7004, "0\t0\t0\t0", "0\t0\t0\t0", "/usr/bin/fake", "/",
	  CMD("fake\0"), "0::/system.slice/docker-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde.scope\n" },
	/* hostile: ')' and spaces in comm, newline and quote in the exe path */
	{ 300, "we) (ird", 100, 100, 0, 9000, "1000\t1000\t1000\t1000", "1000\t1000\t1000\t1000",
	  "/tmp/we ird\n\"bin", "/tmp", CMD("a b\0\"c\"\0\0d\0"), "0::/\n" },
	/* a title rewritten in place, padded with NULs */
	{ 301, "postgres", 1, 301, 0, 9001, "104\t104\t104\t104", "104\t104\t104\t104",
	  "/usr/lib/postgresql/bin/postgres", "/var/lib/postgresql",
	  CMD("postgres: checkpointer\0\0\0\0\0\0"), "0::/system.slice/postgresql.service\n" },
};
#define N_FAKES (sizeof(fakes) / sizeof(fakes[0]))

static void build_fake_tree(struct fixture *fx)
{
	char p[600];

	snprintf(fx->root, sizeof(fx->root), "%s/proc", fx->dir);
	assert_int_equal(mkdir(fx->root, 0755), 0);
	for (size_t i = 0; i < N_FAKES; i++)
		fake_proc(fx->root, &fakes[i]);
	/* not processes: a non-numeric dir, a file, and a pid dir that
	 * vanished (no stat) */
	snprintf(p, sizeof(p), "%s/self", fx->root);
	assert_int_equal(mkdir(p, 0755), 0);
	write_file(fx->root, "uptime", "1.0 1.0\n", 8);
	snprintf(p, sizeof(p), "%s/400", fx->root);
	assert_int_equal(mkdir(p, 0755), 0);
	/* malformed stat files: skipped, never trusted */
	snprintf(p, sizeof(p), "%s/401", fx->root);
	assert_int_equal(mkdir(p, 0755), 0);
	write_file(p, "stat", "401 (no-close-paren S 1 1 1 0", 30);
	snprintf(p, sizeof(p), "%s/402", fx->root);
	assert_int_equal(mkdir(p, 0755), 0);
	write_file(p, "stat", "402 (short) S 1 1", 17);
}
#define N_NOT_PROCS 3	/* 400, 401, 402: read but not processes */

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	fx->child = -1;
	fx->child_pipe = -1;
	fx->dir = rwt_mkdtemp("proc");
	fx->pt = proc_table__new(1024);
	fx->ev = rw_event__new();
	*state = fx;
	if (!fx->dir || !fx->pt || !fx->ev)
		return -1;
	proc_table__set_boot_time(fx->pt, BOOT_NS);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	if (!fx)
		return 0;
	if (fx->child > 0) {
		kill(fx->child, SIGKILL);
		waitpid(fx->child, NULL, 0);
	}
	if (fx->child_pipe >= 0)
		close(fx->child_pipe);
	proc_table__free(fx->pt);
	free(fx->ev);
	if (fx->dir)
		rwt_rmtree(fx->dir);
	free(fx->dir);
	free(fx);
	return 0;
}

/* ---- assertions on events ------------------------------------------------------ */

static void expect_str(const struct rw_event *ev, enum rw_field f, const char *want)
{
	size_t len = 0;
	const char *s = rw_event__str(ev, f, &len);

	if (!s) {
		fprintf(stderr, "%s: absent, want \"%s\"\n", rw_schema[f].name, want);
		fail();
	}
	if (len != strlen(want) || memcmp(s, want, len) != 0) {
		fprintf(stderr, "%s: \"%.*s\", want \"%s\"\n", rw_schema[f].name, (int)len, s, want);
		fail();
	}
}

static void expect_absent(const struct rw_event *ev, enum rw_field f)
{
	if (rw_event__has(ev, f)) {
		fprintf(stderr, "%s: present, want absent\n", rw_schema[f].name);
		fail();
	}
}

static void expect_int(const struct rw_event *ev, enum rw_field f, int64_t want)
{
	if (!rw_event__has(ev, f)) {
		fprintf(stderr, "%s: absent, want %lld\n", rw_schema[f].name, (long long)want);
		fail();
	}
	assert_true(rw_event__int(ev, f, 0) == want);
}

/* The STRV field holds exactly the NUL-separated strings of want. */
static void expect_strv(const struct rw_event *ev, enum rw_field f, const char *want, size_t wlen)
{
	uint32_t pos = 0;
	size_t len, off = 0;
	const char *s;

	while ((s = rw_event__strv_next(ev, f, &pos, &len))) {
		const char *z = memchr(want + off, '\0', wlen - off);
		size_t l = z ? (size_t)(z - (want + off)) : wlen - off;

		assert_true(off < wlen);
		assert_int_equal(len, l);
		assert_memory_equal(s, want + off, l);
		off += l + 1;
	}
	assert_true(off >= wlen);
}

static void expect_user_name(const struct rw_event *ev, enum rw_field f, uid_t uid)
{
	struct passwd *pw = getpwuid(uid);

	if (pw)
		expect_str(ev, f, pw->pw_name);
	else
		expect_absent(ev, f);
}

static uint64_t start_of(unsigned long long ticks)
{
	long hz = sysconf(_SC_CLK_TCK);

	return (uint64_t)BOOT_NS + ticks * (NS / (uint64_t)hz);
}

static void event_for(struct rw_event *ev, pid_t pid, const char *action)
{
	rw_event__reset(ev);
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, action);
	rw_event__set_int(ev, RW_F_PROC_PID, pid);
}

/* ---- scan ------------------------------------------------------------------------- */

static void test_scan_fake_tree(void **state)
{
	struct fixture *fx = *state;
	struct proc_table_stats st;
	struct rw_event *ev = fx->ev;

	build_fake_tree(fx);
	assert_int_equal(proc_table__scan(fx->pt, fx->root), 0);
	proc_table__stats(fx->pt, &st);
	assert_int_equal(st.entries, N_FAKES);
	assert_int_equal(st.proc_reads, N_FAKES + N_NOT_PROCS);
	assert_int_equal(st.misses, 0);
	assert_int_equal(st.evictions, 0);
	assert_true(st.bytes > 0);
	for (size_t i = 0; i < N_FAKES; i++)
		assert_true(proc_table__known(fx->pt, fakes[i].pid));
	assert_false(proc_table__known(fx->pt, 400));
	assert_false(proc_table__known(fx->pt, 401));
	assert_false(proc_table__known(fx->pt, 402));

	/* an interactive shell: every field, and its parent */
	event_for(ev, 100, "create");
	rw_event__set_cstr(ev, RW_F_FILE_PATH, "/home/alice/x");
	proc_table__enrich(fx->pt, ev);
	expect_str(ev, RW_F_PROC_NAME, "bash");
	expect_str(ev, RW_F_PROC_EXECUTABLE, "/usr/bin/bash");
	expect_strv(ev, RW_F_PROC_ARGS, "-bash", 5);
	expect_int(ev, RW_F_PROC_ARGS_COUNT, 1);
	expect_str(ev, RW_F_PROC_COMMAND_LINE, "-bash");
	expect_str(ev, RW_F_PROC_CWD, "/home/alice");
	expect_int(ev, RW_F_PROC_START, (int64_t)start_of(5000));
	expect_int(ev, RW_F_PROC_INTERACTIVE, 1);
	expect_int(ev, RW_F_PROC_TTY_MAJOR, 136);
	expect_int(ev, RW_F_PROC_TTY_MINOR, 3);
	expect_int(ev, RW_F_PROC_SID, 100);
	expect_str(ev, RW_F_PROC_UID, "1000");
	expect_str(ev, RW_F_PROC_RUID, "1000");
	expect_str(ev, RW_F_PROC_GID, "1000");
	expect_str(ev, RW_F_PROC_RGID, "1000");
	expect_str(ev, RW_F_USER_ID, "1000");
	expect_user_name(ev, RW_F_PROC_USER, 1000);
	expect_user_name(ev, RW_F_USER_NAME, 1000);
	expect_int(ev, RW_F_PARENT_PID, 1);
	expect_str(ev, RW_F_PARENT_NAME, "systemd");
	expect_str(ev, RW_F_PARENT_EXECUTABLE, "/usr/lib/systemd/systemd");
	expect_str(ev, RW_F_PARENT_COMMAND_LINE, "/sbin/init splash");
	expect_str(ev, RW_F_RW_CGROUP_PATH, "/user.slice/user-1000.slice/session-1.scope");
	expect_absent(ev, RW_F_RW_CGROUP_ID);	/* a fake root has no cgroupfs */
	expect_absent(ev, RW_F_CONTAINER_ID);
	expect_str(ev, RW_F_FILE_PATH, "/home/alice/x");
	assert_int_equal(ev->n_truncated, 0);

	/* a container process: real and effective ids differ, title rewritten */
	event_for(ev, 200, "connect");
	proc_table__enrich(fx->pt, ev);
	expect_str(ev, RW_F_PROC_NAME, "nginx");
	expect_strv(ev, RW_F_PROC_ARGS, CMD("nginx: master process nginx -g daemon off;"));
	expect_int(ev, RW_F_PROC_ARGS_COUNT, 1);
	expect_str(ev, RW_F_PROC_COMMAND_LINE, "nginx: master process nginx -g daemon off;");
	expect_str(ev, RW_F_PROC_UID, "101");
	expect_str(ev, RW_F_PROC_RUID, "0");
	expect_str(ev, RW_F_PROC_GID, "102");
	expect_str(ev, RW_F_PROC_RGID, "0");
	expect_str(ev, RW_F_USER_ID, "101");
	expect_user_name(ev, RW_F_USER_NAME, 101);
	expect_int(ev, RW_F_PROC_INTERACTIVE, 0);
	expect_absent(ev, RW_F_PROC_TTY_MAJOR);
	expect_str(ev, RW_F_CONTAINER_ID, CID_DOCKER);
	expect_str(ev, RW_F_PARENT_EXECUTABLE, "/usr/bin/bash");
	expect_str(ev, RW_F_PARENT_COMMAND_LINE, "-bash");

	event_for(ev, 201, "exec");
	proc_table__enrich(fx->pt, ev);
	expect_str(ev, RW_F_CONTAINER_ID, CID_CONTAINERD);
	event_for(ev, 202, "exec");
	proc_table__enrich(fx->pt, ev);
	expect_str(ev, RW_F_CONTAINER_ID, CID_CRIO);
	expect_str(ev, RW_F_PROC_COMMAND_LINE, "sleep infinity");
	expect_int(ev, RW_F_PROC_ARGS_COUNT, 2);
	event_for(ev, 203, "exec");
	proc_table__enrich(fx->pt, ev);
	expect_str(ev, RW_F_CONTAINER_ID, CID_V1);	/* cgroup v1 only: first line */
	expect_str(ev, RW_F_RW_CGROUP_PATH, "/docker/" CID_V1);
	expect_str(ev, RW_F_PROC_CWD, "/data");
	event_for(ev, 204, "exec");
	proc_table__enrich(fx->pt, ev);
	expect_absent(ev, RW_F_CONTAINER_ID);

	/* a kernel thread: no executable, no args; comm is its name */
	event_for(ev, 2, "exit");
	proc_table__enrich(fx->pt, ev);
	expect_str(ev, RW_F_PROC_NAME, "kthreadd");
	expect_absent(ev, RW_F_PROC_EXECUTABLE);
	expect_absent(ev, RW_F_PROC_ARGS);
	expect_absent(ev, RW_F_PROC_COMMAND_LINE);
	expect_absent(ev, RW_F_PARENT_PID);	/* ppid 0: no parent */

	/* hostile names survive as bytes */
	event_for(ev, 300, "exec");
	proc_table__enrich(fx->pt, ev);
	expect_str(ev, RW_F_PROC_EXECUTABLE, "/tmp/we ird\n\"bin");
	expect_str(ev, RW_F_PROC_NAME, "we ird\n\"bin");
	expect_strv(ev, RW_F_PROC_ARGS, CMD("a b\0\"c\"\0\0d\0"));
	expect_int(ev, RW_F_PROC_ARGS_COUNT, 4);
	expect_str(ev, RW_F_PROC_COMMAND_LINE, "a b \"c\"  d");
	expect_int(ev, RW_F_PROC_START, (int64_t)start_of(9000));

	event_for(ev, 301, "exec");
	proc_table__enrich(fx->pt, ev);
	expect_strv(ev, RW_F_PROC_ARGS, "postgres: checkpointer", 22);
	expect_int(ev, RW_F_PROC_ARGS_COUNT, 1);
	expect_str(ev, RW_F_PROC_COMMAND_LINE, "postgres: checkpointer");
	expect_str(ev, RW_F_PROC_NAME, "postgres");

	/* the scan read everything: no misses */
	proc_table__stats(fx->pt, &st);
	assert_int_equal(st.misses, 0);
	assert_int_equal(st.proc_reads, N_FAKES + N_NOT_PROCS);
}

static void test_scan_missing_root(void **state)
{
	struct fixture *fx = *state;
	char p[600];

	snprintf(p, sizeof(p), "%s/nope", fx->dir);
	assert_int_equal(proc_table__scan(fx->pt, p), -ENOENT);
}

/* Only the fields the event lacks are filled. */
static void test_enrich_keeps_event_fields(void **state)
{
	struct fixture *fx = *state;
	struct rw_event *ev = fx->ev;

	build_fake_tree(fx);
	assert_int_equal(proc_table__scan(fx->pt, fx->root), 0);
	event_for(ev, 100, "exec");
	rw_event__set_cstr(ev, RW_F_PROC_EXECUTABLE, "/custom/exe");
	rw_event__add_strv(ev, RW_F_PROC_ARGS, "custom", 6);
	rw_event__set_cstr(ev, RW_F_PROC_UID, "0");
	rw_event__set_int(ev, RW_F_PARENT_PID, 2);	/* the source knows better */
	rw_event__set_cstr(ev, RW_F_CONTAINER_ID, "abc");
	proc_table__enrich(fx->pt, ev);
	expect_str(ev, RW_F_PROC_EXECUTABLE, "/custom/exe");
	expect_strv(ev, RW_F_PROC_ARGS, "custom", 6);
	expect_str(ev, RW_F_PROC_UID, "0");
	expect_str(ev, RW_F_USER_ID, "0");	/* from the event's own id */
	expect_user_name(ev, RW_F_USER_NAME, 0);
	expect_str(ev, RW_F_CONTAINER_ID, "abc");
	expect_int(ev, RW_F_PARENT_PID, 2);
	expect_str(ev, RW_F_PARENT_NAME, "kthreadd");
	expect_absent(ev, RW_F_PARENT_EXECUTABLE);
	/* what it lacked came from the table */
	expect_str(ev, RW_F_PROC_CWD, "/home/alice");
	expect_str(ev, RW_F_PROC_COMMAND_LINE, "-bash");
	expect_str(ev, RW_F_PROC_RUID, "1000");

	/* the target process of a signal/ptrace event */
	rw_event__reset(ev);
	rw_event__set_int(ev, RW_F_RW_TARGET_PID, 200);
	proc_table__enrich_target(fx->pt, ev);
	expect_str(ev, RW_F_RW_TARGET_NAME, "nginx");
	expect_str(ev, RW_F_RW_TARGET_EXE, "/usr/sbin/nginx");
	expect_absent(ev, RW_F_PROC_EXECUTABLE);
}

/* ---- fork / exec / exit ---------------------------------------------------------------- */

static void exec_event(struct rw_event *ev, pid_t pid, const char *exe, const char *const *argv)
{
	event_for(ev, pid, "exec");
	rw_event__set_cstr(ev, RW_F_PROC_EXECUTABLE, exe);
	for (; *argv; argv++)
		rw_event__add_strv(ev, RW_F_PROC_ARGS, *argv, strlen(*argv));
}

static void test_fork_exec_exit(void **state)
{
	struct fixture *fx = *state;
	struct rw_event *ev = fx->ev;
	struct proc_table_stats st;
	const char *const argv[] = { "ls", "-la", "my file", NULL };
	uint64_t t_fork = (uint64_t)BOOT_NS + 3600 * NS, t_exit = t_fork + 2 * NS;

	build_fake_tree(fx);
	assert_int_equal(proc_table__scan(fx->pt, fx->root), 0);

	/* fork: the child runs the parent's image until it execs */
	proc_table__fork(fx->pt, 100, 5000, t_fork);
	assert_true(proc_table__known(fx->pt, 5000));
	event_for(ev, 5000, "fork");
	proc_table__enrich(fx->pt, ev);
	expect_str(ev, RW_F_PROC_EXECUTABLE, "/usr/bin/bash");
	expect_str(ev, RW_F_PROC_COMMAND_LINE, "-bash");
	expect_str(ev, RW_F_PROC_CWD, "/home/alice");
	expect_str(ev, RW_F_PROC_UID, "1000");
	expect_int(ev, RW_F_PROC_TTY_MAJOR, 136);
	expect_int(ev, RW_F_PROC_START, (int64_t)t_fork);
	expect_int(ev, RW_F_PARENT_PID, 100);
	expect_str(ev, RW_F_PARENT_EXECUTABLE, "/usr/bin/bash");

	/* exec: new image; cwd (not in the event) is kept */
	exec_event(ev, 5000, "/usr/bin/ls", argv);
	rw_event__set_cstr(ev, RW_F_PROC_UID, "0");	/* a setuid binary */
	rw_event__set_cstr(ev, RW_F_PROC_RUID, "1000");
	proc_table__exec(fx->pt, ev);
	event_for(ev, 5000, "create");
	proc_table__enrich(fx->pt, ev);
	expect_str(ev, RW_F_PROC_NAME, "ls");
	expect_str(ev, RW_F_PROC_EXECUTABLE, "/usr/bin/ls");
	expect_strv(ev, RW_F_PROC_ARGS, CMD("ls\0-la\0my file"));
	expect_int(ev, RW_F_PROC_ARGS_COUNT, 3);
	expect_str(ev, RW_F_PROC_COMMAND_LINE, "ls -la my file");
	expect_str(ev, RW_F_PROC_CWD, "/home/alice");
	expect_str(ev, RW_F_PROC_UID, "0");
	expect_str(ev, RW_F_PROC_RUID, "1000");
	expect_int(ev, RW_F_PROC_START, (int64_t)t_fork);
	expect_int(ev, RW_F_PARENT_PID, 100);
	expect_str(ev, RW_F_PARENT_COMMAND_LINE, "-bash");
	/* the parent is unchanged */
	event_for(ev, 100, "create");
	proc_table__enrich(fx->pt, ev);
	expect_str(ev, RW_F_PROC_EXECUTABLE, "/usr/bin/bash");

	/* a grandchild of the exec'd child inherits the new image */
	proc_table__fork(fx->pt, 5000, 5001, t_fork + 1);
	event_for(ev, 5001, "fork");
	proc_table__enrich(fx->pt, ev);
	expect_str(ev, RW_F_PROC_EXECUTABLE, "/usr/bin/ls");
	expect_str(ev, RW_F_PARENT_EXECUTABLE, "/usr/bin/ls");
	expect_str(ev, RW_F_PROC_UID, "0");

	/* exit: kept for late events during the grace period */
	proc_table__exit(fx->pt, 5000, t_exit);
	event_for(ev, 5000, "modify");
	proc_table__enrich(fx->pt, ev);
	expect_str(ev, RW_F_PROC_EXECUTABLE, "/usr/bin/ls");
	proc_table__expire(fx->pt, t_exit + 5 * NS - 1);
	assert_true(proc_table__known(fx->pt, 5000));
	proc_table__expire(fx->pt, t_exit + 5 * NS);
	assert_false(proc_table__known(fx->pt, 5000));
	assert_true(proc_table__known(fx->pt, 5001));	/* still alive */
	assert_true(proc_table__known(fx->pt, 100));

	/* gone from the table and from (fake) /proc: one miss, one read,
	 * then remembered as unknown */
	proc_table__stats(fx->pt, &st);
	assert_int_equal(st.misses, 0);
	event_for(ev, 5000, "modify");
	proc_table__enrich(fx->pt, ev);
	expect_absent(ev, RW_F_PROC_EXECUTABLE);
	proc_table__enrich(fx->pt, ev);
	proc_table__stats(fx->pt, &st);
	assert_int_equal(st.misses, 1);
	assert_int_equal(st.proc_reads, N_FAKES + N_NOT_PROCS + 1);
	assert_int_equal(st.evictions, 0);

	/* pid reuse: a new fork replaces the remembered-unknown entry */
	proc_table__fork(fx->pt, 1, 5000, t_exit + 10 * NS);
	event_for(ev, 5000, "fork");
	proc_table__enrich(fx->pt, ev);
	expect_str(ev, RW_F_PROC_EXECUTABLE, "/usr/lib/systemd/systemd");
	expect_int(ev, RW_F_PARENT_PID, 1);
}

/* A process the table never saw is read from the real /proc once. */
static void test_miss_reads_real_proc(void **state)
{
	struct fixture *fx = *state;
	struct rw_event *ev = fx->ev;
	struct proc_table_stats st;
	char exe[4096], cwd[4096];
	ssize_t n;
	int p[2];

	assert_int_equal(pipe(p), 0);
	fx->child = fork();
	assert_true(fx->child >= 0);
	if (fx->child == 0) {
		char c;

		close(p[1]);
		(void)!read(p[0], &c, 1);	/* until the test ends */
		_exit(0);
	}
	close(p[0]);
	fx->child_pipe = p[1];
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	assert_non_null(getcwd(cwd, sizeof(cwd)));

	event_for(ev, fx->child, "connect");
	proc_table__enrich(fx->pt, ev);
	expect_str(ev, RW_F_PROC_EXECUTABLE, exe);
	expect_str(ev, RW_F_PROC_CWD, cwd);
	expect_int(ev, RW_F_PROC_ARGS_COUNT, g_argc);
	expect_int(ev, RW_F_PARENT_PID, getpid());
	expect_str(ev, RW_F_PARENT_EXECUTABLE, exe);
	proc_table__stats(fx->pt, &st);
	assert_int_equal(st.misses, 2);		/* the child, then its parent (us) */
	assert_int_equal(st.proc_reads, 2);
	proc_table__enrich(fx->pt, ev);
	event_for(ev, fx->child, "connect");
	proc_table__enrich(fx->pt, ev);
	expect_str(ev, RW_F_PROC_EXECUTABLE, exe);
	proc_table__stats(fx->pt, &st);
	assert_int_equal(st.misses, 2);
	assert_int_equal(st.proc_reads, 2);

	/* a pid that cannot exist (pids are below pid_max): one read, then
	 * remembered */
	{
		FILE *f = fopen("/proc/sys/kernel/pid_max", "r");
		long pid_max = 0;

		assert_non_null(f);
		assert_int_equal(fscanf(f, "%ld", &pid_max), 1);
		fclose(f);
		event_for(ev, (pid_t)pid_max, "exec");
		proc_table__enrich(fx->pt, ev);
		proc_table__enrich(fx->pt, ev);
		expect_absent(ev, RW_F_PROC_EXECUTABLE);
		expect_absent(ev, RW_F_PARENT_PID);
		proc_table__stats(fx->pt, &st);
		assert_int_equal(st.misses, 3);
		assert_int_equal(st.proc_reads, 3);
	}
}

/* The real /proc: this very process, with its real exe and args. */
static void test_scan_real_proc_finds_self(void **state)
{
	struct fixture *fx = *state;
	struct rw_event *ev = fx->ev;
	struct proc_table_stats st;
	char exe[4096], cwd[4096], cg[4096], *args = NULL, *cmdline = NULL;
	size_t alen = 0;
	struct proc_table *pt = proc_table__new(65536);
	FILE *f;
	ssize_t n;

	assert_non_null(pt);
	assert_int_equal(proc_table__scan(pt, "/proc"), 0);
	proc_table__stats(pt, &st);
	assert_true(st.entries >= 2);
	assert_true(proc_table__known(pt, getpid()));
	assert_true(proc_table__known(pt, 1));

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	for (int i = 0; i < g_argc; i++)
		alen += strlen(g_argv[i]) + 1;
	args = calloc(1, alen + 1);
	cmdline = calloc(1, alen + 1);
	assert_non_null(args);
	assert_non_null(cmdline);
	for (int i = 0, off = 0; i < g_argc; i++) {
		size_t l = strlen(g_argv[i]);

		memcpy(args + off, g_argv[i], l);
		memcpy(cmdline + off, g_argv[i], l);
		if (i + 1 < g_argc)
			cmdline[off + l] = ' ';
		off += (int)l + 1;
	}

	event_for(ev, getpid(), "exec");
	proc_table__enrich(pt, ev);
	expect_str(ev, RW_F_PROC_EXECUTABLE, exe);
	expect_strv(ev, RW_F_PROC_ARGS, args, alen - 1);
	expect_int(ev, RW_F_PROC_ARGS_COUNT, g_argc);
	expect_str(ev, RW_F_PROC_COMMAND_LINE, cmdline);
	expect_str(ev, RW_F_PROC_CWD, cwd);
	expect_int(ev, RW_F_PARENT_PID, getppid());
	expect_int(ev, RW_F_PROC_SID, getsid(0));
	{
		char id[16];

		snprintf(id, sizeof(id), "%u", (unsigned)geteuid());
		expect_str(ev, RW_F_PROC_UID, id);
		expect_str(ev, RW_F_USER_ID, id);
		snprintf(id, sizeof(id), "%u", (unsigned)getuid());
		expect_str(ev, RW_F_PROC_RUID, id);
		snprintf(id, sizeof(id), "%u", (unsigned)getegid());
		expect_str(ev, RW_F_PROC_GID, id);
	}
	expect_user_name(ev, RW_F_USER_NAME, geteuid());
	assert_true(rw_event__has(ev, RW_F_PROC_START));
	assert_true(rw_event__has(ev, RW_F_PARENT_NAME));

	/* the cgroup: the cgroup2 line of /proc/self/cgroup, and its id is
	 * the inode of that directory where cgroup2 is mounted */
	f = fopen("/proc/self/cgroup", "r");
	assert_non_null(f);
	cg[0] = '\0';
	while (fgets(cg, sizeof(cg), f))
		if (strncmp(cg, "0::", 3) == 0)
			break;
	fclose(f);
	if (strncmp(cg, "0::", 3) == 0) {
		static const char *const bases[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };
		char path[5000];
		struct statfs sfs;
		struct stat sb;

		cg[strcspn(cg, "\n")] = '\0';
		expect_str(ev, RW_F_RW_CGROUP_PATH, cg + 3);
		for (size_t i = 0; i < 2; i++)
			if (statfs(bases[i], &sfs) == 0 && sfs.f_type == 0x63677270) {
				snprintf(path, sizeof(path), "%s%s", bases[i], cg + 3);
				assert_int_equal(stat(path, &sb), 0);
				expect_int(ev, RW_F_RW_CGROUP_ID, (int64_t)sb.st_ino);
				break;
			}
	}
	proc_table__stats(pt, &st);
	assert_int_equal(st.misses, 0);
	free(args);
	free(cmdline);
	proc_table__free(pt);
}

/* ---- bounds ---------------------------------------------------------------------------- */

static void test_eviction_exited_first_then_lru(void **state)
{
	struct fixture *fx = *state;
	struct rw_event *ev = fx->ev;
	struct proc_table *pt = proc_table__new(4);
	struct proc_table_stats st;
	const char *const argv[] = { "x", NULL };
	char empty[600];

	assert_non_null(pt);
	/* misses go to an empty procfs root */
	snprintf(empty, sizeof(empty), "%s/empty", fx->dir);
	assert_int_equal(mkdir(empty, 0755), 0);
	assert_int_equal(proc_table__scan(pt, empty), 0);

	for (pid_t pid = 10; pid <= 13; pid++) {
		exec_event(ev, pid, "/bin/x", argv);
		proc_table__exec(pt, ev);
	}
	proc_table__stats(pt, &st);
	assert_int_equal(st.entries, 4);
	assert_int_equal(st.evictions, 0);

	/* full: the exited entry goes first, though 10 is least recent */
	proc_table__exit(pt, 11, 1);
	exec_event(ev, 14, "/bin/x", argv);
	proc_table__exec(pt, ev);
	proc_table__stats(pt, &st);
	assert_int_equal(st.entries, 4);
	assert_int_equal(st.evictions, 1);
	assert_false(proc_table__known(pt, 11));
	assert_true(proc_table__known(pt, 10));

	/* a use moves 10 up: 12 is now the least recently used */
	event_for(ev, 10, "create");
	proc_table__enrich(pt, ev);
	expect_str(ev, RW_F_PROC_EXECUTABLE, "/bin/x");
	proc_table__fork(pt, 13, 15, 0);
	proc_table__stats(pt, &st);
	assert_int_equal(st.entries, 4);
	assert_int_equal(st.evictions, 2);
	assert_false(proc_table__known(pt, 12));
	assert_true(proc_table__known(pt, 10));
	assert_true(proc_table__known(pt, 13));
	assert_true(proc_table__known(pt, 14));
	assert_true(proc_table__known(pt, 15));
	/* the forked child got its image although the table was full */
	event_for(ev, 15, "fork");
	proc_table__enrich(pt, ev);
	expect_str(ev, RW_F_PROC_EXECUTABLE, "/bin/x");
	assert_int_equal(st.misses, 0);
	proc_table__free(pt);
}

static void test_byte_budget_and_shared_images(void **state)
{
	struct fixture *fx = *state;
	struct rw_event *ev = fx->ev;
	struct proc_table *pt = proc_table__new(100000);
	struct proc_table_stats st, st0;
	char arg[3000];

	assert_non_null(pt);
	memset(arg, 'a', sizeof(arg));
	/* fork shares the image: 200 children of a process with 3000 bytes
	 * of args cost far less than 200 copies */
	event_for(ev, 50, "exec");
	rw_event__set_cstr(ev, RW_F_PROC_EXECUTABLE, "/bin/big");
	rw_event__add_strv(ev, RW_F_PROC_ARGS, arg, sizeof(arg));
	proc_table__exec(pt, ev);
	proc_table__stats(pt, &st0);
	for (pid_t c = 1000; c < 1200; c++)
		proc_table__fork(pt, 50, c, 1);
	proc_table__stats(pt, &st);
	assert_int_equal(st.entries, 201);
	assert_true(st.bytes - st0.bytes < 200 * 300);
	/* and the image survives its first owner's eviction */
	proc_table__free(pt);

	pt = proc_table__new(100000);
	assert_non_null(pt);
	proc_table__set_byte_budget(pt, 40000);
	for (pid_t pid = 10; pid < 60; pid++) {
		event_for(ev, pid, "exec");
		rw_event__set_cstr(ev, RW_F_PROC_EXECUTABLE, "/bin/big");
		rw_event__add_strv(ev, RW_F_PROC_ARGS, arg, sizeof(arg));
		proc_table__exec(pt, ev);
		proc_table__stats(pt, &st);
		assert_true(st.bytes <= 40000);
	}
	assert_true(st.evictions >= 35);
	assert_true(st.entries >= 5 && st.entries <= 13);
	assert_true(proc_table__known(pt, 59));
	assert_false(proc_table__known(pt, 10));
	/* a long argument is cut to the bound (RW_ARGS_MAX) */
	{
		char *huge = malloc(10000);

		assert_non_null(huge);
		memset(huge, 'h', 10000);
		proc_table__set_byte_budget(pt, 1 << 20);
		event_for(ev, 70, "exec");
		rw_event__set_cstr(ev, RW_F_PROC_EXECUTABLE, "/bin/huge");
		rw_event__add_strv(ev, RW_F_PROC_ARGS, huge, 10000);
		proc_table__exec(pt, ev);
		event_for(ev, 70, "create");
		proc_table__enrich(pt, ev);
		{
			size_t len = 0;

			assert_non_null(rw_event__str(ev, RW_F_PROC_COMMAND_LINE, &len));
			assert_int_equal(len, 4096);
		}
		free(huge);
	}
	proc_table__free(pt);
}

static void test_user_names(void **state)
{
	struct fixture *fx = *state;
	struct passwd *pw = getpwuid(0);

	assert_non_null(pw);
	assert_string_equal(proc_table__user_name(fx->pt, 0), pw->pw_name);
	assert_string_equal(proc_table__user_name(fx->pt, 0), pw->pw_name);	/* cached */
	assert_string_equal(proc_table__user_name(fx->pt, 3999999999u), "");
	/* more uids than the cache holds: still right */
	for (uint32_t u = 100000; u < 101000; u++)
		assert_string_equal(proc_table__user_name(fx->pt, u), "");
	assert_string_equal(proc_table__user_name(fx->pt, 0), pw->pw_name);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_scan_fake_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_missing_root, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enrich_keeps_event_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_exec_exit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_miss_reads_real_proc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_real_proc_finds_self, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eviction_exited_first_then_lru, setup, teardown),
		cmocka_unit_test_setup_teardown(test_byte_budget_and_shared_images, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_names, setup, teardown),
	};

	g_argc = argc;
	g_argv = argv;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
