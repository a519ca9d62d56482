#include "common/ecs_in.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* A strict RFC 8259 parser over one line, recursive to ECS_IN_MAX_DEPTH. */
struct jp {
	const char *s;
	size_t n, i;
	int depth;
	struct rw_event *ev;
	struct ecs_in_stats *st;
	char *tmp;		/* decoded string, from malloc() */
	size_t tmp_len, tmp_cap;
	char path[256];		/* dotted name of the current object */
	size_t path_len;
	int err;		/* first -ENOSPC seen */
	int raw;		/* inside a RAW value: nothing to look up */
};

static void ws(struct jp *p)
{
	while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' ||
			       p->s[p->i] == '\n' || p->s[p->i] == '\r'))
		p->i++;
}

static int tmp_put(struct jp *p, const void *b, size_t n)
{
	if (p->tmp_cap - p->tmp_len < n) {
		size_t cap = p->tmp_cap ? p->tmp_cap : 256;
		char *t;

		while (cap - p->tmp_len < n)
			cap *= 2;
		t = realloc(p->tmp, cap);
		if (!t)
			return -ENOMEM;
		p->tmp = t;
		p->tmp_cap = cap;
	}
	memcpy(p->tmp + p->tmp_len, b, n);
	p->tmp_len += n;
	return 0;
}

static int hex4(struct jp *p, unsigned *out)
{
	unsigned v = 0;

	if (p->n - p->i < 4)
		return -EINVAL;
	for (int k = 0; k < 4; k++) {
		char c = p->s[p->i++];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -EINVAL;
	}
	*out = v;
	return 0;
}

static int put_utf8(struct jp *p, unsigned cp)
{
	unsigned char b[4];
	size_t n;

	if (cp < 0x800) {
		b[0] = (unsigned char)(0xc0 | (cp >> 6));
		b[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xe0 | (cp >> 12));
		b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xf0 | (cp >> 18));
		b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return tmp_put(p, b, n);
}

/* A string at p->i (which is at '"') decoded into p->tmp[0..tmp_len). */
static int str(struct jp *p)
{
	p->tmp_len = 0;
	if (p->i >= p->n || p->s[p->i] != '"')
		return -EINVAL;
	p->i++;
	while (p->i < p->n) {
		unsigned char c = (unsigned char)p->s[p->i];
		size_t run = p->i;
		unsigned cp, lo;
		char e;
		int err;

		if (c == '"') {
			p->i++;
			return 0;
		}
		if (c < 0x20)
			return -EINVAL;
		if (c != '\\') {
			while (run < p->n && p->s[run] != '"' && p->s[run] != '\\' &&
			       (unsigned char)p->s[run] >= 0x20)
				run++;
			if (tmp_put(p, p->s + p->i, run - p->i))
				return -ENOMEM;
			p->i = run;
			continue;
		}
		if (++p->i >= p->n)
			return -EINVAL;
		e = p->s[p->i++];
		switch (e) {
		case '"': case '\\': case '/':
			err = tmp_put(p, &e, 1);
			break;
		case 'b': err = tmp_put(p, "\b", 1); break;
		case 'f': err = tmp_put(p, "\f", 1); break;
		case 'n': err = tmp_put(p, "\n", 1); break;
		case 'r': err = tmp_put(p, "\r", 1); break;
		case 't': err = tmp_put(p, "\t", 1); break;
		case 'u':
			if (hex4(p, &cp))
				return -EINVAL;
			if (cp <= 0xff) {
				/* the writer's escape of one byte */
				unsigned char b = (unsigned char)cp;

				err = tmp_put(p, &b, 1);
				break;
			}
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return -EINVAL;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (p->n - p->i < 6 || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u')
					return -EINVAL;
				p->i += 2;
				if (hex4(p, &lo) || lo < 0xdc00 || lo > 0xdfff)
					return -EINVAL;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			err = put_utf8(p, cp);
			break;
		default:
			return -EINVAL;
		}
		if (err)
			return err;
	}
	return -EINVAL;
}

/* A JSON number; *is_int when it has no fraction or exponent and fits. */
static int number(struct jp *p, bool *is_int, int64_t *v)
{
	bool neg = false, frac = false;
	uint64_t u = 0;
	bool overflow = false;

	if (p->i < p->n && p->s[p->i] == '-') {
		neg = true;
		p->i++;
	}
	if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9')
		return -EINVAL;
	if (p->s[p->i] == '0' && p->i + 1 < p->n && p->s[p->i + 1] >= '0' && p->s[p->i + 1] <= '9')
		return -EINVAL;	/* no leading zeros */
	while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
		unsigned d = (unsigned)(p->s[p->i++] - '0');

		if (u > (UINT64_MAX - d) / 10)
			overflow = true;
		else
			u = u * 10 + d;
	}
	if (p->i < p->n && p->s[p->i] == '.') {
		frac = true;
		p->i++;
		if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9')
			return -EINVAL;
		while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
			p->i++;
	}
	if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
		frac = true;
		p->i++;
		if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
			p->i++;
		if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9')
			return -EINVAL;
		while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
			p->i++;
	}
	*is_int = !frac && !overflow && u <= (uint64_t)INT64_MAX + neg;
	if (*is_int)
		*v = neg ? (int64_t)(0 - u) : (int64_t)u;
	return 0;
}

static bool lit(struct jp *p, const char *w)
{
	size_t n = strlen(w);

	if (p->n - p->i < n || memcmp(p->s + p->i, w, n))
		return false;
	p->i += n;
	return true;
}

static int value(struct jp *p, int field);

/* Skip any value (unknown field or wrong type). */
static int skip(struct jp *p)
{
	return value(p, -1);
}

static void bad_type(struct jp *p)
{
	if (p->st)
		p->st->bad_types++;
}

static void note(struct jp *p, int err)
{
	if (err == -ENOSPC && !p->err)
		p->err = err;
}

static int array(struct jp *p, int field)
{
	enum rw_ftype t = field >= 0 ? rw_schema[field].type : RW_T_RAW;
	bool first = true;

	p->i++;	/* '[' */
	if (++p->depth > ECS_IN_MAX_DEPTH)
		return -EINVAL;
	ws(p);
	if (p->i < p->n && p->s[p->i] == ']') {
		p->i++;
		p->depth--;
		/* an empty list stays absent: the event model has no empty
		 * list, and Sigma's null matches both */
		return 0;
	}
	if (field >= 0 && t == RW_T_STRV)
		p->ev->strv_open = -1;	/* start a new list */
	for (;;) {
		int err;

		ws(p);
		if (field >= 0 && (t == RW_T_STRV || (t == RW_T_STRA && first)) &&
		    p->i < p->n && p->s[p->i] == '"') {
			err = str(p);
			if (err)
				return err;
			if (t == RW_T_STRV)
				note(p, rw_event__add_strv(p->ev, field, p->tmp, p->tmp_len));
			else
				note(p, rw_event__set_str(p->ev, field, p->tmp, p->tmp_len));
		} else {
			if (field >= 0)
				bad_type(p);
			err = skip(p);
			if (err)
				return err;
		}
		first = false;
		ws(p);
		if (p->i < p->n && p->s[p->i] == ',') {
			p->i++;
			continue;
		}
		if (p->i < p->n && p->s[p->i] == ']') {
			p->i++;
			break;
		}
		return -EINVAL;
	}
	p->depth--;
	return 0;
}

static int object(struct jp *p);

/* Parse one value; field >= 0 stores it in that schema field. */
static int value(struct jp *p, int field)
{
	enum rw_ftype t = field >= 0 ? rw_schema[field].type : RW_T_RAW;
	size_t start;
	int64_t iv = 0;
	bool is_int = false;
	int err;

	ws(p);
	if (p->i >= p->n)
		return -EINVAL;
	start = p->i;
	if (field >= 0 && t == RW_T_RAW) {
		/* kept verbatim: the sensor's own counters object */
		p->raw++;
		err = skip(p);
		p->raw--;
		if (!err)
			note(p, rw_event__set_str(p->ev, field, p->s + start, p->i - start));
		return err;
	}
	switch (p->s[p->i]) {
	case '{':
		if (field >= 0)
			bad_type(p);
		return object(p);
	case '[':
		if (field >= 0 && t != RW_T_STRV && t != RW_T_STRA)
			bad_type(p);
		return array(p, field >= 0 && (t == RW_T_STRV || t == RW_T_STRA) ? field : -1);
	case '"':
		err = str(p);
		if (err || field < 0)
			return err;
		if (t == RW_T_STR || t == RW_T_STRA) {
			note(p, rw_event__set_str(p->ev, field, p->tmp, p->tmp_len));
		} else if (t == RW_T_TIME) {
			if (ecs__parse_time(p->tmp, p->tmp_len, &iv) == 0)
				rw_event__set_time(p->ev, field, (uint64_t)iv);
			else
				bad_type(p);
		} else {
			bad_type(p);
		}
		return 0;
	case 't':
	case 'f':
		if (!lit(p, "true") && !lit(p, "false"))
			return -EINVAL;
		if (field < 0)
			return 0;
		if (t == RW_T_BOOL)
			rw_event__set_bool(p->ev, field, p->s[start] == 't');
		else
			bad_type(p);
		return 0;
	case 'n':
		/* null: the field is absent */
		return lit(p, "null") ? 0 : -EINVAL;
	default:
		err = number(p, &is_int, &iv);
		if (err || field < 0)
			return err;
		if (t == RW_T_INT && is_int)
			rw_event__set_int(p->ev, field, iv);
		else if (t == RW_T_TIME && is_int)
			rw_event__set_time(p->ev, field, (uint64_t)iv);
		else
			bad_type(p);
		return 0;
	}
}

static int object(struct jp *p)
{
	size_t saved = p->path_len;

	p->i++;	/* '{' */
	if (++p->depth > ECS_IN_MAX_DEPTH)
		return -EINVAL;
	ws(p);
	if (p->i < p->n && p->s[p->i] == '}') {
		p->i++;
		p->depth--;
		return 0;
	}
	for (;;) {
		bool fits;
		int field = -1, err;

		ws(p);
		err = str(p);
		if (err)
			return err;
		/* path = saved prefix + "." + key */
		p->path_len = saved;
		fits = saved + 1 + p->tmp_len < sizeof(p->path) && !memchr(p->tmp, 0, p->tmp_len) &&
		       !p->raw;
		if (fits) {
			if (saved)
				p->path[p->path_len++] = '.';
			memcpy(p->path + p->path_len, p->tmp, p->tmp_len);
			p->path_len += p->tmp_len;
			p->path[p->path_len] = 0;
			field = rw_schema__lookup(p->path);
		}
		ws(p);
		if (p->i >= p->n || p->s[p->i] != ':')
			return -EINVAL;
		p->i++;
		ws(p);
		if (field < 0 && p->i < p->n && p->s[p->i] == '{' && fits) {
			err = object(p);	/* an ECS object: its fields are below */
		} else {
			if (field < 0 && p->st && !p->raw)
				p->st->unknown_fields++;
			err = value(p, field);
		}
		if (err)
			return err;
		p->path_len = saved;
		p->path[saved] = 0;
		ws(p);
		if (p->i < p->n && p->s[p->i] == ',') {
			p->i++;
			continue;
		}
		if (p->i < p->n && p->s[p->i] == '}') {
			p->i++;
			break;
		}
		return -EINVAL;
	}
	p->depth--;
	return 0;
}

int ecs__read_json(struct rw_event *ev, const char *line, size_t len, struct ecs_in_stats *st)
{
	struct jp p = { .s = line, .n = len, .ev = ev, .st = st };
	int err;

	ws(&p);
	if (p.i >= p.n || p.s[p.i] != '{')
		return -EINVAL;
	err = object(&p);
	if (!err) {
		ws(&p);
		if (p.i != p.n)
			err = -EINVAL;	/* one object per line */
	}
	free(p.tmp);
	ev->strv_open = -1;
	if (err)
		return err == -ENOMEM ? -ENOMEM : -EINVAL;
	return p.err;
}

/* Days since 1970-01-01 of a proleptic Gregorian date: count from
 * 0000-03-01 so that leap days end each year, in 400-year eras. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool digits(const char *s, size_t n, unsigned *v)
{
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return true;
}

int ecs__parse_time(const char *s, size_t len, int64_t *ns)
{
	static const unsigned mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	unsigned y, mo, d, h, mi, se, frac = 0, oh = 0, om = 0;
	size_t i = 19, fd = 0;
	int sign = 0;
	int64_t secs;

	if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
	    s[13] != ':' || s[16] != ':')
		return -EINVAL;
	if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
	    !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se))
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 60)
		return -EINVAL;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -EINVAL;	/* no 29 February that year */
	if (s[i] == '.') {
		i++;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			if (fd < 9) {
				frac = frac * 10 + (unsigned)(s[i] - '0');
				fd++;
			}
			i++;
		}
		if (!fd)
			return -EINVAL;
		for (; fd < 9; fd++)
			frac *= 10;
	}
	if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':' &&
		   digits(s + i + 1, 2, &oh) && digits(s + i + 4, 2, &om) && oh < 24 && om < 60) {
		sign = s[i] == '+' ? 1 : -1;
		i += 6;
	} else {
		return -EINVAL;
	}
	if (i != len)
		return -EINVAL;
	secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	secs -= sign * (int64_t)(oh * 3600 + om * 60);
	/* int64 nanoseconds reach 2262 */
	if (secs > INT64_MAX / 1000000000 - 1 || secs < INT64_MIN / 1000000000 + 1)
		return -EINVAL;
	*ns = secs * 1000000000 + frac;
	return 0;
}
