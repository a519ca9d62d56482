/*
 * The Sigma rule loader and compiler: YAML (libyaml) in, struct rule out,
 * and a precise `file:line:col: error:` message for everything it refuses.
 * `ringward validate` and the sensor both run exactly this code.
 *
 * One file may hold several YAML documents; each is one rule. A rule with
 * any error is not loaded (and the set it belongs to fails to load); every
 * error of every rule is reported, not just the first.
 *
 * Refused with a stated reason, because the engine cannot evaluate them
 * with their intended meaning: correlation rules and Sigma filters (meta
 * rules over several events), Sigma 1 rule collections (action: global),
 * keyword searches (values not tied to a field), aggregations in
 * conditions, fields this sensor does not supply for the rule's category,
 * and regexes outside what Hyperscan matches in linear time
 * (backreferences, lookaround, ...).
 *
 * Bounds: file size, YAML nodes and nesting, rules per set, values per rule
 * (after modifiers expand them), value and regex length, condition length
 * and nesting: see the SIGMA_MAX_* limits in sigma.h.
 */
#include "engine/sigma.h"
#include "engine/fault.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

struct lctx {
	struct sigma_loader *ld;
	const char *file;
	yaml_document_t *doc;
	struct rule *r;
	const char *label;	/* rule id for messages, or NULL */
	int n_errors;		/* in this document */
	bool values_reported;	/* the values limit was reported */
};

static void verr_at(struct lctx *c, unsigned line, unsigned col, const char *fmt, va_list ap)
{
	diag__vadd(c->ld->diag, DIAG_ERROR, c->file, line, col, c->label, fmt, ap);
	c->n_errors++;
}

static void err_at(struct lctx *c, unsigned line, unsigned col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void err_at(struct lctx *c, unsigned line, unsigned col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr_at(c, line, col, fmt, ap);
	va_end(ap);
}

static void err_node(struct lctx *c, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void err_node(struct lctx *c, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr_at(c, n ? (unsigned)n->start_mark.line + 1 : 0,
		n ? (unsigned)n->start_mark.column + 1 : 0, fmt, ap);
	va_end(ap);
}

/*
 * Line and column of byte off inside a scalar's value. Exact for scalars
 * on one line written plain or quoted without escapes before off; other
 * scalars (block, folded, multi-line) report their start.
 */
static void scalar_pos(const yaml_node_t *n, size_t off, unsigned *line, unsigned *col)
{
	yaml_scalar_style_t st = n->data.scalar.style;

	*line = (unsigned)n->start_mark.line + 1;
	*col = (unsigned)n->start_mark.column + 1;
	if (n->start_mark.line != n->end_mark.line)
		return;
	if (st == YAML_PLAIN_SCALAR_STYLE)
		*col += (unsigned)off;
	else if (st == YAML_SINGLE_QUOTED_SCALAR_STYLE || st == YAML_DOUBLE_QUOTED_SCALAR_STYLE)
		*col += (unsigned)off + 1;
}

static yaml_node_t *node(struct lctx *c, int id)
{
	return yaml_document_get_node(c->doc, id);
}

static const char *sval(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static bool skey_is(const yaml_node_t *k, const char *s)
{
	return k && k->type == YAML_SCALAR_NODE && k->data.scalar.length == strlen(s) &&
	       memcmp(k->data.scalar.value, s, k->data.scalar.length) == 0;
}

/* Value node of key in mapping m (and the key node in *kout), or NULL. */
static yaml_node_t *map_get(struct lctx *c, yaml_node_t *m, const char *key, yaml_node_t **kout)
{
	if (!m || m->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(c, p->key);

		if (skey_is(k, key)) {
			if (kout)
				*kout = k;
			return node(c, p->value);
		}
	}
	return NULL;
}

/* ---- scalar typing (YAML 1.1, as PyYAML and so pySigma resolve it) ---- */

enum vtype { V_NULL, V_BOOL, V_INT, V_FLOAT, V_STR };

static bool is_plain(const yaml_node_t *n)
{
	return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static bool tag_is(const yaml_node_t *n, const char *t)
{
	return n->tag && strcmp((const char *)n->tag, t) == 0;
}

static bool parse_yaml_int(const char *s, size_t n, int64_t *out)
{
	char buf[80];
	size_t j = 0, i = 0;
	bool neg = false;
	int base = 10;
	unsigned long long v = 0;

	if (n == 0 || n >= sizeof(buf))
		return false;
	if (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-';
		i = 1;
	}
	if (i >= n)
		return false;
	if (n - i > 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'b')) {
		base = s[i + 1] == 'x' ? 16 : 2;
		i += 2;
	} else if (n - i > 1 && s[i] == '0') {
		base = 8;
		i += 1;
	}
	for (; i < n; i++) {
		char ch = s[i];
		int d;

		if (ch == '_')
			continue;
		if (ch >= '0' && ch <= '9')
			d = ch - '0';
		else if (ch >= 'a' && ch <= 'f')
			d = ch - 'a' + 10;
		else if (ch >= 'A' && ch <= 'F')
			d = ch - 'A' + 10;
		else
			return false;
		if (d >= base)
			return false;
		if (v > (ULLONG_MAX - (unsigned)d) / (unsigned)base)
			return false;
		v = v * (unsigned)base + (unsigned)d;
		buf[j++] = ch;
	}
	if (!j || v > (unsigned long long)INT64_MAX + (neg ? 1 : 0))
		return false;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

static bool looks_float(const char *s, size_t n)
{
	size_t i = 0;
	bool dot = false, digit = false;

	if (n && (s[0] == '-' || s[0] == '+'))
		i = 1;
	if (n - i == 4 && s[i] == '.' && (!strncmp(s + i + 1, "inf", 3) ||
					  !strncmp(s + i + 1, "Inf", 3) || !strncmp(s + i + 1, "INF", 3)))
		return true;
	if (n == 4 && (!strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN")))
		return true;
	for (; i < n; i++) {
		if (s[i] >= '0' && s[i] <= '9') {
			digit = true;
		} else if (s[i] == '.' && !dot) {
			dot = true;
		} else if ((s[i] == 'e' || s[i] == 'E') && dot && digit && i + 2 < n &&
			   (s[i + 1] == '-' || s[i + 1] == '+')) {
			for (i += 2; i < n; i++)
				if (s[i] < '0' || s[i] > '9')
					return false;
			return true;
		} else if (s[i] != '_') {
			return false;
		}
	}
	return dot;
}

/* Resolve a scalar's YAML type. *bv / *iv receive bool and int values. */
static enum vtype resolve(struct lctx *c, const yaml_node_t *n, bool *bv, int64_t *iv)
{
	static const char *const yes[] = { "yes", "Yes", "YES", "true", "True", "TRUE",
					   "on", "On", "ON" };
	static const char *const no[] = { "no", "No", "NO", "false", "False", "FALSE",
					  "off", "Off", "OFF" };
	const char *s = sval(n);
	size_t len = n->data.scalar.length;

	if (tag_is(n, YAML_INT_TAG))
		return parse_yaml_int(s, len, iv) ? V_INT : V_STR;
	if (!is_plain(n))
		return V_STR;
	if (len == 0 || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	    !strcmp(s, "NULL"))
		return V_NULL;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcmp(s, yes[i])) {
			*bv = true;
			return V_BOOL;
		}
		if (!strcmp(s, no[i])) {
			*bv = false;
			return V_BOOL;
		}
	}
	if (parse_yaml_int(s, len, iv))
		return V_INT;
	if (looks_float(s, len))
		return V_FLOAT;
	return V_STR;
}

/* An explicit tag other than the core ones is refused rather than
 * guessed at. */
static bool tag_ok(const yaml_node_t *n)
{
	static const char *const ok[] = { YAML_STR_TAG, YAML_INT_TAG, YAML_NULL_TAG,
					  YAML_BOOL_TAG, YAML_FLOAT_TAG, YAML_SEQ_TAG,
					  YAML_MAP_TAG };

	if (!n->tag)
		return true;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (tag_is(n, ok[i]))
			return true;
	return false;
}

/* ---- document checks: aliases, nesting, node count, duplicate keys ---- */

static int check_tree(struct lctx *c, int id, int depth, uint8_t *seen)
{
	yaml_node_t *n = node(c, id);
	int err = 0;

	if (!n)
		return -EINVAL;
	if (seen[id]) {
		err_node(c, n, "YAML aliases (*name) are not supported in rules");
		return -EINVAL;
	}
	seen[id] = 1;
	if (!tag_ok(n)) {
		err_node(c, n, "unsupported YAML tag '%s'", (const char *)n->tag);
		return -EINVAL;
	}
	if (n->type == YAML_SCALAR_NODE)
		return 0;
	if (depth >= SIGMA_MAX_YAML_DEPTH) {
		err_node(c, n, "YAML nested deeper than %d levels", SIGMA_MAX_YAML_DEPTH);
		return -EINVAL;
	}
	if (n->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *it = n->data.sequence.items.start;
		     it < n->data.sequence.items.top && !err; it++)
			err = check_tree(c, *it, depth + 1, seen);
		return err;
	}
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top && !err; p++) {
		yaml_node_t *k = node(c, p->key);

		if (!k)
			return -EINVAL;
		if (k->type != YAML_SCALAR_NODE) {
			err_node(c, k, "mapping keys must be plain strings");
			return -EINVAL;
		}
		/* duplicate keys: YAML forbids them, and a later one would
		 * silently override the first */
		for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++) {
			yaml_node_t *k2 = node(c, q->key);

			if (k2 && k2->type == YAML_SCALAR_NODE &&
			    k2->data.scalar.length == k->data.scalar.length &&
			    !memcmp(k2->data.scalar.value, k->data.scalar.value,
				    k->data.scalar.length)) {
				err_node(c, k, "duplicate key '%s' (first at line %u)", sval(k),
					 (unsigned)k2->start_mark.line + 1);
				return -EINVAL;
			}
		}
		err = check_tree(c, p->key, depth + 1, seen);
		if (!err)
			err = check_tree(c, p->value, depth + 1, seen);
	}
	return err;
}

static int check_doc(struct lctx *c)
{
	size_t n_nodes = (size_t)(c->doc->nodes.top - c->doc->nodes.start);
	uint8_t *seen;
	int err;

	if (n_nodes > SIGMA_MAX_YAML_NODES) {
		err_at(c, (unsigned)c->doc->start_mark.line + 1,
		       (unsigned)c->doc->start_mark.column + 1,
		       "document has %zu YAML nodes, more than the limit of %d", n_nodes,
		       SIGMA_MAX_YAML_NODES);
		return -E2BIG;
	}
	seen = calloc(n_nodes + 2, 1);
	if (!seen)
		return -ENOMEM;
	err = check_tree(c, 1, 0, seen);
	free(seen);
	return err;
}

/* ---- rule building helpers ---- */

#define GROW(r, arr, n, cap)                                                    \
	({                                                                      \
		int _e = 0;                                                     \
		if ((r)->n == (r)->cap) {                                       \
			uint32_t _c = (r)->cap ? (r)->cap * 2 : 8;              \
			void *_p = realloc((r)->arr, _c * sizeof(*(r)->arr));   \
			if (_p) {                                               \
				(r)->arr = _p;                                  \
				(r)->cap = _c;                                  \
			} else {                                                \
				_e = -ENOMEM;                                   \
			}                                                       \
		}                                                               \
		_e;                                                             \
	})

static void pattern__free(struct pattern *p)
{
	free(p->s);
	free(p->wild);
	if (p->re)
		hs_free_database(p->re);
}

void rule__free(struct rule *r)
{
	if (!r)
		return;
	free(r->id);
	free(r->title);
	free(r->description);
	free(r->author);
	free(r->level);
	free(r->status);
	free(r->file);
	for (size_t i = 0; i < r->n_tags; i++)
		free(r->tags[i]);
	free(r->tags);
	for (uint32_t i = 0; i < r->n_searches; i++)
		free(r->searches[i].name);
	free(r->searches);
	free(r->maps);
	free(r->items);
	free(r->groups);
	for (uint32_t i = 0; i < r->n_pats; i++)
		pattern__free(&r->pats[i]);
	free(r->pats);
	free(r->nodes);
	free(r->refs);
	free(r);
}

/* Append a pattern; counts against the values limit. NULL on error (a
 * message is given for the limit). */
static struct pattern *new_pattern(struct lctx *c, const yaml_node_t *at)
{
	struct rule *r = c->r;
	struct pattern *p;

	if (r->n_pats >= SIGMA_MAX_VALUES) {
		if (!c->values_reported)
			err_node(c, at, "rule has more than %d values (after modifiers expand "
				 "them)", SIGMA_MAX_VALUES);
		c->values_reported = true;
		return NULL;
	}
	if (GROW(r, pats, n_pats, cap_pats)) {
		err_node(c, at, "out of memory");
		return NULL;
	}
	p = &r->pats[r->n_pats++];
	memset(p, 0, sizeof(*p));
	p->gid = c->ld->next_gid++;
	return p;
}

static char *dup_n(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = 0;
	}
	return d;
}

/* ---- modifiers ---- */

enum mod_id {
	M_CONTAINS, M_STARTSWITH, M_ENDSWITH, M_ALL, M_RE, M_RE_I, M_RE_M, M_RE_S,
	M_CIDR, M_BASE64, M_BASE64OFFSET, M_UTF16LE, M_UTF16BE, M_UTF16, M_WIDE,
	M_WINDASH, M_EXISTS, M_CASED, M_NEQ, M_GT, M_GTE, M_LT, M_LTE, M_FIELDREF,
	M_EXPAND, M__COUNT
};

static const char *const mod_names[M__COUNT] = {
	"contains", "startswith", "endswith", "all", "re", "i", "m", "s", "cidr",
	"base64", "base64offset", "utf16le", "utf16be", "utf16", "wide", "windash",
	"exists", "cased", "neq", "gt", "gte", "lt", "lte", "fieldref", "expand",
};

static const char *const time_mods[] = { "minute", "hour", "day", "week", "month", "year" };

struct mods {
	bool has[M__COUNT];
	enum mod_id order[16];	/* value transformations, in the order given */
	int n_order;
	int num_kind;		/* PK_LT.. or 0 */
};

static bool is_transform(enum mod_id m)
{
	return m == M_CONTAINS || m == M_STARTSWITH || m == M_ENDSWITH || m == M_BASE64 ||
	       m == M_BASE64OFFSET || m == M_UTF16LE || m == M_UTF16BE || m == M_UTF16 ||
	       m == M_WIDE || m == M_WINDASH;
}

/* First modifier of set present in md, or -1. */
static int first_of(const struct mods *md, const enum mod_id *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (md->has[set[i]])
			return (int)set[i];
	return -1;
}

/* Check which modifiers go together; message at the key. */
static int check_mods(struct lctx *c, const yaml_node_t *key, const struct mods *md)
{
	static const enum mod_id wrap[] = { M_CONTAINS, M_STARTSWITH, M_ENDSWITH };
	static const enum mod_id enc[] = { M_BASE64, M_BASE64OFFSET, M_UTF16LE, M_UTF16BE,
					   M_UTF16, M_WIDE, M_WINDASH };
	static const enum mod_id all_str[] = { M_CONTAINS, M_STARTSWITH, M_ENDSWITH, M_BASE64,
					       M_BASE64OFFSET, M_UTF16LE, M_UTF16BE, M_UTF16,
					       M_WIDE, M_WINDASH, M_CASED, M_EXPAND, M_FIELDREF,
					       M_CIDR, M_RE, M_NEQ, M_GT, M_GTE, M_LT, M_LTE,
					       M_ALL };
	int n_wrap = 0, m;

	for (size_t i = 0; i < 3; i++)
		n_wrap += md->has[wrap[i]];
	if (n_wrap > 1) {
		err_node(c, key, "modifiers 'contains', 'startswith' and 'endswith' exclude "
			 "each other");
		return -EINVAL;
	}
	if (md->has[M_EXISTS] && (m = first_of(md, all_str, sizeof(all_str) / sizeof(all_str[0]))) >= 0) {
		err_node(c, key, "'exists' cannot be combined with '%s'", mod_names[m]);
		return -EINVAL;
	}
	if (md->has[M_RE]) {
		static const enum mod_id no_re[] = { M_CONTAINS, M_STARTSWITH, M_ENDSWITH,
						     M_BASE64, M_BASE64OFFSET, M_UTF16LE,
						     M_UTF16BE, M_UTF16, M_WIDE, M_WINDASH,
						     M_CIDR, M_FIELDREF, M_EXPAND, M_CASED,
						     M_GT, M_GTE, M_LT, M_LTE };

		m = first_of(md, no_re, sizeof(no_re) / sizeof(no_re[0]));
		if (m >= 0) {
			err_node(c, key, "'re' cannot be combined with '%s'%s", mod_names[m],
				 m == M_CASED ? " (a regex is case-sensitive unless 're|i')" : "");
			return -EINVAL;
		}
	}
	if (md->has[M_CIDR]) {
		static const enum mod_id no_cidr[] = { M_CONTAINS, M_STARTSWITH, M_ENDSWITH,
						       M_BASE64, M_BASE64OFFSET, M_UTF16LE,
						       M_UTF16BE, M_UTF16, M_WIDE, M_WINDASH,
						       M_FIELDREF, M_EXPAND, M_CASED, M_GT,
						       M_GTE, M_LT, M_LTE };

		m = first_of(md, no_cidr, sizeof(no_cidr) / sizeof(no_cidr[0]));
		if (m >= 0) {
			err_node(c, key, "'cidr' cannot be combined with '%s'", mod_names[m]);
			return -EINVAL;
		}
	}
	if (md->num_kind) {
		static const enum mod_id no_num[] = { M_CONTAINS, M_STARTSWITH, M_ENDSWITH,
						      M_BASE64, M_BASE64OFFSET, M_UTF16LE,
						      M_UTF16BE, M_UTF16, M_WIDE, M_WINDASH,
						      M_FIELDREF, M_EXPAND, M_CASED, M_NEQ };
		int n_num = md->has[M_GT] + md->has[M_GTE] + md->has[M_LT] + md->has[M_LTE];

		if (n_num > 1) {
			err_node(c, key, "only one of 'gt', 'gte', 'lt', 'lte' per field "
				 "(use two selections for a range)");
			return -EINVAL;
		}
		m = first_of(md, no_num, sizeof(no_num) / sizeof(no_num[0]));
		if (m >= 0) {
			err_node(c, key, "numeric comparison cannot be combined with '%s'",
				 mod_names[m]);
			return -EINVAL;
		}
	}
	if (md->has[M_FIELDREF] || md->has[M_EXPAND]) {
		m = first_of(md, enc, sizeof(enc) / sizeof(enc[0]));
		if (m >= 0) {
			err_node(c, key, "'%s' cannot be combined with '%s'",
				 md->has[M_FIELDREF] ? "fieldref" : "expand", mod_names[m]);
			return -EINVAL;
		}
		if (md->has[M_FIELDREF] && md->has[M_EXPAND]) {
			err_node(c, key, "'fieldref' cannot be combined with 'expand'");
			return -EINVAL;
		}
	}
	return 0;
}

/* Parse "Field|mod|mod" (the part after the field). */
static int parse_mods(struct lctx *c, const yaml_node_t *key, const char *k, size_t klen,
		      size_t start, struct mods *md)
{
	size_t pos = start;
	bool prev_re = false;

	memset(md, 0, sizeof(*md));
	while (pos < klen) {
		size_t end = pos;
		const char *m = k + pos;
		size_t mlen;
		int id = -1;
		unsigned line, col;

		while (end < klen && k[end] != '|')
			end++;
		mlen = end - pos;
		scalar_pos(key, pos, &line, &col);
		for (int i = 0; i < M__COUNT; i++)
			if (strlen(mod_names[i]) == mlen && !memcmp(mod_names[i], m, mlen))
				id = i;
		/* i, m and s are sub-modifiers of re only */
		if ((id == M_RE_I || id == M_RE_M || id == M_RE_S) && !prev_re && !md->has[M_RE]) {
			err_at(c, line, col, "'%.*s' is a sub-modifier of 're' and must follow it",
			       (int)mlen, m);
			return -EINVAL;
		}
		if (id < 0) {
			for (size_t i = 0; i < sizeof(time_mods) / sizeof(time_mods[0]); i++)
				if (strlen(time_mods[i]) == mlen && !memcmp(time_mods[i], m, mlen)) {
					err_at(c, line, col, "time modifier '%.*s' needs a date "
					       "field; this sensor supplies none to Sigma",
					       (int)mlen, m);
					return -EINVAL;
				}
			if (mlen == 0)
				err_at(c, line, col, "empty modifier (two '|' in a row, or a "
				       "trailing '|')");
			else
				err_at(c, line, col, "unknown modifier '%.*s'", (int)mlen, m);
			return -EINVAL;
		}
		if (md->has[id]) {
			err_at(c, line, col, "modifier '%s' given twice", mod_names[id]);
			return -EINVAL;
		}
		md->has[id] = true;
		prev_re = id == M_RE || (prev_re && (id == M_RE_I || id == M_RE_M || id == M_RE_S));
		if (is_transform((enum mod_id)id)) {
			if (md->n_order == (int)(sizeof(md->order) / sizeof(md->order[0]))) {
				err_at(c, line, col, "too many modifiers");
				return -EINVAL;
			}
			md->order[md->n_order++] = (enum mod_id)id;
		}
		if (id == M_GT)
			md->num_kind = PK_GT;
		else if (id == M_GTE)
			md->num_kind = PK_GTE;
		else if (id == M_LT)
			md->num_kind = PK_LT;
		else if (id == M_LTE)
			md->num_kind = PK_LTE;
		pos = end + 1;
		if (end == klen - 1 && k[end] == '|') {
			scalar_pos(key, klen, &line, &col);
			err_at(c, line, col, "empty modifier (two '|' in a row, or a trailing '|')");
			return -EINVAL;
		}
	}
	return check_mods(c, key, md);
}

/* ---- values ---- */

/* Lower-case ASCII in place. */
static void lower_bytes(uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] >= 'A' && b[i] <= 'Z')
			b[i] = (uint8_t)(b[i] + ('a' - 'A'));
}

/* Turn one Sigma string into a pattern, picking the cheapest kind. */
static int sstr_to_pattern(struct lctx *c, const yaml_node_t *at, struct sstr *s, bool cased)
{
	struct pattern *p;
	size_t n_wild = 0, lo = 0, hi = s->n;
	bool lead, trail;

	if (s->n > SIGMA_MAX_PATTERN_LEN) {
		err_node(c, at, "value of %zu bytes is longer than the limit of %d", s->n,
			 SIGMA_MAX_PATTERN_LEN);
		return -E2BIG;
	}
	p = new_pattern(c, at);
	if (!p)
		return -E2BIG;
	p->cased = cased;
	for (size_t i = 0; i < s->n; i++)
		n_wild += s->w[i] != PW_LIT;
	lead = s->n && s->w[0] == PW_STAR;
	trail = s->n > 1 && s->w[s->n - 1] == PW_STAR;
	if (n_wild == s->n && n_wild > 0 && !memchr(s->w, PW_ONE, s->n)) {
		p->kind = PK_ANY;
		return 0;
	}
	if (n_wild == 0) {
		p->kind = PK_EQ;
	} else if (n_wild == (size_t)lead + trail) {
		p->kind = lead && trail ? PK_CONTAINS : lead ? PK_SUFFIX : PK_PREFIX;
		lo = lead;
		hi = s->n - trail;
	} else {
		/* general glob: collapse runs of '*' */
		struct sstr g = { 0 };

		for (size_t i = 0; i < s->n; i++) {
			if (s->w[i] == PW_STAR && g.n && g.w[g.n - 1] == PW_STAR)
				continue;
			if (sstr__push(&g, s->b[i], s->w[i])) {
				sstr__free(&g);
				return -ENOMEM;
			}
		}
		p->kind = PK_GLOB;
		p->len = (uint32_t)g.n;
		p->s = (char *)g.b;
		p->wild = g.w;
		if (!cased)
			for (size_t i = 0; i < g.n; i++)
				if (g.w[i] == PW_LIT)
					lower_bytes((uint8_t *)p->s + i, 1);
		return 0;
	}
	p->len = (uint32_t)(hi - lo);
	p->s = dup_n(s->n ? (const char *)s->b + lo : "", hi - lo);
	if (!p->s)
		return -ENOMEM;
	if (!cased)
		lower_bytes((uint8_t *)p->s, p->len);
	return 0;
}

static int compile_regex(struct lctx *c, const yaml_node_t *v, const char *re, size_t len,
			 const struct mods *md)
{
	uint32_t pflags = 0;
	unsigned hflags = HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY;
	pcre2_code *code;
	int errcode;
	PCRE2_SIZE erroff;
	hs_compile_error_t *cerr = NULL;
	struct pattern *p;
	unsigned line, col;

	if (len > SIGMA_MAX_PATTERN_LEN) {
		err_node(c, v, "regex of %zu bytes is longer than the limit of %d", len,
			 SIGMA_MAX_PATTERN_LEN);
		return -E2BIG;
	}
	if (memchr(re, 0, len)) {
		err_node(c, v, "regex contains a NUL byte");
		return -EINVAL;
	}
	if (md->has[M_RE_I]) {
		pflags |= PCRE2_CASELESS;
		hflags |= HS_FLAG_CASELESS;
	}
	if (md->has[M_RE_M]) {
		pflags |= PCRE2_MULTILINE;
		hflags |= HS_FLAG_MULTILINE;
	}
	if (md->has[M_RE_S]) {
		pflags |= PCRE2_DOTALL;
		hflags |= HS_FLAG_DOTALL;
	}
	/* PCRE2 first: it says precisely what is malformed and where */
	code = pcre2_compile((PCRE2_SPTR)re, len, pflags, &errcode, &erroff, NULL);
	if (!code) {
		PCRE2_UCHAR msg[256];

		pcre2_get_error_message(errcode, msg, sizeof(msg));
		scalar_pos(v, erroff, &line, &col);
		err_at(c, line, col, "malformed regex: %s (at offset %zu)", (char *)msg,
		       (size_t)erroff);
		return -EINVAL;
	}
	pcre2_code_free(code);
	p = new_pattern(c, v);
	if (!p)
		return -E2BIG;
	p->kind = PK_RE;
	p->cased = 1;
	p->re_flags = (uint16_t)hflags;
	p->s = dup_n(re, len);
	if (!p->s)
		return -ENOMEM;
	p->len = (uint32_t)len;
	/* Hyperscan matches in time linear in the input; what it refuses
	 * (backreferences, lookaround, ...) could backtrack, so the rule is
	 * refused too */
	if (hs_compile(p->s, hflags, HS_MODE_BLOCK, NULL, &p->re, &cerr) != HS_SUCCESS) {
		err_node(c, v, "regex not accepted by the linear-time matcher (Hyperscan): %s",
			 cerr && cerr->message ? cerr->message : "compile failed");
		hs_free_compile_error(cerr);
		p->re = NULL;
		return -EINVAL;
	}
	return 0;
}

/* Text of a non-string scalar as a string value: ints in decimal (as
 * PyYAML reads them), bools as true/false, floats as written. */
static const char *value_text(const yaml_node_t *v, enum vtype t, bool bv, int64_t iv,
			      char *buf, size_t bsz, size_t *len)
{
	if (t == V_INT) {
		snprintf(buf, bsz, "%lld", (long long)iv);
		*len = strlen(buf);
		return buf;
	}
	if (t == V_BOOL) {
		*len = bv ? 4 : 5;
		return bv ? "true" : "false";
	}
	*len = v->data.scalar.length;
	return sval(v);
}

/* Compile one YAML value of an item into one group of patterns. */
static int compile_value(struct lctx *c, const struct item *it, const yaml_node_t *v,
			 const struct mods *md)
{
	/* a field accepted past the table (test only, fault.h) compiles
	 * its values as strings */
	static const struct sigma_field unknown = { .name = "(not supplied)",
						    .ecs = RW_F_PROC_COMMAND_LINE };
	const struct sigma_field *sf = it->field < sigma_n_fields ? &sigma_fields[it->field] :
				       &unknown;
	enum rw_ftype ft = rw_schema[sf->ecs].type;
	bool bv = false, cased = md->has[M_CASED];
	int64_t iv = 0;
	enum vtype t;
	char buf[32], msg[256] = "";
	const char *text;
	size_t len;
	struct pattern *p;
	struct sstr_list l = { 0 };
	int err = 0;

	if (v->type != YAML_SCALAR_NODE) {
		err_node(c, v, "wrong value type for field '%s': a %s is not a value (values are "
			 "strings, numbers, booleans or null)", sf->name,
			 v->type == YAML_MAPPING_NODE ? "mapping" : "nested list");
		return -EINVAL;
	}
	t = resolve(c, v, &bv, &iv);
	if (md->has[M_EXISTS]) {
		if (t != V_BOOL) {
			err_node(c, v, "wrong value type for field '%s': 'exists' takes true or "
				 "false", sf->name);
			return -EINVAL;
		}
		p = new_pattern(c, v);
		if (!p)
			return -E2BIG;
		p->kind = PK_EXISTS;
		p->num = bv;
		return 0;
	}
	if (t == V_NULL) {
		for (int i = 0; i < M__COUNT; i++)
			if (md->has[i] && i != M_ALL) {
				err_node(c, v, "wrong value type for field '%s': null cannot be "
					 "used with '%s' (to test presence use '%s|exists: true')",
					 sf->name, mod_names[i], sf->name);
				return -EINVAL;
			}
		p = new_pattern(c, v);
		if (!p)
			return -E2BIG;
		p->kind = PK_NULL;
		return 0;
	}
	text = value_text(v, t, bv, iv, buf, sizeof(buf), &len);
	if (md->num_kind) {
		if (t == V_STR && parse_yaml_int(text, len, &iv))
			t = V_INT;
		if (t != V_INT) {
			err_node(c, v, "wrong value type for field '%s': '%s' takes an integer",
				 sf->name, md->has[M_GT] ? "gt" : md->has[M_GTE] ? "gte" :
				 md->has[M_LT] ? "lt" : "lte");
			return -EINVAL;
		}
		p = new_pattern(c, v);
		if (!p)
			return -E2BIG;
		p->kind = (uint8_t)md->num_kind;
		p->num = iv;
		return 0;
	}
	if (md->has[M_RE])
		return compile_regex(c, v, text, len, md);
	if (md->has[M_CIDR]) {
		p = new_pattern(c, v);
		if (!p)
			return -E2BIG;
		if (t != V_STR || sigma_mod__cidr(p, text, len)) {
			err_node(c, v, "malformed CIDR '%s' for field '%s' (expected e.g. "
				 "10.0.0.0/8 or fd00::/8)", text, sf->name);
			return -EINVAL;
		}
		return 0;
	}
	if (md->has[M_FIELDREF]) {
		int ref = sigma_field__lookup(sf->cat, text, len);

		if (t != V_STR || ref < 0) {
			err_node(c, v, "fieldref names field '%s', which is not supplied for "
				 "category '%s' by this sensor (schema %d)", text,
				 sigma_cat_names[sf->cat], RW_SCHEMA_VERSION);
			return -EINVAL;
		}
		p = new_pattern(c, v);
		if (!p)
			return -E2BIG;
		p->ref = (uint16_t)ref;
		p->cased = cased;
		p->kind = md->has[M_CONTAINS] ? PK_REF_CONTAINS : md->has[M_STARTSWITH] ?
			  PK_REF_PREFIX : md->has[M_ENDSWITH] ? PK_REF_SUFFIX : PK_REF_EQ;
		return 0;
	}
	/* a plain number against a numeric field compares numbers */
	if (t == V_INT && md->n_order == 0 && !md->has[M_EXPAND] &&
	    (ft == RW_T_INT || ft == RW_T_TIME) && sf->conv == SCONV_ASIS) {
		p = new_pattern(c, v);
		if (!p)
			return -E2BIG;
		p->kind = PK_NUM_EQ;
		p->num = iv;
		return 0;
	}
	if (len > SIGMA_MAX_PATTERN_LEN) {
		err_node(c, v, "value of %zu bytes is longer than the limit of %d", len,
			 SIGMA_MAX_PATTERN_LEN);
		return -E2BIG;
	}
	/* a string, through the transformations in the order given */
	if (md->has[M_EXPAND]) {
		err = sigma_mod__expand(&l, text, len, c->ld->ph,
					SIGMA_MAX_VALUES - c->r->n_pats, msg, sizeof(msg));
	} else {
		struct sstr s = { 0 };

		err = sstr__parse(&s, text, len);
		if (!err)
			err = sstr_list__take(&l, &s);
		sstr__free(&s);
	}
	for (int i = 0; i < md->n_order && !err; i++) {
		size_t room = SIGMA_MAX_VALUES - c->r->n_pats;

		switch (md->order[i]) {
		case M_CONTAINS:
			err = sigma_mod__wrap(&l, true, true);
			break;
		case M_STARTSWITH:
			err = sigma_mod__wrap(&l, false, true);
			break;
		case M_ENDSWITH:
			err = sigma_mod__wrap(&l, true, false);
			break;
		case M_UTF16LE:
		case M_WIDE:
			err = sigma_mod__utf16(&l, 0, msg, sizeof(msg));
			break;
		case M_UTF16BE:
			err = sigma_mod__utf16(&l, 1, msg, sizeof(msg));
			break;
		case M_UTF16:
			err = sigma_mod__utf16(&l, 2, msg, sizeof(msg));
			break;
		case M_BASE64:
			err = sigma_mod__base64(&l, msg, sizeof(msg));
			cased = true;	/* base64 text is case-sensitive */
			break;
		case M_BASE64OFFSET:
			err = sigma_mod__base64offset(&l, room, msg, sizeof(msg));
			cased = true;
			break;
		case M_WINDASH:
			err = sigma_mod__windash(&l, room, msg, sizeof(msg));
			break;
		default:
			break;
		}
	}
	if (err) {
		if (err == -ENOMEM)
			err_node(c, v, "out of memory");
		else if (err == -E2BIG)
			err_node(c, v, "field '%s': %s: the rule would have more than %d values",
				 sf->name, msg[0] ? msg : "too many values", SIGMA_MAX_VALUES);
		else
			err_node(c, v, "field '%s': %s", sf->name, msg);
		goto cleanup;
	}
	for (size_t i = 0; i < l.n && !err; i++)
		err = sstr_to_pattern(c, v, &l.v[i], cased);
cleanup:
	sstr_list__free(&l);
	return err;
}

/* One value of the last item: one group of alternatives. */
static int item_value(struct lctx *c, yaml_node_t *v, const struct mods *md)
{
	struct rule *r = c->r;
	uint32_t first = r->n_pats;
	struct group *g;
	int err = compile_value(c, &r->items[r->n_items - 1], v, md);

	if (err)
		return err;
	if (GROW(r, groups, n_groups, cap_groups)) {
		err_node(c, v, "out of memory");
		return -ENOMEM;
	}
	g = &r->groups[r->n_groups++];
	g->first_pat = first;
	g->n_pats = r->n_pats - first;
	r->items[r->n_items - 1].n_groups++;
	return 0;
}

/* One "Field|mods: value(s)" pair of a selection map. */
static int compile_item(struct lctx *c, yaml_node_t *key, yaml_node_t *val)
{
	struct rule *r = c->r;
	const char *k = sval(key);
	size_t klen = key->data.scalar.length, flen = 0;
	struct mods md;
	struct item *it;
	int fi, err;

	while (flen < klen && k[flen] != '|')
		flen++;
	if (flen == 0) {
		err_node(c, key, "keyword search ('%s' without a field name) is not supported: "
			 "the engine matches named fields only", k);
		return -EINVAL;
	}
	fi = sigma_field__lookup(r->cat, k, flen);
	/* test only (fault.h): validation bypassed, the item points one past
	 * the end of the field table, as the 2024 template's 21st field did */
	if (fi < 0 && (fault__switches & FAULT_UNKNOWN_FIELDS))
		fi = (int)sigma_n_fields;
	if (fi < 0) {
		int near = sigma_field__lookup_nocase(r->cat, k, flen);

		if (near >= 0)
			err_node(c, key, "field '%.*s' is not supplied for category '%s' by this "
				 "sensor (schema %d); did you mean '%s'?", (int)flen, k,
				 sigma_cat_names[r->cat], RW_SCHEMA_VERSION, sigma_fields[near].name);
		else
			err_node(c, key, "field '%.*s' is not supplied for category '%s' by this "
				 "sensor (schema %d)", (int)flen, k, sigma_cat_names[r->cat],
				 RW_SCHEMA_VERSION);
		return -EINVAL;
	}
	err = parse_mods(c, key, k, klen, flen + 1, &md);
	if (err)
		return err;
	if (GROW(r, items, n_items, cap_items)) {
		err_node(c, key, "out of memory");
		return -ENOMEM;
	}
	it = &r->items[r->n_items++];
	memset(it, 0, sizeof(*it));
	it->field = (uint16_t)fi;
	it->ecs = fi < (int)sigma_n_fields ? (uint16_t)sigma_fields[fi].ecs : RW_F__COUNT;
	it->conv = fi < (int)sigma_n_fields ? (uint8_t)sigma_fields[fi].conv : SCONV_ASIS;
	it->all = md.has[M_ALL];
	it->neg = md.has[M_NEQ];
	it->line = (unsigned)key->start_mark.line + 1;
	it->col = (unsigned)key->start_mark.column + 1;
	it->first_group = r->n_groups;

	if (val->type == YAML_SEQUENCE_NODE) {
		if (val->data.sequence.items.start == val->data.sequence.items.top) {
			err_node(c, val, "field '%.*s' has an empty list of values", (int)flen, k);
			return -EINVAL;
		}
		if (md.has[M_EXISTS]) {
			err_node(c, val, "wrong value type for field '%.*s': 'exists' takes one "
				 "true or false, not a list", (int)flen, k);
			return -EINVAL;
		}
	}
	if (val->type != YAML_SEQUENCE_NODE)
		return item_value(c, val, &md);
	for (yaml_node_item_t *i = val->data.sequence.items.start;
	     i < val->data.sequence.items.top; i++) {
		yaml_node_t *v = node(c, *i);

		if (!v)
			return -EINVAL;
		err = item_value(c, v, &md);
		if (err)
			return err;
	}
	return 0;
}

static int compile_map(struct lctx *c, yaml_node_t *m)
{
	struct rule *r = c->r;
	uint32_t first = r->n_items;
	int err = 0;

	if (m->data.mapping.pairs.start == m->data.mapping.pairs.top) {
		err_node(c, m, "empty selection");
		return -EINVAL;
	}
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		/* report every bad field of the map, not just the first */
		int e = compile_item(c, node(c, p->key), node(c, p->value));

		if (e == -ENOMEM || e == -E2BIG)
			return e;
		if (e)
			err = e;
	}
	if (err)
		return err;
	if (GROW(r, maps, n_maps, cap_maps)) {
		err_node(c, m, "out of memory");
		return -ENOMEM;
	}
	r->maps[r->n_maps++] = (struct smap){ first, r->n_items - first };
	return 0;
}

static bool ident_ok(const char *s, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
			return false;
	}
	return true;
}

static int compile_search(struct lctx *c, yaml_node_t *key, yaml_node_t *val)
{
	struct rule *r = c->r;
	struct search *s;
	const char *name = sval(key);
	size_t nlen = key->data.scalar.length;
	int err = 0;

	if (!ident_ok(name, nlen)) {
		err_node(c, key, "search identifier '%s' cannot be named in a condition (use "
			 "letters, digits, '_', '.' and '-')", name);
		return -EINVAL;
	}
	if (r->n_searches >= SIGMA_MAX_SEARCHES) {
		err_node(c, key, "more than %d search identifiers", SIGMA_MAX_SEARCHES);
		return -E2BIG;
	}
	if (GROW(r, searches, n_searches, cap_searches))
		return -ENOMEM;
	s = &r->searches[r->n_searches];
	memset(s, 0, sizeof(*s));
	s->name = dup_n(name, nlen);
	if (!s->name)
		return -ENOMEM;
	r->n_searches++;
	s->line = (unsigned)key->start_mark.line + 1;
	s->col = (unsigned)key->start_mark.column + 1;
	s->first_map = r->n_maps;

	if (val->type == YAML_MAPPING_NODE) {
		err = compile_map(c, val);
	} else if (val->type == YAML_SEQUENCE_NODE) {
		yaml_node_item_t *i = val->data.sequence.items.start;

		if (i == val->data.sequence.items.top) {
			err_node(c, val, "search identifier '%s' is an empty list", name);
			return -EINVAL;
		}
		for (; i < val->data.sequence.items.top; i++) {
			yaml_node_t *v = node(c, *i);
			int e;

			if (!v)
				return -EINVAL;
			if (v->type != YAML_MAPPING_NODE) {
				err_node(c, v, "keyword search (a list of values not tied to a "
					 "field, in '%s') is not supported: the engine matches "
					 "named fields only", name);
				return -EINVAL;
			}
			e = compile_map(c, v);
			if (e == -ENOMEM || e == -E2BIG)
				return e;
			if (e)
				err = e;
		}
	} else if (resolve(c, val, &(bool){ 0 }, &(int64_t){ 0 }) == V_NULL) {
		err_node(c, val, "search identifier '%s' is empty", name);
		return -EINVAL;
	} else {
		err_node(c, val, "keyword search ('%s' is a plain value, not tied to a field) is "
			 "not supported: the engine matches named fields only", name);
		return -EINVAL;
	}
	r->searches[r->n_searches - 1].n_maps = r->n_maps - r->searches[r->n_searches - 1].first_map;
	return err;
}

/* One condition string; returns its root node or -1. */
static int compile_condition(struct lctx *c, yaml_node_t *cn)
{
	struct cond_error ce;
	unsigned line, col;
	int root;

	if (cn->type != YAML_SCALAR_NODE || !cn->data.scalar.length) {
		err_node(c, cn, "condition must be a non-empty string");
		return -1;
	}
	root = sigma_cond__parse(c->r, sval(cn), cn->data.scalar.length, &ce);
	if (root < 0) {
		scalar_pos(cn, ce.off, &line, &col);
		err_at(c, line, col, "condition: %s", ce.msg);
	}
	return root;
}

static int compile_detection(struct lctx *c, yaml_node_t *det, yaml_node_t *det_key)
{
	struct rule *r = c->r;
	yaml_node_t *cond = NULL;
	int root = -1, err = 0;

	if (det->type != YAML_MAPPING_NODE) {
		err_node(c, det, "'detection' must be a mapping of search identifiers and a "
			 "condition");
		return -EINVAL;
	}
	for (yaml_node_pair_t *p = det->data.mapping.pairs.start; p < det->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
		int e;

		if (skey_is(k, "condition")) {
			cond = v;
			continue;
		}
		if (skey_is(k, "timeframe")) {
			err_node(c, k, "'timeframe' (Sigma 1 aggregation) is not supported: the "
				 "engine evaluates one event at a time");
			err = -EINVAL;
			continue;
		}
		e = compile_search(c, k, v);
		if (e == -ENOMEM || e == -E2BIG)
			return e;
		if (e)
			err = e;
	}
	if (!cond) {
		err_node(c, det_key, "detection has no 'condition'");
		return -EINVAL;
	}
	/* the condition is checked even when a search failed (its name is
	 * defined all the same), so that all errors show in one pass */
	if (cond->type == YAML_SEQUENCE_NODE) {
		/* a list of conditions is OR-linked */
		yaml_node_item_t *i = cond->data.sequence.items.start;

		if (i == cond->data.sequence.items.top) {
			err_node(c, cond, "condition list is empty");
			return -EINVAL;
		}
		for (; i < cond->data.sequence.items.top; i++) {
			int one = compile_condition(c, node(c, *i));

			if (one < 0)
				return -EINVAL;
			if (root < 0) {
				root = one;
			} else {
				if (GROW(r, nodes, n_nodes, cap_nodes))
					return -ENOMEM;
				r->nodes[r->n_nodes] = (struct cnode){ CN_OR, (uint32_t)root,
								       (uint32_t)one };
				root = (int)r->n_nodes++;
			}
		}
	} else {
		root = compile_condition(c, cond);
		if (root < 0)
			return -EINVAL;
	}
	r->root = (uint32_t)root;
	for (uint32_t i = 0; i < r->n_searches; i++)
		if (!r->searches[i].used) {
			err_at(c, r->searches[i].line, r->searches[i].col,
			       "search identifier '%s' is defined but not used by the condition",
			       r->searches[i].name);
			err = -EINVAL;
		}
	return err;
}

/* ---- metadata ---- */

static bool is_uuid(const char *s, size_t n)
{
	if (n != 36)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		char ch = s[i];

		if (dash ? ch != '-' : !((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
					 (ch >= 'A' && ch <= 'F')))
			return false;
	}
	return true;
}

/* A string-valued top-level key; NULL when absent. */
static int get_string(struct lctx *c, yaml_node_t *root, const char *key, bool required,
		      char **out, yaml_node_t **vout)
{
	yaml_node_t *k = NULL, *v = map_get(c, root, key, &k);

	*out = NULL;
	if (vout)
		*vout = v;
	if (!v) {
		if (required) {
			err_node(c, root, "missing '%s'", key);
			return -EINVAL;
		}
		return 0;
	}
	if (v->type != YAML_SCALAR_NODE) {
		err_node(c, v, "'%s' must be a string", key);
		return -EINVAL;
	}
	if (required && (!v->data.scalar.length || resolve(c, v, &(bool){ 0 }, &(int64_t){ 0 }) == V_NULL)) {
		err_node(c, v, "'%s' is empty", key);
		return -EINVAL;
	}
	if (strlen(sval(v)) != v->data.scalar.length) {
		err_node(c, v, "'%s' contains a NUL byte", key);
		return -EINVAL;
	}
	*out = strdup(sval(v));
	return *out ? 0 : -ENOMEM;
}

static int one_of(struct lctx *c, yaml_node_t *v, const char *what, const char *s,
		  const char *const *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s, set[i]))
			return (int)i;
	err_node(c, v, "unknown %s '%s'", what, s);
	return -1;
}

static int load_meta(struct lctx *c, yaml_node_t *root)
{
	static const char *const levels[] = { "informational", "low", "medium", "high",
					      "critical" };
	static const char *const statuses[] = { "stable", "test", "experimental",
						"deprecated", "unsupported" };
	struct rule *r = c->r;
	yaml_node_t *v, *k;
	int err = 0;

	if (get_string(c, root, "id", false, &r->id, &v))
		err = -EINVAL;
	if (r->id) {
		r->line = (unsigned)v->start_mark.line + 1;
		r->col = (unsigned)v->start_mark.column + 1;
		if (!is_uuid(r->id, strlen(r->id))) {
			err_node(c, v, "id '%s' is not a UUID", r->id);
			err = -EINVAL;
		}
		c->label = r->id;
	}
	if (get_string(c, root, "title", true, &r->title, &v))
		err = -EINVAL;
	else if (!r->id) {
		r->line = (unsigned)v->start_mark.line + 1;
		r->col = (unsigned)v->start_mark.column + 1;
	}
	if (get_string(c, root, "description", false, &r->description, NULL) ||
	    get_string(c, root, "author", false, &r->author, NULL))
		err = -EINVAL;
	if (get_string(c, root, "level", false, &r->level, &v))
		err = -EINVAL;
	else if (r->level) {
		int l = one_of(c, v, "level", r->level, levels, 5);

		if (l < 0)
			err = -EINVAL;
		r->severity = l + 1;
	}
	if (get_string(c, root, "status", false, &r->status, &v))
		err = -EINVAL;
	else if (r->status && one_of(c, v, "status", r->status, statuses, 5) < 0)
		err = -EINVAL;
	v = map_get(c, root, "tags", &k);
	if (v && v->type != YAML_SEQUENCE_NODE) {
		err_node(c, v, "'tags' must be a list of strings");
		err = -EINVAL;
	} else if (v) {
		size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);

		r->tags = calloc(n ? n : 1, sizeof(*r->tags));
		if (!r->tags)
			return -ENOMEM;
		for (yaml_node_item_t *i = v->data.sequence.items.start;
		     i < v->data.sequence.items.top; i++) {
			yaml_node_t *t = node(c, *i);

			if (!t || t->type != YAML_SCALAR_NODE) {
				err_node(c, t ? t : v, "'tags' must be a list of strings");
				err = -EINVAL;
				break;
			}
			r->tags[r->n_tags] = strdup(sval(t));
			if (!r->tags[r->n_tags])
				return -ENOMEM;
			r->n_tags++;
		}
	}
	return err;
}

static int load_logsource(struct lctx *c, yaml_node_t *root)
{
	yaml_node_t *k = NULL, *ls = map_get(c, root, "logsource", &k), *v;
	int cat;

	if (!ls) {
		err_node(c, root, "missing 'logsource'");
		return -EINVAL;
	}
	if (ls->type != YAML_MAPPING_NODE) {
		err_node(c, ls, "'logsource' must be a mapping");
		return -EINVAL;
	}
	v = map_get(c, ls, "product", NULL);
	if (v && (v->type != YAML_SCALAR_NODE || strcmp(sval(v), "linux"))) {
		err_node(c, v, "logsource product '%s' is not supplied by this sensor (it "
			 "supplies 'linux')", v->type == YAML_SCALAR_NODE ? sval(v) : "?");
		return -EINVAL;
	}
	v = map_get(c, ls, "service", NULL);
	if (v) {
		err_node(c, v, "logsource service '%s' is not supplied by this sensor (it "
			 "supplies categories only)", v->type == YAML_SCALAR_NODE ? sval(v) : "?");
		return -EINVAL;
	}
	v = map_get(c, ls, "category", NULL);
	if (!v) {
		err_node(c, ls, "logsource has no 'category'");
		return -EINVAL;
	}
	if (v->type != YAML_SCALAR_NODE) {
		err_node(c, v, "logsource category must be a string");
		return -EINVAL;
	}
	cat = sigma_cat__lookup(sval(v));
	if (cat < 0) {
		char list[256] = "";

		for (int i = 0; i < SC__COUNT; i++) {
			size_t used = strlen(list);

			snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
				 sigma_cat_names[i]);
		}
		err_node(c, v, "logsource category '%s' is not supplied by this sensor (schema "
			 "%d supplies: %s)", sval(v), RW_SCHEMA_VERSION, list);
		return -EINVAL;
	}
	c->r->cat = (enum sigma_cat)cat;
	return 0;
}

/* A YAML boolean scalar: true/false only (not yes/no/on/off, whose
 * meaning changed between YAML versions). */
static int bool_scalar(const yaml_node_t *v)
{
	if (v->type != YAML_SCALAR_NODE)
		return -1;
	if (!strcmp(sval(v), "true"))
		return 1;
	if (!strcmp(sval(v), "false"))
		return 0;
	return -1;
}

static int load_ringward(struct lctx *c, yaml_node_t *root)
{
	static const char *const actions[] = { "alert", "block", "kill", "quarantine" };
	yaml_node_t *k = NULL, *rw = map_get(c, root, "ringward", &k), *fail_key = NULL;
	int err = 0;

	if (!rw)
		return 0;
	if (rw->type != YAML_MAPPING_NODE) {
		err_node(c, rw, "'ringward' must be a mapping (e.g. 'action: alert')");
		return -EINVAL;
	}
	for (yaml_node_pair_t *p = rw->data.mapping.pairs.start; p < rw->data.mapping.pairs.top; p++) {
		yaml_node_t *pk = node(c, p->key), *pv = node(c, p->value);
		int a;

		if (skey_is(pk, "fault")) {
			/* test only (fault.h): refused unless the sensor runs
			 * with --test-faults rules */
			int f = pv->type == YAML_SCALAR_NODE ? fault__kind(sval(pv)) : -1;

			if (!(fault__switches & FAULT_RULES)) {
				err_node(c, pk, "'ringward.fault' is for tests only: refused unless "
					 "the sensor runs with --test-faults rules");
				err = -EINVAL;
			} else if (f < 0) {
				err_node(c, pv, "'ringward.fault' must be one of crash, hang, alloc");
				err = -EINVAL;
			} else {
				c->r->fault = (uint8_t)f;
			}
			continue;
		}
		if (skey_is(pk, "allow_protected")) {
			/* honoured only in signed bundles (guardrails.h) */
			int b = bool_scalar(pv);

			if (b < 0) {
				err_node(c, pv, "'ringward.allow_protected' must be true or false");
				err = -EINVAL;
			} else {
				c->r->allow_protected = (uint8_t)b;
			}
			continue;
		}
		if (skey_is(pk, "kill_group")) {
			int b = bool_scalar(pv);

			if (b < 0) {
				err_node(c, pv, "'ringward.kill_group' must be true or false");
				err = -EINVAL;
			} else {
				c->r->kill_group = (uint8_t)b;
			}
			continue;
		}
		if (skey_is(pk, "fail")) {
			if (pv->type != YAML_SCALAR_NODE ||
			    (strcmp(sval(pv), "open") && strcmp(sval(pv), "closed"))) {
				err_node(c, pv, "'ringward.fail' must be open or closed");
				err = -EINVAL;
			} else {
				c->r->fail_closed = !strcmp(sval(pv), "closed");
				fail_key = pk;
			}
			continue;
		}
		if (!skey_is(pk, "action")) {
			err_node(c, pk, "unknown key 'ringward.%s' (known: action, fail, "
				 "kill_group, allow_protected)", sval(pk));
			err = -EINVAL;
			continue;
		}
		if (pv->type != YAML_SCALAR_NODE) {
			err_node(c, pv, "'ringward.action' must be one of alert, block, kill, "
				 "quarantine");
			err = -EINVAL;
			continue;
		}
		a = -1;
		for (int i = 0; i < 4; i++)
			if (!strcmp(sval(pv), actions[i]))
				a = i;
		if (a < 0) {
			err_node(c, pv, "unknown ringward.action '%s' (one of alert, block, kill, "
				 "quarantine)", sval(pv));
			err = -EINVAL;
			continue;
		}
		c->r->action = (enum rule_action)a;
		c->r->action_line = (unsigned)pv->start_mark.line + 1;
		c->r->action_col = (unsigned)pv->start_mark.column + 1;
	}
	/* what happens when a verdict misses its deadline: only a verdict
	 * (block) has one */
	if (fail_key && c->r->action != RA_BLOCK) {
		err_node(c, fail_key, "'ringward.fail' applies only to 'action: block' (what to "
			 "do when the verdict misses its deadline)");
		err = -EINVAL;
	}
	return err;
}

/* ---- documents ---- */

static void add_rule(struct lctx *c)
{
	struct sigma_loader *ld = c->ld;

	if (ld->n_rules == ld->cap_rules) {
		size_t cap = ld->cap_rules ? ld->cap_rules * 2 : 64;
		struct rule **v = realloc(ld->rules, cap * sizeof(*v));

		if (!v) {
			err_at(c, c->r->line, c->r->col, "out of memory");
			rule__free(c->r);
			c->r = NULL;
			return;
		}
		ld->rules = v;
		ld->cap_rules = cap;
	}
	ld->rules[ld->n_rules++] = c->r;
	c->r = NULL;
}

static void load_document(struct lctx *c, yaml_node_t *root)
{
	yaml_node_t *k = NULL, *v;

	/* name the rule in every message, even those before its metadata */
	v = map_get(c, root, "id", NULL);
	if (v && v->type == YAML_SCALAR_NODE && v->data.scalar.length &&
	    strlen(sval(v)) == v->data.scalar.length)
		c->label = sval(v);
	if (check_doc(c))
		return;
	if (root->type != YAML_MAPPING_NODE) {
		err_node(c, root, "a rule must be a YAML mapping");
		return;
	}
	if ((v = map_get(c, root, "correlation", &k))) {
		err_node(c, k, "correlation rules are not supported: they relate several events "
			 "over time and the engine evaluates one event at a time");
		return;
	}
	if ((v = map_get(c, root, "filter", &k)) && map_get(c, root, "logsource", NULL) &&
	    !map_get(c, root, "detection", NULL)) {
		err_node(c, k, "Sigma filters (meta rules) are not supported: apply the "
			 "exclusion in the rule itself");
		return;
	}
	if ((v = map_get(c, root, "action", &k))) {
		err_node(c, k, "Sigma 1 rule collections ('action: %s') are not supported: write "
			 "each rule as a complete document",
			 v->type == YAML_SCALAR_NODE ? sval(v) : "?");
		return;
	}
	c->r = calloc(1, sizeof(*c->r));
	if (!c->r || !(c->r->file = strdup(c->file))) {
		err_node(c, root, "out of memory");
		rule__free(c->r);
		c->r = NULL;
		return;
	}
	c->r->line = (unsigned)root->start_mark.line + 1;
	c->r->col = (unsigned)root->start_mark.column + 1;
	load_meta(c, root);
	if (load_logsource(c, root) == 0) {
		load_ringward(c, root);
		v = map_get(c, root, "detection", &k);
		if (!v)
			err_node(c, root, "missing 'detection'");
		else
			compile_detection(c, v, k);
	} else {
		load_ringward(c, root);
		if (!map_get(c, root, "detection", NULL))
			err_node(c, root, "missing 'detection'");
	}
	if (c->n_errors == 0)
		add_rule(c);
	rule__free(c->r);
	c->r = NULL;
}

int sigma__load_buffer(struct sigma_loader *ld, const char *name, const char *buf, size_t len)
{
	struct lctx c = { .ld = ld, .file = name };
	yaml_parser_t parser;
	int total = 0;

	if (len > SIGMA_MAX_FILE_SIZE) {
		diag__add(ld->diag, DIAG_ERROR, name, 0, 0, NULL,
			  "file is %zu bytes, more than the limit of %d", len, SIGMA_MAX_FILE_SIZE);
		return 1;
	}
	if (!yaml_parser_initialize(&parser)) {
		diag__add(ld->diag, DIAG_ERROR, name, 0, 0, NULL, "out of memory");
		return 1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	for (;;) {
		yaml_document_t doc;
		yaml_node_t *root;

		if (!yaml_parser_load(&parser, &doc)) {
			diag__add(ld->diag, DIAG_ERROR, name,
				  (unsigned)parser.problem_mark.line + 1,
				  (unsigned)parser.problem_mark.column + 1, NULL,
				  "bad YAML: %s%s%s", parser.problem ? parser.problem : "parse error",
				  parser.context ? " " : "", parser.context ? parser.context : "");
			total++;
			break;
		}
		root = yaml_document_get_root_node(&doc);
		if (!root) {
			yaml_document_delete(&doc);
			break;	/* end of stream */
		}
		c.doc = &doc;
		c.label = NULL;
		c.n_errors = 0;
		/* an empty document (a stray '---') holds no rule */
		if (!(root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0))
			load_document(&c, root);
		total += c.n_errors;
		yaml_document_delete(&doc);
		if (ld->n_rules > SIGMA_MAX_RULES)
			break;	/* the rule set reports it, once */
	}
	yaml_parser_delete(&parser);
	return total;
}

int sigma__load_file(struct sigma_loader *ld, const char *path)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd, n;

	ld->n_files++;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		diag__add(ld->diag, DIAG_ERROR, path, 0, 0, NULL, "cannot open: %s", strerror(errno));
		return 1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		diag__add(ld->diag, DIAG_ERROR, path, 0, 0, NULL, "not a regular file");
		close(fd);
		return 1;
	}
	if (st.st_size > SIGMA_MAX_FILE_SIZE) {
		diag__add(ld->diag, DIAG_ERROR, path, 0, 0, NULL,
			  "file is %lld bytes, more than the limit of %d", (long long)st.st_size,
			  SIGMA_MAX_FILE_SIZE);
		close(fd);
		return 1;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		diag__add(ld->diag, DIAG_ERROR, path, 0, 0, NULL, "out of memory");
		close(fd);
		return 1;
	}
	/* read at most the limit, even if the file grows meanwhile */
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	n = sigma__load_buffer(ld, path, buf, got);
	free(buf);
	return n;
}

void sigma_loader__free_rules(struct sigma_loader *ld)
{
	for (size_t i = 0; i < ld->n_rules; i++)
		rule__free(ld->rules[i]);
	free(ld->rules);
	ld->rules = NULL;
	ld->n_rules = ld->cap_rules = 0;
}
