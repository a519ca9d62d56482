/*
 * ECS JSON lines and readable text lines (see ecs_out.h).
 *
 * This runs for every event written, so it avoids per-byte formatting:
 * each string reserves its worst case once (6 output bytes per input byte)
 * and is then escaped by table lookups into that room; numbers and times
 * are formatted by hand.
 */
#include "common/ecs_out.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- strbuf -------------------------------------------------------------- */

/* Room for n more bytes; false (and sb->oom set) when it cannot be had.
 * Once oom is set every append is a no-op until strbuf__reset. */
static bool reserve(struct strbuf *sb, size_t n)
{
	size_t want, ncap;
	char *nb;

	if (sb->oom)
		return false;
	if (n <= sb->cap - sb->len)
		return true;
	if (n > SIZE_MAX / 2 - sb->len) {
		sb->oom = 1;
		return false;
	}
	want = sb->len + n;
	ncap = sb->cap ? sb->cap : 4096;
	while (ncap < want)
		ncap *= 2;
	nb = realloc(sb->buf, ncap);
	if (!nb) {
		sb->oom = 1;
		return false;
	}
	sb->buf = nb;
	sb->cap = ncap;
	return true;
}

void strbuf__append(struct strbuf *sb, const char *s, size_t n)
{
	if (!n || !reserve(sb, n))
		return;
	memcpy(sb->buf + sb->len, s, n);
	sb->len += n;
}

void strbuf__appendf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		sb->oom = 1;
		return;
	}
	if (!reserve(sb, (size_t)n + 1))
		return;
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

void strbuf__reset(struct strbuf *sb)
{
	sb->len = 0;
	sb->oom = 0;
}

void strbuf__free(struct strbuf *sb)
{
	if (!sb)
		return;
	free(sb->buf);
	sb->buf = NULL;
	sb->len = sb->cap = 0;
	sb->oom = 0;
}

/* ---- UTF-8 --------------------------------------------------------------- */

/*
 * Well-formed UTF-8 (RFC 3629, Unicode table 3-7), by lead byte: how many
 * bytes the sequence has and the range allowed for the second byte (the
 * later ones are always 80..BF). The narrowed second-byte ranges are what
 * reject overlongs (E0 80.., F0 80..), surrogates (ED A0..) and code points
 * above U+10FFFF (F4 90..). need 0: not a lead byte.
 */
struct utf8_lead {
	uint8_t need, lo, hi;
};

#define L2 { 2, 0x80, 0xBF }
#define L3 { 3, 0x80, 0xBF }
#define L4 { 4, 0x80, 0xBF }
#define R4(x) x, x, x, x

static const struct utf8_lead utf8_leads[128] = {
	/* 80..BF continuation bytes, C0 C1 overlong leads: invalid (zero) */
	[0x42] = L2, L2, R4(L2), R4(L2), R4(L2), R4(L2), R4(L2), R4(L2), R4(L2), /* C2..DF */
	[0x60] = { 3, 0xA0, 0xBF },					/* E0 */
	[0x61] = R4(L3), R4(L3), R4(L3), /* E1..EC */
	[0x6D] = { 3, 0x80, 0x9F },					/* ED */
	[0x6E] = L3, L3,						/* EE EF */
	[0x70] = { 4, 0x90, 0xBF },					/* F0 */
	[0x71] = L4, L4, L4,						/* F1..F3 */
	[0x74] = { 4, 0x80, 0x8F },					/* F4 */
};

/* Length of the well-formed sequence at p (2..4), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t rem)
{
	const struct utf8_lead *l = &utf8_leads[p[0] - 0x80];

	if (!l->need || rem < l->need || p[1] < l->lo || p[1] > l->hi)
		return 0;
	if (l->need >= 3 && (p[2] & 0xC0) != 0x80)
		return 0;
	if (l->need == 4 && (p[3] & 0xC0) != 0x80)
		return 0;
	return l->need;
}

/* ---- JSON strings --------------------------------------------------------- */

/* For bytes below 0x80: 0 = copy as is, else the escape to write. */
static const char *const json_esc[128] = {
	"\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
	"\\b",     "\\t",     "\\n",     "\\u000b", "\\f",     "\\r",     "\\u000e", "\\u000f",
	"\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017",
	"\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f",
	['"'] = "\\\"", ['\\'] = "\\\\",
};

/* Escape lengths, so that the hot loop does no strlen. */
static uint8_t json_esc_len(unsigned char c)
{
	return json_esc[c][1] == 'u' ? 6 : 2;
}

static const char hexd[] = "0123456789abcdef";

/* Escape n bytes of s into o, which has room for 6 * n bytes; returns the
 * end. Valid UTF-8 is copied, each byte of anything else becomes \u00XX. */
static char *json_escape(char *o, const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t l;

		if (c < 0x80) {
			const char *e = json_esc[c];

			if (!e) {
				*o++ = (char)c;
				i++;
				continue;
			}
			l = json_esc_len(c);
			memcpy(o, e, l);
			o += l;
			i++;
			continue;
		}
		l = utf8_seq(s + i, n - i);
		if (l) {
			memcpy(o, s + i, l);
			o += l;
			i += l;
			continue;
		}
		memcpy(o, "\\u00", 4);
		o[4] = hexd[c >> 4];
		o[5] = hexd[c & 15];
		o += 6;
		i++;
	}
	return o;
}

void json__append_string(struct strbuf *sb, const char *s, size_t n)
{
	char *o;

	if (n > (SIZE_MAX - 2) / 6 || !reserve(sb, 6 * n + 2)) {
		sb->oom = 1;
		return;
	}
	o = sb->buf + sb->len;
	*o++ = '"';
	o = json_escape(o, (const unsigned char *)s, n);
	*o++ = '"';
	sb->len = (size_t)(o - sb->buf);
}

/* ---- numbers and times ----------------------------------------------------- */

/* o needs room for 20 bytes. */
static char *put_i64(char *o, int64_t v)
{
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
	char tmp[20];
	int n = 0;

	if (v < 0)
		*o++ = '-';
	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	while (n)
		*o++ = tmp[--n];
	return o;
}

static void append_i64(struct strbuf *sb, int64_t v)
{
	if (!reserve(sb, 20))
		return;
	sb->len = (size_t)(put_i64(sb->buf + sb->len, v) - sb->buf);
}

static char *put_digits(char *o, uint64_t v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		o[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return o + width;
}

/*
 * Days since 1970-01-01 to a proleptic Gregorian date, by counting whole
 * 400-year eras (146097 days each) from 0000-03-01, so that the leap day
 * is the last day of each counted year. Valid for any int64 ns time.
 */
static void civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t z = days + 719468;	/* days from 0000-03-01 */
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);			/* [0, 146096] */
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;	/* [0, 399] */
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);	/* [0, 365] */
	unsigned mp = (5 * doy + 2) / 153;				/* March = 0 */

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

#define RFC3339_LEN 30	/* 2026-11-26T08:12:23.123456789Z */

/* o needs RFC3339_LEN bytes. */
static char *put_time(char *o, int64_t ns)
{
	int64_t secs = ns / 1000000000, frac = ns % 1000000000;
	int64_t days, sod, y;
	unsigned m, d;

	if (frac < 0) {
		frac += 1000000000;
		secs--;
	}
	days = secs / 86400;
	sod = secs % 86400;
	if (sod < 0) {
		sod += 86400;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	o = put_digits(o, (uint64_t)y, 4);	/* int64 ns spans 1677..2262 */
	*o++ = '-';
	o = put_digits(o, m, 2);
	*o++ = '-';
	o = put_digits(o, d, 2);
	*o++ = 'T';
	o = put_digits(o, (uint64_t)(sod / 3600), 2);
	*o++ = ':';
	o = put_digits(o, (uint64_t)(sod / 60 % 60), 2);
	*o++ = ':';
	o = put_digits(o, (uint64_t)(sod % 60), 2);
	*o++ = '.';
	o = put_digits(o, (uint64_t)frac, 9);
	*o++ = 'Z';
	return o;
}

static void append_time(struct strbuf *sb, int64_t ns)
{
	if (!reserve(sb, RFC3339_LEN))
		return;
	sb->len = (size_t)(put_time(sb->buf + sb->len, ns) - sb->buf);
}

/* ---- JSON records ------------------------------------------------------------ */

static void append_lit(struct strbuf *sb, const char *s)
{
	strbuf__append(sb, s, strlen(s));
}

static void write_value(struct strbuf *sb, const struct rw_event *ev, enum rw_field f)
{
	const char *s;
	size_t len = 0;
	uint32_t pos = 0;
	bool first = true;

	switch (rw_schema[f].type) {
	case RW_T_STR:
		s = rw_event__str(ev, f, &len);
		json__append_string(sb, s, len);
		break;
	case RW_T_INT:
		append_i64(sb, ev->v[f].i);
		break;
	case RW_T_BOOL:
		append_lit(sb, ev->v[f].i ? "true" : "false");
		break;
	case RW_T_TIME:
		strbuf__append(sb, "\"", 1);
		append_time(sb, ev->v[f].i);
		strbuf__append(sb, "\"", 1);
		break;
	case RW_T_STRV:
		strbuf__append(sb, "[", 1);
		while ((s = rw_event__strv_next(ev, f, &pos, &len))) {
			if (!first)
				strbuf__append(sb, ",", 1);
			json__append_string(sb, s, len);
			first = false;
		}
		strbuf__append(sb, "]", 1);
		break;
	case RW_T_STRA:
		s = rw_event__str(ev, f, &len);
		strbuf__append(sb, "[", 1);
		json__append_string(sb, s, len);
		strbuf__append(sb, "]", 1);
		break;
	case RW_T_RAW:
		/* trusted: only the sensor's own records carry RAW values */
		s = rw_event__str(ev, f, &len);
		if (len)
			strbuf__append(sb, s, len);
		else
			append_lit(sb, "null");
		break;
	}
}

/*
 * Keys, prepared once from the schema: for "process.parent.pid" the text
 * "process":{"parent":{"pid": and where each component starts in it, so
 * that a field whose first k objects are already open costs one memcpy.
 */
struct key_pre {
	const char *text;
	const uint16_t *at;	/* at[k]: offset of component k in text */
	uint16_t len;
	uint8_t ndots;		/* objects the field sits in */
};
static struct key_pre keys[RW_F__COUNT];
static void *keys_pool;	/* from malloc(), held for the process's life */
static pthread_once_t keys_once = PTHREAD_ONCE_INIT;

static void keys_init(void)
{
	size_t total = 0, nd;
	char *t;
	uint16_t *at;

	for (int f = 0; f < RW_F__COUNT; f++) {
		nd = 0;
		for (const char *c = rw_schema[f].name; *c; c++)
			nd += *c == '.';
		/* quotes and ':' per component, '{' per object; offsets */
		total += strlen(rw_schema[f].name) + 4 * nd + 3 + (nd + 1) * sizeof(uint16_t) + 1;
	}
	keys_pool = malloc(total);
	if (!keys_pool)
		return;
	t = keys_pool;
	for (int f = 0; f < RW_F__COUNT; f++) {
		const char *c = rw_schema[f].name;
		struct key_pre *k = &keys[f];
		size_t o = 0;

		nd = 0;
		for (const char *d = c; *d; d++)
			nd += *d == '.';
		at = (uint16_t *)((uintptr_t)(t + 1) & ~(uintptr_t)1);	/* aligned */
		t = (char *)(at + nd + 1);
		for (size_t i = 0;; i++) {
			const char *dot = strchr(c, '.');
			size_t n = dot ? (size_t)(dot - c) : strlen(c);

			at[i] = (uint16_t)o;
			t[o++] = '"';
			memcpy(t + o, c, n);
			o += n;
			t[o++] = '"';
			t[o++] = ':';
			if (!dot)
				break;
			t[o++] = '{';
			c = dot + 1;
		}
		k->text = t;
		k->at = at;
		k->len = (uint16_t)o;
		k->ndots = (uint8_t)nd;
		t += o;
	}
}

/* Objects the previous field's name opened that the next one shares: the
 * number of '.' in their common prefix (a dot at the same place in both
 * closes a component equal in both). */
static int shared_objects(const char *a, const char *b)
{
	int k = 0;

	while (*a && *a == *b) {
		k += *a == '.';
		a++;
		b++;
	}
	return k;
}

/*
 * Fields come in table order (the present bits, lowest first); a field's
 * dotted name gives the objects it sits in. Between two fields, close the
 * objects the new name does not share and open the ones it adds. The table
 * keeps every prefix contiguous (tests/unit/test_ecs_out.c checks it), so
 * each object opens once.
 */
void ecs__write_json(struct strbuf *sb, const struct rw_event *ev)
{
	const char *prev = NULL;
	int depth = 0;

	pthread_once(&keys_once, keys_init);
	if (!keys_pool) {
		sb->oom = 1;
		return;
	}
	strbuf__append(sb, "{", 1);
	for (int w = 0; w < (int)(sizeof(ev->present) / sizeof(ev->present[0])); w++) {
		uint64_t bits = ev->present[w];

		while (bits) {
			int f = w * 64 + __builtin_ctzll(bits);
			const struct key_pre *k;
			const char *name;
			int shared;
			size_t n;
			char *o;

			bits &= bits - 1;
			if (f >= RW_F__COUNT)
				break;
			k = &keys[f];
			name = rw_schema[f].name;
			shared = prev ? shared_objects(prev, name) : 0;
			n = (size_t)(depth - shared) + 1 + k->len - k->at[shared];
			if (!reserve(sb, n))
				return;
			o = sb->buf + sb->len;
			for (; depth > shared; depth--)
				*o++ = '}';
			if (prev)
				*o++ = ',';
			memcpy(o, k->text + k->at[shared], k->len - k->at[shared]);
			o += k->len - k->at[shared];
			sb->len = (size_t)(o - sb->buf);
			depth = k->ndots;
			write_value(sb, ev, f);
			prev = name;
		}
	}
	if (reserve(sb, (size_t)depth + 2)) {
		for (; depth > 0; depth--)
			sb->buf[sb->len++] = '}';
		sb->buf[sb->len++] = '}';
		sb->buf[sb->len++] = '\n';
	}
}

/* ---- text lines ------------------------------------------------------------- */

/*
 * A value made safe for a terminal: control bytes (C0, DEL and the C1
 * range U+0080..U+009F), backslash and bytes that are not valid UTF-8 are
 * written as \n \t \r \\ or \xHH; quote also escapes '"'.
 */
static void text_append(struct strbuf *sb, const char *str, size_t n, bool quote)
{
	const unsigned char *s = (const unsigned char *)str;
	char *o;
	size_t i = 0;

	if (n > SIZE_MAX / 8 || !reserve(sb, 8 * n + 2)) {
		sb->oom = 1;
		return;
	}
	o = sb->buf + sb->len;
	if (quote)
		*o++ = '"';
	while (i < n) {
		unsigned char c = s[i];
		size_t l;

		if (c >= 0x20 && c < 0x7f && c != '\\' && !(quote && c == '"')) {
			*o++ = (char)c;
			i++;
			continue;
		}
		if (c >= 0x80 && (l = utf8_seq(s + i, n - i)) && !(c == 0xC2 && s[i + 1] < 0xA0)) {
			memcpy(o, s + i, l);
			o += l;
			i += l;
			continue;
		}
		*o++ = '\\';
		switch (c) {
		case '\n': *o++ = 'n'; break;
		case '\t': *o++ = 't'; break;
		case '\r': *o++ = 'r'; break;
		case '\\': *o++ = '\\'; break;
		case '"': *o++ = '"'; break;
		default:
			*o++ = 'x';
			*o++ = hexd[c >> 4];
			*o++ = hexd[c & 15];
		}
		i++;
	}
	if (quote)
		*o++ = '"';
	sb->len = (size_t)(o - sb->buf);
}

static bool text_field(struct strbuf *sb, const struct rw_event *ev, enum rw_field f,
		       const char *label, bool quote)
{
	size_t len = 0;
	const char *s = rw_event__str(ev, f, &len);

	if (!s)
		return false;
	strbuf__append(sb, " ", 1);
	if (label)
		append_lit(sb, label);
	text_append(sb, s, len, quote);
	return true;
}

/* ip:port, with [ip]:port for IPv6 */
static void text_endpoint(struct strbuf *sb, const struct rw_event *ev,
			  enum rw_field ip, enum rw_field port, const char *label)
{
	size_t len = 0;
	const char *s = rw_event__str(ev, ip, &len);
	bool v6 = s && memchr(s, ':', len);

	if (!s)
		return;
	strbuf__append(sb, " ", 1);
	append_lit(sb, label);
	if (v6)
		strbuf__append(sb, "[", 1);
	text_append(sb, s, len, false);
	if (v6)
		strbuf__append(sb, "]", 1);
	if (rw_event__has(ev, port)) {
		strbuf__append(sb, ":", 1);
		append_i64(sb, rw_event__int(ev, port, 0));
	}
}

static void text_strv(struct strbuf *sb, const struct rw_event *ev, enum rw_field f,
		      const char *label)
{
	uint32_t pos = 0;
	size_t len;
	const char *s;
	bool first = true;

	if (!rw_event__has(ev, f))
		return;
	strbuf__append(sb, " ", 1);
	append_lit(sb, label);
	while ((s = rw_event__strv_next(ev, f, &pos, &len))) {
		if (!first)
			strbuf__append(sb, ",", 1);
		text_append(sb, s, len, false);
		first = false;
	}
}

/*
 * time [kind] action pid=N exe  path -> target  dst=ip:port (domain)
 *   exit_code=N reason="..." cmd="command line"
 * Only what the record has is written; state and metric records add their
 * hooks and counters.
 */
void ecs__write_text(struct strbuf *sb, const struct rw_event *ev)
{
	size_t len = 0;
	const char *kind = rw_event__str(ev, RW_F_EVENT_KIND, &len);

	if (rw_event__has(ev, RW_F_TIMESTAMP))
		append_time(sb, rw_event__int(ev, RW_F_TIMESTAMP, 0));
	else
		strbuf__append(sb, "-", 1);
	if (kind && !(len == 5 && memcmp(kind, "event", 5) == 0)) {
		strbuf__append(sb, " [", 2);
		text_append(sb, kind, len, false);
		strbuf__append(sb, "]", 1);
	}
	if (!text_field(sb, ev, RW_F_EVENT_ACTION, NULL, false))
		strbuf__append(sb, " -", 2);
	if (rw_event__has(ev, RW_F_PROC_PID)) {
		strbuf__append(sb, " pid=", 5);
		append_i64(sb, rw_event__int(ev, RW_F_PROC_PID, 0));
	}
	text_field(sb, ev, RW_F_PROC_EXECUTABLE, NULL, false);
	if (text_field(sb, ev, RW_F_FILE_PATH, NULL, false) &&
	    rw_event__has(ev, RW_F_FILE_TARGET_PATH)) {
		strbuf__append(sb, " ->", 3);
		text_field(sb, ev, RW_F_FILE_TARGET_PATH, NULL, false);
	}
	if (rw_event__has(ev, RW_F_SOURCE_IP) && rw_event__has(ev, RW_F_DEST_IP))
		text_endpoint(sb, ev, RW_F_SOURCE_IP, RW_F_SOURCE_PORT, "src=");
	text_endpoint(sb, ev, RW_F_DEST_IP, RW_F_DEST_PORT, "dst=");
	if (rw_event__has(ev, RW_F_DEST_DOMAIN)) {
		strbuf__append(sb, " (", 2);
		len = 0;
		text_append(sb, rw_event__str(ev, RW_F_DEST_DOMAIN, &len), len, false);
		strbuf__append(sb, ")", 1);
	}
	if (rw_event__has(ev, RW_F_PROC_EXIT_CODE)) {
		strbuf__append(sb, " exit_code=", 11);
		append_i64(sb, rw_event__int(ev, RW_F_PROC_EXIT_CODE, 0));
	}
	text_field(sb, ev, RW_F_EVENT_REASON, "reason=", true);
	text_field(sb, ev, RW_F_PROC_COMMAND_LINE, "cmd=", true);
	text_strv(sb, ev, RW_F_RW_SENSOR_HOOKS, "hooks=");
	text_strv(sb, ev, RW_F_RW_SENSOR_HOOKS_OFF, "unavailable=");
	text_field(sb, ev, RW_F_RW_COUNTERS, "counters=", false);
	strbuf__append(sb, "\n", 1);
}
