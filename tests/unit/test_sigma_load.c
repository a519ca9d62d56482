/*
 * The Sigma loader: each kind of bad content gets its own precise message
 * at the exact line and column, checked verbatim; the declared limits are
 * enforced; the ringward: block is validated; files and directories load
 * recursively; rule metadata reaches the rule set.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testlib.h"

#include "engine/ruleset.h"
#include "engine/sigma.h"

#define ID "5f2c0000-1111-4222-8333-444444444444"

/* A rule with the standard header (lines 1-6) and detection lines from
 * line 7 on. */
#define HEAD "title: Test\n"                    /* 1 */ \
	     "id: " ID "\n"                      /* 2 */ \
	     "logsource:\n"                      /* 3 */ \
	     "    product: linux\n"              /* 4 */ \
	     "    category: process_creation\n"  /* 5 */ \
	     "detection:\n"                      /* 6 */

/* Load text as rules/x.yml; returns the number of errors and the first
 * message formatted into first (may be NULL). */
static size_t load_errs(const char *text, char *first, size_t fsz, struct diag *keep)
{
	struct diag d;
	struct ruleset *rs;
	size_t n;

	diag__init(&d);
	rs = ruleset__load_buffer("rules/x.yml", text, strlen(text), NULL, &d);
	n = d.n_errors;
	if (n)
		assert_null(rs);
	else
		assert_non_null(rs);
	if (first) {
		first[0] = 0;
		if (d.n)
			diag__format(&d.v[0], first, fsz);
	}
	ruleset__free(rs);
	if (keep)
		*keep = d;
	else
		diag__free(&d);
	return n;
}

/* Exactly one error, with exactly this text. */
static void expect_error(const char *text, const char *want)
{
	char got[1024];
	size_t n = load_errs(text, got, sizeof(got), NULL);

	if (n != 1 || strcmp(got, want))
		fail_msg("want 1 error:\n  %s\ngot %zu, first:\n  %s", want, n, got);
}

static void test_valid_rule_loads(void **state)
{
	const char *text = HEAD
		"    selection:\n"
		"        Image|endswith: '/nc'\n"
		"    condition: selection\n"
		"level: critical\n"
		"status: test\n"
		"author: Jane Doe, John Roe\n"
		"description: finds nc\n"
		"tags:\n"
		"    - attack.execution\n"
		"    - attack.t1059\n"
		"ringward:\n"
		"    action: kill\n";
	struct ruleset *rs = ruleset__load_buffer("rules/x.yml", text, strlen(text), NULL, NULL);
	const struct rule_info *ri;

	assert_non_null(rs);
	assert_int_equal(ruleset__count(rs), 1);
	ri = ruleset__rule(rs, 0);
	assert_string_equal(ri->id, ID);
	assert_string_equal(ri->title, "Test");
	assert_string_equal(ri->level, "critical");
	assert_int_equal(ri->severity, 5);
	assert_string_equal(ri->status, "test");
	assert_string_equal(ri->author, "Jane Doe, John Roe");
	assert_string_equal(ri->description, "finds nc");
	assert_int_equal(ri->n_tags, 2);
	assert_string_equal(ri->tags[0], "attack.execution");
	assert_string_equal(ri->tags[1], "attack.t1059");
	assert_string_equal(ri->category, "process_creation");
	assert_string_equal(ri->action, "kill");
	assert_string_equal(ri->file, "rules/x.yml");
	assert_int_equal(ri->line, 2);
	assert_null(ruleset__rule(rs, 1));
	ruleset__free(rs);
}

static void test_field_not_supplied(void **state)
{
	expect_error(HEAD
		     "    selection:\n"
		     "        Image|endswith: '/nc'\n"
		     "        Foo: bar\n"
		     "    condition: selection\n",
		     "rules/x.yml:9:9: error: rule " ID ": field 'Foo' is not supplied for "
		     "category 'process_creation' by this sensor (schema 2)");
	expect_error(HEAD
		     "    selection:\n"
		     "        commandline|contains: x\n"
		     "    condition: selection\n",
		     "rules/x.yml:8:9: error: rule " ID ": field 'commandline' is not supplied for "
		     "category 'process_creation' by this sensor (schema 2); did you mean "
		     "'CommandLine'?");
	/* a field of another category */
	expect_error(HEAD
		     "    selection:\n"
		     "        DestinationIp: 1.2.3.4\n"
		     "    condition: selection\n",
		     "rules/x.yml:8:9: error: rule " ID ": field 'DestinationIp' is not supplied for "
		     "category 'process_creation' by this sensor (schema 2)");
	/* Windows-only fields are refused, not ignored */
	expect_error(HEAD
		     "    selection:\n"
		     "        - OriginalFileName: nc.exe\n"
		     "    condition: selection\n",
		     "rules/x.yml:8:11: error: rule " ID ": field 'OriginalFileName' is not supplied "
		     "for category 'process_creation' by this sensor (schema 2)");
}

static void test_bad_yaml(void **state)
{
	expect_error("title: x\nlogsource: [a\n",
		     "rules/x.yml:3:1: error: bad YAML: did not find expected ',' or ']' while "
		     "parsing a flow sequence");
	expect_error("title: x\n  bad: indent\n",
		     "rules/x.yml:2:6: error: bad YAML: mapping values are not allowed in this "
		     "context");
	expect_error("title: \"unterminated\n",
		     "rules/x.yml:2:1: error: bad YAML: found unexpected end of stream while "
		     "scanning a quoted scalar");
	expect_error("- a\n- b\n", "rules/x.yml:1:1: error: a rule must be a YAML mapping");
}

static void test_missing_parts(void **state)
{
	expect_error("id: " ID "\nlogsource: {category: process_creation}\n"
		     "detection: {sel: {Image: x}, condition: sel}\n",
		     "rules/x.yml:1:1: error: rule " ID ": missing 'title'");
	expect_error("title: t\nid: " ID "\ndetection: {sel: {Image: x}, condition: sel}\n",
		     "rules/x.yml:1:1: error: rule " ID ": missing 'logsource'");
	expect_error("title: t\nid: " ID "\nlogsource: {category: process_creation}\n",
		     "rules/x.yml:1:1: error: rule " ID ": missing 'detection'");
	expect_error("title: t\nid: " ID "\nlogsource: {category: process_creation}\n"
		     "detection:\n    sel:\n        Image: x\n",
		     "rules/x.yml:4:1: error: rule " ID ": detection has no 'condition'");
	expect_error("title: t\nid: " ID "\nlogsource: {product: linux}\n"
		     "detection: {sel: {Image: x}, condition: sel}\n",
		     "rules/x.yml:3:12: error: rule " ID ": logsource has no 'category'");
	expect_error("title: ''\nid: " ID "\nlogsource: {category: process_creation}\n"
		     "detection: {sel: {Image: x}, condition: sel}\n",
		     "rules/x.yml:1:8: error: rule " ID ": 'title' is empty");
}

static void test_logsource(void **state)
{
	expect_error("title: t\nid: " ID "\nlogsource:\n    product: windows\n"
		     "    category: process_creation\ndetection: {sel: {Image: x}, condition: sel}\n",
		     "rules/x.yml:4:14: error: rule " ID ": logsource product 'windows' is not "
		     "supplied by this sensor (it supplies 'linux')");
	expect_error("title: t\nid: " ID "\nlogsource:\n    product: linux\n"
		     "    service: auditd\ndetection: {sel: {Image: x}, condition: sel}\n",
		     "rules/x.yml:5:14: error: rule " ID ": logsource service 'auditd' is not "
		     "supplied by this sensor (it supplies categories only)");
	expect_error("title: t\nid: " ID "\nlogsource:\n    category: registry_set\n"
		     "detection: {sel: {Image: x}, condition: sel}\n",
		     "rules/x.yml:4:15: error: rule " ID ": logsource category 'registry_set' is not "
		     "supplied by this sensor (schema 2 supplies: process_creation, "
		     "process_termination, file_event, file_delete, file_rename, file_access, pipe_created, "
		     "network_connection, dns_query, process_access)");
}

static void test_unknown_modifier(void **state)
{
	expect_error(HEAD
		     "    selection:\n"
		     "        CommandLine|contains|bogus: x\n"
		     "    condition: selection\n",
		     "rules/x.yml:8:30: error: rule " ID ": unknown modifier 'bogus'");
	expect_error(HEAD
		     "    selection:\n"
		     "        'CommandLine|contans': x\n"
		     "    condition: selection\n",
		     "rules/x.yml:8:22: error: rule " ID ": unknown modifier 'contans'");
	expect_error(HEAD
		     "    selection:\n"
		     "        CommandLine|i: x\n"
		     "    condition: selection\n",
		     "rules/x.yml:8:21: error: rule " ID ": 'i' is a sub-modifier of 're' and must "
		     "follow it");
	expect_error(HEAD
		     "    selection:\n"
		     "        CommandLine|contains|endswith: x\n"
		     "    condition: selection\n",
		     "rules/x.yml:8:9: error: rule " ID ": modifiers 'contains', 'startswith' and "
		     "'endswith' exclude each other");
	expect_error(HEAD
		     "    selection:\n"
		     "        CommandLine|re|contains: x\n"
		     "    condition: selection\n",
		     "rules/x.yml:8:9: error: rule " ID ": 're' cannot be combined with 'contains'");
	expect_error(HEAD
		     "    selection:\n"
		     "        CommandLine|contains|contains: x\n"
		     "    condition: selection\n",
		     "rules/x.yml:8:30: error: rule " ID ": modifier 'contains' given twice");
	expect_error(HEAD
		     "    selection:\n"
		     "        CommandLine||contains: x\n"
		     "    condition: selection\n",
		     "rules/x.yml:8:21: error: rule " ID ": empty modifier (two '|' in a row, or a "
		     "trailing '|')");
	expect_error(HEAD
		     "    selection:\n"
		     "        ProcessId|hour: 3\n"
		     "    condition: selection\n",
		     "rules/x.yml:8:19: error: rule " ID ": time modifier 'hour' needs a date field; "
		     "this sensor supplies none to Sigma");
}

static void test_wrong_value_types(void **state)
{
	expect_error(HEAD
		     "    selection:\n"
		     "        ProcessId|gt: many\n"
		     "    condition: selection\n",
		     "rules/x.yml:8:23: error: rule " ID ": wrong value type for field 'ProcessId': "
		     "'gt' takes an integer");
	expect_error(HEAD
		     "    selection:\n"
		     "        Image|exists: maybe\n"
		     "    condition: selection\n",
		     "rules/x.yml:8:23: error: rule " ID ": wrong value type for field 'Image': "
		     "'exists' takes true or false");
	expect_error(HEAD
		     "    selection:\n"
		     "        Image:\n"
		     "            a: b\n"
		     "    condition: selection\n",
		     "rules/x.yml:9:13: error: rule " ID ": wrong value type for field 'Image': a "
		     "mapping is not a value (values are strings, numbers, booleans or null)");
	expect_error(HEAD
		     "    selection:\n"
		     "        Image|contains: null\n"
		     "    condition: selection\n",
		     "rules/x.yml:8:25: error: rule " ID ": wrong value type for field 'Image': null "
		     "cannot be used with 'contains' (to test presence use 'Image|exists: true')");
	expect_error(HEAD
		     "    selection:\n"
		     "        Image: []\n"
		     "    condition: selection\n",
		     "rules/x.yml:8:16: error: rule " ID ": field 'Image' has an empty list of values");
	expect_error(HEAD
		     "    selection:\n"
		     "        Image|base64: 'a*b'\n"
		     "    condition: selection\n",
		     "rules/x.yml:8:23: error: rule " ID ": field 'Image': 'base64' cannot encode a "
		     "value with wildcards (escape '*' and '?' with '\\' to mean them literally)");
}

static void test_regex_and_cidr(void **state)
{
	expect_error(HEAD
		     "    selection:\n"
		     "        CommandLine|re: 'a(b'\n"
		     "    condition: selection\n",
		     "rules/x.yml:8:29: error: rule " ID ": malformed regex: missing closing "
		     "parenthesis (at offset 3)");
	expect_error(HEAD
		     "    selection:\n"
		     "        CommandLine|re: x[z-a]\n"
		     "    condition: selection\n",
		     "rules/x.yml:8:29: error: rule " ID ": malformed regex: range out of order in "
		     "character class (at offset 4)");
	/* valid PCRE, but not matchable in linear time: refused */
	expect_error(HEAD
		     "    selection:\n"
		     "        CommandLine|re: '(a+)\\1'\n"
		     "    condition: selection\n",
		     "rules/x.yml:8:25: error: rule " ID ": regex not accepted by the linear-time "
		     "matcher (Hyperscan): Back-references are unsupported.");
	expect_error(HEAD
		     "    selection:\n"
		     "        CommandLine|re: 'a(?=b)'\n"
		     "    condition: selection\n",
		     "rules/x.yml:8:25: error: rule " ID ": regex not accepted by the linear-time "
		     "matcher (Hyperscan): Zero-width assertions are not supported.");
	expect_error("title: t\nid: " ID "\nlogsource: {category: network_connection}\n"
		     "detection:\n    sel:\n        DestinationIp|cidr: 10.0.0.0/33\n"
		     "    condition: sel\n",
		     "rules/x.yml:6:29: error: rule " ID ": malformed CIDR '10.0.0.0/33' for field "
		     "'DestinationIp' (expected e.g. 10.0.0.0/8 or fd00::/8)");
	expect_error("title: t\nid: " ID "\nlogsource: {category: network_connection}\n"
		     "detection:\n    sel:\n        DestinationIp|cidr: 'fd00::zz/8'\n"
		     "    condition: sel\n",
		     "rules/x.yml:6:29: error: rule " ID ": malformed CIDR 'fd00::zz/8' for field "
		     "'DestinationIp' (expected e.g. 10.0.0.0/8 or fd00::/8)");
}

static void test_refused_documents(void **state)
{
	expect_error("title: many\nid: " ID "\ncorrelation:\n    type: event_count\n",
		     "rules/x.yml:3:1: error: rule " ID ": correlation rules are not supported: they "
		     "relate several events over time and the engine evaluates one event at a "
		     "time");
	expect_error("title: g\naction: global\nlogsource: {category: process_creation}\n",
		     "rules/x.yml:2:1: error: Sigma 1 rule collections ('action: global') are not "
		     "supported: write each rule as a complete document");
	expect_error("title: f\nlogsource: {category: process_creation}\n"
		     "filter:\n    rules: [x]\n",
		     "rules/x.yml:3:1: error: Sigma filters (meta rules) are not supported: apply "
		     "the exclusion in the rule itself");
	/* keyword searches: a list of values, or '|all' without a field */
	expect_error(HEAD
		     "    keywords:\n"
		     "        - 'nc -e'\n"
		     "    condition: keywords\n",
		     "rules/x.yml:8:11: error: rule " ID ": keyword search (a list of values not tied "
		     "to a field, in 'keywords') is not supported: the engine matches named fields "
		     "only");
	expect_error(HEAD
		     "    keywords:\n"
		     "        '|all': [a, b]\n"
		     "    condition: keywords\n",
		     "rules/x.yml:8:9: error: rule " ID ": keyword search ('|all' without a field "
		     "name) is not supported: the engine matches named fields only");
	expect_error(HEAD
		     "    sel:\n"
		     "        Image: x\n"
		     "    timeframe: 5m\n"
		     "    condition: sel\n",
		     "rules/x.yml:9:5: error: rule " ID ": 'timeframe' (Sigma 1 aggregation) is not "
		     "supported: the engine evaluates one event at a time");
	expect_error(HEAD
		     "    sel:\n"
		     "        Image: x\n"
		     "    condition: sel | count() > 5\n",
		     "rules/x.yml:9:20: error: rule " ID ": condition: aggregation expressions ('| "
		     "count() ...') are not supported: the engine evaluates one event at a time");
}

static void test_yaml_hazards(void **state)
{
	/* aliases could multiply work (a billion laughs): refused */
	expect_error(HEAD
		     "    sel:\n"
		     "        Image: &a x\n"
		     "        CommandLine: *a\n"
		     "    condition: sel\n",
		     "rules/x.yml:8:16: error: rule " ID ": YAML aliases (*name) are not supported in "
		     "rules");
	expect_error(HEAD
		     "    sel:\n"
		     "        Image: x\n"
		     "        Image: y\n"
		     "    condition: sel\n",
		     "rules/x.yml:9:9: error: rule " ID ": duplicate key 'Image' (first at line 8)");
	expect_error(HEAD
		     "    sel:\n"
		     "        Image: !!binary aGk=\n"
		     "    condition: sel\n",
		     "rules/x.yml:8:16: error: rule " ID ": unsupported YAML tag "
		     "'tag:yaml.org,2002:binary'");
	expect_error("title: t\nid: not-a-uuid\nlogsource: {category: process_creation}\n"
		     "detection: {sel: {Image: x}, condition: sel}\n",
		     "rules/x.yml:2:5: error: rule not-a-uuid: id 'not-a-uuid' is not a UUID");
	expect_error("title: t\nid: " ID "\nlevel: severe\nlogsource: {category: process_creation}\n"
		     "detection: {sel: {Image: x}, condition: sel}\n",
		     "rules/x.yml:3:8: error: rule " ID ": unknown level 'severe'");
}

static void test_ringward_block(void **state)
{
	expect_error(HEAD
		     "    sel:\n"
		     "        Image: x\n"
		     "    condition: sel\n"
		     "ringward:\n"
		     "    action: delete\n",
		     "rules/x.yml:11:13: error: rule " ID ": unknown ringward.action 'delete' (one "
		     "of alert, block, kill, quarantine)");
	expect_error(HEAD
		     "    sel:\n"
		     "        Image: x\n"
		     "    condition: sel\n"
		     "ringward:\n"
		     "    actoin: kill\n",
		     "rules/x.yml:11:5: error: rule " ID ": unknown key 'ringward.actoin' (known: "
		     "action, fail, kill_group, allow_protected)");
	expect_error(HEAD
		     "    sel:\n"
		     "        Image: x\n"
		     "    condition: sel\n"
		     "ringward: kill\n",
		     "rules/x.yml:10:11: error: rule " ID ": 'ringward' must be a mapping (e.g. "
		     "'action: alert')");
}

static void test_placeholders_and_fieldref_errors(void **state)
{
	expect_error(HEAD
		     "    sel:\n"
		     "        User|expand: '%admins%'\n"
		     "    condition: sel\n",
		     "rules/x.yml:8:22: error: rule " ID ": field 'User': placeholder %admins% has no "
		     "configured values (give them with --placeholders FILE)");
	expect_error(HEAD
		     "    sel:\n"
		     "        Image|fieldref: Foo\n"
		     "    condition: sel\n",
		     "rules/x.yml:8:25: error: rule " ID ": fieldref names field 'Foo', which is not "
		     "supplied for category 'process_creation' by this sensor (schema 2)");
}

static void test_all_errors_reported(void **state)
{
	const char *text = HEAD
		"    selection:\n"			/* 7 */
		"        Foo: x\n"			/* 8 */
		"        Bar|contains: y\n"		/* 9 */
		"    unused:\n"				/* 10 */
		"        Image: z\n"			/* 11 */
		"    condition: selection\n"		/* 12 */
		"---\n"					/* 13 */
		"title: second\n"			/* 14 */
		"logsource: {category: file_event}\n"	/* 15 */
		"detection:\n"				/* 16 */
		"    sel:\n"				/* 17 */
		"        TargetFilename: /x\n"		/* 18 */
		"    condition: sel and nope\n";	/* 19 */
	struct diag d;
	char buf[512];

	assert_int_equal(load_errs(text, NULL, 0, &d), 4);
	assert_int_equal(d.n, 4);
	diag__format(&d.v[0], buf, sizeof(buf));
	assert_string_equal(buf, "rules/x.yml:8:9: error: rule " ID ": field 'Foo' is not supplied "
			    "for category 'process_creation' by this sensor (schema 2)");
	diag__format(&d.v[1], buf, sizeof(buf));
	assert_string_equal(buf, "rules/x.yml:9:9: error: rule " ID ": field 'Bar' is not supplied "
			    "for category 'process_creation' by this sensor (schema 2)");
	diag__format(&d.v[2], buf, sizeof(buf));
	assert_string_equal(buf, "rules/x.yml:10:5: error: rule " ID ": search identifier 'unused' "
			    "is defined but not used by the condition");
	diag__format(&d.v[3], buf, sizeof(buf));
	assert_string_equal(buf, "rules/x.yml:19:24: error: condition: undefined search "
			    "identifier 'nope'");
	diag__free(&d);
}

/* ---- limits ---- */

static void test_limits(void **state)
{
	struct diag d;
	char *big, buf[512];
	size_t n;

	/* file size */
	big = malloc(SIGMA_MAX_FILE_SIZE + 2);
	assert_non_null(big);
	memset(big, '#', SIGMA_MAX_FILE_SIZE + 1);
	big[SIGMA_MAX_FILE_SIZE + 1] = 0;
	expect_error(big, "rules/x.yml: error: file is 1048577 bytes, more than the limit of "
		     "1048576");
	/* values per rule: windash of 6 flags makes 5^6 = 15625 values */
	expect_error(HEAD
		     "    sel:\n"
		     "        CommandLine|windash: '-a -b -c -d -e -f'\n"
		     "    condition: sel\n",
		     "rules/x.yml:8:30: error: rule " ID ": field 'CommandLine': windash makes 5 "
		     "values per flag dash: the rule would have more than 4096 values");
	/* pattern length */
	n = (size_t)snprintf(big, SIGMA_MAX_FILE_SIZE, HEAD "    sel:\n        Image: '");
	memset(big + n, 'a', SIGMA_MAX_PATTERN_LEN + 1);
	n += SIGMA_MAX_PATTERN_LEN + 1;
	snprintf(big + n, 64, "'\n    condition: sel\n");
	expect_error(big, "rules/x.yml:8:16: error: rule " ID ": value of 4097 bytes is longer "
		     "than the limit of 4096");
	/* condition depth */
	n = (size_t)snprintf(big, SIGMA_MAX_FILE_SIZE, HEAD "    sel:\n        Image: x\n"
			     "    condition: ");
	for (int i = 0; i < SIGMA_MAX_COND_DEPTH + 1; i++)
		big[n++] = '(';
	snprintf(big + n, 64, "sel");
	expect_error(big, "rules/x.yml:9:48: error: rule " ID ": condition: condition nested deeper "
		     "than 32 levels");
	/* YAML nesting */
	n = (size_t)snprintf(big, SIGMA_MAX_FILE_SIZE, "title: t\nx: ");
	for (int i = 0; i < SIGMA_MAX_YAML_DEPTH + 2; i++)
		big[n++] = '[';
	for (int i = 0; i < SIGMA_MAX_YAML_DEPTH + 2; i++)
		big[n++] = ']';
	big[n] = 0;
	diag__init(&d);
	assert_null(ruleset__load_buffer("rules/x.yml", big, n, NULL, &d));
	assert_int_equal(d.n_errors, 1);
	diag__format(&d.v[0], buf, sizeof(buf));
	assert_string_equal(buf, "rules/x.yml:2:35: error: YAML nested deeper than 32 levels");
	diag__free(&d);
	free(big);
}

static void test_values_limit_counts_expansion(void **state)
{
	/* 1400 values with base64offset (3 each) exceed 4096 at the 1366th */
	size_t cap = 64 * 1024, n;
	char *t = malloc(cap);
	char buf[512];
	struct diag d;

	assert_non_null(t);
	n = (size_t)snprintf(t, cap, HEAD "    sel:\n        CommandLine|base64offset|contains:\n");
	for (int i = 0; i < 1400; i++)
		n += (size_t)snprintf(t + n, cap - n, "            - v%d\n", i);
	snprintf(t + n, cap - n, "    condition: sel\n");
	assert_int_equal(load_errs(t, buf, sizeof(buf), &d), 1);
	assert_string_equal(buf, "rules/x.yml:1374:15: error: rule " ID ": field 'CommandLine': "
			    "base64offset makes 3 values of each: the rule would have more than 4096 "
			    "values");
	diag__free(&d);
	free(t);
}

/* ---- files and directories ---- */

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static const char *rule_text(char *buf, size_t n, int k)
{
	snprintf(buf, n, "title: r%d\nid: 00000000-0000-4000-8000-%012d\n"
		 "logsource: {product: linux, category: process_creation}\n"
		 "detection: {sel: {Image|endswith: /x%d}, condition: sel}\n", k, k, k);
	return buf;
}

static void test_directories(void **state)
{
	char *dir = rwt_mkdtemp("sigma-load");
	char sub[512], sub2[512], link[512], buf[512];
	const char *paths[1];
	struct ruleset *rs;
	struct diag d;

	assert_non_null(dir);
	snprintf(sub, sizeof(sub), "%s/a", dir);
	snprintf(sub2, sizeof(sub2), "%s/a/b", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	assert_int_equal(mkdir(sub2, 0755), 0);
	write_file(dir, "one.yml", rule_text(buf, sizeof(buf), 1));
	write_file(sub, "two.yaml", rule_text(buf, sizeof(buf), 2));
	write_file(sub2, "three.yml", rule_text(buf, sizeof(buf), 3));
	write_file(sub2, "notes.txt", "not a rule");
	write_file(dir, ".hidden.yml", "not: [a rule");
	/* a symlinked directory is not followed (no loops) */
	snprintf(link, sizeof(link), "%s/a/b/loop", dir);
	assert_int_equal(symlink(dir, link), 0);
	paths[0] = dir;
	diag__init(&d);
	rs = ruleset__load(paths, 1, &d);
	assert_non_null(rs);
	assert_int_equal(d.n_errors, 0);
	assert_int_equal(ruleset__count(rs), 3);
	assert_int_equal(ruleset__files(rs), 3);
	/* sorted order: a/b/three.yml, a/two.yaml, one.yml */
	assert_string_equal(ruleset__rule(rs, 0)->title, "r3");
	assert_string_equal(ruleset__rule(rs, 1)->title, "r2");
	assert_string_equal(ruleset__rule(rs, 2)->title, "r1");
	ruleset__free(rs);

	/* the same id twice in one set */
	write_file(sub, "dup.yml", rule_text(buf, sizeof(buf), 1));
	rs = ruleset__load(paths, 1, &d);
	assert_null(rs);
	assert_int_equal(d.n_errors, 1);
	{
		char want[1024], got[1024];

		snprintf(want, sizeof(want), "%s/one.yml:2:5: error: rule "
			 "00000000-0000-4000-8000-000000000001: duplicate rule id (first loaded "
			 "from %s/a/dup.yml:2)", dir, dir);
		diag__format(&d.v[0], got, sizeof(got));
		assert_string_equal(got, want);
	}
	diag__free(&d);

	/* a path that does not exist */
	paths[0] = "/nonexistent/ringward";
	diag__init(&d);
	assert_null(ruleset__load(paths, 1, &d));
	diag__format(&d.v[0], buf, sizeof(buf));
	assert_string_equal(buf, "/nonexistent/ringward: error: cannot open: No such file or "
			    "directory");
	diag__free(&d);
	rwt_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_rule_loads),
		cmocka_unit_test(test_field_not_supplied),
		cmocka_unit_test(test_bad_yaml),
		cmocka_unit_test(test_missing_parts),
		cmocka_unit_test(test_logsource),
		cmocka_unit_test(test_unknown_modifier),
		cmocka_unit_test(test_wrong_value_types),
		cmocka_unit_test(test_regex_and_cidr),
		cmocka_unit_test(test_refused_documents),
		cmocka_unit_test(test_yaml_hazards),
		cmocka_unit_test(test_ringward_block),
		cmocka_unit_test(test_placeholders_and_fieldref_errors),
		cmocka_unit_test(test_all_errors_reported),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_values_limit_counts_expansion),
		cmocka_unit_test(test_directories),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
