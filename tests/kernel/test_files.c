/*
 * File events from the fanotify source, end to end: the real sensor, real
 * syscalls from child processes (so that process.pid is known and differs
 * from the test's), in a fresh directory under /tmp/ringward-test-*.
 * Paths must be absolute and right for a relative create after chdir, for
 * openat with a dirfd and for a cwd reached through a symlink.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#define WAIT_MS 10000

static struct rwt_sensor sensor;
static bool sensor_up;
static char *tmpdir;		/* from rwt_mkdtemp */
static char dir[PATH_MAX];	/* its real path */



static int group_setup(void **state)
{
	static const char *const args[] = { "--hooks", "file,fifo", NULL };

	if (rwt_kernel_skip_reason())
		return 0;
	tmpdir = rwt_mkdtemp("files");
	if (!tmpdir || !realpath(tmpdir, dir))
		return -1;
	if (rwt_sensor_start(&sensor, args) == 0)
		sensor_up = true;
	return 0;
}

static int group_teardown(void **state)
{
	int rc = 0;

	if (sensor_up) {
		int st = rwt_sensor_stop(&sensor);

		/* it must have lived through the tests and stopped cleanly */
		if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "sensor ended with status 0x%x (RW_KEEP_OUTPUT=1 keeps %s)\n", st,
				sensor.err_path);
			rc = -1;
		}
		rwt_sensor_free(&sensor);
	}
	rwt_rmtree(tmpdir);
	free(tmpdir);
	return rc;
}

/* Run fn in a child (umask 0, so modes are exactly what we ask) and wait
 * for it; returns its pid. The child exits 0 when fn returns 0. */
static pid_t in_child(int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		umask(0);
		_exit(fn(arg) == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	return pid;
}

static void path_of(char *out, const char *rel)
{
	snprintf(out, PATH_MAX, "%s/%s", dir, rel);
}

struct want {
	const char *action;
	pid_t pid;
	const char *path;
};

static bool match(json_object *rec, void *arg)
{
	struct want *w = arg;
	const char *a = rwt_str(rec, "event.action"), *p = rwt_str(rec, "file.path");

	return a && strcmp(a, w->action) == 0 && rwt_int(rec, "process.pid", -1) == w->pid &&
	       p && strcmp(p, w->path) == 0;
}

static json_object *wait_event(const char *action, pid_t pid, const char *path)
{
	struct want w = { action, pid, path };
	json_object *rec = rwt_wait_for(&sensor, match, &w, WAIT_MS);

	if (!rec)
		fail_msg("no %s event from pid %d for %s", action, pid, path);
	return rec;
}

/* The fields every file event carries. */
static void check_common(json_object *rec, const char *type, const char *path)
{
	char d[PATH_MAX];
	const char *slash = strrchr(path, '/');

	rwt_expect_str(rec, "event.kind", "event");
	rwt_expect_str(rec, "event.category", "file");
	rwt_expect_str(rec, "event.type", type);
	rwt_expect_str(rec, "file.path", path);
	rwt_expect_str(rec, "file.name", slash + 1);
	snprintf(d, sizeof(d), "%.*s", (int)(slash - path), path);
	rwt_expect_str(rec, "file.directory", d);
	assert_non_null(rwt_get(rec, "@timestamp"));
}

static void check_inode(json_object *rec, const char *path)
{
	struct stat st;
	char ino[32];

	assert_int_equal(lstat(path, &st), 0);
	snprintf(ino, sizeof(ino), "%llu", (unsigned long long)st.st_ino);
	rwt_expect_str(rec, "file.inode", ino);
}

static void make_file(const char *path, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

/* Kernels before 5.17 give no handle of a create's or delete's target:
 * the sensor says so with this hook, and some checks cannot hold there. */
static bool pre_517_kernel(void)
{
	json_object *hooks = rwt_get(sensor.recs[0], "ringward.sensor.hooks");

	for (size_t i = 0; hooks && i < json_object_array_length(hooks); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(hooks, i)),
			   "fanotify:pre-5.17-moved-pairs") == 0)
			return true;
	return false;
}

/* ---- the tests ---------------------------------------------------------- */

static void test_hooks_reported(void **state)
{
	json_object *started, *hooks;
	bool root = false, fifo = false;

	RWT_SKIP_UNLESS_UP(sensor_up);
	started = sensor.recs[0];
	rwt_expect_str(started, "event.action", "sensor-started");
	hooks = rwt_get(started, "ringward.sensor.hooks");
	assert_non_null(hooks);
	for (size_t i = 0; i < json_object_array_length(hooks); i++) {
		const char *h = json_object_get_string(json_object_array_get_idx(hooks, i));

		root |= strcmp(h, "fanotify:/") == 0;
		fifo |= strcmp(h, "fanotify:fifo-inode-marks") == 0;
	}
	assert_true(root);
	assert_true(fifo);
}

static int relative_create(void *arg)
{
	int fd;

	if (chdir(dir) < 0)
		return 1;
	fd = open("relative.txt", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	return fd < 0 ? 1 : close(fd);
}

/* creat("relative.txt") after chdir: the event has the absolute path. */
static void test_relative_create(void **state)
{
	char path[PATH_MAX];
	json_object *rec;
	pid_t pid;

	RWT_SKIP_UNLESS_UP(sensor_up);
	path_of(path, "relative.txt");
	pid = in_child(relative_create, NULL);
	rec = wait_event("create", pid, path);
	check_common(rec, "creation", path);
	rwt_expect_str(rec, "file.type", "file");
	rwt_expect_str(rec, "file.mode", "0640");
	rwt_expect_str(rec, "file.uid", "0");
	rwt_expect_str(rec, "file.gid", "0");
	check_inode(rec, path);
}

static int dirfd_create(void *arg)
{
	int dfd = open(arg, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd;

	if (dfd < 0 || chdir("/") < 0)
		return 1;
	fd = openat(dfd, "via-dirfd.txt", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	return fd < 0 ? 1 : close(fd);
}

static void test_openat_dirfd(void **state)
{
	char sub[PATH_MAX], path[PATH_MAX];
	json_object *rec;
	pid_t pid;

	RWT_SKIP_UNLESS_UP(sensor_up);
	path_of(sub, "sub");
	assert_int_equal(mkdir(sub, 0755), 0);
	snprintf(path, sizeof(path), "%s/via-dirfd.txt", sub);
	pid = in_child(dirfd_create, sub);
	rec = wait_event("create", pid, path);
	check_common(rec, "creation", path);
	rwt_expect_str(rec, "file.type", "file");
	rwt_expect_str(rec, "file.mode", "0600");
	check_inode(rec, path);
}

static int symlinked_create(void *arg)
{
	int fd;

	if (chdir(arg) < 0)	/* .../link -> real */
		return 1;
	fd = open("through-link.txt", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	return fd < 0 ? 1 : close(fd);
}

/* A cwd reached through a symlink: the path is the real one. */
static void test_symlinked_cwd(void **state)
{
	char real[PATH_MAX], link[PATH_MAX], path[PATH_MAX];
	json_object *rec;
	pid_t pid;

	RWT_SKIP_UNLESS_UP(sensor_up);
	path_of(real, "real");
	path_of(link, "link");
	assert_int_equal(mkdir(real, 0755), 0);
	assert_int_equal(symlink("real", link), 0);
	snprintf(path, sizeof(path), "%s/through-link.txt", real);
	/* the symlink itself, made by this process */
	rec = wait_event("create", getpid(), link);
	check_common(rec, "creation", link);
	rwt_expect_str(rec, "file.type", "symlink");
	check_inode(rec, link);

	pid = in_child(symlinked_create, link);
	rec = wait_event("create", pid, path);
	check_common(rec, "creation", path);
	rwt_expect_str(rec, "file.type", "file");
	rwt_expect_str(rec, "file.mode", "0644");
	check_inode(rec, path);
}

static int write_close(void *arg)
{
	int fd = open(arg, O_WRONLY | O_APPEND | O_CLOEXEC);

	if (fd < 0 || write(fd, "hello", 5) != 5)
		return 1;
	return close(fd);
}

static void test_modify(void **state)
{
	char path[PATH_MAX];
	json_object *rec;
	pid_t pid;

	RWT_SKIP_UNLESS_UP(sensor_up);
	path_of(path, "modified.txt");
	make_file(path, 0644);
	pid = in_child(write_close, path);
	rec = wait_event("modify", pid, path);
	check_common(rec, "change", path);
	rwt_expect_str(rec, "event.action", "modify");
}

static int do_rename(void *arg)
{
	char **p = arg;

	return rename(p[0], p[1]);
}

static void test_rename(void **state)
{
	char from[PATH_MAX], to[PATH_MAX];
	char *p[2] = { from, to };
	json_object *rec;
	pid_t pid;

	RWT_SKIP_UNLESS_UP(sensor_up);
	path_of(from, "before.txt");
	path_of(to, "after.txt");
	make_file(from, 0644);
	pid = in_child(do_rename, p);
	rec = wait_event("rename", pid, from);
	check_common(rec, "change", from);
	rwt_expect_str(rec, "file.target_path", to);
}

static int make_in(void *arg)
{
	int fd = open(arg, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	return fd < 0 ? 1 : close(fd);
}

/* A directory renamed: events inside it afterwards carry the new path
 * (the directory path cache is invalidated), both paths of the directory
 * rename are exact and it says it is a directory. */
static void test_rename_directory(void **state)
{
	char d1[PATH_MAX], d2[PATH_MAX], f1[PATH_MAX], f2[PATH_MAX];
	char *p[2] = { d1, d2 };
	json_object *rec;
	pid_t pid;

	RWT_SKIP_UNLESS_UP(sensor_up);
	path_of(d1, "dir-before");
	path_of(d2, "dir-after");
	snprintf(f1, sizeof(f1), "%s/first.txt", d1);
	snprintf(f2, sizeof(f2), "%s/second.txt", d2);
	assert_int_equal(mkdir(d1, 0755), 0);
	pid = in_child(make_in, f1);
	wait_event("create", pid, f1);	/* d1's path is now cached */
	pid = in_child(do_rename, p);
	rec = wait_event("rename", pid, d1);
	check_common(rec, "change", d1);
	rwt_expect_str(rec, "file.target_path", d2);
	rwt_expect_str(rec, "file.type", "dir");
	pid = in_child(make_in, f2);
	rec = wait_event("create", pid, f2);
	check_common(rec, "creation", f2);
}

static int do_unlink(void *arg)
{
	return unlink(arg);
}

static void test_unlink(void **state)
{
	char path[PATH_MAX];
	json_object *rec;
	pid_t pid;

	RWT_SKIP_UNLESS_UP(sensor_up);
	path_of(path, "doomed.txt");
	make_file(path, 0644);
	pid = in_child(do_unlink, path);
	rec = wait_event("delete", pid, path);
	check_common(rec, "deletion", path);
}

static int do_chmod(void *arg)
{
	return chmod(arg, 0600);
}

static int do_chmod_setuid(void *arg)
{
	return chmod(arg, 04755);
}

static int do_chown(void *arg)
{
	return chown(arg, 1234, 5678);
}

static void test_chmod_chown(void **state)
{
	char path[PATH_MAX];
	json_object *rec;
	pid_t pid;

	RWT_SKIP_UNLESS_UP(sensor_up);
	path_of(path, "modes.txt");
	make_file(path, 0644);
	pid = in_child(do_chmod, path);
	rec = wait_event("chmod", pid, path);
	check_common(rec, "change", path);
	rwt_expect_str(rec, "file.mode", "0600");
	rwt_expect_str(rec, "file.uid", "0");
	rwt_expect_str(rec, "file.gid", "0");
	rwt_expect_str(rec, "file.type", "file");
	check_inode(rec, path);

	pid = in_child(do_chown, path);
	rec = wait_event("chmod", pid, path);
	check_common(rec, "change", path);
	rwt_expect_str(rec, "file.mode", "0600");
	rwt_expect_str(rec, "file.uid", "1234");
	rwt_expect_str(rec, "file.gid", "5678");

	/* the special bits show in the four digits */
	pid = in_child(do_chmod_setuid, path);
	rec = wait_event("chmod", pid, path);
	rwt_expect_str(rec, "file.mode", "4755");
}

/* chmod of a directory: the event names the directory itself. */
static void test_chmod_directory(void **state)
{
	char path[PATH_MAX];
	json_object *rec;
	pid_t pid;

	RWT_SKIP_UNLESS_UP(sensor_up);
	path_of(path, "private");
	assert_int_equal(mkdir(path, 0755), 0);
	pid = in_child(do_chmod, path);
	rec = wait_event("chmod", pid, path);
	check_common(rec, "change", path);
	rwt_expect_str(rec, "file.type", "dir");
	rwt_expect_str(rec, "file.mode", "0600");
	check_inode(rec, path);
}

static int short_lived_tree(void *arg)
{
	char f[PATH_MAX];
	int fd;

	snprintf(f, sizeof(f), "%s/inner.txt", (char *)arg);
	if (mkdir(arg, 0700) < 0)
		return 1;
	fd = open(f, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || close(fd) < 0 || unlink(f) < 0)
		return 1;
	return rmdir(arg);
}

/* mkdir, a file inside, both removed at once: the directory is gone
 * before its events are read, and still every path is absolute and exact
 * (the new directory's path was learned from its create event). */
static void test_directory_gone_before_read(void **state)
{
	char d[PATH_MAX], f[PATH_MAX];
	json_object *rec;
	pid_t pid;

	RWT_SKIP_UNLESS_UP(sensor_up);
	if (pre_517_kernel()) {
		printf("skipped: needs FAN_REPORT_TARGET_FID (Linux 5.17)\n");
		skip();
	}
	path_of(d, "short-lived");
	snprintf(f, sizeof(f), "%s/inner.txt", d);
	pid = in_child(short_lived_tree, d);
	rec = wait_event("create", pid, d);
	check_common(rec, "creation", d);
	rwt_expect_str(rec, "file.type", "dir");
	rec = wait_event("create", pid, f);
	check_common(rec, "creation", f);
	rec = wait_event("delete", pid, f);
	check_common(rec, "deletion", f);
	rec = wait_event("delete", pid, d);
	check_common(rec, "deletion", d);
	rwt_expect_str(rec, "file.type", "dir");
}

static int devnull_then_barrier(void *arg)
{
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, "x", 1) != 1 || close(fd) < 0)
		return 1;
	return make_in(arg);
}

/* Writing to /dev/null is not a file modification: not reported. The
 * create after it is the barrier that shows the sensor read past it. */
static void test_dev_null_not_reported(void **state)
{
	char barrier[PATH_MAX];
	struct want w;
	pid_t pid;

	RWT_SKIP_UNLESS_UP(sensor_up);
	path_of(barrier, "after-dev-null.txt");
	pid = in_child(devnull_then_barrier, barrier);
	wait_event("create", pid, barrier);
	w = (struct want){ "modify", pid, "/dev/null" };
	assert_int_equal(rwt_count(&sensor, match, &w), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hooks_reported),
		cmocka_unit_test(test_relative_create),
		cmocka_unit_test(test_openat_dirfd),
		cmocka_unit_test(test_symlinked_cwd),
		cmocka_unit_test(test_modify),
		cmocka_unit_test(test_rename),
		cmocka_unit_test(test_rename_directory),
		cmocka_unit_test(test_unlink),
		cmocka_unit_test(test_chmod_chown),
		cmocka_unit_test(test_chmod_directory),
		cmocka_unit_test(test_directory_gone_before_read),
		cmocka_unit_test(test_dev_null_not_reported),
	};

	return cmocka_run_group_tests_name("files", tests, group_setup, group_teardown);
}
