/*
 * The ECS writer: nesting from dotted names, every value type, RFC 3339
 * times, and escaping of hostile bytes. Output is parsed back with json-c
 * (strict, UTF-8 validated) and compared with what went in.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testlib.h"

#include "common/ecs_out.h"
#include "common/event.h"

/* ---- helpers ---------------------------------------------------------------- */

static int setup_event(void **state)
{
	*state = rw_event__new();
	return *state ? 0 : -1;
}

static int teardown_event(void **state)
{
	free(*state);
	return 0;
}

/* Parse one written line strictly; fails the test when it is not exactly
 * one JSON object followed by '\n'. Caller frees with json_object_put. */
static json_object *parse_line(const struct strbuf *sb)
{
	struct json_tokener *tok = json_tokener_new();
	json_object *o;
	size_t n = sb->len;

	assert_non_null(tok);
	assert_false(sb->oom);
	assert_true(n >= 3);
	assert_int_equal(sb->buf[n - 1], '\n');
	assert_null(memchr(sb->buf, '\n', n - 1));
	/* no raw control byte anywhere: every one must have been escaped */
	for (size_t i = 0; i < n - 1; i++)
		assert_true((unsigned char)sb->buf[i] >= 0x20);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, sb->buf, (int)(n - 1));
	if (!o)
		fprintf(stderr, "not JSON (%s): %.*s\n",
			json_tokener_error_desc(json_tokener_get_error(tok)), (int)(n < 400 ? n : 400), sb->buf);
	assert_non_null(o);
	assert_int_equal(json_tokener_get_parse_end(tok), n - 1);
	json_tokener_free(tok);
	return o;
}

/* What a JSON parser must give back for bytes s: valid UTF-8 as is, every
 * other byte b as the code point U+00b (its 2-byte UTF-8, or b below 0x80).
 * Written independently of the writer: decode by the Unicode rules. */
static size_t ref_valid_seq(const unsigned char *p, size_t rem)
{
	uint32_t cp;
	size_t need;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xE0) == 0xC0)
		need = 2, cp = p[0] & 0x1F;
	else if ((p[0] & 0xF0) == 0xE0)
		need = 3, cp = p[0] & 0x0F;
	else if ((p[0] & 0xF8) == 0xF0)
		need = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (rem < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3F);
	}
	if ((need == 2 && cp < 0x80) || (need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000))
		return 0;	/* overlong */
	if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		return 0;
	return need;
}

static char *ref_decoded(const char *s, size_t n, size_t *out_len)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out = malloc(2 * n + 1);
	size_t i = 0, o = 0;

	assert_non_null(out);
	while (i < n) {
		size_t l = ref_valid_seq(p + i, n - i);

		if (l) {
			memcpy(out + o, p + i, l);
			o += l;
			i += l;
		} else {
			out[o++] = (char)(0xC0 | p[i] >> 6);
			out[o++] = (char)(0x80 | (p[i] & 0x3F));
			i++;
		}
	}
	*out_len = o;
	return out;
}

static void assert_json_str(json_object *o, const char *want, size_t want_len)
{
	assert_non_null(o);
	assert_true(json_object_is_type(o, json_type_string));
	assert_int_equal(json_object_get_string_len(o), want_len);
	assert_memory_equal(json_object_get_string(o), want, want_len);
}

/* The buffer holds exactly want (the strbuf is not NUL-terminated). */
static void assert_buf_equal(const struct strbuf *sb, const char *want)
{
	if (sb->len != strlen(want) || memcmp(sb->buf, want, sb->len) != 0) {
		fprintf(stderr, "got:  %.*s\nwant: %.400s\n", (int)(sb->len < 400 ? sb->len : 400),
			sb->buf, want);
		fail();
	}
}

static size_t count_substr(const char *hay, size_t n, const char *needle)
{
	size_t c = 0, l = strlen(needle);

	for (size_t i = 0; i + l <= n; i++)
		if (memcmp(hay + i, needle, l) == 0)
			c++;
	return c;
}

/* ---- the schema table ------------------------------------------------------ */

static bool has_object_prefix(const char *name, const char *prefix, size_t plen)
{
	return strncmp(name, prefix, plen) == 0 && name[plen] == '.';
}

/* For EVERY field and every object it sits in ("process", "process.parent"
 * for "process.parent.pid"), the fields in that object must be contiguous
 * in the table, no name may be both a value and an object, and names are
 * unique: that is what lets the writer open each object exactly once. */
static void test_schema_prefixes_contiguous(void **state)
{
	for (int i = 0; i < RW_F__COUNT; i++) {
		const char *name = rw_schema[i].name;

		assert_non_null(name);
		assert_int_equal(rw_schema__lookup(name), i);
		for (const char *d = strchr(name, '.'); d; d = strchr(d + 1, '.')) {
			size_t plen = (size_t)(d - name);
			int lo = -1, hi = -1;

			for (int j = 0; j < RW_F__COUNT; j++)
				if (has_object_prefix(rw_schema[j].name, name, plen)) {
					if (lo < 0)
						lo = j;
					hi = j;
				}
			for (int j = lo; j <= hi; j++)
				if (!has_object_prefix(rw_schema[j].name, name, plen)) {
					fprintf(stderr, "schema.def: \"%s\" sits between fields of "
						"object \"%.*s\" (%s .. %s): keep them contiguous\n",
						rw_schema[j].name, (int)plen, name,
						rw_schema[lo].name, rw_schema[hi].name);
					fail();
				}
			for (int j = 0; j < RW_F__COUNT; j++)
				if (strlen(rw_schema[j].name) == plen &&
				    strncmp(rw_schema[j].name, name, plen) == 0) {
					fprintf(stderr, "schema.def: \"%s\" is both a value and an object\n",
						rw_schema[j].name);
					fail();
				}
		}
	}
}

/* A value per field, derived from its id, so the check can recompute it. */
static void set_every_field(struct rw_event *ev)
{
	char s[64];

	for (int f = 0; f < RW_F__COUNT; f++) {
		snprintf(s, sizeof(s), "v%d", f);
		switch (rw_schema[f].type) {
		case RW_T_STR:
		case RW_T_STRA:
			assert_int_equal(rw_event__set_cstr(ev, f, s), 0);
			break;
		case RW_T_INT:
			assert_int_equal(rw_event__set_int(ev, f, 1000 + f), 0);
			break;
		case RW_T_BOOL:
			assert_int_equal(rw_event__set_bool(ev, f, f % 2), 0);
			break;
		case RW_T_TIME:
			assert_int_equal(rw_event__set_time(ev, f, 1795680743123456789ULL), 0);
			break;
		case RW_T_STRV:
			assert_int_equal(rw_event__add_strv(ev, f, s, strlen(s)), 0);
			assert_int_equal(rw_event__add_strv(ev, f, "x", 1), 0);
			break;
		case RW_T_RAW:
			snprintf(s, sizeof(s), "{\"raw\":%d}", f);
			assert_int_equal(rw_event__set_cstr(ev, f, s), 0);
			break;
		}
	}
}

/* Every field set at once: parsed back, each dotted name must reach its
 * own value (a duplicated object key would have lost the first one's
 * members), and each object key appears once in the text. */
static void test_every_field_nested_once(void **state)
{
	struct rw_event *ev = *state;
	struct strbuf sb = { 0 };
	json_object *root;
	char s[64];

	set_every_field(ev);
	ecs__write_json(&sb, ev);
	root = parse_line(&sb);
	for (int f = 0; f < RW_F__COUNT; f++) {
		json_object *v = rwt_get(root, rw_schema[f].name);

		if (!v)
			fprintf(stderr, "field %s missing from %.*s\n", rw_schema[f].name,
				(int)sb.len, sb.buf);
		assert_non_null(v);
		snprintf(s, sizeof(s), "v%d", f);
		switch (rw_schema[f].type) {
		case RW_T_STR:
			assert_string_equal(json_object_get_string(v), s);
			break;
		case RW_T_STRA:
			assert_true(json_object_is_type(v, json_type_array));
			assert_int_equal(json_object_array_length(v), 1);
			assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 0)), s);
			break;
		case RW_T_INT:
			assert_true(json_object_is_type(v, json_type_int));
			assert_int_equal(json_object_get_int64(v), 1000 + f);
			break;
		case RW_T_BOOL:
			assert_true(json_object_is_type(v, json_type_boolean));
			assert_int_equal(json_object_get_boolean(v), f % 2);
			break;
		case RW_T_TIME:
			assert_string_equal(json_object_get_string(v), "2026-11-26T08:12:23.123456789Z");
			break;
		case RW_T_STRV:
			assert_int_equal(json_object_array_length(v), 2);
			assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 0)), s);
			assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 1)), "x");
			break;
		case RW_T_RAW:
			assert_true(json_object_is_type(v, json_type_object));
			assert_int_equal(json_object_get_int(json_object_object_get(v, "raw")), f);
			break;
		}
	}
	/* each object opens once: the text holds "name":{ exactly as many
	 * times as there are distinct objects whose last component is name */
	for (int f = 0; f < RW_F__COUNT; f++) {
		const char *name = rw_schema[f].name;

		for (const char *d = strchr(name, '.'); d; d = strchr(d + 1, '.')) {
			size_t objects = 0;
			const char *last = d - 1;
			char key[160];

			while (last > name && last[-1] != '.')
				last--;
			snprintf(key, sizeof(key), "\"%.*s\":{", (int)(d - last), last);
			/* distinct object paths ending in this component */
			for (int g = 0; g < RW_F__COUNT; g++) {
				const char *n2 = rw_schema[g].name;

				for (const char *d2 = strchr(n2, '.'); d2; d2 = strchr(d2 + 1, '.')) {
					const char *l2 = d2 - 1;
					bool first = true;

					while (l2 > n2 && l2[-1] != '.')
						l2--;
					if ((size_t)(d2 - l2) != (size_t)(d - last) ||
					    memcmp(l2, last, (size_t)(d - last)) != 0)
						continue;
					/* count this object path once: at its first field */
					for (int h = 0; h < g && first; h++)
						if (has_object_prefix(rw_schema[h].name, n2, (size_t)(d2 - n2)))
							first = false;
					objects += first;
				}
			}
			if (count_substr(sb.buf, sb.len, key) != objects) {
				fprintf(stderr, "%s opened %zu times, want %zu\n", key,
					count_substr(sb.buf, sb.len, key), objects);
				fail();
			}
		}
	}
	json_object_put(root);
	strbuf__free(&sb);
}

/* ---- exact output -------------------------------------------------------------- */

static void test_nested_exact(void **state)
{
	struct rw_event *ev = *state;
	struct strbuf sb = { 0 };
	json_object *root;

	rw_event__set_time(ev, RW_F_TIMESTAMP, 1);
	rw_event__set_cstr(ev, RW_F_EVENT_KIND, "event");
	rw_event__set_cstr(ev, RW_F_EVENT_CATEGORY, "process");
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, "exec");
	rw_event__set_int(ev, RW_F_PROC_PID, 42);
	rw_event__set_cstr(ev, RW_F_PROC_EXECUTABLE, "/bin/ls");
	rw_event__add_strv(ev, RW_F_PROC_ARGS, "ls", 2);
	rw_event__add_strv(ev, RW_F_PROC_ARGS, "-l", 2);
	rw_event__set_cstr(ev, RW_F_PROC_UID, "0");
	rw_event__set_int(ev, RW_F_PARENT_PID, 1);
	rw_event__set_cstr(ev, RW_F_PARENT_EXECUTABLE, "/sbin/init");
	rw_event__set_cstr(ev, RW_F_USER_ID, "0");
	rw_event__set_bool(ev, RW_F_PROC_INTERACTIVE, false);
	rw_event__set_int(ev, RW_F_RW_TARGET_PID, -7);
	ecs__write_json(&sb, ev);
	assert_buf_equal(&sb,
		"{\"@timestamp\":\"1970-01-01T00:00:00.000000001Z\","
		"\"event\":{\"kind\":\"event\",\"category\":[\"process\"],\"action\":\"exec\"},"
		"\"process\":{\"pid\":42,\"executable\":\"/bin/ls\",\"args\":[\"ls\",\"-l\"],"
		"\"interactive\":false,\"user\":{\"id\":\"0\"},"
		"\"parent\":{\"pid\":1,\"executable\":\"/sbin/init\"}},"
		"\"user\":{\"id\":\"0\"},"
		"\"ringward\":{\"target\":{\"process\":{\"pid\":-7}}}}\n");
	root = parse_line(&sb);
	assert_int_equal(rwt_int(root, "process.parent.pid", 0), 1);
	json_object_put(root);
	strbuf__free(&sb);
}

static void test_empty_event(void **state)
{
	struct strbuf sb = { 0 };

	ecs__write_json(&sb, *state);
	assert_int_equal(sb.len, 3);
	assert_memory_equal(sb.buf, "{}\n", 3);
	strbuf__free(&sb);
}

static void test_int_extremes_and_raw(void **state)
{
	struct rw_event *ev = *state;
	struct strbuf sb = { 0 };
	json_object *root;

	rw_event__set_int(ev, RW_F_PROC_PID, INT64_MIN);
	rw_event__set_int(ev, RW_F_PROC_EXIT_CODE, INT64_MAX);
	rw_event__set_int(ev, RW_F_PROC_TID, 0);
	rw_event__set_cstr(ev, RW_F_RW_COUNTERS, "{\"a\":[1,2]}");
	ecs__write_json(&sb, ev);
	assert_buf_equal(&sb,
		"{\"process\":{\"pid\":-9223372036854775808,\"thread\":{\"id\":0},"
		"\"exit_code\":9223372036854775807},\"ringward\":{\"counters\":{\"a\":[1,2]}}}\n");
	root = parse_line(&sb);
	assert_true(rwt_int(root, "process.pid", 0) == INT64_MIN);
	json_object_put(root);

	/* an empty RAW value would break the line: written as null */
	strbuf__reset(&sb);
	rw_event__reset(ev);
	rw_event__set_str(ev, RW_F_RW_COUNTERS, "", 0);
	ecs__write_json(&sb, ev);
	assert_buf_equal(&sb, "{\"ringward\":{\"counters\":null}}\n");
	strbuf__free(&sb);
}

static void expect_time(struct rw_event *ev, int64_t ns, const char *want)
{
	struct strbuf sb = { 0 };
	char line[128];

	rw_event__reset(ev);
	rw_event__set_time(ev, RW_F_TIMESTAMP, (uint64_t)ns);
	ecs__write_json(&sb, ev);
	snprintf(line, sizeof(line), "{\"@timestamp\":\"%s\"}\n", want);
	assert_buf_equal(&sb, line);
	strbuf__free(&sb);
}

static void test_time_rfc3339(void **state)
{
	struct rw_event *ev = *state;
	uint64_t x = 88172645463325252ULL;

	expect_time(ev, 0, "1970-01-01T00:00:00.000000000Z");
	expect_time(ev, 1795680743123456789LL, "2026-11-26T08:12:23.123456789Z");
	expect_time(ev, 1709251199999999999LL, "2024-02-29T23:59:59.999999999Z");
	expect_time(ev, 951868800000000000LL, "2000-03-01T00:00:00.000000000Z");
	expect_time(ev, -1, "1969-12-31T23:59:59.999999999Z");
	expect_time(ev, INT64_MAX, "2262-04-11T23:47:16.854775807Z");
	expect_time(ev, INT64_MIN, "1677-09-21T00:12:43.145224192Z");
	/* and against gmtime_r for a spread of times */
	for (int i = 0; i < 2000; i++) {
		struct tm tm;
		time_t t;
		int64_t ns;
		char want[64];

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		ns = (int64_t)(x % 8000000000000000000ULL) - 1000000000000000000LL;
		t = (time_t)(ns >= 0 ? ns / 1000000000 : -((-ns + 999999999) / 1000000000));
		gmtime_r(&t, &tm);
		snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, (long long)(ns - (int64_t)t * 1000000000));
		expect_time(ev, ns, want);
	}
}

/* ---- escaping --------------------------------------------------------------------- */

static void expect_escaped(const char *in, size_t n, const char *want)
{
	struct strbuf sb = { 0 };

	json__append_string(&sb, in, n);
	assert_false(sb.oom);
	assert_int_equal(sb.len, strlen(want));
	assert_memory_equal(sb.buf, want, sb.len);
	strbuf__free(&sb);
}

static void test_escape_exact(void **state)
{
	char ctl[32];

	for (int i = 0; i < 32; i++)
		ctl[i] = (char)i;
	expect_escaped(ctl, 32,
		"\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r"
		"\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018"
		"\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\"");
	expect_escaped("a\"b\\c/d\x7f", 8, "\"a\\\"b\\\\c/d\x7f\"");
	expect_escaped("", 0, "\"\"");
	/* valid multi-byte UTF-8 passes through: é € 𝄞 U+10FFFF U+FFFD */
	expect_escaped("\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e\xf4\x8f\xbf\xbf\xef\xbf\xbd", 16,
		       "\"\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e\xf4\x8f\xbf\xbf\xef\xbf\xbd\"");
	/* not UTF-8: each offending byte alone becomes \u00XX */
	expect_escaped("\x80", 1, "\"\\u0080\"");
	expect_escaped("\xff\xfe", 2, "\"\\u00ff\\u00fe\"");
	expect_escaped("\xc0\x80", 2, "\"\\u00c0\\u0080\"");			/* overlong NUL */
	expect_escaped("\xc1\xbf", 2, "\"\\u00c1\\u00bf\"");			/* overlong */
	expect_escaped("\xe0\x80\xaf", 3, "\"\\u00e0\\u0080\\u00af\"");		/* overlong / */
	expect_escaped("\xf0\x80\x80\xaf", 4, "\"\\u00f0\\u0080\\u0080\\u00af\"");
	expect_escaped("\xed\xa0\x80", 3, "\"\\u00ed\\u00a0\\u0080\"");		/* U+D800 */
	expect_escaped("\xed\xbf\xbf", 3, "\"\\u00ed\\u00bf\\u00bf\"");		/* U+DFFF */
	expect_escaped("\xf4\x90\x80\x80", 4, "\"\\u00f4\\u0090\\u0080\\u0080\"");	/* > U+10FFFF */
	expect_escaped("\xf5\x80\x80\x80", 4, "\"\\u00f5\\u0080\\u0080\\u0080\"");
	/* truncated sequences, then valid text resumes */
	expect_escaped("\xe2\x82", 2, "\"\\u00e2\\u0082\"");
	expect_escaped("\xe2\x82x\xc3\xa9", 5, "\"\\u00e2\\u0082x\xc3\xa9\"");
	expect_escaped("\xc3\"", 2, "\"\\u00c3\\\"\"");
	/* the edges of the valid ranges stay raw */
	expect_escaped("\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xf0\x90\x80\x80", 17,
		       "\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xf0\x90\x80\x80\"");
}

/* Write s as file.path in an event, parse it back, compare with the
 * reference decoding. */
static void roundtrip_path(struct rw_event *ev, const char *s, size_t n)
{
	struct strbuf sb = { 0 };
	json_object *root;
	size_t want_len;
	char *want = ref_decoded(s, n, &want_len);

	rw_event__reset(ev);
	assert_int_equal(rw_event__set_str(ev, RW_F_FILE_PATH, s, n), 0);
	ecs__write_json(&sb, ev);
	root = parse_line(&sb);
	assert_json_str(rwt_get(root, "file.path"), want, want_len);
	json_object_put(root);
	free(want);
	strbuf__free(&sb);
}

static void test_hostile_paths(void **state)
{
	struct rw_event *ev = *state;
	char *p = malloc(4096);
	size_t want_len;
	char *dec;

	assert_non_null(p);
	/* 4096 bytes of valid UTF-8 with quotes, newlines, tabs, backslashes
	 * and multi-byte characters: exactly the original comes back */
	for (size_t i = 0; i < 4096;) {
		static const char *const parts[] = {
			"/", "dir\"q", "\n", "\t", "\\", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9d\x84\x9e",
			"\x01", "\x1f", "'", " ", "..", "\x7f",
		};
		const char *s = parts[i * 7 % (sizeof(parts) / sizeof(parts[0]))];
		size_t l = strlen(s);

		if (i + l > 4096)
			s = "x", l = 1;
		memcpy(p + i, s, l);
		i += l;
	}
	dec = ref_decoded(p, 4096, &want_len);
	assert_int_equal(want_len, 4096);	/* it is all valid UTF-8 */
	assert_memory_equal(dec, p, 4096);
	free(dec);
	roundtrip_path(ev, p, 4096);

	/* every byte value, in a 4096-byte path: always valid JSON, and the
	 * invalid bytes read back as U+00XX */
	for (size_t i = 0; i < 4096; i++)
		p[i] = (char)(i * 131 + (i >> 8));
	roundtrip_path(ev, p, 4096);
	for (size_t i = 0; i < 256; i++)
		p[i] = (char)i;
	roundtrip_path(ev, p, 256);
	free(p);
}

static void test_thousand_args(void **state)
{
	struct rw_event *ev = *state;
	struct strbuf sb = { 0 };
	json_object *root, *args;
	char a[128];

	for (int i = 0; i < 1000; i++) {
		int n = snprintf(a, sizeof(a), "arg%d \"q\" \\ \n\t\x01 \xc3\xa9%c", i, i % 2 ? '}' : ']');

		assert_int_equal(rw_event__add_strv(ev, RW_F_PROC_ARGS, a, (size_t)n), 0);
	}
	rw_event__set_int(ev, RW_F_PROC_ARGS_COUNT, 1000);
	ecs__write_json(&sb, ev);
	root = parse_line(&sb);
	args = rwt_get(root, "process.args");
	assert_non_null(args);
	assert_true(json_object_is_type(args, json_type_array));
	assert_int_equal(json_object_array_length(args), 1000);
	for (int i = 0; i < 1000; i++) {
		int n = snprintf(a, sizeof(a), "arg%d \"q\" \\ \n\t\x01 \xc3\xa9%c", i, i % 2 ? '}' : ']');

		assert_json_str(json_object_array_get_idx(args, (size_t)i), a, (size_t)n);
	}
	assert_int_equal(rwt_int(root, "process.args_count", 0), 1000);
	json_object_put(root);
	strbuf__free(&sb);
}

/* Random strings biased toward the bytes that matter: the output is
 * always valid JSON and reads back as the reference decoding. */
static void test_random_bytes(void **state)
{
	static const unsigned char interesting[] = {
		0x00, 0x0a, 0x1f, '"', '\\', 0x7f, 0x80, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0,
		0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0xa0, 0x9f, 0x90, 0x8f,
	};
	struct rw_event *ev = *state;
	uint64_t x = 0x9E3779B97F4A7C15ULL;
	unsigned char s[64];

	for (int iter = 0; iter < 5000; iter++) {
		size_t n;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n = x % sizeof(s);
		for (size_t i = 0; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			s[i] = x % 3 ? interesting[(x >> 8) % sizeof(interesting)] : (unsigned char)(x >> 16);
		}
		roundtrip_path(ev, (const char *)s, n);
	}
}

/* ---- text lines -------------------------------------------------------------------- */

static void expect_text(struct rw_event *ev, const char *want)
{
	struct strbuf sb = { 0 };

	ecs__write_text(&sb, ev);
	assert_false(sb.oom);
	assert_int_equal(sb.len, strlen(want));
	assert_memory_equal(sb.buf, want, sb.len);
	/* one line, no raw control bytes */
	assert_null(memchr(sb.buf, '\n', sb.len - 1));
	for (size_t i = 0; i + 1 < sb.len; i++)
		assert_true((unsigned char)sb.buf[i] >= 0x20 && sb.buf[i] != 0x7f);
	strbuf__free(&sb);
}

static void test_text_lines(void **state)
{
	struct rw_event *ev = *state;

	rw_event__set_time(ev, RW_F_TIMESTAMP, 1795680743123456789ULL);
	rw_event__set_cstr(ev, RW_F_EVENT_KIND, "event");
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, "exec");
	rw_event__set_int(ev, RW_F_PROC_PID, 4242);
	rw_event__set_cstr(ev, RW_F_PROC_EXECUTABLE, "/usr/bin/ls");
	rw_event__set_cstr(ev, RW_F_PROC_COMMAND_LINE, "ls -l \"my dir\"");
	expect_text(ev, "2026-11-26T08:12:23.123456789Z exec pid=4242 /usr/bin/ls "
		    "cmd=\"ls -l \\\"my dir\\\"\"\n");

	rw_event__reset(ev);
	rw_event__set_time(ev, RW_F_TIMESTAMP, 0);
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, "rename");
	rw_event__set_int(ev, RW_F_PROC_PID, 7);
	rw_event__set_cstr(ev, RW_F_PROC_EXECUTABLE, "/usr/bin/mv");
	rw_event__set_cstr(ev, RW_F_FILE_PATH, "/tmp/a\n\x1b[31mred");
	rw_event__set_cstr(ev, RW_F_FILE_TARGET_PATH, "/tmp/b\\\xff\xc2\x9b\xc3\xa9");
	expect_text(ev, "1970-01-01T00:00:00.000000000Z rename pid=7 /usr/bin/mv "
		    "/tmp/a\\n\\x1b[31mred -> /tmp/b\\\\\\xff\\xc2\\x9b\xc3\xa9\n");

	rw_event__reset(ev);
	rw_event__set_time(ev, RW_F_TIMESTAMP, 0);
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, "connect");
	rw_event__set_int(ev, RW_F_PROC_PID, 9);
	rw_event__set_cstr(ev, RW_F_DEST_IP, "93.184.216.34");
	rw_event__set_int(ev, RW_F_DEST_PORT, 443);
	rw_event__set_cstr(ev, RW_F_DEST_DOMAIN, "example.com");
	expect_text(ev, "1970-01-01T00:00:00.000000000Z connect pid=9 "
		    "dst=93.184.216.34:443 (example.com)\n");

	rw_event__reset(ev);
	rw_event__set_time(ev, RW_F_TIMESTAMP, 0);
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, "accept");
	rw_event__set_cstr(ev, RW_F_SOURCE_IP, "::1");
	rw_event__set_int(ev, RW_F_SOURCE_PORT, 50000);
	rw_event__set_cstr(ev, RW_F_DEST_IP, "::1");
	rw_event__set_int(ev, RW_F_DEST_PORT, 8080);
	expect_text(ev, "1970-01-01T00:00:00.000000000Z accept src=[::1]:50000 dst=[::1]:8080\n");

	rw_event__reset(ev);
	rw_event__set_cstr(ev, RW_F_EVENT_KIND, "state");
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, "sensor-stopped");
	rw_event__set_int(ev, RW_F_PROC_PID, 1);
	rw_event__set_int(ev, RW_F_PROC_EXIT_CODE, 256);
	rw_event__add_strv(ev, RW_F_RW_SENSOR_HOOKS, "bpf:a", 5);
	rw_event__add_strv(ev, RW_F_RW_SENSOR_HOOKS, "fanotify:/", 10);
	rw_event__set_cstr(ev, RW_F_RW_COUNTERS, "{\"x\":1}");
	expect_text(ev, "- [state] sensor-stopped pid=1 exit_code=256 hooks=bpf:a,fanotify:/ "
		    "counters={\"x\":1}\n");
}

static void test_strbuf(void **state)
{
	struct strbuf sb = { 0 };

	for (int i = 0; i < 3000; i++)
		strbuf__appendf(&sb, "%d,", i % 10);
	assert_int_equal(sb.len, 6000);
	assert_memory_equal(sb.buf + 5990, "5,6,7,8,9,", 10);
	strbuf__reset(&sb);
	assert_int_equal(sb.len, 0);
	strbuf__append(&sb, "abc", 3);
	assert_memory_equal(sb.buf, "abc", 3);
	strbuf__free(&sb);
	assert_null(sb.buf);
	strbuf__free(&sb);	/* twice is fine */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schema_prefixes_contiguous),
		cmocka_unit_test_setup_teardown(test_every_field_nested_once, setup_event, teardown_event),
		cmocka_unit_test_setup_teardown(test_nested_exact, setup_event, teardown_event),
		cmocka_unit_test_setup_teardown(test_empty_event, setup_event, teardown_event),
		cmocka_unit_test_setup_teardown(test_int_extremes_and_raw, setup_event, teardown_event),
		cmocka_unit_test_setup_teardown(test_time_rfc3339, setup_event, teardown_event),
		cmocka_unit_test(test_escape_exact),
		cmocka_unit_test_setup_teardown(test_hostile_paths, setup_event, teardown_event),
		cmocka_unit_test_setup_teardown(test_thousand_args, setup_event, teardown_event),
		cmocka_unit_test_setup_teardown(test_random_bytes, setup_event, teardown_event),
		cmocka_unit_test_setup_teardown(test_text_lines, setup_event, teardown_event),
		cmocka_unit_test(test_strbuf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
