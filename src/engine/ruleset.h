/*
 * A rule set: Sigma rules loaded from files and directories, compiled, and
 * matched against events. This is the engine's interface; everything else
 * in src/engine/ is internal to it.
 *
 * Loading runs the same loader `ringward validate` runs. A set with any
 * error does not load (NULL): a half-loaded set would be a validator that
 * is not the code that runs. Every error is reported in the diag.
 *
 * Matching is single-threaded per rule set (it uses the set's scratch
 * space); rules are evaluated only for the events of their Sigma category
 * (by event.action, see include/ringward/sigma_fields.def).
 *
 * Errors: 0 or -errno; constructors return NULL and set errno.
 */
#ifndef RINGWARD_RULESET_H
#define RINGWARD_RULESET_H

#include <stddef.h>
#include <stdint.h>

#include "common/event.h"
#include "engine/diag.h"

struct ruleset;

/* What an alert says about the rule that matched. Strings belong to the
 * rule set and live as long as it does. */
struct rule_info {
	const char *id;			/* may be NULL (Sigma does not require one) */
	const char *title;
	const char *description;	/* may be NULL */
	const char *author;		/* may be NULL; alerts keep it (DRL 1.1) */
	const char *level;		/* informational..critical, or NULL */
	int severity;			/* 1 informational .. 5 critical; 0 no level */
	const char *status;		/* may be NULL */
	const char *const *tags;
	size_t n_tags;
	const char *category;		/* Sigma logsource category */
	const char *action;		/* ringward: action: alert, block or kill */
	const char *file;		/* where it was loaded from */
	unsigned line;
};

/* Called once per matching rule; a non-zero return stops the matching and
 * is returned by ruleset__match(). */
typedef int (*ruleset_match_fn)(const struct rule_info *rule, const struct rw_event *ev,
				void *ctx);

struct placeholders;

struct ruleset_opts {
	const char *placeholders_path;	/* YAML `name: [values]` for |expand, or NULL */
	const struct placeholders *placeholders;	/* or these (engine/sigma.h) */
};

/* Load every rule in paths: files (any name) and directories (searched
 * recursively for *.yml and *.yaml, in sorted order; hidden entries and
 * symlinked directories are skipped). out may be NULL. */
struct ruleset *ruleset__load(const char *const paths[], int n, struct diag *out);
struct ruleset *ruleset__load_opts(const char *const paths[], int n,
				   const struct ruleset_opts *opts, struct diag *out);
/* The same for rules held in memory (name is used in messages). */
struct ruleset *ruleset__load_buffer(const char *name, const char *buf, size_t len,
				     const struct ruleset_opts *opts, struct diag *out);
void ruleset__free(struct ruleset *rs);

size_t ruleset__count(const struct ruleset *rs);
size_t ruleset__files(const struct ruleset *rs);
const struct rule_info *ruleset__rule(const struct ruleset *rs, size_t i);

/* Evaluate every rule of ev's category; cb for each match. Returns the
 * number of matching rules, the callback's non-zero value, or -errno.
 * A rule whose evaluation reads out of bounds is disabled and counted
 * (ruleset_stats.disabled_oob), never read past. */
int ruleset__match(const struct ruleset *rs, const struct rw_event *ev,
		   ruleset_match_fn cb, void *ctx);

struct ruleset_stats {
	uint64_t events;	/* events matched against the set */
	uint64_t evaluations;	/* rule evaluations */
	uint64_t matches;
	uint64_t disabled_oob;	/* rules disabled by an out-of-range access */
	uint64_t bad_values;	/* event values outside the event's arena */
	uint64_t re_errors;	/* regex scans that failed (counted as no match) */
};
void ruleset__stats(const struct ruleset *rs, struct ruleset_stats *st);

#endif
