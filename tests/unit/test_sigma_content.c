/*
 * The project's default content (content/rules): every rule loads, carries
 * the metadata alerts need, and has fixtures in content/fixtures/<rule>/ —
 * match.jsonl, events (as the sensor writes them) that must fire it, and
 * nomatch.jsonl, events that must not. Each fixture line goes through the
 * replay path: the ECS JSON reader, then the rule set. The content also
 * loads together with the SigmaHQ corpus (no id collisions).
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testlib.h"

#include "common/ecs_in.h"
#include "common/event.h"
#include "engine/ruleset.h"

#define RULES "content/rules"
#define FIXTURES "content/fixtures"

static struct ruleset *content;

static int setup(void **state)
{
	static const char *const paths[] = { RULES };
	struct diag d;

	diag__init(&d);
	content = ruleset__load(paths, 1, &d);
	diag__print(&d, stderr);
	diag__free(&d);
	return 0;
}

static int teardown(void **state)
{
	ruleset__free(content);
	return 0;
}

static void test_content_loads(void **state)
{
	assert_non_null(content);
	assert_true(ruleset__count(content) >= 26);
	assert_int_equal(ruleset__count(content), ruleset__files(content));
	for (size_t i = 0; i < ruleset__count(content); i++) {
		const struct rule_info *ri = ruleset__rule(content, i);

		assert_non_null(ri->id);
		assert_non_null(ri->author);
		assert_non_null(ri->description);
		assert_non_null(ri->level);
		assert_true(ri->n_tags >= 2);
		assert_string_equal(ri->status, "experimental");
	}
}

struct hit {
	const char *id;
	int n;
};

static int on_match(const struct rule_info *ri, const struct rw_event *ev, void *ctx)
{
	struct hit *h = ctx;

	if (!strcmp(ri->id, h->id))
		h->n++;
	return 0;
}

/* Replay one fixture file; returns the number of lines, and checks each
 * fires the rule (want 1) or does not (want 0). */
static int replay(const struct rule_info *ri, const char *path, int want)
{
	FILE *f = fopen(path, "r");
	struct rw_event *ev = rw_event__new();
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int lineno = 0;

	if (!f)
		fail_msg("%s: missing fixture %s", ri->id, path);
	while ((len = getline(&line, &cap, f)) > 0) {
		struct ecs_in_stats st = { 0 };
		struct hit h = { ri->id, 0 };

		lineno++;
		rw_event__reset(ev);
		if (ecs__read_json(ev, line, (size_t)len, &st) != 0)
			fail_msg("%s:%d: not an event line", path, lineno);
		if (st.unknown_fields || st.bad_types)
			fail_msg("%s:%d: %llu unknown fields, %llu wrong types", path, lineno,
				 (unsigned long long)st.unknown_fields,
				 (unsigned long long)st.bad_types);
		assert_true(ruleset__match(content, ev, on_match, &h) >= 0);
		if (h.n != want)
			fail_msg("%s:%d: rule %s (%s) %s", path, lineno, ri->id, ri->title,
				 want ? "did not fire" : "fired");
	}
	free(line);
	free(ev);
	fclose(f);
	return lineno;
}

static void test_every_rule_has_fixtures_that_hold(void **state)
{
	assert_non_null(content);
	for (size_t i = 0; i < ruleset__count(content); i++) {
		const struct rule_info *ri = ruleset__rule(content, i);
		char *file = strdup(ri->file), *base, *dot, path[512];

		assert_non_null(file);
		base = basename(file);
		dot = strrchr(base, '.');
		if (dot)
			*dot = 0;
		snprintf(path, sizeof(path), FIXTURES "/%s/match.jsonl", base);
		if (replay(ri, path, 1) < 1)
			fail_msg("%s: no positive fixture", ri->id);
		snprintf(path, sizeof(path), FIXTURES "/%s/nomatch.jsonl", base);
		if (replay(ri, path, 0) < 1)
			fail_msg("%s: no negative fixture", ri->id);
		free(file);
	}
}

static void test_loads_with_sigmahq_corpus(void **state)
{
	static const char *const paths[] = {
		RULES, "../shared/sigma-linux/rules", "../shared/sigma-linux/rules-emerging-threats",
		"../shared/sigma-linux/rules-threat-hunting",
	};
	struct stat st;
	struct diag d;
	struct ruleset *all;

	if (stat("../shared/sigma-linux", &st) != 0)
		skip();
	diag__init(&d);
	all = ruleset__load(paths, 4, &d);
	diag__print(&d, stderr);
	assert_non_null(all);
	assert_int_equal(ruleset__count(all), ruleset__count(content) + 133);
	ruleset__free(all);
	diag__free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_loads),
		cmocka_unit_test(test_every_rule_has_fixtures_that_hold),
		cmocka_unit_test(test_loads_with_sigmahq_corpus),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
