/*
 * The Sigma engine's internals, shared by the loader (sigma_load.c), the
 * modifier decoder (sigma_mod.c), the condition parser (sigma_cond.c), the
 * matcher (sigma_match.c), the rule set (ruleset.c) and the tests. Users of
 * the engine include engine/ruleset.h only.
 *
 * A compiled rule is flat arrays indexed by uint32_t, never pointers into
 * each other, so that a later compiled multi-pattern step (Hyperscan over
 * all string patterns of one field at once, setting bits per pattern gid)
 * can replace the per-pattern evaluation without changing the structure:
 *
 *   rule --searches[]--> search (OR of maps) --maps[]--> map (AND of items)
 *        --items[]--> item (one field; groups AND-linked with |all, else
 *        OR) --groups[]--> group (OR of the alternatives one Sigma value
 *        expanded into: base64offset, windash, expand) --pats[]--> pattern
 *
 * and the condition as a node array over search indexes.
 *
 * Errors: 0 or -errno; constructors return NULL and set errno.
 */
#ifndef RINGWARD_SIGMA_H
#define RINGWARD_SIGMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hs/hs.h>

#include "common/event.h"
#include "engine/diag.h"
#include "engine/sigma_fields.h"

/* ---- declared limits, enforced by the loader with clear errors ---- */
#define SIGMA_MAX_FILE_SIZE	(1024 * 1024)	/* bytes of one rule file */
#define SIGMA_MAX_RULES		20000		/* rules in one rule set */
#define SIGMA_MAX_VALUES	4096		/* patterns in one rule, after expansion */
#define SIGMA_MAX_PATTERN_LEN	4096		/* bytes of one value or regex */
#define SIGMA_MAX_COND_DEPTH	32		/* nesting of ( ) and not */
#define SIGMA_MAX_COND_LEN	4096		/* bytes of one condition */
#define SIGMA_MAX_SEARCHES	256		/* search identifiers in one rule */
#define SIGMA_MAX_YAML_DEPTH	32		/* nesting of YAML collections */
#define SIGMA_MAX_YAML_NODES	100000		/* nodes in one YAML document */
#define SIGMA_MAX_DIR_DEPTH	16		/* directory levels searched */

enum pat_kind {
	PK_ANY,		/* '*': any value of a present field */
	PK_EQ,		/* whole value equal */
	PK_PREFIX,
	PK_SUFFIX,
	PK_CONTAINS,
	PK_GLOB,	/* general wildcard pattern */
	PK_RE,		/* regular expression (Hyperscan: linear time) */
	PK_CIDR,
	PK_NUM_EQ,
	PK_LT, PK_LTE, PK_GT, PK_GTE,
	PK_NULL,	/* null: field absent or empty */
	PK_EXISTS,	/* |exists: num is 1 (must exist) or 0 */
	PK_REF_EQ,	/* |fieldref: compare with field `ref` */
	PK_REF_PREFIX,
	PK_REF_SUFFIX,
	PK_REF_CONTAINS,
};

/* Wildcard marks of a GLOB pattern, one per byte of s. */
#define PW_LIT	0
#define PW_STAR	1
#define PW_ONE	2

struct pattern {
	uint8_t kind;		/* enum pat_kind */
	uint8_t cased;		/* compare case-sensitively */
	uint8_t cidr_family;	/* 4 or 6 */
	uint8_t cidr_bits;
	uint32_t gid;		/* rule-set-wide pattern id */
	uint32_t len;		/* bytes of s */
	uint16_t ref;		/* fieldref: index in sigma_fields[] */
	uint16_t re_flags;	/* PK_RE: the HS_FLAG_* re was compiled with */
	char *s;		/* from malloc(): literal bytes (lower-cased
				 * unless cased), or the regex text */
	uint8_t *wild;		/* from malloc(): GLOB only, PW_* per byte */
	int64_t num;
	uint8_t cidr[16];
	hs_database_t *re;	/* from hs_compile(); PK_RE only */
};

struct group {
	uint32_t first_pat, n_pats;	/* alternatives, OR-linked */
};

struct item {
	uint16_t field;		/* index in sigma_fields[] */
	uint16_t ecs;		/* sigma_fields[field].ecs; re-checked at run time */
	uint8_t conv;		/* enum sigma_conv */
	uint8_t all;		/* |all: groups AND-linked */
	uint8_t neg;		/* |neq: the field is present and the values
				 * (OR, or AND with |all) do not match it */
	uint32_t first_group, n_groups;
	unsigned line, col;	/* of the field key, for messages */
};

struct smap {
	uint32_t first_item, n_items;	/* AND-linked */
};

struct search {
	char *name;			/* from malloc() */
	uint32_t first_map, n_maps;	/* OR-linked */
	unsigned line, col;
	bool used;			/* named by the condition */
};

enum cnode_kind { CN_SEARCH, CN_AND, CN_OR, CN_NOT, CN_ONE_OF, CN_ALL_OF };

struct cnode {
	uint8_t kind;	/* enum cnode_kind */
	uint32_t a, b;	/* SEARCH: a = search; AND/OR: children; NOT: a;
			 * ONE_OF/ALL_OF: refs[a .. a+b) are search indexes */
};

enum rule_action { RA_ALERT, RA_BLOCK, RA_KILL, RA_QUARANTINE };

struct rule {
	/* metadata, all from malloc() */
	char *id, *title, *description, *author, *level, *status, *file;
	char **tags;
	size_t n_tags;
	unsigned line, col;		/* of the id (or title) value */
	enum rule_action action;	/* ringward: action */
	uint8_t fault;			/* ringward: fault (test only, engine/fault.h) */
	uint8_t allow_protected;	/* ringward: allow_protected: true (guardrails.h) */
	uint8_t fail_closed;		/* ringward: fail: closed */
	uint8_t kill_group;		/* ringward: kill_group: true (kill: the process group) */
	unsigned action_line, action_col;	/* of the ringward.action value */
	int severity;			/* from level: 1..5, 0 when none */
	enum sigma_cat cat;

	struct search *searches;
	struct smap *maps;
	struct item *items;
	struct group *groups;
	struct pattern *pats;
	struct cnode *nodes;
	uint32_t *refs;
	uint32_t n_searches, n_maps, n_items, n_groups, n_pats, n_nodes, n_refs;
	uint32_t cap_searches, cap_maps, cap_items, cap_groups, cap_pats, cap_nodes, cap_refs;
	uint32_t root;			/* condition root node */
};

void rule__free(struct rule *r);

/* Placeholders for |expand: name -> list of values (Sigma strings, whose
 * wildcards keep their meaning). */
struct placeholders {
	char **names;		/* from malloc() */
	char ***values;		/* values[i]: n_values[i] strings */
	size_t *n_values;
	size_t n;
};
void placeholders__free(struct placeholders *ph);
/* Add one value to placeholder name (without the %). 0 or -ENOMEM. */
int placeholders__add(struct placeholders *ph, const char *name, const char *value);
/* Load `name: [values...]` from a YAML file. 0, or -errno with a message
 * in d. */
int placeholders__load(struct placeholders *ph, const char *path, struct diag *d);

/* ---- loader ---- */
struct sigma_loader {
	struct diag *diag;
	const struct placeholders *ph;	/* may be NULL */
	struct rule **rules;		/* from malloc(); taken by the rule set */
	size_t n_rules, cap_rules;
	uint32_t next_gid;
	size_t n_files;
};

/* Parse and compile every rule document of a buffer. Rules that load are
 * appended to ld->rules; every problem goes to ld->diag. Returns the number
 * of errors found in this buffer. */
int sigma__load_buffer(struct sigma_loader *ld, const char *name, const char *buf, size_t len);
/* The same for a file (size checked before reading). */
int sigma__load_file(struct sigma_loader *ld, const char *path);
void sigma_loader__free_rules(struct sigma_loader *ld);

/* ---- condition parser (sigma_cond.c) ---- */
struct cond_error {
	size_t off;		/* byte offset in the condition text */
	char msg[256];
};
/* Parse one condition over r->searches, appending nodes to r; marks the
 * searches it names as used. Returns the root node index (>= 0) or -1 with
 * err set (-ENOMEM reported as a message too). */
int sigma_cond__parse(struct rule *r, const char *s, size_t len, struct cond_error *err);

/* ---- modifiers (sigma_mod.c) ---- */
/* A Sigma string: bytes plus a PW_* mark per byte. */
struct sstr {
	uint8_t *b, *w;		/* from malloc() */
	size_t n, cap;
};
void sstr__free(struct sstr *s);
int sstr__push(struct sstr *s, uint8_t byte, uint8_t wild);
/* Parse Sigma escapes: '*' and '?' are wildcards, '\' escapes '*', '?' and
 * '\', any other '\' is literal. */
int sstr__parse(struct sstr *s, const char *text, size_t len);
bool sstr__has_wild(const struct sstr *s);

struct sstr_list {
	struct sstr *v;
	size_t n, cap;
};
void sstr_list__free(struct sstr_list *l);
int sstr_list__take(struct sstr_list *l, struct sstr *s);	/* moves s in */

/* Transformations; each replaces the list in place. Errors: -EINVAL with a
 * message in msg (size msz), -E2BIG when the result would exceed max
 * values, -ENOMEM. */
int sigma_mod__utf16(struct sstr_list *l, int kind, char *msg, size_t msz);	/* 0 le, 1 be, 2 bom+le */
int sigma_mod__base64(struct sstr_list *l, char *msg, size_t msz);
int sigma_mod__base64offset(struct sstr_list *l, size_t max, char *msg, size_t msz);
int sigma_mod__windash(struct sstr_list *l, size_t max, char *msg, size_t msz);
int sigma_mod__wrap(struct sstr_list *l, bool star_front, bool star_back);
/* Expand %name% placeholders in text (escape: \%) into l. */
int sigma_mod__expand(struct sstr_list *l, const char *text, size_t len,
		      const struct placeholders *ph, size_t max, char *msg, size_t msz);

/* Parse "a.b.c.d/n" or an IPv6 CIDR into p (kind PK_CIDR). -EINVAL. */
int sigma_mod__cidr(struct pattern *p, const char *text, size_t len);

/* ---- matcher (sigma_match.c) ---- */
struct match_scratch;
struct match_scratch *match_scratch__new(void);
void match_scratch__free(struct match_scratch *ms);
/* Make the scratch able to run db (Hyperscan scratch space). */
int match_scratch__prepare(struct match_scratch *ms, const hs_database_t *db);

/* Evaluate rule r against ev: 1 match, 0 no match, -EFAULT when an
 * access was out of range (the caller disables the rule and counts it).
 * Work is bounded by the rule's size times the event's field sizes. */
int sigma_match__rule(const struct rule *r, const struct rw_event *ev,
		      struct match_scratch *ms);
/* Start a new event in the scratch (drops cached field renderings); must
 * be called before the rules are evaluated for each event. */
void match_scratch__reset(struct match_scratch *ms, const struct rw_event *ev);
/* Event values found outside the arena, regex scans that failed. */
void match_scratch__counts(const struct match_scratch *ms, uint64_t *bad_values,
			   uint64_t *re_errors);

/* ---- for tests: the compiled rule behind ruleset__rule(rs, i) ---- */
struct ruleset;
struct rule *ruleset__compiled(struct ruleset *rs, size_t i);

#endif
