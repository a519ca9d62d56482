/*
 * Named pipes from the fanotify source, end to end: mkfifo in a child ->
 * pipe-create with its mode; a reader and a writer opening it -> one
 * pipe-open each, with the right pid and role; an opener that is gone
 * before the sensor looks (its role then comes from its close); a FIFO
 * that existed before the sensor started; and no pipe-open for a regular
 * file (only FIFOs carry an open mark).
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
static char early[PATH_MAX];	/* a FIFO made before the sensor started */



static int group_setup(void **state)
{
	static const char *const args[] = { "--hooks", "file,fifo", NULL };

	if (rwt_kernel_skip_reason())
		return 0;
	tmpdir = rwt_mkdtemp("fifo");
	if (!tmpdir || !realpath(tmpdir, dir))
		return -1;
	snprintf(early, sizeof(early), "%s/early.fifo", dir);
	if (mkfifo(early, 0600) < 0)
		return -1;
	if (rwt_sensor_start(&sensor, args) == 0)
		sensor_up = true;
	return 0;
}

static int group_teardown(void **state)
{
	int rc = 0;

	rwt_kids_reap();
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

static int test_teardown(void **state)
{
	rwt_kids_reap();
	return 0;
}

/* Run fn in a child (umask 0) and wait for it; returns its pid. */
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

struct want {
	const char *action;
	pid_t pid;
	const char *path;
};

static bool match(json_object *rec, void *arg)
{
	struct want *w = arg;
	const char *a = rwt_str(rec, "event.action"), *p = rwt_str(rec, "file.path");

	return a && strcmp(a, w->action) == 0 && (!w->pid || rwt_int(rec, "process.pid", -1) == w->pid) &&
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

static void check_fifo_event(json_object *rec, const char *type, const char *path)
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
	rwt_expect_str(rec, "file.type", "fifo");
}

static int do_mkfifo(void *arg)
{
	return mkfifo(arg, 0640);
}

/* mkfifo in a child, and wait until the sensor has seen it (and so has
 * put its open mark on it). */
static json_object *make_fifo(const char *path, pid_t *pid)
{
	*pid = in_child(do_mkfifo, (void *)path);
	return wait_event("pipe-create", *pid, path);
}

static void path_of(char *out, const char *rel)
{
	snprintf(out, PATH_MAX, "%s/%s", dir, rel);
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

static void test_pipe_create(void **state)
{
	char path[PATH_MAX], ino[32];
	json_object *rec;
	struct stat st;
	pid_t pid;

	RWT_SKIP_UNLESS_UP(sensor_up);
	path_of(path, "created.fifo");
	rec = make_fifo(path, &pid);
	check_fifo_event(rec, "creation", path);
	rwt_expect_str(rec, "file.mode", "0640");
	rwt_expect_str(rec, "file.uid", "0");
	rwt_expect_str(rec, "file.gid", "0");
	assert_int_equal(lstat(path, &st), 0);
	snprintf(ino, sizeof(ino), "%llu", (unsigned long long)st.st_ino);
	rwt_expect_str(rec, "file.inode", ino);
	/* a FIFO is reported as pipe-create, not also as a plain create */
	{
		struct want w = { "create", pid, path };

		assert_int_equal(rwt_count(&sensor, match, &w), 0);
	}
}

/* A child that opens the FIFO with flags, writes or reads 5 bytes, then
 * holds the fd open until the parent closes its end of ctl. */
static pid_t opener(const char *path, int flags, int ctl[2])
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		char buf[8];
		int fd;

		close(ctl[1]);
		fd = open(path, flags | O_CLOEXEC);
		if (fd < 0)
			_exit(1);
		if ((flags & O_ACCMODE) == O_WRONLY ? write(fd, "hello", 5) != 5
						    : read(fd, buf, 5) != 5)
			_exit(2);
		while (read(ctl[0], buf, 1) > 0)
			;	/* EOF: the parent is done with us */
		close(fd);
		_exit(0);
	}
	rwt_kid_add(pid);
	return pid;
}

static void test_reader_and_writer(void **state)
{
	char path[PATH_MAX];
	json_object *rec;
	pid_t mk, reader, writer;
	int ctl[2], st;

	RWT_SKIP_UNLESS_UP(sensor_up);
	path_of(path, "rw.fifo");
	make_fifo(path, &mk);
	assert_int_equal(pipe(ctl), 0);
	reader = opener(path, O_RDONLY, ctl);
	writer = opener(path, O_WRONLY, ctl);
	close(ctl[0]);

	rec = wait_event("pipe-open", reader, path);
	check_fifo_event(rec, "access", path);
	rwt_expect_str(rec, "ringward.fifo.role", "reader");
	rec = wait_event("pipe-open", writer, path);
	check_fifo_event(rec, "access", path);
	rwt_expect_str(rec, "ringward.fifo.role", "writer");

	close(ctl[1]);
	st = rwt_kid_wait(reader);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	st = rwt_kid_wait(writer);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* one open each, no more */
	{
		struct want w = { "pipe-open", reader, path };

		assert_int_equal(rwt_count(&sensor, match, &w), 1);
		w.pid = writer;
		assert_int_equal(rwt_count(&sensor, match, &w), 1);
	}
}

static int open_close_nonblock(void *arg)
{
	int fd = open(arg, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	return fd < 0 ? 1 : close(fd);
}

/* The opener has closed and exited before the sensor reads the event: the
 * role comes from the close (a close without writing: a reader). */
static void test_opener_already_gone(void **state)
{
	char path[PATH_MAX];
	json_object *rec;
	pid_t mk, pid;

	RWT_SKIP_UNLESS_UP(sensor_up);
	path_of(path, "quick.fifo");
	make_fifo(path, &mk);
	pid = in_child(open_close_nonblock, path);
	rec = wait_event("pipe-open", pid, path);
	check_fifo_event(rec, "access", path);
	rwt_expect_str(rec, "ringward.fifo.role", "reader");
}

/* A FIFO older than the sensor was found by its start scan and marked. */
static void test_fifo_from_before_start(void **state)
{
	json_object *rec;
	pid_t pid;

	RWT_SKIP_UNLESS_UP(sensor_up);
	pid = in_child(open_close_nonblock, early);
	rec = wait_event("pipe-open", pid, early);
	check_fifo_event(rec, "access", early);
	rwt_expect_str(rec, "ringward.fifo.role", "reader");
}

static int open_regular_then_fifo(void *arg)
{
	char **p = arg;
	int fd = open(p[0], O_RDONLY | O_CLOEXEC);

	if (fd < 0 || close(fd) < 0)
		return 1;
	return open_close_nonblock(p[1]);
}

/* Opening a regular file is not a pipe-open: only FIFOs carry the open
 * mark. The FIFO open after it is the barrier that shows the sensor has
 * read past the regular open. */
static void test_regular_open_not_reported(void **state)
{
	char reg[PATH_MAX], path[PATH_MAX];
	char *p[2] = { reg, path };
	pid_t mk, pid;
	int fd;

	RWT_SKIP_UNLESS_UP(sensor_up);
	path_of(reg, "regular.txt");
	path_of(path, "barrier.fifo");
	fd = open(reg, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	close(fd);
	make_fifo(path, &mk);
	pid = in_child(open_regular_then_fifo, p);
	wait_event("pipe-open", pid, path);
	{
		struct want w = { "pipe-open", 0, reg };

		assert_int_equal(rwt_count(&sensor, match, &w), 0);
	}
}

static int do_unlink(void *arg)
{
	return unlink(arg);
}

static void test_fifo_delete(void **state)
{
	char path[PATH_MAX];
	json_object *rec;
	pid_t mk, pid;

	RWT_SKIP_UNLESS_UP(sensor_up);
	if (pre_517_kernel()) {
		printf("skipped: needs FAN_REPORT_TARGET_FID (Linux 5.17)\n");
		skip();
	}
	path_of(path, "deleted.fifo");
	make_fifo(path, &mk);
	pid = in_child(do_unlink, path);
	rec = wait_event("delete", pid, path);
	check_fifo_event(rec, "deletion", path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_pipe_create, test_teardown),
		cmocka_unit_test_teardown(test_reader_and_writer, test_teardown),
		cmocka_unit_test_teardown(test_opener_already_gone, test_teardown),
		cmocka_unit_test_teardown(test_fifo_from_before_start, test_teardown),
		cmocka_unit_test_teardown(test_regular_open_not_reported, test_teardown),
		cmocka_unit_test_teardown(test_fifo_delete, test_teardown),
	};

	return cmocka_run_group_tests_name("fifo", tests, group_setup, group_teardown);
}
