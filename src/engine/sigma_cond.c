/*
 * The Sigma condition grammar, by recursive descent over tokens:
 *
 *   or      := and ( "or" and )*
 *   and     := not ( "and" not )*
 *   not     := "not" not | primary
 *   primary := "(" or ")" | quant | IDENT
 *   quant   := ( "1" | "any" | "all" ) "of" ( "them" | PATTERN )
 *
 * Precedence, least to most binding: or, and, not, x of, ( ). Keywords are
 * matched case-insensitively. PATTERN is a search identifier with '*'
 * wildcards; "them" is every identifier not starting with '_'. Nesting
 * (parentheses and not) is bounded by SIGMA_MAX_COND_DEPTH, the text by
 * SIGMA_MAX_COND_LEN, so the recursion and the node count are bounded.
 */
#include "engine/sigma.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum tok_kind { T_END, T_LPAREN, T_RPAREN, T_WORD, T_PIPE, T_BAD };

struct tok {
	enum tok_kind kind;
	size_t off, len;
};

struct cparser {
	struct rule *r;
	const char *s;
	size_t len, pos;
	struct tok t;		/* current token */
	struct cond_error *err;
	bool failed;
};

static bool is_ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-' || c == '*';
}

static void next(struct cparser *p)
{
	while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
				   p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
		p->pos++;
	p->t.off = p->pos;
	p->t.len = 1;
	if (p->pos >= p->len) {
		p->t.kind = T_END;
		p->t.len = 0;
		return;
	}
	switch (p->s[p->pos]) {
	case '(':
		p->t.kind = T_LPAREN;
		p->pos++;
		return;
	case ')':
		p->t.kind = T_RPAREN;
		p->pos++;
		return;
	case '|':
		p->t.kind = T_PIPE;
		p->pos++;
		return;
	}
	if (!is_ident_char(p->s[p->pos])) {
		p->t.kind = T_BAD;
		p->pos++;
		return;
	}
	while (p->pos < p->len && is_ident_char(p->s[p->pos]))
		p->pos++;
	p->t.kind = T_WORD;
	p->t.len = p->pos - p->t.off;
}

static void fail(struct cparser *p, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail(struct cparser *p, size_t off, const char *fmt, ...)
{
	va_list ap;

	if (p->failed)
		return;
	p->failed = true;
	p->err->off = off;
	va_start(ap, fmt);
	vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
	va_end(ap);
}

static bool word_is(const struct cparser *p, const char *kw)
{
	return p->t.kind == T_WORD && p->t.len == strlen(kw) &&
	       strncasecmp(p->s + p->t.off, kw, p->t.len) == 0;
}

static bool is_keyword(const struct cparser *p)
{
	return word_is(p, "and") || word_is(p, "or") || word_is(p, "not") || word_is(p, "of") ||
	       word_is(p, "them");
}

static int add_node(struct cparser *p, enum cnode_kind kind, uint32_t a, uint32_t b)
{
	struct rule *r = p->r;

	if (r->n_nodes == r->cap_nodes) {
		uint32_t cap = r->cap_nodes ? r->cap_nodes * 2 : 16;
		struct cnode *v = realloc(r->nodes, cap * sizeof(*v));

		if (!v) {
			fail(p, p->t.off, "out of memory");
			return -1;
		}
		r->nodes = v;
		r->cap_nodes = cap;
	}
	r->nodes[r->n_nodes] = (struct cnode){ (uint8_t)kind, a, b };
	return (int)r->n_nodes++;
}

static int add_ref(struct cparser *p, uint32_t search)
{
	struct rule *r = p->r;

	if (r->n_refs == r->cap_refs) {
		uint32_t cap = r->cap_refs ? r->cap_refs * 2 : 16;
		uint32_t *v = realloc(r->refs, cap * sizeof(*v));

		if (!v) {
			fail(p, p->t.off, "out of memory");
			return -1;
		}
		r->refs = v;
		r->cap_refs = cap;
	}
	r->refs[r->n_refs++] = search;
	return 0;
}

/* '*' wildcard match of a pattern against a name (names are short; the
 * star restarts make this O(len(pat) * len(name)) at worst). */
static bool wild_match(const char *pat, size_t pn, const char *name)
{
	size_t nn = strlen(name), i = 0, j = 0, star_i = (size_t)-1, star_j = 0;

	while (j < nn) {
		if (i < pn && pat[i] == '*') {
			star_i = i++;
			star_j = j;
		} else if (i < pn && pat[i] == name[j]) {
			i++;
			j++;
		} else if (star_i != (size_t)-1) {
			i = star_i + 1;
			j = ++star_j;
		} else {
			return false;
		}
	}
	while (i < pn && pat[i] == '*')
		i++;
	return i == pn;
}

static int parse_or(struct cparser *p, int depth);

static int parse_quant(struct cparser *p, bool all)
{
	struct rule *r = p->r;
	uint32_t first = r->n_refs, count = 0;
	size_t off;

	next(p);	/* "of" */
	next(p);
	off = p->t.off;
	if (word_is(p, "them")) {
		for (uint32_t i = 0; i < r->n_searches; i++) {
			if (r->searches[i].name[0] == '_')
				continue;
			if (add_ref(p, i))
				return -1;
			r->searches[i].used = true;
			count++;
		}
		if (!count) {
			fail(p, off, "'them' names no search identifier (all start with '_')");
			return -1;
		}
	} else if (p->t.kind == T_WORD && !is_keyword(p)) {
		const char *pat = p->s + p->t.off;
		size_t pn = p->t.len;

		for (uint32_t i = 0; i < r->n_searches; i++) {
			if (!wild_match(pat, pn, r->searches[i].name))
				continue;
			if (add_ref(p, i))
				return -1;
			r->searches[i].used = true;
			count++;
		}
		if (!count) {
			fail(p, off, "'%.*s' matches no search identifier", (int)pn, pat);
			return -1;
		}
	} else {
		fail(p, off, "expected 'them' or a search identifier pattern after 'of'");
		return -1;
	}
	next(p);
	return add_node(p, all ? CN_ALL_OF : CN_ONE_OF, first, count);
}

static int lookup_search(const struct rule *r, const char *name, size_t len)
{
	for (uint32_t i = 0; i < r->n_searches; i++)
		if (strlen(r->searches[i].name) == len &&
		    memcmp(r->searches[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

/* Is the token after the current one the word "of"? */
static bool followed_by_of(struct cparser *p)
{
	struct cparser save = *p;
	bool of;

	next(p);
	of = word_is(p, "of");
	p->pos = save.pos;
	p->t = save.t;
	return of;
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return n > 0;
}

static int parse_primary(struct cparser *p, int depth)
{
	const char *w = p->s + p->t.off;
	size_t off = p->t.off;
	int idx;

	switch (p->t.kind) {
	case T_LPAREN:
		if (depth >= SIGMA_MAX_COND_DEPTH) {
			fail(p, off, "condition nested deeper than %d levels", SIGMA_MAX_COND_DEPTH);
			return -1;
		}
		next(p);
		idx = parse_or(p, depth + 1);
		if (idx < 0)
			return -1;
		if (p->t.kind != T_RPAREN) {
			fail(p, p->t.off, "expected ')' to close the '(' at offset %zu", off);
			return -1;
		}
		next(p);
		return idx;
	case T_WORD:
		break;
	case T_END:
		fail(p, off, "condition ends where a search identifier was expected");
		return -1;
	case T_RPAREN:
		fail(p, off, "unexpected ')'");
		return -1;
	case T_PIPE:
		fail(p, off, "aggregation expressions ('| count() ...') are not supported: "
		     "the engine evaluates one event at a time");
		return -1;
	default:
		fail(p, off, "unexpected character '%c' in condition", p->s[off]);
		return -1;
	}
	if (followed_by_of(p)) {
		if (word_is(p, "1") || word_is(p, "any"))
			return parse_quant(p, false);
		if (word_is(p, "all"))
			return parse_quant(p, true);
		if (all_digits(w, p->t.len)) {
			fail(p, off, "'%.*s of' is not defined by Sigma: use '1 of', 'any of' or "
			     "'all of'", (int)p->t.len, w);
			return -1;
		}
	}
	if (is_keyword(p)) {
		fail(p, off, "unexpected '%.*s' where a search identifier was expected",
		     (int)p->t.len, w);
		return -1;
	}
	if (memchr(w, '*', p->t.len)) {
		fail(p, off, "wildcard '%.*s' is only allowed after '1 of' or 'all of'",
		     (int)p->t.len, w);
		return -1;
	}
	idx = lookup_search(p->r, w, p->t.len);
	if (idx < 0) {
		fail(p, off, "undefined search identifier '%.*s'", (int)p->t.len, w);
		return -1;
	}
	p->r->searches[idx].used = true;
	next(p);
	return add_node(p, CN_SEARCH, (uint32_t)idx, 0);
}

static int parse_not(struct cparser *p, int depth)
{
	int a;

	if (!word_is(p, "not"))
		return parse_primary(p, depth);
	if (depth >= SIGMA_MAX_COND_DEPTH) {
		fail(p, p->t.off, "condition nested deeper than %d levels", SIGMA_MAX_COND_DEPTH);
		return -1;
	}
	next(p);
	a = parse_not(p, depth + 1);
	if (a < 0)
		return -1;
	return add_node(p, CN_NOT, (uint32_t)a, 0);
}

static int parse_and(struct cparser *p, int depth)
{
	int a = parse_not(p, depth);

	while (a >= 0 && word_is(p, "and")) {
		int b;

		next(p);
		b = parse_not(p, depth);
		if (b < 0)
			return -1;
		a = add_node(p, CN_AND, (uint32_t)a, (uint32_t)b);
	}
	return a;
}

static int parse_or(struct cparser *p, int depth)
{
	int a = parse_and(p, depth);

	while (a >= 0 && word_is(p, "or")) {
		int b;

		next(p);
		b = parse_and(p, depth);
		if (b < 0)
			return -1;
		a = add_node(p, CN_OR, (uint32_t)a, (uint32_t)b);
	}
	return a;
}

int sigma_cond__parse(struct rule *r, const char *s, size_t len, struct cond_error *err)
{
	struct cparser p = { .r = r, .s = s, .len = len, .err = err };
	int root;

	err->off = 0;
	err->msg[0] = 0;
	if (len > SIGMA_MAX_COND_LEN) {
		snprintf(err->msg, sizeof(err->msg), "condition longer than %d bytes",
			 SIGMA_MAX_COND_LEN);
		return -1;
	}
	if (memchr(s, 0, len)) {
		snprintf(err->msg, sizeof(err->msg), "condition contains a NUL byte");
		return -1;
	}
	next(&p);
	if (p.t.kind == T_END) {
		fail(&p, 0, "empty condition");
		return -1;
	}
	root = parse_or(&p, 0);
	if (root < 0)
		return -1;
	if (p.t.kind == T_PIPE) {
		fail(&p, p.t.off, "aggregation expressions ('| count() ...') are not supported: "
		     "the engine evaluates one event at a time");
		return -1;
	}
	if (p.t.kind != T_END) {
		fail(&p, p.t.off, "unexpected '%.*s' after a complete condition (missing "
		     "'and' or 'or'?)", (int)(p.t.len ? p.t.len : 1), s + p.t.off);
		return -1;
	}
	return root;
}
