/*
 * Signed content in the running sensor, end to end: a real key pair
 * (`ringward content keygen`), a real bundle (`content manifest`, `content
 * sign`), the real sensor started with --trusted-keys, real execs. Checks
 * that the signed bundle loads and says who signed it, and that a bundle
 * changed after signing, one signed by an unknown key and an older one
 * correctly signed are each refused with their own message while the
 * running content keeps alerting. Without a trusted key, unsigned content
 * loads and the records say so.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#define WAIT_MS		15000
#define BUNDLE_NAME	"rw-test-signed"
#define RULE_ID		"0a7c1d2e-0000-4000-8000-0000000005a1"
#define MARKER		"rw-signed-marker-5a1"

static const char rule_text[] =
	"title: ringward signed content test rule\n"
	"id: " RULE_ID "\n"
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
	"        CommandLine|contains: '" MARKER "'\n"
	"    condition: selection\n";

/* per test; teardown cleans up whatever the test got to */
static struct rwt_sensor sensor;
static bool sensor_up;
static char *dir;

static bool skip_if_needed(void)
{
	const char *why = rwt_kernel_skip_reason();

	if (why) {
		printf("%s\n", why);
		return true;
	}
	return false;
}

static void put_file(const char *path, const char *text)
{
	char tmp[600];
	int fd;

	/* the temporary file outside the bundle: no reload sees it */
	snprintf(tmp, sizeof(tmp), "%s/.put.tmp", dir);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(rename(tmp, path), 0);
}

/* Run `ringward content ARGS...` (build dir binary); its output (stdout
 * and stderr) into out; asserts exit 0. */
static void content_cmd(char *out, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void content_cmd(char *out, size_t size, const char *fmt, ...)
{
	char cmd[2048], args[1536];
	va_list ap;
	size_t used = 0;
	FILE *p;
	int st;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "%s/ringward content %s 2>&1", rwt_build_dir(), args);
	p = popen(cmd, "r");
	assert_non_null(p);
	out[0] = 0;
	while (used + 1 < size) {
		size_t n = fread(out + used, 1, size - 1 - used, p);

		if (!n)
			break;
		used += n;
	}
	out[used] = 0;
	st = pclose(p);
	if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
		fprintf(stderr, "`%s` failed (status %d):\n%s\n", cmd, st, out);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* keygen under dir/NAME; the key id it prints into id. */
static void keygen(const char *name, char id[32])
{
	char out[1024];
	const char *k;

	content_cmd(out, sizeof(out), "keygen --out %s/%s", dir, name);
	k = strstr(out, "key id ");
	assert_non_null(k);
	assert_int_equal(sscanf(k, "key id %31[0-9a-f]", id), 1);
	assert_int_equal(strlen(id), 16);
}

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

static bool is_alert(json_object *rec, void *arg)
{
	const char *kind = rwt_str(rec, "event.kind");
	const char *id = rwt_str(rec, "rule.id");
	const char *cmd = rwt_str(rec, "process.command_line");

	(void)arg;
	return kind && !strcmp(kind, "alert") && id && !strcmp(id, RULE_ID) && cmd &&
	       strstr(cmd, MARKER);
}

/* Exec the marker and wait for the alert that makes n of them. */
static void expect_alert(size_t n)
{
	run_true(MARKER);
	for (int waited = 0; waited <= WAIT_MS; waited += 50) {
		rwt_sensor_poll(&sensor);
		if (rwt_count(&sensor, is_alert, NULL) >= n)
			break;
		usleep(50 * 1000);
	}
	assert_int_equal(rwt_count(&sensor, is_alert, NULL), n);
}

/* A content record of this action with an error containing all of the
 * given parts (NULL-terminated), or any such record when parts[0] is
 * NULL. */
struct rec_want {
	const char *action;
	const char *const *parts;
};

static bool error_has(json_object *rec, const char *const *parts)
{
	json_object *errs = rwt_get(rec, "ringward.content.errors");

	for (size_t i = 0; errs && i < json_object_array_length(errs); i++) {
		const char *e = json_object_get_string(json_object_array_get_idx(errs, i));
		bool all = e != NULL;

		for (size_t j = 0; all && parts[j]; j++)
			all = strstr(e, parts[j]) != NULL;
		if (all)
			return true;
	}
	return false;
}

static bool is_content_rec(json_object *rec, void *arg)
{
	struct rec_want *w = arg;
	const char *a = rwt_str(rec, "event.action");

	if (!a || strcmp(a, w->action))
		return false;
	return !w->parts || error_has(rec, w->parts);
}

static json_object *wait_rec(const char *action, const char *const *parts)
{
	struct rec_want w = { action, parts };

	return rwt_wait_for(&sensor, is_content_rec, &w, WAIT_MS);
}

static size_t count_rec(const char *action)
{
	struct rec_want w = { action, NULL };

	rwt_sensor_poll(&sensor);
	return rwt_count(&sensor, is_content_rec, &w);
}

static void start_sensor(const char *content, const char *trusted)
{
	char state[512], sock[512];
	const char *args[16] = { "--content", content, "--state-dir", state,
				 "--status-socket", sock, "--hooks", "process" };
	int n = 8;

	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(sock, sizeof(sock), "%s/status.sock", dir);
	if (trusted) {
		args[n++] = "--trusted-keys";
		args[n++] = trusted;
	}
	args[n] = NULL;
	assert_int_equal(rwt_sensor_start(&sensor, args), 0);
	sensor_up = true;
}

static int setup(void **state)
{
	(void)state;
	if (rwt_kernel_skip_reason())
		return 0;
	dir = rwt_mkdtemp("signed");
	return dir ? 0 : -1;
}

static int teardown(void **state)
{
	int st = 0;

	(void)state;
	if (sensor_up) {
		st = rwt_sensor_stop(&sensor);
		rwt_sensor_free(&sensor);
		sensor_up = false;
	}
	if (dir) {
		rwt_rmtree(dir);
		free(dir);
		dir = NULL;
	}
	if (st && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
		fprintf(stderr, "sensor did not exit 0 (status %d)\n", st);
		return -1;
	}
	return 0;
}

static void test_signed_bundle_live(void **state)
{
	char bundle[512], rule[512], manifest[512], sig[512], pub[512], out[4096];
	char id1[32], id2[32], want[256], prefix[600], mprefix[600];
	json_object *r;
	const char *s;
	struct stat st;
	FILE *f;
	int c;

	(void)state;
	if (skip_if_needed()) {
		skip();
		return;
	}
	keygen("ops", id1);
	keygen("stranger", id2);
	snprintf(pub, sizeof(pub), "%s/ops.pub", dir);
	snprintf(bundle, sizeof(bundle), "%s/bundle", dir);
	snprintf(rule, sizeof(rule), "%s/rule.yml", bundle);
	snprintf(manifest, sizeof(manifest), "%s/ringward-bundle.yml", bundle);
	snprintf(sig, sizeof(sig), "%s/ringward-bundle.sig", bundle);
	assert_int_equal(mkdir(bundle, 0755), 0);
	put_file(rule, rule_text);
	content_cmd(out, sizeof(out), "manifest %s --name " BUNDLE_NAME " --version 10 "
		    "--valid-days 30", bundle);
	content_cmd(out, sizeof(out), "sign %s --key %s/ops.key", bundle, dir);
	assert_int_equal(stat(sig, &st), 0);

	start_sensor(bundle, pub);
	/* the start record says what the engine will accept */
	r = wait_rec("sensor-started", NULL);
	assert_non_null(r);
	snprintf(want, sizeof(want), "signed content required: trusted keys %s", pub);
	s = rwt_str(r, "ringward.content.signing");
	assert_non_null(s);
	assert_string_equal(s, want);
	/* the bundle loads, signed by the operator's key */
	r = wait_rec("content-loaded", NULL);
	assert_non_null(r);
	snprintf(want, sizeof(want), "signed by %s", id1);
	assert_string_equal(rwt_str(r, "ringward.content.signing"), want);
	assert_string_equal(rwt_str(r, "ringward.content.label"), BUNDLE_NAME "@10");
	assert_string_equal(rwt_str(r, "ringward.content.expiring"), BUNDLE_NAME "@10");
	assert_non_null(rwt_str(r, "ringward.content.expires"));
	assert_int_equal(rwt_int(r, "ringward.content.rules", -1), 1);
	expect_alert(1);

	/* (a) one byte of the rule changed after signing: its hash fails,
	 * it is never parsed, the running content stays */
	f = fopen(rule, "r+");
	assert_non_null(f);
	assert_int_equal(fseek(f, 7, SEEK_SET), 0);	/* "title: r" -> "title: R" */
	c = fgetc(f);
	assert_int_equal(c, 'r');
	assert_int_equal(fseek(f, 7, SEEK_SET), 0);
	assert_int_equal(fputc('R', f), 'R');
	assert_int_equal(fclose(f), 0);
	snprintf(prefix, sizeof(prefix), "%s: error: sha256 ", rule);
	snprintf(mprefix, sizeof(mprefix), "does not match the manifest (%s:", manifest);
	{
		const char *parts[] = { prefix, mprefix, "); the file is not parsed", NULL };

		r = wait_rec("content-load-failed", parts);
		assert_non_null(r);
		assert_int_equal(strncmp(json_object_get_string(json_object_array_get_idx(
				 rwt_get(r, "ringward.content.errors"), 0)), prefix, strlen(prefix)), 0);
		assert_string_equal(rwt_str(r, "event.reason"),
				    "1 error(s) in content; the previous content stays active");
	}
	expect_alert(2);

	/* back to the signed rule: loads again */
	put_file(rule, rule_text);
	for (int waited = 0; waited <= WAIT_MS && count_rec("content-loaded") < 2; waited += 50)
		usleep(50 * 1000);
	assert_int_equal(count_rec("content-loaded"), 2);

	/* (b) re-signed by a key the sensor does not trust: refused before
	 * anything in it is parsed */
	content_cmd(out, sizeof(out), "sign %s --key %s/stranger.key", bundle, dir);
	snprintf(want, sizeof(want), "%s:", sig);
	snprintf(prefix, sizeof(prefix), "error: signed by key %s, which is not trusted "
		 "(trusted: %s): refused, nothing in the bundle is parsed", id2, id1);
	{
		const char *parts[] = { want, prefix, NULL };

		assert_non_null(wait_rec("content-load-failed", parts));
	}
	expect_alert(3);

	/* (c) an older version, correctly signed by the trusted key:
	 * anti-rollback refuses it */
	content_cmd(out, sizeof(out), "manifest %s --name " BUNDLE_NAME " --version 9 --force "
		    "--valid-days 30", bundle);
	content_cmd(out, sizeof(out), "sign %s --key %s/ops.key", bundle, dir);
	snprintf(want, sizeof(want), "%s:", manifest);
	{
		const char *parts[] = { want, "error: bundle '" BUNDLE_NAME "' version 9 is older "
					"than version 10, the highest accepted (anti-rollback): "
					"refused", NULL };

		assert_non_null(wait_rec("content-load-failed", parts));
	}
	expect_alert(4);
	/* none of the three loaded */
	assert_int_equal(count_rec("content-loaded"), 2);
}

static void test_unsigned_without_keys(void **state)
{
	char rules[512], rule[512];
	json_object *r;

	(void)state;
	if (skip_if_needed()) {
		skip();
		return;
	}
	/* the default trusted keys directory would make this a signed run */
	if (access("/etc/ringward/trusted.d", F_OK) == 0) {
		printf("/etc/ringward/trusted.d exists on this host: not testing unsigned loads\n");
		skip();
		return;
	}
	snprintf(rules, sizeof(rules), "%s/rules", dir);
	snprintf(rule, sizeof(rule), "%s/rule.yml", rules);
	assert_int_equal(mkdir(rules, 0755), 0);
	put_file(rule, rule_text);
	start_sensor(rules, NULL);
	r = wait_rec("sensor-started", NULL);
	assert_non_null(r);
	assert_string_equal(rwt_str(r, "ringward.content.signing"),
			    "unsigned: no trusted key is configured");
	r = wait_rec("content-loaded", NULL);
	assert_non_null(r);
	assert_string_equal(rwt_str(r, "ringward.content.signing"),
			    "unsigned: no trusted key is configured");
	assert_null(rwt_get(r, "ringward.content.expires"));
	expect_alert(1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_signed_bundle_live, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsigned_without_keys, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
