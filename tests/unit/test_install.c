/*
 * `make install DESTDIR=...` into a temporary tree, checked file by file:
 * the binary (the one built), the systemd unit (early start, restarts,
 * never blocks boot), the state directory (0700), the production key pair
 * (secret 0600, public key in trusted.d) and the default content as a
 * bundle signed by it, which the sensor's own loader accepts when it
 * trusts trusted.d. A second install keeps the key and raises the content
 * version. Skipped when the binary is not built and current (the test
 * does not build it: `make` first).
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testlib.h"

#include "engine/bundle.h"
#include "engine/content_sign.h"
#include "engine/ruleset.h"

static char *dest;

static int setup(void **st)
{
	dest = rwt_mkdtemp("install");
	return dest ? 0 : -1;
}

static int teardown(void **st)
{
	rwt_rmtree(dest);
	free(dest);
	return 0;
}

static char *at(const char *rel)
{
	char *p;

	assert_true(asprintf(&p, "%s%s", dest, rel) > 0);
	return p;
}

static char *slurp(const char *p, size_t *len)
{
	FILE *f = fopen(p, "r");
	char *b;
	long n;

	if (!f)
		fail_msg("cannot open %s: %s", p, strerror(errno));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	if (len)
		*len = (size_t)n;
	return b;
}

/* Run make (outside any make that runs the tests: its jobserver is not
 * ours) and return its exit status; its output goes to dest/make.log. */
static int run_make(const char *args)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s BUILD=%s %s "
		 ">%s/make.log 2>&1", rwt_build_dir(), args, dest);
	return system(cmd);
}

static void assert_mode(const char *rel, mode_t type, unsigned mode)
{
	char *p = at(rel);
	struct stat st;

	if (lstat(p, &st))
		fail_msg("%s: %s", p, strerror(errno));
	assert_int_equal(st.st_mode & S_IFMT, type);
	assert_int_equal(st.st_mode & 07777, mode);
	free(p);
}

static size_t count_rules(void)
{
	struct dirent **ents;
	int n = scandir("content/rules", &ents, NULL, alphasort);
	size_t c = 0;

	assert_true(n > 0);
	for (int i = 0; i < n; i++) {
		size_t l = strlen(ents[i]->d_name);

		c += l > 4 && !strcmp(ents[i]->d_name + l - 4, ".yml");
		free(ents[i]);
	}
	free(ents);
	return c;
}

/* Load the installed content trusting only the installed trusted.d. */
static void assert_content_verifies(int64_t version)
{
	char *content = at("/etc/ringward/content"), *trusted = at("/etc/ringward/trusted.d");
	const char *paths[] = { content }, *keys[] = { trusted };
	struct ruleset_opts o = { .trusted_keys = keys, .n_trusted_keys = 1 };
	struct ruleset_signing sg;
	struct ruleset *rs;
	struct diag d;

	diag__init(&d);
	rs = ruleset__load_opts(paths, 1, &o, &d);
	if (!rs)
		diag__print(&d, stderr);
	assert_non_null(rs);
	assert_int_equal(ruleset__count(rs), count_rules());
	assert_string_equal(ruleset__content_info(rs, 0)->name, "ringward-default");
	assert_int_equal(ruleset__content_info(rs, 0)->version, version);
	assert_non_null(ruleset__content_info(rs, 0)->key_id);
	ruleset__signing(rs, &sg);
	assert_true(sg.all_signed);
	ruleset__free(rs);
	diag__free(&d);
	free(content);
	free(trusted);
}

static void test_make_install(void **st)
{
	char bin[512], args[1024], *unit, *want, *p, *k1, *k2, id[SIGN_KEY_ID_LEN + 1];
	size_t n1, n2;
	uint8_t pk[32];
	struct diag d;

	snprintf(bin, sizeof(bin), "%s/ringward", rwt_build_dir());
	snprintf(args, sizeof(args), "-q %s", bin);
	if (access(bin, X_OK) || run_make(args) != 0) {
		fprintf(stderr, "# skipped: %s is not built or not current (run make first)\n",
			bin);
		skip();
	}
	snprintf(args, sizeof(args), "install DESTDIR=%s CONTENT_VERSION=7", dest);
	if (run_make(args) != 0) {
		char *log = at("/make.log");

		fail_msg("make install failed:\n%s", slurp(log, NULL));
	}

	/* the binary, exactly the one built */
	assert_mode("/usr/local/sbin/ringward", S_IFREG, 0755);
	p = at("/usr/local/sbin/ringward");
	k1 = slurp(p, &n1);
	k2 = slurp(bin, &n2);
	assert_int_equal(n1, n2);
	assert_memory_equal(k1, k2, n1);
	free(k1);
	free(k2);
	free(p);

	/* the unit: early, restarted, never blocking boot */
	assert_mode("/etc/systemd/system/ringward.service", S_IFREG, 0644);
	p = at("/etc/systemd/system/ringward.service");
	unit = slurp(p, NULL);
	want = slurp("dist/ringward.service", NULL);
	assert_string_equal(unit, want);
	free(want);
	free(p);
	assert_non_null(strstr(unit, "\nDefaultDependencies=no\n"));
	assert_non_null(strstr(unit, "\nBefore=sysinit.target shutdown.target\n"));
	assert_non_null(strstr(unit, "\nType=simple\n"));
	assert_non_null(strstr(unit, "\nRestart=always\n"));
	assert_non_null(strstr(unit, "\nStartLimitIntervalSec=0\n"));
	assert_non_null(strstr(unit, "\nExecStart=/usr/local/sbin/ringward run --content "
				     "/etc/ringward/content --state-dir /var/lib/ringward "));
	assert_non_null(strstr(unit, "\nWantedBy=sysinit.target\n"));
	free(unit);

	/* state, keys, content */
	assert_mode("/var/lib/ringward", S_IFDIR, 0700);
	assert_mode("/etc/ringward/signing", S_IFDIR, 0700);
	assert_mode("/etc/ringward/signing/production.key", S_IFREG, 0600);
	assert_mode("/etc/ringward/trusted.d/production.pub", S_IFREG, 0644);
	assert_mode("/etc/ringward/content/" BUNDLE_MANIFEST, S_IFREG, 0644);
	assert_mode("/etc/ringward/content/" BUNDLE_SIGNATURE, S_IFREG, 0644);
	p = at("/etc/ringward/trusted.d/production.pub");
	diag__init(&d);
	assert_int_equal(sign__read_public(p, pk, id, &d), 0);
	diag__free(&d);
	free(p);
	assert_content_verifies(7);

	/* again: the key stays, the content moves up */
	p = at("/etc/ringward/signing/production.key");
	k1 = slurp(p, &n1);
	snprintf(args, sizeof(args), "install DESTDIR=%s CONTENT_VERSION=8", dest);
	assert_int_equal(run_make(args), 0);
	k2 = slurp(p, &n2);
	assert_int_equal(n1, n2);
	assert_memory_equal(k1, k2, n1);
	free(k1);
	free(k2);
	free(p);
	assert_content_verifies(8);
	p = at("/etc/ringward/.content.old");
	assert_int_equal(access(p, F_OK), -1);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_make_install, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
