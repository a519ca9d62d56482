/*
 * Content in the running sensor, end to end: real rule files in a real
 * directory, real execs, alerts read from the sensor's output. Checks that
 * a new rule takes effect on reload (directory change, SIGHUP, `ringward
 * reload`), that content which fails to load leaves the running content in
 * place and says why (file:line:col), and that no event goes unevaluated
 * across reloads (every exec of a marked command gets exactly one alert).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#define WAIT_MS 15000

static struct rwt_sensor sensor;
static bool sensor_up;
static char *dir;

static const char rule_fmt[] =
	"title: ringward test rule %s\n"
	"id: %s\n"
	"status: test\n"
	"description: exec of /bin/true with the marker argument\n"
	"author: ringward tests\n"
	"level: high\n"
	"logsource:\n"
	"    category: process_creation\n"
	"    product: linux\n"
	"detection:\n"
	"    selection:\n"
	"        Image|endswith: '/true'\n"
	"        CommandLine|contains: '%s'\n"
	"    condition: selection\n";

/* Write a file atomically (temp + rename), as an operator's tool would. */
static void put_file_in(const char *d, const char *name, const char *text)
{
	char path[512], tmp[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", d, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", d, name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(rename(tmp, path), 0);
}

static void put_file(const char *name, const char *text)
{
	put_file_in(dir, name, text);
}

static void put_rule_in(const char *d, const char *name, const char *id, const char *marker)
{
	char text[2048];

	snprintf(text, sizeof(text), rule_fmt, marker, id, marker);
	put_file_in(d, name, text);
}

static void put_rule(const char *name, const char *id, const char *marker)
{
	put_rule_in(dir, name, id, marker);
}

static const char bad_rule[] =
	"title: bad\n"
	"id: 0a7c1d2e-0000-4000-8000-00000000000c\n"
	"status: test\n"
	"author: ringward tests\n"
	"level: low\n"
	"logsource:\n"
	"    category: process_creation\n"
	"    product: linux\n"
	"detection:\n"
	"    selection:\n"
	"        NoSuchField: x\n"
	"    condition: selection\n";

static void run_true(const char *marker)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		execl("/bin/true", "true", marker, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

struct alert_want {
	const char *rule_id;
	const char *marker;
};

static bool is_alert(json_object *rec, void *arg)
{
	struct alert_want *w = arg;
	const char *kind = rwt_str(rec, "event.kind");
	const char *id = rwt_str(rec, "rule.id");
	const char *cmd = rwt_str(rec, "process.command_line");

	return kind && strcmp(kind, "alert") == 0 && id && strcmp(id, w->rule_id) == 0 &&
	       cmd && strstr(cmd, w->marker);
}

struct content_want {
	const char *action;
	int64_t rules;		/* -1: any */
	size_t nth;		/* the nth such record (1-based) */
};

static size_t seen;
static bool is_content_rec(json_object *rec, void *arg)
{
	struct content_want *w = arg;
	const char *a = rwt_str(rec, "event.action");

	if (!a || strcmp(a, w->action) != 0)
		return false;
	if (w->rules >= 0 && rwt_int(rec, "ringward.content.rules", -1) != w->rules)
		return false;
	return ++seen >= w->nth;
}

static json_object *wait_content(const char *action, int64_t rules, size_t nth)
{
	struct content_want w = { action, rules, nth };

	/* rwt_wait_for rescans from the start each poll: count afresh */
	for (int waited = 0; waited <= WAIT_MS; waited += 50) {
		json_object *r;

		seen = 0;
		r = rwt_wait_for(&sensor, is_content_rec, &w, 0);
		if (r)
			return r;
		usleep(50 * 1000);
	}
	return NULL;
}

static size_t count_content(const char *action)
{
	struct content_want w = { action, -1, 1 };
	size_t n = 0;

	rwt_sensor_poll(&sensor);
	for (size_t i = 0; i < sensor.n_recs; i++) {
		seen = 0;
		n += is_content_rec(sensor.recs[i], &w);
	}
	return n;
}

static int setup(void **state)
{
	const char *why = rwt_kernel_skip_reason();
	const char *extra[] = { "--content", NULL, NULL };

	if (why)
		return 0;
	dir = rwt_mkdtemp("content");
	assert_non_null(dir);
	put_rule("a.yml", "0a7c1d2e-0000-4000-8000-00000000000a", "rw-live-marker-A");
	extra[1] = dir;
	assert_int_equal(rwt_sensor_start(&sensor, extra), 0);
	sensor_up = true;
	assert_non_null(wait_content("content-loaded", 1, 1));
	return 0;
}

static int teardown(void **state)
{
	if (sensor_up) {
		int st = rwt_sensor_stop(&sensor);

		rwt_sensor_free(&sensor);
		sensor_up = false;
		rwt_rmtree(dir);
		free(dir);
		if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
			fprintf(stderr, "sensor did not exit 0 (status %d)\n", st);
			return -1;
		}
	}
	return 0;
}

static bool skip_if_needed(void)
{
	const char *why = rwt_kernel_skip_reason();

	if (why) {
		printf("%s\n", why);
		return true;
	}
	return false;
}

static void test_rule_alerts(void **state)
{
	struct alert_want w = { "0a7c1d2e-0000-4000-8000-00000000000a", "rw-live-marker-A" };
	json_object *a;

	if (skip_if_needed()) {
		skip();
		return;
	}
	run_true("rw-live-marker-A");
	a = rwt_wait_for(&sensor, is_alert, &w, WAIT_MS);
	assert_non_null(a);
	assert_string_equal(rwt_str(a, "rule.name"), "ringward test rule rw-live-marker-A");
	assert_string_equal(rwt_str(a, "process.executable"), "/usr/bin/true");
	assert_string_equal(rwt_str(a, "event.action"), "exec");
	assert_string_equal(rwt_str(a, "rule.author"), "ringward tests");
}

static void test_new_rule_on_dir_change(void **state)
{
	struct alert_want w = { "0a7c1d2e-0000-4000-8000-00000000000b", "rw-live-marker-B" };

	if (skip_if_needed()) {
		skip();
		return;
	}
	/* before the rule exists: no alert for B */
	run_true("rw-live-marker-B");
	put_rule("b.yml", "0a7c1d2e-0000-4000-8000-00000000000b", "rw-live-marker-B");
	assert_non_null(wait_content("content-loaded", 2, 1));
	assert_int_equal(rwt_count(&sensor, is_alert, &w), 0);
	run_true("rw-live-marker-B");
	assert_non_null(rwt_wait_for(&sensor, is_alert, &w, WAIT_MS));
	rwt_sensor_poll(&sensor);
	/* exactly one: the exec before the rule existed was not alerted */
	assert_int_equal(rwt_count(&sensor, is_alert, &w), 1);
}

static void test_bad_content_keeps_running_set(void **state)
{
	struct alert_want w = { "0a7c1d2e-0000-4000-8000-00000000000a", "rw-live-marker-A2" };
	json_object *fail, *errs;
	const char *e0;
	size_t before;

	if (skip_if_needed()) {
		skip();
		return;
	}
	before = count_content("content-load-failed");
	/* a rule naming a field this sensor does not supply (line 11, col 9) */
	put_file("c.yml", bad_rule);
	fail = wait_content("content-load-failed", -1, before + 1);
	assert_non_null(fail);
	assert_string_equal(rwt_str(fail, "event.outcome"), "failure");
	errs = rwt_get(fail, "ringward.content.errors");
	assert_non_null(errs);
	e0 = json_object_get_string(json_object_array_get_idx(errs, 0));
	assert_non_null(strstr(e0, "c.yml:11:9: error:"));
	assert_non_null(strstr(e0, "NoSuchField"));
	/* the running content still evaluates */
	run_true("rw-live-marker-A2");
	assert_non_null(rwt_wait_for(&sensor, is_alert, &w, WAIT_MS));
	/* fixing it and asking by SIGHUP loads all three */
	put_rule("c.yml", "0a7c1d2e-0000-4000-8000-00000000000c", "rw-live-marker-C");
	assert_non_null(wait_content("content-loaded", 3, 1));
}

static void test_reload_command_and_no_gap(void **state)
{
	struct alert_want w = { "0a7c1d2e-0000-4000-8000-00000000000a", "rw-live-marker-A-gap" };
	char cmd[512];
	size_t loaded_before;
	const int n = 60;

	if (skip_if_needed()) {
		skip();
		return;
	}
	loaded_before = count_content("content-loaded");
	snprintf(cmd, sizeof(cmd), "%s/ringward reload >/dev/null", rwt_build_dir());
	assert_int_equal(system(cmd), 0);
	assert_non_null(wait_content("content-loaded", -1, loaded_before + 1));

	/* execs interleaved with reloads: each gets exactly one alert, so no
	 * event was evaluated by neither set (nor by both) */
	for (int i = 0; i < n; i++) {
		run_true("rw-live-marker-A-gap");
		if (i % 10 == 5)
			kill(sensor.pid, SIGHUP);
	}
	for (int waited = 0; waited < WAIT_MS; waited += 50) {
		rwt_sensor_poll(&sensor);
		if (rwt_count(&sensor, is_alert, &w) >= (size_t)n)
			break;
		usleep(50 * 1000);
	}
	usleep(200 * 1000);
	rwt_sensor_poll(&sensor);
	assert_int_equal(rwt_count(&sensor, is_alert, &w), n);
	assert_true(count_content("content-loaded") >= loaded_before + 2);
}

/* A record with event.action == action and, when field is set, that value. */
struct rec_want {
	const char *action, *field, *value;
};

static bool is_rec(json_object *rec, void *arg)
{
	struct rec_want *w = arg;
	const char *a = rwt_str(rec, "event.action"), *v;

	if (!a || strcmp(a, w->action))
		return false;
	if (!w->field)
		return true;
	v = rwt_str(rec, w->field);
	return v && !strcmp(v, w->value);
}

/* The last content that loaded is used at the next start when the
 * configured content then fails to load: a bad update never leaves the
 * host without detection. Its own sensor and state directory. */
static struct rwt_sensor s2;	/* test_lkg_used_at_start's own sensor */
static char *cdir, *sdir;

static int lkg_teardown(void **state)
{
	rwt_sensor_free(&s2);	/* stops it when still running */
	rwt_rmtree(cdir);
	rwt_rmtree(sdir);
	free(cdir);
	free(sdir);
	cdir = sdir = NULL;
	return 0;
}

static void test_lkg_used_at_start(void **state)
{
	const char *id = "0a7c1d2e-0000-4000-8000-0000000000d1";
	struct alert_want aw = { id, "rw-live-lkg-marker" };
	struct rec_want lkg_saved = { "content-lkg-saved", NULL, NULL };
	struct rec_want failed = { "content-load-failed", NULL, NULL };
	struct rec_want from_lkg = { "content-loaded", "ringward.content.source", "last-known-good" };
	int st;

	if (skip_if_needed()) {
		skip();
		return;
	}
	cdir = rwt_mkdtemp("lkg-content");
	sdir = rwt_mkdtemp("lkg-state");
	assert_non_null(cdir);
	assert_non_null(sdir);
	{
		const char *args[] = { "--content", cdir, "--state-dir", sdir, "--lkg-after", "1",
				       NULL };

		put_rule_in(cdir, "a.yml", id, "rw-live-lkg-marker");
		assert_int_equal(rwt_sensor_start(&s2, args), 0);
		assert_non_null(rwt_wait_for(&s2, is_rec, &lkg_saved, WAIT_MS));
		st = rwt_sensor_stop(&s2);
		rwt_sensor_free(&s2);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);

		/* the update that breaks it, then a restart */
		put_file_in(cdir, "b.yml", bad_rule);
		assert_int_equal(rwt_sensor_start(&s2, args), 0);
	}
	assert_non_null(rwt_wait_for(&s2, is_rec, &failed, WAIT_MS));
	assert_non_null(rwt_wait_for(&s2, is_rec, &from_lkg, WAIT_MS));
	run_true("rw-live-lkg-marker");
	assert_non_null(rwt_wait_for(&s2, is_alert, &aw, WAIT_MS));
	st = rwt_sensor_stop(&s2);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rule_alerts),
		cmocka_unit_test(test_new_rule_on_dir_change),
		cmocka_unit_test(test_bad_content_keeps_running_set),
		cmocka_unit_test(test_reload_command_and_no_gap),
		cmocka_unit_test_teardown(test_lkg_used_at_start, lkg_teardown),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
