/*
 * content-health records (issue 6): the running content's health since it
 * was activated, written through the sensor's normal output for a rollout
 * controller. A real sensor, a real engine killed with SIGKILL.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"

#define WAIT_MS		15000

static struct rwt_sensor sensor;
static bool sensor_up;

static int teardown(void **st)
{
	(void)st;
	if (sensor_up)
		rwt_sensor_stop(&sensor);
	rwt_sensor_free(&sensor);
	sensor_up = false;
	return 0;
}

static bool is_action(json_object *rec, void *arg)
{
	const char *a = rwt_str(rec, "event.action");

	return a && !strcmp(a, arg);
}

struct want_health {
	int64_t restarts;
	const char *version;
};

static bool is_health(json_object *rec, void *arg)
{
	struct want_health *w = arg;
	const char *v = rwt_str(rec, "ringward.content.version");

	return is_action(rec, "content-health") && v && (!w->version || !strcmp(v, w->version)) &&
	       rwt_int(rec, "ringward.health.engine_restarts", -1) == w->restarts;
}

/* Health since activation: no restart at first; an engine killed with
 * SIGKILL shows as one restart and one failure of the same version. */
static void test_health_counts_engine_failures(void **st)
{
	const char *argv[] = { "--health-interval", "1", NULL };
	struct want_health w = { 0, NULL };
	json_object *rec, *started;
	char version[128];
	pid_t eng;

	(void)st;
	sensor_up = rwt_sensor_start(&sensor, argv) == 0;
	RWT_SKIP_UNLESS_UP(sensor_up);
	rec = rwt_wait_for(&sensor, is_health, &w, WAIT_MS);
	assert_non_null(rec);
	snprintf(version, sizeof(version), "%s", rwt_str(rec, "ringward.content.version"));
	assert_int_equal(strncmp(version, "sha256:", 7), 0);
	assert_int_equal(rwt_int(rec, "ringward.health.engine_failures", -1), 0);
	assert_int_equal(rwt_int(rec, "ringward.health.rule_errors", -1), 0);
	assert_non_null(rwt_str(rec, "ringward.health.activated"));
	assert_non_null(rwt_get(rec, "ringward.health.eval_ns_per_event"));
	assert_non_null(rwt_get(rec, "ringward.health.drops"));

	started = rwt_wait_for(&sensor, is_action, "engine-started", WAIT_MS);
	assert_non_null(started);
	eng = (pid_t)rwt_int(started, "ringward.engine.pid", 0);
	assert_true(eng > 0);
	assert_int_equal(kill(eng, SIGKILL), 0);
	w.restarts = 1;
	w.version = version;
	rec = rwt_wait_for(&sensor, is_health, &w, WAIT_MS);
	assert_non_null(rec);
	assert_int_equal(rwt_int(rec, "ringward.health.engine_failures", -1), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_health_counts_engine_failures, teardown),
	};

	return cmocka_run_group_tests_name("health", tests, NULL, NULL);
}
