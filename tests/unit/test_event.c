/*
 * The event model: typed setters and getters, STRV lists, and the arena's
 * bound: overflow truncates cleanly and is counted.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

#include "common/event.h"

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

static void assert_str_field(const struct rw_event *ev, enum rw_field f, const char *want,
			     size_t want_len)
{
	size_t len = 12345;
	const char *s = rw_event__str(ev, f, &len);

	assert_non_null(s);
	assert_int_equal(len, want_len);
	assert_memory_equal(s, want, want_len);
}

static void test_new_is_empty(void **state)
{
	struct rw_event *ev = *state;
	size_t len;

	for (int f = 0; f < RW_F__COUNT; f++)
		assert_false(rw_event__has(ev, f));
	assert_int_equal(ev->arena_used, 0);
	assert_int_equal(ev->n_truncated, 0);
	assert_int_equal(ev->strv_open, -1);
	assert_null(rw_event__str(ev, RW_F_FILE_PATH, &len));
	assert_int_equal(rw_event__int(ev, RW_F_PROC_PID, -5), -5);
	assert_false(rw_event__has(ev, RW_F__COUNT));
	assert_false(rw_event__has(ev, (enum rw_field)-1));
}

static void test_str_setters(void **state)
{
	struct rw_event *ev = *state;

	assert_int_equal(rw_event__set_str(ev, RW_F_FILE_PATH, "/tmp/a\0b", 8), 0);
	assert_true(rw_event__has(ev, RW_F_FILE_PATH));
	assert_str_field(ev, RW_F_FILE_PATH, "/tmp/a\0b", 8);	/* bytes, NUL included */
	assert_int_equal(rw_event__set_cstr(ev, RW_F_PROC_EXECUTABLE, "/bin/sh"), 0);
	assert_str_field(ev, RW_F_PROC_EXECUTABLE, "/bin/sh", 7);
	/* overwrite: the new value wins, the old one stays intact elsewhere */
	assert_int_equal(rw_event__set_cstr(ev, RW_F_FILE_PATH, "/x"), 0);
	assert_str_field(ev, RW_F_FILE_PATH, "/x", 2);
	assert_str_field(ev, RW_F_PROC_EXECUTABLE, "/bin/sh", 7);
	/* STRA and RAW take strings too */
	assert_int_equal(rw_event__set_cstr(ev, RW_F_EVENT_CATEGORY, "file"), 0);
	assert_str_field(ev, RW_F_EVENT_CATEGORY, "file", 4);
	assert_int_equal(rw_event__set_cstr(ev, RW_F_RW_COUNTERS, "{}"), 0);
	assert_str_field(ev, RW_F_RW_COUNTERS, "{}", 2);
	/* empty strings are present, with length 0 */
	assert_int_equal(rw_event__set_str(ev, RW_F_FILE_NAME, "", 0), 0);
	assert_str_field(ev, RW_F_FILE_NAME, "", 0);
	assert_int_equal(ev->arena_used, 8 + 7 + 2 + 4 + 2);
	assert_int_equal(ev->n_truncated, 0);
}

static void test_numbers(void **state)
{
	struct rw_event *ev = *state;

	assert_int_equal(rw_event__set_int(ev, RW_F_PROC_PID, INT64_MIN), 0);
	assert_true(rw_event__int(ev, RW_F_PROC_PID, 0) == INT64_MIN);
	assert_int_equal(rw_event__set_int(ev, RW_F_PROC_PID, INT64_MAX), 0);
	assert_true(rw_event__int(ev, RW_F_PROC_PID, 0) == INT64_MAX);
	assert_int_equal(rw_event__set_bool(ev, RW_F_PROC_INTERACTIVE, true), 0);
	assert_int_equal(rw_event__int(ev, RW_F_PROC_INTERACTIVE, 7), 1);
	assert_int_equal(rw_event__set_bool(ev, RW_F_PROC_INTERACTIVE, false), 0);
	assert_int_equal(rw_event__int(ev, RW_F_PROC_INTERACTIVE, 7), 0);
	assert_true(rw_event__has(ev, RW_F_PROC_INTERACTIVE));
	assert_int_equal(rw_event__set_time(ev, RW_F_TIMESTAMP, 1795680743123456789ULL), 0);
	assert_true(rw_event__int(ev, RW_F_TIMESTAMP, 0) == 1795680743123456789LL);
	assert_int_equal(ev->arena_used, 0);	/* numbers take no arena */
}

static void test_wrong_types(void **state)
{
	struct rw_event *ev = *state;
	size_t len;

	assert_int_equal(rw_event__set_int(ev, RW_F_FILE_PATH, 1), -EINVAL);
	assert_int_equal(rw_event__set_bool(ev, RW_F_PROC_PID, true), -EINVAL);
	assert_int_equal(rw_event__set_time(ev, RW_F_PROC_PID, 1), -EINVAL);
	assert_int_equal(rw_event__set_cstr(ev, RW_F_PROC_PID, "1"), -EINVAL);
	assert_int_equal(rw_event__set_cstr(ev, RW_F_PROC_ARGS, "a"), -EINVAL);
	assert_int_equal(rw_event__add_strv(ev, RW_F_FILE_PATH, "a", 1), -EINVAL);
	assert_int_equal(rw_event__set_int(ev, RW_F__COUNT, 1), -EINVAL);
	assert_int_equal(rw_event__set_cstr(ev, RW_F__COUNT, "x"), -EINVAL);
	assert_int_equal(rw_event__add_strv(ev, RW_F__COUNT, "x", 1), -EINVAL);
	assert_int_equal(rw_event__set_cstr(ev, (enum rw_field)-3, "x"), -EINVAL);
	for (int f = 0; f < RW_F__COUNT; f++)
		assert_false(rw_event__has(ev, f));
	assert_int_equal(ev->arena_used, 0);
	/* getters of the wrong kind answer "absent" */
	rw_event__set_int(ev, RW_F_PROC_PID, 3);
	rw_event__set_cstr(ev, RW_F_FILE_PATH, "/p");
	assert_null(rw_event__str(ev, RW_F_PROC_PID, &len));
	assert_int_equal(rw_event__int(ev, RW_F_FILE_PATH, -1), -1);
}

static void test_strv(void **state)
{
	struct rw_event *ev = *state;
	uint32_t pos = 0;
	size_t len;
	const char *s;

	assert_int_equal(rw_event__add_strv(ev, RW_F_PROC_ARGS, "ls", 2), 0);
	assert_int_equal(rw_event__add_strv(ev, RW_F_PROC_ARGS, "", 0), 0);
	assert_int_equal(rw_event__add_strv(ev, RW_F_PROC_ARGS, "a\0b", 3), 0);
	assert_true(rw_event__has(ev, RW_F_PROC_ARGS));
	assert_int_equal(ev->v[RW_F_PROC_ARGS].i, 3);
	s = rw_event__strv_next(ev, RW_F_PROC_ARGS, &pos, &len);
	assert_non_null(s);
	assert_int_equal(len, 2);
	assert_memory_equal(s, "ls", 2);
	s = rw_event__strv_next(ev, RW_F_PROC_ARGS, &pos, &len);
	assert_non_null(s);
	assert_int_equal(len, 0);
	s = rw_event__strv_next(ev, RW_F_PROC_ARGS, &pos, &len);
	assert_non_null(s);
	assert_int_equal(len, 3);
	assert_memory_equal(s, "a\0b", 3);
	assert_null(rw_event__strv_next(ev, RW_F_PROC_ARGS, &pos, &len));
	assert_null(rw_event__strv_next(ev, RW_F_PROC_ARGS, &pos, &len));

	/* another field in between closes the list; adding to ARGS again
	 * starts a new list that replaces the old one */
	assert_int_equal(rw_event__set_cstr(ev, RW_F_FILE_PATH, "/f"), 0);
	assert_int_equal(rw_event__add_strv(ev, RW_F_PROC_ARGS, "new", 3), 0);
	assert_int_equal(ev->v[RW_F_PROC_ARGS].i, 1);
	pos = 0;
	s = rw_event__strv_next(ev, RW_F_PROC_ARGS, &pos, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(s, "new", 3);
	assert_null(rw_event__strv_next(ev, RW_F_PROC_ARGS, &pos, &len));
	assert_str_field(ev, RW_F_FILE_PATH, "/f", 2);

	/* two STRV fields one after the other */
	assert_int_equal(rw_event__add_strv(ev, RW_F_DNS_RESOLVED_IP, "10.0.0.1", 8), 0);
	assert_int_equal(rw_event__add_strv(ev, RW_F_DNS_RESOLVED_IP, "::1", 3), 0);
	assert_int_equal(ev->v[RW_F_DNS_RESOLVED_IP].i, 2);
	pos = 0;
	assert_non_null(rw_event__strv_next(ev, RW_F_PROC_ARGS, &pos, &len));
	assert_int_equal(len, 3);
	/* iterating an absent or non-STRV field gives nothing */
	pos = 0;
	assert_null(rw_event__strv_next(ev, RW_F_FILE_PATH, &pos, &len));
	pos = 0;
	assert_null(rw_event__strv_next(ev, RW_F_RW_SENSOR_HOOKS, &pos, &len));
}

static void test_str_overflow_truncates_and_counts(void **state)
{
	struct rw_event *ev = *state;
	size_t big = RW_EVENT_ARENA - 10;
	char *s = malloc(big);
	char tail[100];

	assert_non_null(s);
	memset(s, 'a', big);
	memset(tail, 'b', sizeof(tail));
	assert_int_equal(rw_event__set_str(ev, RW_F_FILE_PATH, s, big), 0);
	assert_int_equal(ev->n_truncated, 0);
	/* 100 bytes into the last 10: cut to 10, counted, still present */
	assert_int_equal(rw_event__set_str(ev, RW_F_FILE_TARGET_PATH, tail, sizeof(tail)), -ENOSPC);
	assert_int_equal(ev->n_truncated, 1);
	assert_str_field(ev, RW_F_FILE_TARGET_PATH, tail, 10);
	assert_int_equal(ev->arena_used, RW_EVENT_ARENA);
	/* arena full: an empty value, counted again */
	assert_int_equal(rw_event__set_cstr(ev, RW_F_PROC_EXECUTABLE, "/bin/x"), -ENOSPC);
	assert_int_equal(ev->n_truncated, 2);
	assert_str_field(ev, RW_F_PROC_EXECUTABLE, "", 0);
	/* an empty string still fits and is not a truncation */
	assert_int_equal(rw_event__set_str(ev, RW_F_FILE_NAME, "", 0), 0);
	assert_int_equal(ev->n_truncated, 2);
	/* numbers are unaffected */
	assert_int_equal(rw_event__set_int(ev, RW_F_PROC_PID, 9), 0);
	assert_int_equal(rw_event__int(ev, RW_F_PROC_PID, 0), 9);
	/* earlier values are intact */
	assert_str_field(ev, RW_F_FILE_PATH, s, big);
	/* reset makes the whole arena available again */
	rw_event__reset(ev);
	assert_int_equal(ev->arena_used, 0);
	assert_int_equal(ev->n_truncated, 0);
	assert_false(rw_event__has(ev, RW_F_FILE_PATH));
	assert_int_equal(rw_event__set_str(ev, RW_F_FILE_PATH, s, big), 0);
	free(s);
}

static void test_strv_overflow_drops_whole_elements(void **state)
{
	struct rw_event *ev = *state;
	size_t big = RW_EVENT_ARENA - 20;
	char *s = malloc(big);
	uint32_t pos = 0;
	size_t len;
	const char *e;

	assert_non_null(s);
	memset(s, 'z', big);
	assert_int_equal(rw_event__set_str(ev, RW_F_FILE_PATH, s, big), 0);
	/* 20 bytes left: "abc" takes 4 + 3 */
	assert_int_equal(rw_event__add_strv(ev, RW_F_PROC_ARGS, "abc", 3), 0);
	/* 13 left: 10 bytes need 14: dropped whole, counted */
	assert_int_equal(rw_event__add_strv(ev, RW_F_PROC_ARGS, "0123456789", 10), -ENOSPC);
	assert_int_equal(ev->n_truncated, 1);
	/* a smaller one still fits (4 + 9 = 13, exactly the rest) */
	assert_int_equal(rw_event__add_strv(ev, RW_F_PROC_ARGS, "012345678", 9), 0);
	assert_int_equal(ev->arena_used, RW_EVENT_ARENA);
	assert_int_equal(rw_event__add_strv(ev, RW_F_PROC_ARGS, "", 0), -ENOSPC);
	assert_int_equal(ev->n_truncated, 2);
	/* the list is well formed: exactly the two elements that fit */
	assert_int_equal(ev->v[RW_F_PROC_ARGS].i, 2);
	e = rw_event__strv_next(ev, RW_F_PROC_ARGS, &pos, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(e, "abc", 3);
	e = rw_event__strv_next(ev, RW_F_PROC_ARGS, &pos, &len);
	assert_int_equal(len, 9);
	assert_memory_equal(e, "012345678", 9);
	assert_null(rw_event__strv_next(ev, RW_F_PROC_ARGS, &pos, &len));
	free(s);
}

static void test_unset_and_reset(void **state)
{
	struct rw_event *ev = *state;

	rw_event__set_int(ev, RW_F_PROC_PID, 1);
	rw_event__set_cstr(ev, RW_F_FILE_PATH, "/a");
	rw_event__unset(ev, RW_F_PROC_PID);
	assert_false(rw_event__has(ev, RW_F_PROC_PID));
	assert_int_equal(rw_event__int(ev, RW_F_PROC_PID, -1), -1);
	assert_true(rw_event__has(ev, RW_F_FILE_PATH));
	rw_event__unset(ev, RW_F__COUNT);	/* out of range: ignored */
	rw_event__add_strv(ev, RW_F_PROC_ARGS, "x", 1);
	rw_event__reset(ev);
	for (int f = 0; f < RW_F__COUNT; f++)
		assert_false(rw_event__has(ev, f));
	assert_int_equal(ev->strv_open, -1);
	assert_int_equal(ev->arena_used, 0);
}

static void test_copy_field(void **state)
{
	struct rw_event *src = *state, *dst = rw_event__new();
	uint32_t pos = 0;
	size_t len;
	const char *e;

	assert_non_null(dst);
	rw_event__set_cstr(src, RW_F_PROC_EXECUTABLE, "/usr/bin/env");
	rw_event__add_strv(src, RW_F_PROC_ARGS, "env", 3);
	rw_event__add_strv(src, RW_F_PROC_ARGS, "-i", 2);
	rw_event__set_int(src, RW_F_PROC_PID, 77);
	rw_event__set_time(src, RW_F_PROC_START, 5);

	/* dst has a STRV open: copying a list must not append to it */
	rw_event__add_strv(dst, RW_F_DNS_RESOLVED_IP, "1.1.1.1", 7);
	assert_int_equal(rw_event__copy_field(dst, src, RW_F_PROC_EXECUTABLE), 0);
	assert_int_equal(rw_event__copy_field(dst, src, RW_F_PROC_ARGS), 0);
	assert_int_equal(rw_event__copy_field(dst, src, RW_F_PROC_PID), 0);
	assert_int_equal(rw_event__copy_field(dst, src, RW_F_PROC_START), 0);
	assert_int_equal(rw_event__copy_field(dst, src, RW_F_FILE_PATH), 0);	/* absent */
	assert_false(rw_event__has(dst, RW_F_FILE_PATH));
	assert_str_field(dst, RW_F_PROC_EXECUTABLE, "/usr/bin/env", 12);
	assert_int_equal(rw_event__int(dst, RW_F_PROC_PID, 0), 77);
	assert_int_equal(rw_event__int(dst, RW_F_PROC_START, 0), 5);
	assert_int_equal(dst->v[RW_F_PROC_ARGS].i, 2);
	e = rw_event__strv_next(dst, RW_F_PROC_ARGS, &pos, &len);
	assert_memory_equal(e, "env", 3);
	e = rw_event__strv_next(dst, RW_F_PROC_ARGS, &pos, &len);
	assert_int_equal(len, 2);
	assert_memory_equal(e, "-i", 2);
	assert_int_equal(dst->v[RW_F_DNS_RESOLVED_IP].i, 1);
	assert_int_equal(dst->strv_open, -1);
	free(dst);
}

static void test_schema_lookup(void **state)
{
	assert_int_equal(rw_schema__lookup("process.pid"), RW_F_PROC_PID);
	assert_int_equal(rw_schema__lookup("@timestamp"), RW_F_TIMESTAMP);
	assert_int_equal(rw_schema__lookup("process.parent.executable"), RW_F_PARENT_EXECUTABLE);
	assert_int_equal(rw_schema__lookup("process"), -1);
	assert_int_equal(rw_schema__lookup("process.pid.x"), -1);
	assert_int_equal(rw_schema__lookup(""), -1);
	assert_int_equal(rw_schema[RW_F_PROC_ARGS].type, RW_T_STRV);
	assert_int_equal(rw_schema[RW_F_EVENT_CATEGORY].type, RW_T_STRA);
	assert_int_equal(rw_schema[RW_F_TIMESTAMP].type, RW_T_TIME);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_new_is_empty, setup_event, teardown_event),
		cmocka_unit_test_setup_teardown(test_str_setters, setup_event, teardown_event),
		cmocka_unit_test_setup_teardown(test_numbers, setup_event, teardown_event),
		cmocka_unit_test_setup_teardown(test_wrong_types, setup_event, teardown_event),
		cmocka_unit_test_setup_teardown(test_strv, setup_event, teardown_event),
		cmocka_unit_test_setup_teardown(test_str_overflow_truncates_and_counts, setup_event,
						teardown_event),
		cmocka_unit_test_setup_teardown(test_strv_overflow_drops_whole_elements, setup_event,
						teardown_event),
		cmocka_unit_test_setup_teardown(test_unset_and_reset, setup_event, teardown_event),
		cmocka_unit_test_setup_teardown(test_copy_field, setup_event, teardown_event),
		cmocka_unit_test(test_schema_lookup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
