/*
 * The last-known-good store, on real files in a temporary state directory:
 * a save copies exactly what loads (plain directories, bundles, single
 * files) and the copy loads on its own; a later save replaces it and
 * leaves nothing behind; content that does not load never replaces a good
 * LKG; and a saving process killed between any two steps leaves `lkg`
 * pointing at a complete copy (the old one, or the new one once switched),
 * with its leftovers ignored and removed by the next save.
 */
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#include "cli.h"
#include "engine/bundle.h"
#include "engine/content_store.h"
#include "engine/ruleset.h"

static char *dir;	/* the test's temporary directory */
static char *state;	/* dir/state */

static int setup(void **s)
{
	dir = rwt_mkdtemp("content-store");
	if (!dir || asprintf(&state, "%s/state", dir) < 0)
		return -1;
	return 0;
}

static char root[64];	/* test_lkg_cli's state root, or "" */

static int teardown(void **s)
{
	content_store__step_hook = NULL;
	rwt_rmtree(root);	/* removes the link, not what it points to */
	root[0] = 0;
	rwt_rmtree(dir);
	free(dir);
	free(state);
	return 0;
}

static char *path_of(const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

static void write_file(const char *name, const char *text)
{
	char *p = path_of(name), *slash = strrchr(p, '/');
	FILE *f;

	/* make the parent directories */
	for (char *c = p + strlen(dir) + 1; c < slash; c++)
		if (*c == '/') {
			*c = 0;
			mkdir(p, 0755);
			*c = '/';
		}
	*slash = 0;
	mkdir(p, 0755);
	*slash = '/';
	f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	fclose(f);
	free(p);
}

#define RULE(id, title, image)                                                 \
	"title: " title "\n"                                                   \
	"id: aaaaaaaa-0000-4000-8000-00000000000" id "\n"                      \
	"author: Test Author\n"                                                \
	"logsource: {product: linux, category: process_creation}\n"            \
	"detection:\n"                                                         \
	"    sel:\n"                                                           \
	"        Image|endswith: '" image "'\n"                                \
	"    condition: sel\n"                                                 \
	"level: high\n"

/* Rules in the LKG, or -1 when there is none or it does not load. */
static int lkg_rules(void)
{
	char buf[512];
	const char *p = content_store__lkg_dir(state, buf, sizeof(buf));
	struct ruleset *rs;
	struct diag d;
	int n;

	if (!p)
		return -1;
	diag__init(&d);
	rs = ruleset__load(&p, 1, &d);
	diag__print(&d, stderr);
	diag__free(&d);
	n = rs ? (int)ruleset__count(rs) : -1;
	ruleset__free(rs);
	return n;
}

/* Entries of the state directory whose name starts with prefix. */
static int count_entries(const char *prefix)
{
	DIR *dp = opendir(state);
	struct dirent *e;
	int n = 0;

	assert_non_null(dp);
	while ((e = readdir(dp)))
		n += !strncmp(e->d_name, prefix, strlen(prefix));
	closedir(dp);
	return n;
}

static int save(const char *name)
{
	char *p = path_of(name);
	const char *paths[] = { p };
	int err = content_store__save_lkg(state, paths, 1);

	free(p);
	return err;
}

/* Content sets A (1 rule), B (2 rules), C (3 rules) in dir/a, dir/b, dir/c. */
static void make_sets(void)
{
	write_file("a/1.yml", RULE("1", "One", "/one"));
	write_file("b/1.yml", RULE("1", "One", "/one"));
	write_file("b/2.yml", RULE("2", "Two", "/two"));
	write_file("c/1.yml", RULE("1", "One", "/one"));
	write_file("c/2.yml", RULE("2", "Two", "/two"));
	write_file("c/3.yaml", RULE("3", "Three", "/three"));
}

static void test_no_lkg_yet(void **s)
{
	char buf[512];

	assert_null(content_store__lkg_dir(state, buf, sizeof(buf)));
	assert_int_equal(lkg_rules(), -1);
}

static void test_save_copies_what_loads(void **s)
{
	char *bundle = path_of("bundle"), *plain = path_of("plain"), *file = path_of("one.yaml");
	char *bare = path_of("bare-rule"), *src, buf[512], target[256], *srcs;
	const char *paths[] = { plain, bundle, file, bare };
	struct bundle_write w = { .name = "shipped", .version = 9 };
	const char *lkg;
	struct ruleset *rs;
	struct diag d;
	ssize_t n;
	FILE *f;

	write_file("plain/1.yml", RULE("1", "One", "/one"));
	write_file("plain/sub/2.yaml", RULE("2", "Two", "/two"));
	write_file("plain/notes.txt", "not content");
	write_file("plain/.hidden.yml", "not loaded: hidden");
	write_file("bundle/rules/3.yml", RULE("3", "Three", "/three"));
	write_file("bundle/README", "part of the bundle");
	write_file("one.yaml", RULE("4", "Four", "/four"));
	write_file("bare-rule", RULE("5", "Five", "/five"));
	diag__init(&d);
	assert_int_equal(bundle__write_manifest(bundle, &w, NULL, &d), 0);
	diag__free(&d);

	assert_int_equal(content_store__save_lkg(state, paths, 4), 0);
	lkg = content_store__lkg_dir(state, buf, sizeof(buf));
	assert_non_null(lkg);
	assert_true(asprintf(&src, "%s/lkg", state) > 0);
	assert_string_equal(lkg, src);
	free(src);

	/* the layout: lkg -> lkg.d.XXXXXX, one entry per path */
	assert_true(asprintf(&src, "%s/lkg", state) > 0);
	n = readlink(src, target, sizeof(target) - 1);
	free(src);
	assert_true(n > 0);
	target[n] = 0;
	assert_int_equal(strncmp(target, "lkg.d.", 6), 0);
	assert_int_equal(count_entries("lkg.d."), 1);
	assert_int_equal(count_entries("lkg.l."), 0);
	assert_true(asprintf(&src, "%s/lkg/0000/sub/2.yaml", state) > 0);
	assert_int_equal(access(src, R_OK), 0);
	free(src);
	assert_true(asprintf(&src, "%s/lkg/0000/notes.txt", state) > 0);
	assert_int_equal(access(src, F_OK), -1);	/* not content: not copied */
	free(src);
	assert_true(asprintf(&src, "%s/lkg/0001/README", state) > 0);
	assert_int_equal(access(src, R_OK), 0);		/* a bundle: copied whole */
	free(src);
	assert_true(asprintf(&src, "%s/lkg/0003.yml", state) > 0);
	assert_int_equal(access(src, R_OK), 0);		/* named so it loads */
	free(src);
	assert_true(asprintf(&src, "%s/lkg/SOURCES", state) > 0);
	f = fopen(src, "r");
	free(src);
	assert_non_null(f);
	srcs = calloc(1, 4096);
	assert_non_null(srcs);
	assert_true(fread(srcs, 1, 4095, f) > 0);
	fclose(f);
	assert_true(asprintf(&src, "0000\t%s\n0001\t%s\n0002\t%s\n0003\t%s\n", plain, bundle,
			     file, bare) > 0);
	assert_non_null(strstr(srcs, src));
	free(src);
	free(srcs);

	/* the copy loads on its own: same rules, the bundle still a bundle */
	diag__init(&d);
	rs = ruleset__load(&lkg, 1, &d);
	assert_non_null(rs);
	assert_int_equal(ruleset__count(rs), 5);
	assert_int_equal(ruleset__bundles(rs), 1);
	assert_string_equal(ruleset__content_info(rs, 0)->name, "shipped");
	assert_int_equal(ruleset__content_info(rs, 0)->version, 9);
	ruleset__free(rs);
	diag__free(&d);

	/* and it does not change when the sources do */
	write_file("one.yaml", "title: [broken\n");
	assert_int_equal(lkg_rules(), 5);

	/* saving the LKG itself (a restart from it) changes nothing */
	assert_int_equal(content_store__save_lkg(state, &lkg, 1), 0);
	assert_true(asprintf(&src, "%s/lkg", state) > 0);
	n = readlink(src, buf, sizeof(buf) - 1);
	free(src);
	assert_true(n > 0);
	buf[n] = 0;
	assert_string_equal(buf, target);

	free(bundle);
	free(plain);
	free(file);
	free(bare);
}

static void test_resave_replaces(void **s)
{
	make_sets();
	assert_int_equal(save("a"), 0);
	assert_int_equal(lkg_rules(), 1);
	assert_int_equal(save("b"), 0);
	assert_int_equal(lkg_rules(), 2);
	assert_int_equal(save("c"), 0);
	assert_int_equal(lkg_rules(), 3);
	assert_int_equal(count_entries("lkg.d."), 1);
	assert_int_equal(count_entries("lkg.l."), 0);
}

static void test_bad_content_never_replaces(void **s)
{
	struct diag d;
	char *bad = path_of("bad");
	const char *paths[] = { bad };
	char want[1024];

	make_sets();
	assert_int_equal(save("b"), 0);
	write_file("bad/1.yml", RULE("1", "One", "/one"));
	write_file("bad/2.yml", "title: x\nlogsource: {category: process_creation}\n"
		   "detection:\n    sel:\n        Foo: x\n    condition: sel\n");
	diag__init(&d);
	assert_int_equal(content_store__save_lkg_opts(state, paths, 1, NULL, &d), -EINVAL);
	/* the reason, against the copy it checked */
	assert_true(d.n_errors >= 1);
	diag__format(&d.v[0], want, sizeof(want));
	assert_non_null(strstr(want, "/0000/2.yml:5:9: error: field 'Foo' is not supplied"));
	assert_int_equal(strncmp(want, state, strlen(state)), 0);
	diag__free(&d);
	assert_int_equal(lkg_rules(), 2);
	assert_int_equal(count_entries("lkg.d."), 1);

	/* a path that does not exist */
	free(bad);
	bad = path_of("nowhere");
	paths[0] = bad;
	assert_int_equal(content_store__save_lkg(state, paths, 1), -ENOENT);
	assert_int_equal(lkg_rules(), 2);
	assert_int_equal(count_entries("lkg.d."), 1);
	free(bad);
}

static int crash_step;

static void crash_hook(int step)
{
	if (step == crash_step)
		_exit(70 + step);	/* dies here: no cleanup of any kind */
}

/* Save set name in a child that is killed on reaching step. */
static void save_and_crash(const char *name, int step)
{
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		crash_step = step;
		content_store__step_hook = crash_hook;
		save(name);
		_exit(0);	/* not reached when the step is */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 70 + step);
}

static void test_crash_between_steps(void **s)
{
	make_sets();
	for (int step = 1; step <= 7; step++) {
		int want_after_crash = step >= 6 ? 2 : 1;

		/* A is the LKG; a save of B dies at step */
		assert_int_equal(save("a"), 0);
		assert_int_equal(lkg_rules(), 1);
		save_and_crash("b", step);
		if (lkg_rules() != want_after_crash)
			fail_msg("killed at step %d: LKG has %d rules, want %d", step,
				 lkg_rules(), want_after_crash);
		/* leftovers are there until the next save, which cleans them */
		if (step < 7)
			assert_true(count_entries("lkg.d.") + count_entries("lkg.l.") >= 2);
		assert_int_equal(save("c"), 0);
		assert_int_equal(lkg_rules(), 3);
		assert_int_equal(count_entries("lkg.d."), 1);
		assert_int_equal(count_entries("lkg.l."), 0);
	}
}

/* The very first save dies: there is no LKG, and the next save works. */
static void test_crash_in_first_save(void **s)
{
	make_sets();
	save_and_crash("b", 3);
	assert_int_equal(lkg_rules(), -1);
	assert_int_equal(count_entries("lkg.d."), 1);	/* the half-made copy */
	save_and_crash("b", 5);
	assert_int_equal(lkg_rules(), -1);
	assert_int_equal(save("a"), 0);
	assert_int_equal(lkg_rules(), 1);
	assert_int_equal(count_entries("lkg.d."), 1);
	assert_int_equal(count_entries("lkg.l."), 0);
}

/* `ringward content lkg --state-dir ROOT`, its stdout captured. The
 * sensor keeps its store in ROOT/content: ROOT/content links to the store
 * these tests use. */
static int run_lkg(char *out, size_t size)
{
	char *args[] = { "content", "lkg", "--state-dir", root, NULL };
	char *p = path_of("stdout");
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600), saved = dup(1), rc;
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0);
	fflush(stdout);
	dup2(fd, 1);
	rc = cmd_content(4, args);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	n = pread(fd, out, size - 1, 0);
	out[n > 0 ? n : 0] = 0;
	close(fd);
	free(p);
	return rc;
}

static void test_lkg_cli(void **s)
{
	char out[4096], *want;

	make_sets();
	strcpy(root, "/tmp/ringward-test-lkgcli.XXXXXX");
	assert_non_null(mkdtemp(root));
	assert_true(asprintf(&want, "%s/content", root) > 0);
	assert_int_equal(symlink(state, want), 0);
	free(want);
	assert_int_equal(run_lkg(out, sizeof(out)), 1);
	assert_true(asprintf(&want, "no last-known-good content in %s/content\n", root) > 0);
	assert_string_equal(out, want);
	free(want);
	assert_int_equal(save("b"), 0);
	assert_int_equal(run_lkg(out, sizeof(out)), 0);
	assert_true(asprintf(&want, "last-known-good content: %s/content/lkg\nunversioned local "
			     "content\nok: 2 rules in 2 files\n", root) > 0);
	assert_string_equal(out, want);
	free(want);
}

static void test_small_buffer(void **s)
{
	char buf[8];

	make_sets();
	assert_int_equal(save("a"), 0);
	assert_null(content_store__lkg_dir(state, buf, sizeof(buf)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_no_lkg_yet),
		T(test_save_copies_what_loads),
		T(test_resave_replaces),
		T(test_bad_content_never_replaces),
		T(test_crash_between_steps),
		T(test_crash_in_first_save),
		T(test_small_buffer),
		T(test_lkg_cli),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
