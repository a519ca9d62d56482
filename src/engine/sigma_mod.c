/*
 * Sigma value modifiers that transform values: wildcard parsing, UTF-16,
 * base64, base64offset, windash, contains/startswith/endswith, expand, and
 * CIDR parsing. Everything here works on struct sstr (bytes plus a
 * wildcard mark per byte) so that escapes are resolved exactly once.
 */
#include "engine/sigma.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* ---- struct sstr ---- */

void sstr__free(struct sstr *s)
{
	if (!s)
		return;
	free(s->b);
	free(s->w);
	memset(s, 0, sizeof(*s));
}

int sstr__push(struct sstr *s, uint8_t byte, uint8_t wild)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		uint8_t *b = realloc(s->b, cap), *w;

		if (!b)
			return -ENOMEM;
		s->b = b;
		w = realloc(s->w, cap);
		if (!w)
			return -ENOMEM;
		s->w = w;
		s->cap = cap;
	}
	s->b[s->n] = byte;
	s->w[s->n] = wild;
	s->n++;
	return 0;
}

static int sstr__push_lit(struct sstr *s, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (sstr__push(s, b[i], PW_LIT))
			return -ENOMEM;
	return 0;
}

static int sstr__append(struct sstr *dst, const struct sstr *src)
{
	for (size_t i = 0; i < src->n; i++)
		if (sstr__push(dst, src->b[i], src->w[i]))
			return -ENOMEM;
	return 0;
}

int sstr__parse(struct sstr *s, const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t c = (uint8_t)text[i];
		int err;

		if (c == '\\' && i + 1 < len &&
		    (text[i + 1] == '*' || text[i + 1] == '?' || text[i + 1] == '\\')) {
			err = sstr__push(s, (uint8_t)text[++i], PW_LIT);
		} else if (c == '*') {
			err = sstr__push(s, '*', PW_STAR);
		} else if (c == '?') {
			err = sstr__push(s, '?', PW_ONE);
		} else {
			err = sstr__push(s, c, PW_LIT);
		}
		if (err)
			return err;
	}
	return 0;
}

bool sstr__has_wild(const struct sstr *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->w[i] != PW_LIT)
			return true;
	return false;
}

void sstr_list__free(struct sstr_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		sstr__free(&l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

int sstr_list__take(struct sstr_list *l, struct sstr *s)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4;
		struct sstr *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = *s;
	memset(s, 0, sizeof(*s));
	return 0;
}

static void set_msg(char *msg, size_t msz, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_msg(char *msg, size_t msz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, msz, fmt, ap);
	va_end(ap);
}

/* ---- UTF-16 ---- */

/* Decode one UTF-8 sequence at p (n bytes available); returns its length
 * and the code point in *cp, or 0 when malformed. */
static size_t utf8_decode(const uint8_t *p, size_t n, uint32_t *cp)
{
	uint32_t c;
	size_t len;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2;
		c = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		c = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4;
		c = p[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	/* reject overlong forms, surrogates and out-of-range values */
	if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	*cp = c;
	return len;
}

static int push_u16(struct sstr *out, uint16_t u, bool be)
{
	uint8_t b[2] = { be ? (uint8_t)(u >> 8) : (uint8_t)u, be ? (uint8_t)u : (uint8_t)(u >> 8) };

	return sstr__push_lit(out, b, 2);
}

static int utf16_one(const struct sstr *in, struct sstr *out, int kind, char *msg, size_t msz)
{
	bool be = kind == 1;
	size_t i = 0;

	if (kind == 2 && sstr__push_lit(out, "\xff\xfe", 2))
		return -ENOMEM;
	while (i < in->n) {
		uint32_t cp;
		size_t run = 0, len;

		if (in->w[i] == PW_STAR) {
			if (sstr__push(out, '*', PW_STAR))
				return -ENOMEM;
			i++;
			continue;
		}
		if (in->w[i] == PW_ONE) {
			/* one character is one 16-bit unit here */
			if (sstr__push(out, '?', PW_ONE) || sstr__push(out, '?', PW_ONE))
				return -ENOMEM;
			i++;
			continue;
		}
		while (i + run < in->n && in->w[i + run] == PW_LIT)
			run++;
		len = utf8_decode(in->b + i, run, &cp);
		if (!len) {
			set_msg(msg, msz, "value is not valid UTF-8 and cannot be encoded as UTF-16");
			return -EINVAL;
		}
		if (cp >= 0x10000) {
			cp -= 0x10000;
			if (push_u16(out, (uint16_t)(0xd800 | (cp >> 10)), be) ||
			    push_u16(out, (uint16_t)(0xdc00 | (cp & 0x3ff)), be))
				return -ENOMEM;
		} else if (push_u16(out, (uint16_t)cp, be)) {
			return -ENOMEM;
		}
		i += len;
	}
	return 0;
}

int sigma_mod__utf16(struct sstr_list *l, int kind, char *msg, size_t msz)
{
	for (size_t i = 0; i < l->n; i++) {
		struct sstr out = { 0 };
		int err = utf16_one(&l->v[i], &out, kind, msg, msz);

		if (err) {
			sstr__free(&out);
			return err;
		}
		sstr__free(&l->v[i]);
		l->v[i] = out;
	}
	return 0;
}

/* ---- base64 ---- */

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Standard base64 with padding of p[0..n) appended to out. */
static int b64_encode(struct sstr *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		char q[4];

		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		q[0] = b64chars[(v >> 18) & 63];
		q[1] = b64chars[(v >> 12) & 63];
		q[2] = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? b64chars[v & 63] : '=';
		if (sstr__push_lit(out, q, 4))
			return -ENOMEM;
	}
	return 0;
}

static int no_wild(const struct sstr_list *l, const char *mod, char *msg, size_t msz)
{
	for (size_t i = 0; i < l->n; i++)
		if (sstr__has_wild(&l->v[i])) {
			set_msg(msg, msz, "'%s' cannot encode a value with wildcards "
				"(escape '*' and '?' with '\\' to mean them literally)", mod);
			return -EINVAL;
		}
	return 0;
}

int sigma_mod__base64(struct sstr_list *l, char *msg, size_t msz)
{
	int err = no_wild(l, "base64", msg, msz);

	if (err)
		return err;
	for (size_t i = 0; i < l->n; i++) {
		struct sstr out = { 0 };

		if (b64_encode(&out, l->v[i].b, l->v[i].n)) {
			sstr__free(&out);
			return -ENOMEM;
		}
		sstr__free(&l->v[i]);
		l->v[i] = out;
	}
	return 0;
}

/*
 * base64offset: the value may sit at any byte offset of the encoded data,
 * so encode it after 0, 1 and 2 filler bytes and keep only the characters
 * that depend on the value alone. With k filler bytes the first
 * {0, 2, 3}[k] characters also depend on the filler; at the end, when
 * (k + len) % 3 is 1 or 2, the last group is padded and its last {3, 2}
 * characters (data char depending on the next byte, plus '=') are unstable.
 */
int sigma_mod__base64offset(struct sstr_list *l, size_t max, char *msg, size_t msz)
{
	static const size_t skip_front[3] = { 0, 2, 3 };
	static const size_t skip_back[3] = { 0, 3, 2 };
	struct sstr_list out = { 0 };
	int err = no_wild(l, "base64offset", msg, msz);

	if (err)
		return err;
	if (l->n * 3 > max) {
		set_msg(msg, msz, "base64offset makes 3 values of each");
		return -E2BIG;
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct sstr *in = &l->v[i];

		for (size_t k = 0; k < 3; k++) {
			struct sstr enc = { 0 }, cut = { 0 };
			uint8_t *buf = malloc(in->n + 3);
			size_t lo, hi;

			if (!buf) {
				err = -ENOMEM;
				goto cleanup;
			}
			memset(buf, 0, k);
			memcpy(buf + k, in->b, in->n);
			err = b64_encode(&enc, buf, k + in->n);
			free(buf);
			lo = skip_front[k];
			hi = enc.n - skip_back[(k + in->n) % 3];
			if (!err && hi > lo)
				err = sstr__push_lit(&cut, enc.b + lo, hi - lo);
			sstr__free(&enc);
			if (!err && cut.n)
				err = sstr_list__take(&out, &cut);
			sstr__free(&cut);
			if (err)
				goto cleanup;
		}
	}
	if (!out.n) {
		set_msg(msg, msz, "base64offset of an empty value leaves nothing to match");
		err = -EINVAL;
		goto cleanup;
	}
	sstr_list__free(l);
	*l = out;
	return 0;
cleanup:
	sstr_list__free(&out);
	return err;
}

/* ---- windash ---- */

static bool is_word(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/* A '-' or '/' starting a command-line flag: not preceded by a word
 * character, followed by one. */
static bool is_flag_dash(const struct sstr *s, size_t i)
{
	if (s->w[i] != PW_LIT || (s->b[i] != '-' && s->b[i] != '/'))
		return false;
	if (i > 0 && s->w[i - 1] == PW_LIT && is_word(s->b[i - 1]))
		return false;
	return i + 1 < s->n && s->w[i + 1] == PW_LIT && is_word(s->b[i + 1]);
}

static const char *const dashes[5] = { "-", "/", "\xe2\x80\x93", "\xe2\x80\x94", "\xe2\x80\x95" };

int sigma_mod__windash(struct sstr_list *l, size_t max, char *msg, size_t msz)
{
	struct sstr_list out = { 0 };
	int err = 0;

	for (size_t i = 0; i < l->n; i++) {
		const struct sstr *in = &l->v[i];
		size_t total = 1;

		for (size_t j = 0; j < in->n; j++)
			if (is_flag_dash(in, j)) {
				if (total > max / 5) {
					set_msg(msg, msz, "windash makes 5 values per flag dash");
					err = -E2BIG;
					goto cleanup;
				}
				total *= 5;
			}
		if (out.n + total > max) {
			set_msg(msg, msz, "windash makes 5 values per flag dash");
			err = -E2BIG;
			goto cleanup;
		}
		/* variant v: digit d (base 5) of v picks the dash of flag d */
		for (size_t v = 0; v < total; v++) {
			struct sstr s = { 0 };
			size_t rest = v;

			for (size_t j = 0; j < in->n && !err; j++) {
				if (is_flag_dash(in, j)) {
					const char *d = dashes[rest % 5];

					rest /= 5;
					err = sstr__push_lit(&s, d, strlen(d));
				} else {
					err = sstr__push(&s, in->b[j], in->w[j]);
				}
			}
			if (!err)
				err = sstr_list__take(&out, &s);
			sstr__free(&s);
			if (err)
				goto cleanup;
		}
	}
	sstr_list__free(l);
	*l = out;
	return 0;
cleanup:
	sstr_list__free(&out);
	return err;
}

/* ---- contains / startswith / endswith ---- */

int sigma_mod__wrap(struct sstr_list *l, bool star_front, bool star_back)
{
	for (size_t i = 0; i < l->n; i++) {
		struct sstr *in = &l->v[i];

		if (star_front && !(in->n && in->w[0] == PW_STAR)) {
			struct sstr s = { 0 };

			if (sstr__push(&s, '*', PW_STAR) || sstr__append(&s, in)) {
				sstr__free(&s);
				return -ENOMEM;
			}
			sstr__free(in);
			*in = s;
		}
		if (star_back && !(in->n && in->w[in->n - 1] == PW_STAR))
			if (sstr__push(in, '*', PW_STAR))
				return -ENOMEM;
	}
	return 0;
}

/* ---- expand ---- */

static const struct placeholders empty_ph;

static int ph_find(const struct placeholders *ph, const char *name, size_t len)
{
	for (size_t i = 0; i < ph->n; i++)
		if (strlen(ph->names[i]) == len && memcmp(ph->names[i], name, len) == 0)
			return (int)i;
	return -1;
}

/* Segments of an expand value: literal text (Sigma escapes still to
 * parse) or a placeholder index. */
struct seg {
	const char *text;
	size_t len;
	int ph;			/* -1 for text */
	char *owned;		/* text with \% resolved, from malloc() */
};

int sigma_mod__expand(struct sstr_list *l, const char *text, size_t len,
		      const struct placeholders *ph, size_t max, char *msg, size_t msz)
{
	struct seg segs[64];
	size_t n_segs = 0, total = 1;
	char *lit = NULL;
	size_t lit_n = 0;
	int err = 0;

	if (!ph)
		ph = &empty_ph;
	lit = malloc(len + 1);
	if (!lit)
		return -ENOMEM;
	for (size_t i = 0; i <= len; i++) {
		size_t j = i + 1;
		int idx;

		if (i < len && text[i] == '\\' && i + 1 < len && text[i + 1] == '%') {
			lit[lit_n++] = '%';
			i++;
			continue;
		}
		if (i < len && text[i] == '%') {
			while (j < len && is_word((uint8_t)text[j]))
				j++;
			if (!(j < len && text[j] == '%' && j > i + 1)) {
				lit[lit_n++] = text[i];
				continue;
			}
		} else if (i < len) {
			lit[lit_n++] = text[i];
			continue;
		}
		/* end of text or a placeholder at i..j: flush the literal */
		if (n_segs + 2 > sizeof(segs) / sizeof(segs[0])) {
			set_msg(msg, msz, "too many placeholders in one value (at most 31)");
			err = -EINVAL;
			goto cleanup;
		}
		if (lit_n) {
			char *o = malloc(lit_n);

			if (!o) {
				err = -ENOMEM;
				goto cleanup;
			}
			memcpy(o, lit, lit_n);
			segs[n_segs++] = (struct seg){ o, lit_n, -1, o };
			lit_n = 0;
		}
		if (i == len)
			break;
		idx = ph_find(ph, text + i + 1, j - i - 1);
		if (idx < 0) {
			set_msg(msg, msz, "placeholder %%%.*s%% has no configured values "
				"(give them with --placeholders FILE)", (int)(j - i - 1), text + i + 1);
			err = -EINVAL;
			goto cleanup;
		}
		if (!ph->n_values[idx]) {
			set_msg(msg, msz, "placeholder %%%s%% has an empty value list",
				ph->names[idx]);
			err = -EINVAL;
			goto cleanup;
		}
		if (total > max / ph->n_values[idx]) {
			set_msg(msg, msz, "expand makes one value per combination of placeholder values");
			err = -E2BIG;
			goto cleanup;
		}
		total *= ph->n_values[idx];
		segs[n_segs++] = (struct seg){ NULL, 0, idx, NULL };
		i = j;
	}
	if (l->n + total > max) {
		set_msg(msg, msz, "expand makes one value per combination of placeholder values");
		err = -E2BIG;
		goto cleanup;
	}
	for (size_t v = 0; v < total; v++) {
		struct sstr s = { 0 };
		size_t rest = v;

		for (size_t k = 0; k < n_segs && !err; k++) {
			if (segs[k].ph < 0) {
				err = sstr__parse(&s, segs[k].text, segs[k].len);
			} else {
				size_t nv = ph->n_values[segs[k].ph];
				const char *pv = ph->values[segs[k].ph][rest % nv];

				rest /= nv;
				err = sstr__parse(&s, pv, strlen(pv));
			}
		}
		if (!err)
			err = sstr_list__take(l, &s);
		sstr__free(&s);
		if (err)
			goto cleanup;
	}
cleanup:
	for (size_t k = 0; k < n_segs; k++)
		free(segs[k].owned);
	free(lit);
	return err;
}

/* ---- CIDR ---- */

int sigma_mod__cidr(struct pattern *p, const char *text, size_t len)
{
	char buf[64], *slash, *end;
	long bits;
	int fam, maxbits;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, text, len);
	buf[len] = 0;
	slash = strchr(buf, '/');
	if (slash)
		*slash = 0;
	fam = strchr(buf, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(fam, buf, p->cidr) != 1)
		return -EINVAL;
	maxbits = fam == AF_INET ? 32 : 128;
	bits = maxbits;
	if (slash) {
		if (!slash[1] || slash[1] == '+' || slash[1] == '-' || slash[1] == ' ')
			return -EINVAL;
		errno = 0;
		bits = strtol(slash + 1, &end, 10);
		if (errno || *end || bits < 0 || bits > maxbits)
			return -EINVAL;
	}
	/* clear host bits: 10.1.2.3/8 means 10.0.0.0/8 */
	for (int i = 0; i < maxbits / 8; i++) {
		int keep = (int)bits - i * 8;

		if (keep <= 0)
			p->cidr[i] = 0;
		else if (keep < 8)
			p->cidr[i] &= (uint8_t)(0xff << (8 - keep));
	}
	p->kind = PK_CIDR;
	p->cidr_family = fam == AF_INET ? 4 : 6;
	p->cidr_bits = (uint8_t)bits;
	return 0;
}

/* ---- placeholders ---- */

void placeholders__free(struct placeholders *ph)
{
	if (!ph)
		return;
	for (size_t i = 0; i < ph->n; i++) {
		for (size_t j = 0; j < ph->n_values[i]; j++)
			free(ph->values[i][j]);
		free(ph->values[i]);
		free(ph->names[i]);
	}
	free(ph->names);
	free(ph->values);
	free(ph->n_values);
	memset(ph, 0, sizeof(*ph));
}

int placeholders__add(struct placeholders *ph, const char *name, const char *value)
{
	int i = ph_find(ph, name, strlen(name));
	char **vals, *v;

	if (i < 0) {
		char **names = realloc(ph->names, (ph->n + 1) * sizeof(*names));
		char ***values;
		size_t *nv;

		if (!names)
			return -ENOMEM;
		ph->names = names;
		values = realloc(ph->values, (ph->n + 1) * sizeof(*values));
		if (!values)
			return -ENOMEM;
		ph->values = values;
		nv = realloc(ph->n_values, (ph->n + 1) * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		ph->n_values = nv;
		ph->names[ph->n] = strdup(name);
		if (!ph->names[ph->n])
			return -ENOMEM;
		ph->values[ph->n] = NULL;
		ph->n_values[ph->n] = 0;
		i = (int)ph->n++;
	}
	v = strdup(value);
	if (!v)
		return -ENOMEM;
	vals = realloc(ph->values[i], (ph->n_values[i] + 1) * sizeof(*vals));
	if (!vals) {
		free(v);
		return -ENOMEM;
	}
	vals[ph->n_values[i]++] = v;
	ph->values[i] = vals;
	return 0;
}

static int ph_add_node(struct placeholders *ph, const char *name, yaml_node_t *v,
		       const char *path, struct diag *d)
{
	if (v->type != YAML_SCALAR_NODE) {
		diag__add(d, DIAG_ERROR, path, (unsigned)v->start_mark.line + 1,
			  (unsigned)v->start_mark.column + 1, NULL,
			  "placeholder '%s': values must be strings", name);
		return -EINVAL;
	}
	if (strlen((char *)v->data.scalar.value) != v->data.scalar.length) {
		diag__add(d, DIAG_ERROR, path, (unsigned)v->start_mark.line + 1,
			  (unsigned)v->start_mark.column + 1, NULL,
			  "placeholder '%s': value contains a NUL byte", name);
		return -EINVAL;
	}
	return placeholders__add(ph, name, (char *)v->data.scalar.value);
}

int placeholders__load(struct placeholders *ph, const char *path, struct diag *d)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	FILE *f = fopen(path, "rb");
	int err = 0;

	if (!f) {
		err = -errno;
		diag__add(d, DIAG_ERROR, path, 0, 0, NULL, "cannot open: %s", strerror(-err));
		return err;
	}
	if (!yaml_parser_initialize(&parser)) {
		fclose(f);
		return -ENOMEM;
	}
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc)) {
		diag__add(d, DIAG_ERROR, path, (unsigned)parser.problem_mark.line + 1,
			  (unsigned)parser.problem_mark.column + 1, NULL, "bad YAML: %s",
			  parser.problem ? parser.problem : "parse error");
		yaml_parser_delete(&parser);
		fclose(f);
		return -EINVAL;
	}
	root = yaml_document_get_root_node(&doc);
	if (!root || root->type != YAML_MAPPING_NODE) {
		diag__add(d, DIAG_ERROR, path, root ? (unsigned)root->start_mark.line + 1 : 1,
			  root ? (unsigned)root->start_mark.column + 1 : 1, NULL,
			  "placeholders file must be a mapping of name: [values]");
		err = -EINVAL;
		goto cleanup;
	}
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
	     p < root->data.mapping.pairs.top && !err; p++) {
		yaml_node_t *k = yaml_document_get_node(&doc, p->key);
		yaml_node_t *v = yaml_document_get_node(&doc, p->value);
		const char *name;

		if (!k || !v || k->type != YAML_SCALAR_NODE) {
			err = -EINVAL;
			break;
		}
		name = (const char *)k->data.scalar.value;
		if (v->type == YAML_SEQUENCE_NODE) {
			for (yaml_node_item_t *it = v->data.sequence.items.start;
			     it < v->data.sequence.items.top && !err; it++)
				err = ph_add_node(ph, name, yaml_document_get_node(&doc, *it), path, d);
		} else {
			err = ph_add_node(ph, name, v, path, d);
		}
	}
cleanup:
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	fclose(f);
	return err;
}
