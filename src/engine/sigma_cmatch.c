/*
 * The compiled matcher: all rules of a set compiled together so that each
 * field of an event is scanned once, then conditions evaluated by
 * short-circuit from the result.
 *
 * At build time every pattern (by its rule-set-wide gid) is one of:
 *   EXACT    decided exactly by Hyperscan: literals (equal, prefix,
 *            suffix, contains; caseless unless |cased, anchored with ^ and
 *            \z), wildcards of '*' only, regexes with their own flags;
 *   CONFIRM  Hyperscan matches a superset (wildcards with '?', whose one
 *            UTF-8 character is 1 to 4 bytes; caseless literals with
 *            non-ASCII bytes): a hit is confirmed by the naive comparison,
 *            a miss is a miss;
 *   DIRECT   no string pattern (exists, null, numbers, cidr, fieldref, the
 *            '*' of any value, empty literals): checked as the naive
 *            evaluator checks it.
 * One Hyperscan database per Sigma category and field holds every EXACT
 * and CONFIRM pattern of every rule on it, ids = gids. A pattern written
 * the same way (text and flags) in several rules is compiled once; its
 * report sets the bits of all of them (an alias chain per gid). Regexes
 * keep HS_FLAG_SINGLEMATCH (one report each); literals and wildcards go
 * without it, which Hyperscan matches faster, and report again only where
 * they occur again.
 *
 * Per event: each present value of each field of the event's categories
 * is scanned once by its field's database, setting one bit per gid that
 * matched. The rules to evaluate are those owning a set bit, plus those
 * that can match with no bit set (found at build time by evaluating each
 * condition with every Hyperscan pattern false and everything else
 * unknown: a rule that is not then certainly false, like `not filter`,
 * is evaluated for every event of its category). Conditions are walked as
 * by the naive evaluator, items reading bits.
 *
 * Before that walk, each candidate passes its gates: conditions a rule
 * cannot match without, derived at build time from its condition as
 * "one of these gids is set", up to MAX_GATES of them ANDed (a selection
 * on Image and CommandLine needs a bit of each; `a or b` needs one of
 * either's; a negation or a check without Hyperscan gives none). A rule
 * whose one hit is on Image but whose condition also needs its
 * CommandLine literals is dropped by a few bit tests, not a tree walk.
 *
 * The same value always sets the same bits, and values repeat (the same
 * binaries, parents, users, directories, many command lines): each
 * database keeps a small direct-mapped cache, value -> gids it set, so a
 * value seen recently is not scanned again. It holds whole values of at
 * most CACHE_VAL_MAX bytes compared byte for byte (a hash collision only
 * costs a scan), is bounded (CACHE_SLOTS entries per database) and belongs
 * to the rule set, so it cannot outlive the rules it was made for. A
 * field whose values hardly repeat (file names) finds less than 1 in 16 of
 * its values there over CACHE_WINDOW lookups: its cache is then bypassed
 * for the next CACHE_BYPASS values, and tried again.
 *
 * Bounds: every gid is checked against the bitset size before any access,
 * every rule index against the set, every range of the rule as in the
 * naive walk; a violation disables the rule (-EFAULT) or ignores the
 * report, never reads past. Work per event: at most one Hyperscan scan per
 * value of a field with patterns (linear in the value), then the
 * candidates' condition walks.
 */
#include "engine/sigma_match.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PF_DIRECT, PF_EXACT, PF_CONFIRM };

#define NO_OWNER UINT32_MAX
#define MAX_RECOMPILE 64	/* expressions dropped to DIRECT before giving up */
#define MAX_GATES 8		/* gates of one rule */
#define CACHE_SLOTS 2048	/* per database; a power of two */
#define CACHE_VAL_MAX 180	/* bytes of a value the cache holds */
#define CACHE_GIDS 15		/* gids of a value the cache holds */
#define CACHE_WINDOW 4096	/* lookups over which a cache's use is judged */
#define CACHE_BYPASS 65536	/* values scanned directly when it is of no use */

/* 256 bytes (four cache lines) per value: 2048 of them per database */
struct cache_ent {
	uint64_t hash;		/* 0: empty */
	uint32_t len;
	uint32_t n_gids;
	uint32_t gids[CACHE_GIDS];
	char val[CACHE_VAL_MAX];
};

/* One of these gids must be set for the rule to match. */
struct gate {
	uint32_t first, n;	/* in cm->gate_gids */
};

struct cm_db {
	uint16_t field;		/* index in sigma_fields[] */
	hs_database_t *db;	/* from hs_compile_multi() */
	struct cache_ent *cache;	/* CACHE_SLOTS, from calloc() */
	uint32_t lookups, hits;	/* in the current window */
	uint32_t bypass;	/* values still to scan without the cache */
};

struct action_mask {
	const char *s;		/* an event.action of sigma_actions[] */
	size_t len;
	uint32_t mask;		/* its categories */
};

struct cmatch {
	const struct rule *const *rules;	/* the set's, not owned */
	size_t n_rules;
	uint32_t n_gids;	/* bits in the bitset */
	uint8_t *pflag;		/* per gid: PF_* */
	uint32_t *owner;	/* per gid: rule index, or NO_OWNER */
	uint32_t *alias;	/* per gid: next gid of the same expression,
				 * or NO_OWNER */
	struct cm_db *dbs;	/* ordered by category */
	size_t n_dbs;
	uint32_t first_db[SC__COUNT], n_db[SC__COUNT];
	uint32_t *rule_gate;	/* per rule: first gate, in gates */
	uint8_t *rule_n_gates;	/* per rule */
	struct gate *gates;	/* from malloc() */
	size_t n_gates, cap_gates;
	uint32_t *gate_gids;	/* the gids of all gates; from malloc() */
	size_t n_gate_gids, cap_gate_gids;
	uint32_t *always;	/* rule indexes, ordered by category then index */
	uint32_t first_always[SC__COUNT], n_always[SC__COUNT];
	bool cache_off;
	struct cmatch_stats st;
	struct action_mask actions[64];	/* event.action -> categories */
	size_t n_actions;

	/* per event */
	uint64_t *bits;		/* n_gids bits */
	uint32_t *hits;		/* gids set this event; room for n_gids */
	size_t n_hits;
	uint32_t *cands;	/* room for n_rules */
	uint32_t *mark;		/* per rule: epoch it was made a candidate */
	uint32_t epoch;
	/* per scan: the gids one value matched, for its cache entry */
	uint32_t *seen;		/* per gid: scan it was last reported in */
	uint32_t scan_no;
	uint32_t *scan_gids;	/* room for n_gids */
	size_t n_scan_gids;
};

static bool bit(const struct cmatch *cm, uint32_t gid)
{
	return (cm->bits[gid >> 6] >> (gid & 63)) & 1;
}

static void set_bit(struct cmatch *cm, uint32_t gid)
{
	if (bit(cm, gid))
		return;
	cm->bits[gid >> 6] |= 1ull << (gid & 63);
	cm->hits[cm->n_hits++] = gid;	/* each gid once: room for all */
}

/* ---- building ---- */

struct expr {
	char *s;		/* from malloc() */
	unsigned flags;
	uint32_t gid;
};

struct exprs {
	struct expr *v;
	size_t n, cap;
};

static int exprs__add(struct exprs *l, char *s, unsigned flags, uint32_t gid)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct expr *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = (struct expr){ s, flags, gid };
	return 0;
}

static void exprs__free(struct exprs *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].s);
	free(l->v);
}

/* Escaped literal bytes appended at *o (room: 4 per byte). */
static char *escape(char *o, const uint8_t *b, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		uint8_t c = b[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
			*o++ = (char)c;
		} else {
			*o++ = '\\';
			*o++ = 'x';
			*o++ = digits[c >> 4];
			*o++ = digits[c & 15];
		}
	}
	return o;
}

static bool any_high(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] >= 0x80)
			return true;
	return false;
}

/*
 * The Hyperscan expression for p (from malloc()) with its flags and PF_*
 * kind in *pf, or NULL with *pf PF_DIRECT (or -ENOMEM in *err).
 */
static char *pat_expr(const struct pattern *p, unsigned *flags, uint8_t *pf, int *err)
{
	const uint8_t *b = (const uint8_t *)p->s;
	char *e, *o;

	*pf = PF_DIRECT;
	*flags = 0;
	*err = 0;
	switch (p->kind) {
	case PK_EQ:
	case PK_PREFIX:
	case PK_SUFFIX:
	case PK_CONTAINS:
	case PK_GLOB:
		if (!p->s || p->len == 0 || p->len > SIGMA_MAX_PATTERN_LEN)
			return NULL;	/* empty: the naive check is trivial */
		break;
	case PK_RE:
		if (!p->s || strlen(p->s) != p->len)
			return NULL;
		e = strdup(p->s);
		if (!e) {
			*err = -ENOMEM;
			return NULL;
		}
		/* the very flags the naive evaluator's database has */
		*flags = p->re_flags | HS_FLAG_SINGLEMATCH;
		*pf = PF_EXACT;
		return e;
	default:
		return NULL;
	}
	/* "^" + 7 bytes per byte at most (".{1,4}" or "\xHH") + "\z" */
	e = malloc((size_t)p->len * 7 + 8);
	if (!e) {
		*err = -ENOMEM;
		return NULL;
	}
	o = e;
	if (!p->cased)
		*flags |= HS_FLAG_CASELESS;
	*pf = PF_EXACT;
	/* Hyperscan folds the case of ASCII only, as the naive comparison
	 * does; non-ASCII caseless literals are confirmed all the same */
	if (!p->cased && any_high(b, p->len))
		*pf = PF_CONFIRM;
	if (p->kind == PK_EQ || p->kind == PK_PREFIX || p->kind == PK_GLOB)
		*o++ = '^';
	if (p->kind != PK_GLOB) {
		o = escape(o, b, p->len);
	} else {
		*flags |= HS_FLAG_DOTALL;
		for (uint32_t i = 0; i < p->len; i++) {
			if (p->wild[i] == PW_STAR) {
				memcpy(o, ".*", 2);
				o += 2;
			} else if (p->wild[i] == PW_ONE) {
				/* '?' is one UTF-8 character */
				memcpy(o, ".{1,4}", 6);
				o += 6;
				*pf = PF_CONFIRM;
			} else {
				o = escape(o, b + i, 1);
				/* a non-ASCII byte may sit inside the one
				 * character a '*' steps over */
				if (b[i] >= 0x80)
					*pf = PF_CONFIRM;
			}
		}
	}
	if (p->kind == PK_EQ || p->kind == PK_SUFFIX || p->kind == PK_GLOB) {
		/* \z: the very end ($ would also match before a final \n) */
		memcpy(o, "\\z", 2);
		o += 2;
	}
	*o = 0;
	return e;
}

/* Is the range [first, first + n) inside a table of size total? */
static bool in_range(uint32_t first, uint32_t n, uint32_t total)
{
	return first <= total && n <= total - first;
}

/* Every pattern of rule ri: its kind, its owner, and its expression into
 * the list of its field. A regex over the cost limit is counted in
 * *n_errors (every one is reported). */
static int add_rule(struct cmatch *cm, size_t ri, struct exprs *per_field, struct diag *d,
		    size_t *n_errors)
{
	const struct rule *r = cm->rules[ri];

	for (uint32_t i = 0; i < r->n_items; i++) {
		const struct item *it = &r->items[i];

		/* a malformed rule is left to the run-time checks, which
		 * disable it; nothing of it is indexed here */
		if (it->field >= sigma_n_fields || sigma_fields[it->field].cat != r->cat ||
		    !in_range(it->first_group, it->n_groups, r->n_groups))
			continue;
		for (uint32_t g = 0; g < it->n_groups; g++) {
			const struct group *gr = &r->groups[it->first_group + g];

			if (!in_range(gr->first_pat, gr->n_pats, r->n_pats))
				continue;
			for (uint32_t k = 0; k < gr->n_pats; k++) {
				const struct pattern *p = &r->pats[gr->first_pat + k];
				unsigned flags;
				uint8_t pf;
				char *e;
				int err;

				if (p->gid >= cm->n_gids)
					continue;
				/* what a regex costs is what Hyperscan made of it */
				if (p->kind == PK_RE && p->re) {
					size_t sz = 0;

					if (hs_database_size(p->re, &sz) == HS_SUCCESS &&
					    sz > SIGMA_MAX_REGEX_BYTES) {
						diag__add(d, DIAG_ERROR, r->file, it->line, it->col,
							  r->id, "regex of field '%s' compiles to %zu "
							  "bytes, more than the limit of %d (the "
							  "cost of one regex is bounded)",
							  sigma_fields[it->field].name, sz,
							  SIGMA_MAX_REGEX_BYTES);
						*n_errors += 1;
					}
				}
				if (cm->owner[p->gid] != NO_OWNER) {
					diag__add(d, DIAG_ERROR, r->file, r->line, r->col, r->id,
						  "pattern id %u used twice", p->gid);
					return -EINVAL;
				}
				cm->owner[p->gid] = (uint32_t)ri;
				e = pat_expr(p, &flags, &pf, &err);
				if (err)
					return err;
				cm->pflag[p->gid] = pf;
				if (!e) {
					cm->st.direct++;
					continue;
				}
				if (exprs__add(&per_field[it->field], e, flags, p->gid)) {
					free(e);
					return -ENOMEM;
				}
			}
		}
	}
	return 0;
}

static int cmp_expr(const void *a, const void *b)
{
	const struct expr *x = a, *y = b;
	int c = strcmp(x->s, y->s);

	if (c)
		return c;
	if (x->flags != y->flags)
		return x->flags < y->flags ? -1 : 1;
	return x->gid < y->gid ? -1 : x->gid > y->gid;
}

/* Keep one expression of each (text, flags): the others' gids are chained
 * to its gid in cm->alias. */
static void dedupe(struct cmatch *cm, struct exprs *l)
{
	size_t out = 0;

	if (!l->n)
		return;
	qsort(l->v, l->n, sizeof(*l->v), cmp_expr);
	for (size_t i = 0; i < l->n; i++) {
		struct expr *lead = out ? &l->v[out - 1] : NULL;

		if (lead && lead->flags == l->v[i].flags && !strcmp(lead->s, l->v[i].s)) {
			/* l->v[i].gid joins the chain after the leader */
			cm->alias[l->v[i].gid] = cm->alias[lead->gid];
			cm->alias[lead->gid] = l->v[i].gid;
			free(l->v[i].s);
			continue;
		}
		l->v[out++] = l->v[i];
	}
	l->n = out;
}

/*
 * One database of the expressions in l (what: for messages), into *out
 * (NULL when l is empty). An expression Hyperscan refuses (none should:
 * each was compiled alone when loaded, or is an escaped literal) is
 * dropped to DIRECT with its aliases, which is always right, and the rest
 * compiled again.
 */
static int compile_db(struct cmatch *cm, struct exprs *l, const char *what,
		      struct match_scratch *ms, hs_database_t **out, struct diag *d)
{
	const char **ex = malloc((l->n ? l->n : 1) * sizeof(*ex));
	unsigned *fl = malloc((l->n ? l->n : 1) * sizeof(*fl));
	unsigned *ids = malloc((l->n ? l->n : 1) * sizeof(*ids));
	hs_database_t *db = NULL;
	int err = 0;

	*out = NULL;
	if (!ex || !fl || !ids) {
		err = -ENOMEM;
		goto cleanup;
	}
	cm->st.hs_patterns += l->n;
	dedupe(cm, l);
	for (int tries = 0; l->n; tries++) {
		hs_compile_error_t *cerr = NULL;
		int bad;

		for (size_t i = 0; i < l->n; i++) {
			ex[i] = l->v[i].s;
			fl[i] = l->v[i].flags;
			ids[i] = l->v[i].gid;
		}
		if (hs_compile_multi(ex, fl, ids, (unsigned)l->n, HS_MODE_BLOCK, NULL, &db,
				     &cerr) == HS_SUCCESS)
			break;
		bad = cerr ? cerr->expression : -1;
		if (bad < 0 || (size_t)bad >= l->n || tries >= MAX_RECOMPILE) {
			diag__add(d, DIAG_ERROR, NULL, 0, 0, NULL, "cannot compile the %zu patterns "
				  "of %s together: %s", l->n, what,
				  cerr && cerr->message ? cerr->message : "Hyperscan failed");
			hs_free_compile_error(cerr);
			err = -EINVAL;
			goto cleanup;
		}
		hs_free_compile_error(cerr);
		/* the expression and its aliases */
		for (uint32_t g = l->v[bad].gid, k = 0; g < cm->n_gids && k < cm->n_gids;
		     g = cm->alias[g], k++) {
			cm->pflag[g] = PF_DIRECT;
			cm->st.direct++;
			cm->st.hs_patterns--;
		}
		free(l->v[bad].s);
		l->v[bad] = l->v[--l->n];
	}
	if (!db)
		goto cleanup;	/* nothing, or everything dropped */
	if (match_scratch__prepare(ms, db)) {
		hs_free_database(db);
		err = -ENOMEM;
		goto cleanup;
	}
	{
		size_t sz = 0;

		if (hs_database_size(db, &sz) == HS_SUCCESS)
			cm->st.bytes += sz;
	}
	for (size_t i = 0; i < l->n; i++)
		cm->st.confirmed += cm->pflag[l->v[i].gid] == PF_CONFIRM;
	cm->st.hs_expressions += l->n;
	cm->st.databases++;
	*out = db;
cleanup:
	free(ex);
	free(fl);
	free(ids);
	return err;
}

/* ---- which rules can match with no Hyperscan hit ---- */

enum tri { T_FALSE, T_TRUE, T_UNKNOWN };

static enum tri tri_not(enum tri a)
{
	return a == T_UNKNOWN ? a : a == T_TRUE ? T_FALSE : T_TRUE;
}

static enum tri tri_and(enum tri a, enum tri b)
{
	if (a == T_FALSE || b == T_FALSE)
		return T_FALSE;
	return a == T_TRUE && b == T_TRUE ? T_TRUE : T_UNKNOWN;
}

static enum tri tri_or(enum tri a, enum tri b)
{
	if (a == T_TRUE || b == T_TRUE)
		return T_TRUE;
	return a == T_FALSE && b == T_FALSE ? T_FALSE : T_UNKNOWN;
}

/* An item with every Hyperscan pattern false, every other check unknown
 * (the item's shape mirrors cmatch__item()). */
static enum tri tri_item(const struct cmatch *cm, const struct rule *r, const struct item *it)
{
	enum tri raw = it->all ? T_TRUE : T_FALSE;

	if (!in_range(it->first_group, it->n_groups, r->n_groups))
		return T_UNKNOWN;
	for (uint32_t g = 0; g < it->n_groups; g++) {
		const struct group *gr = &r->groups[it->first_group + g];
		enum tri gm = T_FALSE;

		if (!in_range(gr->first_pat, gr->n_pats, r->n_pats))
			return T_UNKNOWN;
		for (uint32_t k = 0; k < gr->n_pats; k++) {
			uint32_t gid = r->pats[gr->first_pat + k].gid;

			if (gid >= cm->n_gids || cm->pflag[gid] == PF_DIRECT)
				gm = tri_or(gm, T_UNKNOWN);
		}
		raw = it->all ? tri_and(raw, gm) : tri_or(raw, gm);
	}
	/* |neq: present and not raw; presence is unknown */
	return it->neg ? tri_and(T_UNKNOWN, tri_not(raw)) : raw;
}

static enum tri tri_search(const struct cmatch *cm, const struct rule *r, uint32_t si)
{
	const struct search *s;
	enum tri any = T_FALSE;

	if (si >= r->n_searches)
		return T_UNKNOWN;
	s = &r->searches[si];
	if (!in_range(s->first_map, s->n_maps, r->n_maps))
		return T_UNKNOWN;
	for (uint32_t m = 0; m < s->n_maps; m++) {
		const struct smap *mp = &r->maps[s->first_map + m];
		enum tri all = T_TRUE;

		if (!in_range(mp->first_item, mp->n_items, r->n_items))
			return T_UNKNOWN;
		for (uint32_t i = 0; i < mp->n_items; i++)
			all = tri_and(all, tri_item(cm, r, &r->items[mp->first_item + i]));
		any = tri_or(any, all);
	}
	return any;
}

static enum tri tri_node(const struct cmatch *cm, const struct rule *r, uint32_t ni, int depth)
{
	const struct cnode *nd;
	enum tri a;

	/* the parser bounds the depth; a deeper tree is left to run time */
	if (ni >= r->n_nodes || depth > 4 * SIGMA_MAX_COND_DEPTH + 8)
		return T_UNKNOWN;
	nd = &r->nodes[ni];
	switch (nd->kind) {
	case CN_SEARCH:
		return tri_search(cm, r, nd->a);
	case CN_NOT:
		return tri_not(tri_node(cm, r, nd->a, depth + 1));
	case CN_AND:
		return tri_and(tri_node(cm, r, nd->a, depth + 1), tri_node(cm, r, nd->b, depth + 1));
	case CN_OR:
		return tri_or(tri_node(cm, r, nd->a, depth + 1), tri_node(cm, r, nd->b, depth + 1));
	case CN_ONE_OF:
	case CN_ALL_OF:
		if (!in_range(nd->a, nd->b, r->n_refs))
			return T_UNKNOWN;
		a = nd->kind == CN_ALL_OF ? T_TRUE : T_FALSE;
		for (uint32_t i = 0; i < nd->b; i++) {
			enum tri s = tri_search(cm, r, r->refs[nd->a + i]);

			a = nd->kind == CN_ALL_OF ? tri_and(a, s) : tri_or(a, s);
		}
		return a;
	default:
		return T_UNKNOWN;
	}
}

/* ---- gates: what a rule cannot match without ---- */

struct clause {
	uint32_t *g;		/* gids, one of which must be set; from malloc() */
	size_t n, cap;
};

/* A conjunction of clauses; none: nothing known. */
struct cset {
	struct clause c[MAX_GATES];
	size_t n;
};

static void cset_free(struct cset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->c[i].g);
	s->n = 0;
}

static int clause_add(struct clause *c, uint32_t gid)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		uint32_t *g = realloc(c->g, cap * sizeof(*g));

		if (!g)
			return -ENOMEM;
		c->g = g;
		c->cap = cap;
	}
	c->g[c->n++] = gid;
	return 0;
}

/* a AND b, into a (b emptied). Clauses beyond MAX_GATES are dropped:
 * fewer necessary conditions are still necessary. */
static void cset_and(struct cset *a, struct cset *b)
{
	for (size_t i = 0; i < b->n; i++) {
		if (a->n < MAX_GATES)
			a->c[a->n++] = b->c[i];
		else
			free(b->c[i].g);
	}
	b->n = 0;
}

static size_t smallest(const struct cset *s)
{
	size_t best = 0;

	for (size_t i = 1; i < s->n; i++)
		if (s->c[i].n < s->c[best].n)
			best = i;
	return best;
}

/* a OR b, into a (b emptied): one clause, a's smallest with b's smallest
 * (one of them must hold, so one of their gids must be set); nothing
 * when either knows nothing. */
static int cset_or(struct cset *a, struct cset *b)
{
	struct clause u = { 0 };
	int err = 0;

	if (a->n && b->n) {
		const struct clause *x = &a->c[smallest(a)], *y = &b->c[smallest(b)];

		for (size_t i = 0; i < x->n && !err; i++)
			err = clause_add(&u, x->g[i]);
		for (size_t i = 0; i < y->n && !err; i++)
			err = clause_add(&u, y->g[i]);
	}
	cset_free(a);
	cset_free(b);
	if (err) {
		free(u.g);
		return err;
	}
	if (u.n)
		a->c[a->n++] = u;
	return 0;
}

/* The clause of the patterns of groups [g0, g1) of an item, if all of
 * them are Hyperscan patterns (else none: a DIRECT one may match alone). */
static int group_clause(const struct cmatch *cm, const struct rule *r, const struct item *it,
			uint32_t g0, uint32_t g1, struct cset *out)
{
	struct clause c = { 0 };

	for (uint32_t g = g0; g < g1; g++) {
		const struct group *gr = &r->groups[it->first_group + g];

		if (!in_range(gr->first_pat, gr->n_pats, r->n_pats))
			goto none;
		for (uint32_t k = 0; k < gr->n_pats; k++) {
			uint32_t gid = r->pats[gr->first_pat + k].gid;

			if (gid >= cm->n_gids || cm->pflag[gid] == PF_DIRECT)
				goto none;
			if (clause_add(&c, gid)) {
				free(c.g);
				return -ENOMEM;
			}
		}
	}
	if (c.n && out->n < MAX_GATES) {
		out->c[out->n++] = c;
		return 0;
	}
none:
	free(c.g);
	return 0;
}

static int item_cset(const struct cmatch *cm, const struct rule *r, const struct item *it,
		     struct cset *out)
{
	int err = 0;

	out->n = 0;
	/* |neq matches where its values do not */
	if (it->neg || !in_range(it->first_group, it->n_groups, r->n_groups))
		return 0;
	if (!it->all)
		return group_clause(cm, r, it, 0, it->n_groups, out);
	for (uint32_t g = 0; g < it->n_groups && !err; g++)
		err = group_clause(cm, r, it, g, g + 1, out);
	return err;
}

static int search_cset(const struct cmatch *cm, const struct rule *r, uint32_t si,
		       struct cset *out)
{
	const struct search *s;
	int err = 0;

	out->n = 0;
	if (si >= r->n_searches)
		return 0;
	s = &r->searches[si];
	if (!in_range(s->first_map, s->n_maps, r->n_maps))
		return 0;
	for (uint32_t m = 0; m < s->n_maps && !err; m++) {
		const struct smap *mp = &r->maps[s->first_map + m];
		struct cset all = { .n = 0 }, one;

		if (!in_range(mp->first_item, mp->n_items, r->n_items)) {
			cset_free(out);
			return 0;
		}
		for (uint32_t i = 0; i < mp->n_items && !err; i++) {
			err = item_cset(cm, r, &r->items[mp->first_item + i], &one);
			cset_and(&all, &one);
		}
		if (m == 0)
			*out = all;
		else if (!err)
			err = cset_or(out, &all);
		else
			cset_free(&all);
	}
	if (err)
		cset_free(out);
	return err;
}

static int node_cset(const struct cmatch *cm, const struct rule *r, uint32_t ni, int depth,
		     struct cset *out)
{
	const struct cnode *nd;
	struct cset b;
	int err = 0;

	out->n = 0;
	if (ni >= r->n_nodes || depth > 4 * SIGMA_MAX_COND_DEPTH + 8)
		return 0;
	nd = &r->nodes[ni];
	switch (nd->kind) {
	case CN_SEARCH:
		return search_cset(cm, r, nd->a, out);
	case CN_AND:
	case CN_OR:
		err = node_cset(cm, r, nd->a, depth + 1, out);
		if (!err)
			err = node_cset(cm, r, nd->b, depth + 1, &b);
		if (err) {
			cset_free(out);
			return err;
		}
		if (nd->kind == CN_AND) {
			cset_and(out, &b);
			return 0;
		}
		return cset_or(out, &b);
	case CN_ONE_OF:
	case CN_ALL_OF:
		if (!in_range(nd->a, nd->b, r->n_refs))
			return 0;
		for (uint32_t i = 0; i < nd->b && !err; i++) {
			if (i == 0) {
				err = search_cset(cm, r, r->refs[nd->a], out);
				continue;
			}
			err = search_cset(cm, r, r->refs[nd->a + i], &b);
			if (err)
				break;
			if (nd->kind == CN_ALL_OF)
				cset_and(out, &b);
			else
				err = cset_or(out, &b);
		}
		if (err)
			cset_free(out);
		return err;
	default:	/* CN_NOT, and anything else: nothing known */
		return 0;
	}
}

/* Store rule ri's gates. */
static int build_gates(struct cmatch *cm, size_t ri)
{
	const struct rule *r = cm->rules[ri];
	struct cset s;
	int err = node_cset(cm, r, r->root, 0, &s);

	cm->rule_gate[ri] = (uint32_t)cm->n_gates;
	cm->rule_n_gates[ri] = 0;
	for (size_t i = 0; i < s.n && !err; i++) {
		const struct clause *c = &s.c[i];

		if (cm->n_gates == cm->cap_gates) {
			size_t cap = cm->cap_gates ? cm->cap_gates * 2 : 64;
			struct gate *v = realloc(cm->gates, cap * sizeof(*v));

			if (!v) {
				err = -ENOMEM;
				break;
			}
			cm->gates = v;
			cm->cap_gates = cap;
		}
		while (cm->cap_gate_gids - cm->n_gate_gids < c->n) {
			size_t cap = cm->cap_gate_gids ? cm->cap_gate_gids * 2 : 256;
			uint32_t *v = realloc(cm->gate_gids, cap * sizeof(*v));

			if (!v) {
				err = -ENOMEM;
				break;
			}
			cm->gate_gids = v;
			cm->cap_gate_gids = cap;
		}
		if (err)
			break;
		memcpy(cm->gate_gids + cm->n_gate_gids, c->g, c->n * sizeof(*c->g));
		cm->gates[cm->n_gates++] = (struct gate){ (uint32_t)cm->n_gate_gids,
							  (uint32_t)c->n };
		cm->n_gate_gids += c->n;
		cm->rule_n_gates[ri]++;
	}
	cm->st.gates += cm->rule_n_gates[ri];
	cset_free(&s);
	return err;
}

/* Does rule ri pass its gates with the bits of this event? */
static bool gates_pass(const struct cmatch *cm, uint32_t ri)
{
	uint32_t first = cm->rule_gate[ri], n = cm->rule_n_gates[ri];

	if (!in_range(first, n, (uint32_t)cm->n_gates))
		return true;	/* no gates known: the walk decides */
	for (uint32_t i = 0; i < n; i++) {
		const struct gate *gt = &cm->gates[first + i];
		bool any = false;

		if (!in_range(gt->first, gt->n, (uint32_t)cm->n_gate_gids))
			return true;
		for (uint32_t k = 0; k < gt->n && !any; k++) {
			uint32_t g = cm->gate_gids[gt->first + k];

			any = g < cm->n_gids && bit(cm, g);
		}
		if (!any)
			return false;
	}
	return true;
}

/* ---- the matcher's life ---- */

void cmatch__free(struct cmatch *cm)
{
	if (!cm)
		return;
	for (size_t i = 0; i < cm->n_dbs; i++) {
		hs_free_database(cm->dbs[i].db);
		free(cm->dbs[i].cache);
	}
	free(cm->dbs);
	free(cm->pflag);
	free(cm->owner);
	free(cm->alias);
	free(cm->always);
	free(cm->rule_gate);
	free(cm->rule_n_gates);
	free(cm->gates);
	free(cm->gate_gids);
	free(cm->bits);
	free(cm->hits);
	free(cm->cands);
	free(cm->mark);
	free(cm->seen);
	free(cm->scan_gids);
	free(cm);
}

static int build_always(struct cmatch *cm)
{
	size_t n = 0;

	cm->always = malloc((cm->n_rules ? cm->n_rules : 1) * sizeof(uint32_t));
	if (!cm->always)
		return -ENOMEM;
	for (int c = 0; c < SC__COUNT; c++) {
		cm->first_always[c] = (uint32_t)n;
		for (size_t i = 0; i < cm->n_rules; i++) {
			const struct rule *r = cm->rules[i];

			if ((int)r->cat != c || tri_node(cm, r, r->root, 0) == T_FALSE)
				continue;
			cm->always[n++] = (uint32_t)i;
		}
		cm->n_always[c] = (uint32_t)(n - cm->first_always[c]);
	}
	cm->st.always = n;
	return 0;
}

/* One database per field with patterns, ordered by category so that an
 * event's are contiguous. */
static int compile_all(struct cmatch *cm, struct exprs *per_field, struct match_scratch *ms,
		       struct diag *d)
{
	char what[128];
	int err = 0;

	for (int c = 0; c < SC__COUNT && !err; c++) {
		cm->first_db[c] = (uint32_t)cm->n_dbs;
		for (size_t f = 0; f < sigma_n_fields && !err; f++) {
			hs_database_t *db;

			if ((int)sigma_fields[f].cat != c || !per_field[f].n)
				continue;
			snprintf(what, sizeof(what), "field '%s' (%s)", sigma_fields[f].name,
				 sigma_cat_names[c]);
			err = compile_db(cm, &per_field[f], what, ms, &db, d);
			if (err || !db)
				continue;
			cm->dbs[cm->n_dbs] = (struct cm_db){ (uint16_t)f, db,
							     calloc(CACHE_SLOTS,
								    sizeof(struct cache_ent)) };
			if (!cm->dbs[cm->n_dbs].cache)
				err = -ENOMEM;
			cm->n_dbs++;
		}
		cm->n_db[c] = (uint32_t)(cm->n_dbs - cm->first_db[c]);
	}
	return err;
}

/* Each distinct event.action with its categories. */
static void build_actions(struct cmatch *cm)
{
	for (size_t i = 0; i < sigma_n_actions && cm->n_actions < 64; i++) {
		const char *a = sigma_actions[i].action;
		bool known = false;

		for (size_t k = 0; k < cm->n_actions && !known; k++)
			known = !strcmp(cm->actions[k].s, a);
		if (!known)
			cm->actions[cm->n_actions++] = (struct action_mask){
				a, strlen(a), sigma_cat__mask_for_action(a, strlen(a)) };
	}
}

struct cmatch *cmatch__new(struct rule *const *rules, size_t n, struct match_scratch *ms,
			   struct diag *d)
{
	struct cmatch *cm = calloc(1, sizeof(*cm));
	struct exprs *per_field = calloc(sigma_n_fields, sizeof(*per_field));
	struct diag quiet;
	uint64_t n_gids = 0;
	size_t n_errors = 0;
	int err = 0;

	diag__init(&quiet);
	if (!d)
		d = &quiet;
	if (!cm || !per_field) {
		err = -ENOMEM;
		goto cleanup;
	}
	if (n >= NO_OWNER) {
		err = -E2BIG;
		goto cleanup;
	}
	cm->rules = (const struct rule *const *)rules;
	cm->n_rules = n;
	for (size_t i = 0; i < n; i++)
		for (uint32_t k = 0; k < rules[i]->n_pats; k++)
			if (rules[i]->pats[k].gid + (uint64_t)1 > n_gids)
				n_gids = rules[i]->pats[k].gid + (uint64_t)1;
	if (n_gids >= UINT32_MAX) {
		err = -E2BIG;
		goto cleanup;
	}
	cm->n_gids = (uint32_t)n_gids;
	cm->pflag = calloc(n_gids ? n_gids : 1, 1);
	cm->owner = malloc((n_gids ? n_gids : 1) * sizeof(*cm->owner));
	cm->alias = malloc((n_gids ? n_gids : 1) * sizeof(*cm->alias));
	cm->bits = calloc((n_gids + 63) / 64 + 1, sizeof(*cm->bits));
	cm->hits = malloc((n_gids ? n_gids : 1) * sizeof(*cm->hits));
	cm->seen = calloc(n_gids ? n_gids : 1, sizeof(*cm->seen));
	cm->scan_gids = malloc((n_gids ? n_gids : 1) * sizeof(*cm->scan_gids));
	cm->cands = malloc((n ? n : 1) * sizeof(*cm->cands));
	cm->mark = calloc(n ? n : 1, sizeof(*cm->mark));
	cm->rule_gate = calloc(n ? n : 1, sizeof(*cm->rule_gate));
	cm->rule_n_gates = calloc(n ? n : 1, sizeof(*cm->rule_n_gates));
	cm->dbs = calloc(sigma_n_fields, sizeof(*cm->dbs));
	if (!cm->pflag || !cm->owner || !cm->alias || !cm->bits || !cm->hits || !cm->seen ||
	    !cm->scan_gids || !cm->cands || !cm->mark || !cm->rule_gate || !cm->rule_n_gates ||
	    !cm->dbs) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (uint64_t g = 0; g < n_gids; g++)
		cm->owner[g] = cm->alias[g] = NO_OWNER;
	for (size_t i = 0; i < n && !err; i++)
		err = add_rule(cm, i, per_field, d, &n_errors);
	if (!err && n_errors)
		err = -EINVAL;
	if (!err)
		err = compile_all(cm, per_field, ms, d);
	if (!err)
		err = build_always(cm);
	for (size_t i = 0; i < n && !err; i++)
		err = build_gates(cm, i);
	build_actions(cm);
	cm->st.cache_bytes = cm->n_dbs * CACHE_SLOTS * sizeof(struct cache_ent);
cleanup:
	if (per_field)
		for (size_t f = 0; f < sigma_n_fields; f++)
			exprs__free(&per_field[f]);
	free(per_field);
	if (err == -ENOMEM)
		diag__add(d, DIAG_ERROR, NULL, 0, 0, NULL, "out of memory compiling the matcher");
	else if (err == -E2BIG)
		diag__add(d, DIAG_ERROR, NULL, 0, 0, NULL, "too many rules or patterns for the "
			  "matcher");
	diag__free(&quiet);
	if (err) {
		cmatch__free(cm);
		errno = -err;
		return NULL;
	}
	return cm;
}

uint32_t cmatch__mask(const struct cmatch *cm, const char *action, size_t len)
{
	for (size_t k = 0; k < cm->n_actions; k++)
		if (cm->actions[k].len == len && !memcmp(cm->actions[k].s, action, len))
			return cm->actions[k].mask;
	if (cm->n_actions < 64)
		return 0;	/* every action is in the table */
	return sigma_cat__mask_for_action(action, len);
}

void cmatch__stats(const struct cmatch *cm, struct cmatch_stats *st)
{
	*st = cm->st;
}

void cmatch__set_cache(struct cmatch *cm, bool on)
{
	cm->cache_off = !on;
	for (size_t i = 0; i < cm->n_dbs; i++) {
		memset(cm->dbs[i].cache, 0, CACHE_SLOTS * sizeof(struct cache_ent));
		cm->dbs[i].lookups = cm->dbs[i].hits = cm->dbs[i].bypass = 0;
	}
}

/* ---- per event ---- */

static int on_hit(unsigned int id, unsigned long long from, unsigned long long to,
		  unsigned int flags, void *ctx)
{
	struct cmatch *cm = ctx;

	/* ids are gids, each heading the chain of its aliases; checked all
	 * the same, as everything at run time (k bounds a corrupt chain) */
	if (id >= cm->n_gids || cm->seen[id] == cm->scan_no)
		return 0;	/* reported before in this scan: chain done */
	for (uint32_t g = id, k = 0; g < cm->n_gids && k < cm->n_gids; g = cm->alias[g], k++) {
		if (cm->seen[g] == cm->scan_no)
			continue;
		cm->seen[g] = cm->scan_no;
		cm->scan_gids[cm->n_scan_gids++] = g;	/* each once: room for all */
		set_bit(cm, g);
	}
	return 0;	/* scan on: other patterns may match too */
}

/* A fast hash of a value for the cache (never 0: 0 marks an empty slot). */
static uint64_t hash_value(const char *s, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n, w;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, s + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, s + i, n - i);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 29;
	return h | 1;
}

/* Is the value in cd's cache? Sets its bits if so; else *slot is where
 * to keep it (or NULL). */
static bool cache_lookup(struct cmatch *cm, struct cm_db *cd, const char *s, size_t n,
			 struct cache_ent **slot, uint64_t *hash)
{
	struct cache_ent *e;
	uint64_t h;

	*slot = NULL;
	if (cm->cache_off || !cd->cache)
		return false;
	if (cd->bypass) {
		cd->bypass--;
		return false;
	}
	if (cd->lookups >= CACHE_WINDOW) {
		if (cd->hits < cd->lookups / 16)
			cd->bypass = CACHE_BYPASS;
		cd->lookups = cd->hits = 0;
	}
	if (n > CACHE_VAL_MAX)
		return false;
	cd->lookups++;
	h = hash_value(s, n);
	e = &cd->cache[h & (CACHE_SLOTS - 1)];
	if (e->hash == h && e->len == n && e->n_gids <= CACHE_GIDS && !memcmp(e->val, s, n)) {
		for (uint32_t i = 0; i < e->n_gids; i++)
			if (e->gids[i] < cm->n_gids)
				set_bit(cm, e->gids[i]);
		cm->st.cache_hits++;
		cd->hits++;
		return true;
	}
	*slot = e;
	*hash = h;
	return false;
}

/* One value by one database: from the cache, or scanned (and cached). */
static void scan_value(struct cmatch *cm, struct cm_db *cd, const char *s, size_t n,
		       struct match_scratch *ms)
{
	struct cache_ent *e;
	uint64_t h = 0;
	hs_error_t rc;

	if (cache_lookup(cm, cd, s, n, &e, &h))
		return;
	if (n > UINT32_MAX)
		return;
	if (++cm->scan_no == 0) {
		memset(cm->seen, 0, (cm->n_gids ? cm->n_gids : 1) * sizeof(*cm->seen));
		cm->scan_no = 1;
	}
	cm->n_scan_gids = 0;
	cm->st.scans++;
	rc = hs_scan(cd->db, n ? s : "", (unsigned int)n, 0, ms->hs, on_hit, cm);
	if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED) {
		ms->re_errors++;
		return;		/* not cached: the next one may succeed */
	}
	if (e && cm->n_scan_gids <= CACHE_GIDS) {
		e->hash = h;
		e->len = (uint32_t)n;
		e->n_gids = (uint32_t)cm->n_scan_gids;
		memcpy(e->gids, cm->scan_gids, cm->n_scan_gids * sizeof(*e->gids));
		memcpy(e->val, s, n);
	}
}

static int scan_field(struct cmatch *cm, struct cm_db *cd, struct match_scratch *ms)
{
	const struct sigma_field *sf;
	struct fview fv;
	int err;

	if (cd->field >= sigma_n_fields)
		return -EFAULT;
	sf = &sigma_fields[cd->field];
	if ((unsigned)sf->ecs >= RW_F__COUNT)
		return -EFAULT;
	err = sigma_fview__get(ms, sf->ecs, sf->conv, false, &fv);
	if (err || !fv.present)
		return err;
	if (fv.list) {
		uint32_t pos = 0;
		const char *s, *ls;
		size_t n;

		while (sigma_fview__next(&fv, &pos, &s, &ls, &n))
			scan_value(cm, cd, s, n, ms);
		return 0;
	}
	scan_value(cm, cd, fv.s, fv.n, ms);
	return 0;
}

static void add_cand(struct cmatch *cm, uint32_t ri, size_t *n)
{
	if (ri >= cm->n_rules || cm->mark[ri] == cm->epoch)
		return;
	cm->mark[ri] = cm->epoch;
	if (!gates_pass(cm, ri)) {
		cm->st.gated++;
		return;
	}
	cm->cands[(*n)++] = ri;	/* each rule once: room for all */
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void sort_u32(uint32_t *v, size_t n)
{
	if (n > 16) {
		qsort(v, n, sizeof(*v), cmp_u32);
		return;
	}
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
			uint32_t t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
}

int cmatch__scan(struct cmatch *cm, const struct rw_event *ev, uint32_t mask,
		 struct match_scratch *ms, const uint32_t **cands)
{
	size_t n = 0;

	/* forget the last event's bits: every set bit is in hits */
	for (size_t i = 0; i < cm->n_hits; i++)
		cm->bits[cm->hits[i] >> 6] = 0;
	cm->n_hits = 0;
	if (++cm->epoch == 0) {
		memset(cm->mark, 0, (cm->n_rules ? cm->n_rules : 1) * sizeof(*cm->mark));
		cm->epoch = 1;
	}
	match_scratch__reset(ms, ev);
	for (int c = 0; c < SC__COUNT; c++) {
		if (!(mask & (1u << c)))
			continue;
		for (uint32_t k = 0; k < cm->n_db[c]; k++) {
			int err;

			if (cm->first_db[c] + k >= cm->n_dbs)
				return -EFAULT;
			err = scan_field(cm, &cm->dbs[cm->first_db[c] + k], ms);
			if (err)
				return err;
		}
	}
	/* the candidates, category by category, in index order */
	for (int c = 0; c < SC__COUNT; c++) {
		size_t start = n;

		if (!(mask & (1u << c)))
			continue;
		for (uint32_t k = 0; k < cm->n_always[c]; k++)
			add_cand(cm, cm->always[cm->first_always[c] + k], &n);
		for (size_t i = 0; i < cm->n_hits; i++) {
			uint32_t ri = cm->owner[cm->hits[i]];

			if (ri < cm->n_rules && (int)cm->rules[ri]->cat == c)
				add_cand(cm, ri, &n);
		}
		sort_u32(cm->cands + start, n - start);
	}
	cm->st.events++;
	cm->st.hits += cm->n_hits;
	cm->st.candidates += n;
	*cands = cm->cands;
	return (int)n;
}

int cmatch__item(const struct cmatch *cm, const struct rule *r, const struct item *it,
		 struct match_scratch *ms)
{
	const struct sigma_field *sf;
	struct fview fv;
	bool have = false, raw = it->all;

	/* the same run-time bounds checks as the naive evaluator */
	if (it->field >= sigma_n_fields || it->ecs >= RW_F__COUNT)
		return -EFAULT;
	sf = &sigma_fields[it->field];
	if ((unsigned)sf->ecs != it->ecs)
		return -EFAULT;
	if (!in_range(it->first_group, it->n_groups, r->n_groups))
		return -EFAULT;
	for (uint32_t g = 0; g < it->n_groups; g++) {
		const struct group *gr = &r->groups[it->first_group + g];
		bool gm = false;

		if (!in_range(gr->first_pat, gr->n_pats, r->n_pats))
			return -EFAULT;
		for (uint32_t k = 0; k < gr->n_pats && !gm; k++) {
			const struct pattern *p = &r->pats[gr->first_pat + k];
			int m;

			if (p->gid >= cm->n_gids)
				return -EFAULT;
			if (cm->pflag[p->gid] == PF_EXACT) {
				m = bit(cm, p->gid);
			} else if (cm->pflag[p->gid] == PF_CONFIRM && !bit(cm, p->gid)) {
				m = 0;
			} else {
				/* DIRECT, or a CONFIRM hit: the naive comparison */
				if (!have && sigma_fview__get(ms, (enum rw_field)it->ecs,
							      (enum sigma_conv)it->conv, true, &fv))
					return -ENOMEM;
				have = true;
				m = sigma_pat__match(p, &fv, ms);
			}
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
	if (it->neg) {
		if (!have && sigma_fview__get(ms, (enum rw_field)it->ecs,
					      (enum sigma_conv)it->conv, true, &fv))
			return -ENOMEM;
		return fv.present && !raw;
	}
	return raw;
}
