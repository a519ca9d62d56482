/*
 * Sigma conditions: every form (and, or, not, parentheses, precedence,
 * 1 of / any of / all of with patterns and them, lists of conditions)
 * evaluated on events built to tell the forms apart; and each error, at
 * its exact column.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

#include "common/event.h"
#include "engine/ruleset.h"
#include "engine/sigma.h"

/*
 * Four searches on the command line: a, b, c and _d each match when the
 * command line contains their letter as a word ("a", "b", ...); sel_x and
 * sel_y match "x" and "y".
 */
#define SEARCHES                                        \
	"    a: {CommandLine|contains: ' a '}\n"          \
	"    b: {CommandLine|contains: ' b '}\n"          \
	"    c: {CommandLine|contains: ' c '}\n"          \
	"    _d: {CommandLine|contains: ' d '}\n"         \
	"    sel_x: {CommandLine|contains: ' x '}\n"      \
	"    sel_y: {CommandLine|contains: ' y '}\n"

static char *rule_text(const char *cond)
{
	char *t = NULL;

	assert_true(asprintf(&t,
			     "title: cond\n"
			     "id: 22222222-3333-4444-8555-666666666666\n"
			     "logsource: {product: linux, category: process_creation}\n"
			     "detection:\n" SEARCHES
			     "    condition: %s\n", cond) > 0);
	return t;
}

static struct ruleset *load_cond(const char *cond, struct diag *d)
{
	char *t = rule_text(cond);
	struct ruleset *rs = ruleset__load_buffer("c.yml", t, strlen(t), NULL, d);

	free(t);
	return rs;
}

/* Evaluate cond on the command line " <words> ". */
static int eval(const char *cond, const char *words)
{
	struct diag d;
	struct ruleset *rs;
	struct rw_event *ev = rw_event__new();
	char cmd[256];
	int n;

	diag__init(&d);
	rs = load_cond(cond, &d);
	if (!rs) {
		diag__print(&d, stderr);
		fail_msg("condition '%s' did not load", cond);
	}
	snprintf(cmd, sizeof(cmd), "prog %s end", words);
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, "exec");
	rw_event__set_cstr(ev, RW_F_PROC_COMMAND_LINE, cmd);
	n = ruleset__match(rs, ev, NULL, NULL);
	assert_true(n == 0 || n == 1);
	free(ev);
	ruleset__free(rs);
	diag__free(&d);
	return n;
}

/* Every identifier is used in each of these conditions (unused ones are
 * errors), so each one ends with a clause that names the rest. */
#define REST " or (_d and sel_x and sel_y and a and b and c)"

static void test_and_or_not(void **state)
{
	assert_int_equal(eval("a and b" REST, "a b"), 1);
	assert_int_equal(eval("a and b" REST, "a"), 0);
	assert_int_equal(eval("a or b" REST, "b"), 1);
	assert_int_equal(eval("a or b" REST, "c"), 0);
	assert_int_equal(eval("not a and b" REST, "b"), 1);
	assert_int_equal(eval("not a and b" REST, "a b"), 0);
	assert_int_equal(eval("not not a" REST, "a"), 1);
	/* keywords are case-insensitive */
	assert_int_equal(eval("a AND NOT b" REST, "a"), 1);
	assert_int_equal(eval("a AND NOT b" REST, "a b"), 0);
}

static void test_precedence_and_parentheses(void **state)
{
	/* and binds tighter than or: a or (b and c) */
	assert_int_equal(eval("a or b and c" REST, "a"), 1);
	assert_int_equal(eval("a or b and c" REST, "b"), 0);
	assert_int_equal(eval("(a or b) and c" REST, "a"), 0);
	assert_int_equal(eval("(a or b) and c" REST, "a c"), 1);
	/* not binds tighter than and: (not a) and b */
	assert_int_equal(eval("not a and b" REST, "c"), 0);
	assert_int_equal(eval("not (a and b)" REST, "c"), 1);
	assert_int_equal(eval("not (a and b)" REST, "a b"), 0);
	assert_int_equal(eval("((((a))))" REST, "a"), 1);
}

static void test_quantifiers(void **state)
{
	const char *rest = " or (a and b and c and _d)";
	char cond[256];

	snprintf(cond, sizeof(cond), "1 of sel_*%s", rest);
	assert_int_equal(eval(cond, "y"), 1);
	assert_int_equal(eval(cond, "a"), 0);
	snprintf(cond, sizeof(cond), "any of sel_*%s", rest);
	assert_int_equal(eval(cond, "x"), 1);
	snprintf(cond, sizeof(cond), "all of sel_*%s", rest);
	assert_int_equal(eval(cond, "x"), 0);
	assert_int_equal(eval(cond, "x y"), 1);
	assert_int_equal(eval("all of *_x or all of *_y or a or b or c or _d", "y"), 1);
	/* x of binds tighter than not */
	snprintf(cond, sizeof(cond), "not 1 of sel_* and a%s", " or (b and c and _d)");
	assert_int_equal(eval(cond, "a"), 1);
	assert_int_equal(eval(cond, "a x"), 0);
}

static void test_them(void **state)
{
	/* them: every identifier not starting with '_' */
	assert_int_equal(eval("1 of them or _d", "c"), 1);
	assert_int_equal(eval("1 of them or _d", "q"), 0);
	assert_int_equal(eval("all of them or _d", "a b c x y"), 1);
	assert_int_equal(eval("all of them or _d", "a b c x"), 0);
	/* _d is not part of them: all of them holds without it */
	assert_int_equal(eval("all of them and not _d", "a b c x y"), 1);
	assert_int_equal(eval("all of them and not _d", "a b c x y d"), 0);
}

static void test_condition_list_is_or(void **state)
{
	struct diag d;
	struct ruleset *rs;
	struct rw_event *ev = rw_event__new();
	const char *t =
		"title: l\nlogsource: {category: process_creation}\ndetection:\n"
		"    a: {CommandLine|contains: ' a '}\n"
		"    b: {CommandLine|contains: ' b '}\n"
		"    condition:\n        - a and b\n        - not a and not b\n";

	diag__init(&d);
	rs = ruleset__load_buffer("l.yml", t, strlen(t), NULL, &d);
	assert_non_null(rs);
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, "exec");
	rw_event__set_cstr(ev, RW_F_PROC_COMMAND_LINE, " a b ");
	assert_int_equal(ruleset__match(rs, ev, NULL, NULL), 1);
	rw_event__set_cstr(ev, RW_F_PROC_COMMAND_LINE, " q ");
	assert_int_equal(ruleset__match(rs, ev, NULL, NULL), 1);
	rw_event__set_cstr(ev, RW_F_PROC_COMMAND_LINE, " a ");
	assert_int_equal(ruleset__match(rs, ev, NULL, NULL), 0);
	ruleset__free(rs);
	diag__free(&d);
	free(ev);
}

/* The one error cond gives, with its column (the condition's value
 * starts at column 16 of line 11). */
static void expect_cond_error(const char *cond, const char *want)
{
	struct diag d;
	char got[512];
	struct ruleset *rs;

	diag__init(&d);
	rs = load_cond(cond, &d);
	assert_null(rs);
	assert_true(d.n >= 1);
	diag__format(&d.v[0], got, sizeof(got));
	if (strcmp(got, want))
		fail_msg("condition '%s':\n  want %s\n  got  %s", cond, want, got);
	diag__free(&d);
}

#define E "c.yml:11:"
#define R "error: rule 22222222-3333-4444-8555-666666666666: condition: "

static void test_errors(void **state)
{
	expect_cond_error("a and nope", E "22: " R "undefined search identifier 'nope'");
	expect_cond_error("a and (b or c", E "29: " R "expected ')' to close the '(' at offset 6");
	expect_cond_error("a and b)", E "23: " R "unexpected ')' after a complete condition "
			  "(missing 'and' or 'or'?)");
	expect_cond_error("a b", E "18: " R "unexpected 'b' after a complete condition (missing "
			  "'and' or 'or'?)");
	expect_cond_error("a and", E "21: " R "condition ends where a search identifier was "
			  "expected");
	expect_cond_error("a and or b", E "22: " R "unexpected 'or' where a search identifier was "
			  "expected");
	expect_cond_error("2 of sel_*", E "16: " R "'2 of' is not defined by Sigma: use '1 of', "
			  "'any of' or 'all of'");
	expect_cond_error("1 of nothing_*", E "21: " R "'nothing_*' matches no search identifier");
	expect_cond_error("1 of", E "20: " R "expected 'them' or a search identifier pattern after "
			  "'of'");
	expect_cond_error("sel_* or a", E "16: " R "wildcard 'sel_*' is only allowed after '1 of' "
			  "or 'all of'");
	expect_cond_error("a | count() > 3", E "18: " R "aggregation expressions ('| count() ...') "
			  "are not supported: the engine evaluates one event at a time");
	expect_cond_error("a and $b", E "22: " R "unexpected character '$' in condition");
	expect_cond_error("()", E "17: " R "unexpected ')'");
}

static void test_unused_identifier(void **state)
{
	struct diag d;
	char got[512];

	diag__init(&d);
	assert_null(load_cond("a or b or c or _d or sel_x", &d));
	assert_int_equal(d.n_errors, 1);
	diag__format(&d.v[0], got, sizeof(got));
	assert_string_equal(got, "c.yml:10:5: error: rule 22222222-3333-4444-8555-666666666666: "
			    "search identifier 'sel_y' is defined but not used by the condition");
	diag__free(&d);
}

/* The parser alone, as the fuzzer drives it. */
static void test_parser_direct(void **state)
{
	struct rule r = { 0 };
	struct search s[2] = { { .name = "sel" }, { .name = "filter" } };
	struct cond_error ce;
	char deep[200];
	int root;

	r.searches = s;
	r.n_searches = 2;
	root = sigma_cond__parse(&r, "sel and not filter", 18, &ce);
	assert_true(root >= 0);
	assert_int_equal(r.nodes[root].kind, CN_AND);
	assert_int_equal(r.nodes[r.nodes[root].a].kind, CN_SEARCH);
	assert_int_equal(r.nodes[r.nodes[root].b].kind, CN_NOT);
	assert_true(s[0].used && s[1].used);
	/* nesting past the limit is an error, not a deep recursion */
	memset(deep, '(', sizeof(deep));
	assert_int_equal(sigma_cond__parse(&r, deep, sizeof(deep), &ce), -1);
	assert_int_equal(ce.off, SIGMA_MAX_COND_DEPTH);
	assert_string_equal(ce.msg, "condition nested deeper than 32 levels");
	memset(deep, 'n', sizeof(deep));
	for (size_t i = 0; i + 4 <= sizeof(deep); i += 4)
		memcpy(deep + i, "not ", 4);
	assert_int_equal(sigma_cond__parse(&r, deep, sizeof(deep), &ce), -1);
	assert_string_equal(ce.msg, "condition nested deeper than 32 levels");
	/* a NUL inside is refused */
	assert_int_equal(sigma_cond__parse(&r, "sel\0x", 5, &ce), -1);
	assert_string_equal(ce.msg, "condition contains a NUL byte");
	assert_int_equal(sigma_cond__parse(&r, "  ", 2, &ce), -1);
	assert_string_equal(ce.msg, "empty condition");
	free(r.nodes);
	free(r.refs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_and_or_not),
		cmocka_unit_test(test_precedence_and_parentheses),
		cmocka_unit_test(test_quantifiers),
		cmocka_unit_test(test_them),
		cmocka_unit_test(test_condition_list_is_or),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_unused_identifier),
		cmocka_unit_test(test_parser_direct),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
