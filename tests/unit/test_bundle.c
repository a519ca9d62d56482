/*
 * Content bundles: `ringward content manifest` writes a manifest over real
 * files in a temporary directory, the rule set loads the directory as a
 * bundle (name and version exposed), and each way a bundle can be wrong is
 * refused with its exact message: a changed file (and it is not parsed),
 * an unlisted file, a missing file, a link, another schema, a newer
 * sensor, and every malformation of the manifest itself. A directory
 * without a manifest still loads as unversioned local content.
 */
#include <dirent.h>
#include <sodium.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testlib.h"

#include "cli.h"
#include "engine/bundle.h"
#include "engine/ruleset.h"
#include "ringward/schema.h"

static char *dir;

static int setup(void **state)
{
	dir = rwt_mkdtemp("bundle");
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

static void write_file(const char *name, const char *text)
{
	char *p = path_of(name);
	FILE *f;
	char *slash = strrchr(p, '/');

	/* make the parent directory (one level below dir is enough here) */
	*slash = 0;
	mkdir(p, 0755);
	*slash = '/';
	f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	fclose(f);
	free(p);
}

static char *read_all(const char *path)
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

#define RULE(id, title, image)                                                 \
	"title: " title "\n"                                                   \
	"id: " id "\n"                                                         \
	"author: Test Author\n"                                                \
	"logsource: {product: linux, category: process_creation}\n"            \
	"detection:\n"                                                         \
	"    sel:\n"                                                           \
	"        Image|endswith: '" image "'\n"                                \
	"    condition: sel\n"                                                 \
	"level: high\n"

#define RULE_A RULE("aaaaaaaa-0000-4000-8000-000000000001", "Rule A", "/nc")
#define RULE_B RULE("aaaaaaaa-0000-4000-8000-000000000002", "Rule B", "/socat")

/* A bundle of two rules (one in a sub-directory) and a README. */
static void make_tree(void)
{
	write_file("a.yml", RULE_A);
	write_file("sub/b.yaml", RULE_B);
	write_file("README", "not a rule, but part of the bundle\n");
}

static struct ruleset *load(struct diag *d)
{
	const char *paths[] = { dir };

	diag__init(d);
	return ruleset__load(paths, 1, d);
}

/* The diag has exactly one message, equal to want. */
static void assert_one_error(const struct diag *d, const char *want)
{
	char buf[4096];

	if (d->n != 1)
		diag__print(d, stderr);
	assert_int_equal(d->n, 1);
	assert_int_equal(d->n_errors, 1);
	diag__format(&d->v[0], buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static bool has_error(const struct diag *d, const char *want)
{
	char buf[4096];

	for (size_t i = 0; i < d->n; i++) {
		diag__format(&d->v[i], buf, sizeof(buf));
		if (!strcmp(buf, want))
			return true;
	}
	diag__print(d, stderr);
	return false;
}

/* Write the manifest directly (no CLI): 0 or -errno. */
static int manifest(const char *name, int64_t version, int schema, const char *min_sensor)
{
	struct bundle_write w = { .name = name, .version = version, .schema = schema,
				  .min_sensor = min_sensor, .force = true };
	struct diag d;
	int err;

	diag__init(&d);
	err = bundle__write_manifest(dir, &w, NULL, &d);
	diag__print(&d, stderr);
	diag__free(&d);
	return err;
}

struct run {
	int rc;
	char *out, *err;	/* from malloc() */
};

/* Run `ringward content ARGS` with stdout and stderr captured. */
static struct run run_content(int argc, const char *const argv[])
{
	char outp[] = "/tmp/ringward-test-bundle-out.XXXXXX";
	char errp[] = "/tmp/ringward-test-bundle-err.XXXXXX";
	int o = mkstemp(outp), e = mkstemp(errp), so = dup(1), se = dup(2);
	char **args = calloc((size_t)argc + 1, sizeof(*args));
	struct run r;

	assert_true(o >= 0 && e >= 0 && so >= 0 && se >= 0 && args);
	for (int i = 0; i < argc; i++)
		args[i] = strdup(argv[i]);
	fflush(stdout);
	fflush(stderr);
	dup2(o, 1);
	dup2(e, 2);
	r.rc = cmd_content(argc, args);
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
	r.out = read_all(outp);
	r.err = read_all(errp);
	unlink(outp);
	unlink(errp);
	return r;
}

/* ---- making and loading bundles ---- */

static void test_manifest_cli_makes_a_bundle_that_loads(void **state)
{
	const char *argv[] = { "content", "manifest", dir, "--name", "test-content",
			       "--version", "7" };
	char *mpath = path_of(BUNDLE_MANIFEST), *text, *want;
	const struct content_info *ci;
	struct ruleset *rs;
	struct run r;
	struct diag d;

	make_tree();
	r = run_content(7, argv);
	assert_int_equal(r.rc, 0);
	assert_true(asprintf(&want, "wrote %s/" BUNDLE_MANIFEST ": bundle test-content version 7, "
			     "3 files\nbundle test-content version 7 (schema %d, sensor >= %s): 3 "
			     "files, 2 rule files, in %s\nok: 2 rules in 2 files\n", dir,
			     RW_SCHEMA_VERSION, RW_SENSOR_VERSION, dir) > 0);
	assert_string_equal(r.out, want);
	free(want);
	free(r.out);
	free(r.err);

	/* the manifest lists every file with its sha256 */
	text = read_all(mpath);
	assert_non_null(strstr(text, "format: 1\nname: test-content\nversion: 7\n"));
	assert_non_null(strstr(text, "\n  \"README\": "));
	assert_non_null(strstr(text, "\n  \"a.yml\": "));
	assert_non_null(strstr(text, "\n  \"sub/b.yaml\": "));
	free(text);

	rs = load(&d);
	assert_non_null(rs);
	assert_int_equal(d.n_errors, 0);
	assert_int_equal(ruleset__count(rs), 2);
	assert_int_equal(ruleset__files(rs), 2);
	assert_int_equal(ruleset__bundles(rs), 1);
	ci = ruleset__content_info(rs, 0);
	assert_non_null(ci);
	assert_null(ruleset__content_info(rs, 1));
	assert_string_equal(ci->name, "test-content");
	assert_int_equal(ci->version, 7);
	assert_int_equal(ci->schema, RW_SCHEMA_VERSION);
	assert_string_equal(ci->min_sensor, RW_SENSOR_VERSION);
	assert_int_equal(ci->files, 3);
	assert_int_equal(ci->rule_files, 2);
	assert_string_equal(ci->path, dir);
	assert_string_equal(ruleset__rule(rs, 0)->title, "Rule A");
	ruleset__free(rs);
	diag__free(&d);

	/* the explicit path of the manifest means the bundle */
	{
		const char *paths[] = { mpath };

		diag__init(&d);
		rs = ruleset__load(paths, 1, &d);
		assert_non_null(rs);
		assert_int_equal(ruleset__count(rs), 2);
		assert_int_equal(ruleset__bundles(rs), 1);
		ruleset__free(rs);
		diag__free(&d);
	}
	free(mpath);
}

/* The hash written is the file's real sha256 (known value). */
static void test_manifest_hash_is_sha256(void **state)
{
	char *mpath = path_of(BUNDLE_MANIFEST), *text;

	write_file("abc.txt", "abc");
	assert_int_equal(manifest("h", 1, 0, NULL), 0);
	text = read_all(mpath);
	/* FIPS 180-2 test vector: sha256("abc") */
	assert_non_null(strstr(text, "\n  \"abc.txt\": ba7816bf8f01cfea414140de5dae2223"
				     "b00361a396177a9cb410ff61f20015ad\n"));
	free(text);
	free(mpath);
}

static void test_plain_directory_is_unversioned(void **state)
{
	struct ruleset *rs;
	struct diag d;

	make_tree();
	rs = load(&d);
	assert_non_null(rs);
	assert_int_equal(ruleset__count(rs), 2);
	assert_int_equal(ruleset__bundles(rs), 0);
	assert_null(ruleset__content_info(rs, 0));
	ruleset__free(rs);
	diag__free(&d);
}

/* A bundle met while searching a plain directory is loaded as a bundle. */
static void test_bundle_inside_plain_directory(void **state)
{
	char *sub = path_of("sub");
	struct bundle_write w = { .name = "inner", .version = 3 };
	struct ruleset *rs;
	struct diag d;

	make_tree();
	diag__init(&d);
	assert_int_equal(bundle__write_manifest(sub, &w, NULL, &d), 0);
	diag__free(&d);
	rs = load(&d);
	assert_non_null(rs);
	assert_int_equal(ruleset__count(rs), 2);
	assert_int_equal(ruleset__bundles(rs), 1);
	assert_string_equal(ruleset__content_info(rs, 0)->name, "inner");
	assert_string_equal(ruleset__content_info(rs, 0)->path, sub);
	ruleset__free(rs);
	diag__free(&d);
	free(sub);
}

/* The project's own content, as a bundle. */
static void test_default_content_as_bundle(void **state)
{
	struct dirent **ents;
	struct ruleset *rs;
	struct diag d;
	int n = scandir("content/rules", &ents, NULL, alphasort), copied = 0;

	assert_true(n > 0);
	for (int i = 0; i < n; i++) {
		char src[512], dst[512], *text;

		if (strstr(ents[i]->d_name, ".yml")) {
			snprintf(src, sizeof(src), "content/rules/%s", ents[i]->d_name);
			snprintf(dst, sizeof(dst), "rules/%s", ents[i]->d_name);
			text = read_all(src);
			write_file(dst, text);
			free(text);
			copied++;
		}
		free(ents[i]);
	}
	free(ents);
	assert_int_equal(manifest("ringward-default", 1, 0, NULL), 0);
	rs = load(&d);
	assert_non_null(rs);
	assert_int_equal(ruleset__count(rs), copied);
	assert_int_equal(ruleset__content_info(rs, 0)->rule_files, copied);
	ruleset__free(rs);
	diag__free(&d);
}

/* ---- what is refused ---- */

static void test_changed_file_is_refused_unparsed(void **state)
{
	static const char broken[] = "title: [unclosed\n";
	char *mpath = path_of(BUNDLE_MANIFEST), *text, *line, *want, got[65], listed[65];
	unsigned char sha[32];
	struct ruleset *rs;
	struct diag d;
	unsigned lineno = 0;

	make_tree();
	assert_int_equal(manifest("t", 1, 0, NULL), 0);
	/* the manifest line of a.yml, for the message */
	text = read_all(mpath);
	line = strstr(text, "\n  \"a.yml\": ");
	assert_non_null(line);
	for (char *p = text; p <= line; p++)
		lineno += *p == '\n';
	/* changed into broken YAML: had it been parsed, a YAML error would
	 * be reported too */
	memcpy(listed, line + 12, 64);
	listed[64] = 0;
	write_file("a.yml", broken);
	crypto_hash_sha256(sha, (const unsigned char *)broken, strlen(broken));
	for (int i = 0; i < 32; i++)
		snprintf(got + 2 * i, 3, "%02x", sha[i]);
	rs = load(&d);
	assert_null(rs);
	assert_true(asprintf(&want, "%s/a.yml: error: sha256 %s does not match the manifest "
			     "(%s:%u:3 lists %s); the file is not parsed", dir, got, mpath,
			     lineno + 1, listed) > 0);
	assert_one_error(&d, want);
	free(want);
	diag__free(&d);
	free(text);
	free(mpath);
}

static void test_unlisted_file_is_refused(void **state)
{
	char *want;
	struct ruleset *rs;
	struct diag d;

	make_tree();
	assert_int_equal(manifest("t", 1, 0, NULL), 0);
	write_file("sub/extra.yml", RULE("aaaaaaaa-0000-4000-8000-000000000003", "X", "/x"));
	rs = load(&d);
	assert_null(rs);
	assert_true(asprintf(&want, "%s/sub/extra.yml: error: file is not listed in the bundle "
			     "manifest %s/" BUNDLE_MANIFEST " (refusing a bundle with unlisted "
			     "files)", dir, dir) > 0);
	assert_one_error(&d, want);
	free(want);
	diag__free(&d);

	/* a hidden file as well: a bundle holds exactly what it lists */
	want = path_of("sub/extra.yml");
	assert_int_equal(unlink(want), 0);
	free(want);
	write_file(".hidden", "x");
	rs = load(&d);
	assert_null(rs);
	assert_true(asprintf(&want, "%s/.hidden: error: file is not listed in the bundle "
			     "manifest %s/" BUNDLE_MANIFEST " (refusing a bundle with unlisted "
			     "files)", dir, dir) > 0);
	assert_one_error(&d, want);
	free(want);
	diag__free(&d);
}

static void test_missing_file_is_refused(void **state)
{
	char *p = path_of("sub/b.yaml"), *mpath = path_of(BUNDLE_MANIFEST), *text, *want;
	struct ruleset *rs;
	struct diag d;
	unsigned lineno = 1;

	make_tree();
	assert_int_equal(manifest("t", 1, 0, NULL), 0);
	text = read_all(mpath);
	for (char *q = text; q < strstr(text, "\"sub/b.yaml\""); q++)
		lineno += *q == '\n';
	assert_int_equal(unlink(p), 0);
	rs = load(&d);
	assert_null(rs);
	assert_true(asprintf(&want, "%s:%u:3: error: listed file 'sub/b.yaml' is missing from "
			     "the bundle", mpath, lineno) > 0);
	assert_one_error(&d, want);
	free(want);
	diag__free(&d);
	free(text);
	free(mpath);
	free(p);
}

static void test_links_are_refused(void **state)
{
	char *link = path_of("sub/link.yml"), *want;
	struct bundle_write w = { .name = "t", .version = 1 };
	struct ruleset *rs;
	struct diag d;

	make_tree();
	assert_int_equal(manifest("t", 1, 0, NULL), 0);
	assert_int_equal(symlink("../a.yml", link), 0);
	rs = load(&d);
	assert_null(rs);
	assert_true(asprintf(&want, "%s: error: symbolic link in a bundle (a bundle holds "
			     "regular files and directories only)", link) > 0);
	assert_one_error(&d, want);
	diag__free(&d);
	/* and the writer will not list one */
	diag__init(&d);
	w.force = true;
	assert_int_equal(bundle__write_manifest(dir, &w, NULL, &d), -EINVAL);
	assert_one_error(&d, want);
	diag__free(&d);
	free(want);
	free(link);
}

static void test_other_schema_is_refused_unparsed(void **state)
{
	char *mpath = path_of(BUNDLE_MANIFEST), *want;
	struct ruleset *rs;
	struct diag d;

	make_tree();
	/* a broken rule too: with the wrong schema, nothing is parsed */
	write_file("broken.yml", "title: [unclosed\n");
	assert_int_equal(manifest("future", 4, RW_SCHEMA_VERSION + 1, NULL), 0);
	rs = load(&d);
	assert_null(rs);
	assert_true(asprintf(&want, "%s:7:9: error: bundle 'future' targets event schema %d; "
			     "this sensor supplies schema %d", mpath, RW_SCHEMA_VERSION + 1,
			     RW_SCHEMA_VERSION) > 0);
	assert_one_error(&d, want);
	free(want);
	diag__free(&d);
	free(mpath);
}

static void test_newer_sensor_is_refused(void **state)
{
	char *mpath = path_of(BUNDLE_MANIFEST), *want;
	struct ruleset *rs;
	struct diag d;

	make_tree();
	assert_int_equal(manifest("t", 2, 0, "0.10.0"), 0);
	rs = load(&d);
	assert_null(rs);
	assert_true(asprintf(&want, "%s:8:13: error: bundle 't' needs sensor version 0.10.0 or "
			     "newer; this sensor is %s", mpath, RW_SENSOR_VERSION) > 0);
	assert_one_error(&d, want);
	free(want);
	diag__free(&d);

	/* the same version and an older one are fine */
	assert_int_equal(manifest("t", 3, 0, RW_SENSOR_VERSION), 0);
	rs = load(&d);
	assert_non_null(rs);
	ruleset__free(rs);
	diag__free(&d);
	assert_int_equal(manifest("t", 4, 0, "0.0.1"), 0);
	rs = load(&d);
	assert_non_null(rs);
	ruleset__free(rs);
	diag__free(&d);	free(mpath);
}

/* One malformed manifest: the load fails with exactly want (a format
 * string taking the manifest path). */
static void check_manifest_error(const char *manifest_text, const char *want_fmt)
{
	char *mpath = path_of(BUNDLE_MANIFEST), *want;
	struct ruleset *rs;
	struct diag d;

	write_file(BUNDLE_MANIFEST, manifest_text);
	rs = load(&d);
	assert_null(rs);
	assert_true(asprintf(&want, want_fmt, mpath) > 0);
	if (!has_error(&d, want))
		fail_msg("expected: %s", want);
	free(want);
	diag__free(&d);
	free(mpath);
}

#define HASH_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define HEAD "format: 1\nname: t\nversion: 1\nschema: 2\nmin_sensor: 0.1.0\n"

static void test_malformed_manifests(void **state)
{
	write_file("abc.txt", "abc");
	check_manifest_error(HEAD "files:\n  abc.txt: " HASH_ABC "\nsigned_by: me\n",
			     "%s:8:1: error: unknown key 'signed_by' in a bundle manifest (known: "
			     "format, name, version, schema, min_sensor, files, expires)");
	check_manifest_error(HEAD "version: 2\nfiles:\n  abc.txt: " HASH_ABC "\n",
			     "%s:6:1: error: key 'version' given twice (first at line 3)");
	check_manifest_error("format: 1\nname: t\nversion: 01\nschema: 2\nmin_sensor: 0.1.0\n"
			     "files: {}\n",
			     "%s:3:10: error: bundle version '01' must be a positive integer (no "
			     "quotes, sign or leading zeros)");
	check_manifest_error("format: 1\nname: t\nversion: '5'\nschema: 2\nmin_sensor: 0.1.0\n"
			     "files: {}\n",
			     "%s:3:10: error: bundle version '5' must be a positive integer (no "
			     "quotes, sign or leading zeros)");
	check_manifest_error("format: 2\nname: t\nversion: 1\nschema: 2\nmin_sensor: 0.1.0\n"
			     "files: {}\n",
			     "%s:1:9: error: manifest format '2' is not one this sensor reads "
			     "(format 1)");
	check_manifest_error("format: 1\nname: 'a b'\nversion: 1\nschema: 2\nmin_sensor: 0.1.0\n"
			     "files: {}\n",
			     "%s:2:7: error: bad bundle name 'a b': 1 to 128 letters, digits, '.', "
			     "'_' or '-', starting with a letter or digit");
	check_manifest_error("format: 1\nname: t\nversion: 1\nschema: 2\nmin_sensor: 1.2\n"
			     "files: {}\n",
			     "%s:5:13: error: minimum sensor version '1.2' must be "
			     "MAJOR.MINOR.PATCH");
	check_manifest_error("format: 1\nname: t\nversion: 1\nschema: 2\nmin_sensor: 0.1.0\n",
			     "%s:1:1: error: missing key 'files' in the bundle manifest");
	check_manifest_error(HEAD "files:\n  ../abc.txt: " HASH_ABC "\n",
			     "%s:7:3: error: bad file path '../abc.txt': a path with a '.' or '..' "
			     "component");
	check_manifest_error(HEAD "files:\n  /etc/passwd: " HASH_ABC "\n",
			     "%s:7:3: error: bad file path '/etc/passwd': an absolute path (paths "
			     "are relative to the bundle directory)");
	check_manifest_error(HEAD "files:\n  abc.txt: " HASH_ABC "\n  abc.txt: " HASH_ABC "\n",
			     "%s:8:3: error: file 'abc.txt' listed twice (first at line 7)");
	check_manifest_error(HEAD "files:\n  abc.txt: BA7816BF\n",
			     "%s:7:12: error: sha256 of 'abc.txt' must be 64 lower-case hex digits");
	check_manifest_error(HEAD "files:\n  sub/" BUNDLE_MANIFEST ": " HASH_ABC "\n",
			     "%s:7:3: error: bad file path 'sub/" BUNDLE_MANIFEST "': a manifest "
			     "inside the bundle (bundles do not nest)");
	check_manifest_error(HEAD "files: [abc.txt]\n",
			     "%s:6:8: error: 'files' must be a mapping of path: sha256");
	check_manifest_error(HEAD "files: {abc.txt: " HASH_ABC "}\n---\nmore: 1\n",
			     "%s:8:1: error: a manifest is one YAML document; a second one starts "
			     "here");
	check_manifest_error(HEAD "files: {abc.txt: [\n",
			     "%s:7:1: error: bad YAML: did not find expected node content while "
			     "parsing a flow node");
	/* and a well-formed one loads (no rules: abc.txt is not a rule file) */
	write_file(BUNDLE_MANIFEST, HEAD "files:\n  abc.txt: " HASH_ABC "\n");
	{
		struct diag d;
		struct ruleset *rs = load(&d);

		assert_non_null(rs);
		assert_int_equal(ruleset__count(rs), 0);
		assert_int_equal(ruleset__content_info(rs, 0)->files, 1);
		ruleset__free(rs);
		diag__free(&d);
	}
}

static void test_versions_only_go_up(void **state)
{
	const char *v5[] = { "content", "manifest", dir, "--name", "t", "--version", "5" };
	const char *v5f[] = { "content", "manifest", dir, "--name", "t", "--version", "5",
			      "--force" };
	const char *bad[] = { "content", "manifest", dir, "--name", "t", "--version", "x" };
	char *want;
	struct run r;

	make_tree();
	r = run_content(7, v5);
	assert_int_equal(r.rc, 0);
	free(r.out);
	free(r.err);
	r = run_content(7, v5);
	assert_int_equal(r.rc, 1);
	assert_true(asprintf(&want, "%s: error: version 5 is not above the current manifest's "
			     "version 5 (versions only go up; --force to override)\n", dir) > 0);
	assert_string_equal(r.out, want);
	free(want);
	free(r.out);
	free(r.err);
	r = run_content(8, v5f);
	assert_int_equal(r.rc, 0);
	free(r.out);
	free(r.err);
	r = run_content(7, bad);
	assert_int_equal(r.rc, 2);
	assert_string_equal(r.err, "ringward content: --version takes a positive integer\n");
	free(r.out);
	free(r.err);
}

/* The manifest CLI reports content that does not load, and exits 1. */
static void test_manifest_cli_reports_bad_content(void **state)
{
	const char *argv[] = { "content", "manifest", dir, "--name", "t", "--version", "1" };
	struct run r;

	write_file("bad.yml", "title: x\nlogsource: {category: process_creation}\n"
		   "detection:\n    sel:\n        Foo: x\n    condition: sel\n");
	r = run_content(7, argv);
	assert_int_equal(r.rc, 1);
	assert_non_null(strstr(r.out, "/bad.yml:5:9: error: field 'Foo' is not supplied for "
				      "category 'process_creation'"));
	assert_non_null(strstr(r.out, "1 error: the content does not load\n"));
	free(r.out);
	free(r.err);
}

static void test_version_cmp(void **state)
{
	int c;

	assert_int_equal(bundle__version_cmp("0.1.0", "0.1.0", &c), 0);
	assert_int_equal(c, 0);
	assert_int_equal(bundle__version_cmp("0.10.0", "0.9.9", &c), 0);
	assert_int_equal(c, 1);
	assert_int_equal(bundle__version_cmp("1.0.0", "1.0.1", &c), 0);
	assert_int_equal(c, -1);
	assert_int_equal(bundle__version_cmp("1.0", "1.0.1", &c), -EINVAL);
	assert_int_equal(bundle__version_cmp("1.0.0-rc1", "1.0.1", &c), -EINVAL);
	assert_int_equal(bundle__version_cmp("1.0.0.0", "1.0.1", &c), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_manifest_cli_makes_a_bundle_that_loads),
		T(test_manifest_hash_is_sha256),
		T(test_plain_directory_is_unversioned),
		T(test_bundle_inside_plain_directory),
		T(test_default_content_as_bundle),
		T(test_changed_file_is_refused_unparsed),
		T(test_unlisted_file_is_refused),
		T(test_missing_file_is_refused),
		T(test_links_are_refused),
		T(test_other_schema_is_refused_unparsed),
		T(test_newer_sensor_is_refused),
		T(test_malformed_manifests),
		T(test_versions_only_go_up),
		T(test_manifest_cli_reports_bad_content),
		T(test_version_cmp),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
