/*
 * The supervisor (see supervisor.h): runs the engine process, feeds it,
 * watches it, restarts it, keeps count per content version, rolls content
 * back, and remembers it all on disk.
 */
#include "core/supervisor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "core/shm_ring.h"

extern char **environ;

#define STATE_FILE	"supervisor.state"
#define STATE_LOCK	".supervisor.lock"
#define STATE_MAGIC	"ringward-supervisor-state 1"
#define STORE_SUBDIR	"content"
#define MAX_STARTS	64
#define MAX_VERSIONS	32
#define MAX_BAD		64
#define MAX_GENS	32	/* generations remembered (gen -> content) */
#define MAX_FAILS	8	/* failures kept for the status */
#define HASH_MAX_BYTES	(1ULL << 30)
#define HASH_MAX_DEPTH	16
#define FD_CTL		3	/* the engine's fds */
#define FD_RING		4
#define FD_WAKE		5
#define FD_REPLY	6

/* ---- the state file ---- */

struct sf_start {
	pid_t pid;
	unsigned long long starttime;	/* /proc/<pid>/stat field 22 */
	long long at;
};

struct sf_version {
	char id[SV_ID_LEN];
	long long activated;		/* unix seconds */
	unsigned failures;		/* since activated, within the window */
	char label[ENGINE_LABEL];
};

struct sf_bad {
	char id[SV_ID_LEN];
	long long at;
	char cause[32];
	char rule_id[40];
	char label[ENGINE_LABEL];
	char rule_name[88];
};

struct sv_file {
	struct sf_start starts[MAX_STARTS];
	int n_starts;
	struct sf_version ver[MAX_VERSIONS];
	int n_ver;
	struct sf_bad bad[MAX_BAD];
	int n_bad;
	char lkg_id[SV_ID_LEN];
	char lkg_label[ENGINE_LABEL];
};

/* ---- the supervisor ---- */

struct gen {
	uint64_t gen;
	int which;		/* ENGINE_CONTENT_* */
	bool reload;		/* a reload (else an engine start) */
	char id[SV_ID_LEN];
};

struct failure {
	long long at;		/* unix seconds */
	char cause[32];
	char signal[16];
	int exit_code;		/* -1: killed by a signal */
	char phase[16];
	char rule_id[40];
	char rule_name[88];
	char version[SV_ID_LEN];
};

enum sv_state { SV_OFF, SV_RUNNING, SV_BACKOFF };

struct supervisor {
	struct supervisor_opts o;
	struct supervisor_host host;
	char state_dir[PATH_MAX];
	char store_dir[PATH_MAX];
	char exe_path[64];		/* /proc/<core>/fd/<exe_fd> */
	int exe_fd, wake_fd;
	int reply_fd;			/* the engine says a verdict is in */
	pid_t self;
	struct engine_shm m;
	struct sv_file f;		/* the state file, as last read or written */

	enum sv_state state;
	char off_reason[256];
	pid_t pid;			/* the engine, 0 when none */
	pid_t last_pid;			/* the engine whose records are in the ring */
	int pidfd, statm_fd;
	uint64_t started_ns, restart_at_ns, last_hb, last_hb_ns;
	unsigned backoff_ms;
	const char *kill_cause;		/* we killed it: "hang", "memory", "protocol" */
	bool stopping, pending_wake, reload_pending;
	uint64_t starts, restarts;

	/* content */
	struct gen gens[MAX_GENS];
	uint64_t next_gen;
	uint64_t start_gen;		/* the generation the engine started with */
	uint64_t seen_done_gen;		/* load results already acted on */
	char configured_id[SV_ID_LEN];
	char active_id[SV_ID_LEN];	/* "" when no set is running */
	char active_label[ENGINE_LABEL];
	int active_which;
	uint64_t activated_ns;
	char refused_id[SV_ID_LEN];	/* last bad version refused (said once) */
	uint64_t lkg_seq, lkg_inflight;
	char lkg_failed_id[SV_ID_LEN];
	/* of the running set, as its content-loaded record said */
	char signing[256];		/* "signed by ...", or why not */
	int64_t expires;		/* unix seconds; 0: none */
	char expiring[ENGINE_LABEL];	/* the bundle that expires first */
	int64_t expired_said;		/* expiry already alerted (with expiring) */
	char expired_said_label[ENGINE_LABEL];
	uint64_t next_expiry_check_ns;

	/* failures */
	struct failure fails[MAX_FAILS];
	unsigned n_fails;		/* total; fails[] holds the last MAX_FAILS */
	uint64_t last_fail_pos;
	unsigned same_pos;

	/* alerts */
	uint8_t *rbuf;			/* one record copied out of the alert ring */
	size_t rbuf_len;
	struct rw_event *ev, *rec;
	uint64_t last_alert_pos;
	uint32_t last_alert_rule;
	char last_alert_version[SV_ID_LEN];
	bool any_alert;

	/* at activation of the running set: the baselines of its health */
	uint64_t act_restarts, act_events, act_eval_ns, act_rule_errors;
	int64_t act_real_ns;

	/* block rules of the running set, as its engine published them */
	uint32_t block_flags;
	uint64_t block_gen;

	/* counters: ours, and the engines' (those gone by in base) */
	uint64_t c[RW_C__COUNT];
	uint64_t st_base[ES__COUNT];
};

static void copy_str(char *dst, size_t size, const char *s)
{
	size_t n = s ? strnlen(s, size - 1) : 0;

	if (n)
		memcpy(dst, s, n);
	dst[n] = 0;
}

/* Text for the state file: control bytes (a newline would start a line of
 * the engine's choosing) become '?'. */
static void sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/* A token for the state file: no whitespace, "-" when empty. */
static void token(char *dst, size_t size, const char *s)
{
	copy_str(dst, size, s && *s ? s : "-");
	sanitize(dst);
	for (char *p = dst; *p; p++)
		if (*p == ' ' || *p == '?')
			*p = '_';
}

static const char *untoken(const char *s)
{
	return strcmp(s, "-") ? s : "";
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];

	copy_str(buf, sizeof(buf), path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Lock the state directory, waiting at most max_ms. -1 when not locked
 * (we go on without: boot never blocks). */
static int state_lock(const char *dir, unsigned max_ms)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/" STATE_LOCK, dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	for (unsigned waited = 0;; waited += 10) {
		struct timespec ts = { 0, 10000000 };

		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		if (errno != EWOULDBLOCK || waited >= max_ms)
			break;
		nanosleep(&ts, NULL);
	}
	close(fd);
	return -1;
}

static void state_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* Read the state file into f (empty when missing or unreadable). */
static void state_read(const char *dir, struct sv_file *f)
{
	char path[PATH_MAX], line[1024];
	FILE *in;

	memset(f, 0, sizeof(*f));
	snprintf(path, sizeof(path), "%s/" STATE_FILE, dir);
	in = fopen(path, "re");
	if (!in)
		return;
	if (!fgets(line, sizeof(line), in) || strncmp(line, STATE_MAGIC, strlen(STATE_MAGIC))) {
		fclose(in);
		return;
	}
	while (fgets(line, sizeof(line), in)) {
		char a[SV_ID_LEN], b[128], c[64], d[ENGINE_LABEL], e[96];
		long long t;
		unsigned long long st;
		unsigned u;
		int pid;

		line[strcspn(line, "\n")] = 0;
		e[0] = 0;
		if (sscanf(line, "start %d %llu %lld", &pid, &st, &t) == 3 &&
		    f->n_starts < MAX_STARTS) {
			f->starts[f->n_starts++] = (struct sf_start){ pid, st, t };
		} else if (sscanf(line, "version %71s %lld %u %127s", a, &t, &u, d) == 4 &&
			   f->n_ver < MAX_VERSIONS) {
			struct sf_version *v = &f->ver[f->n_ver++];

			copy_str(v->id, sizeof(v->id), a);
			v->activated = t;
			v->failures = u;
			copy_str(v->label, sizeof(v->label), untoken(d));
		} else if (sscanf(line, "bad %71s %lld %63s %127s %127s %95[^\n]", a, &t, c, b, d,
				  e) >= 5 && f->n_bad < MAX_BAD) {
			struct sf_bad *x = &f->bad[f->n_bad++];

			copy_str(x->id, sizeof(x->id), a);
			x->at = t;
			copy_str(x->cause, sizeof(x->cause), c);
			copy_str(x->rule_id, sizeof(x->rule_id), untoken(b));
			copy_str(x->label, sizeof(x->label), untoken(d));
			copy_str(x->rule_name, sizeof(x->rule_name), e);
		} else if (sscanf(line, "lkg %71s %127s", a, d) == 2) {
			copy_str(f->lkg_id, sizeof(f->lkg_id), untoken(a));
			copy_str(f->lkg_label, sizeof(f->lkg_label), untoken(d));
		}
	}
	fclose(in);
}

/* Write f atomically: temporary file, fsync, rename, directory fsync. */
static int state_write(const char *dir, const struct sv_file *f)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	FILE *out;
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/" STATE_FILE, dir);
	snprintf(tmp, sizeof(tmp), "%s/." STATE_FILE ".XXXXXX", dir);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	out = fdopen(fd, "w");
	if (!out) {
		err = -errno;
		close(fd);
		unlink(tmp);
		return err;
	}
	fprintf(out, STATE_MAGIC "\n# written by the ringward sensor; do not edit\n");
	for (int i = 0; i < f->n_starts; i++)
		fprintf(out, "start %d %llu %lld\n", (int)f->starts[i].pid,
			f->starts[i].starttime, f->starts[i].at);
	for (int i = 0; i < f->n_ver; i++) {
		char l[ENGINE_LABEL];

		token(l, sizeof(l), f->ver[i].label);
		fprintf(out, "version %s %lld %u %s\n", f->ver[i].id, f->ver[i].activated,
			f->ver[i].failures, l);
	}
	for (int i = 0; i < f->n_bad; i++) {
		const struct sf_bad *x = &f->bad[i];
		char r[40], l[ENGINE_LABEL], c[32];

		char n[sizeof(x->rule_name)];

		token(r, sizeof(r), x->rule_id);
		token(l, sizeof(l), x->label);
		token(c, sizeof(c), x->cause);
		copy_str(n, sizeof(n), x->rule_name);
		sanitize(n);
		fprintf(out, "bad %s %lld %s %s %s %s\n", x->id, x->at, c, r, l, n);
	}
	if (f->lkg_id[0]) {
		char l[ENGINE_LABEL];

		token(l, sizeof(l), f->lkg_label);
		fprintf(out, "lkg %s %s\n", f->lkg_id, l);
	}
	if (fflush(out) || fsync(fd))
		err = -errno;
	if (fclose(out) && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err) {
		unlink(tmp);
		return err;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return 0;
}

static struct sf_version *version_find(struct sv_file *f, const char *id)
{
	for (int i = 0; i < f->n_ver; i++)
		if (!strcmp(f->ver[i].id, id))
			return &f->ver[i];
	return NULL;
}

/* Find or make the entry of id (the oldest activation makes room). */
static struct sf_version *version_get(struct sv_file *f, const char *id)
{
	struct sf_version *v = version_find(f, id);

	if (v)
		return v;
	if (f->n_ver == MAX_VERSIONS) {
		int oldest = 0;

		for (int i = 1; i < f->n_ver; i++)
			if (f->ver[i].activated < f->ver[oldest].activated)
				oldest = i;
		f->ver[oldest] = f->ver[--f->n_ver];
	}
	v = &f->ver[f->n_ver++];
	memset(v, 0, sizeof(*v));
	copy_str(v->id, sizeof(v->id), id);
	return v;
}

static const struct sf_bad *bad_find(const struct sv_file *f, const char *id)
{
	for (int i = 0; i < f->n_bad; i++)
		if (!strcmp(f->bad[i].id, id))
			return &f->bad[i];
	return NULL;
}

/* ---- content versions ---- */

static void hash_bytes(crypto_hash_sha256_state *h, const void *p, size_t n, uint64_t *total)
{
	crypto_hash_sha256_update(h, p, n);
	*total += n;
}

static void hash_file(crypto_hash_sha256_state *h, const char *path, uint64_t *total)
{
	char buf[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0) {
		hash_bytes(h, "\0unreadable", 11, total);
		return;
	}
	while (*total < HASH_MAX_BYTES && (n = read(fd, buf, sizeof(buf))) > 0)
		hash_bytes(h, buf, (size_t)n, total);
	close(fd);
}

/* Every entry beneath dir, in name order, with its path relative to the
 * content path. */
static void hash_dir(crypto_hash_sha256_state *h, const char *dir, const char *rel, int depth,
		     uint64_t *total)
{
	struct dirent **ents = NULL;
	int n;

	if (depth > HASH_MAX_DEPTH)
		return;
	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0) {
		hash_bytes(h, "\0unreadable-dir", 15, total);
		return;
	}
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		char path[PATH_MAX], sub[PATH_MAX];
		struct stat st;

		if (strcmp(name, ".") && strcmp(name, "..") &&
		    snprintf(path, sizeof(path), "%s/%s", dir, name) < (int)sizeof(path) &&
		    snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", name) <
			    (int)sizeof(sub) &&
		    lstat(path, &st) == 0) {
			if (S_ISDIR(st.st_mode)) {
				hash_bytes(h, sub, strlen(sub) + 1, total);
				hash_bytes(h, "d", 1, total);
				hash_dir(h, path, sub, depth + 1, total);
			} else if (S_ISREG(st.st_mode)) {
				uint64_t size = (uint64_t)st.st_size;

				hash_bytes(h, sub, strlen(sub) + 1, total);
				hash_bytes(h, "f", 1, total);
				hash_bytes(h, &size, sizeof(size), total);
				hash_file(h, path, total);
			} else if (S_ISLNK(st.st_mode)) {
				char target[PATH_MAX];
				ssize_t t = readlink(path, target, sizeof(target));

				hash_bytes(h, sub, strlen(sub) + 1, total);
				hash_bytes(h, "l", 1, total);
				if (t > 0)
					hash_bytes(h, target, (size_t)t, total);
			}
		}
		free(ents[i]);
	}
	free(ents);
}

int supervisor__content_id(const char *const *paths, int n, const char *placeholders,
			   char out[SV_ID_LEN])
{
	crypto_hash_sha256_state h;
	unsigned char md[crypto_hash_sha256_BYTES];
	uint64_t total = 0;
	struct stat st;

	crypto_hash_sha256_init(&h);
	for (int i = 0; i < n; i++) {
		hash_bytes(&h, "\0path", 5, &total);
		if (stat(paths[i], &st) < 0)
			hash_bytes(&h, "\0missing", 8, &total);
		else if (S_ISDIR(st.st_mode))
			hash_dir(&h, paths[i], "", 0, &total);
		else
			hash_file(&h, paths[i], &total);
	}
	if (placeholders) {
		hash_bytes(&h, "\0placeholders", 13, &total);
		hash_file(&h, placeholders, &total);
	}
	crypto_hash_sha256_final(&h, md);
	strcpy(out, "sha256:");
	sodium_bin2hex(out + 7, SV_ID_LEN - 7, md, sizeof(md));
	return 0;
}

/* ---- boot accounting ---- */

static unsigned long long proc_starttime(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')'))) {
		/* fields after the name: state is 3rd; starttime is 22nd */
		int field = 2;

		for (p++; *p && field < 22; p++)
			if (*p == ' ')
				field++;
		st = strtoull(p, NULL, 10);
	}
	fclose(f);
	return st;
}

static bool start_alive(const struct sf_start *s)
{
	return s->pid > 0 && proc_starttime(s->pid) == s->starttime;
}

int supervisor__boot(const char *state_dir, unsigned safe_after, struct boot_info *out)
{
	struct sv_file *f = calloc(1, sizeof(*f));
	const char *dir = state_dir ? state_dir : SV_STATE_DIR;
	pid_t self = getpid();
	int lock, err;

	memset(out, 0, sizeof(*out));
	if (!f)
		return -ENOMEM;
	err = mkdir_p(dir, 0700);
	if (err) {
		free(f);
		return err;
	}
	lock = state_lock(dir, 1000);
	state_read(dir, f);
	/* an entry whose process still runs is another sensor running now
	 * (tests, or a second instance): not an unclean start */
	for (int i = 0; i < f->n_starts; i++)
		if (!start_alive(&f->starts[i]))
			out->unclean++;
	out->safe_mode = safe_after && out->unclean >= safe_after;
	if (f->n_starts == MAX_STARTS) {
		memmove(f->starts, f->starts + 1, sizeof(f->starts[0]) * (MAX_STARTS - 1));
		f->n_starts--;
	}
	f->starts[f->n_starts++] = (struct sf_start){ self, proc_starttime(self),
						      (long long)time(NULL) };
	err = state_write(dir, f);
	state_unlock(lock);
	free(f);
	return err;
}

void supervisor__boot_clean(const char *state_dir, bool stopping)
{
	struct sv_file *f = calloc(1, sizeof(*f));
	const char *dir = state_dir ? state_dir : SV_STATE_DIR;
	pid_t self = getpid();
	int lock, n = 0;

	if (!f)
		return;
	lock = state_lock(dir, 1000);
	state_read(dir, f);
	/* the streak ends: forget the dead; keep sensors still running, and
	 * ourselves unless we are stopping */
	for (int i = 0; i < f->n_starts; i++) {
		bool me = f->starts[i].pid == self;

		if ((me && !stopping) || (!me && start_alive(&f->starts[i])))
			f->starts[n++] = f->starts[i];
	}
	f->n_starts = n;
	state_write(dir, f);
	state_unlock(lock);
	free(f);
}

/* ---- records ---- */

static struct rw_event *rec_begin(struct supervisor *sv, const char *kind, const char *cat,
				  const char *type, const char *action)
{
	struct rw_event *ev = sv->rec;

	rw_event__reset(ev);
	rw_event__set_time(ev, RW_F_TIMESTAMP, rw_clock_ns(CLOCK_REALTIME));
	rw_event__set_cstr(ev, RW_F_EVENT_KIND, kind);
	rw_event__set_cstr(ev, RW_F_EVENT_CATEGORY, cat);
	rw_event__set_cstr(ev, RW_F_EVENT_TYPE, type);
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, action);
	rw_event__set_cstr(ev, RW_F_EVENT_MODULE, "ringward");
	rw_event__set_int(ev, RW_F_PROC_PID, sv->self);
	return ev;
}

static void set_version(struct rw_event *ev, const char *id, const char *label)
{
	if (id && *id)
		rw_event__set_cstr(ev, RW_F_RW_CONTENT_VERSION, id);
	if (label && *label)
		rw_event__set_cstr(ev, RW_F_RW_CONTENT_LABEL, label);
}

static const char *which_name(int which)
{
	return which == ENGINE_CONTENT_LKG ? "last-known-good" : "configured";
}

static const char *phase_name(uint32_t p)
{
	static const char *const n[] = { "none", "sandbox", "loading", "running", "saving" };

	return p < sizeof(n) / sizeof(n[0]) ? n[p] : "?";
}

static const char *label_of(struct supervisor *sv, const char *id)
{
	struct sf_version *v;

	if (!strcmp(id, sv->active_id))
		return sv->active_label;
	v = version_find(&sv->f, id);
	return v ? v->label : "";
}

/* ---- generations ---- */

static struct gen *gen_new(struct supervisor *sv, int which, bool reload, const char *id)
{
	struct gen *g = &sv->gens[++sv->next_gen % MAX_GENS];

	g->gen = sv->next_gen;
	g->which = which;
	g->reload = reload;
	copy_str(g->id, sizeof(g->id), id);
	return g;
}

static const struct gen *gen_find(const struct supervisor *sv, uint64_t gen)
{
	const struct gen *g = &sv->gens[gen % MAX_GENS];

	return gen && g->gen == gen ? g : NULL;
}

/* ---- the engine's counters ---- */

static uint64_t st_now(const struct supervisor *sv, enum engine_stat i)
{
	return sv->st_base[i] + atomic_load_explicit(&sv->m.ctl->st[i], memory_order_relaxed);
}

static void st_retire(struct supervisor *sv)
{
	for (int i = 0; i < ES__COUNT; i++) {
		sv->st_base[i] += atomic_load(&sv->m.ctl->st[i]);
		atomic_store(&sv->m.ctl->st[i], 0);
	}
}

/* ---- alerts and records from the engine ---- */

static bool action_is(const struct rw_event *ev, const char *want)
{
	size_t n;
	const char *a = rw_event__str(ev, RW_F_EVENT_ACTION, &n);

	return a && n == strlen(want) && !memcmp(a, want, n);
}

static bool kind_is(const struct rw_event *ev, const char *want)
{
	size_t n;
	const char *k = rw_event__str(ev, RW_F_EVENT_KIND, &n);

	return k && n == strlen(want) && !memcmp(k, want, n);
}

static void take_alert(struct supervisor *sv, const struct wire_hdr *h)
{
	struct rw_event *ev = sv->ev;
	const char *version = sv->active_id;

	size_t alen;
	const char *action;

	/* alerts only, and none in the core's own name (ringward-*) */
	if (wire__decode_event(h, ev, WIRE_NO_RAW) || !kind_is(ev, "alert") ||
	    ((action = rw_event__str(ev, RW_F_EVENT_ACTION, &alen)) && alen >= 9 &&
	     !memcmp(action, "ringward-", 9))) {
		sv->c[RW_C_DROP_ENGINE_RECORD]++;
		return;
	}
	/* an event in flight when an engine died is evaluated again: its
	 * alerts already written (same content, so the same rule order) are
	 * not written twice */
	if (sv->any_alert && !strcmp(version, sv->last_alert_version) &&
	    (h->tag < sv->last_alert_pos ||
	     (h->tag == sv->last_alert_pos && h->tag2 <= sv->last_alert_rule))) {
		sv->c[RW_C_ENGINE_DUP_ALERTS]++;
		return;
	}
	sv->any_alert = true;
	sv->last_alert_pos = h->tag;
	sv->last_alert_rule = h->tag2;
	copy_str(sv->last_alert_version, sizeof(sv->last_alert_version), version);
	sv->c[RW_C_ENGINE_ALERTS]++;
	sv->host.write(sv->host.ctx, ev);
}

/* Signing and expiry of the set that just became the engine's running
 * one (a content-loaded record swaps it in). */
static void note_loaded(struct supervisor *sv, const struct rw_event *ev)
{
	size_t n;
	const char *s = rw_event__str(ev, RW_F_RW_CONTENT_SIGNING, &n);
	int64_t ns = rw_event__int(ev, RW_F_RW_CONTENT_EXPIRES, 0);

	if (n >= sizeof(sv->signing))
		n = sizeof(sv->signing) - 1;
	memcpy(sv->signing, s ? s : "", s ? n : 0);
	sv->signing[s ? n : 0] = 0;
	sv->expires = ns > 0 ? ns / 1000000000LL : 0;
	s = rw_event__str(ev, RW_F_RW_CONTENT_EXPIRING, &n);
	if (n >= sizeof(sv->expiring))
		n = sizeof(sv->expiring) - 1;
	memcpy(sv->expiring, s ? s : "", s ? n : 0);
	sv->expiring[s ? n : 0] = 0;
	sv->next_expiry_check_ns = 0;	/* check on the next tick */
}

/* Stale content keeps running (it is the last-known-good: nothing newer
 * loaded), and says so once per bundle version and expiry. */
static void check_expiry(struct supervisor *sv, uint64_t now)
{
	struct rw_event *ev;
	char reason[512], when[32];
	long long t = (long long)time(NULL);
	struct tm tm;
	time_t tt;

	if (now < sv->next_expiry_check_ns)
		return;
	sv->next_expiry_check_ns = now + 1000000000ULL;
	if (!sv->expires || t < sv->expires ||
	    (sv->expired_said == sv->expires && !strcmp(sv->expired_said_label, sv->expiring)))
		return;
	sv->expired_said = sv->expires;
	copy_str(sv->expired_said_label, sizeof(sv->expired_said_label), sv->expiring);
	tt = (time_t)sv->expires;
	gmtime_r(&tt, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	ev = rec_begin(sv, "alert", "configuration", "info", "ringward-content-expired");
	snprintf(reason, sizeof(reason), "content bundle %s expired at %s; it keeps running as "
		 "the last-known-good content until a newer bundle is installed",
		 sv->expiring, when);
	rw_event__set_cstr(ev, RW_F_EVENT_REASON, reason);
	rw_event__set_int(ev, RW_F_EVENT_SEVERITY, 3);
	rw_event__set_cstr(ev, RW_F_RULE_ID, "ringward-content-expired");
	rw_event__set_cstr(ev, RW_F_RULE_NAME, "ringward-content-expired");
	rw_event__set_cstr(ev, RW_F_RULE_DESCRIPTION,
			   "The running detection content is past the expiry its manifest "
			   "states: no newer content reached this host in time.");
	rw_event__set_cstr(ev, RW_F_RW_RULE_LEVEL, "medium");
	set_version(ev, sv->active_id, sv->active_label);
	rw_event__set_cstr(ev, RW_F_RW_CONTENT_EXPIRING, sv->expiring);
	rw_event__set_time(ev, RW_F_RW_CONTENT_EXPIRES, (uint64_t)sv->expires * 1000000000ULL);
	if (sv->signing[0])
		rw_event__set_cstr(ev, RW_F_RW_CONTENT_SIGNING, sv->signing);
	sv->host.write(sv->host.ctx, ev);
}

static void take_record(struct supervisor *sv, const struct wire_hdr *h)
{
	static const char *const allowed[] = { "content-loaded", "content-load-failed",
					       "content-lkg-saved", "content-lkg-save-failed" };
	struct rw_event *ev = sv->ev;
	const struct gen *g;
	bool ok = false, lkg = h->tag2 == 1;

	if (wire__decode_event(h, ev, WIRE_NO_RAW) || !kind_is(ev, "state")) {
		sv->c[RW_C_DROP_ENGINE_RECORD]++;
		return;
	}
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		ok |= action_is(ev, allowed[i]);
	if (!ok) {
		sv->c[RW_C_DROP_ENGINE_RECORD]++;
		return;
	}
	/* what the core knows is stated by the core */
	rw_event__set_int(ev, RW_F_PROC_PID, sv->last_pid);
	if (lkg) {
		set_version(ev, sv->active_id, NULL);
	} else if ((g = gen_find(sv, h->tag))) {
		rw_event__set_cstr(ev, RW_F_RW_CONTENT_VERSION, g->id);
		rw_event__set_cstr(ev, RW_F_RW_CONTENT_SOURCE, which_name(g->which));
		if (action_is(ev, "content-load-failed")) {
			sv->c[RW_C_CONTENT_LOAD_FAILURES]++;
			if (g->reload)
				sv->c[RW_C_CONTENT_RELOAD_FAILURES]++;
		}
		if (g->reload)
			sv->c[RW_C_CONTENT_RELOADS]++;
	}
	if (sv->f.lkg_id[0])
		rw_event__set_cstr(ev, RW_F_RW_CONTENT_LKG, sv->f.lkg_id);
	if (!lkg && action_is(ev, "content-loaded"))
		note_loaded(sv, ev);
	sv->host.write(sv->host.ctx, ev);
}

/* Everything in the alert ring. A ring that does not check out is reset
 * (what it held is lost, and counted once) and its engine killed. */
/* A verdict: only its id and bits are read; the host checks the id. */
static void take_verdict(struct supervisor *sv, const struct wire_hdr *h)
{
	if (sv->host.verdict)
		sv->host.verdict(sv->host.ctx, h->tag, h->tag2 & (VERDICT_DENY | VERDICT_CACHEABLE));
}

static void drain_alerts(struct supervisor *sv)
{
	for (;;) {
		uint64_t pos;
		int n = shm_ring__take(&sv->m.al, sv->rbuf, sv->rbuf_len, &pos);
		const struct wire_hdr *h = (const struct wire_hdr *)sv->rbuf;

		if (n == 0)
			return;
		if (n == -E2BIG) {
			sv->c[RW_C_DROP_ENGINE_RECORD]++;
			continue;
		}
		if (n < 0) {
			sv->c[RW_C_DROP_ENGINE_RECORD]++;
			sv->m.al.mine = atomic_load(&sv->m.ctl->al.prod);
			atomic_store(&sv->m.ctl->al.cons, sv->m.al.mine);
			if (sv->pid > 0 && !sv->kill_cause) {
				sv->kill_cause = "protocol";
				kill(sv->pid, SIGKILL);
			}
			return;
		}
		if (h->type == WIRE_ALERT)
			take_alert(sv, h);
		else if (h->type == WIRE_VERDICT)
			take_verdict(sv, h);
		else if (h->type == WIRE_RECORD)
			take_record(sv, h);
		else
			sv->c[RW_C_DROP_ENGINE_RECORD]++;
	}
}

/* ---- spawning ---- */

static int add_arg(char **argv, int *argc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int add_arg(char **argv, int *argc, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*argc >= 120)
		return -E2BIG;
	va_start(ap, fmt);
	n = vasprintf(&argv[*argc], fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	(*argc)++;
	return 0;
}

/* The last-known-good copy the engine saved (engine/content_store.h's
 * layout: <store>/lkg, a link to a complete copy), or NULL. Only a stat:
 * the core reads no content. */
static const char *lkg_dir(struct supervisor *sv, char *buf, size_t len)
{
	struct stat st;
	int n = snprintf(buf, len, "%s/lkg", sv->store_dir);

	if (n < 0 || (size_t)n >= len || stat(buf, &st) < 0 || !S_ISDIR(st.st_mode))
		return NULL;
	return buf;
}

static void engine_started_rec(struct supervisor *sv, const struct gen *g)
{
	struct rw_event *ev = rec_begin(sv, "state", "process", "start", "engine-started");

	rw_event__set_int(ev, RW_F_RW_ENGINE_PID, sv->pid);
	rw_event__set_int(ev, RW_F_RW_ENGINE_RESTARTS, (int64_t)sv->restarts);
	set_version(ev, g->id, label_of(sv, g->id));
	rw_event__set_cstr(ev, RW_F_RW_CONTENT_SOURCE, which_name(g->which));
	sv->host.write(sv->host.ctx, ev);
}

/* Start an engine on which content. Never blocks beyond the exec. */
static int spawn(struct supervisor *sv, int which, const char *id)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	struct engine_ctl *c = sv->m.ctl;
	char *argv[128] = { 0 }, lkg[PATH_MAX], path[64];
	const struct gen *g = gen_new(sv, which, false, id);
	sigset_t none, dflt;
	int argc = 0, err = 0, fd;
	pid_t pid;

	/* a clean slate in shared memory (no engine runs now) */
	atomic_store(&c->phase, ENGINE_PHASE_NONE);
	atomic_store(&c->busy, 0);
	atomic_store(&c->note, ENGINE_NOTE_NONE);
	atomic_store(&c->cur_rule, ENGINE_NO_RULE);
	atomic_store(&c->loaded_gen, 0);
	atomic_store(&c->load_done_gen, 0);
	atomic_store(&c->sandbox, 0);
	atomic_store(&c->al.prod, sv->m.al.mine);
	atomic_store(&c->al.cons, sv->m.al.mine);
	sv->seen_done_gen = 0;
	sv->start_gen = g->gen;

	err |= add_arg(argv, &argc, "ringward");
	err |= add_arg(argv, &argc, "engine");
	err |= add_arg(argv, &argc, "--ctl-fd=%d", FD_CTL);
	err |= add_arg(argv, &argc, "--ring-fd=%d", FD_RING);
	err |= add_arg(argv, &argc, "--wake-fd=%d", FD_WAKE);
	err |= add_arg(argv, &argc, "--reply-fd=%d", FD_REPLY);
	err |= add_arg(argv, &argc, "--core-pid=%d", (int)sv->self);
	err |= add_arg(argv, &argc, "--start=%s", which == ENGINE_CONTENT_LKG ? "lkg" : "configured");
	err |= add_arg(argv, &argc, "--gen=%llu", (unsigned long long)g->gen);
	for (int i = 0; i < sv->o.n_content; i++)
		err |= add_arg(argv, &argc, "--content=%s", sv->o.content[i]);
	if (lkg_dir(sv, lkg, sizeof(lkg)))
		err |= add_arg(argv, &argc, "--lkg=%s", lkg);
	err |= add_arg(argv, &argc, "--store=%s", sv->store_dir);
	if (sv->o.placeholders)
		err |= add_arg(argv, &argc, "--placeholders=%s", sv->o.placeholders);
	if (sv->o.trusted_keys)
		err |= add_arg(argv, &argc, "--trusted-keys=%s", sv->o.trusted_keys);
	err |= add_arg(argv, &argc, "--as-mb=%u", sv->o.mem_mb * 4 + (unsigned)(sv->m.ring_len >> 20) +
		       (unsigned)(sv->m.ctl_len >> 20) + 256);
	if (sv->o.test_faults)
		err |= add_arg(argv, &argc, "--test-faults=%u", sv->o.test_faults);
	if (err) {
		err = -ENOMEM;
		goto cleanup;
	}

	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigemptyset(&dflt);
	sigaddset(&dflt, SIGINT);
	sigaddset(&dflt, SIGTERM);
	sigaddset(&dflt, SIGHUP);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dflt);
	/* its own process group: a Ctrl-C meant for the sensor stops the
	 * sensor, which stops the engine in order */
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
					POSIX_SPAWN_SETPGROUP);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	/* stdout may be the sensor's output: never the engine's */
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, sv->m.ctl_fd, FD_CTL);
	posix_spawn_file_actions_adddup2(&fa, sv->m.ring_fd, FD_RING);
	posix_spawn_file_actions_adddup2(&fa, sv->wake_fd, FD_WAKE);
	posix_spawn_file_actions_adddup2(&fa, sv->reply_fd, FD_REPLY);
	posix_spawn_file_actions_addclosefrom_np(&fa, FD_REPLY + 1);
	err = -posix_spawn(&pid, sv->exe_path, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (err)
		goto cleanup;

	sv->pid = sv->last_pid = pid;
	if (sv->host.engine_pid)
		sv->host.engine_pid(sv->host.ctx, pid, true);
	sv->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	sv->statm_fd = open(path, O_RDONLY | O_CLOEXEC);
	/* the kernel's OOM killer takes the engine before anything else */
	snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", (int)pid);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "1000", 4) < 0) {
			/* not fatal: the RSS limit still applies */
		}
		close(fd);
	}
	sv->state = SV_RUNNING;
	sv->started_ns = sv->last_hb_ns = rw_clock_ns(CLOCK_MONOTONIC);
	sv->last_hb = atomic_load(&c->heartbeat);
	sv->kill_cause = NULL;
	sv->pending_wake = true;
	sv->starts++;
	sv->c[RW_C_ENGINE_STARTS]++;
	engine_started_rec(sv, g);
cleanup:
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	return err;
}

/* Which content an engine starts on now, or -1 for none (content off,
 * with the reason in off_reason). */
static int choose(struct supervisor *sv, char id[SV_ID_LEN])
{
	const struct sf_bad *b;
	char lkg[PATH_MAX];

	id[0] = 0;
	if (sv->o.content_off) {
		snprintf(sv->off_reason, sizeof(sv->off_reason), "safe mode: content off");
		return -1;
	}
	if (sv->o.n_content <= 0) {
		snprintf(sv->off_reason, sizeof(sv->off_reason), "no content configured");
		return -1;
	}
	supervisor__content_id(sv->o.content, sv->o.n_content, sv->o.placeholders,
			       sv->configured_id);
	b = bad_find(&sv->f, sv->configured_id);
	if (!b) {
		copy_str(id, SV_ID_LEN, sv->configured_id);
		return ENGINE_CONTENT_CONFIGURED;
	}
	if (strcmp(sv->refused_id, sv->configured_id)) {
		struct rw_event *ev = rec_begin(sv, "state", "configuration", "denied",
						"content-refused");

		copy_str(sv->refused_id, sizeof(sv->refused_id), sv->configured_id);
		set_version(ev, b->id, b->label);
		rw_event__set_cstr(ev, RW_F_EVENT_OUTCOME, "failure");
		rw_event__set_cstr(ev, RW_F_EVENT_REASON, "this content version was marked bad "
				   "after repeated engine failures: refused");
		rw_event__set_cstr(ev, RW_F_RW_ENGINE_CAUSE, b->cause);
		if (b->rule_id[0])
			rw_event__set_cstr(ev, RW_F_RW_ENGINE_RULE_ID, b->rule_id);
		if (b->rule_name[0])
			rw_event__set_cstr(ev, RW_F_RW_ENGINE_RULE_NAME, b->rule_name);
		if (sv->f.lkg_id[0])
			rw_event__set_cstr(ev, RW_F_RW_CONTENT_LKG, sv->f.lkg_id);
		sv->c[RW_C_CONTENT_REFUSED]++;
		sv->host.write(sv->host.ctx, ev);
	}
	if (lkg_dir(sv, lkg, sizeof(lkg)) && !(sv->f.lkg_id[0] && bad_find(&sv->f, sv->f.lkg_id))) {
		copy_str(id, SV_ID_LEN, sv->f.lkg_id[0] ? sv->f.lkg_id : "unknown");
		return ENGINE_CONTENT_LKG;
	}
	snprintf(sv->off_reason, sizeof(sv->off_reason),
		 "content %s is marked bad and there is no usable last-known-good content",
		 sv->configured_id);
	return -1;
}

static void start(struct supervisor *sv)
{
	char id[SV_ID_LEN];
	int which = choose(sv, id);
	int err;

	if (which < 0) {
		sv->state = SV_OFF;
		return;
	}
	sv->off_reason[0] = 0;
	err = spawn(sv, which, id);
	if (err) {
		fprintf(stderr, "ringward: cannot start the engine: %s\n", strerror(-err));
		sv->state = SV_BACKOFF;
		sv->backoff_ms = sv->o.backoff_max_ms;
		sv->restart_at_ns = rw_clock_ns(CLOCK_MONOTONIC) + (uint64_t)sv->backoff_ms * 1000000ULL;
	}
}

/* ---- failures ---- */

static void check_loads(struct supervisor *sv);

static void rollback_alert(struct supervisor *sv, const struct failure *fl, unsigned failures,
			   int next_which, const char *next_id)
{
	struct rw_event *ev = rec_begin(sv, "alert", "configuration", "change",
					"ringward-content-rollback");
	char reason[768];

	snprintf(reason, sizeof(reason),
		 "the engine failed %u times within %u s of activating content %s (last: %s%s%s%s%s); "
		 "%s%s",
		 failures, sv->o.window_s, fl->version, fl->cause, fl->signal[0] ? ", " : "",
		 fl->signal, fl->rule_id[0] || fl->rule_name[0] ? ", evaluating rule " : "",
		 fl->rule_id[0] ? fl->rule_id : fl->rule_name,
		 next_which == ENGINE_CONTENT_LKG ? "rolled back to the last-known-good content " :
		 next_which == ENGINE_CONTENT_CONFIGURED ? "restarting on the configured content " :
		 "no last-known-good content: content is off",
		 next_which >= 0 ? next_id : "");
	rw_event__set_cstr(ev, RW_F_EVENT_OUTCOME, next_which >= 0 ? "success" : "failure");
	rw_event__set_cstr(ev, RW_F_EVENT_REASON, reason);
	rw_event__set_int(ev, RW_F_EVENT_SEVERITY, 4);
	rw_event__set_cstr(ev, RW_F_RULE_ID, "ringward-content-rollback");
	rw_event__set_cstr(ev, RW_F_RULE_NAME, "ringward-content-rollback");
	rw_event__set_cstr(ev, RW_F_RULE_DESCRIPTION,
			   "Detection content made the engine fail repeatedly right after it was "
			   "activated; the sensor marked it bad and rolled back.");
	rw_event__set_cstr(ev, RW_F_RW_RULE_LEVEL, "high");
	set_version(ev, fl->version, label_of(sv, fl->version));
	if (next_which == ENGINE_CONTENT_LKG)
		rw_event__set_cstr(ev, RW_F_RW_CONTENT_LKG, next_id);
	rw_event__set_cstr(ev, RW_F_RW_ENGINE_CAUSE, fl->cause);
	if (fl->signal[0])
		rw_event__set_cstr(ev, RW_F_RW_ENGINE_SIGNAL, fl->signal);
	if (fl->rule_id[0])
		rw_event__set_cstr(ev, RW_F_RW_ENGINE_RULE_ID, fl->rule_id);
	if (fl->rule_name[0])
		rw_event__set_cstr(ev, RW_F_RW_ENGINE_RULE_NAME, fl->rule_name);
	rw_event__set_int(ev, RW_F_RW_ENGINE_FAILURES, failures);
	rw_event__set_cstr(ev, RW_F_RW_ENGINE_PHASE, fl->phase);
	sv->c[RW_C_CONTENT_ROLLBACKS]++;
	sv->host.write(sv->host.ctx, ev);
}

/* Count a failure against content version id; true when that makes it
 * bad (K failures within T of its activation). */
static bool count_failure(struct supervisor *sv, const struct failure *fl, unsigned *n)
{
	long long now = (long long)time(NULL);
	int lock = state_lock(sv->state_dir, 100);
	struct sf_version *v;
	bool bad = false;

	state_read(sv->state_dir, &sv->f);
	v = version_get(&sv->f, fl->version);
	if (!v->activated) {	/* failed before it ever ran: activating it now */
		v->activated = now;
		v->failures = 0;
	}
	/* only failures within T of the activation count against it: a
	 * version that ran fine for longer is not what made it fail */
	if (now - v->activated <= (long long)sv->o.window_s)
		v->failures++;
	*n = v->failures;
	if (v->failures >= sv->o.failures && !bad_find(&sv->f, fl->version) &&
	    sv->f.n_bad < MAX_BAD) {
		struct sf_bad *b = &sv->f.bad[sv->f.n_bad++];

		memset(b, 0, sizeof(*b));
		copy_str(b->id, sizeof(b->id), fl->version);
		b->at = now;
		copy_str(b->cause, sizeof(b->cause), fl->cause);
		copy_str(b->rule_id, sizeof(b->rule_id), fl->rule_id);
		copy_str(b->rule_name, sizeof(b->rule_name), fl->rule_name);
		copy_str(b->label, sizeof(b->label), label_of(sv, fl->version));
		bad = true;
	}
	state_write(sv->state_dir, &sv->f);
	state_unlock(lock);
	return bad;
}

/* The event in flight at K failures in a row is skipped (no engine runs
 * now: the core may move the engine's position). */
static void skip_poison(struct supervisor *sv, uint64_t pos)
{
	uint64_t cons = atomic_load(&sv->m.ctl->ev.cons);
	const struct wire_hdr *h;

	if (cons != pos || sv->m.ev.mine - cons > sv->m.ev.size || cons == sv->m.ev.mine)
		return;
	/* our own mapping of the event ring: the engine cannot write it */
	h = (const struct wire_hdr *)(sv->m.ring + (pos & (sv->m.ev.size - 1)));
	if (h->len < sizeof(*h) || h->len % 8 || h->len > sv->m.ev.mine - cons)
		return;
	atomic_store(&sv->m.ctl->ev.cons, pos + h->len);
	sv->c[RW_C_DROP_ENGINE_POISON]++;
	sv->same_pos = 0;
}

static void failed_rec(struct supervisor *sv, const struct failure *fl, unsigned failures)
{
	struct rw_event *ev = rec_begin(sv, "state", "process", "error", "engine-failed");
	char reason[512];

	snprintf(reason, sizeof(reason), "engine pid %d %s%s%s while %s; restarting in %u ms",
		 (int)sv->last_pid, fl->cause, fl->signal[0] ? " " : "", fl->signal, fl->phase,
		 sv->backoff_ms);
	rw_event__set_cstr(ev, RW_F_EVENT_OUTCOME, "failure");
	rw_event__set_cstr(ev, RW_F_EVENT_REASON, reason);
	rw_event__set_int(ev, RW_F_RW_ENGINE_PID, sv->last_pid);
	rw_event__set_cstr(ev, RW_F_RW_ENGINE_CAUSE, fl->cause);
	if (fl->signal[0])
		rw_event__set_cstr(ev, RW_F_RW_ENGINE_SIGNAL, fl->signal);
	if (fl->exit_code >= 0)
		rw_event__set_int(ev, RW_F_RW_ENGINE_EXIT_CODE, fl->exit_code);
	rw_event__set_cstr(ev, RW_F_RW_ENGINE_PHASE, fl->phase);
	if (fl->rule_id[0])
		rw_event__set_cstr(ev, RW_F_RW_ENGINE_RULE_ID, fl->rule_id);
	if (fl->rule_name[0])
		rw_event__set_cstr(ev, RW_F_RW_ENGINE_RULE_NAME, fl->rule_name);
	rw_event__set_int(ev, RW_F_RW_ENGINE_RESTARTS, (int64_t)sv->restarts);
	rw_event__set_int(ev, RW_F_RW_ENGINE_FAILURES, failures);
	rw_event__set_int(ev, RW_F_RW_ENGINE_BACKOFF_MS, sv->backoff_ms);
	set_version(ev, fl->version, label_of(sv, fl->version));
	sv->host.write(sv->host.ctx, ev);
}

/* The rule the engine was evaluating, from the table it published. */
static void failing_rule(struct supervisor *sv, struct failure *fl)
{
	struct engine_ctl *c = sv->m.ctl;
	uint32_t t = atomic_load(&c->table) & 1, r = atomic_load(&c->cur_rule);
	const struct rule_slot *s;

	if (r == ENGINE_NO_RULE || r >= ENGINE_RULE_SLOTS || r >= atomic_load(&c->n_rules[t]))
		return;
	s = engine_shm__rules(&sv->m, t) + r;
	copy_str(fl->rule_id, sizeof(fl->rule_id), s->id);
	copy_str(fl->rule_name, sizeof(fl->rule_name), s->title);
}

static void reap(struct supervisor *sv, const siginfo_t *si)
{
	struct engine_ctl *c = sv->m.ctl;
	struct failure *fl = &sv->fails[sv->n_fails % MAX_FAILS];
	uint32_t phase = atomic_load(&c->phase), note = atomic_load(&c->note);
	bool busy = atomic_load(&c->busy) != 0, bad = false, content = true;
	uint64_t pos = atomic_load(&c->ev.cons), now = rw_clock_ns(CLOCK_MONOTONIC);
	const struct gen *g;
	unsigned failures = 0;
	char next_id[SV_ID_LEN];
	int next;

	check_loads(sv);	/* a load it finished counts, even if just before */
	if (sv->pidfd >= 0)
		close(sv->pidfd);
	if (sv->statm_fd >= 0)
		close(sv->statm_fd);
	sv->pidfd = sv->statm_fd = -1;
	if (sv->host.engine_pid && sv->pid > 0)
		sv->host.engine_pid(sv->host.ctx, sv->pid, false);
	sv->pid = 0;
	/* what it wrote before it died is good: take it before the ring is
	 * reset for the next one */
	drain_alerts(sv);
	st_retire(sv);
	if (sv->stopping) {
		sv->state = SV_OFF;
		return;
	}

	memset(fl, 0, sizeof(*fl));
	fl->at = (long long)time(NULL);
	fl->exit_code = -1;
	copy_str(fl->phase, sizeof(fl->phase), phase_name(phase));
	if (si->si_code == CLD_KILLED || si->si_code == CLD_DUMPED) {
		const char *abbrev = sigabbrev_np(si->si_status);

		snprintf(fl->signal, sizeof(fl->signal), "SIG%s", abbrev ? abbrev : "?");
	} else {
		fl->exit_code = si->si_status;
	}
	if (sv->kill_cause)
		copy_str(fl->cause, sizeof(fl->cause), sv->kill_cause);
	else if (note == ENGINE_NOTE_OOM)
		copy_str(fl->cause, sizeof(fl->cause), "memory");
	else if (note == ENGINE_NOTE_SANDBOX)
		copy_str(fl->cause, sizeof(fl->cause), "sandbox");
	else if (fl->exit_code >= 0)
		copy_str(fl->cause, sizeof(fl->cause), "exit");
	else
		copy_str(fl->cause, sizeof(fl->cause), "crash");
	if (!strcmp(fl->cause, "hang"))
		sv->c[RW_C_ENGINE_FAIL_HANG]++;
	else if (!strcmp(fl->cause, "memory"))
		sv->c[RW_C_ENGINE_FAIL_MEMORY]++;
	else if (!strcmp(fl->cause, "crash"))
		sv->c[RW_C_ENGINE_FAIL_CRASH]++;
	else
		sv->c[RW_C_ENGINE_FAIL_EXIT]++;
	if (phase == ENGINE_PHASE_RUNNING && busy)
		failing_rule(sv, fl);

	/* whose failure: the content being loaded, else the running set */
	if (phase == ENGINE_PHASE_LOADING && (g = gen_find(sv, atomic_load(&c->loading_gen))))
		copy_str(fl->version, sizeof(fl->version), g->id);
	else if (sv->active_id[0])
		copy_str(fl->version, sizeof(fl->version), sv->active_id);
	else if ((g = gen_find(sv, sv->start_gen)))
		copy_str(fl->version, sizeof(fl->version), g->id);
	/* a sandbox that cannot be set up, or a failure before any content
	 * is touched, says nothing about the content */
	if (note == ENGINE_NOTE_SANDBOX || phase <= ENGINE_PHASE_SANDBOX || !fl->version[0])
		content = false;
	sv->n_fails++;

	/* backoff: from the minimum after a stable run, else doubling */
	if (!sv->backoff_ms || now - sv->started_ns >= (uint64_t)sv->o.stable_s * 1000000000ULL)
		sv->backoff_ms = sv->o.backoff_min_ms;
	else if ((sv->backoff_ms *= 2) > sv->o.backoff_max_ms)
		sv->backoff_ms = sv->o.backoff_max_ms;
	if (!content && note == ENGINE_NOTE_SANDBOX)
		sv->backoff_ms = sv->o.backoff_max_ms;

	if (content)
		bad = count_failure(sv, fl, &failures);
	failed_rec(sv, fl, failures);
	if (busy) {
		sv->same_pos = pos == sv->last_fail_pos ? sv->same_pos + 1 : 1;
		sv->last_fail_pos = pos;
	} else {
		sv->same_pos = 0;
	}
	sv->restarts++;
	if (bad) {
		/* the next start refuses it and takes the LKG, if any; the
		 * rollback alert says so (no content-refused record now) */
		copy_str(sv->refused_id, sizeof(sv->refused_id), fl->version);
		next = choose(sv, next_id);
		if (!strcmp(fl->version, sv->active_id))
			sv->active_id[0] = 0;
		rollback_alert(sv, fl, failures, next, next_id);
	} else if (busy && sv->same_pos >= sv->o.failures) {
		skip_poison(sv, pos);
	}
	sv->state = SV_BACKOFF;
	sv->restart_at_ns = now + (uint64_t)sv->backoff_ms * 1000000ULL;
}

/* ---- the tick ---- */

static void kill_engine(struct supervisor *sv, const char *cause)
{
	if (sv->pid > 0 && !sv->kill_cause) {
		sv->kill_cause = cause;
		kill(sv->pid, SIGKILL);
	}
}

static void check_health(struct supervisor *sv, uint64_t now)
{
	struct engine_ctl *c = sv->m.ctl;
	uint64_t hb = atomic_load_explicit(&c->heartbeat, memory_order_relaxed);
	uint32_t phase = atomic_load(&c->phase);
	uint64_t limit = phase == ENGINE_PHASE_RUNNING ? sv->o.hang_ms : sv->o.load_timeout_ms;
	char buf[128];

	if (hb != sv->last_hb) {
		sv->last_hb = hb;
		sv->last_hb_ns = now;
	} else if (now - sv->last_hb_ns > limit * 1000000ULL) {
		kill_engine(sv, "hang");
	}
	if (sv->statm_fd >= 0) {
		ssize_t n = pread(sv->statm_fd, buf, sizeof(buf) - 1, 0);
		unsigned long long size, resident, shared;

		if (n > 0) {
			buf[n] = 0;
			/* private resident memory: the shared rings do not count */
			if (sscanf(buf, "%llu %llu %llu", &size, &resident, &shared) == 3 &&
			    resident > shared &&
			    (resident - shared) * (unsigned long long)sysconf(_SC_PAGESIZE) >
				    (unsigned long long)sv->o.mem_mb << 20)
				kill_engine(sv, "memory");
		}
	}
}

/* Configured content that fails to load while nothing runs (at a start,
 * or after every load so far failed): run the last-known-good copy
 * instead, so that a bad update never leaves the host without detection.
 * The engine says so in its content-loaded record (source
 * last-known-good); a later reload of the configured content replaces
 * it. */
static void fall_back_to_lkg(struct supervisor *sv)
{
	char lkg[PATH_MAX];
	struct gen *g;

	if (!lkg_dir(sv, lkg, sizeof(lkg)) || !sv->f.lkg_id[0] || bad_find(&sv->f, sv->f.lkg_id))
		return;
	g = gen_new(sv, ENGINE_CONTENT_LKG, true, sv->f.lkg_id);
	if (shm_ring__put(&sv->m.ev, WIRE_RELOAD, g->gen, ENGINE_CONTENT_LKG, NULL, 0))
		sv->next_gen--;	/* ring full: the next failed load tries again */
	else
		sv->pending_wake = true;
}

/* Act on finished loads: a set that loaded is the active content. */
static void check_loads(struct supervisor *sv)
{
	struct engine_ctl *c = sv->m.ctl;
	uint64_t done = atomic_load(&c->load_done_gen);
	const struct gen *g;

	if (done == sv->seen_done_gen)
		return;
	sv->seen_done_gen = done;
	g = gen_find(sv, done);
	if (g && atomic_load(&c->load_result) != 0 && g->which == ENGINE_CONTENT_CONFIGURED &&
	    !sv->active_id[0]) {
		fall_back_to_lkg(sv);
		return;
	}
	if (!g || atomic_load(&c->load_result) != 0 || atomic_load(&c->loaded_gen) != done)
		return;
	if (strcmp(sv->active_id, g->id)) {
		long long now = (long long)time(NULL);
		int lock = state_lock(sv->state_dir, 100);
		struct sf_version *v;

		state_read(sv->state_dir, &sv->f);
		v = version_get(&sv->f, g->id);
		/* activation; within the window of an earlier one (a sensor
		 * restart) the failures so far keep counting */
		if (!v->activated || now - v->activated > (long long)sv->o.window_s) {
			v->activated = now;
			v->failures = 0;
		}
		copy_str(v->label, sizeof(v->label), c->label[atomic_load(&c->table) & 1]);
		state_write(sv->state_dir, &sv->f);
		state_unlock(lock);
		copy_str(sv->active_id, sizeof(sv->active_id), g->id);
		sv->activated_ns = rw_clock_ns(CLOCK_MONOTONIC);
		sv->act_real_ns = (int64_t)rw_clock_ns(CLOCK_REALTIME);
		sv->act_restarts = sv->restarts;
		sv->act_events = st_now(sv, ES_EVENTS);
		sv->act_eval_ns = st_now(sv, ES_EVAL_NS);
		sv->act_rule_errors = st_now(sv, ES_DISABLED_OOB) + st_now(sv, ES_RE_ERRORS);
	}
	sv->active_which = g->which;
	copy_str(sv->active_label, sizeof(sv->active_label),
		 c->label[atomic_load(&c->table) & 1]);
}

/* Content that ran lkg_after_s without failing becomes the LKG. */
static void check_lkg(struct supervisor *sv, uint64_t now)
{
	struct engine_ctl *c = sv->m.ctl;
	uint64_t since = sv->activated_ns > sv->started_ns ? sv->activated_ns : sv->started_ns;
	char id[SV_ID_LEN];

	if (sv->lkg_inflight) {
		if (atomic_load(&c->lkg_done_seq) != sv->lkg_inflight)
			return;
		if (atomic_load(&c->lkg_result) == 0) {
			int lock = state_lock(sv->state_dir, 100);

			state_read(sv->state_dir, &sv->f);
			copy_str(sv->f.lkg_id, sizeof(sv->f.lkg_id), sv->active_id);
			copy_str(sv->f.lkg_label, sizeof(sv->f.lkg_label), sv->active_label);
			state_write(sv->state_dir, &sv->f);
			state_unlock(lock);
		} else {
			copy_str(sv->lkg_failed_id, sizeof(sv->lkg_failed_id), sv->active_id);
		}
		sv->lkg_inflight = 0;
		return;
	}
	if (!sv->active_id[0] || sv->active_which != ENGINE_CONTENT_CONFIGURED ||
	    !strcmp(sv->active_id, sv->f.lkg_id) || !strcmp(sv->active_id, sv->lkg_failed_id) ||
	    now < since || now - since < (uint64_t)sv->o.lkg_after_s * 1000000000ULL ||
	    atomic_load(&c->phase) != ENGINE_PHASE_RUNNING || bad_find(&sv->f, sv->active_id))
		return;
	/* only if what is on disk is still what runs */
	supervisor__content_id(sv->o.content, sv->o.n_content, sv->o.placeholders, id);
	if (strcmp(id, sv->active_id)) {
		copy_str(sv->lkg_failed_id, sizeof(sv->lkg_failed_id), sv->active_id);
		return;
	}
	if (shm_ring__put(&sv->m.ev, WIRE_SAVE_LKG, ++sv->lkg_seq, 0, NULL, 0) == 0) {
		sv->lkg_inflight = sv->lkg_seq;
		sv->pending_wake = true;
	}
}

static void send_reload(struct supervisor *sv)
{
	struct gen *g;

	if (bad_find(&sv->f, sv->configured_id)) {
		sv->reload_pending = false;
		return;
	}
	g = gen_new(sv, ENGINE_CONTENT_CONFIGURED, true, sv->configured_id);
	if (shm_ring__put(&sv->m.ev, WIRE_RELOAD, g->gen, ENGINE_CONTENT_CONFIGURED, NULL, 0)) {
		sv->next_gen--;	/* not sent: try again next tick */
		return;
	}
	sv->reload_pending = false;
	sv->pending_wake = true;
}

void supervisor__tick(struct supervisor *sv)
{
	uint64_t now;

	if (!sv)
		return;
	now = rw_clock_ns(CLOCK_MONOTONIC);
	if (sv->pid > 0) {
		siginfo_t si = { 0 };

		if (sv->pidfd >= 0 &&
		    waitid((idtype_t)P_PIDFD, (id_t)sv->pidfd, &si, WEXITED | WNOHANG) == 0 &&
		    si.si_pid) {
			reap(sv, &si);
		} else if (sv->pidfd < 0 &&
			   waitid(P_PID, (id_t)sv->pid, &si, WEXITED | WNOHANG) == 0 && si.si_pid) {
			reap(sv, &si);
		} else {
			check_health(sv, now);
			check_loads(sv);
			if (sv->reload_pending)
				send_reload(sv);
			check_lkg(sv, now);
		}
	}
	drain_alerts(sv);
	if (sv->pid > 0)
		check_expiry(sv, now);
	if (sv->pid > 0 && sv->pending_wake) {
		uint64_t one = 1;

		if (write(sv->wake_fd, &one, sizeof(one)) == sizeof(one) || errno == EAGAIN)
			sv->pending_wake = false;
	}
	if (sv->state == SV_BACKOFF && now >= sv->restart_at_ns)
		start(sv);
}

void supervisor__feed(struct supervisor *sv, const struct rw_event *ev)
{
	int err;

	if (!sv || sv->state == SV_OFF)
		return;
	err = shm_ring__put_event(&sv->m.ev, WIRE_EVENT,
				  (uint64_t)rw_event__int(ev, RW_F_EVENT_SEQUENCE, 0), 0, ev);
	if (!err) {
		sv->c[RW_C_ENGINE_QUEUED]++;
		sv->pending_wake = true;
		return;
	}
	sv->c[RW_C_DROP_ENGINE_RING_FULL]++;
	if (err == -EPROTO)	/* the engine moved its position out of range */
		kill_engine(sv, "protocol");
}

int supervisor__ask(struct supervisor *sv, const struct rw_event *ev, uint64_t id)
{
	uint64_t one = 1;
	int err;

	if (!sv || sv->state == SV_OFF)
		return -ENOTCONN;
	err = shm_ring__put_event(&sv->m.ev, WIRE_VERDICT_Q, id, 0, ev);
	if (err) {
		if (err == -EPROTO)
			kill_engine(sv, "protocol");
		return err;
	}
	/* someone is waiting: wake the engine now, not on the next tick */
	if (sv->pid > 0 && write(sv->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		sv->pending_wake = true;
	return 0;
}

int supervisor__content_health(struct supervisor *sv, struct sv_health *h)
{
	memset(h, 0, sizeof(*h));
	if (!sv || !sv->active_id[0])
		return -ENOENT;
	copy_str(h->version, sizeof(h->version), sv->active_id);
	copy_str(h->label, sizeof(h->label), sv->active_label);
	h->last_known_good = sv->active_which == ENGINE_CONTENT_LKG;
	h->activated_ns = sv->act_real_ns;
	h->engine_restarts = sv->restarts - sv->act_restarts;
	for (unsigned i = 0; i < sv->n_fails && i < MAX_FAILS; i++)
		if (!strcmp(sv->fails[i].version, sv->active_id))
			h->engine_failures++;
	h->rule_errors = st_now(sv, ES_DISABLED_OOB) + st_now(sv, ES_RE_ERRORS) -
			 sv->act_rule_errors;
	h->events = st_now(sv, ES_EVENTS) - sv->act_events;
	h->eval_ns = st_now(sv, ES_EVAL_NS) - sv->act_eval_ns;
	h->rollbacks = sv->c[RW_C_CONTENT_ROLLBACKS];
	return 0;
}

int supervisor__revoke(struct supervisor *sv, const char *why)
{
	struct rw_event *ev;
	char reason[512];
	int lock;

	if (!sv || !sv->configured_id[0])
		return -ENOENT;
	lock = state_lock(sv->state_dir, 100);
	state_read(sv->state_dir, &sv->f);
	if (!bad_find(&sv->f, sv->configured_id) && sv->f.n_bad < MAX_BAD) {
		struct sf_bad *b = &sv->f.bad[sv->f.n_bad++];

		memset(b, 0, sizeof(*b));
		copy_str(b->id, sizeof(b->id), sv->configured_id);
		b->at = (long long)time(NULL);
		copy_str(b->cause, sizeof(b->cause), "revoked");
		copy_str(b->label, sizeof(b->label), label_of(sv, sv->configured_id));
	}
	state_write(sv->state_dir, &sv->f);
	state_unlock(lock);

	ev = rec_begin(sv, "alert", "configuration", "change", "ringward-content-revoked");
	snprintf(reason, sizeof(reason), "the content repository revoked content %s (%s): %s; %s",
		 sv->configured_id, label_of(sv, sv->configured_id), why ? why : "no reason given",
		 sv->f.lkg_id[0] && !bad_find(&sv->f, sv->f.lkg_id) ?
		 "back to the last-known-good content" : "no last-known-good content: content is off");
	rw_event__set_cstr(ev, RW_F_EVENT_REASON, reason);
	rw_event__set_int(ev, RW_F_EVENT_SEVERITY, 3);
	rw_event__set_cstr(ev, RW_F_RULE_ID, "ringward-content-revoked");
	rw_event__set_cstr(ev, RW_F_RULE_NAME, "ringward-content-revoked");
	rw_event__set_cstr(ev, RW_F_RW_RULE_LEVEL, "medium");
	set_version(ev, sv->configured_id, label_of(sv, sv->configured_id));
	sv->host.write(sv->host.ctx, ev);

	/* the running set is the revoked one: the LKG takes over, through
	 * the engine's normal reload (no restart, no gap) */
	if (!strcmp(sv->active_id, sv->configured_id)) {
		if (sv->f.lkg_id[0] && !bad_find(&sv->f, sv->f.lkg_id) && sv->state == SV_RUNNING)
			fall_back_to_lkg(sv);
		else if (sv->pid > 0)
			kill_engine(sv, "revoked");	/* choose() then finds nothing to run */
	}
	return 0;
}

int supervisor__reply_fd(const struct supervisor *sv)
{
	return sv ? sv->reply_fd : -1;
}

void supervisor__on_reply(struct supervisor *sv)
{
	uint64_t v;

	if (!sv)
		return;
	if (read(sv->reply_fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: drained already by a tick */
	}
	drain_alerts(sv);
}

uint32_t supervisor__block_flags(struct supervisor *sv, uint64_t *gen)
{
	if (!sv)
		return 0;
	/* the running engine's set; kept while it restarts (its content
	 * still decides what a missed deadline means) */
	if (sv->pid > 0 && sv->m.ctl) {
		uint64_t g = atomic_load(&sv->m.ctl->loaded_gen);

		if (g && g != sv->block_gen) {
			sv->block_gen = g;
			sv->block_flags = atomic_load(&sv->m.ctl->block_flags) & 0x3f;
		}
	}
	if (sv->state == SV_OFF)
		return 0;
	if (gen)
		*gen = sv->block_gen;
	return sv->block_flags;
}

void supervisor__reload(struct supervisor *sv)
{
	char id[SV_ID_LEN];

	if (!sv || sv->o.content_off || sv->o.n_content <= 0)
		return;
	supervisor__content_id(sv->o.content, sv->o.n_content, sv->o.placeholders, id);
	copy_str(sv->configured_id, sizeof(sv->configured_id), id);
	if (bad_find(&sv->f, id)) {
		/* said once per version, by choose() */
		choose(sv, id);
		return;
	}
	if (sv->state == SV_OFF) {
		start(sv);
		return;
	}
	if (sv->state == SV_RUNNING) {
		sv->reload_pending = true;
		send_reload(sv);
	}
	/* SV_BACKOFF: the restart takes the content as it is then */
}

/* ---- life cycle ---- */

static void high_fd(int *fd)
{
	int n = fcntl(*fd, F_DUPFD_CLOEXEC, 10);

	if (n >= 0) {
		close(*fd);
		*fd = n;
	}
}

struct supervisor *supervisor__new(const struct supervisor_opts *o,
				   const struct supervisor_host *host)
{
	struct supervisor *sv = calloc(1, sizeof(*sv));
	const char *exe = o->engine_exe ? o->engine_exe : "/proc/self/exe";
	int err;

	if (!sv) {
		errno = ENOMEM;
		return NULL;
	}
	sv->o = *o;
	sv->host = *host;
	sv->exe_fd = sv->wake_fd = sv->reply_fd = sv->pidfd = sv->statm_fd = -1;
	sv->m.ctl_fd = sv->m.ring_fd = -1;
	sv->self = getpid();
	if (!sv->o.hang_ms)
		sv->o.hang_ms = 2000;
	if (!sv->o.load_timeout_ms)
		sv->o.load_timeout_ms = 60000;
	if (!sv->o.mem_mb)
		sv->o.mem_mb = 512;
	if (!sv->o.failures)
		sv->o.failures = 3;
	if (!sv->o.window_s)
		sv->o.window_s = 60;
	if (!sv->o.lkg_after_s)
		sv->o.lkg_after_s = sv->o.window_s;
	if (!sv->o.backoff_min_ms)
		sv->o.backoff_min_ms = 10;
	if (!sv->o.backoff_max_ms)
		sv->o.backoff_max_ms = 5000;
	if (!sv->o.stable_s)
		sv->o.stable_s = 60;
	if (!sv->o.ring_bytes)
		sv->o.ring_bytes = 64u << 20;
	copy_str(sv->state_dir, sizeof(sv->state_dir), o->state_dir ? o->state_dir : SV_STATE_DIR);
	snprintf(sv->store_dir, sizeof(sv->store_dir), "%s/" STORE_SUBDIR, sv->state_dir);
	if (sodium_init() < 0) {
		err = -EIO;
		goto fail;
	}
	err = mkdir_p(sv->store_dir, 0700);
	if (err)
		goto fail;
	state_read(sv->state_dir, &sv->f);
	sv->rbuf_len = sizeof(struct wire_hdr) + RW_F__COUNT * sizeof(struct rw_value) +
		       RW_EVENT_ARENA + 8;
	sv->rbuf = malloc(sv->rbuf_len);
	sv->ev = rw_event__new();
	sv->rec = rw_event__new();
	if (!sv->rbuf || !sv->ev || !sv->rec) {
		err = -ENOMEM;
		goto fail;
	}
	/* the binary the core runs, whatever happens to the file later */
	sv->exe_fd = open(exe, O_PATH | O_CLOEXEC);
	if (sv->exe_fd < 0) {
		err = -errno;
		goto fail;
	}
	high_fd(&sv->exe_fd);
	snprintf(sv->exe_path, sizeof(sv->exe_path), "/proc/%d/fd/%d", (int)sv->self, sv->exe_fd);
	err = engine_shm__create(&sv->m, sv->o.ring_bytes);
	if (err)
		goto fail;
	sv->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	sv->reply_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (sv->wake_fd < 0 || sv->reply_fd < 0) {
		err = -errno;
		goto fail;
	}
	/* above the numbers the engine gets them as (3..6), so that moving
	 * one into place never overwrites another */
	high_fd(&sv->m.ctl_fd);
	high_fd(&sv->m.ring_fd);
	high_fd(&sv->wake_fd);
	high_fd(&sv->reply_fd);
	start(sv);
	return sv;
fail:
	supervisor__free(sv);
	errno = -err;
	return NULL;
}

/* Events still in the ring when the sensor stops (no engine was running,
 * or it was killed at the stop deadline) were never evaluated: count them,
 * so that a loss is never silent. */
static void count_unevaluated(struct supervisor *sv)
{
	int64_t n;

	if (!sv->m.ctl)
		return;
	n = shm_ring__pending(&sv->m.ev, WIRE_EVENT);
	if (n > 0)
		sv->c[RW_C_DROP_ENGINE_AT_STOP] += (uint64_t)n;
	else if (n < 0)
		sv->c[RW_C_DROP_ENGINE_RECORD]++;
}

void supervisor__stop(struct supervisor *sv, unsigned max_ms)
{
	uint64_t deadline;
	bool sent;

	if (!sv)
		return;
	sv->stopping = true;
	if (sv->pid <= 0) {
		count_unevaluated(sv);
		return;
	}
	/* after everything queued: the engine finishes, then exits (a full
	 * ring takes the record once the engine has made room) */
	sent = shm_ring__put(&sv->m.ev, WIRE_STOP, 0, 0, NULL, 0) == 0;
	sv->pending_wake = true;
	deadline = rw_clock_ns(CLOCK_MONOTONIC) + (uint64_t)max_ms * 1000000ULL;
	while (sv->pid > 0) {
		struct timespec ts = { 0, 2000000 };

		if (!sent && shm_ring__put(&sv->m.ev, WIRE_STOP, 0, 0, NULL, 0) == 0) {
			sent = true;
			sv->pending_wake = true;
		}
		supervisor__tick(sv);
		if (sv->pid > 0 && rw_clock_ns(CLOCK_MONOTONIC) > deadline) {
			sv->kill_cause = "stop";
			kill(sv->pid, SIGKILL);
			deadline = UINT64_MAX;
		}
		nanosleep(&ts, NULL);
	}
	drain_alerts(sv);
	count_unevaluated(sv);
}

void supervisor__free(struct supervisor *sv)
{
	if (!sv)
		return;
	if (sv->pid > 0) {
		kill(sv->pid, SIGKILL);
		waitpid(sv->pid, NULL, 0);
	}
	if (sv->pidfd >= 0)
		close(sv->pidfd);
	if (sv->statm_fd >= 0)
		close(sv->statm_fd);
	if (sv->exe_fd >= 0)
		close(sv->exe_fd);
	if (sv->wake_fd >= 0)
		close(sv->wake_fd);
	if (sv->reply_fd >= 0)
		close(sv->reply_fd);
	engine_shm__close(&sv->m);
	free(sv->rbuf);
	free(sv->ev);
	free(sv->rec);
	free(sv);
}

/* ---- reporting ---- */

pid_t supervisor__engine_pid(const struct supervisor *sv)
{
	return sv ? sv->pid : 0;
}

bool supervisor__settled(const struct supervisor *sv)
{
	return !sv || sv->pid <= 0 || atomic_load(&sv->m.ctl->phase) >= ENGINE_PHASE_RUNNING;
}

const char *supervisor__active(const struct supervisor *sv)
{
	return sv ? sv->active_id : "";
}

void supervisor__counters(struct supervisor *sv, uint64_t c[RW_C__COUNT])
{
	static const enum rw_counter ours[] = {
		RW_C_DROP_ENGINE_RING_FULL, RW_C_DROP_ENGINE_POISON, RW_C_DROP_ENGINE_RECORD,
		RW_C_DROP_ENGINE_AT_STOP,
		RW_C_CONTENT_RELOADS, RW_C_CONTENT_RELOAD_FAILURES, RW_C_CONTENT_LOAD_FAILURES,
		RW_C_CONTENT_REFUSED, RW_C_CONTENT_ROLLBACKS, RW_C_ENGINE_QUEUED,
		RW_C_ENGINE_STARTS, RW_C_ENGINE_FAIL_CRASH, RW_C_ENGINE_FAIL_HANG,
		RW_C_ENGINE_FAIL_MEMORY, RW_C_ENGINE_FAIL_EXIT, RW_C_ENGINE_DUP_ALERTS,
		RW_C_ENGINE_ALERTS,
	};

	if (!sv)
		return;
	for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
		c[ours[i]] = sv->c[ours[i]];
	c[RW_C_ENGINE_EVENTS] = st_now(sv, ES_EVENTS);
	c[RW_C_ENGINE_EVAL_NS] = st_now(sv, ES_EVAL_NS);
	c[RW_C_ENGINE_DISABLED_OOB] = st_now(sv, ES_DISABLED_OOB);
	c[RW_C_ENGINE_BAD_VALUES] = st_now(sv, ES_BAD_VALUES);
	c[RW_C_ENGINE_RE_ERRORS] = st_now(sv, ES_RE_ERRORS);
	c[RW_C_ENGINE_DECODE_ERRORS] = st_now(sv, ES_DECODE_ERRORS);
}

static void json_str(struct strbuf *sb, const char *key, const char *v)
{
	strbuf__appendf(sb, "\"%s\":", key);
	json__append_string(sb, v, strlen(v));
}

static void json_time(struct strbuf *sb, const char *key, long long t)
{
	char buf[64];
	struct tm tm;
	time_t tt = (time_t)t;

	gmtime_r(&tt, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_str(sb, key, buf);
}

static void json_rule(struct strbuf *sb, const char *id, const char *name)
{
	strbuf__append(sb, "\"rule\":", 7);
	if (!id[0] && !name[0]) {
		strbuf__append(sb, "null", 4);
		return;
	}
	strbuf__append(sb, "{", 1);
	json_str(sb, "id", id);
	strbuf__append(sb, ",", 1);
	json_str(sb, "name", name);
	strbuf__append(sb, "}", 1);
}

static const char *state_name(const struct supervisor *sv)
{
	switch (sv->state) {
	case SV_RUNNING: return "running";
	case SV_BACKOFF: return "restarting";
	default: return "off";
	}
}

static void sandbox_json(struct supervisor *sv, struct strbuf *sb)
{
	struct engine_ctl *c = sv->m.ctl;
	uint32_t in = atomic_load(&c->sandbox);
	char why[sizeof(c->sandbox_why)];

	copy_str(why, sizeof(why), c->sandbox_why);
	strbuf__appendf(sb, "\"sandbox\":{\"capabilities_dropped\":%s,\"no_new_privs\":%s,"
			"\"seccomp\":%s,\"landlock\":%s,\"landlock_abi\":%d,\"rlimits\":%s,",
			in & SANDBOX_CAPS ? "true" : "false", in & SANDBOX_NNP ? "true" : "false",
			in & SANDBOX_SECCOMP ? "true" : "false",
			in & SANDBOX_LANDLOCK ? "true" : "false", atomic_load(&c->landlock_abi),
			in & SANDBOX_RLIMITS ? "true" : "false");
	json_str(sb, "notes", why);
	strbuf__append(sb, "}", 1);
}

void supervisor__status_json(struct supervisor *sv, struct strbuf *sb)
{
	struct engine_ctl *c;
	uint64_t now = rw_clock_ns(CLOCK_MONOTONIC);
	int64_t used;
	char lkg[PATH_MAX];
	unsigned n;

	if (!sv) {
		strbuf__append(sb, "\"engine\":null,\"content\":null", 29);
		return;
	}
	c = sv->m.ctl;
	used = shm_ring__used(&sv->m.ev);
	strbuf__append(sb, "\"engine\":{", 10);
	json_str(sb, "state", state_name(sv));
	strbuf__appendf(sb, ",\"pid\":%d,\"uptime_s\":%llu,\"phase\":\"%s\",\"starts\":%llu,"
			"\"restarts\":%llu,\"backoff_ms\":%u,\"heartbeat\":%llu,",
			(int)sv->pid,
			sv->pid > 0 ? (unsigned long long)((now - sv->started_ns) / 1000000000ULL) : 0ULL,
			sv->pid > 0 ? phase_name(atomic_load(&c->phase)) : "none",
			(unsigned long long)sv->starts, (unsigned long long)sv->restarts,
			sv->backoff_ms, (unsigned long long)atomic_load(&c->heartbeat));
	if (sv->state == SV_BACKOFF)
		strbuf__appendf(sb, "\"restart_in_ms\":%llu,",
				sv->restart_at_ns > now ?
				(unsigned long long)((sv->restart_at_ns - now) / 1000000ULL) : 0ULL);
	sandbox_json(sv, sb);
	strbuf__appendf(sb, ",\"ring\":{\"bytes\":%llu,\"used\":%lld,\"queued\":%llu,"
			"\"dropped_full\":%llu},",
			(unsigned long long)sv->m.ev.size, (long long)used,
			(unsigned long long)sv->c[RW_C_ENGINE_QUEUED],
			(unsigned long long)sv->c[RW_C_DROP_ENGINE_RING_FULL]);
	strbuf__appendf(sb, "\"limits\":{\"hang_ms\":%u,\"memory_mb\":%u,\"failures\":%u,"
			"\"window_s\":%u,\"lkg_after_s\":%u},",
			sv->o.hang_ms, sv->o.mem_mb, sv->o.failures, sv->o.window_s,
			sv->o.lkg_after_s);
	strbuf__append(sb, "\"failures\":[", 12);
	n = sv->n_fails < MAX_FAILS ? sv->n_fails : MAX_FAILS;
	for (unsigned i = 0; i < n; i++) {
		const struct failure *fl = &sv->fails[(sv->n_fails - n + i) % MAX_FAILS];

		strbuf__append(sb, i ? ",{" : "{", i ? 2 : 1);
		json_time(sb, "at", fl->at);
		strbuf__append(sb, ",", 1);
		json_str(sb, "cause", fl->cause);
		strbuf__append(sb, ",", 1);
		json_str(sb, "signal", fl->signal);
		strbuf__appendf(sb, ",\"exit_code\":%d,", fl->exit_code);
		json_str(sb, "phase", fl->phase);
		strbuf__append(sb, ",", 1);
		json_str(sb, "content", fl->version);
		strbuf__append(sb, ",", 1);
		json_rule(sb, fl->rule_id, fl->rule_name);
		strbuf__append(sb, "}", 1);
	}
	strbuf__append(sb, "]},\"content\":{\"paths\":[", 23);
	for (int i = 0; i < sv->o.n_content; i++) {
		if (i)
			strbuf__append(sb, ",", 1);
		json__append_string(sb, sv->o.content[i], strlen(sv->o.content[i]));
	}
	strbuf__append(sb, "],", 2);
	json_str(sb, "configured", sv->configured_id);
	strbuf__append(sb, ",\"active\":", 10);
	if (sv->active_id[0] && sv->pid > 0) {
		strbuf__append(sb, "{", 1);
		json_str(sb, "version", sv->active_id);
		strbuf__append(sb, ",", 1);
		json_str(sb, "label", sv->active_label);
		strbuf__append(sb, ",", 1);
		json_str(sb, "source", which_name(sv->active_which));
		strbuf__append(sb, ",", 1);
		json_str(sb, "signing", sv->signing);
		if (sv->expires) {
			strbuf__append(sb, ",", 1);
			json_time(sb, "expires", sv->expires);
			strbuf__appendf(sb, ",\"expired\":%s",
					(long long)time(NULL) >= sv->expires ? "true" : "false");
		}
		strbuf__appendf(sb, ",\"rules\":%u}", atomic_load(&c->loaded_rules));
	} else {
		strbuf__append(sb, "null", 4);
	}
	strbuf__append(sb, ",\"last_known_good\":", 19);
	if (sv->f.lkg_id[0] || lkg_dir(sv, lkg, sizeof(lkg))) {
		strbuf__append(sb, "{", 1);
		json_str(sb, "version", sv->f.lkg_id[0] ? sv->f.lkg_id : "unknown");
		strbuf__append(sb, ",", 1);
		json_str(sb, "label", sv->f.lkg_label);
		strbuf__append(sb, ",", 1);
		json_str(sb, "store", sv->store_dir);
		strbuf__append(sb, "}", 1);
	} else {
		strbuf__append(sb, "null", 4);
	}
	strbuf__append(sb, ",\"bad\":[", 8);
	for (int i = 0; i < sv->f.n_bad; i++) {
		const struct sf_bad *b = &sv->f.bad[i];

		strbuf__append(sb, i ? ",{" : "{", i ? 2 : 1);
		json_str(sb, "version", b->id);
		strbuf__append(sb, ",", 1);
		json_str(sb, "label", b->label);
		strbuf__append(sb, ",", 1);
		json_time(sb, "marked_at", b->at);
		strbuf__append(sb, ",", 1);
		json_str(sb, "cause", b->cause);
		strbuf__append(sb, ",", 1);
		json_rule(sb, b->rule_id, b->rule_name);
		strbuf__append(sb, "}", 1);
	}
	strbuf__append(sb, "],", 2);
	json_str(sb, "off_reason", sv->state == SV_OFF ? sv->off_reason : "");
	strbuf__append(sb, "}", 1);
}

static void reason(struct strbuf *sb, bool *first, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void reason(struct strbuf *sb, bool *first, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (!*first)
		strbuf__append(sb, ",", 1);
	*first = false;
	json__append_string(sb, buf, strlen(buf));
}

int supervisor__health(struct supervisor *sv, struct strbuf *sb, bool *first)
{
	int level = 0;
	if (!sv)
		return 0;
	if (sv->state == SV_OFF) {
		if (sv->o.content_off || (sv->o.n_content > 0 && !sv->stopping)) {
			reason(sb, first, "detection is off: %s", sv->off_reason);
			return 2;
		}
		return 0;	/* --no-content: events only, as asked */
	}
	if (sv->state == SV_BACKOFF) {
		const struct failure *fl = &sv->fails[(sv->n_fails - 1) % MAX_FAILS];

		reason(sb, first, "the engine is restarting after a failure (%s%s%s)", fl->cause,
		       fl->signal[0] ? ", " : "", fl->signal);
		level = 1;
	}
	if (sv->state == SV_RUNNING && !sv->active_id[0] &&
	    atomic_load(&sv->m.ctl->load_done_gen) != 0) {
		reason(sb, first, "no content is active: the content failed to load");
		level = 2;
	}
	if (sv->active_id[0] && sv->active_which == ENGINE_CONTENT_LKG) {
		reason(sb, first, "running last-known-good content %s: the configured content %s "
		       "is marked bad", sv->active_id, sv->configured_id);
		if (level < 1)
			level = 1;
	}
	if (sv->n_fails) {
		const struct failure *fl = &sv->fails[(sv->n_fails - 1) % MAX_FAILS];

		if ((long long)time(NULL) - fl->at < (long long)sv->o.window_s) {
			reason(sb, first, "the engine failed %llu time(s) since start, last %lld s ago "
			       "(%s)", (unsigned long long)sv->n_fails,
			       (long long)time(NULL) - fl->at, fl->cause);
			if (level < 1)
				level = 1;
		}
	}
	if (sv->c[RW_C_DROP_ENGINE_RING_FULL] || sv->c[RW_C_DROP_ENGINE_POISON]) {
		reason(sb, first, "events lost before evaluation: %llu (ring full), %llu (poison)",
		       (unsigned long long)sv->c[RW_C_DROP_ENGINE_RING_FULL],
		       (unsigned long long)sv->c[RW_C_DROP_ENGINE_POISON]);
		if (level < 1)
			level = 1;
	}
	if (sv->pid > 0 && atomic_load(&sv->m.ctl->phase) >= ENGINE_PHASE_LOADING &&
	    !(atomic_load(&sv->m.ctl->sandbox) & SANDBOX_LANDLOCK))
		reason(sb, first, "note: engine without landlock (%s)", sv->m.ctl->sandbox_why);
	return level;
}
