/*
 * Guardrails (engine/guardrails.h): rules that block, kill or quarantine
 * are loaded by the sensor's own loader and each one that could hit a
 * protected target is refused with its exact reason, or downgraded to
 * alert when the loader is told to; rules constrained away from them load.
 * Package files come from a package list written for the test (and, when
 * this host has dpkg's list for coreutils, the real one); allow_protected
 * is honoured in a signed bundle only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testlib.h"

#include "engine/bundle.h"
#include "engine/content_sign.h"
#include "engine/guardrails.h"
#include "engine/ruleset.h"

#define ID "cccccccc-0000-4000-8000-000000000001"

static char *top, *dpkg;

static char *cat(const char *a, const char *b)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", a, b) > 0);
	return p;
}

static void write_at(const char *d, const char *name, const char *text)
{
	char *p = cat(d, name);
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	fclose(f);
	free(p);
}

static int setup(void **st)
{
	top = rwt_mkdtemp("guard");
	if (!top)
		return -1;
	dpkg = cat(top, "dpkg-info");
	if (mkdir(dpkg, 0755))
		return -1;
	/* a package owning a tool under /opt (and its directories) */
	write_at(dpkg, "vendor-tool:amd64.list", "/.\n/opt\n/opt/vendor\n/opt/vendor/bin\n"
		 "/opt/vendor/bin/tool\n/opt/vendor/share/tool.conf\n");
	write_at(dpkg, "other.md5sums", "/opt/vendor/bin/ignored\n");
	return 0;
}

static int teardown(void **st)
{
	rwt_rmtree(top);
	free(top);
	free(dpkg);
	return 0;
}

/* A rule with one selection and condition, in category cat, with the
 * ringward block rw (YAML text after "ringward:\n"). */
static char *rule(const char *cat, const char *detection, const char *rw)
{
	char *s;

	assert_true(asprintf(&s, "title: T\nid: " ID "\nlogsource: {product: linux, category: %s}\n"
			     "detection:\n%sringward:\n%s", cat, detection, rw) > 0);
	return s;
}

/* Load text as rules/x.yml with the test's package list; the first
 * message into msg (empty when none). */
static struct ruleset *load_rule(const char *text, bool downgrade, char *msg, size_t size,
				 size_t *n_msgs)
{
	struct ruleset_opts o = { .dpkg_info_dir = dpkg, .guardrails_downgrade = downgrade };
	struct ruleset *rs;
	struct diag d;

	diag__init(&d);
	rs = ruleset__load_buffer("rules/x.yml", text, strlen(text), &o, &d);
	msg[0] = 0;
	if (d.n)
		diag__format(&d.v[0], msg, size);
	if (n_msgs)
		*n_msgs = d.n;
	if (d.n > 1)
		diag__print(&d, stderr);
	diag__free(&d);
	return rs;
}

/* The line of text that holds needle (1-based). */
static unsigned line_of(const char *text, const char *needle)
{
	const char *hit = strstr(text, needle);
	unsigned line = 1;

	assert_non_null(hit);
	for (const char *p = text; p < hit; p++)
		line += *p == '\n';
	return line;
}

/* want_fmt takes the line of the action (%u). */
static void expect_refused(const char *cat, const char *detection, const char *rw,
			   const char *want_fmt)
{
	char *text = rule(cat, detection, rw), msg[2048], want[2048];
	size_t n;
	struct ruleset *rs = load_rule(text, false, msg, sizeof(msg), &n);

	snprintf(want, sizeof(want), want_fmt, line_of(text, "\n    action:") + 1);

	if (rs || n != 1 || strcmp(msg, want))
		fail_msg("want refused with:\n  %s\ngot %s, %zu message(s), first:\n  %s", want,
			 rs ? "loaded" : "refused", n, msg);
	free(text);
}

static void expect_loads(const char *cat, const char *detection, const char *rw,
			 const char *action)
{
	char *text = rule(cat, detection, rw), msg[2048];
	size_t n;
	struct ruleset *rs = load_rule(text, false, msg, sizeof(msg), &n);

	if (!rs || n)
		fail_msg("want loaded, got %s: %s", rs ? "loaded with messages" : "refused", msg);
	assert_string_equal(ruleset__rule(rs, 0)->action, action);
	ruleset__free(rs);
	free(text);
}

#define REFUSED(verb, what, ex, how)                                                   \
	"rules/x.yml:%u:13: error: rule " ID ": 'action: " verb "' refused by a guardrail: it " \
	"could " what " (" ex "): " how " (to allow it, say 'allow_protected: true' in a "      \
	"bundle signed by a trusted key)"

static void test_kill_unconstrained_image(void **st)
{
	/* CommandLine only: the process killed could be anything */
	expect_refused("process_creation",
		       "    sel:\n        CommandLine|contains: 'curl'\n    condition: sel\n",
		       "    action: kill\n",
		       REFUSED("kill", "kill the sensor itself", "/usr/local/sbin/ringward",
			       "the rule does not constrain Image to exclude it"));
}

static void test_kill_constrained_image_loads(void **st)
{
	expect_loads("process_creation",
		     "    sel:\n        Image|endswith: ['/nc', '/ncat', '/socat']\n"
		     "        CommandLine|contains: ' -e '\n    condition: sel\n",
		     "    action: kill\n", "kill");
	expect_loads("process_creation",
		     "    sel:\n        Image|startswith: '/tmp/ringward-test-'\n    condition: sel\n",
		     "    action: block\n    fail: closed\n", "block");
}

static void test_kill_sshd_and_negation(void **st)
{
	expect_refused("process_creation",
		       "    sel:\n        Image|endswith: '/sshd'\n    condition: sel\n",
		       "    action: kill\n",
		       REFUSED("kill", "kill sshd", "/usr/sbin/sshd", "the rule matches it on Image"));
	/* excluding one path of sshd is not enough: /sbin/sshd is another */
	expect_refused("process_creation",
		       "    sel:\n        Image|endswith: ['/nc', '/sshd']\n"
		       "    filter:\n        Image: '/usr/sbin/sshd'\n"
		       "    condition: sel and not filter\n",
		       "    action: kill\n",
		       REFUSED("kill", "kill sshd", "/sbin/sshd", "the rule matches it on Image"));
	/* both excluded: loads */
	expect_loads("process_creation",
		     "    sel:\n        Image|endswith: ['/nc', '/sshd']\n"
		     "    filter:\n        Image: ['/usr/sbin/sshd', '/sbin/sshd']\n"
		     "    condition: sel and not filter\n",
		     "    action: kill\n", "kill");
	/* |neq: the value excluded, anything else matches */
	expect_refused("process_creation",
		       "    sel:\n        Image|neq: '/usr/bin/nc'\n    condition: sel\n",
		       "    action: kill\n",
		       REFUSED("kill", "kill the sensor itself", "/usr/local/sbin/ringward",
			       "the rule matches it on Image"));
}

static void test_regex_and_keywords_of_conditions(void **st)
{
	/* a regex is run against each concrete target */
	expect_refused("process_creation",
		       "    sel:\n        Image|re: '^/usr/s?bin/s.hd$'\n    condition: sel\n",
		       "    action: kill\n",
		       REFUSED("kill", "kill sshd", "/usr/sbin/sshd", "the rule matches it on Image"));
	expect_loads("process_creation",
		     "    sel:\n        Image|re: '^/tmp/ringward-test-[a-z]+$'\n    condition: sel\n",
		     "    action: kill\n", "kill");
	/* 1 of / all of */
	expect_refused("process_creation",
		       "    sel_a:\n        Image|endswith: '/nc'\n"
		       "    sel_b:\n        User: root\n    condition: 1 of sel_*\n",
		       "    action: kill\n",
		       REFUSED("kill", "kill the sensor itself", "/usr/local/sbin/ringward",
			       "the rule does not constrain Image to exclude it"));
	expect_loads("process_creation",
		     "    sel_a:\n        Image|endswith: '/nc'\n"
		     "    sel_b:\n        User: root\n    condition: all of sel_*\n",
		     "    action: kill\n", "kill");
}

static void test_block_loader_and_init(void **st)
{
	expect_refused("process_creation",
		       "    sel:\n        Image|contains: 'ld-linux'\n    condition: sel\n",
		       "    action: block\n",
		       REFUSED("block", "block the dynamic loader", "/lib64/ld-linux-x86-64.so.2",
			       "the rule matches it on Image"));
	expect_refused("process_creation",
		       "    sel:\n        Image|endswith: '/init'\n    condition: sel\n",
		       "    action: block\n",
		       REFUSED("block", "block init/systemd", "/sbin/init",
			       "the rule matches it on Image"));
	expect_refused("process_creation",
		       "    sel:\n        Image|endswith: '/apt-get'\n    condition: sel\n",
		       "    action: block\n",
		       REFUSED("block", "block the package manager", "/usr/bin/apt-get",
			       "the rule matches it on Image"));
}

static void test_block_open_of_sensor_files(void **st)
{
	expect_refused("file_event",
		       "    sel:\n        TargetFilename|startswith: '/etc/'\n    condition: sel\n",
		       "    action: block\n",
		       REFUSED("block", "block opening the sensor's configuration, content and keys",
			       "/etc/ringward/...", "the rule matches it on TargetFilename"));
	expect_refused("file_event",
		       "    sel:\n        TargetFilename: '/var/lib/ringward/supervisor.state'\n"
		       "    condition: sel\n",
		       "    action: block\n",
		       REFUSED("block", "block opening the sensor's state", "/var/lib/ringward/...",
			       "the rule does not constrain TargetFilename to exclude it"));
	/* wildcards are run over the tree's path */
	expect_refused("file_event",
		       "    sel:\n        TargetFilename: '/var/*/ringward*'\n    condition: sel\n",
		       "    action: block\n",
		       REFUSED("block", "block opening the sensor's state", "/var/lib/ringward/...",
			       "the rule does not constrain TargetFilename to exclude it"));
	expect_loads("file_event",
		     "    sel:\n        TargetFilename: '/tmp/*/payload?.bin'\n    condition: sel\n",
		     "    action: block\n", "block");
}

static void test_quarantine_package_files(void **st)
{
	expect_refused("file_event",
		       "    sel:\n        TargetFilename|startswith: '/opt/vendor/'\n"
		       "    condition: sel\n",
		       "    action: quarantine\n",
		       REFUSED("quarantine", "quarantine files owned by installed packages",
			       "/opt/vendor/bin/tool, from package vendor-tool",
			       "the rule matches it on TargetFilename"));
	/* directories in the list are not files the package owns */
	expect_loads("file_event",
		     "    sel:\n        TargetFilename: '/opt/vendor/bin'\n    condition: sel\n",
		     "    action: quarantine\n", "quarantine");
	/* a suffix could be under the sensor's configuration */
	expect_refused("file_event",
		       "    sel:\n        TargetFilename|endswith: '.sh'\n    condition: sel\n",
		       "    action: quarantine\n",
		       REFUSED("quarantine", "quarantine the sensor's configuration, content and "
			       "keys", "/etc/ringward/...",
			       "the rule does not constrain TargetFilename to exclude it"));
	/* what quarantine is for: a download location */
	expect_loads("file_event",
		     "    sel:\n        TargetFilename|startswith: ['/tmp/', '/dev/shm/']\n"
		     "        TargetFilename|endswith: '.elf'\n    condition: sel\n",
		     "    action: quarantine\n", "quarantine");
}

static void test_quarantine_real_package_file(void **st)
{
	if (access("/var/lib/dpkg/info/coreutils.list", R_OK))
		skip();	/* no dpkg here: nothing to check against */
	{
		struct ruleset_opts o = { 0 };	/* the real package lists */
		char *text = rule("process_creation",
				  "    sel:\n        Image: ['/usr/bin/ls', '/bin/ls']\n"
				  "    condition: sel\n", "    action: quarantine\n"), msg[2048];
		struct ruleset *rs;
		struct diag d;

		diag__init(&d);
		rs = ruleset__load_buffer("rules/x.yml", text, strlen(text), &o, &d);
		assert_null(rs);
		assert_int_equal(d.n, 1);
		diag__format(&d.v[0], msg, sizeof(msg));
		assert_non_null(strstr(msg, "refused by a guardrail: it could quarantine files "
					    "owned by installed packages ("));
		assert_non_null(strstr(msg, "/bin/ls, from package coreutils): the rule matches "
					    "it on Image"));
		diag__free(&d);
		free(text);
	}
}

static void test_downgrade(void **st)
{
	char *text = rule("process_creation",
			  "    sel:\n        CommandLine|contains: 'curl'\n    condition: sel\n",
			  "    action: kill\n"), msg[2048];
	size_t n;
	struct ruleset *rs = load_rule(text, true, msg, sizeof(msg), &n);
	const struct rule_info *ri;

	assert_non_null(rs);
	assert_int_equal(n, 1);
	assert_int_equal(line_of(text, "\n    action:") + 1, 9);
	assert_string_equal(msg, "rules/x.yml:9:13: warning: rule " ID ": 'action: kill' "
			    "downgraded to alert by a guardrail: it could kill the sensor itself "
			    "(/usr/local/sbin/ringward): the rule does not constrain Image to "
			    "exclude it");
	ri = ruleset__rule(rs, 0);
	assert_string_equal(ri->action, "alert");
	assert_true(ri->downgraded);
	ruleset__free(rs);
	free(text);
}

static void test_allow_protected_unsigned_refused(void **st)
{
	char *text = rule("process_creation",
			  "    sel:\n        Image|endswith: '/sshd'\n    condition: sel\n",
			  "    action: kill\n    allow_protected: true\n"), msg[2048];
	size_t n;
	struct ruleset *rs = load_rule(text, false, msg, sizeof(msg), &n);

	assert_null(rs);
	assert_int_equal(n, 1);
	assert_string_equal(msg, "rules/x.yml:9:13: error: rule " ID ": 'action: kill' refused by "
			    "a guardrail: it could kill sshd (/usr/sbin/sshd): the rule matches it "
			    "on Image ('allow_protected: true' is honoured only in a bundle signed by "
			    "a trusted key)");
	free(text);
}

static void test_allow_protected_signed_loads(void **st)
{
	char *b = cat(top, "bundle"), *prefix = cat(top, "k"), *key = cat(top, "k.key");
	char *pub = cat(top, "k.pub"), *text, id[SIGN_KEY_ID_LEN + 1];
	const char *trusted[] = { pub };
	const char *paths[] = { b };
	struct ruleset_opts o = { .trusted_keys = trusted, .n_trusted_keys = 1,
				  .dpkg_info_dir = dpkg };
	struct bundle_write w = { .name = "ops", .version = 1 };
	const struct rule_info *ri;
	struct ruleset *rs;
	struct diag d;

	assert_int_equal(mkdir(b, 0755), 0);
	text = rule("process_creation",
		    "    sel:\n        Image|endswith: '/sshd'\n"
		    "        CommandLine|contains: ' -o PermitRootLogin=yes'\n    condition: sel\n",
		    "    action: kill\n    allow_protected: true\n");
	write_at(b, "kill-rogue-sshd.yml", text);
	free(text);
	diag__init(&d);
	assert_int_equal(bundle__write_manifest(b, &w, NULL, &d), 0);
	assert_int_equal(sign__keygen(prefix, id, &d), 0);
	assert_int_equal(sign__bundle(b, key, false, NULL, &d), 0);
	diag__free(&d);

	diag__init(&d);
	rs = ruleset__load_opts(paths, 1, &o, &d);
	if (!rs)
		diag__print(&d, stderr);
	assert_non_null(rs);
	assert_int_equal(d.n, 0);
	ri = ruleset__rule(rs, 0);
	assert_string_equal(ri->action, "kill");
	assert_true(ri->allow_protected);
	ruleset__free(rs);
	diag__free(&d);

	/* the same bundle loaded without trusted keys is not signed as far as
	 * the loader knows: the rule is refused */
	o.n_trusted_keys = 0;
	diag__init(&d);
	rs = ruleset__load_opts(paths, 1, &o, &d);
	assert_null(rs);
	assert_int_equal(d.n, 1);
	assert_non_null(strstr(d.v[0].text, "'allow_protected: true' is honoured only in a bundle "
					    "signed by a trusted key"));
	diag__free(&d);
	free(b);
	free(prefix);
	free(key);
	free(pub);
}

/* The content being loaded is protected too. */
static void test_content_paths_protected(void **st)
{
	char *b = cat(top, "rules"), *text, *want, msg[2048];
	const char *paths[] = { b };
	struct ruleset_opts o = { .dpkg_info_dir = dpkg };
	struct ruleset *rs;
	struct diag d;

	assert_int_equal(mkdir(b, 0755), 0);
	text = rule("file_event",
		    "    sel:\n        TargetFilename|startswith: '/tmp/ringward-test-guard'\n"
		    "    condition: sel\n", "    action: quarantine\n");
	write_at(b, "x.yml", text);
	free(text);
	diag__init(&d);
	rs = ruleset__load_opts(paths, 1, &o, &d);
	assert_null(rs);
	assert_int_equal(d.n, 1);
	diag__format(&d.v[0], msg, sizeof(msg));
	assert_true(asprintf(&want, "%s/x.yml:9:13: error: rule " ID ": 'action: quarantine' "
			     "refused by a guardrail: it could quarantine the sensor's content "
			     "(%s/...): the rule matches it on TargetFilename (to allow it, say "
			     "'allow_protected: true' in a bundle signed by a trusted key)", b, b) > 0);
	assert_string_equal(msg, want);
	free(want);
	diag__free(&d);
	free(b);
}

static void test_ringward_keys(void **st)
{
	char *text = rule("process_creation",
			  "    sel:\n        Image|endswith: '/nc'\n    condition: sel\n",
			  "    action: kill\n    fail: closed\n"), msg[2048];
	size_t n;
	struct ruleset *rs = load_rule(text, false, msg, sizeof(msg), &n);

	assert_null(rs);
	assert_string_equal(msg, "rules/x.yml:10:5: error: rule " ID ": 'ringward.fail' applies "
			    "only to 'action: block' (what to do when the verdict misses its "
			    "deadline)");
	free(text);
	text = rule("process_creation",
		    "    sel:\n        Image|endswith: '/nc'\n    condition: sel\n",
		    "    fail: closed\n    action: block\n");
	rs = load_rule(text, false, msg, sizeof(msg), &n);
	assert_non_null(rs);
	assert_true(ruleset__rule(rs, 0)->fail_closed);
	assert_false(ruleset__rule(rs, 0)->allow_protected);
	ruleset__free(rs);
	free(text);
	text = rule("process_creation",
		    "    sel:\n        Image|endswith: '/nc'\n    condition: sel\n",
		    "    action: block\n    fail: maybe\n");
	rs = load_rule(text, false, msg, sizeof(msg), &n);
	assert_null(rs);
	assert_string_equal(msg, "rules/x.yml:10:11: error: rule " ID ": 'ringward.fail' must be "
			    "open or closed");
	free(text);
	text = rule("process_creation",
		    "    sel:\n        Image|endswith: '/nc'\n    condition: sel\n",
		    "    action: block\n    allow_protected: yes\n");
	rs = load_rule(text, false, msg, sizeof(msg), &n);
	assert_null(rs);
	assert_string_equal(msg, "rules/x.yml:10:22: error: rule " ID ": "
			    "'ringward.allow_protected' must be true or false");
	free(text);
}

/* Prepared targets (what the engine does before its sandbox) are used by
 * later checks, whatever those are told. */
static void test_prepared_targets(void **st)
{
	struct guard_opts go = { .dpkg_info_dir = dpkg };
	struct ruleset_opts o = { .dpkg_info_dir = "" };	/* would read no packages */
	char *text = rule("file_event", "    sel:\n        TargetFilename: '/opt/vendor/bin/tool'\n"
			  "    condition: sel\n", "    action: quarantine\n");
	struct ruleset *rs;
	struct diag d;

	/* without preparing: no package list, so it loads */
	diag__init(&d);
	rs = ruleset__load_buffer("rules/x.yml", text, strlen(text), &o, &d);
	assert_non_null(rs);
	ruleset__free(rs);
	diag__free(&d);
	diag__init(&d);
	assert_int_equal(guardrails__prepare(&go, &d), 0);
	assert_int_equal(d.n, 0);
	diag__free(&d);
	diag__init(&d);
	rs = ruleset__load_buffer("rules/x.yml", text, strlen(text), &o, &d);
	assert_null(rs);
	assert_int_equal(d.n, 1);
	assert_non_null(strstr(d.v[0].text, "(/opt/vendor/bin/tool, from package vendor-tool)"));
	diag__free(&d);
	guardrails__forget();
	free(text);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_kill_unconstrained_image),
		T(test_kill_constrained_image_loads),
		T(test_kill_sshd_and_negation),
		T(test_regex_and_keywords_of_conditions),
		T(test_block_loader_and_init),
		T(test_block_open_of_sensor_files),
		T(test_quarantine_package_files),
		T(test_quarantine_real_package_file),
		T(test_downgrade),
		T(test_allow_protected_unsigned_refused),
		T(test_allow_protected_signed_loads),
		T(test_content_paths_protected),
		T(test_ringward_keys),
		T(test_prepared_targets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
