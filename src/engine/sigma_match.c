/*
 * The naive one-rule-at-a-time evaluator: compiled Sigma rules against one
 * event, straightforwardly, every pattern compared on its own. It is the
 * reference the compiled matcher (sigma_cmatch.c) is tested against, and
 * shares with it the condition walk below (sigma_match.h).
 *
 * Condition nodes by short-circuit, each search at most once per rule
 * (memoised), each item reading its field through sigma_fview__get(), which
 * bounds-checks the field id against the schema and the value against the
 * event's arena. String comparisons are case-insensitive (ASCII) unless
 * the pattern is cased: the event's value is lower-cased once per event
 * and field, the patterns were lower-cased when compiled. Regexes run on
 * Hyperscan, whose matching is linear in the input.
 *
 * Not thread-safe per scratch: one struct match_scratch per thread.
 */
#include "engine/sigma_match.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct match_scratch *match_scratch__new(void)
{
	struct match_scratch *ms = calloc(1, sizeof(*ms));

	if (!ms)
		return NULL;
	ms->epoch = 1;
	ms->low_cap = RW_EVENT_ARENA;
	ms->low = malloc(ms->low_cap);
	if (!ms->low) {
		free(ms);
		errno = ENOMEM;
		return NULL;
	}
	return ms;
}

void match_scratch__free(struct match_scratch *ms)
{
	if (!ms)
		return;
	if (ms->hs)
		hs_free_scratch(ms->hs);
	free(ms->low);
	free(ms);
}

int match_scratch__prepare(struct match_scratch *ms, const hs_database_t *db)
{
	return hs_alloc_scratch(db, &ms->hs) == HS_SUCCESS ? 0 : -ENOMEM;
}

void match_scratch__reset(struct match_scratch *ms, const struct rw_event *ev)
{
	ms->ev = ev;
	ms->low_used = 0;
	/* a new epoch forgets every field's cache at once */
	if (++ms->epoch == 0) {
		for (int i = 0; i < RW_F__COUNT; i++)
			ms->lc[i].epoch = 0;
		ms->epoch = 1;
	}
}

void match_scratch__counts(const struct match_scratch *ms, uint64_t *bad_values,
			   uint64_t *re_errors)
{
	*bad_values = ms->bad_values;
	*re_errors = ms->re_errors;
}

/* ---- field views ---- */

static inline char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

/*
 * A lowered copy of n bytes; STRV lists keep their 4-byte length prefixes
 * untouched. Returns the offset in ms->low, or -1 when it does not fit.
 * ms->low never moves: views handed out earlier in the event point into
 * it. It holds an arena's worth, which the values of one event built by
 * the setters never exceed (each field is lowered at most once); only an
 * event whose values overlap can run out, and then the field reads as
 * absent (counted as a bad value).
 */
static long lower_copy(struct match_scratch *ms, const char *s, size_t n, bool strv)
{
	size_t off = ms->low_used;

	if (ms->low_cap - ms->low_used < n)
		return -1;
	memcpy(ms->low + off, s, n);
	if (!strv) {
		for (size_t i = 0; i < n; i++)
			ms->low[off + i] = lower(s[i]);
	} else {
		size_t pos = 0;
		uint32_t l32;

		while (pos + sizeof(l32) <= n) {
			memcpy(&l32, s + pos, sizeof(l32));
			pos += sizeof(l32);
			if (l32 > n - pos)
				break;
			for (size_t i = 0; i < l32; i++)
				ms->low[off + pos + i] = lower(s[pos + i]);
			pos += l32;
		}
	}
	ms->low_used += n;
	return (long)off;
}

static const char *lowered(struct match_scratch *ms, enum rw_field f, const char *s,
			   size_t n, bool strv)
{
	struct lowcache *c = &ms->lc[f];

	if (c->epoch != ms->epoch) {
		long off = lower_copy(ms, s, n, strv);

		if (off < 0)
			return NULL;
		c->off = (uint32_t)off;
		c->len = (uint32_t)n;
		c->epoch = ms->epoch;
	}
	return ms->low + c->off;
}

/* The value of an ECS field in the event; false when the value lies
 * outside the arena (counted, and treated as absent). */
static bool value_in_arena(struct match_scratch *ms, enum rw_field f)
{
	const struct rw_value *v = &ms->ev->v[f];

	if (v->off > RW_EVENT_ARENA || v->len > RW_EVENT_ARENA - v->off) {
		ms->bad_values++;
		return false;
	}
	return true;
}

static void view_const(struct fview *fv, const char *s, const char *ls)
{
	fv->present = true;
	fv->s = s;
	fv->ls = ls;
	fv->n = strlen(s);
}

int sigma_fview__get(struct match_scratch *ms, enum rw_field f, enum sigma_conv conv,
		     bool lower, struct fview *fv)
{
	const struct rw_event *ev = ms->ev;
	const struct rw_value *v = &ev->v[f];

	memset(fv, 0, sizeof(*fv));
	if (conv == SCONV_RENAME_TARGET) {
		/* a rename's file.path is the old path: read where it landed */
		const struct rw_value *a = &ev->v[RW_F_EVENT_ACTION];

		if (rw_event__has(ev, RW_F_EVENT_ACTION) && rw_event__has(ev, RW_F_FILE_TARGET_PATH) &&
		    value_in_arena(ms, RW_F_EVENT_ACTION) && a->len == 6 &&
		    !memcmp(ev->arena + a->off, "rename", 6)) {
			f = RW_F_FILE_TARGET_PATH;
			v = &ev->v[f];
		}
		conv = SCONV_ASIS;
	}
	if (!rw_event__has(ev, f))
		return 0;
	if (conv != SCONV_ASIS) {
		size_t n;
		const char *a;

		if (rw_schema[f].type != RW_T_STR || !value_in_arena(ms, f))
			return 0;
		a = ev->arena + v->off;
		n = v->len;
		if (conv == SCONV_INITIATED) {
			if (n == 7 && !memcmp(a, "connect", 7))
				view_const(fv, "true", "true");
			else if (n == 6 && !memcmp(a, "accept", 6))
				view_const(fv, "false", "false");
		} else if (conv == SCONV_PIPE_EVENT) {
			if (n == 11 && !memcmp(a, "pipe-create", 11))
				view_const(fv, "CreatePipe", "createpipe");
			else if (n == 9 && !memcmp(a, "pipe-open", 9))
				view_const(fv, "ConnectPipe", "connectpipe");
		}
		return 0;
	}
	switch (rw_schema[f].type) {
	case RW_T_STR:
	case RW_T_STRA:
	case RW_T_RAW:
		if (!value_in_arena(ms, f))
			return 0;
		fv->present = true;
		fv->s = ev->arena + v->off;
		fv->n = v->len;
		if (!lower)
			return 0;
		fv->ls = lowered(ms, f, fv->s, fv->n, false);
		if (!fv->ls) {
			ms->bad_values++;
			memset(fv, 0, sizeof(*fv));
		}
		return 0;
	case RW_T_STRV:
		if (!value_in_arena(ms, f))
			return 0;
		fv->present = true;
		fv->list = true;
		fv->lb = ev->arena + v->off;
		fv->lbytes = v->len;
		if (!lower)
			return 0;
		fv->llb = lowered(ms, f, fv->lb, fv->lbytes, true);
		if (!fv->llb) {
			ms->bad_values++;
			memset(fv, 0, sizeof(*fv));
		}
		return 0;
	case RW_T_BOOL:
		fv->present = true;
		fv->is_num = true;
		fv->num = v->i;
		view_const(fv, v->i ? "true" : "false", v->i ? "true" : "false");
		return 0;
	case RW_T_INT:
	case RW_T_TIME:
	default:
		fv->present = true;
		fv->is_num = true;
		fv->num = v->i;
		if (ms->lc[f].epoch != ms->epoch) {
			snprintf(ms->num[f], sizeof(ms->num[f]), "%lld", (long long)v->i);
			ms->lc[f].epoch = ms->epoch;
		}
		fv->s = fv->ls = ms->num[f];
		fv->n = strlen(ms->num[f]);
		return 0;
	}
}

bool sigma_fview__next(const struct fview *fv, uint32_t *pos, const char **s, const char **ls,
		       size_t *n)
{
	uint32_t l32;

	if (*pos > fv->lbytes || fv->lbytes - *pos < sizeof(l32))
		return false;
	memcpy(&l32, fv->lb + *pos, sizeof(l32));
	if (l32 > fv->lbytes - *pos - sizeof(l32))
		return false;
	*s = fv->lb + *pos + sizeof(l32);
	*ls = fv->llb ? fv->llb + *pos + sizeof(l32) : NULL;
	*n = l32;
	*pos += (uint32_t)sizeof(l32) + l32;
	return true;
}

/* ---- comparisons ---- */

/* Length of the UTF-8 character at v (1 for a byte that starts none). */
static size_t utf8_len(const uint8_t *v, size_t n)
{
	size_t len;

	if (v[0] < 0xc0)
		len = 1;
	else if (v[0] < 0xe0)
		len = 2;
	else if (v[0] < 0xf0)
		len = 3;
	else if (v[0] < 0xf8)
		len = 4;
	else
		return 1;
	if (len > n)
		return 1;
	for (size_t i = 1; i < len; i++)
		if ((v[i] & 0xc0) != 0x80)
			return 1;
	return len;
}

/*
 * Wildcard match: '*' any run, '?' one UTF-8 character. Greedy with one
 * restart point (the last '*'), so O(len(pattern) * len(value)) at worst,
 * never exponential.
 */
static bool glob_match(const struct pattern *p, const char *val, size_t n)
{
	const uint8_t *ps = (const uint8_t *)p->s, *pw = p->wild, *v = (const uint8_t *)val;
	size_t i = 0, j = 0, star_i = (size_t)-1, star_j = 0, pn = p->len;

	while (j < n) {
		if (i < pn && pw[i] == PW_STAR) {
			star_i = i++;
			star_j = j;
			continue;
		}
		if (i < pn && pw[i] == PW_ONE) {
			i++;
			j += utf8_len(v + j, n - j);
			continue;
		}
		if (i < pn && ps[i] == v[j]) {
			i++;
			j++;
			continue;
		}
		if (star_i == (size_t)-1)
			return false;
		i = star_i + 1;
		star_j += utf8_len(v + star_j, n - star_j);
		j = star_j;
	}
	while (i < pn && pw[i] == PW_STAR)
		i++;
	return i == pn;
}

static int on_hs_match(unsigned int id, unsigned long long from, unsigned long long to,
		       unsigned int flags, void *ctx)
{
	*(int *)ctx = 1;
	return 1;	/* one match is enough: stop scanning */
}

static bool re_match(const struct pattern *p, const char *s, size_t n, struct match_scratch *ms)
{
	int hit = 0;
	hs_error_t rc;

	if (!p->re || !ms->hs || n > 0xffffffffu)
		return false;
	rc = hs_scan(p->re, n ? s : "", (unsigned int)n, 0, ms->hs, on_hs_match, &hit);
	if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED)
		ms->re_errors++;
	return hit;
}

static bool cidr_match(const struct pattern *p, const char *s, size_t n)
{
	uint8_t addr[16];
	char buf[64];
	int bits = p->cidr_bits;

	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = 0;
	if (p->cidr_family == 4) {
		if (inet_pton(AF_INET, buf, addr) != 1) {
			/* an IPv4-mapped IPv6 address is the IPv4 address */
			static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
			uint8_t a6[16];

			if (inet_pton(AF_INET6, buf, a6) != 1 || memcmp(a6, mapped, 12))
				return false;
			memcpy(addr, a6 + 12, 4);
		}
	} else if (inet_pton(AF_INET6, buf, addr) != 1) {
		return false;
	}
	for (int i = 0; bits > 0; i++, bits -= 8) {
		uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));

		if ((addr[i] & mask) != p->cidr[i])
			return false;
	}
	return true;
}

/* Parse a whole decimal integer (optional sign); false if s is not one. */
static bool parse_int(const char *s, size_t n, int64_t *out)
{
	char buf[32], *end;
	long long v;

	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = 0;
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno || *end || end == buf || buf[0] == ' ')
		return false;
	*out = v;
	return true;
}

static bool num_cmp(const struct pattern *p, int64_t v)
{
	switch (p->kind) {
	case PK_NUM_EQ: return v == p->num;
	case PK_LT: return v < p->num;
	case PK_LTE: return v <= p->num;
	case PK_GT: return v > p->num;
	case PK_GTE: return v >= p->num;
	default: return false;
	}
}

static bool is_num_kind(uint8_t k)
{
	return k == PK_NUM_EQ || k == PK_LT || k == PK_LTE || k == PK_GT || k == PK_GTE;
}

/* Compare a (s/ls, n) with b (t/lt, m) by kind, cased or not. */
static bool ref_cmp(uint8_t kind, bool cased, const char *s, const char *ls, size_t n,
		    const char *t, const char *lt, size_t m)
{
	const char *a = cased ? s : ls, *b = cased ? t : lt;

	switch (kind) {
	case PK_REF_EQ: return n == m && memcmp(a, b, n) == 0;
	case PK_REF_PREFIX: return n >= m && memcmp(a, b, m) == 0;
	case PK_REF_SUFFIX: return n >= m && memcmp(a + n - m, b, m) == 0;
	case PK_REF_CONTAINS: return m == 0 || (n >= m && memmem(a, n, b, m) != NULL);
	default: return false;
	}
}

/* One pattern against one scalar value. Returns 1, 0, or -EFAULT. */
static int str_match(const struct pattern *p, const char *s, const char *ls, size_t n,
		     const struct fview *fv, struct match_scratch *ms)
{
	const char *v = p->cased ? s : ls;
	int64_t num;

	switch (p->kind) {
	case PK_ANY:
		return 1;
	case PK_EQ:
		return n == p->len && memcmp(v, p->s, n) == 0;
	case PK_PREFIX:
		return n >= p->len && memcmp(v, p->s, p->len) == 0;
	case PK_SUFFIX:
		return n >= p->len && memcmp(v + n - p->len, p->s, p->len) == 0;
	case PK_CONTAINS:
		return p->len == 0 || (n >= p->len && memmem(v, n, p->s, p->len) != NULL);
	case PK_GLOB:
		return glob_match(p, v, n);
	case PK_RE:
		return re_match(p, s, n, ms);
	case PK_CIDR:
		return cidr_match(p, s, n);
	case PK_NUM_EQ:
	case PK_LT:
	case PK_LTE:
	case PK_GT:
	case PK_GTE:
		if (fv->is_num)
			return num_cmp(p, fv->num);
		return parse_int(s, n, &num) && num_cmp(p, num);
	case PK_REF_EQ:
	case PK_REF_PREFIX:
	case PK_REF_SUFFIX:
	case PK_REF_CONTAINS: {
		struct fview rv;
		const struct sigma_field *rf;

		if (p->ref >= sigma_n_fields)
			return -EFAULT;
		rf = &sigma_fields[p->ref];
		if ((unsigned)rf->ecs >= RW_F__COUNT)
			return -EFAULT;
		if (sigma_fview__get(ms, rf->ecs, rf->conv, true, &rv) || !rv.present)
			return 0;
		if (rv.list) {
			uint32_t pos = 0;
			const char *t, *lt;
			size_t m;

			while (sigma_fview__next(&rv, &pos, &t, &lt, &m))
				if (ref_cmp(p->kind, p->cased, s, ls, n, t, lt, m))
					return 1;
			return 0;
		}
		return ref_cmp(p->kind, p->cased, s, ls, n, rv.s, rv.ls, rv.n);
	}
	default:
		return 0;
	}
}

/* One pattern against a field view (any element of a list). */
int sigma_pat__match(const struct pattern *p, const struct fview *fv, struct match_scratch *ms)
{
	if (p->kind == PK_EXISTS)
		return fv->present == (p->num != 0);
	if (p->kind == PK_NULL) {
		if (!fv->present)
			return 1;
		if (fv->list)
			return fv->lbytes == 0;
		return !fv->is_num && fv->n == 0;
	}
	if (!fv->present)
		return 0;
	if (fv->list) {
		uint32_t pos = 0;
		const char *s, *ls;
		size_t n;

		while (sigma_fview__next(fv, &pos, &s, &ls, &n)) {
			int m = str_match(p, s, ls, n, fv, ms);

			if (m)
				return m;
		}
		return 0;
	}
	if (fv->is_num && is_num_kind(p->kind))
		return num_cmp(p, fv->num);
	return str_match(p, fv->s, fv->ls, fv->n, fv, ms);
}

static int naive_item(const struct rule *r, const struct item *it, struct match_scratch *ms)
{
	const struct sigma_field *sf;
	struct fview fv;
	bool raw = it->all;

	/* the run-time bounds check: a field id the schema does not have, or
	 * a group range outside the rule, disables the rule (caller counts) */
	if (it->field >= sigma_n_fields || it->ecs >= RW_F__COUNT)
		return -EFAULT;
	sf = &sigma_fields[it->field];
	if ((unsigned)sf->ecs != it->ecs)
		return -EFAULT;
	if (it->first_group > r->n_groups || it->n_groups > r->n_groups - it->first_group)
		return -EFAULT;
	if (sigma_fview__get(ms, (enum rw_field)it->ecs, (enum sigma_conv)it->conv, true, &fv))
		return -ENOMEM;
	for (uint32_t g = 0; g < it->n_groups; g++) {
		const struct group *gr = &r->groups[it->first_group + g];
		bool gm = false;

		if (gr->first_pat > r->n_pats || gr->n_pats > r->n_pats - gr->first_pat)
			return -EFAULT;
		for (uint32_t k = 0; k < gr->n_pats && !gm; k++) {
			const struct pattern *p = &r->pats[gr->first_pat + k];
			int m;

			m = sigma_pat__match(p, &fv, ms);
			if (m < 0)
				return m;
			gm = m;
		}
		if (it->all && !gm) {
			raw = false;
			break;
		}
		if (!it->all && gm) {
			raw = true;
			break;
		}
	}
	if (it->neg)
		return fv.present && !raw;
	return raw;
}

/* One item: by the compiled matcher's bitset while it evaluates, else
 * naively. */
static int item_match(const struct rule *r, const struct item *it, struct match_scratch *ms)
{
	if (ms->cm)
		return cmatch__item(ms->cm, r, it, ms);
	return naive_item(r, it, ms);
}

static int search_match(const struct rule *r, uint32_t si, struct match_scratch *ms)
{
	const struct search *s;

	if (si >= r->n_searches || si >= SIGMA_MAX_SEARCHES)
		return -EFAULT;
	if (ms->memo[si])
		return ms->memo[si] - 1;
	s = &r->searches[si];
	if (s->first_map > r->n_maps || s->n_maps > r->n_maps - s->first_map)
		return -EFAULT;
	for (uint32_t m = 0; m < s->n_maps; m++) {
		const struct smap *mp = &r->maps[s->first_map + m];
		int all = 1;

		if (mp->first_item > r->n_items || mp->n_items > r->n_items - mp->first_item)
			return -EFAULT;
		for (uint32_t i = 0; i < mp->n_items && all == 1; i++)
			all = item_match(r, &r->items[mp->first_item + i], ms);
		if (all < 0)
			return all;
		if (all) {
			ms->memo[si] = 2;
			return 1;
		}
	}
	ms->memo[si] = 1;
	return 0;
}

static int node_eval(const struct rule *r, uint32_t ni, struct match_scratch *ms)
{
	const struct cnode *nd;
	int a;

	if (ni >= r->n_nodes)
		return -EFAULT;
	nd = &r->nodes[ni];
	switch (nd->kind) {
	case CN_SEARCH:
		return search_match(r, nd->a, ms);
	case CN_NOT:
		a = node_eval(r, nd->a, ms);
		return a < 0 ? a : !a;
	case CN_AND:
		a = node_eval(r, nd->a, ms);
		return a <= 0 ? a : node_eval(r, nd->b, ms);
	case CN_OR:
		a = node_eval(r, nd->a, ms);
		return a != 0 ? a : node_eval(r, nd->b, ms);
	case CN_ONE_OF:
	case CN_ALL_OF:
		if (nd->a > r->n_refs || nd->b > r->n_refs - nd->a)
			return -EFAULT;
		for (uint32_t i = 0; i < nd->b; i++) {
			a = search_match(r, r->refs[nd->a + i], ms);
			if (a < 0)
				return a;
			if (nd->kind == CN_ONE_OF && a)
				return 1;
			if (nd->kind == CN_ALL_OF && !a)
				return 0;
		}
		return nd->kind == CN_ALL_OF;
	default:
		return -EFAULT;
	}
}

int sigma_match__rule(const struct rule *r, const struct rw_event *ev, struct match_scratch *ms)
{
	if (ms->ev != ev)
		match_scratch__reset(ms, ev);
	ms->cm = NULL;
	if (r->n_searches > SIGMA_MAX_SEARCHES)
		return -EFAULT;
	memset(ms->memo, 0, r->n_searches);
	return node_eval(r, r->root, ms);
}

int cmatch__rule(const struct cmatch *cm, const struct rule *r, const struct rw_event *ev,
		 struct match_scratch *ms)
{
	int m;

	if (ms->ev != ev)
		return -EINVAL;	/* the bitset is of another event */
	if (r->n_searches > SIGMA_MAX_SEARCHES)
		return -EFAULT;
	memset(ms->memo, 0, r->n_searches);
	ms->cm = cm;
	m = node_eval(r, r->root, ms);
	ms->cm = NULL;
	return m;
}
