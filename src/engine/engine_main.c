/*
 * The engine process: `ringward engine ...`, started by the core (fork and
 * exec of the core's own binary: a clean image), never by hand.
 *
 * It maps the memory the core shares with it (core/shm_ring.h), enters its
 * sandbox (engine/sandbox.h) before it opens any content, loads the
 * content, and then evaluates the events of the ring in order: for each,
 * the index of every rule is written to shared memory before the rule is
 * evaluated, alerts go to the alert ring, and only then does the ring's
 * consumer position move past the event. Control records in the ring
 * (reload, save the last-known-good, stop) are applied where they stand.
 *
 * It may crash, hang or run out of memory: the core notices, restarts it,
 * and it resumes at the event it was evaluating.
 *
 * Exit status: 0 stopped by the core, 2 usage, 3 shared memory does not
 * check out, 4 the sandbox could not be entered, 5 a ring is corrupt.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "common/clock.h"
#include "core/shm_ring.h"
#include "engine/alert.h"
#include "engine/content_store.h"
#include "engine/fault.h"
#include "engine/guardrails.h"
#include "engine/ruleset.h"
#include "engine/sandbox.h"
#include "engine/sigma.h"
#include "engine/sigma_fields.h"

#define MAX_PATHS	32
#define MAX_DIAG	20
#define IDLE_MS		100	/* heartbeat while idle */

struct engine {
	struct engine_shm m;
	struct engine_ctl *c;
	int wake_fd;
	int reply_fd;		/* written after a verdict: the core is waiting */
	pid_t self;

	const char *content[MAX_PATHS];
	int n_content;
	const char *lkg_dir, *store_dir, *placeholders;
	const char *trusted;	/* trusted key file or directory, or NULL */
	uint64_t start_gen;	/* RELOAD records up to this one are stale */

	struct ruleset *rs;
	int which;		/* ENGINE_CONTENT_* of rs */
	struct ruleset_stats base;	/* stats of sets retired */
	struct rw_event *ev, *alert, *rec;
	uint64_t ev_pos;	/* ring position of the event being evaluated */
	bool denied;		/* a block rule matched the verdict request */
};

static struct engine *the_engine;	/* for the out-of-memory note */

static void beat(struct engine *e)
{
	atomic_fetch_add_explicit(&e->c->heartbeat, 1, memory_order_relaxed);
}

static void on_oom(void)
{
	if (the_engine)
		atomic_store(&the_engine->c->note, ENGINE_NOTE_OOM);
	abort();
}

/* Append a record to the alert ring, waiting (heartbeat on) while the core
 * has not drained it: nothing is dropped, and the event it is about stays
 * unconsumed until it is in. */
static void put_out(struct engine *e, uint16_t type, uint64_t tag, uint32_t tag2,
		    const struct rw_event *ev)
{
	struct timespec ms = { 0, 1000000 };
	int err;

	while ((err = shm_ring__put_event(&e->m.al, type, tag, tag2, ev)) == -ENOSPC) {
		beat(e);
		nanosleep(&ms, NULL);
	}
	if (err) {
		atomic_store(&e->c->note, ENGINE_NOTE_PROTOCOL);
		fprintf(stderr, "ringward engine: alert ring: %s\n", strerror(-err));
		_exit(5);
	}
}

/* The same for a record without payload. */
static void put_ctl(struct engine *e, uint16_t type, uint64_t tag, uint32_t tag2)
{
	struct timespec ms = { 0, 1000000 };
	int err;

	while ((err = shm_ring__put(&e->m.al, type, tag, tag2, NULL, 0)) == -ENOSPC) {
		beat(e);
		nanosleep(&ms, NULL);
	}
	if (err) {
		atomic_store(&e->c->note, ENGINE_NOTE_PROTOCOL);
		_exit(5);
	}
}

static void stats_out(struct engine *e)
{
	struct ruleset_stats st = { 0 };

	if (e->rs)
		ruleset__stats(e->rs, &st);
	atomic_store_explicit(&e->c->st[ES_EVALUATIONS], e->base.evaluations + st.evaluations,
			      memory_order_relaxed);
	atomic_store_explicit(&e->c->st[ES_MATCHES], e->base.matches + st.matches,
			      memory_order_relaxed);
	atomic_store_explicit(&e->c->st[ES_DISABLED_OOB], e->base.disabled_oob + st.disabled_oob,
			      memory_order_relaxed);
	atomic_store_explicit(&e->c->st[ES_BAD_VALUES], e->base.bad_values + st.bad_values,
			      memory_order_relaxed);
	atomic_store_explicit(&e->c->st[ES_RE_ERRORS], e->base.re_errors + st.re_errors,
			      memory_order_relaxed);
}

/* ---- verdicts (protect mode) ---- */

static bool is_block(const struct rule_info *ri)
{
	return ri && ri->action && !strcmp(ri->action, "block");
}

/* Does every value rule r reads come from field f (the file's path)? Then
 * the verdict depends on the file alone and the core may cache it. */
static bool reads_only(const struct rule *r, enum rw_field f)
{
	for (uint32_t i = 0; i < r->n_items; i++)
		if (r->items[i].ecs != f)
			return false;
	for (uint32_t i = 0; i < r->n_pats; i++)
		if (r->pats[i].kind >= PK_REF_EQ && sigma_fields[r->pats[i].ref].ecs != f)
			return false;
	return true;
}

/* BLOCK_* of a rule set: which permission events the core must ask about,
 * what a missed deadline means, whether verdicts may be cached. */
static uint32_t block_summary(struct ruleset *rs)
{
	uint32_t fl = BLOCK_EXEC_CACHEABLE | BLOCK_OPEN_CACHEABLE;

	for (size_t i = 0; i < ruleset__count(rs); i++) {
		const struct rule_info *ri = ruleset__rule(rs, i);
		const struct rule *r = ruleset__compiled(rs, i);

		if (!is_block(ri) || !r || ri->killed)
			continue;
		if (r->cat == SC_PROCESS_CREATION) {
			fl |= BLOCK_EXEC | (ri->fail_closed ? BLOCK_EXEC_FAIL_CLOSED : 0);
			if (!reads_only(r, RW_F_PROC_EXECUTABLE))
				fl &= ~BLOCK_EXEC_CACHEABLE;
		} else if (r->cat == SC_FILE_ACCESS) {
			fl |= BLOCK_OPEN | (ri->fail_closed ? BLOCK_OPEN_FAIL_CLOSED : 0);
			if (!reads_only(r, RW_F_FILE_PATH))
				fl &= ~BLOCK_OPEN_CACHEABLE;
		}
	}
	return fl;
}

/* ---- content ---- */

static void copy_str(char *dst, size_t size, const char *s)
{
	size_t n = s ? strnlen(s, size - 1) : 0;

	if (n)
		memcpy(dst, s, n);
	dst[n] = 0;
}

/* "name@version" of the bundles of rs ("" for plain content). */
static void label_of(const struct ruleset *rs, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = 0;
	for (size_t i = 0; i < ruleset__bundles(rs) && used < size; i++) {
		const struct content_info *ci = ruleset__content_info(rs, i);
		int n = snprintf(buf + used, size - used, "%s%s@%lld", i ? "," : "",
				 ci->name ? ci->name : "?", (long long)ci->version);

		if (n < 0)
			break;
		used += (size_t)n;
	}
}

/* Name the rules of rs in the table not in use, then switch to it. */
static void publish(struct engine *e, const struct ruleset *rs)
{
	unsigned t = !atomic_load(&e->c->table);
	struct rule_slot *slots = engine_shm__rules(&e->m, t);
	size_t n = ruleset__count(rs);

	if (n > ENGINE_RULE_SLOTS)
		n = ENGINE_RULE_SLOTS;
	for (size_t i = 0; i < n; i++) {
		const struct rule_info *ri = ruleset__rule(rs, i);

		copy_str(slots[i].id, sizeof(slots[i].id), ri->id);
		copy_str(slots[i].title, sizeof(slots[i].title), ri->title);
	}
	atomic_store(&e->c->n_rules[t], (uint32_t)n);
	label_of(rs, e->c->label[t], sizeof(e->c->label[t]));
	atomic_store(&e->c->cur_rule, ENGINE_NO_RULE);
	atomic_store(&e->c->table, t);
}

static int paths_of(struct engine *e, int which, const char **paths)
{
	if (which == ENGINE_CONTENT_LKG) {
		static char saved[PATH_MAX];

		/* an engine started before any LKG existed has no --lkg: the
		 * copy saved since is in its store (readable: the store is
		 * its one writable directory) */
		if (!e->lkg_dir && e->store_dir &&
		    content_store__lkg_dir(e->store_dir, saved, sizeof(saved)))
			e->lkg_dir = saved;
		paths[0] = e->lkg_dir;
		return e->lkg_dir ? 1 : 0;
	}
	for (int i = 0; i < e->n_content; i++)
		paths[i] = e->content[i];
	return e->n_content;
}

/* "signed by KEY[,KEY]" when every rule came from a bundle a trusted key
 * signed, else why not (ruleset__signing_state()). */
static void signing_of(const struct ruleset *rs, char *buf, size_t size)
{
	struct ruleset_signing sg;
	size_t used;

	ruleset__signing(rs, &sg);
	if (!sg.all_signed) {
		snprintf(buf, size, "%s", ruleset__signing_state(rs));
		return;
	}
	used = (size_t)snprintf(buf, size, "signed by ");
	for (size_t i = 0; i < ruleset__bundles(rs) && used < size; i++) {
		const struct content_info *ci = ruleset__content_info(rs, i);
		bool dup = false;
		int n;

		if (!ci->key_id)
			continue;
		for (size_t j = 0; j < i && !dup; j++) {
			const struct content_info *cj = ruleset__content_info(rs, j);

			dup = cj->key_id && !strcmp(cj->key_id, ci->key_id);
		}
		if (dup)
			continue;
		n = snprintf(buf + used, size - used, "%s%s", used > 10 ? "," : "", ci->key_id);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

/* The earliest expiry among the bundles of rs, and which bundle it is: the
 * core compares it with the clock and raises the stale-content alert. */
static void expiry_of(const struct ruleset *rs, struct rw_event *ev)
{
	const struct content_info *first = NULL;
	char label[160];

	for (size_t i = 0; i < ruleset__bundles(rs); i++) {
		const struct content_info *ci = ruleset__content_info(rs, i);

		if (ci->expires > 0 && (!first || ci->expires < first->expires))
			first = ci;
	}
	if (!first)
		return;
	rw_event__set_time(ev, RW_F_RW_CONTENT_EXPIRES, (uint64_t)first->expires * 1000000000ULL);
	snprintf(label, sizeof(label), "%s@%lld", first->name ? first->name : "?",
		 (long long)first->version);
	rw_event__set_cstr(ev, RW_F_RW_CONTENT_EXPIRING, label);
}

static void content_rec(struct engine *e, const char *action, bool ok, const char *reason,
			const char *const *paths, int n, const struct ruleset *rs,
			const struct diag *d)
{
	struct rw_event *ev = e->rec;
	char line[1024];

	rw_event__reset(ev);
	rw_event__set_time(ev, RW_F_TIMESTAMP, rw_clock_ns(CLOCK_REALTIME));
	rw_event__set_cstr(ev, RW_F_EVENT_KIND, "state");
	rw_event__set_cstr(ev, RW_F_EVENT_CATEGORY, "configuration");
	rw_event__set_cstr(ev, RW_F_EVENT_TYPE, ok ? "change" : "error");
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, action);
	rw_event__set_cstr(ev, RW_F_EVENT_MODULE, "ringward");
	rw_event__set_cstr(ev, RW_F_EVENT_OUTCOME, ok ? "success" : "failure");
	rw_event__set_int(ev, RW_F_PROC_PID, e->self);
	if (reason)
		rw_event__set_cstr(ev, RW_F_EVENT_REASON, reason);
	for (int i = 0; i < n; i++)
		rw_event__add_strv(ev, RW_F_RW_CONTENT_PATHS, paths[i], strlen(paths[i]));
	ev->strv_open = -1;
	if (rs) {
		label_of(rs, line, sizeof(line));
		if (line[0])
			rw_event__set_cstr(ev, RW_F_RW_CONTENT_LABEL, line);
		rw_event__set_int(ev, RW_F_RW_CONTENT_RULES, (int64_t)ruleset__count(rs));
		rw_event__set_int(ev, RW_F_RW_CONTENT_FILES, (int64_t)ruleset__files(rs));
		signing_of(rs, line, sizeof(line));
		rw_event__set_cstr(ev, RW_F_RW_CONTENT_SIGNING, line);
		expiry_of(rs, ev);
		for (size_t i = 0; i < ruleset__count(rs); i++) {
			const struct rule_info *ri = ruleset__rule(rs, i);

			if (ri->killed && ri->id)
				rw_event__add_strv(ev, RW_F_RW_CONTENT_KILLED, ri->id, strlen(ri->id));
		}
		ev->strv_open = -1;
	}
	for (size_t i = 0; d && i < d->n && i < MAX_DIAG; i++) {
		diag__format(&d->v[i], line, sizeof(line));
		rw_event__add_strv(ev, RW_F_RW_CONTENT_ERRORS, line, strlen(line));
	}
	ev->strv_open = -1;
}

/* The kill switch: rule ids the core wrote into the store (one per line,
 * from the signed rollout metadata the updater verified), disabled in
 * every set loaded, the last-known-good copy included. */
static void kill_rules(struct engine *e, struct ruleset *rs)
{
	char path[PATH_MAX], buf[16384], *ids[256], *save = NULL, *tok;
	size_t n = 0;
	ssize_t len;
	int fd;

	if (!e->store_dir || snprintf(path, sizeof(path), "%s/killed-rules", e->store_dir) >=
	    (int)sizeof(path))
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return;
	buf[len] = 0;
	for (tok = strtok_r(buf, "\n", &save); tok && n < 256; tok = strtok_r(NULL, "\n", &save))
		if (*tok)
			ids[n++] = tok;
	ruleset__kill_rules(rs, (const char *const *)ids, n);
}

/* Load which content aside for generation gen; swap it in when all of it
 * loaded. Reports the outcome in shared memory and as a record. */
static void load(struct engine *e, int which, uint64_t gen)
{
	struct ruleset_opts ro = { .placeholders_path = e->placeholders,
				   .trusted_keys = &e->trusted, .n_trusted_keys = e->trusted ? 1 : 0,
				   /* the anti-rollback floor lives in the store, the
				    * one place the engine may write */
				   .versions_dir = e->store_dir,
				   .last_known_good = which == ENGINE_CONTENT_LKG };
	const char *paths[MAX_PATHS];
	int n = paths_of(e, which, paths);
	struct ruleset *rs = NULL;
	struct diag d;
	char reason[256];

	diag__init(&d);
	atomic_store(&e->c->cur_rule, ENGINE_NO_RULE);
	atomic_store(&e->c->loading_gen, gen);
	atomic_store(&e->c->phase, ENGINE_PHASE_LOADING);
	beat(e);
	if (n > 0)
		rs = ruleset__load_opts(paths, n, &ro, &d);
	if (rs)
		kill_rules(e, rs);
	if (n <= 0)
		diag__add(&d, DIAG_ERROR, NULL, 0, 0, NULL, "no content to load");
	beat(e);
	if (!rs) {
		snprintf(reason, sizeof(reason), "%zu error(s) in content; %s", d.n_errors,
			 e->rs ? "the previous content stays active" : "no content is active");
		fprintf(stderr, "ringward engine: content failed to load (%zu errors)\n",
			d.n_errors);
		diag__print(&d, stderr);
		content_rec(e, "content-load-failed", false, reason, paths, n, NULL, &d);
		atomic_store(&e->c->load_result, -EINVAL);
	} else {
		if (e->rs) {
			struct ruleset_stats st;

			ruleset__stats(e->rs, &st);
			e->base.evaluations += st.evaluations;
			e->base.matches += st.matches;
			e->base.disabled_oob += st.disabled_oob;
			e->base.bad_values += st.bad_values;
			e->base.re_errors += st.re_errors;
		}
		publish(e, rs);
		ruleset__set_probe(rs, (volatile uint32_t *)&e->c->cur_rule);
		ruleset__free(e->rs);
		e->rs = rs;
		e->which = which;
		atomic_store(&e->c->loaded_rules, (uint32_t)ruleset__count(rs));
		atomic_store(&e->c->block_flags, block_summary(rs));
		atomic_store(&e->c->loaded_gen, gen);
		atomic_store(&e->c->load_result, 0);
		content_rec(e, "content-loaded", true, NULL, paths, n, rs, NULL);
	}
	atomic_store(&e->c->load_done_gen, gen);
	put_out(e, WIRE_RECORD, gen, 0, e->rec);
	stats_out(e);
	atomic_store(&e->c->phase, ENGINE_PHASE_RUNNING);
	diag__free(&d);
}

/* Save the running (operator's) content as the last-known-good copy. */
static void save_lkg(struct engine *e, uint64_t seq)
{
	struct ruleset_opts ro = { .placeholders_path = e->placeholders,
				   .trusted_keys = &e->trusted, .n_trusted_keys = e->trusted ? 1 : 0 };
	const char *paths[MAX_PATHS];
	int n = paths_of(e, ENGINE_CONTENT_CONFIGURED, paths), err = -ENOENT;
	struct diag d;
	char reason[256] = "";

	diag__init(&d);
	atomic_store(&e->c->phase, ENGINE_PHASE_SAVING);
	beat(e);
	if (e->rs && e->which == ENGINE_CONTENT_CONFIGURED && n > 0 && e->store_dir)
		err = content_store__save_lkg_opts(e->store_dir, paths, n, &ro, &d);
	beat(e);
	if (err)
		snprintf(reason, sizeof(reason), "saving the last-known-good copy failed: %s",
			 strerror(-err));
	content_rec(e, err ? "content-lkg-save-failed" : "content-lkg-saved", !err,
		    err ? reason : NULL, paths, n, err ? NULL : e->rs, &d);
	atomic_store(&e->c->lkg_result, err);
	atomic_store(&e->c->lkg_done_seq, seq);
	put_out(e, WIRE_RECORD, seq, 1, e->rec);
	atomic_store(&e->c->phase, ENGINE_PHASE_RUNNING);
	diag__free(&d);
}

/* ---- evaluation ---- */

static int on_match(const struct rule_info *rule, const struct rw_event *ev, void *ctx)
{
	struct engine *e = ctx;
	const struct rule_info *first = ruleset__rule(e->rs, 0);
	size_t i = (size_t)(rule - first);
	struct rule *r = ruleset__compiled(e->rs, i);

	if (r && r->fault)	/* test only: --test-faults rules */
		fault__trigger(r->fault, on_oom);
	alert__build(e->alert, ev, rule);
	put_out(e, WIRE_ALERT, e->ev_pos, (uint32_t)i, e->alert);
	atomic_fetch_add_explicit(&e->c->st[ES_ALERTS], 1, memory_order_relaxed);
	return 0;
}

/* A verdict request: only block rules count; the first that matches makes
 * the alert (the core adds what was done) and the verdict is deny. */
static int on_verdict_match(const struct rule_info *rule, const struct rw_event *ev, void *ctx)
{
	struct engine *e = ctx;
	const struct rule_info *first = ruleset__rule(e->rs, 0);

	if (!is_block(rule))
		return 0;
	e->denied = true;
	alert__build(e->alert, ev, rule);
	put_out(e, WIRE_ALERT, e->ev_pos, (uint32_t)(rule - first), e->alert);
	atomic_fetch_add_explicit(&e->c->st[ES_ALERTS], 1, memory_order_relaxed);
	return 1;	/* one reason is enough */
}

static void verdict(struct engine *e, const struct wire_hdr *h, uint64_t pos)
{
	uint32_t bits = 0, fl = atomic_load(&e->c->block_flags);
	uint64_t one = 1;

	e->denied = false;
	if (!wire__decode_event(h, e->ev, 0) && e->rs) {
		size_t alen = 0;
		const char *a = rw_event__str(e->ev, RW_F_EVENT_ACTION, &alen);
		bool exec = a && alen == 4 && !memcmp(a, "exec", 4);

		e->ev_pos = pos;
		atomic_store(&e->c->cur_rule, ENGINE_NO_RULE);
		atomic_store(&e->c->busy, 1);
		ruleset__match(e->rs, e->ev, on_verdict_match, e);
		atomic_store(&e->c->busy, 0);
		if (fl & (exec ? BLOCK_EXEC_CACHEABLE : BLOCK_OPEN_CACHEABLE))
			bits |= VERDICT_CACHEABLE;
	} else if (!e->rs) {
		bits |= VERDICT_CACHEABLE;	/* nothing loaded: nothing blocks */
	}
	if (e->denied)
		bits |= VERDICT_DENY;
	put_ctl(e, WIRE_VERDICT, h->tag, bits);
	if (e->reply_fd >= 0 && write(e->reply_fd, &one, sizeof(one)) < 0) {
		/* full (EAGAIN): the core has a wakeup pending anyway */
	}
}

static void evaluate(struct engine *e, const struct wire_hdr *h, uint64_t pos)
{
	uint64_t t0;

	if (wire__decode_event(h, e->ev, 0)) {
		atomic_fetch_add_explicit(&e->c->st[ES_DECODE_ERRORS], 1, memory_order_relaxed);
		return;
	}
	atomic_fetch_add_explicit(&e->c->st[ES_EVENTS], 1, memory_order_relaxed);
	if (!e->rs)
		return;
	e->ev_pos = pos;
	atomic_store(&e->c->cur_rule, ENGINE_NO_RULE);
	atomic_store(&e->c->busy, 1);
	t0 = rw_clock_ns(CLOCK_MONOTONIC);
	ruleset__match(e->rs, e->ev, on_match, e);
	atomic_fetch_add_explicit(&e->c->st[ES_EVAL_NS], rw_clock_ns(CLOCK_MONOTONIC) - t0,
				  memory_order_relaxed);
	atomic_store(&e->c->busy, 0);
	atomic_store(&e->c->cur_rule, ENGINE_NO_RULE);
}

/* Everything in the ring, in order. Returns when it is empty. */
static void drain(struct engine *e)
{
	const struct wire_hdr *h;
	uint64_t pos;
	int err;

	while ((h = shm_ring__peek(&e->m.ev, &pos, &err))) {
		beat(e);
		switch (h->type) {
		case WIRE_EVENT:
			evaluate(e, h, pos);
			break;
		case WIRE_VERDICT_Q:
			verdict(e, h, pos);
			break;
		case WIRE_RELOAD:
			/* the start load already reflects reloads issued
			 * before this engine was started */
			if (h->tag > e->start_gen)
				load(e, (int)h->tag2, h->tag);
			break;
		case WIRE_SAVE_LKG:
			save_lkg(e, h->tag);
			break;
		case WIRE_STOP:
			shm_ring__pop(&e->m.ev, h);
			stats_out(e);
			fflush(stderr);
			_exit(0);	/* no atexit work: seccomp allows none of it */
		default:
			atomic_fetch_add_explicit(&e->c->st[ES_DECODE_ERRORS], 1,
						  memory_order_relaxed);
		}
		shm_ring__pop(&e->m.ev, h);
		stats_out(e);
	}
	if (err) {
		atomic_store(&e->c->note, ENGINE_NOTE_PROTOCOL);
		fprintf(stderr, "ringward engine: event ring: %s\n", strerror(-err));
		_exit(5);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: ringward engine --ctl-fd N --ring-fd N --wake-fd N --core-pid PID\n"
"                       [--content PATH]... [--lkg DIR] [--store DIR]\n"
"                       [--placeholders FILE] [--trusted-keys PATH]\n"
"                       [--start configured|lkg|none]\n"
"                       [--gen N] [--as-mb N] [--test-faults MASK]\n"
"The detection engine process. Internal: started by `ringward run`, which\n"
"hands it shared memory; not meant to be run by hand.\n");
}

static int sandbox(struct engine *e, uint64_t as_mb)
{
	const char *ro[2 * MAX_PATHS + 3];
	static char linked[MAX_PATHS][PATH_MAX];
	const char *rw[1];
	struct sandbox_opts so = { .ro_paths = ro, .rw_paths = rw, .nofile = 256,
				   .as_bytes = as_mb << 20, .fsize_bytes = 1ULL << 30 };
	struct sandbox_report r;
	int err;

	for (int i = 0; i < e->n_content; i++) {
		struct stat sb;
		char *real;

		ro[so.n_ro++] = e->content[i];
		/* a content path that is a symlink (the updater's current) is
		 * swapped to a sibling of its target on activation: the
		 * directory holding the targets is readable, not only the
		 * target of the moment */
		if (lstat(e->content[i], &sb) == 0 && S_ISLNK(sb.st_mode) &&
		    (real = realpath(e->content[i], NULL))) {
			char *slash = strrchr(real, '/');

			if (slash && slash != real) {
				*slash = 0;
				copy_str(linked[i], sizeof(linked[i]), real);
				ro[so.n_ro++] = linked[i];
			}
			free(real);
		}
	}
	if (e->lkg_dir)
		ro[so.n_ro++] = e->lkg_dir;
	if (e->placeholders)
		ro[so.n_ro++] = e->placeholders;
	if (e->trusted)
		ro[so.n_ro++] = e->trusted;
	if (e->store_dir)
		rw[so.n_rw++] = e->store_dir;
	atomic_store(&e->c->phase, ENGINE_PHASE_SANDBOX);
	err = sandbox__enter(&so, &r);
	copy_str(e->c->sandbox_why, sizeof(e->c->sandbox_why), r.why);
	atomic_store(&e->c->landlock_abi, r.landlock_abi);
	atomic_store(&e->c->sandbox, r.in_force);
	if (err) {
		atomic_store(&e->c->note, ENGINE_NOTE_SANDBOX);
		fprintf(stderr, "ringward engine: cannot enter the sandbox (%s): no content "
			"will be loaded\n", r.why);
	}
	return err;
}

/* The guardrails' protected targets (package lists, system binaries) are
 * read now: the sandbox hides them, and the engine must refuse exactly
 * what `ringward validate` refuses. */
static void prepare_guardrails(void)
{
	struct guard_opts go = { 0 };
	struct diag d;

	diag__init(&d);
	if (guardrails__prepare(&go, &d))
		fprintf(stderr, "ringward engine: guardrails: out of memory\n");
	diag__print(&d, stderr);
	diag__free(&d);
}

int cmd_engine(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ctl-fd", required_argument, NULL, 'C' },
		{ "ring-fd", required_argument, NULL, 'R' },
		{ "wake-fd", required_argument, NULL, 'W' },
		{ "reply-fd", required_argument, NULL, 'Y' },
		{ "core-pid", required_argument, NULL, 'p' },
		{ "content", required_argument, NULL, 'c' },
		{ "lkg", required_argument, NULL, 'l' },
		{ "store", required_argument, NULL, 's' },
		{ "placeholders", required_argument, NULL, 'P' },
		{ "trusted-keys", required_argument, NULL, 'T' },
		{ "start", required_argument, NULL, 'S' },
		{ "gen", required_argument, NULL, 'g' },
		{ "as-mb", required_argument, NULL, 'a' },
		{ "test-faults", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static struct engine eng;
	struct engine *e = &eng;
	int ctl_fd = -1, ring_fd = -1, opt, start = -1;
	pid_t core = 0;
	uint64_t as_mb = 0;
	unsigned faults = 0;

	/* started from the core's fd of its own binary, the kernel names the
	 * process after that fd ("11" in ps/top): say what it is */
	prctl(PR_SET_NAME, "ringward-engine", 0, 0, 0);
	e->wake_fd = -1;
	e->reply_fd = -1;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'C': ctl_fd = atoi(optarg); break;
		case 'R': ring_fd = atoi(optarg); break;
		case 'W': e->wake_fd = atoi(optarg); break;
		case 'Y': e->reply_fd = atoi(optarg); break;
		case 'p': core = (pid_t)atoi(optarg); break;
		case 'c':
			if (e->n_content == MAX_PATHS)
				return 2;
			e->content[e->n_content++] = optarg;
			break;
		case 'l': e->lkg_dir = optarg; break;
		case 's': e->store_dir = optarg; break;
		case 'P': e->placeholders = optarg; break;
		case 'T': e->trusted = optarg; break;
		case 'S':
			start = !strcmp(optarg, "configured") ? ENGINE_CONTENT_CONFIGURED :
				!strcmp(optarg, "lkg") ? ENGINE_CONTENT_LKG :
				!strcmp(optarg, "none") ? -1 : -2;
			if (start == -2) {
				usage(stderr);
				return 2;
			}
			break;
		case 'g': e->start_gen = strtoull(optarg, NULL, 10); break;
		case 'a': as_mb = strtoull(optarg, NULL, 10); break;
		case 'F': faults = (unsigned)strtoul(optarg, NULL, 10) & FAULT__ALL; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (ctl_fd < 0 || ring_fd < 0 || e->wake_fd < 0 || core <= 0) {
		usage(stderr);
		return 2;
	}
	/* die with the core; and if it is already gone, do not start */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != core)
		return 3;
	e->self = getpid();
	if (engine_shm__attach(&e->m, ctl_fd, ring_fd)) {
		fprintf(stderr, "ringward engine: shared memory does not check out\n");
		return 3;
	}
	e->c = e->m.ctl;
	the_engine = e;
	e->ev = rw_event__new();
	e->alert = rw_event__new();
	e->rec = rw_event__new();
	if (!e->ev || !e->alert || !e->rec)
		return 3;
	atomic_store(&e->c->note, ENGINE_NOTE_NONE);
	atomic_store(&e->c->busy, 0);
	atomic_store(&e->c->cur_rule, ENGINE_NO_RULE);
	beat(e);

	prepare_guardrails();
	if (sandbox(e, as_mb))
		return 4;
	fault__switches = faults;	/* test only; 0 unless run --test-faults */
	if (start >= 0)
		load(e, start, e->start_gen);
	atomic_store(&e->c->phase, ENGINE_PHASE_RUNNING);

	for (;;) {
		struct pollfd p = { e->wake_fd, POLLIN, 0 };
		uint64_t v;

		drain(e);
		beat(e);
		if (poll(&p, 1, IDLE_MS) > 0 && read(e->wake_fd, &v, sizeof(v)) < 0 &&
		    errno != EAGAIN)
			break;
	}
	return 5;
}
