/*
 * Reading ECS JSON lines back into events: the inverse of ecs__write_json
 * for every field of the schema and every type, byte for byte (invalid
 * UTF-8, NULs, control characters); unknown fields and wrong types are
 * skipped and counted; malformed lines are refused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

#include "common/ecs_in.h"
#include "common/ecs_out.h"
#include "common/event.h"

static void assert_same_event(const struct rw_event *a, const struct rw_event *b)
{
	for (int f = 0; f < RW_F__COUNT; f++) {
		const char *sa, *sb;
		size_t la = 0, lb = 0;
		uint32_t pa = 0, pb = 0;

		if (rw_event__has(a, f) != rw_event__has(b, f))
			fail_msg("field %s present in only one", rw_schema[f].name);
		if (!rw_event__has(a, f))
			continue;
		switch (rw_schema[f].type) {
		case RW_T_STR:
		case RW_T_STRA:
		case RW_T_RAW:
			sa = rw_event__str(a, f, &la);
			sb = rw_event__str(b, f, &lb);
			if (la != lb || memcmp(sa, sb, la))
				fail_msg("field %s differs", rw_schema[f].name);
			break;
		case RW_T_STRV:
			for (;;) {
				sa = rw_event__strv_next(a, f, &pa, &la);
				sb = rw_event__strv_next(b, f, &pb, &lb);
				if (!sa || !sb) {
					if (sa || sb)
						fail_msg("list %s lengths differ", rw_schema[f].name);
					break;
				}
				if (la != lb || memcmp(sa, sb, la))
					fail_msg("list %s differs", rw_schema[f].name);
			}
			break;
		default:
			if (rw_event__int(a, f, 0) != rw_event__int(b, f, 0))
				fail_msg("field %s: %lld != %lld", rw_schema[f].name,
					 (long long)rw_event__int(a, f, 0),
					 (long long)rw_event__int(b, f, 0));
		}
	}
}

static void round_trip(const struct rw_event *ev)
{
	struct strbuf sb = { 0 };
	struct rw_event *back = rw_event__new();
	struct ecs_in_stats st = { 0 };

	ecs__write_json(&sb, ev);
	assert_false(sb.oom);
	assert_int_equal(ecs__read_json(back, sb.buf, sb.len, &st), 0);
	assert_int_equal(st.unknown_fields, 0);
	assert_int_equal(st.bad_types, 0);
	assert_same_event(ev, back);
	strbuf__free(&sb);
	free(back);
}

/* Every field of the schema, each with a value of its type. */
static void test_every_field_round_trips(void **state)
{
	struct rw_event *ev = rw_event__new();

	for (int f = 0; f < RW_F__COUNT; f++) {
		char v[64];

		snprintf(v, sizeof(v), "v%d-\xc3\xa9", f);
		switch (rw_schema[f].type) {
		case RW_T_STR:
		case RW_T_STRA:
			assert_int_equal(rw_event__set_cstr(ev, f, v), 0);
			break;
		case RW_T_INT:
			assert_int_equal(rw_event__set_int(ev, f, -1000 * f - 7), 0);
			break;
		case RW_T_BOOL:
			assert_int_equal(rw_event__set_bool(ev, f, f % 2), 0);
			break;
		case RW_T_TIME:
			assert_int_equal(rw_event__set_time(ev, f, 1764144743123456789ull + f), 0);
			break;
		case RW_T_STRV:
			assert_int_equal(rw_event__add_strv(ev, f, v, strlen(v)), 0);
			assert_int_equal(rw_event__add_strv(ev, f, "", 0), 0);
			assert_int_equal(rw_event__add_strv(ev, f, "second", 6), 0);
			ev->strv_open = -1;
			break;
		case RW_T_RAW:
			assert_int_equal(rw_event__set_cstr(ev, f, "{\"a\":1,\"b\":[true,null]}"), 0);
			break;
		}
	}
	round_trip(ev);
	free(ev);
}

static void test_bytes_survive(void **state)
{
	struct rw_event *ev = rw_event__new();
	/* NUL, control characters, quote, backslash, valid UTF-8 (é, U+1F600),
	 * and bytes that are not UTF-8 (a lone 0xE9, an overlong C0 80) */
	static const char nasty[] = "a\0b\x01\x1f\"\\/\xc3\xa9\xf0\x9f\x98\x80\xe9\xc0\x80z\x7f";

	rw_event__set_str(ev, RW_F_PROC_COMMAND_LINE, nasty, sizeof(nasty) - 1);
	rw_event__set_str(ev, RW_F_FILE_PATH, "\xff\xfe", 2);
	rw_event__add_strv(ev, RW_F_PROC_ARGS, nasty, sizeof(nasty) - 1);
	rw_event__add_strv(ev, RW_F_PROC_ARGS, "\x80", 1);
	round_trip(ev);
	free(ev);
}

static int64_t read_int(const char *json, enum rw_field f, int *rc)
{
	struct rw_event *ev = rw_event__new();
	int64_t v;

	*rc = ecs__read_json(ev, json, strlen(json), NULL);
	v = rw_event__int(ev, f, -999);
	free(ev);
	return v;
}

static void test_nested_and_flat_names(void **state)
{
	struct rw_event *ev = rw_event__new();
	const char *json = "{\"process\":{\"pid\":42,\"parent\":{\"pid\":1,"
			   "\"executable\":\"/sbin/init\"}},\"process.name\":\"x\","
			   "\"event\":{\"action\":\"exec\",\"category\":[\"process\"]}}\n";
	size_t len;
	const char *s;

	assert_int_equal(ecs__read_json(ev, json, strlen(json), NULL), 0);
	assert_int_equal(rw_event__int(ev, RW_F_PROC_PID, 0), 42);
	assert_int_equal(rw_event__int(ev, RW_F_PARENT_PID, 0), 1);
	s = rw_event__str(ev, RW_F_PARENT_EXECUTABLE, &len);
	assert_non_null(s);
	assert_int_equal(len, 10);
	assert_memory_equal(s, "/sbin/init", 10);
	s = rw_event__str(ev, RW_F_PROC_NAME, &len);
	assert_memory_equal(s, "x", 1);
	s = rw_event__str(ev, RW_F_EVENT_CATEGORY, &len);
	assert_int_equal(len, 7);
	assert_memory_equal(s, "process", 7);
	s = rw_event__str(ev, RW_F_EVENT_ACTION, &len);
	assert_memory_equal(s, "exec", 4);
	free(ev);
}

static void test_unknown_and_wrong_types(void **state)
{
	struct rw_event *ev = rw_event__new();
	struct ecs_in_stats st = { 0 };
	const char *json = "{\"process\":{\"pid\":\"12\",\"name\":5,\"nosuch\":1,"
			   "\"args\":[\"a\",7,\"b\"]},\"other\":{\"x\":{\"y\":[1,2]}},"
			   "\"destination\":{\"port\":1.5},\"user\":{\"name\":null}}";
	uint32_t pos = 0;
	size_t len;

	assert_int_equal(ecs__read_json(ev, json, strlen(json), &st), 0);
	/* pid was a string, name a number, args[1] a number, port a fraction */
	assert_int_equal(st.bad_types, 4);
	/* process.nosuch and other.x.y */
	assert_int_equal(st.unknown_fields, 2);
	assert_false(rw_event__has(ev, RW_F_PROC_PID));
	assert_false(rw_event__has(ev, RW_F_PROC_NAME));
	assert_false(rw_event__has(ev, RW_F_DEST_PORT));
	assert_false(rw_event__has(ev, RW_F_USER_NAME));
	assert_memory_equal(rw_event__strv_next(ev, RW_F_PROC_ARGS, &pos, &len), "a", 1);
	assert_memory_equal(rw_event__strv_next(ev, RW_F_PROC_ARGS, &pos, &len), "b", 1);
	assert_null(rw_event__strv_next(ev, RW_F_PROC_ARGS, &pos, &len));
	free(ev);
}

static void test_malformed(void **state)
{
	static const char *const bad[] = {
		"", "   ", "[]", "\"s\"", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":1}x",
		"{\"a\":1}{\"b\":2}", "{\"a\":\"unterminated}", "{\"a\":\"\\x\"}",
		"{\"a\":\"\\u12\"}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00x\"}", "{\"a\":01}",
		"{\"a\":-}", "{\"a\":1.}", "{\"a\":1e}", "{\"a\":tru}", "{\"a\":nul}",
		"{\"a\":\"tab\there\"}", "{'a':1}", "{\"a\":[1,]}", "{a:1}",
	};
	struct rw_event *ev = rw_event__new();
	char deep[200];
	int n = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rw_event__reset(ev);
		if (ecs__read_json(ev, bad[i], strlen(bad[i]), NULL) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
	}
	/* nesting beyond the bound */
	n += snprintf(deep + n, sizeof(deep) - n, "{\"a\":");
	for (int i = 0; i < ECS_IN_MAX_DEPTH + 1; i++)
		deep[n++] = '[';
	for (int i = 0; i < ECS_IN_MAX_DEPTH + 1; i++)
		deep[n++] = ']';
	deep[n++] = '}';
	rw_event__reset(ev);
	assert_int_equal(ecs__read_json(ev, deep, (size_t)n, NULL), -EINVAL);
	free(ev);
}

static void test_numbers(void **state)
{
	int rc;

	assert_int_equal(read_int("{\"process\":{\"pid\":9223372036854775807}}", RW_F_PROC_PID, &rc),
			 INT64_MAX);
	assert_int_equal(rc, 0);
	assert_int_equal(read_int("{\"process\":{\"pid\":-9223372036854775808}}", RW_F_PROC_PID, &rc),
			 INT64_MIN);
	/* out of range: skipped as the wrong type */
	assert_int_equal(read_int("{\"process\":{\"pid\":9223372036854775808}}", RW_F_PROC_PID, &rc),
			 -999);
	assert_int_equal(rc, 0);
	assert_int_equal(read_int("{\"process\":{\"pid\":1e3}}", RW_F_PROC_PID, &rc), -999);
	assert_int_equal(read_int("{\"process\":{\"interactive\":true}}", RW_F_PROC_INTERACTIVE, &rc),
			 1);
}

static void test_times(void **state)
{
	int64_t ns;

	assert_int_equal(ecs__parse_time("1970-01-01T00:00:00Z", 20, &ns), 0);
	assert_int_equal(ns, 0);
	assert_int_equal(ecs__parse_time("2026-11-26T08:12:23.123456789Z", 30, &ns), 0);
	assert_int_equal(ns, 1795680743123456789LL);
	assert_int_equal(ecs__parse_time("2026-11-26T08:12:23.5Z", 22, &ns), 0);
	assert_int_equal(ns, 1795680743500000000LL);
	assert_int_equal(ecs__parse_time("2026-11-26T10:12:23+02:00", 25, &ns), 0);
	assert_int_equal(ns, 1795680743000000000LL);
	assert_int_equal(ecs__parse_time("2024-02-29T00:00:00Z", 20, &ns), 0);
	assert_int_equal(ns, 1709164800000000000LL);
	assert_int_equal(ecs__parse_time("1969-12-31T23:59:59Z", 20, &ns), 0);
	assert_int_equal(ns, -1000000000LL);
	assert_int_equal(ecs__parse_time("2026-13-01T00:00:00Z", 20, &ns), -EINVAL);
	assert_int_equal(ecs__parse_time("2025-02-29T00:00:00Z", 20, &ns), -EINVAL);
	assert_int_equal(ecs__parse_time("2100-02-29T00:00:00Z", 20, &ns), -EINVAL);
	assert_int_equal(ecs__parse_time("2000-02-29T00:00:00Z", 20, &ns), 0);
	assert_int_equal(ecs__parse_time("2026-11-26 08:12:23Z", 20, &ns), -EINVAL);
	assert_int_equal(ecs__parse_time("2026-11-26T08:12:23", 19, &ns), -EINVAL);
	assert_int_equal(ecs__parse_time("2026-11-26T08:12:23.Z", 21, &ns), -EINVAL);
	assert_int_equal(ecs__parse_time("2026-11-26T08:12:23Zx", 21, &ns), -EINVAL);
	assert_int_equal(ecs__parse_time("9999-11-26T08:12:23Z", 20, &ns), -EINVAL);
}

static void test_arena_full(void **state)
{
	struct rw_event *ev = rw_event__new();
	size_t n = RW_EVENT_ARENA + 100;
	char *json = malloc(n + 64);
	size_t len;

	assert_non_null(json);
	len = (size_t)sprintf(json, "{\"process\":{\"command_line\":\"");
	memset(json + len, 'x', n);
	len += n;
	len += (size_t)sprintf(json + len, "\"}}");
	assert_int_equal(ecs__read_json(ev, json, len, NULL), -ENOSPC);
	assert_int_equal(ev->n_truncated, 1);
	assert_true(rw_event__has(ev, RW_F_PROC_COMMAND_LINE));
	free(json);
	free(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_field_round_trips),
		cmocka_unit_test(test_bytes_survive),
		cmocka_unit_test(test_nested_and_flat_names),
		cmocka_unit_test(test_unknown_and_wrong_types),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_arena_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
