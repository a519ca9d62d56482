/*
 * The updater, core side (update_proc.h): start `ringward updater`
 * unprivileged, read its messages, write update-* records, hand what it
 * staged to the sensor, restart it when it dies.
 *
 * What the core trusts of the updater: nothing but the shape of its
 * messages. The updater verifies the repository (TUF) and the rollout
 * document; the core copies a staged bundle out of the updater's
 * directory (every open O_NOFOLLOW, relative to a directory already
 * opened, under a size and count cap) into a directory of its own, and the
 * engine then loads that copy through its normal checks: signature by a
 * trusted key, every file's sha256, anti-rollback. A compromised updater
 * can withhold updates or ask for a rollback to the last-known-good; it
 * cannot make the sensor load content that the engine would refuse.
 *
 * Directories:
 *   STATE (o->state_dir)      the updater's (uid 65534, 0700): trusted
 *                             metadata, staging (update/updater.c)
 *   STATE.content/NAME-V[.N]  the core's copies of staged bundles (root,
 *                             0700; the copy handed to activate and the
 *                             one before it are kept)
 */
#include "core/update_proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/event.h"
#include "core/sensor.h"
#include "engine/bundle.h"
#include "update/archive.h"
#include "update/rollout.h"

#define UPD_UID			65534	/* nobody: owns only its state directory */
#define UPD_LINE_MAX		2048	/* bytes of one message (update/updater.c) */
#define UPD_READ_MAX		(64 * 1024)	/* bytes read per wakeup */
#define UPD_BACKOFF_MIN_MS	1000
#define UPD_BACKOFF_MAX_MS	(5 * 60 * 1000)
#define UPD_STABLE_MS		60000	/* a run this long resets the backoff */
#define UPD_REPEAT_NS		(3600ULL * 1000000000ULL)	/* an unchanged check, again */
#define UPD_RECORDS_PER_MIN	120	/* beyond: counted and ignored */
#define UPD_MAX_ROLLED		32
#define UPD_COPY_DEPTH		16
#define UPD_DEFAULT_INTERVAL	300
#define UPD_DEFAULT_TIMEOUT	30
#define UPD_DEFAULT_MAX		(64ULL * 1024 * 1024)

/* where the updater finds what the core hands it */
enum { FD_IN = 3, FD_OUT, FD_ROOT, FD_CA, FD_EXE };
enum { TAG_PIPE = 1, TAG_PID };

struct rolled {
	char name[BUNDLE_MAX_NAME + 1];
	int64_t version;
};

struct update_proc {
	struct sensor *s;
	struct update_host h;
	char *url, *root, *state, *host_id, *group, *ca;	/* from strdup() */
	unsigned interval_s, timeout_s;
	uint64_t max_bytes;
	char copies[PATH_MAX];

	int ep;			/* our own epoll: the one fd the sensor watches */
	int exe_fd;		/* the binary the core runs, O_PATH */
	pid_t pid;		/* 0: none running */
	int pidfd, rd, wr;	/* -1 when closed */
	uint64_t started_ns, restart_at_ns;
	unsigned backoff_ms;
	uint64_t starts;

	char in[UPD_LINE_MAX + 1];
	size_t in_len;
	bool in_skip;

	char ring[ROLLOUT_MAX_NAME + 1];
	char last_msg[UPD_LINE_MAX + 1];
	uint64_t last_msg_ns;
	uint64_t window_start_ns;
	unsigned window_n;

	/* what runs, and what this host rolled back from: told to every
	 * updater the core starts */
	bool have_run;
	char run_name[BUNDLE_MAX_NAME + 1];
	int64_t run_version;
	struct rolled rolled[UPD_MAX_ROLLED];
	size_t n_rolled;

	char active[PATH_MAX], prev[PATH_MAX];	/* copies handed to activate */
	struct rw_event *rec;
};

static bool valid_name(const char *s, size_t max)
{
	return bundle__name_ok(s, strlen(s), max);
}

/* A decimal version, 1 .. 2^53 (what TUF and bundles allow), exactly. */
static bool parse_version(const char *s, int64_t *v)
{
	char *end;
	long long n;

	if (!*s || *s == '0' || *s == '-' || *s == '+')
		return false;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno || *end || n < 1 || n > (1LL << 53))
		return false;
	*v = n;
	return true;
}

/* ---- records ---- */

static struct rw_event *rec_begin(struct update_proc *u, const char *action, const char *type,
				  bool ok)
{
	struct rw_event *ev = u->rec;

	rw_event__reset(ev);
	rw_event__set_time(ev, RW_F_TIMESTAMP, rw_clock_ns(CLOCK_REALTIME));
	rw_event__set_cstr(ev, RW_F_EVENT_KIND, "state");
	rw_event__set_cstr(ev, RW_F_EVENT_CATEGORY, "configuration");
	rw_event__set_cstr(ev, RW_F_EVENT_TYPE, type);
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, action);
	rw_event__set_cstr(ev, RW_F_EVENT_OUTCOME, ok ? "success" : "failure");
	rw_event__set_cstr(ev, RW_F_EVENT_MODULE, "ringward");
	rw_event__set_int(ev, RW_F_PROC_PID, sensor__self(u->s));
	rw_event__set_cstr(ev, RW_F_RW_UPDATE_URL, u->url);
	if (u->ring[0])
		rw_event__set_cstr(ev, RW_F_RW_UPDATE_RING, u->ring);
	if (u->pid > 0)
		rw_event__set_int(ev, RW_F_RW_UPDATE_PID, u->pid);
	rw_event__set_int(ev, RW_F_RW_UPDATE_STARTS, (int64_t)u->starts);
	return ev;
}

static void rec_failed(struct update_proc *u, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void rec_failed(struct update_proc *u, const char *fmt, ...)
{
	struct rw_event *ev = rec_begin(u, "update-failed", "info", false);
	char why[UPD_LINE_MAX + 256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	rw_event__set_cstr(ev, RW_F_EVENT_REASON, why);
	sensor__write(u->s, ev);
}

/* ---- talking to the updater ---- */

/* Best effort: the pipe holds far more than these few lines, and what is
 * lost reaches the next updater when it starts. */
static void tell(struct update_proc *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tell(struct update_proc *u, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	if (u->wr < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n <= 0 || n >= (int)sizeof(line))
		return;
	if (write(u->wr, line, (size_t)n) < 0) {
		/* EAGAIN or EPIPE: see above */
	}
}

static void tell_state(struct update_proc *u)
{
	if (u->have_run)
		tell(u, "running %s %" PRId64 "\n", u->run_name[0] ? u->run_name : "-",
		     u->run_name[0] ? u->run_version : 0);
	for (size_t i = 0; i < u->n_rolled; i++)
		tell(u, "rolled-back %s %" PRId64 "\n", u->rolled[i].name, u->rolled[i].version);
}

/* ---- copying a staged bundle out of the updater's directory ---- */

struct copy_budget {
	uint64_t bytes, max_bytes;
	size_t files;
};

static int copy_file(int sfd, int dfd, const char *name, struct copy_budget *b)
{
	struct stat st;
	int in, out = -1, err = 0;

	in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	if (fstat(in, &st) || !S_ISREG(st.st_mode)) {
		err = -EINVAL;	/* a FIFO or device swapped in after the listing */
		goto cleanup;
	}
	out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (out < 0) {
		err = -errno;
		goto cleanup;
	}
	err = bundle__copy_fd(in, out, &b->bytes, b->max_bytes);
cleanup:
	if (out >= 0)
		close(out);
	close(in);
	return err;
}

/* Copy the directory sfd into dfd: regular files and directories only,
 * never following a link, at most b's bytes and ARCHIVE_MAX_FILES files. */
static int copy_dir(int sfd, int dfd, unsigned depth, struct copy_budget *b)
{
	int lfd = dup(sfd), err = 0;
	struct dirent *de;
	DIR *d;

	if (lfd < 0)
		return -errno;
	d = fdopendir(lfd);
	if (!d) {
		close(lfd);
		return -errno;
	}
	while (!err && (de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (++b->files > ARCHIVE_MAX_FILES) {
			err = -EFBIG;
			break;
		}
		if (fstatat(sfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW)) {
			err = -errno;
		} else if (S_ISREG(st.st_mode)) {
			err = copy_file(sfd, dfd, de->d_name, b);
		} else if (S_ISDIR(st.st_mode) && depth < UPD_COPY_DEPTH) {
			int s2, d2;

			if (mkdirat(dfd, de->d_name, 0755)) {
				err = -errno;
				break;
			}
			s2 = openat(sfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			d2 = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (s2 < 0 || d2 < 0)
				err = -errno;
			else
				err = copy_dir(s2, d2, depth + 1, b);
			if (!err && fsync(d2))
				err = -errno;
			if (s2 >= 0)
				close(s2);
			if (d2 >= 0)
				close(d2);
		} else {
			err = S_ISDIR(st.st_mode) ? -ELOOP : -EINVAL;
		}
	}
	closedir(d);
	return err;
}

/* Open STATE/staged/leaf one component at a time, none a link. */
static int open_staged(const struct update_proc *u, const char *leaf)
{
	int top, st, fd;

	top = open(u->state, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (top < 0)
		return -errno;
	st = openat(top, "staged", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	close(top);
	if (st < 0)
		return -errno;
	fd = openat(st, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	close(st);
	return fd < 0 ? -errno : fd;
}

/* Copy STATE/staged/leaf to a new directory under copies; its path into
 * out. Nothing is left of a failed copy. */
static int copy_staged(struct update_proc *u, const char *leaf, char *out, size_t size)
{
	struct copy_budget b = { .max_bytes = u->max_bytes };
	char tmp[PATH_MAX];
	int sfd, dfd = -1, err;

	sfd = open_staged(u, leaf);
	if (sfd < 0)
		return sfd;
	snprintf(tmp, sizeof(tmp), "%s/.partial-%s", u->copies, leaf);
	archive__remove_tree(tmp);	/* a crash's leftover */
	if (mkdir(tmp, 0755)) {
		err = -errno;
		goto cleanup;
	}
	dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		err = -errno;
		goto cleanup;
	}
	err = copy_dir(sfd, dfd, 0, &b);
	if (!err && fsync(dfd))
		err = -errno;
	if (err)
		goto cleanup;
	/* a name nobody uses: the copy is never an existing directory */
	err = -EEXIST;
	for (unsigned n = 1; n < 1000 && err == -EEXIST; n++) {
		struct stat st;

		if (n == 1)
			snprintf(out, size, "%s/%s", u->copies, leaf);
		else
			snprintf(out, size, "%s/%s.%u", u->copies, leaf, n);
		if (lstat(out, &st) == 0)
			continue;
		err = rename(tmp, out) ? -errno : 0;
	}
cleanup:
	if (err)
		archive__remove_tree(tmp);
	if (dfd >= 0)
		close(dfd);
	close(sfd);
	return err;
}

/* Keep the copy just activated and the one before; remove the rest. */
static void prune_copies(struct update_proc *u)
{
	DIR *d = opendir(u->copies);
	struct dirent *de;
	char p[PATH_MAX];

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(p, sizeof(p), "%s/%s", u->copies, de->d_name) >= (int)sizeof(p))
			continue;
		if (!strcmp(p, u->active) || !strcmp(p, u->prev))
			continue;
		archive__remove_tree(p);
	}
	closedir(d);
}

/* ---- messages ---- */

static void on_checked(struct update_proc *u, char *args)
{
	char ring[ROLLOUT_MAX_NAME + 2], rv[24], cv[24];
	struct rw_event *ev;
	int64_t repo_v, chosen = 0;
	int off = 0;

	if (sscanf(args, "%23s %129s %23s %n", rv, ring, cv, &off) != 3 || !off ||
	    !parse_version(rv, &repo_v) || (strcmp(cv, "0") && !parse_version(cv, &chosen)) ||
	    (strcmp(ring, "-") && !valid_name(ring, ROLLOUT_MAX_NAME))) {
		sensor__count(u->s, RW_C_UPDATE_MSG_IGNORED, 1);
		return;
	}
	snprintf(u->ring, sizeof(u->ring), "%s", strcmp(ring, "-") ? ring : "");
	ev = rec_begin(u, "update-checked", "info", true);
	rw_event__set_int(ev, RW_F_RW_UPDATE_REPO_VERSION, repo_v);
	if (chosen)
		rw_event__set_int(ev, RW_F_RW_UPDATE_VERSION, chosen);
	rw_event__set_cstr(ev, RW_F_EVENT_REASON, args + off);
	sensor__write(u->s, ev);
}

static void on_stage(struct update_proc *u, char *args)
{
	char name[BUNDLE_MAX_NAME + 2], vs[24], dir[PATH_MAX], want[PATH_MAX], leaf[200], copy[PATH_MAX];
	struct rw_event *ev;
	int64_t version;
	int off = 0, err;

	if (sscanf(args, "%129s %23s %4095s%n", name, vs, dir, &off) != 3 || args[off] ||
	    !valid_name(name, BUNDLE_MAX_NAME) || !parse_version(vs, &version)) {
		sensor__count(u->s, RW_C_UPDATE_MSG_IGNORED, 1);
		return;
	}
	snprintf(leaf, sizeof(leaf), "%s-%" PRId64, name, version);
	snprintf(want, sizeof(want), "%s/staged/%s", u->state, leaf);
	if (strcmp(dir, want)) {
		rec_failed(u, "the updater staged %s in %s, not in %s: refused", leaf, dir, want);
		return;
	}
	err = copy_staged(u, leaf, copy, sizeof(copy));
	if (err) {
		rec_failed(u, "%s: the copy of the staged bundle failed (%s): not activated", dir,
			   err == -EFBIG ? "more bytes or files than the cap" :
			   err == -EINVAL ? "a link or special file" : strerror(-err));
		return;
	}
	ev = rec_begin(u, "update-staged", "change", true);
	rw_event__set_cstr(ev, RW_F_RW_UPDATE_BUNDLE, name);
	rw_event__set_int(ev, RW_F_RW_UPDATE_VERSION, version);
	rw_event__set_cstr(ev, RW_F_RW_UPDATE_DIR, copy);
	{
		char why[BUNDLE_MAX_NAME + 128];

		snprintf(why, sizeof(why), "%s version %" PRId64 " verified and staged: activating",
			 name, version);
		rw_event__set_cstr(ev, RW_F_EVENT_REASON, why);
	}
	sensor__write(u->s, ev);
	snprintf(u->prev, sizeof(u->prev), "%s", u->active);
	snprintf(u->active, sizeof(u->active), "%s", copy);
	if (u->h.activate)
		u->h.activate(u->h.ctx, copy, name, version);
	prune_copies(u);
}

static void on_revoke(struct update_proc *u, char *args)
{
	char name[BUNDLE_MAX_NAME + 2], vs[24];
	struct rw_event *ev;
	int64_t version;
	int off = 0;
	bool here;

	if (sscanf(args, "%129s %23s %n", name, vs, &off) != 2 || !off || !args[off] ||
	    !valid_name(name, BUNDLE_MAX_NAME) || !parse_version(vs, &version)) {
		sensor__count(u->s, RW_C_UPDATE_MSG_IGNORED, 1);
		return;
	}
	/* only what runs here can be revoked here */
	here = !u->have_run || (!strcmp(u->run_name, name) && u->run_version == version);
	ev = rec_begin(u, "update-revoked", "change", here);
	rw_event__set_cstr(ev, RW_F_RW_UPDATE_BUNDLE, name);
	rw_event__set_int(ev, RW_F_RW_UPDATE_VERSION, version);
	if (here) {
		rw_event__set_cstr(ev, RW_F_EVENT_REASON, args + off);
	} else {
		char why[UPD_LINE_MAX + 200];

		snprintf(why, sizeof(why), "%s; not running here (%s %" PRId64 " runs): nothing "
			 "to do", args + off, u->run_name[0] ? u->run_name : "no bundle",
			 u->run_version);
		rw_event__set_cstr(ev, RW_F_EVENT_REASON, why);
	}
	sensor__write(u->s, ev);
	if (here && u->h.revoke)
		u->h.revoke(u->h.ctx, name, version, args + off);
}

/* Record budget: a flood of messages (a broken or hostile updater) must
 * not flood the output. */
static bool within_budget(struct update_proc *u)
{
	uint64_t now = rw_clock_ns(CLOCK_MONOTONIC);

	if (now - u->window_start_ns >= 60000000000ULL) {
		u->window_start_ns = now;
		u->window_n = 0;
	}
	return ++u->window_n <= UPD_RECORDS_PER_MIN;
}

/* "N ID..." : the rule ids the kill switch disables fleet-wide. */
static void on_kill_rules(struct update_proc *u, char *args)
{
	const char *ids[256];
	char *save = NULL, *tok, why[512];
	struct rw_event *ev;
	size_t n = 0, used;
	long want = strtol(args, &tok, 10);

	if (tok == args || want < 0 || want > 256) {
		sensor__count(u->s, RW_C_UPDATE_MSG_IGNORED, 1);
		return;
	}
	for (tok = strtok_r(tok, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		if (n == 256 || !valid_name(tok, 64)) {
			sensor__count(u->s, RW_C_UPDATE_MSG_IGNORED, 1);
			return;
		}
		ids[n++] = tok;
	}
	if ((long)n != want) {
		sensor__count(u->s, RW_C_UPDATE_MSG_IGNORED, 1);
		return;
	}
	ev = rec_begin(u, "update-kill-switch", "change", true);
	used = (size_t)snprintf(why, sizeof(why), n ? "the kill switch disables %zu rule(s) "
				"fleet-wide:" : "the kill switch disables no rule", n);
	for (size_t i = 0; i < n; i++) {
		rw_event__add_strv(ev, RW_F_RW_CONTENT_KILLED, ids[i], strlen(ids[i]));
		if (used < sizeof(why))
			used += (size_t)snprintf(why + used, sizeof(why) - used, " %s", ids[i]);
	}
	ev->strv_open = -1;
	rw_event__set_cstr(ev, RW_F_EVENT_REASON, why);
	sensor__write(u->s, ev);
	if (u->h.kill_rules)
		u->h.kill_rules(u->h.ctx, ids, n);
}

static void on_line(struct update_proc *u, char *line)
{
	char *args = strchr(line, ' ');
	uint64_t now = rw_clock_ns(CLOCK_MONOTONIC);

	for (char *p = line; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			sensor__count(u->s, RW_C_UPDATE_MSG_IGNORED, 1);
			return;
		}
	if (!args) {
		sensor__count(u->s, RW_C_UPDATE_MSG_IGNORED, 1);
		return;
	}
	*args++ = 0;
	if (!strcmp(line, "checked") || !strcmp(line, "failed")) {
		/* a poll that says what the one before said is not news */
		args[-1] = ' ';
		if (!strcmp(line, u->last_msg) && now - u->last_msg_ns < UPD_REPEAT_NS)
			return;
		snprintf(u->last_msg, sizeof(u->last_msg), "%s", line);
		u->last_msg_ns = now;
		args[-1] = 0;
	}
	if (!within_budget(u)) {
		sensor__count(u->s, RW_C_UPDATE_MSG_IGNORED, 1);
		return;
	}
	if (!strcmp(line, "checked"))
		on_checked(u, args);
	else if (!strcmp(line, "failed") && *args)
		rec_failed(u, "%s", args);
	else if (!strcmp(line, "stage"))
		on_stage(u, args);
	else if (!strcmp(line, "revoke"))
		on_revoke(u, args);
	else if (!strcmp(line, "kill-rules"))
		on_kill_rules(u, args);
	else if (!strcmp(line, "sandbox") && *args) {
		/* once per updater start: what confines it */
		struct rw_event *ev = rec_begin(u, "updater-sandbox", "info", true);

		rw_event__set_cstr(ev, RW_F_EVENT_REASON, args);
		sensor__write(u->s, ev);
	}
	else
		sensor__count(u->s, RW_C_UPDATE_MSG_IGNORED, 1);
}

/* ---- the process ---- */

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void describe_exit(int st, char *buf, size_t size)
{
	if (WIFSIGNALED(st))
		snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
	else if (WIFEXITED(st))
		snprintf(buf, size, "exit status %d", WEXITSTATUS(st));
	else
		snprintf(buf, size, "status %d", st);
}

/* The updater is gone (its pipe closed or its pidfd fired): reap it and
 * schedule the next with backoff. */
static void exited(struct update_proc *u)
{
	uint64_t now = rw_clock_ns(CLOCK_MONOTONIC), ran_ms;
	char how[96];
	int st = 0;
	pid_t pid = u->pid;

	if (pid <= 0)
		return;
	if (u->rd >= 0)
		epoll_ctl(u->ep, EPOLL_CTL_DEL, u->rd, NULL);
	if (u->pidfd >= 0)
		epoll_ctl(u->ep, EPOLL_CTL_DEL, u->pidfd, NULL);
	close_fd(&u->rd);
	close_fd(&u->wr);
	close_fd(&u->pidfd);
	kill(pid, SIGKILL);	/* a pipe closed by a process still running */
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	ran_ms = (now - u->started_ns) / 1000000;
	if (ran_ms >= UPD_STABLE_MS || !u->backoff_ms)
		u->backoff_ms = UPD_BACKOFF_MIN_MS;
	else if (u->backoff_ms < UPD_BACKOFF_MAX_MS)
		u->backoff_ms = u->backoff_ms * 2 > UPD_BACKOFF_MAX_MS ? UPD_BACKOFF_MAX_MS :
				u->backoff_ms * 2;
	u->restart_at_ns = now + (uint64_t)u->backoff_ms * 1000000ULL;
	describe_exit(st, how, sizeof(how));
	rec_failed(u, "the updater process %d exited (%s) after %" PRIu64 " ms; restarting in "
		   "%u ms; the running content stays", (int)pid, how, ran_ms, u->backoff_ms);
	u->pid = 0;
	u->in_len = 0;
	u->in_skip = false;
	u->last_msg[0] = 0;	/* the next one's first check is news */
}

static void read_updater(struct update_proc *u)
{
	size_t total = 0;

	while (u->rd >= 0 && total < UPD_READ_MAX) {
		ssize_t n = read(u->rd, u->in + u->in_len, sizeof(u->in) - 1 - u->in_len);
		char *start, *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return;	/* EAGAIN: all read */
		if (n == 0) {
			exited(u);
			return;
		}
		total += (size_t)n;
		u->in_len += (size_t)n;
		u->in[u->in_len] = 0;
		start = u->in;
		while ((nl = memchr(start, '\n', u->in_len - (size_t)(start - u->in)))) {
			*nl = 0;
			if (u->in_skip)
				sensor__count(u->s, RW_C_UPDATE_MSG_IGNORED, 1);
			else
				on_line(u, start);
			u->in_skip = false;
			start = nl + 1;
		}
		u->in_len -= (size_t)(start - u->in);
		memmove(u->in, start, u->in_len);
		if (u->in_len == sizeof(u->in) - 1) {
			u->in_skip = true;	/* longer than any message: dropped */
			u->in_len = 0;
		}
	}
}

static void on_ep(struct sensor *s, int fd, uint32_t events, void *ctx)
{
	struct update_proc *u = ctx;
	struct epoll_event ev[4];
	bool pid_fired = false;
	int n = epoll_wait(u->ep, ev, 4, 0);

	(void)s;
	(void)fd;
	(void)events;
	/* messages first: what it said before it died still counts */
	for (int i = 0; i < n; i++)
		if (ev[i].data.u32 == TAG_PIPE)
			read_updater(u);
		else if (ev[i].data.u32 == TAG_PID)
			pid_fired = true;
	if (pid_fired && u->pid > 0) {
		read_updater(u);
		if (u->pid > 0)
			exited(u);
	}
}

/* The updater's environment: what libcurl honours for proxies and CA
 * locations, and sanitizer options for test builds; nothing else. */
static char **make_env(void)
{
	static const char *const keep[] = {
		"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
		"no_proxy", "NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE",
		"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", NULL
	};
	size_t n = 0;
	char **env = calloc(sizeof(keep) / sizeof(keep[0]) + 2, sizeof(char *));

	if (!env)
		return NULL;
	env[n++] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	for (size_t i = 0; keep[i]; i++) {
		char *v = NULL;

		for (char **e = environ; *e; e++)
			if (!strncmp(*e, keep[i], strlen(keep[i])) && (*e)[strlen(keep[i])] == '=')
				v = *e;
		if (v)
			env[n++] = v;
	}
	return env;
}

/* In the child, between fork and exec: only system calls. */
static void child_exec(struct update_proc *u, int in_r, int out_w, int root_fd, int ca_fd,
		       pid_t parent, char **argv, char **env)
{
	sigset_t none;
	int nul;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	/* its own process group: a Ctrl-C meant for the sensor stops the
	 * sensor, which stops the updater */
	setpgid(0, 0);
	if (dup2(in_r, FD_IN) < 0 || dup2(out_w, FD_OUT) < 0 || dup2(root_fd, FD_ROOT) < 0 ||
	    (ca_fd >= 0 && dup2(ca_fd, FD_CA) < 0) || dup2(u->exe_fd, FD_EXE) < 0)
		_exit(126);
	if (ca_fd < 0)
		close(FD_CA);
	fcntl(FD_EXE, F_SETFD, FD_CLOEXEC);
	if (syscall(SYS_close_range, FD_EXE + 1, ~0U, 0) < 0)
		for (int fd = FD_EXE + 1; fd < 1024; fd++)
			close(fd);
	nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nul < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0)
		_exit(126);
	close(nul);
	/* STATE's parent (0700 root) is not the updater's to search: it works
	 * in STATE by relative paths from here */
	if (chdir(u->state))
		_exit(126);
	/* no capability survives the uid change; nothing regains one */
	if (setgroups(0, NULL) || setresgid(UPD_UID, UPD_UID, UPD_UID) ||
	    setresuid(UPD_UID, UPD_UID, UPD_UID))
		_exit(126);
	/* after the uid change, which clears the parent-death signal */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0))
		_exit(126);
	if (getppid() != parent)
		_exit(0);	/* the core died before the line above */
	fexecve(FD_EXE, argv, env);
	_exit(127);
}

static int high_fd(int fd)
{
	int n;

	if (fd < 0)
		return fd;
	n = fcntl(fd, F_DUPFD_CLOEXEC, 10);
	close(fd);
	return n;
}

static int spawn(struct update_proc *u)
{
	char a_int[16], a_to[16], a_max[24], a_in[8], a_out[8], a_root[8], a_ca[8];
	char *argv[32], **env = NULL;
	int p_in[2] = { -1, -1 }, p_out[2] = { -1, -1 }, root_fd = -1, ca_fd = -1, argc = 0;
	int err = 0;
	pid_t pid, self = getpid();

	u->restart_at_ns = 0;
	root_fd = high_fd(open(u->root, O_RDONLY | O_NOCTTY | O_CLOEXEC));
	if (root_fd < 0) {
		err = -errno;
		rec_failed(u, "%s (--update-root): %s; the updater is not started", u->root,
			   strerror(errno));
		goto cleanup;
	}
	if (u->ca) {
		ca_fd = high_fd(open(u->ca, O_RDONLY | O_NOCTTY | O_CLOEXEC));
		if (ca_fd < 0) {
			err = -errno;
			rec_failed(u, "%s (--update-ca): %s; the updater is not started", u->ca,
				   strerror(errno));
			goto cleanup;
		}
	}
	if (pipe2(p_in, O_CLOEXEC) || pipe2(p_out, O_CLOEXEC)) {
		err = -errno;
		goto cleanup;
	}
	/* above 3..7, so that moving one into place never overwrites another */
	for (int i = 0; i < 2; i++) {
		p_in[i] = high_fd(p_in[i]);
		p_out[i] = high_fd(p_out[i]);
	}
	env = make_env();
	if (p_in[0] < 0 || p_in[1] < 0 || p_out[0] < 0 || p_out[1] < 0 || !env) {
		err = -EMFILE;
		goto cleanup;
	}
	snprintf(a_int, sizeof(a_int), "%u", u->interval_s);
	snprintf(a_to, sizeof(a_to), "%u", u->timeout_s);
	snprintf(a_max, sizeof(a_max), "%" PRIu64, u->max_bytes);
	snprintf(a_in, sizeof(a_in), "%d", FD_IN);
	snprintf(a_out, sizeof(a_out), "%d", FD_OUT);
	snprintf(a_root, sizeof(a_root), "%d", FD_ROOT);
	snprintf(a_ca, sizeof(a_ca), "%d", FD_CA);
	argv[argc++] = "ringward";
	argv[argc++] = "updater";
	argv[argc++] = "--url";
	argv[argc++] = u->url;
	argv[argc++] = "--state";
	argv[argc++] = u->state;
	argv[argc++] = "--host-id";
	argv[argc++] = u->host_id;
	argv[argc++] = "--in-fd";
	argv[argc++] = a_in;
	argv[argc++] = "--out-fd";
	argv[argc++] = a_out;
	argv[argc++] = "--root-fd";
	argv[argc++] = a_root;
	if (ca_fd >= 0) {
		argv[argc++] = "--ca-fd";
		argv[argc++] = a_ca;
	}
	if (u->group) {
		argv[argc++] = "--group";
		argv[argc++] = u->group;
	}
	argv[argc++] = "--interval";
	argv[argc++] = a_int;
	argv[argc++] = "--timeout";
	argv[argc++] = a_to;
	argv[argc++] = "--max-bytes";
	argv[argc++] = a_max;
	argv[argc] = NULL;

	pid = fork();
	if (pid < 0) {
		err = -errno;
		goto cleanup;
	}
	if (pid == 0)
		child_exec(u, p_in[0], p_out[1], root_fd, ca_fd, self, argv, env);

	u->pid = pid;
	u->wr = p_in[1];
	u->rd = p_out[0];
	p_in[1] = p_out[0] = -1;
	fcntl(u->rd, F_SETFL, O_NONBLOCK);
	fcntl(u->wr, F_SETFL, O_NONBLOCK);
	u->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	{
		struct epoll_event ee = { .events = EPOLLIN };

		ee.data.u32 = TAG_PIPE;
		epoll_ctl(u->ep, EPOLL_CTL_ADD, u->rd, &ee);
		if (u->pidfd >= 0) {
			ee.data.u32 = TAG_PID;
			epoll_ctl(u->ep, EPOLL_CTL_ADD, u->pidfd, &ee);
		}
	}
	{
		/* under memory pressure the updater goes first: it can wait */
		char path[64];
		int fd;

		snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", (int)pid);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (write(fd, "1000", 4) < 0) {
				/* not fatal */
			}
			close(fd);
		}
	}
	u->started_ns = rw_clock_ns(CLOCK_MONOTONIC);
	u->starts++;
	sensor__count(u->s, RW_C_UPDATE_STARTS, 1);
	/* before it polls: what runs, what rolled back */
	tell_state(u);
cleanup:
	close_fd(&root_fd);
	close_fd(&ca_fd);
	close_fd(&p_in[0]);
	close_fd(&p_in[1]);
	close_fd(&p_out[0]);
	close_fd(&p_out[1]);
	free(env);
	if (err && !u->pid) {
		if (!u->backoff_ms)
			u->backoff_ms = UPD_BACKOFF_MIN_MS;
		else if (u->backoff_ms < UPD_BACKOFF_MAX_MS)
			u->backoff_ms *= 2;
		u->restart_at_ns = rw_clock_ns(CLOCK_MONOTONIC) + (uint64_t)u->backoff_ms * 1000000ULL;
	}
	return err;
}

static void on_tick(struct sensor *s, void *ctx)
{
	struct update_proc *u = ctx;

	(void)s;
	if (!u->pid && u->restart_at_ns && rw_clock_ns(CLOCK_MONOTONIC) >= u->restart_at_ns)
		spawn(u);
}

/* mkdir -p, each new directory with mode */
static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

/* STATE: a real directory (not a link), the updater's, 0700. */
static int make_state(const char *dir)
{
	struct stat st;
	int err = mkdir_p(dir, 0700), fd;

	if (err)
		return err;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || fchown(fd, UPD_UID, UPD_UID) || fchmod(fd, 0700))
		err = -errno;
	close(fd);
	return err;
}

static void free_opts(struct update_proc *u)
{
	free(u->url);
	free(u->root);
	free(u->state);
	free(u->host_id);
	free(u->group);
	free(u->ca);
}

struct update_proc *update_proc__start(struct sensor *s, const struct update_opts *o,
				       const struct update_host *h)
{
	struct update_proc *u;
	int err = 0, fd;

	if (!o->url || !o->root || !o->state_dir || !o->host_id || !o->host_id[0] ||
	    (strncmp(o->url, "http://", 7) && strncmp(o->url, "https://", 8)) ||
	    (o->group && !valid_name(o->group, ROLLOUT_MAX_NAME))) {
		errno = EINVAL;
		return NULL;
	}
	u = calloc(1, sizeof(*u));
	if (!u) {
		errno = ENOMEM;
		return NULL;
	}
	u->s = s;
	u->h = *h;
	u->ep = u->exe_fd = u->pidfd = u->rd = u->wr = -1;
	u->url = strdup(o->url);
	u->root = strdup(o->root);
	u->state = strdup(o->state_dir);
	u->host_id = strdup(o->host_id);
	u->group = o->group ? strdup(o->group) : NULL;
	u->ca = o->ca_file ? strdup(o->ca_file) : NULL;
	u->rec = rw_event__new();
	if (!u->url || !u->root || !u->state || !u->host_id || (o->group && !u->group) ||
	    (o->ca_file && !u->ca) || !u->rec) {
		err = -ENOMEM;
		goto fail;
	}
	u->interval_s = o->interval_s ? o->interval_s : UPD_DEFAULT_INTERVAL;
	u->timeout_s = o->timeout_s ? o->timeout_s : UPD_DEFAULT_TIMEOUT;
	u->max_bytes = o->max_bytes ? o->max_bytes : UPD_DEFAULT_MAX;
	if (u->max_bytes > (uint64_t)TUF_MAX_TARGET_LEN)
		u->max_bytes = (uint64_t)TUF_MAX_TARGET_LEN;
	/* what the operator named must be readable now: a typo is an error
	 * at start, not a failure record a poll later */
	for (int i = 0; i < 2; i++) {
		const char *path = i ? u->ca : u->root;

		if (!path)
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			err = -errno;
			goto fail;
		}
		close(fd);
	}
	if (snprintf(u->copies, sizeof(u->copies), "%s.content", u->state) >=
	    (int)sizeof(u->copies)) {
		err = -ENAMETOOLONG;
		goto fail;
	}
	err = make_state(u->state);
	if (!err)
		err = mkdir_p(u->copies, 0700);
	if (err)
		goto fail;
	u->exe_fd = high_fd(open("/proc/self/exe", O_PATH | O_CLOEXEC));
	u->ep = epoll_create1(EPOLL_CLOEXEC);
	if (u->exe_fd < 0 || u->ep < 0) {
		err = -errno;
		goto fail;
	}
	err = sensor__watch_fd(s, u->ep, on_ep, u);
	if (!err)
		err = sensor__on_tick(s, on_tick, u);
	if (err)
		goto fail;
	spawn(u);	/* a failure is recorded, and retried with backoff */
	return u;
fail:
	if (u->ep >= 0)
		sensor__forget(s, u);
	close_fd(&u->ep);
	close_fd(&u->exe_fd);
	free(u->rec);
	free_opts(u);
	free(u);
	errno = -err;
	return NULL;
}

void update_proc__stop(struct update_proc *u)
{
	struct timespec ts = { 0, 5000000 };

	if (!u)
		return;
	sensor__forget(u->s, u);
	/* EOF on its input: it stops by itself; else it is killed */
	close_fd(&u->wr);
	close_fd(&u->rd);
	for (int i = 0; u->pid > 0 && i < 100; i++) {
		if (waitpid(u->pid, NULL, WNOHANG) == u->pid) {
			u->pid = 0;
			break;
		}
		nanosleep(&ts, NULL);
	}
	if (u->pid > 0) {
		kill(u->pid, SIGKILL);
		waitpid(u->pid, NULL, 0);
	}
	close_fd(&u->pidfd);
	close_fd(&u->ep);
	close_fd(&u->exe_fd);
	free(u->rec);
	free_opts(u);
	free(u);
}

void update_proc__running(struct update_proc *u, const char *name, int64_t version)
{
	if (!u)
		return;
	u->have_run = true;
	if (!name || !valid_name(name, BUNDLE_MAX_NAME) || version < 1) {
		u->run_name[0] = 0;
		u->run_version = 0;
	} else {
		snprintf(u->run_name, sizeof(u->run_name), "%s", name);
		u->run_version = version;
	}
	tell(u, "running %s %" PRId64 "\n", u->run_name[0] ? u->run_name : "-", u->run_version);
}

void update_proc__rolled_back(struct update_proc *u, const char *name, int64_t version)
{
	if (!u || !name || !valid_name(name, BUNDLE_MAX_NAME) || version < 1)
		return;
	for (size_t i = 0; i < u->n_rolled; i++)
		if (u->rolled[i].version == version && !strcmp(u->rolled[i].name, name))
			goto tell;
	if (u->n_rolled == UPD_MAX_ROLLED) {
		memmove(u->rolled, u->rolled + 1, sizeof(u->rolled[0]) * (UPD_MAX_ROLLED - 1));
		u->n_rolled--;
	}
	snprintf(u->rolled[u->n_rolled].name, sizeof(u->rolled[0].name), "%s", name);
	u->rolled[u->n_rolled++].version = version;
tell:
	tell(u, "rolled-back %s %" PRId64 "\n", name, version);
}

const char *update_proc__ring(const struct update_proc *u)
{
	return u ? u->ring : "";
}
