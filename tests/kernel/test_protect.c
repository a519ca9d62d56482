/*
 * Protect mode on the real sensor (issue 5): fanotify permission events
 * answered by the engine within a deadline, kill, quarantine, and the
 * sensor's own files kept from writing.
 *
 * Each test copies real binaries into its own directory (so nothing else
 * on the host matches its rules), starts the real sensor with rules made
 * for it, and drives real execs, opens and writes.
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

#define WAIT_MS		15000

static struct rwt_sensor sensor;
static bool sensor_up;
static char *dir;
static pid_t stopped_engine;	/* SIGCONT in teardown, whatever happens */

static int setup(void **st)
{
	char rules[600];

	(void)st;
	dir = rwt_mkdtemp("protect");
	if (!dir)
		return -1;
	snprintf(rules, sizeof(rules), "%s/rules", dir);
	return mkdir(rules, 0755);
}

static int teardown(void **st)
{
	(void)st;
	if (stopped_engine > 0)
		kill(stopped_engine, SIGCONT);
	stopped_engine = 0;
	if (sensor_up)
		rwt_sensor_stop(&sensor);
	rwt_sensor_free(&sensor);
	sensor_up = false;
	rwt_kids_reap();
	if (dir)
		rwt_rmtree(dir);
	free(dir);
	dir = NULL;
	return 0;
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* A copy of a system binary under dir: a new inode, its own name. */
static void copy_bin(const char *from, const char *name, char *out, size_t size)
{
	char cmd[1200];

	snprintf(out, size, "%s/%s", dir, name);
	snprintf(cmd, sizeof(cmd), "cp %s %s", from, out);
	assert_int_equal(system(cmd), 0);
}

/* One rule, acting: category, detection body, the ringward: map. */
static void rule(const char *file, const char *id, const char *category, const char *detection,
		 const char *ringward)
{
	char path[600], text[4096];

	snprintf(path, sizeof(path), "%s/rules/%s", dir, file);
	snprintf(text, sizeof(text),
		 "title: ringward protect test %s\n"
		 "id: %s\n"
		 "status: test\n"
		 "author: ringward tests\n"
		 "level: high\n"
		 "logsource:\n"
		 "    product: linux\n"
		 "    category: %s\n"
		 "detection:\n%s"
		 "ringward:\n%s",
		 file, id, category, detection, ringward);
	put(path, text);
}

static bool is_action(json_object *rec, void *arg)
{
	const char *a = rwt_str(rec, "event.action");

	return a && !strcmp(a, arg);
}

/* The sensor on dir/rules in mode, with up to two more arguments. */
static void start(const char *mode, const char *more, const char *more2)
{
	char rules[600];
	const char *argv[12] = { "--content", rules, "--mode", mode, NULL };
	int n = 4;

	snprintf(rules, sizeof(rules), "%s/rules", dir);
	if (more)
		argv[n++] = more;
	if (more2)
		argv[n++] = more2;
	argv[n] = NULL;
	sensor_up = rwt_sensor_start(&sensor, argv) == 0;
	RWT_SKIP_UNLESS_UP(sensor_up);
	assert_non_null(rwt_wait_for(&sensor, is_action, "content-loaded", WAIT_MS));
}

/* fork + execv path; the child exits 126 when the exec fails with EPERM
 * (what a shell does), 127 on another error. Returns the wait status. */
static int run(const char *path, const char *arg)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		execl(path, path, arg, (char *)NULL);
		_exit(errno == EPERM ? 126 : 127);
	}
	rwt_kid_add(pid);
	st = rwt_kid_wait(pid);
	return st;
}

static bool exited(int st, int code)
{
	return WIFEXITED(st) && WEXITSTATUS(st) == code;
}

struct want_alert {
	const char *rule_id;
	const char *result;
};

static bool is_alert(json_object *rec, void *arg)
{
	struct want_alert *w = arg;
	const char *kind = rwt_str(rec, "event.kind");
	const char *id = rwt_str(rec, "rule.id");
	const char *res = rwt_str(rec, "ringward.response.result");

	return kind && !strcmp(kind, "alert") && id && !strcmp(id, w->rule_id) &&
	       (!w->result || (res && !strcmp(res, w->result)));
}

static json_object *wait_alert(const char *rule_id, const char *result)
{
	struct want_alert w = { rule_id, result };

	return rwt_wait_for(&sensor, is_alert, &w, WAIT_MS);
}

/* A counter of the sensor-stopped record (stops the sensor). */
static int64_t counter_at_stop(const char *name)
{
	json_object *rec, *counters, *v;

	assert_int_equal(rwt_sensor_stop(&sensor), 0);
	sensor_up = false;
	rec = rwt_wait_for(&sensor, is_action, "sensor-stopped", WAIT_MS);
	assert_non_null(rec);
	counters = rwt_get(rec, "ringward.counters");
	assert_non_null(counters);
	assert_true(json_object_object_get_ex(counters, name, &v));
	return json_object_get_int64(v);
}

#define BLOCK_ID	"0a7c1d2e-0000-4000-8000-0000000000b1"
#define KILL_ID		"0a7c1d2e-0000-4000-8000-0000000000b2"
#define QUAR_ID		"0a7c1d2e-0000-4000-8000-0000000000b3"
#define OPEN_ID		"0a7c1d2e-0000-4000-8000-0000000000b4"

static void block_rule(const char *name, bool fail_closed)
{
	char det[256];

	snprintf(det, sizeof(det), "    sel:\n        Image|endswith: '/%s'\n    condition: sel\n",
		 name);
	rule("block.yml", BLOCK_ID, "process_creation", det,
	     fail_closed ? "    action: block\n    fail: closed\n" : "    action: block\n");
}

/* A block rule stops the exec of one binary (exit 126, EPERM) while
 * others run; the alert says it was denied; the second exec of the same
 * file is answered from the verdict cache. */
static void test_block_exec(void **st)
{
	char blocked[600], other[600];
	json_object *al;

	(void)st;
	copy_bin("/bin/true", "rw-blockme", blocked, sizeof(blocked));
	copy_bin("/bin/true", "rw-fine", other, sizeof(other));
	block_rule("rw-blockme", false);
	start("protect", NULL, NULL);

	assert_true(exited(run(blocked, "first"), 126));
	assert_true(exited(run(other, "x"), 0));
	assert_true(exited(run("/bin/true", "x"), 0));
	al = wait_alert(BLOCK_ID, "denied");
	assert_non_null(al);
	rwt_expect_str(al, "process.executable", blocked);
	{
		char cmdline[700];

		snprintf(cmdline, sizeof(cmdline), "%s first", blocked);
		rwt_expect_str(al, "process.command_line", cmdline);
	}
	rwt_expect_str(al, "ringward.response.action", "block");
	rwt_expect_str(al, "event.outcome", "failure");
	assert_true(exited(run(blocked, "second"), 126));	/* from the cache */
	assert_true(exited(run(other, "y"), 0));
	assert_true(counter_at_stop("response.verdicts_cached") >= 1);
}

/* Detect mode: the same rule only alerts, saying what it would have done. */
static void test_detect_mode_only_alerts(void **st)
{
	char blocked[600];
	json_object *al;

	(void)st;
	copy_bin("/bin/true", "rw-blockme", blocked, sizeof(blocked));
	block_rule("rw-blockme", false);
	start("detect", NULL, NULL);
	assert_true(exited(run(blocked, "x"), 0));
	al = wait_alert(BLOCK_ID, "not-enforced");
	assert_non_null(al);
	rwt_expect_str(al, "ringward.response.action", "block");
	assert_non_null(strstr(rwt_str(al, "ringward.response.detail"), "would have"));
}

static pid_t engine_pid(void)
{
	json_object *rec = rwt_wait_for(&sensor, is_action, "engine-started", WAIT_MS);

	assert_non_null(rec);
	return (pid_t)rwt_int(rec, "ringward.engine.pid", 0);
}

/* The engine stopped with SIGSTOP: an exec of a file never judged still
 * completes (the deadline passes, the default allows), and the miss is
 * counted. */
static void test_stopped_engine_does_not_hang_exec(void **st)
{
	char fresh[600];
	pid_t eng;

	(void)st;
	copy_bin("/bin/true", "rw-fresh", fresh, sizeof(fresh));
	block_rule("rw-blockme", false);
	start("protect", "--verdict-deadline-ms=40", NULL);
	eng = engine_pid();
	assert_true(eng > 0);
	stopped_engine = eng;
	assert_int_equal(kill(eng, SIGSTOP), 0);
	assert_true(exited(run(fresh, "x"), 0));
	assert_int_equal(kill(eng, SIGCONT), 0);
	stopped_engine = 0;
	assert_true(counter_at_stop("response.deadline_missed") >= 1);
}

/* fail: closed: with the engine stopped, an exec never judged is denied
 * at the deadline, except the host's essential executables (here dpkg);
 * the engine back, it runs. */
static void test_fail_closed(void **st)
{
	char fresh[600];
	pid_t eng;
	int status, essential;

	(void)st;
	copy_bin("/bin/true", "rw-fresh", fresh, sizeof(fresh));
	block_rule("rw-blockme", true);
	start("protect", "--verdict-deadline-ms=40", NULL);
	eng = engine_pid();
	stopped_engine = eng;
	assert_int_equal(kill(eng, SIGSTOP), 0);
	status = run(fresh, "x");
	essential = access("/usr/bin/dpkg", X_OK) == 0 ? run("/usr/bin/dpkg", "--version") : 0;
	assert_int_equal(kill(eng, SIGCONT), 0);
	stopped_engine = 0;
	assert_true(exited(status, 126));
	assert_true(exited(essential, 0));
	assert_true(exited(run(fresh, "again"), 0));
}

/* A block rule on file_access: an open under the rule's directory is
 * denied (EPERM), other opens are not. */
static void test_block_open(void **st)
{
	char det[512], secret[600], plain[600];
	json_object *al;
	int fd;

	(void)st;
	snprintf(det, sizeof(det),
		 "    sel:\n        TargetFilename|startswith: '%s/secret/'\n    condition: sel\n", dir);
	rule("open.yml", OPEN_ID, "file_access", det, "    action: block\n");
	snprintf(secret, sizeof(secret), "%s/secret", dir);
	assert_int_equal(mkdir(secret, 0755), 0);
	snprintf(secret, sizeof(secret), "%s/secret/key", dir);
	snprintf(plain, sizeof(plain), "%s/plain", dir);
	put(secret, "s3cret\n");
	put(plain, "plain\n");
	start("protect", NULL, NULL);
	fd = open(secret, O_RDONLY);
	assert_int_equal(fd, -1);
	assert_int_equal(errno, EPERM);
	fd = open(plain, O_RDONLY);
	assert_true(fd >= 0);
	close(fd);
	al = wait_alert(OPEN_ID, "denied");
	assert_non_null(al);
	rwt_expect_str(al, "file.path", secret);
	rwt_expect_str(al, "event.action", "open");

	/* the engine stopped: an open never judged still completes (the
	 * deadline passes, the default allows) */
	{
		char fresh[600];
		pid_t eng = engine_pid();

		snprintf(fresh, sizeof(fresh), "%s/fresh", dir);
		put(fresh, "never opened before\n");
		stopped_engine = eng;
		assert_int_equal(kill(eng, SIGSTOP), 0);
		fd = open(fresh, O_RDONLY);
		assert_int_equal(kill(eng, SIGCONT), 0);
		stopped_engine = 0;
		assert_true(fd >= 0);
		close(fd);
	}
	assert_true(counter_at_stop("response.deadline_missed") >= 1);
}

/* action: kill: the process that matched dies of SIGKILL. */
static void test_kill(void **st)
{
	char victim[600];
	json_object *al;
	int status;

	(void)st;
	copy_bin("/bin/sleep", "rw-killme", victim, sizeof(victim));
	rule("kill.yml", KILL_ID, "process_creation",
	     "    sel:\n        Image|endswith: '/rw-killme'\n    condition: sel\n",
	     "    action: kill\n");
	start("protect", NULL, NULL);
	status = run(victim, "30");
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	al = wait_alert(KILL_ID, "killed");
	assert_non_null(al);
	rwt_expect_str(al, "ringward.response.action", "kill");
}

/* kill_group: true: the process group dies with the process that
 * matched (here a sibling sleeping in the same group). */
static void test_kill_group(void **st)
{
	char victim[600], bystander[600];
	json_object *al;
	int status;
	pid_t pid;

	(void)st;
	copy_bin("/bin/sleep", "rw-killme", victim, sizeof(victim));
	copy_bin("/bin/sleep", "rw-bystander", bystander, sizeof(bystander));
	rule("kill.yml", KILL_ID, "process_creation",
	     "    sel:\n        Image|endswith: '/rw-killme'\n    condition: sel\n",
	     "    action: kill\n    kill_group: true\n");
	start("protect", NULL, NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setpgid(0, 0);
		if (fork() == 0) {
			execl(bystander, bystander, "30", (char *)NULL);
			_exit(127);
		}
		usleep(100 * 1000);	/* the sibling is in the group before the match */
		execl(victim, victim, "30", (char *)NULL);
		_exit(127);
	}
	rwt_kid_add(pid);
	setpgid(pid, pid);
	status = rwt_kid_wait(pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	al = wait_alert(KILL_ID, "killed");
	assert_non_null(al);
	assert_non_null(strstr(rwt_str(al, "ringward.response.detail"), "process group"));
	/* the sibling is gone too: nothing left in the group */
	for (int i = 0; i < 100 && kill(-pid, 0) == 0; i++)
		usleep(20 * 1000);
	assert_int_equal(kill(-pid, 0), -1);
	assert_int_equal(errno, ESRCH);
}

/* action: quarantine: the file is moved away with its metadata, and
 * `ringward quarantine restore` brings it back intact. */
static void test_quarantine_round_trip(void **st)
{
	char det[512], path[600], cmd[2048], line[256], qid[128];
	const char *id;
	json_object *al;
	struct stat sb;
	FILE *p;

	(void)st;
	snprintf(det, sizeof(det),
		 "    sel:\n        TargetFilename|startswith: '%s/drop/'\n"
		 "        TargetFilename|endswith: '.evil'\n    condition: sel\n", dir);
	rule("quarantine.yml", QUAR_ID, "file_event", det, "    action: quarantine\n");
	snprintf(path, sizeof(path), "%s/drop", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	start("protect", NULL, NULL);
	snprintf(path, sizeof(path), "%s/drop/payload.evil", dir);
	put(path, "malicious bytes\n");
	assert_int_equal(chmod(path, 0750), 0);
	al = wait_alert(QUAR_ID, "quarantined");
	assert_non_null(al);
	id = rwt_str(al, "ringward.quarantine.id");
	assert_non_null(id);
	snprintf(qid, sizeof(qid), "%s", id);
	assert_int_equal(stat(path, &sb), -1);

	snprintf(cmd, sizeof(cmd), "%s/ringward quarantine restore %s --dir %s/quarantine 2>&1",
		 rwt_build_dir(), qid, sensor.state_dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p))
		fputs(line, stderr);
	assert_int_equal(pclose(p), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 16);
	{
		FILE *f = fopen(path, "r");
		char buf[64] = "";

		assert_non_null(f);
		assert_non_null(fgets(buf, sizeof(buf), f));
		fclose(f);
		assert_string_equal(buf, "malicious bytes\n");
	}
}

/* The sensor's files: an open for writing is denied (and alerted), one
 * for reading is not; a delete by another process raises ringward-tamper. */
static void test_own_files_protected(void **st)
{
	char state[600], file[700], other[700];
	json_object *al;
	int fd;

	(void)st;
	block_rule("rw-blockme", false);
	snprintf(state, sizeof(state), "%s/state", dir);
	assert_int_equal(mkdir(state, 0700), 0);
	snprintf(file, sizeof(file), "%s/probe", state);
	snprintf(other, sizeof(other), "%s/other", state);
	put(file, "keep me\n");
	put(other, "delete me\n");
	start("protect", "--state-dir", state);
	fd = open(file, O_WRONLY | O_TRUNC);
	assert_int_equal(fd, -1);
	assert_int_equal(errno, EPERM);
	fd = open(file, O_RDONLY);
	assert_true(fd >= 0);
	close(fd);
	al = rwt_wait_for(&sensor, is_action, "sensor-file-write-denied", WAIT_MS);
	assert_non_null(al);
	rwt_expect_str(al, "rule.name", "ringward-tamper");
	rwt_expect_str(al, "file.path", file);

	assert_int_equal(unlink(other), 0);
	al = rwt_wait_for(&sensor, is_action, "sensor-file-delete", WAIT_MS);
	assert_non_null(al);
	rwt_expect_str(al, "rule.name", "ringward-tamper");
	rwt_expect_str(al, "file.path", other);
}

/* A guard-railed rule is refused on reload, and the running content
 * keeps blocking. */
static void test_guardrail_refused_running_content_stays(void **st)
{
	char blocked[600];
	json_object *rec;

	(void)st;
	copy_bin("/bin/true", "rw-blockme", blocked, sizeof(blocked));
	block_rule("rw-blockme", false);
	start("protect", NULL, NULL);
	/* the content directory is the sensor's: not writable in protect
	 * mode; a rename into it is not an open (and raises ringward-tamper) */
	rule("../sshd.yml", KILL_ID, "process_creation",
	     "    sel:\n        CommandLine|contains: ' -D'\n    condition: sel\n",
	     "    action: kill\n");
	{
		char from[600], to[600];

		snprintf(from, sizeof(from), "%s/sshd.yml", dir);
		snprintf(to, sizeof(to), "%s/rules/sshd.yml", dir);
		assert_int_equal(rename(from, to), 0);
	}
	assert_non_null(rwt_wait_for(&sensor, is_action, "sensor-file-rename", WAIT_MS));
	rec = rwt_wait_for(&sensor, is_action, "content-load-failed", WAIT_MS);
	assert_non_null(rec);
	assert_non_null(strstr(json_object_to_json_string(rwt_get(rec, "ringward.content.errors")),
			       "refused by a guardrail"));
	assert_true(exited(run(blocked, "x"), 126));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_block_exec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_detect_mode_only_alerts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stopped_engine_does_not_hang_exec, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fail_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_block_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quarantine_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_files_protected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guardrail_refused_running_content_stays,
						setup, teardown),
	};

	return cmocka_run_group_tests_name("protect", tests, NULL, NULL);
}
