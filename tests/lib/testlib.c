#include "testlib.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *rwt_build_dir(void)
{
	const char *b = getenv("BUILD");

	return b && *b ? b : "build";
}

const char *rwt_kernel_skip_reason(void)
{
	if (geteuid() != 0)
		return "skipped: kernel tests need root (eBPF, fanotify)";
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0)
		return "skipped: kernel has no BTF (/sys/kernel/btf/vmlinux)";
	return NULL;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void push_rec(struct rwt_sensor *s, json_object *o)
{
	if (s->n_recs == s->cap_recs) {
		s->cap_recs = s->cap_recs ? s->cap_recs * 2 : 1024;
		s->recs = realloc(s->recs, s->cap_recs * sizeof(*s->recs));
		assert_non_null(s->recs);
	}
	s->recs[s->n_recs++] = o;
}

void rwt_sensor_poll(struct rwt_sensor *s)
{
	FILE *f = fopen(s->out_path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!f)
		return;
	fseek(f, s->read_pos, SEEK_SET);
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] != '\n')
			break;	/* partial line: read it next time */
		s->read_pos += n;
		json_object *o = json_tokener_parse(line);
		if (!o) {
			fprintf(stderr, "testlib: sensor wrote a line that is not JSON: %s", line);
			fail();
		}
		push_rec(s, o);
	}
	free(line);
	fclose(f);
}

static bool is_started(json_object *rec, void *arg)
{
	const char *a = rwt_str(rec, "event.action");

	return a && strcmp(a, "sensor-started") == 0;
}

/* A start that failed: show the sensor's stderr, stop it, and leave
 * nothing behind (the caller's test fails; its teardown may not know). */
static int start_failed(struct rwt_sensor *s, int err)
{
	FILE *f = fopen(s->err_path, "r");
	char line[512];

	if (f) {
		while (fgets(line, sizeof(line), f))
			fprintf(stderr, "  sensor: %s", line);
		fclose(f);
	}
	rwt_sensor_free(s);	/* stops it if still running; removes its files */
	return err;
}

int rwt_sensor_start(struct rwt_sensor *s, const char *const extra[])
{
	static int seq;
	char exe[512];
	const char *argv[64];
	int argc = 0;

	memset(s, 0, sizeof(*s));
	snprintf(s->out_path, sizeof(s->out_path), "/tmp/ringward-test-out.%d.%d.jsonl",
		 getpid(), seq);
	snprintf(s->err_path, sizeof(s->err_path), "/tmp/ringward-test-err.%d.%d.log",
		 getpid(), seq++);
	unlink(s->out_path);
	snprintf(exe, sizeof(exe), "%s/ringward", rwt_build_dir());
	argv[argc++] = exe;
	argv[argc++] = "run";
	argv[argc++] = "--events";
	argv[argc++] = "--output";
	argv[argc++] = s->out_path;
	bool own_state = true;

	for (int i = 0; extra && extra[i] && argc < 60; i++) {
		if (strcmp(extra[i], "--state-dir") == 0)
			own_state = false;
		argv[argc++] = extra[i];
	}
	/* a state directory of its own: crash counts, bad versions and the
	 * last-known-good of one test never leak into another, nor into the
	 * host's /var/lib/ringward */
	if (own_state) {
		snprintf(s->state_dir, sizeof(s->state_dir), "/tmp/ringward-test-state.XXXXXX");
		if (!mkdtemp(s->state_dir))
			return -errno;
		argv[argc++] = "--state-dir";
		argv[argc++] = s->state_dir;
	}
	argv[argc] = NULL;

	s->pid = fork();
	if (s->pid < 0)
		return -errno;
	if (s->pid == 0) {
		int fd = open(s->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (fd >= 0) {
			dup2(fd, 2);
			close(fd);
		}
		execv(exe, (char *const *)argv);
		_exit(127);
	}
	for (int waited = 0; waited < 60000; waited += 20) {
		int st;

		if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
			fprintf(stderr, "testlib: sensor exited early (status %d)\n", st);
			s->pid = 0;
			return start_failed(s, -ECHILD);
		}
		rwt_sensor_poll(s);
		if (rwt_count(s, is_started, NULL))
			return 0;
		sleep_ms(20);
	}
	fprintf(stderr, "testlib: sensor wrote no sensor-started record in 60 s\n");
	return start_failed(s, -ETIMEDOUT);
}

int rwt_sensor_stop(struct rwt_sensor *s)
{
	int st = -1;

	if (s->pid <= 0)
		return -1;
	kill(s->pid, SIGTERM);
	for (int i = 0; i < 1000; i++) {	/* up to 20 s, then SIGKILL */
		if (waitpid(s->pid, &st, WNOHANG) == s->pid)
			break;
		if (i == 999) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, &st, 0);
		}
		sleep_ms(20);
	}
	s->pid = 0;
	rwt_sensor_poll(s);
	return st;
}

void rwt_sensor_free(struct rwt_sensor *s)
{
	if (s->pid > 0)
		rwt_sensor_stop(s);
	for (size_t i = 0; i < s->n_recs; i++)
		json_object_put(s->recs[i]);
	free(s->recs);
	s->recs = NULL;
	s->n_recs = s->cap_recs = 0;
	if (!getenv("RW_KEEP_OUTPUT")) {
		unlink(s->out_path);
		unlink(s->err_path);
		if (s->state_dir[0])
			rwt_rmtree(s->state_dir);
	}
	s->state_dir[0] = 0;
}

json_object *rwt_wait_for(struct rwt_sensor *s, rwt_pred pred, void *arg, int timeout_ms)
{
	size_t from = 0;

	for (int waited = 0;; waited += 20) {
		rwt_sensor_poll(s);
		for (size_t i = from; i < s->n_recs; i++)
			if (pred(s->recs[i], arg))
				return s->recs[i];
		from = s->n_recs;
		if (waited >= timeout_ms)
			return NULL;
		sleep_ms(20);
	}
}

size_t rwt_count(struct rwt_sensor *s, rwt_pred pred, void *arg)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n_recs; i++)
		n += pred(s->recs[i], arg);
	return n;
}

json_object *rwt_get(json_object *rec, const char *dotted)
{
	char buf[256], *save = NULL, *tok;
	json_object *cur = rec;

	/* "@timestamp" and other top-level names with no dot work too */
	snprintf(buf, sizeof(buf), "%s", dotted);
	for (tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
		if (!json_object_is_type(cur, json_type_object) ||
		    !json_object_object_get_ex(cur, tok, &cur))
			return NULL;
	}
	return cur;
}

const char *rwt_str(json_object *rec, const char *dotted)
{
	json_object *o = rwt_get(rec, dotted);

	if (o && json_object_is_type(o, json_type_array) && json_object_array_length(o) > 0)
		o = json_object_array_get_idx(o, 0);
	return o && json_object_is_type(o, json_type_string) ? json_object_get_string(o) : NULL;
}

int64_t rwt_int(json_object *rec, const char *dotted, int64_t dflt)
{
	json_object *o = rwt_get(rec, dotted);

	return o && json_object_is_type(o, json_type_int) ? json_object_get_int64(o) : dflt;
}

bool rwt_match_action(json_object *rec, void *arg)
{
	struct rwt_match *m = arg;
	const char *a = rwt_str(rec, "event.action");

	if (!a || strcmp(a, m->action) != 0)
		return false;
	if (m->pid && rwt_int(rec, "process.pid", -1) != m->pid)
		return false;
	if (m->field) {
		const char *v = rwt_str(rec, m->field);

		if (!v || strcmp(v, m->value) != 0)
			return false;
	}
	return true;
}

void rwt_expect_str(json_object *rec, const char *field, const char *want)
{
	const char *v = rwt_str(rec, field);

	if (!v || strcmp(v, want) != 0)
		fail_msg("%s: got %s, want \"%s\"", field, v ? v : "(absent)", want);
}

#define MAX_KIDS 64
static pid_t kids[MAX_KIDS];
static int n_kids;

void rwt_kid_add(pid_t pid)
{
	assert_true(pid > 0);
	assert_true(n_kids < MAX_KIDS);
	kids[n_kids++] = pid;
}

void rwt_kid_forget(pid_t pid)
{
	for (int i = 0; i < n_kids; i++)
		if (kids[i] == pid) {
			kids[i] = kids[--n_kids];
			return;
		}
}

int rwt_kid_wait(pid_t pid)
{
	int st = -1;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	rwt_kid_forget(pid);
	return st;
}

pid_t rwt_setid_child(void)
{
	pid_t child = fork();
	int st;

	assert_true(child >= 0);
	if (child == 0) {
		if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0)
			_exit(1);
		/* back to root: needs CAP_SETUID, which went with the uid */
		_exit(setuid(0) == 0 ? 2 : 0);
	}
	rwt_kid_add(child);
	st = rwt_kid_wait(child);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return child;
}

void rwt_kids_reap(void)
{
	for (int i = 0; i < n_kids; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	n_kids = 0;
}

char *rwt_mkdtemp(const char *tag)
{
	char *p;

	if (asprintf(&p, "/tmp/ringward-test-%s.XXXXXX", tag) < 0)
		return NULL;
	if (!mkdtemp(p)) {
		free(p);
		return NULL;
	}
	return p;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

void rwt_rmtree(const char *path)
{
	if (!path || strncmp(path, "/tmp/ringward-test-", 19) != 0)
		return;
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
