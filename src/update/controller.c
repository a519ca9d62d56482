/*
 * The rollout controller's logic (update/controller.h): health reports in,
 * per host and activation state, evidence per release and ring over the
 * same window for hosts on the release and hosts still on older ones, and
 * the promote / hold / halt decisions.
 */
#include "update/controller.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ecs_in.h"
#include "engine/bundle.h"

/* A health record's counters at one time (eval_ns: the total, from the
 * per-event mean times the events). */
struct sample {
	int64_t ts;
	uint64_t restarts, failures, rule_errors, drops, events, eval_ns;
};

/* One activation of one release on one host. */
struct seg {
	int64_t version;
	int64_t activated;
	bool lkg;		/* ran as the last-known-good copy */
	struct sample last;	/* newest at or before now */
	struct sample *first;	/* [n_windows]: oldest at or after each window's
				 * start (ts 0: none); from malloc() */
};

/* A rollback alert: the newest for one version. */
struct rb {
	int64_t version, ts;
};

struct host {
	char *id;		/* from malloc() */
	size_t ring;
	int64_t last_ts;	/* newest record */
	int64_t version;	/* its release; 0: none of the document */
	bool lkg;
	struct seg *segs;	/* from malloc() */
	size_t n_segs, cap_segs;
	struct rb rb[CTL_MAX_RB];
	size_t n_rb;
};

/* A release in flight and the windows of the rings it reached. */
struct flight {
	size_t rel;		/* index into doc->releases */
	size_t cur;		/* last ring reached */
	size_t win[ROLLOUT_MAX_RINGS];
};

struct controller {
	const struct rollout_doc *doc;
	int64_t now;
	int64_t win_start[CTL_MAX_WINDOWS];
	size_t n_windows;
	struct flight fl[CTL_MAX_WINDOWS];
	size_t n_fl;
	struct host *hosts;	/* from malloc() */
	size_t n_hosts, cap_hosts;
	uint32_t *tab;		/* open addressing: host index + 1, 0 empty */
	size_t tab_size;	/* a power of two */
	json_tokener *tok;
	struct ctl_counts counts;
};

const char *ctl_action__name(enum ctl_action a)
{
	return a == CTL_PROMOTE ? "promote" : a == CTL_HALT ? "halt" : "hold";
}

const char *ctl_check__name(enum ctl_check c)
{
	static const char *const n[] = { "off", "pass", "fail", "wait" };

	return n[c];
}

/* ---- time ---- */

/* RFC 3339, whole seconds (rounded down): the ECS reader's parser. */
int controller__parse_time(const char *s, size_t n, int64_t *t)
{
	int64_t ns;
	int err = ecs__parse_time(s, n, &ns);

	if (err)
		return err;
	*t = ns / 1000000000 - (ns % 1000000000 < 0);
	return 0;
}

/* ---- releases in flight ---- */

static size_t last_reached(const struct rollout_doc *doc, const struct rollout_release *r,
			   int64_t now)
{
	size_t cur = 0;

	for (size_t k = 1; k < doc->n_rings; k++)
		if (rollout__reach_time(doc, r, k) <= now)
			cur = k;
	return cur;
}

static int64_t bake_of(const struct rollout_doc *doc, const struct rollout_release *r, size_t k)
{
	return r->urgent ? doc->rings[k].urgent_bake : doc->rings[k].bake;
}

/* How long a release stays watched in its last ring: that ring's bake,
 * or, when it has none, the ring before it's. */
static int64_t watch_of(const struct rollout_doc *doc, const struct rollout_release *r)
{
	size_t last = doc->n_rings - 1;
	int64_t b = bake_of(doc, r, last);

	return b > 0 ? b : bake_of(doc, r, last - 1);
}

static int window_of(struct controller *c, int64_t start, size_t *w)
{
	for (size_t i = 0; i < c->n_windows; i++) {
		if (c->win_start[i] == start) {
			*w = i;
			return 0;
		}
	}
	if (c->n_windows == CTL_MAX_WINDOWS)
		return -E2BIG;
	c->win_start[c->n_windows] = start;
	*w = c->n_windows++;
	return 0;
}

/* Newest first: a release that reached the last ring supersedes every
 * older one. Then reversed, so decisions come oldest first. */
static int plan(struct controller *c)
{
	const struct rollout_doc *doc = c->doc;
	size_t last = doc->n_rings - 1;
	bool superseded = false;
	int err;

	for (size_t i = doc->n_releases; i-- > 0 && !superseded;) {
		const struct rollout_release *r = &doc->releases[i];
		struct flight *f;
		size_t cur;

		if (r->halted || rollout__version_killed(doc, r->version) ||
		    rollout__reach_time(doc, r, 0) > c->now)
			continue;
		cur = last_reached(doc, r, c->now);
		if (cur == last) {
			superseded = true;
			if (c->now >= rollout__reach_time(doc, r, last) + watch_of(doc, r))
				continue;	/* complete */
		}
		if (c->n_fl == CTL_MAX_WINDOWS)
			return -E2BIG;
		f = &c->fl[c->n_fl++];
		f->rel = i;
		f->cur = cur;
		for (size_t k = 0; k <= cur; k++) {
			err = window_of(c, rollout__reach_time(doc, r, k), &f->win[k]);
			if (err)
				return err;
		}
	}
	for (size_t a = 0, b = c->n_fl; b-- > a + 1; a++) {
		struct flight t = c->fl[a];

		c->fl[a] = c->fl[b];
		c->fl[b] = t;
	}
	return 0;
}

struct controller *controller__new(const struct rollout_doc *doc, int64_t now)
{
	struct controller *c;
	int err;

	if (!doc || doc->n_rings < 2 || !doc->salt) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->doc = doc;
	c->now = now;
	c->tab_size = 1024;
	c->tab = calloc(c->tab_size, sizeof(*c->tab));
	c->tok = json_tokener_new_ex(32);
	if (!c->tab || !c->tok) {
		controller__free(c);
		errno = ENOMEM;
		return NULL;
	}
	err = plan(c);
	if (err) {
		controller__free(c);
		errno = -err;
		return NULL;
	}
	return c;
}

void controller__free(struct controller *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_hosts; i++) {
		struct host *h = &c->hosts[i];

		for (size_t j = 0; j < h->n_segs; j++)
			free(h->segs[j].first);
		free(h->segs);
		free(h->id);
	}
	free(c->hosts);
	free(c->tab);
	if (c->tok)
		json_tokener_free(c->tok);
	free(c);
}

const struct ctl_counts *controller__counts(const struct controller *c)
{
	return &c->counts;
}

/* ---- hosts ---- */

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	return h;
}

static int tab_grow(struct controller *c)
{
	size_t n = c->tab_size * 2;
	uint32_t *t = calloc(n, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_hosts; i++) {
		size_t j = hash_str(c->hosts[i].id) & (n - 1);

		while (t[j])
			j = (j + 1) & (n - 1);
		t[j] = (uint32_t)(i + 1);
	}
	free(c->tab);
	c->tab = t;
	c->tab_size = n;
	return 0;
}

static struct host *host_get(struct controller *c, const char *id)
{
	size_t j = hash_str(id) & (c->tab_size - 1);
	struct host *h;

	while (c->tab[j]) {
		h = &c->hosts[c->tab[j] - 1];
		if (!strcmp(h->id, id))
			return h;
		j = (j + 1) & (c->tab_size - 1);
	}
	if (c->n_hosts >= UINT32_MAX - 1)
		return NULL;
	if (c->n_hosts == c->cap_hosts) {
		size_t cap = c->cap_hosts ? c->cap_hosts * 2 : 256;
		struct host *v = realloc(c->hosts, cap * sizeof(*v));

		if (!v)
			return NULL;
		c->hosts = v;
		c->cap_hosts = cap;
	}
	h = &c->hosts[c->n_hosts];
	memset(h, 0, sizeof(*h));
	h->id = strdup(id);
	if (!h->id)
		return NULL;
	h->ring = rollout__ring(id, c->doc->salt, c->doc->rings, c->doc->n_rings);
	c->tab[j] = (uint32_t)++c->n_hosts;
	if (c->n_hosts * 2 > c->tab_size && tab_grow(c)) {
		/* the table still works at this load, only slower */
	}
	return h;
}

static struct seg *seg_get(struct controller *c, struct host *h, int64_t version,
			   int64_t activated)
{
	struct seg *s;

	for (size_t i = 0; i < h->n_segs; i++)
		if (h->segs[i].version == version && h->segs[i].activated == activated)
			return &h->segs[i];
	if (h->n_segs == CTL_MAX_SEGS) {
		/* a host restarting its sensor over and over: forget its
		 * activation seen least recently */
		size_t old = 0;

		for (size_t i = 1; i < h->n_segs; i++)
			if (h->segs[i].last.ts < h->segs[old].last.ts)
				old = i;
		s = &h->segs[old];
		if (s->first)
			memset(s->first, 0, c->n_windows * sizeof(*s->first));
	} else {
		if (h->n_segs == h->cap_segs) {
			size_t cap = h->cap_segs ? h->cap_segs * 2 : 2;
			struct seg *v = realloc(h->segs, cap * sizeof(*v));

			if (!v)
				return NULL;
			h->segs = v;
			h->cap_segs = cap;
		}
		s = &h->segs[h->n_segs];
		s->first = NULL;
		if (c->n_windows) {
			s->first = calloc(c->n_windows, sizeof(*s->first));
			if (!s->first)
				return NULL;
		}
		h->n_segs++;
	}
	s->version = version;
	s->activated = activated;
	s->lkg = false;
	memset(&s->last, 0, sizeof(s->last));
	return s;
}

/* ---- reading one record ---- */

/* o[dotted], nested ("a":{"b":..}), flat ("a.b":..) or mixed. */
static json_object *field(json_object *o, const char *dotted)
{
	json_object *v = NULL;
	char key[64];

	if (!json_object_is_type(o, json_type_object))
		return NULL;
	if (json_object_object_get_ex(o, dotted, &v))
		return v;
	for (const char *dot = strchr(dotted, '.'); dot; dot = strchr(dot + 1, '.')) {
		size_t n = (size_t)(dot - dotted);

		if (n >= sizeof(key))
			break;
		memcpy(key, dotted, n);
		key[n] = 0;
		if (json_object_object_get_ex(o, key, &v) && (v = field(v, dot + 1)))
			return v;
	}
	return NULL;
}

static const char *str_field(json_object *o, const char *dotted)
{
	json_object *v = field(o, dotted);

	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static int bad(char *err, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int bad(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (err && size) {
		va_start(ap, fmt);
		vsnprintf(err, size, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int time_field(json_object *o, const char *dotted, int64_t *t)
{
	const char *s = str_field(o, dotted);

	return s ? controller__parse_time(s, strlen(s), t) : -EINVAL;
}

static bool count_field(json_object *o, const char *dotted, uint64_t *out)
{
	json_object *v = field(o, dotted);
	int64_t x;

	if (!json_object_is_type(v, json_type_int))
		return false;
	errno = 0;
	x = json_object_get_int64(v);
	if (x < 0 || errno)
		return false;
	*out = (uint64_t)x;
	return true;
}

static const struct rollout_release *release_of(const struct rollout_doc *doc, int64_t v)
{
	size_t lo = 0, hi = doc->n_releases;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (doc->releases[mid].version == v)
			return &doc->releases[mid];
		if (doc->releases[mid].version < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The release a label "NAME@VERSION[,...]" names, or 0. */
static int64_t label_version(const struct rollout_doc *doc, const char *label)
{
	const char *p = label;

	while (p && *p) {
		const char *end = strchr(p, ','), *at;
		size_t n = end ? (size_t)(end - p) : strlen(p);
		const struct rollout_release *r;
		char name[256], want[300];
		long long v = 0;
		size_t nl, vl;

		at = memrchr(p, '@', n);
		nl = at ? (size_t)(at - p) : 0;
		vl = at ? n - nl - 1 : 0;
		if (at && nl > 0 && nl < sizeof(name) && vl > 0 && vl < 19) {
			bool ok = true;

			for (size_t i = 0; i < vl; i++) {
				if (at[1 + i] < '0' || at[1 + i] > '9')
					ok = false;
				v = v * 10 + (at[1 + i] - '0');
			}
			memcpy(name, p, nl);
			name[nl] = 0;
			r = ok ? release_of(doc, v) : NULL;
			if (r) {
				size_t tl = strlen(r->target);
				char suffix[40];

				snprintf(want, sizeof(want), "%s-%lld.rwb", name, v);
				snprintf(suffix, sizeof(suffix), "-%lld.rwb", v);
				/* a target named NAME-VERSION.rwb must be this
				 * bundle's; any other name goes by version */
				if (!strcmp(r->target, want) ||
				    tl < strlen(suffix) ||
				    strcmp(r->target + tl - strlen(suffix), suffix))
					return v;
			}
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}

static int host_id(json_object *o, const char *what, const char **id, char *err, size_t size)
{
	*id = str_field(o, "host.id");
	if (!*id || !**id)
		return bad(err, size, "%s without host.id", what);
	if (strlen(*id) > CTL_MAX_HOST_ID)
		return bad(err, size, "%s: host.id longer than %d bytes", what, CTL_MAX_HOST_ID);
	return 0;
}

static int take_health(struct controller *c, json_object *o, char *err, size_t size)
{
	static const char *const keys[] = { "ringward.health.engine_restarts",
		"ringward.health.engine_failures", "ringward.health.rule_errors",
		"ringward.health.drops", "ringward.health.events",
		"ringward.health.eval_ns_per_event" };
	uint64_t v[6];
	struct sample smp = { 0 };
	const char *id, *label, *src;
	int64_t activated, version;
	struct host *h;
	struct seg *s;
	bool lkg;

	if (host_id(o, "content-health record", &id, err, size))
		return -EINVAL;
	if (time_field(o, "@timestamp", &smp.ts) || smp.ts <= 0)
		return bad(err, size, "content-health record: @timestamp is not an RFC 3339 time");
	if (time_field(o, "ringward.health.activated", &activated))
		return bad(err, size, "content-health record: ringward.health.activated is not an "
			   "RFC 3339 time");
	for (size_t i = 0; i < 6; i++)
		if (!count_field(o, keys[i], &v[i]))
			return bad(err, size, "content-health record: %s is missing or not an integer "
				   ">= 0", keys[i]);
	label = str_field(o, "ringward.content.label");
	src = str_field(o, "ringward.content.source");
	if (field(o, "ringward.content.label") && !label)
		return bad(err, size, "content-health record: ringward.content.label is not text");
	if (smp.ts > c->now) {
		c->counts.future++;
		return 1;
	}
	lkg = src && !strcmp(src, "last-known-good");
	smp.restarts = v[0];
	smp.failures = v[1];
	smp.rule_errors = v[2];
	smp.drops = v[3];
	smp.events = v[4];
	if (__builtin_mul_overflow(v[5], v[4], &smp.eval_ns))
		return bad(err, size, "content-health record: evaluation time beyond 2^64 ns");
	version = label ? label_version(c->doc, label) : 0;
	h = host_get(c, id);
	if (!h)
		return -ENOMEM;
	c->counts.health++;
	if (smp.ts >= h->last_ts) {
		h->last_ts = smp.ts;
		h->version = version;
		h->lkg = lkg;
	}
	if (!version) {
		c->counts.unmapped++;
		return 0;
	}
	s = seg_get(c, h, version, activated);
	if (!s)
		return -ENOMEM;
	s->lkg |= lkg;
	if (smp.ts >= s->last.ts)
		s->last = smp;
	for (size_t w = 0; w < c->n_windows; w++)
		if (smp.ts >= c->win_start[w] && (!s->first[w].ts || smp.ts < s->first[w].ts))
			s->first[w] = smp;
	return 0;
}

static int take_rollback(struct controller *c, json_object *o, char *err, size_t size)
{
	const char *id, *label;
	int64_t ts, version;
	struct host *h;
	size_t i;

	if (host_id(o, "rollback alert", &id, err, size))
		return -EINVAL;
	if (time_field(o, "@timestamp", &ts) || ts <= 0)
		return bad(err, size, "rollback alert: @timestamp is not an RFC 3339 time");
	if (ts > c->now) {
		c->counts.future++;
		return 1;
	}
	label = str_field(o, "ringward.content.label");
	version = label ? label_version(c->doc, label) : 0;
	h = host_get(c, id);
	if (!h)
		return -ENOMEM;
	c->counts.rollbacks++;
	if (!version) {
		c->counts.unmapped++;
		return 0;
	}
	for (i = 0; i < h->n_rb; i++)
		if (h->rb[i].version == version)
			break;
	if (i == h->n_rb) {
		if (h->n_rb == CTL_MAX_RB) {
			/* keep the newest alerts */
			i = 0;
			for (size_t j = 1; j < h->n_rb; j++)
				if (h->rb[j].ts < h->rb[i].ts)
					i = j;
		} else {
			h->n_rb++;
		}
		h->rb[i].version = version;
		h->rb[i].ts = 0;
	}
	if (ts > h->rb[i].ts)
		h->rb[i].ts = ts;
	return 0;
}

int controller__ingest(struct controller *c, const char *line, size_t len, char *err,
		       size_t errsize)
{
	enum json_tokener_error je;
	json_object *o;
	const char *action, *rule;
	size_t end, i;
	int ret;

	if (err && errsize)
		err[0] = 0;
	c->counts.lines++;
	for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' ||
				line[i] == '\n'); i++)
		;
	if (i == len) {
		c->counts.ignored++;
		return 1;
	}
	if (len > CTL_MAX_LINE) {
		c->counts.malformed++;
		return bad(err, errsize, "line longer than %d bytes", CTL_MAX_LINE);
	}
	if (memchr(line, 0, len)) {
		c->counts.malformed++;
		return bad(err, errsize, "NUL byte in the line");
	}
	json_tokener_reset(c->tok);
	o = json_tokener_parse_ex(c->tok, line, (int)len);
	je = json_tokener_get_error(c->tok);
	if (!o || je != json_tokener_success) {
		json_object_put(o);
		c->counts.malformed++;
		return bad(err, errsize, "not JSON: %s", je == json_tokener_continue ?
			   "truncated" : json_tokener_error_desc(je));
	}
	end = json_tokener_get_parse_end(c->tok);
	for (; end < len; end++)
		if (line[end] != ' ' && line[end] != '\t' && line[end] != '\r' && line[end] != '\n')
			break;
	if (end < len || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		c->counts.malformed++;
		return bad(err, errsize, end < len ? "not JSON: more after the object" :
			   "not a JSON object");
	}
	action = str_field(o, "event.action");
	rule = str_field(o, "rule.name");
	if (action && !strcmp(action, CTL_HEALTH_ACTION)) {
		ret = take_health(c, o, err, errsize);
	} else if (rule && !strcmp(rule, CTL_ROLLBACK_RULE)) {
		ret = take_rollback(c, o, err, errsize);
	} else {
		c->counts.ignored++;
		ret = 1;
	}
	json_object_put(o);
	if (ret == -EINVAL)
		c->counts.malformed++;
	return ret;
}

/* ---- evidence ---- */

/* One host's share of one side, over one window. */
struct acc {
	bool any, failed, rule;
	uint64_t restarts, failures, rule_errors, drops, events, eval_ns, seconds;
};

static uint64_t delta(uint64_t last, uint64_t base)
{
	/* a counter that went down was reset: what it says now is new */
	return last >= base ? last - base : last;
}

/* Add seg's counters over window w (start s) to a; false when it has no
 * sample in the window. */
static bool acc_seg(struct acc *a, const struct seg *seg, size_t w, int64_t s)
{
	struct sample base = { 0 };
	uint64_t r, f, e;

	if (!seg->last.ts || seg->last.ts < s)
		return false;
	if (seg->activated >= s)
		base.ts = seg->activated;	/* counters start at 0 then */
	else
		base = seg->first[w];
	r = delta(seg->last.restarts, base.restarts);
	f = delta(seg->last.failures, base.failures);
	e = delta(seg->last.rule_errors, base.rule_errors);
	a->any = true;
	a->failed |= r > 0 || f > 0;
	a->rule |= e > 0;
	a->restarts += r;
	a->failures += f;
	a->rule_errors += e;
	a->drops += delta(seg->last.drops, base.drops);
	a->events += delta(seg->last.events, base.events);
	a->eval_ns += delta(seg->last.eval_ns, base.eval_ns);
	if (seg->last.ts > base.ts)
		a->seconds += (uint64_t)(seg->last.ts - base.ts);
	return true;
}

static void add_host(struct ctl_stats *st, const struct acc *a, bool rolled)
{
	st->hosts++;
	st->failed_hosts += a->failed || rolled;
	st->rollback_hosts += rolled;
	st->rule_error_hosts += a->rule;
	st->engine_restarts += a->restarts;
	st->engine_failures += a->failures;
	st->rule_errors += a->rule_errors;
	st->events += a->events;
	st->drops += a->drops;
	st->eval_ns += a->eval_ns;
	st->host_seconds += a->seconds;
}

static void finish(struct ctl_stats *st)
{
	uint64_t seen = st->events + st->drops;

	st->drop_ppm = seen ? (double)st->drops * 1e6 / (double)seen : 0;
	st->eval_ns_per_event = st->events ? (double)st->eval_ns / (double)st->events : 0;
	st->cpu_permille = st->host_seconds ? (double)st->eval_ns / (double)st->host_seconds / 1e6 :
			   0;
}

/* Did host h roll back from version v within the window starting at s?
 * An alert says so; so does an activation of last-known-good content
 * after an activation of v (the alert may not have reached the
 * pipeline). */
static bool rolled_back(const struct host *h, int64_t v, int64_t s)
{
	for (size_t i = 0; i < h->n_rb; i++)
		if (h->rb[i].version == v && h->rb[i].ts >= s)
			return true;
	for (size_t i = 0; i < h->n_segs; i++) {
		if (h->segs[i].version != v)
			continue;
		for (size_t j = 0; j < h->n_segs; j++)
			if (h->segs[j].lkg && h->segs[j].version != v &&
			    h->segs[j].activated >= h->segs[i].activated && h->segs[j].last.ts >= s)
				return true;
	}
	return false;
}

/* Is v a release good enough to compare with: listed, not halted, not killed? */
static bool baseline_ok(const struct rollout_doc *doc, int64_t v)
{
	const struct rollout_release *r = release_of(doc, v);

	return r && !r->halted && !rollout__version_killed(doc, v);
}

/* Gates in force in ring k: its own, or, when it sets none, the nearest
 * earlier ring's that does. */
static struct rollout_gates gates_of(const struct rollout_doc *doc, size_t k)
{
	for (size_t i = k + 1; i-- > 0;) {
		const struct rollout_gates *g = &doc->rings[i].gates;

		if (g->max_engine_restarts >= 0 || g->max_rule_errors >= 0 ||
		    g->max_drop_ppm >= 0 || g->max_cpu_permille >= 0 || g->min_hosts > 0)
			return *g;
	}
	return doc->rings[k].gates;
}

static double sqrt_pos(double x)
{
	double r = x > 1 ? x : 1;

	if (x <= 0)
		return 0;
	for (int i = 0; i < 64; i++)
		r = 0.5 * (r + x / r);
	return r;
}

static enum ctl_check count_check(int64_t gate, uint64_t n_new, uint64_t bad_new,
				  const struct ctl_stats *old, uint64_t bad_old, double *expected,
				  double *limit)
{
	*expected = old->hosts ? (double)n_new * (double)bad_old / (double)old->hosts : 0;
	*limit = *expected + CTL_SIGMAS * sqrt_pos(*expected) + (gate > 0 ? (double)gate : 0);
	if (gate < 0)
		return CTL_CHECK_OFF;
	return (double)bad_new > *limit ? CTL_CHECK_FAIL : CTL_CHECK_PASS;
}

static void evaluate(const struct controller *c, const struct rollout_release *r, size_t k,
		     size_t w, struct ctl_evidence *ev)
{
	const struct rollout_doc *doc = c->doc;
	int64_t s = c->win_start[w], v = r->version;

	memset(ev, 0, sizeof(*ev));
	ev->ring = k;
	ev->start = s;
	ev->end = c->now;
	ev->gates = gates_of(doc, k);
	ev->min_hosts = ev->gates.min_hosts > 1 ? ev->gates.min_hosts : 1;
	for (size_t i = 0; i < c->n_hosts; i++) {
		const struct host *h = &c->hosts[i];
		bool rolled = rolled_back(h, v, s), old_rb = false;
		struct acc a = { 0 };

		for (size_t j = 0; j < h->n_segs; j++)
			if (h->segs[j].version == v)
				acc_seg(&a, &h->segs[j], w, s);
		if (a.any || rolled) {
			/* on the new version: counts for its own ring only */
			if (h->ring == k)
				add_host(&ev->new_v, &a, rolled);
			continue;
		}
		for (size_t j = 0; j < h->n_segs; j++)
			if (h->segs[j].version < v && baseline_ok(doc, h->segs[j].version))
				acc_seg(&a, &h->segs[j], w, s);
		for (size_t j = 0; j < h->n_rb; j++)
			if (h->rb[j].version < v && h->rb[j].ts >= s)
				old_rb = true;
		if (a.any || old_rb)
			add_host(&ev->old_v, &a, old_rb);
	}
	finish(&ev->new_v);
	finish(&ev->old_v);
	ev->failed = count_check(ev->gates.max_engine_restarts, ev->new_v.hosts,
				 ev->new_v.failed_hosts, &ev->old_v, ev->old_v.failed_hosts,
				 &ev->expected_failed, &ev->limit_failed);
	ev->rule = count_check(ev->gates.max_rule_errors, ev->new_v.hosts,
			       ev->new_v.rule_error_hosts, &ev->old_v, ev->old_v.rule_error_hosts,
			       &ev->expected_rule, &ev->limit_rule);
	ev->hosts = ev->new_v.hosts >= (uint64_t)ev->min_hosts ? CTL_CHECK_PASS : CTL_CHECK_WAIT;
	/* the same period on both sides: what the old side shows is what the
	 * fleet's load did, the rest is the new content's */
	ev->excess_drop_ppm = ev->new_v.drop_ppm - ev->old_v.drop_ppm;
	ev->excess_cpu_permille = ev->new_v.host_seconds ?
		(ev->new_v.eval_ns_per_event - ev->old_v.eval_ns_per_event) *
		(double)ev->new_v.events / (double)ev->new_v.host_seconds / 1e6 : 0;
	if (ev->gates.max_drop_ppm < 0)
		ev->drop = CTL_CHECK_OFF;
	else if (ev->hosts == CTL_CHECK_WAIT)
		ev->drop = CTL_CHECK_WAIT;
	else
		ev->drop = ev->excess_drop_ppm > (double)ev->gates.max_drop_ppm ? CTL_CHECK_FAIL :
			   CTL_CHECK_PASS;
	if (ev->gates.max_cpu_permille < 0)
		ev->cpu = CTL_CHECK_OFF;
	else if (ev->hosts == CTL_CHECK_WAIT)
		ev->cpu = CTL_CHECK_WAIT;
	else
		ev->cpu = ev->excess_cpu_permille > (double)ev->gates.max_cpu_permille ?
			  CTL_CHECK_FAIL : CTL_CHECK_PASS;
}

static bool halts(const struct ctl_evidence *ev)
{
	return ev->failed == CTL_CHECK_FAIL || ev->rule == CTL_CHECK_FAIL ||
	       ev->drop == CTL_CHECK_FAIL || ev->cpu == CTL_CHECK_FAIL;
}

static void why(struct ctl_decision *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void why(struct ctl_decision *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
}

static void halt_reason(const struct controller *c, struct ctl_decision *d)
{
	const struct ctl_evidence *ev = &d->ev;
	const struct ctl_stats *n = &ev->new_v, *o = &ev->old_v;
	const char *rn = c->doc->rings[ev->ring].name;
	long long v = (long long)d->version;

	if (ev->failed == CTL_CHECK_FAIL)
		why(d, "engine failures in %s: %llu of %llu hosts on %lld failed or rolled back "
		    "(%llu rollbacks), above the limit of %.1f (older releases: %llu of %llu hosts)",
		    rn, (unsigned long long)n->failed_hosts, (unsigned long long)n->hosts, v,
		    (unsigned long long)n->rollback_hosts, ev->limit_failed,
		    (unsigned long long)o->failed_hosts, (unsigned long long)o->hosts);
	else if (ev->rule == CTL_CHECK_FAIL)
		why(d, "rule errors in %s: %llu of %llu hosts on %lld (%llu errors), above the "
		    "limit of %.1f (older releases: %llu of %llu hosts)", rn,
		    (unsigned long long)n->rule_error_hosts, (unsigned long long)n->hosts, v,
		    (unsigned long long)n->rule_errors, ev->limit_rule,
		    (unsigned long long)o->rule_error_hosts, (unsigned long long)o->hosts);
	else if (ev->drop == CTL_CHECK_FAIL)
		why(d, "drop rate in %s: %.0f ppm on %lld (%llu hosts) against %.0f ppm on older "
		    "releases (%llu hosts) over the same period: %.0f ppm more, gate %lld", rn,
		    n->drop_ppm, v, (unsigned long long)n->hosts, o->drop_ppm,
		    (unsigned long long)o->hosts, ev->excess_drop_ppm,
		    (long long)ev->gates.max_drop_ppm);
	else
		why(d, "evaluation cost in %s: %.0f ns/event on %lld (%llu hosts) against %.0f on "
		    "older releases (%llu hosts) over the same period: %.1f per mille of a CPU "
		    "more, gate %lld", rn, n->eval_ns_per_event, v, (unsigned long long)n->hosts,
		    o->eval_ns_per_event, (unsigned long long)o->hosts, ev->excess_cpu_permille,
		    (long long)ev->gates.max_cpu_permille);
}

static void decide_one(const struct controller *c, const struct flight *f,
		       struct ctl_decision *d)
{
	const struct rollout_doc *doc = c->doc;
	const struct rollout_release *r = &doc->releases[f->rel];
	size_t last = doc->n_rings - 1;
	char t[32], t2[32];

	memset(d, 0, sizeof(*d));
	d->version = r->version;
	d->target = r->target;
	d->urgent = r->urgent;
	d->ring = f->cur;
	d->reached = rollout__reach_time(doc, r, f->cur);
	d->bake = f->cur == last ? watch_of(doc, r) : bake_of(doc, r, f->cur);
	d->baked = c->now - d->reached;
	/* every ring reached so far: a late crash in an earlier ring halts too */
	for (size_t k = 0; k <= f->cur; k++) {
		evaluate(c, r, k, f->win[k], &d->ev);
		if (halts(&d->ev)) {
			d->action = CTL_HALT;
			halt_reason(c, d);
			return;
		}
	}
	d->action = CTL_HOLD;
	bundle__format_time(d->reached, t, sizeof(t));
	if (f->cur == last) {
		bundle__format_time(d->reached + d->bake, t2, sizeof(t2));
		why(d, "in its last ring %s since %s: watched for a halt until %s",
		    doc->rings[last].name, t, t2);
	} else if (d->baked < d->bake) {
		why(d, "baking in %s since %s: %lld of %lld s%s", doc->rings[f->cur].name, t,
		    (long long)d->baked, (long long)d->bake, r->urgent ? " (urgent)" : "");
	} else if (d->ev.hosts == CTL_CHECK_WAIT) {
		why(d, "too few reports from %s: %llu hosts on %lld, %lld needed",
		    doc->rings[f->cur].name, (unsigned long long)d->ev.new_v.hosts,
		    (long long)r->version, (long long)d->ev.min_hosts);
	} else if (r->ring_time[f->cur + 1] > c->now) {
		d->scheduled = r->ring_time[f->cur + 1];
		bundle__format_time(d->scheduled, t2, sizeof(t2));
		why(d, "healthy in %s; the document schedules %s at %s", doc->rings[f->cur].name,
		    doc->rings[f->cur + 1].name, t2);
	} else {
		d->action = CTL_PROMOTE;
		d->next_ring = f->cur + 1;
		why(d, "healthy in %s for %lld s on %llu hosts (%lld needed): on to %s",
		    doc->rings[f->cur].name, (long long)d->baked,
		    (unsigned long long)d->ev.new_v.hosts, (long long)d->ev.min_hosts,
		    doc->rings[d->next_ring].name);
	}
}

int controller__decide(struct controller *c, struct ctl_decision **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!c->n_fl)
		return 0;
	*out = calloc(c->n_fl, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_fl; i++)
		decide_one(c, &c->fl[i], &(*out)[i]);
	*n = c->n_fl;
	return 0;
}

int controller__apply(struct rollout_doc *doc, const struct ctl_decision *d, size_t n,
		      int64_t now, bool *changed)
{
	*changed = false;
	for (size_t i = 0; i < n; i++) {
		struct rollout_release *r = NULL;

		for (size_t j = 0; j < doc->n_releases; j++)
			if (doc->releases[j].version == d[i].version)
				r = &doc->releases[j];
		if (!r)
			return -ENOENT;
		if (d[i].action == CTL_HALT && !r->halted) {
			r->halted = strdup(d[i].reason);
			if (!r->halted)
				return -ENOMEM;
			*changed = true;
		} else if (d[i].action == CTL_PROMOTE && d[i].next_ring < doc->n_rings) {
			r->ring_time[d[i].next_ring] = now;
			*changed = true;
		}
	}
	if (*changed)
		doc->version++;
	return 0;
}

/* ---- JSON for the log ---- */

static void put(json_object *o, const char *k, json_object *v)
{
	if (v && json_object_object_add(o, k, v))
		json_object_put(v);
}

static json_object *u64(uint64_t v)
{
	return json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t)v);
}

/* A double with a fixed number of decimals, as written. */
static json_object *dbl(double v, int decimals)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%.*f", decimals, v);
	return json_object_new_double_s(v, buf);
}

static json_object *time_json(int64_t t)
{
	char buf[32];

	if (t == INT64_MAX)
		return NULL;
	bundle__format_time(t, buf, sizeof(buf));
	return json_object_new_string(buf);
}

static json_object *stats_json(const struct ctl_stats *s)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	put(o, "hosts", u64(s->hosts));
	put(o, "failed_hosts", u64(s->failed_hosts));
	put(o, "rollback_hosts", u64(s->rollback_hosts));
	put(o, "rule_error_hosts", u64(s->rule_error_hosts));
	put(o, "engine_restarts", u64(s->engine_restarts));
	put(o, "engine_failures", u64(s->engine_failures));
	put(o, "rule_errors", u64(s->rule_errors));
	put(o, "events", u64(s->events));
	put(o, "drops", u64(s->drops));
	put(o, "drop_ppm", dbl(s->drop_ppm, 1));
	put(o, "eval_ns_per_event", dbl(s->eval_ns_per_event, 1));
	put(o, "cpu_permille", dbl(s->cpu_permille, 3));
	put(o, "host_seconds", u64(s->host_seconds));
	return o;
}

static json_object *check_json(enum ctl_check st, const char *vk, json_object *val,
			       const char *lk, json_object *limit)
{
	json_object *o = json_object_new_object();

	if (!o) {
		json_object_put(val);
		json_object_put(limit);
		return NULL;
	}
	put(o, "result", json_object_new_string(ctl_check__name(st)));
	put(o, vk, val);
	if (limit)
		put(o, lk, limit);
	return o;
}

static json_object *gates_json(const struct rollout_gates *g)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	if (g->max_engine_restarts >= 0)
		put(o, "max_engine_restarts", json_object_new_int64(g->max_engine_restarts));
	if (g->max_rule_errors >= 0)
		put(o, "max_rule_errors", json_object_new_int64(g->max_rule_errors));
	if (g->max_drop_ppm >= 0)
		put(o, "max_drop_ppm", json_object_new_int64(g->max_drop_ppm));
	if (g->max_cpu_permille >= 0)
		put(o, "max_cpu_permille", json_object_new_int64(g->max_cpu_permille));
	if (g->min_hosts > 0)
		put(o, "min_hosts", json_object_new_int64(g->min_hosts));
	return o;
}

static json_object *evidence_json(const struct controller *c, const struct ctl_evidence *ev)
{
	json_object *o = json_object_new_object(), *w, *ch;

	if (!o)
		return NULL;
	put(o, "ring", json_object_new_string(c->doc->rings[ev->ring].name));
	w = json_object_new_object();
	if (w) {
		put(w, "start", time_json(ev->start));
		put(w, "end", time_json(ev->end));
		put(o, "window", w);
	}
	put(o, "new", stats_json(&ev->new_v));
	put(o, "old", stats_json(&ev->old_v));
	put(o, "gates", gates_json(&ev->gates));
	ch = json_object_new_object();
	if (ch) {
		json_object *f = check_json(ev->failed, "hosts", u64(ev->new_v.failed_hosts),
					    "limit", dbl(ev->limit_failed, 2));

		if (f)
			put(f, "expected", dbl(ev->expected_failed, 2));
		put(ch, "failed_hosts", f);
		f = check_json(ev->rule, "hosts", u64(ev->new_v.rule_error_hosts), "limit",
			       dbl(ev->limit_rule, 2));
		if (f)
			put(f, "expected", dbl(ev->expected_rule, 2));
		put(ch, "rule_error_hosts", f);
		put(ch, "drop_ppm", check_json(ev->drop, "excess", dbl(ev->excess_drop_ppm, 1),
					       "limit", ev->gates.max_drop_ppm >= 0 ?
					       json_object_new_int64(ev->gates.max_drop_ppm) : NULL));
		put(ch, "cpu_permille", check_json(ev->cpu, "excess",
						   dbl(ev->excess_cpu_permille, 3), "limit",
						   ev->gates.max_cpu_permille >= 0 ?
						   json_object_new_int64(ev->gates.max_cpu_permille) :
						   NULL));
		put(ch, "min_hosts", check_json(ev->hosts, "hosts", u64(ev->new_v.hosts), "needed",
						json_object_new_int64(ev->min_hosts)));
		put(o, "checks", ch);
	}
	return o;
}

json_object *controller__decision_json(const struct controller *c,
				       const struct ctl_decision *d)
{
	json_object *o = json_object_new_object(), *b;

	if (!o)
		return NULL;
	put(o, "@timestamp", time_json(c->now));
	put(o, "action", json_object_new_string(ctl_action__name(d->action)));
	put(o, "version", json_object_new_int64(d->version));
	put(o, "target", json_object_new_string(d->target));
	if (d->urgent)
		put(o, "urgent", json_object_new_boolean(1));
	put(o, "ring", json_object_new_string(c->doc->rings[d->ring].name));
	if (d->action == CTL_PROMOTE)
		put(o, "to_ring", json_object_new_string(c->doc->rings[d->next_ring].name));
	put(o, "reason", json_object_new_string(d->reason));
	b = json_object_new_object();
	if (b) {
		put(b, "reached", time_json(d->reached));
		put(b, "needed_s", json_object_new_int64(d->bake));
		put(b, "elapsed_s", json_object_new_int64(d->baked));
		if (d->scheduled)
			put(b, "next_scheduled", time_json(d->scheduled));
		put(o, "bake", b);
	}
	put(o, "evidence", evidence_json(c, &d->ev));
	return o;
}

json_object *controller__census_json(const struct controller *c)
{
	const struct rollout_doc *doc = c->doc;
	json_object *o = json_object_new_object(), *by = json_object_new_object();
	uint64_t lkg = 0, none = 0;

	if (!o || !by) {
		json_object_put(o);
		json_object_put(by);
		return NULL;
	}
	for (size_t i = 0; i < doc->n_releases; i++) {
		uint64_t n[ROLLOUT_MAX_RINGS] = { 0 }, all = 0;
		json_object *r;
		char key[24];

		for (size_t j = 0; j < c->n_hosts; j++)
			if (c->hosts[j].version == doc->releases[i].version) {
				n[c->hosts[j].ring]++;
				all++;
			}
		if (!all || !(r = json_object_new_object()))
			continue;
		for (size_t k = 0; k < doc->n_rings; k++)
			if (n[k])
				put(r, doc->rings[k].name, u64(n[k]));
		snprintf(key, sizeof(key), "%lld", (long long)doc->releases[i].version);
		put(by, key, r);
	}
	for (size_t j = 0; j < c->n_hosts; j++) {
		lkg += c->hosts[j].lkg;
		none += !c->hosts[j].version;
	}
	put(o, "hosts", u64(c->n_hosts));
	put(o, "by_release", by);
	put(o, "last_known_good", u64(lkg));
	put(o, "no_release", u64(none));
	return o;
}
