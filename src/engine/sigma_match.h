/*
 * Matcher internals shared by the naive evaluator (sigma_match.c: one rule
 * at a time, every pattern compared on its own) and the compiled matcher
 * (sigma_cmatch.c: one Hyperscan database per Sigma category and field,
 * scanned once per event into a bitset of pattern ids, then only the
 * rules a hit can make true are evaluated, their conditions reading the
 * bitset). Both walk the same condition trees with the same bounds
 * checks; they differ only in how an item's patterns are decided.
 *
 * Not thread-safe per scratch: one struct match_scratch per thread.
 * Errors: 0 or -errno; constructors return NULL and set errno.
 */
#ifndef RINGWARD_SIGMA_MATCH_H
#define RINGWARD_SIGMA_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/diag.h"
#include "engine/sigma.h"

struct cmatch;

/* The compiled size of one regex (Hyperscan's automaton for it): what it
 * costs to compile, keep and run. Larger ones are refused. */
#define SIGMA_MAX_REGEX_BYTES	(64 * 1024)

struct lowcache {
	uint32_t off, len;	/* lowered copy in ms->low */
	uint32_t epoch;		/* == ms->epoch: the lowered copy (INT: the
				 * decimal rendering) is made for this event */
};

struct match_scratch {
	const struct rw_event *ev;
	const struct cmatch *cm;	/* set while the compiled matcher evaluates */
	hs_scratch_t *hs;	/* from hs_alloc_scratch() */
	char *low;		/* from malloc(): lowered field values; never
				 * reallocated (views point into it) */
	size_t low_used, low_cap;
	struct lowcache lc[RW_F__COUNT];
	uint32_t epoch;		/* of the current event; never 0 */
	char num[RW_F__COUNT][24];	/* decimal renderings of INT fields */
	uint8_t memo[SIGMA_MAX_SEARCHES];	/* 0 unknown, 1 false, 2 true */
	uint64_t bad_values;	/* event values outside the arena (absent) */
	uint64_t re_errors;	/* Hyperscan scan failures (no match) */
};

/* A field of the event as Sigma sees it: absent, one scalar rendering, or
 * a list (STRV). Lowered (ASCII) copies only when asked for. */
struct fview {
	bool present;
	bool list;		/* STRV: lb/llb/lbytes */
	bool is_num;		/* num holds the field's integer value */
	int64_t num;
	const char *s, *ls;	/* scalar rendering, and lowered (or NULL) */
	size_t n;
	const char *lb, *llb;	/* STRV encoding, raw and lowered (or NULL) */
	uint32_t lbytes;
};

/* Fill fv for ECS field f (< RW_F__COUNT, checked by the caller) read with
 * conversion conv, lowered copies included when lower. 0 or -ENOMEM. */
int sigma_fview__get(struct match_scratch *ms, enum rw_field f, enum sigma_conv conv,
		     bool lower, struct fview *fv);
/* Next element of a STRV view: start with *pos = 0. ls is NULL when the
 * view was not lowered. */
bool sigma_fview__next(const struct fview *fv, uint32_t *pos, const char **s, const char **ls,
		       size_t *n);
/* One pattern against a lowered field view, as the naive evaluator decides
 * it (|exists included). 1, 0, or -EFAULT. */
int sigma_pat__match(const struct pattern *p, const struct fview *fv, struct match_scratch *ms);

/* ---- the compiled matcher (sigma_cmatch.c) ---- */

/*
 * Compile rules[0..n) together (the rules stay the caller's and must
 * outlive the matcher): per Sigma category and field, one Hyperscan
 * database of every string pattern of every rule on it. Patterns
 * Hyperscan decides exactly (literals, '*' wildcards, regexes with their
 * flags) are read from the bitset; for '?' wildcards and non-ASCII
 * caseless literals the database holds a superset and a hit is confirmed
 * by the naive comparison; checks that are no string patterns (exists,
 * null, numbers, cidr, fieldref, '*') run as in the naive evaluator. Also
 * each rule's gates (what it cannot match without) and a value cache per
 * database; sigma_cmatch.c says how. Each database is made able to run
 * with ms. Problems go to d (may be NULL); a regex over
 * SIGMA_MAX_REGEX_BYTES is one. Free with cmatch__free().
 */
struct cmatch *cmatch__new(struct rule *const *rules, size_t n, struct match_scratch *ms,
			   struct diag *d);
void cmatch__free(struct cmatch *cm);

/*
 * Scan ev's fields for the categories in mask (at most one scan per
 * database per present value: none when the value is in the database's
 * cache) and return in *cands the indexes of the rules to evaluate,
 * ordered by category then index (the naive order): every rule one of
 * whose patterns hit and whose gates pass, and every rule that can match
 * without any hit (e.g. `not filter`). The array belongs to cm and is
 * valid until the next scan. Returns the number of candidates, or -errno.
 */
int cmatch__scan(struct cmatch *cm, const struct rw_event *ev, uint32_t mask,
		 struct match_scratch *ms, const uint32_t **cands);

/* The categories (bit mask) of an event.action, as
 * sigma_cat__mask_for_action() says, from a table made at build time. */
uint32_t cmatch__mask(const struct cmatch *cm, const char *action, size_t len);

/* Evaluate candidate rule r (after cmatch__scan() of ev) from the bitset:
 * 1, 0, or -EFAULT as sigma_match__rule(). */
int cmatch__rule(const struct cmatch *cm, const struct rule *r, const struct rw_event *ev,
		 struct match_scratch *ms);

struct cmatch_stats {
	size_t databases;	/* (category, field) databases */
	size_t hs_patterns;	/* patterns in them */
	size_t hs_expressions;	/* distinct expressions compiled */
	size_t confirmed;	/* of which superset patterns confirmed on a hit */
	size_t direct;		/* patterns checked without Hyperscan */
	size_t always;		/* rules evaluated for every event of their category */
	size_t gates;		/* gates of all rules */
	size_t bytes;		/* database sizes */
	size_t cache_bytes;	/* the value caches */
	/* at run time */
	uint64_t events;	/* events scanned */
	uint64_t scans;		/* Hyperscan scans (values scanned) */
	uint64_t cache_hits;	/* values found in a cache, not scanned */
	uint64_t hits;		/* pattern bits set */
	uint64_t candidates;	/* rules evaluated */
	uint64_t gated;		/* rules a hit named that their gates dropped */
};
void cmatch__stats(const struct cmatch *cm, struct cmatch_stats *st);
/* Turn the value caches on (the default) or off, emptying them: for tests
 * and benchmarks that measure scanning itself. */
void cmatch__set_cache(struct cmatch *cm, bool on);

/* The compiled matcher of a rule set (for tests and benchmarks). */
struct ruleset;
struct cmatch *ruleset__cmatch(const struct ruleset *rs);

/* The item evaluator of the compiled matcher, called by the shared tree
 * walk when ms->cm is set. */
int cmatch__item(const struct cmatch *cm, const struct rule *r, const struct item *it,
		 struct match_scratch *ms);

#endif
