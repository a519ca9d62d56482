/*
 * The engine's limits at their edges, with real files: a rule set of
 * exactly SIGMA_MAX_RULES rules loads, compiles and matches (and the two
 * evaluators agree on it), one more is refused with its message; regexes
 * whose compiled form is too costly are refused, by Hyperscan's own
 * resource limit or by SIGMA_MAX_REGEX_BYTES, each with a precise message
 * at the rule's line and column.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"

#include "common/event.h"
#include "engine/ruleset.h"
#include "engine/sigma.h"
#include "engine/sigma_match.h"

static char *dir;

static int setup(void **state)
{
	dir = rwt_mkdtemp("sigma-limits");
	return dir ? 0 : -1;
}

static int teardown(void **state)
{
	rwt_rmtree(dir);
	free(dir);
	return 0;
}

#define PER_FILE 1000

/* Rules [first, first + n) into dir/name: rule i fires on an Image ending
 * in /bin<i>. */
static void write_rules(const char *name, int first, int n)
{
	char *p;
	FILE *f;

	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	f = fopen(p, "w");
	assert_non_null(f);
	for (int i = first; i < first + n; i++)
		fprintf(f, "%stitle: r%d\nid: %08x-0000-4000-8000-000000000000\n"
			"logsource: {product: linux, category: process_creation}\n"
			"detection:\n    sel:\n        Image|endswith: '/bin%d'\n"
			"    condition: sel\n", i == first ? "" : "---\n", i, (unsigned)i + 1, i);
	assert_int_equal(fclose(f), 0);
	free(p);
}

static int on_fire(const struct rule_info *ri, const struct rw_event *ev, void *ctx)
{
	snprintf(ctx, 32, "%s", ri->title);
	return 0;
}

static void test_rules_per_set(void **state)
{
	const char *paths[] = { dir };
	char name[32], fired[32] = "", *extra;
	struct rw_event *ev = rw_event__new();
	struct cmatch_stats cst;
	struct ruleset *rs;
	struct diag d;

	assert_non_null(ev);
	for (int f = 0; f < SIGMA_MAX_RULES / PER_FILE; f++) {
		snprintf(name, sizeof(name), "r%02d.yml", f);
		write_rules(name, f * PER_FILE, PER_FILE);
	}
	/* one more: refused, with the count and the limit */
	write_rules("zz-one-more.yml", SIGMA_MAX_RULES, 1);
	diag__init(&d);
	rs = ruleset__load(paths, 1, &d);
	assert_null(rs);
	assert_int_equal(d.n_errors, 1);
	{
		char buf[256];

		diag__format(&d.v[0], buf, sizeof(buf));
		assert_string_equal(buf, "ringward: error: 20001 rules, more than the limit of "
				    "20000 per rule set");
	}
	diag__free(&d);

	/* exactly the limit: loads, compiles, matches */
	assert_true(asprintf(&extra, "%s/zz-one-more.yml", dir) > 0);
	assert_int_equal(unlink(extra), 0);
	free(extra);
	diag__init(&d);
	rs = ruleset__load(paths, 1, &d);
	diag__print(&d, stderr);
	assert_non_null(rs);
	assert_int_equal(ruleset__count(rs), SIGMA_MAX_RULES);
	cmatch__stats(ruleset__cmatch(rs), &cst);
	assert_int_equal(cst.hs_patterns, SIGMA_MAX_RULES);
	assert_int_equal(cst.always, 0);
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, "exec");
	rw_event__set_cstr(ev, RW_F_PROC_EXECUTABLE, "/usr/bin19999");
	assert_int_equal(ruleset__match(rs, ev, on_fire, fired), 1);
	assert_string_equal(fired, "r19999");
	fired[0] = 0;
	assert_int_equal(ruleset__match_naive(rs, ev, on_fire, fired), 1);
	assert_string_equal(fired, "r19999");
	/* one scan, one candidate: not 20000 evaluations */
	cmatch__stats(ruleset__cmatch(rs), &cst);
	assert_int_equal(cst.candidates, 1);
	ruleset__free(rs);
	diag__free(&d);
	free(ev);
}

#define RE_RULE(re)                                                            \
	"title: costly\n"                                                      \
	"id: 0c0c0c0c-0000-4000-8000-000000000001\n"                           \
	"logsource: {product: linux, category: process_creation}\n"            \
	"detection:\n"                                                         \
	"    sel:\n"                                                           \
	"        CommandLine|re: '" re "'\n"                                   \
	"    condition: sel\n"

/* Load one rule from memory; returns the set (NULL when refused) and the
 * messages in d. */
static struct ruleset *load(const char *text, struct diag *d)
{
	diag__init(d);
	return ruleset__load_buffer("rules/re.yml", text, strlen(text), NULL, d);
}

static void test_regex_over_hyperscan_limits(void **state)
{
	struct ruleset *rs;
	struct diag d;
	char buf[512];

	/* a bounded repeat of a bounded repeat: a million states */
	rs = load(RE_RULE("(?:a{1000}){1000}"), &d);
	assert_null(rs);
	assert_int_equal(d.n_errors, 1);
	diag__format(&d.v[0], buf, sizeof(buf));
	assert_string_equal(buf, "rules/re.yml:6:25: error: rule "
			    "0c0c0c0c-0000-4000-8000-000000000001: regex not accepted by the "
			    "linear-time matcher (Hyperscan): Resource limit exceeded.");
	diag__free(&d);

	/* one repeat PCRE accepts but Hyperscan will not build */
	rs = load(RE_RULE("x{65535}"), &d);
	assert_null(rs);
	assert_int_equal(d.n_errors, 1);
	diag__format(&d.v[0], buf, sizeof(buf));
	assert_string_equal(buf, "rules/re.yml:6:25: error: rule "
			    "0c0c0c0c-0000-4000-8000-000000000001: regex not accepted by the "
			    "linear-time matcher (Hyperscan): Bounded repeat is too large.");
	diag__free(&d);
}

static void test_regex_cost_bound(void **state)
{
	static const char want_head[] = "rules/re.yml:6:9: error: rule "
					"0c0c0c0c-0000-4000-8000-000000000001: regex of field "
					"'CommandLine' compiles to ";
	static const char want_tail[] = " bytes, more than the limit of 65536 (the cost of one "
					"regex is bounded)";
	struct ruleset *rs;
	struct diag d;
	char buf[512];
	unsigned long sz;

	/* Hyperscan takes it, but as an automaton of about 100 KiB */
	rs = load(RE_RULE(".{4000}x"), &d);
	assert_null(rs);
	assert_int_equal(d.n_errors, 1);
	diag__format(&d.v[0], buf, sizeof(buf));
	assert_int_equal(strncmp(buf, want_head, strlen(want_head)), 0);
	sz = strtoul(buf + strlen(want_head), NULL, 10);
	assert_true(sz > SIGMA_MAX_REGEX_BYTES);
	assert_non_null(strstr(buf, want_tail));
	diag__free(&d);

	/* the same shape, smaller: loads, and matches as it says */
	rs = load(RE_RULE("^.{200}x"), &d);
	assert_non_null(rs);
	{
		struct rw_event *ev = rw_event__new();
		char cmd[202];

		assert_non_null(ev);
		memset(cmd, 'a', 200);
		cmd[200] = 'x';
		cmd[201] = 0;
		rw_event__set_cstr(ev, RW_F_EVENT_ACTION, "exec");
		rw_event__set_cstr(ev, RW_F_PROC_COMMAND_LINE, cmd);
		assert_int_equal(ruleset__match(rs, ev, NULL, NULL), 1);
		cmd[199] = 0;
		rw_event__set_cstr(ev, RW_F_PROC_COMMAND_LINE, cmd);
		assert_int_equal(ruleset__match(rs, ev, NULL, NULL), 0);
		free(ev);
	}
	ruleset__free(rs);
	diag__free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rules_per_set, setup, teardown),
		cmocka_unit_test(test_regex_over_hyperscan_limits),
		cmocka_unit_test(test_regex_cost_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
