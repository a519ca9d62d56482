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
 * (by event.action, see include/ringward/sigma_fields.def). All rules are
 * compiled together when the set loads (engine/sigma_match.h): each field
 * of an event is scanned once, and only the rules that can then match
 * are evaluated.
 *
 * Errors: 0 or -errno; constructors return NULL and set errno.
 */
#ifndef RINGWARD_RULESET_H
#define RINGWARD_RULESET_H

#include <stdbool.h>
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
	const char *action;		/* ringward: action: alert, block, kill or
					 * quarantine (alert when a guardrail
					 * downgraded it: see downgraded) */
	bool fail_closed;		/* ringward: fail: closed (block: deny when
					 * the verdict misses its deadline) */
	bool kill_group;		/* ringward: kill_group: true (kill the
					 * process group, not only the process) */
	bool allow_protected;		/* ringward: allow_protected: true, honoured
					 * (the rule came from a signed bundle) */
	bool downgraded;		/* a guardrail downgraded it to alert */
	bool killed;			/* disabled by the kill switch */
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

	/* Signed content (engine/content_sign.h). With trusted keys, only
	 * bundles signed by one of them load: plain rule files and
	 * directories, unsigned bundles and buffers are refused, each before
	 * anything in it is parsed. Each entry is a public key file or a
	 * directory of *.pub files (RW_TRUSTED_DIR). */
	const char *const *trusted_keys;
	size_t n_trusted_keys;
	/* Anti-rollback (engine/anti_rollback.h): where the highest accepted
	 * version per bundle name is kept; an older bundle is refused, and
	 * the versions of a set that loads are recorded. NULL: off. */
	const char *versions_dir;
	/* The content is the sensor's own last-known-good copy: neither an
	 * older version nor an expiry refuses it (both still reported). */
	bool last_known_good;
	int64_t now;			/* seconds since the epoch, for expiry; 0: clock */

	/* Guardrails (engine/guardrails.h) on rules that block, kill or
	 * quarantine. downgrade: such a rule that could hit a protected
	 * target loads as alert-only (with a warning) instead of being
	 * rejected. */
	bool guardrails_downgrade;
	const char *dpkg_info_dir;	/* package file lists; NULL: /var/lib/dpkg/info */
	const char *const *protected_paths;	/* more directory trees to protect */
	size_t n_protected_paths;
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
/* The kill switch (signed rollout metadata, docs/update.md): the rules with
 * these ids never match again in this set. Returns how many rules it hit. */
size_t ruleset__kill_rules(struct ruleset *rs, const char *const *ids, size_t n);
size_t ruleset__files(const struct ruleset *rs);
const struct rule_info *ruleset__rule(const struct ruleset *rs, size_t i);

/* Evaluate every rule of ev's category; cb for each match. Returns the
 * number of matching rules, the callback's non-zero value, or -errno.
 * A rule whose evaluation reads out of bounds is disabled and counted
 * (ruleset_stats.disabled_oob), never read past. */
int ruleset__match(const struct ruleset *rs, const struct rw_event *ev,
		   ruleset_match_fn cb, void *ctx);
/* The same result by the naive one-rule-at-a-time evaluator: every rule of
 * the event's categories evaluated on its own, each pattern compared
 * separately. The reference for tests and benchmarks, not for the sensor. */
int ruleset__match_naive(const struct ruleset *rs, const struct rw_event *ev,
			 ruleset_match_fn cb, void *ctx);

/* A content bundle the set was loaded from (engine/bundle.h). Content from
 * plain directories and files is unversioned local content and has none.
 * Strings belong to the rule set. */
struct content_info {
	const char *path;	/* the bundle directory, as found */
	const char *name;
	int64_t version;
	int schema;		/* the schema version it targets */
	const char *min_sensor;	/* the oldest sensor version it runs on */
	size_t files;		/* files the manifest lists */
	size_t rule_files;	/* of which Sigma rule files */
	/* signing, expiry and anti-rollback (engine/bundle.h, content_sign.h) */
	const char *key_id;	/* the trusted key whose signature verified, or
				 * NULL: not checked (no trusted key configured) */
	int64_t expires;	/* seconds since the epoch; 0: no expiry. The
				 * sensor compares it with the clock to raise
				 * the stale-content alert */
	bool expired;		/* already expired when loaded (only the
				 * last-known-good loads so) */
	int64_t highest_version;	/* the highest version accepted before this
					 * load (anti-rollback); 0: none or not checked */
};

/* Number of bundles in the set (0: only unversioned local content), and
 * bundle i in load order, or NULL. */
size_t ruleset__bundles(const struct ruleset *rs);
const struct content_info *ruleset__content_info(const struct ruleset *rs, size_t i);

/* How the content was signed. */
struct ruleset_signing {
	bool required;		/* trusted keys were configured: only signed
				 * bundles loaded */
	size_t trusted_keys;	/* usable trusted keys */
	size_t unsigned_rules;	/* rules from content no trusted key signed */
	bool all_signed;	/* at least one rule, and every rule came from a
				 * bundle whose signature verified */
};
void ruleset__signing(const struct ruleset *rs, struct ruleset_signing *out);
/* "signed", or why not ("unsigned: no trusted key is configured"), for
 * the sensor's start record. A static string. */
const char *ruleset__signing_state(const struct ruleset *rs);

/* Have matching write the index of each rule into *slot just before it is
 * evaluated (NULL: stop). The engine process points it into the memory it
 * shares with the core, so that after a crash the core knows the rule. */
void ruleset__set_probe(const struct ruleset *rs, volatile uint32_t *slot);

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
