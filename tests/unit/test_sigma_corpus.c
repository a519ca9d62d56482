/*
 * The SigmaHQ Linux corpus (../shared/sigma-linux, unmodified, DRL 1.1):
 * every rule loads, every rule evaluates against events of its category
 * without error, and sample rules match the events they describe and not
 * the ones they exclude.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testlib.h"

#include "common/event.h"
#include "engine/ruleset.h"

#define CORPUS "../shared/sigma-linux"

static struct ruleset *corpus;

static int setup(void **state)
{
	static const char *const paths[] = {
		CORPUS "/rules", CORPUS "/rules-emerging-threats", CORPUS "/rules-threat-hunting",
	};
	struct stat st;
	struct diag d;

	if (stat(CORPUS, &st) != 0)
		return 0;	/* the tests skip */
	diag__init(&d);
	corpus = ruleset__load(paths, 3, &d);
	diag__print(&d, stderr);
	diag__free(&d);
	return 0;
}

static int teardown(void **state)
{
	ruleset__free(corpus);
	corpus = NULL;
	return 0;
}

#define NEED_CORPUS()                                           \
	do {                                                    \
		struct stat st_;                                \
		if (stat(CORPUS, &st_) != 0)                    \
			skip();                                 \
	} while (0)

static void test_every_rule_loads(void **state)
{
	size_t per_cat[16] = { 0 };

	NEED_CORPUS();
	assert_non_null(corpus);
	/* one rule per file, 133 files at the pinned commit */
	assert_int_equal(ruleset__count(corpus), ruleset__files(corpus));
	assert_int_equal(ruleset__count(corpus), 133);
	for (size_t i = 0; i < ruleset__count(corpus); i++) {
		const struct rule_info *ri = ruleset__rule(corpus, i);

		assert_non_null(ri->id);
		assert_non_null(ri->author);	/* alerts must carry it (DRL) */
		if (!strcmp(ri->category, "process_creation"))
			per_cat[0]++;
		else if (!strcmp(ri->category, "file_event"))
			per_cat[1]++;
		else if (!strcmp(ri->category, "network_connection"))
			per_cat[2]++;
	}
	assert_int_equal(per_cat[0], 115);
	assert_int_equal(per_cat[1], 15);
	assert_int_equal(per_cat[2], 3);
}

/* Every rule runs on events of every action without disabling itself. */
static void test_every_rule_evaluates(void **state)
{
	static const char *const actions[] = { "exec", "create", "modify", "rename", "connect",
					       "accept" };
	struct rw_event *ev = rw_event__new();
	struct ruleset_stats st;

	NEED_CORPUS();
	assert_non_null(corpus);
	for (size_t a = 0; a < sizeof(actions) / sizeof(actions[0]); a++) {
		rw_event__reset(ev);
		rw_event__set_cstr(ev, RW_F_EVENT_ACTION, actions[a]);
		rw_event__set_cstr(ev, RW_F_PROC_EXECUTABLE, "/usr/bin/bash");
		rw_event__set_cstr(ev, RW_F_PROC_COMMAND_LINE, "bash -c true");
		rw_event__set_cstr(ev, RW_F_PARENT_EXECUTABLE, "/usr/sbin/sshd");
		rw_event__set_cstr(ev, RW_F_PARENT_COMMAND_LINE, "sshd: user");
		rw_event__set_cstr(ev, RW_F_USER_NAME, "user");
		rw_event__set_cstr(ev, RW_F_PROC_CWD, "/home/user");
		rw_event__set_cstr(ev, RW_F_FILE_PATH, "/home/user/notes.txt");
		rw_event__set_cstr(ev, RW_F_DEST_IP, "192.0.2.1");
		rw_event__set_int(ev, RW_F_DEST_PORT, 443);
		rw_event__set_cstr(ev, RW_F_DEST_DOMAIN, "example.org");
		assert_true(ruleset__match(corpus, ev, NULL, NULL) >= 0);
		/* the compiled matcher evaluates only the rules a field can
		 * make true; the naive evaluator runs every one */
		assert_true(ruleset__match_naive(corpus, ev, NULL, NULL) >= 0);
	}
	ruleset__stats(corpus, &st);
	assert_int_equal(st.disabled_oob, 0);
	assert_int_equal(st.re_errors, 0);
	assert_true(st.evaluations >= 133);
	free(ev);
}

struct found {
	const char *id;
	int hit;
};

static int on_match(const struct rule_info *ri, const struct rw_event *ev, void *ctx)
{
	struct found *f = ctx;

	if (ri->id && !strcmp(ri->id, f->id))
		f->hit++;
	return 0;
}

static int fires(const char *id, const struct rw_event *ev)
{
	struct found f = { id, 0 };

	assert_true(ruleset__match(corpus, ev, on_match, &f) >= 0);
	return f.hit;
}

static struct rw_event *event(const char *action)
{
	struct rw_event *ev = rw_event__new();

	assert_non_null(ev);
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, action);
	return ev;
}

static void test_omigod(void **state)
{
	const char *id = "6eea1bf6-f8d2-488a-a742-e6ef6c1b67db";
	struct rw_event *ev = event("exec");

	NEED_CORPUS();
	rw_event__set_cstr(ev, RW_F_PROC_EXECUTABLE, "/bin/sh");
	rw_event__set_cstr(ev, RW_F_PROC_COMMAND_LINE,
			   "/bin/sh /etc/opt/microsoft/scx/conf/tmpdir/scx-4711");
	rw_event__set_cstr(ev, RW_F_USER_NAME, "root");
	rw_event__set_cstr(ev, RW_F_RW_LOGIN_UID, "0");
	rw_event__set_cstr(ev, RW_F_PROC_CWD, "/var/opt/microsoft/scx/tmp");
	assert_int_equal(fires(id, ev), 1);
	rw_event__set_cstr(ev, RW_F_RW_LOGIN_UID, "1000");
	assert_int_equal(fires(id, ev), 0);
	rw_event__set_cstr(ev, RW_F_RW_LOGIN_UID, "0");
	rw_event__set_cstr(ev, RW_F_PROC_CWD, "/tmp");
	assert_int_equal(fires(id, ev), 0);
	free(ev);
}

static void test_localtonet(void **state)
{
	const char *id = "c4568f5d-131f-4e78-83d4-45b2da0ec4f1";
	struct rw_event *ev = event("connect");

	NEED_CORPUS();
	rw_event__set_cstr(ev, RW_F_DEST_DOMAIN, "abc.LOCALTO.net");
	rw_event__set_cstr(ev, RW_F_DEST_IP, "198.51.100.7");
	assert_int_equal(fires(id, ev), 1);
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, "accept");	/* Initiated: 'false' */
	assert_int_equal(fires(id, ev), 0);
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, "connect");
	rw_event__set_cstr(ev, RW_F_DEST_DOMAIN, "localto.net.example.org");
	assert_int_equal(fires(id, ev), 0);
	free(ev);
}

static void test_wget_into_tmp(void **state)
{
	const char *id = "35a05c60-9012-49b6-a11f-6bab741c9f74";
	struct rw_event *ev = event("create");

	NEED_CORPUS();
	rw_event__set_cstr(ev, RW_F_PROC_EXECUTABLE, "/usr/bin/wget");
	rw_event__set_cstr(ev, RW_F_FILE_PATH, "/tmp/payload.sh");
	assert_int_equal(fires(id, ev), 1);
	rw_event__set_cstr(ev, RW_F_FILE_PATH, "/home/u/payload.sh");
	assert_int_equal(fires(id, ev), 0);
	rw_event__set_cstr(ev, RW_F_FILE_PATH, "/var/tmp/x");
	rw_event__set_cstr(ev, RW_F_PROC_EXECUTABLE, "/usr/bin/curl");
	assert_int_equal(fires(id, ev), 0);
	/* an exec event is not a file_event */
	rw_event__set_cstr(ev, RW_F_PROC_EXECUTABLE, "/usr/bin/wget");
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, "exec");
	assert_int_equal(fires(id, ev), 0);
	free(ev);
}

static void test_long_filename_regex(void **state)
{
	const char *id = "11629c4d-0fe6-465b-be62-b39a1c442aad";
	struct rw_event *ev = event("create");
	char path[300];

	NEED_CORPUS();
	memcpy(path, "/home/u/", 8);
	memset(path + 8, 'a', 120);
	path[128] = 0;
	rw_event__set_cstr(ev, RW_F_FILE_PATH, path);
	assert_int_equal(fires(id, ev), 1);
	path[8 + 99] = '/';	/* a '/' breaks the run of 100 */
	rw_event__set_cstr(ev, RW_F_FILE_PATH, path);
	assert_int_equal(fires(id, ev), 0);
	/* filtered: under /var/log/journal/ */
	memcpy(path, "/var/log/journal/", 17);
	memset(path + 17, 'b', 120);
	path[137] = 0;
	rw_event__set_cstr(ev, RW_F_FILE_PATH, path);
	assert_int_equal(fires(id, ev), 0);
	free(ev);
}

static void test_auditctl_regex_is_cased(void **state)
{
	const char *id = "bed26dea-4525-47f4-b24a-76e30e44ffb0";
	struct rw_event *ev = event("exec");

	NEED_CORPUS();
	rw_event__set_cstr(ev, RW_F_PROC_EXECUTABLE, "/usr/sbin/auditctl");
	rw_event__set_cstr(ev, RW_F_PROC_COMMAND_LINE, "auditctl -D");
	assert_int_equal(fires(id, ev), 1);
	rw_event__set_cstr(ev, RW_F_PROC_COMMAND_LINE, "auditctl -d always,exit");
	assert_int_equal(fires(id, ev), 0);
	free(ev);
}

static void test_sensitive_file_access_filter(void **state)
{
	const char *id = "86157017-c2b1-4d4a-8c33-93b8e67e4af4";
	struct rw_event *ev = event("exec");

	NEED_CORPUS();
	rw_event__set_cstr(ev, RW_F_PROC_EXECUTABLE, "/usr/bin/sed");
	rw_event__set_cstr(ev, RW_F_PROC_COMMAND_LINE, "sed -i s/a/b/ /etc/hosts");
	assert_int_equal(fires(id, ev), 1);
	/* a wildcard inside contains: '/etc/ * .conf' without the spaces */
	rw_event__set_cstr(ev, RW_F_PROC_COMMAND_LINE, "sed -i s/a/b/ /etc/ld.so.conf");
	assert_int_equal(fires(id, ev), 1);
	/* the mdadm filter excludes this one */
	rw_event__set_cstr(ev, RW_F_PROC_EXECUTABLE, "/bin/sed");
	rw_event__set_cstr(ev, RW_F_PROC_COMMAND_LINE, "sed -i /^ARRAY/d /etc/mdadm/mdadm.conf");
	assert_int_equal(fires(id, ev), 0);
	/* cat needs a '>' as well */
	rw_event__set_cstr(ev, RW_F_PROC_EXECUTABLE, "/bin/cat");
	rw_event__set_cstr(ev, RW_F_PROC_COMMAND_LINE, "cat /etc/hosts");
	assert_int_equal(fires(id, ev), 0);
	rw_event__set_cstr(ev, RW_F_PROC_COMMAND_LINE, "cat x > /etc/hosts");
	assert_int_equal(fires(id, ev), 1);
	free(ev);
}

static void test_netcat_listen_filter(void **state)
{
	const char *id = "3e102cd9-a70d-4a7a-9508-403963092f31";
	struct rw_event *ev = event("exec");

	NEED_CORPUS();
	rw_event__set_cstr(ev, RW_F_PROC_EXECUTABLE, "/usr/bin/nc");
	rw_event__set_cstr(ev, RW_F_PROC_COMMAND_LINE, "nc 10.0.0.1 4444");
	assert_int_equal(fires(id, ev), 1);
	rw_event__set_cstr(ev, RW_F_PROC_COMMAND_LINE, "nc -l -p 4444 x");
	assert_int_equal(fires(id, ev), 0);
	rw_event__set_cstr(ev, RW_F_PROC_EXECUTABLE, "/usr/bin/nmap");
	assert_int_equal(fires(id, ev), 1);
	free(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_rule_loads),
		cmocka_unit_test(test_every_rule_evaluates),
		cmocka_unit_test(test_omigod),
		cmocka_unit_test(test_localtonet),
		cmocka_unit_test(test_wget_into_tmp),
		cmocka_unit_test(test_long_filename_regex),
		cmocka_unit_test(test_auditctl_regex_is_cased),
		cmocka_unit_test(test_sensitive_file_access_filter),
		cmocka_unit_test(test_netcat_listen_filter),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
