/*
 * Signed content, expiry and anti-rollback, on real files in a temporary
 * directory: keys made by `ringward content keygen`, bundles signed by
 * `ringward content sign` and checked by `verify` and by the loader the
 * sensor runs. Each refusal is checked with its exact message: a listed
 * file changed after signing (hash), the manifest changed after signing
 * (signature), a bundle signed by a key that is not trusted, an older
 * signed version (anti-rollback), an expired bundle, an unsigned bundle,
 * a plain directory and a buffer while signing is required.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testlib.h"

#include "cli.h"
#include "engine/anti_rollback.h"
#include "engine/bundle.h"
#include "engine/content_sign.h"
#include "engine/content_store.h"
#include "engine/ruleset.h"
#include "ringward/schema.h"

static char *top;	/* the test's directory */
static char *bdir;	/* top/bundle */
static char *keys;	/* top/keys */
static char *state;	/* top/state */

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
	"logsource: {product: linux, category: process_creation}\n"            \
	"detection:\n"                                                         \
	"    sel:\n"                                                           \
	"        Image|endswith: '" image "'\n"                                \
	"    condition: sel\n"                                                 \
	"level: high\n"

#define RULE_A RULE("bbbbbbbb-0000-4000-8000-000000000001", "Rule A", "/nc")
#define RULE_B RULE("bbbbbbbb-0000-4000-8000-000000000002", "Rule B", "/socat")

static int setup(void **st)
{
	top = rwt_mkdtemp("signing");
	if (!top)
		return -1;
	bdir = cat(top, "bundle");
	keys = cat(top, "keys");
	state = cat(top, "state");
	if (mkdir(bdir, 0755) || mkdir(keys, 0700))
		return -1;
	write_at(bdir, "a.yml", RULE_A);
	write_at(bdir, "b.yml", RULE_B);
	write_at(bdir, "README", "two rules\n");
	return sodium_init() < 0 ? -1 : 0;
}

static int teardown(void **st)
{
	rwt_rmtree(top);
	free(top);
	free(bdir);
	free(keys);
	free(state);
	return 0;
}

struct run {
	int rc;
	char *out, *err;	/* from malloc() */
};

/* Run `ringward content ARGS` with stdout and stderr captured. */
static struct run run_content(const char *const argv[])
{
	char outp[] = "/tmp/ringward-test-signing-out.XXXXXX";
	char errp[] = "/tmp/ringward-test-signing-err.XXXXXX";
	int o = mkstemp(outp), e = mkstemp(errp), so = dup(1), se = dup(2), argc = 0;
	char *args[16];
	struct run r;

	assert_true(o >= 0 && e >= 0 && so >= 0 && se >= 0);
	for (; argv[argc]; argc++)
		args[argc] = strdup(argv[argc]);
	args[argc] = NULL;
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
	r.out = read_all(outp);
	r.err = read_all(errp);
	unlink(outp);
	unlink(errp);
	return r;
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* A key pair keys/NAME.{key,pub}; its id into id. */
static void keygen(const char *name, char *id)
{
	char *prefix = cat(keys, name);
	struct diag d;

	diag__init(&d);
	assert_int_equal(sign__keygen(prefix, id, &d), 0);
	assert_int_equal(d.n, 0);
	diag__free(&d);
	free(prefix);
}

static void make_manifest(int64_t version, int64_t expires)
{
	struct bundle_write w = { .name = "demo", .version = version, .force = true,
				  .expires = expires };
	struct diag d;

	diag__init(&d);
	assert_int_equal(bundle__write_manifest(bdir, &w, NULL, &d), 0);
	diag__free(&d);
}

static void sign_with(const char *name)
{
	char *kpath, *k = NULL;
	struct diag d;

	assert_true(asprintf(&k, "%s.key", name) > 0);
	kpath = cat(keys, k);
	diag__init(&d);
	assert_int_equal(sign__bundle(bdir, kpath, false, NULL, &d), 0);
	assert_int_equal(d.n, 0);
	diag__free(&d);
	free(kpath);
	free(k);
}

/* Load bdir trusting keys/NAME.pub (NULL: no trusted key), anti-rollback
 * in state when versions, at time now (0: the clock). */
static struct ruleset *load_as(const char *name, bool versions, bool lkg, int64_t now,
			       struct diag *d)
{
	char *pub = NULL, *k = NULL;
	const char *trusted[1];
	const char *paths[] = { bdir };
	struct ruleset_opts o = { .versions_dir = versions ? state : NULL,
				  .last_known_good = lkg, .now = now };
	struct ruleset *rs;

	if (name) {
		assert_true(asprintf(&k, "%s.pub", name) > 0);
		pub = cat(keys, k);
		trusted[0] = pub;
		o.trusted_keys = trusted;
		o.n_trusted_keys = 1;
	}
	diag__init(d);
	rs = ruleset__load_opts(paths, 1, &o, d);
	free(pub);
	free(k);
	return rs;
}

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

/* The line of the manifest that lists path (1-based). */
static unsigned manifest_line_of(const char *text, const char *needle)
{
	const char *hit = strstr(text, needle);
	unsigned line = 1;

	assert_non_null(hit);
	for (const char *p = text; p < hit; p++)
		line += *p == '\n';
	return line;
}

/* ---- keys and the CLI ---- */

static void test_keygen_sign_verify_cli(void **st)
{
	char *prefix = cat(keys, "prod"), *kpath = cat(keys, "prod.key");
	char *ppath = cat(keys, "prod.pub"), *want, *pubtext, id[SIGN_KEY_ID_LEN + 1];
	const char *gen[] = { "content", "keygen", "--out", prefix, NULL };
	const char *sign[] = { "content", "sign", bdir, "--key", kpath, NULL };
	const char *verify[] = { "content", "verify", bdir, "--trusted", ppath, NULL };
	const char *man[] = { "content", "manifest", bdir, "--name", "demo", "--version", "3",
			      NULL };
	uint8_t pk[32];
	struct stat sk, sp;
	struct run r;

	r = run_content(gen);
	assert_int_equal(r.rc, 0);
	assert_int_equal(stat(kpath, &sk), 0);
	assert_int_equal(stat(ppath, &sp), 0);
	assert_int_equal(sk.st_mode & 07777, 0600);
	assert_int_equal(sp.st_mode & 07777, 0644);
	/* the id printed is the id of the public key written */
	{
		struct diag d;

		diag__init(&d);
		assert_int_equal(sign__read_public(ppath, pk, id, &d), 0);
		diag__free(&d);
	}
	assert_true(asprintf(&want, "wrote %s.key (secret, mode 0600) and %s.pub: key id %s\n",
			     prefix, prefix, id) > 0);
	assert_string_equal(r.out, want);
	free(want);
	run_free(&r);
	pubtext = read_all(ppath);
	assert_non_null(strstr(pubtext, "\ned25519 "));
	free(pubtext);

	/* a key is never overwritten */
	r = run_content(gen);
	assert_int_equal(r.rc, 1);
	assert_true(asprintf(&want, "%s: error: exists: refusing to overwrite a key\n", kpath) > 0);
	assert_string_equal(r.out, want);
	free(want);
	run_free(&r);

	/* signing needs a bundle */
	r = run_content(sign);
	assert_int_equal(r.rc, 1);
	assert_true(asprintf(&want, "%s: error: not a bundle (no " BUNDLE_MANIFEST ": make one "
			     "with `ringward content manifest`)\n", bdir) > 0);
	assert_string_equal(r.out, want);
	free(want);
	run_free(&r);

	r = run_content(man);
	assert_int_equal(r.rc, 0);
	run_free(&r);
	r = run_content(sign);
	assert_int_equal(r.rc, 0);
	assert_true(asprintf(&want, "signed %s/" BUNDLE_MANIFEST " with key %s: wrote %s/"
			     BUNDLE_SIGNATURE "\n", bdir, id, bdir) > 0);
	assert_string_equal(r.out, want);
	free(want);
	run_free(&r);

	r = run_content(verify);
	assert_int_equal(r.rc, 0);
	assert_true(asprintf(&want, "ok: bundle demo version 3, signed by trusted key %s; 2 rules "
			     "in 2 files\n", id) > 0);
	assert_string_equal(r.out, want);
	free(want);
	run_free(&r);

	/* a secret key others can read is not used */
	assert_int_equal(chmod(kpath, 0640), 0);
	r = run_content(sign);
	assert_int_equal(r.rc, 1);
	assert_true(asprintf(&want, "%s: error: secret key is accessible to group or others "
			     "(mode 0640): refusing to use it (chmod 600)\n", kpath) > 0);
	assert_string_equal(r.out, want);
	free(want);
	run_free(&r);
	free(prefix);
	free(kpath);
	free(ppath);
}

/* ---- the round trip and each refusal ---- */

static void test_signed_bundle_loads(void **st)
{
	char id[SIGN_KEY_ID_LEN + 1];
	struct ruleset_signing sg;
	const struct content_info *ci;
	struct ruleset *rs;
	struct diag d;

	keygen("k", id);
	make_manifest(5, 0);
	sign_with("k");
	rs = load_as("k", false, false, 0, &d);
	assert_non_null(rs);
	assert_int_equal(d.n, 0);
	assert_int_equal(ruleset__count(rs), 2);
	ci = ruleset__content_info(rs, 0);
	assert_string_equal(ci->name, "demo");
	assert_int_equal(ci->version, 5);
	assert_string_equal(ci->key_id, id);
	ruleset__signing(rs, &sg);
	assert_true(sg.required);
	assert_int_equal(sg.trusted_keys, 1);
	assert_int_equal(sg.unsigned_rules, 0);
	assert_true(sg.all_signed);
	assert_string_equal(ruleset__signing_state(rs), "signed");
	ruleset__free(rs);
	diag__free(&d);

	/* without trusted keys it loads too, reported as unsigned */
	rs = load_as(NULL, false, false, 0, &d);
	assert_non_null(rs);
	assert_null(ruleset__content_info(rs, 0)->key_id);
	ruleset__signing(rs, &sg);
	assert_false(sg.required);
	assert_int_equal(sg.unsigned_rules, 2);
	assert_false(sg.all_signed);
	assert_string_equal(ruleset__signing_state(rs),
			    "unsigned: no trusted key is configured");
	ruleset__free(rs);
	diag__free(&d);
}

static void test_file_changed_after_signing(void **st)
{
	char id[SIGN_KEY_ID_LEN + 1], *mpath = cat(bdir, BUNDLE_MANIFEST), *text, *want;
	char *apath = cat(bdir, "a.yml"), got[65], listed[65];
	unsigned char sha[32];
	struct ruleset *rs;
	struct diag d;
	const char *line;
	char *a;
	unsigned lineno;

	keygen("k", id);
	make_manifest(1, 0);
	sign_with("k");
	text = read_all(mpath);
	lineno = manifest_line_of(text, "\"a.yml\": ");
	line = strstr(text, "\"a.yml\": ");
	memcpy(listed, line + 9, 64);
	listed[64] = 0;
	/* one byte of the rule changed */
	a = read_all(apath);
	*strstr(a, "/nc") = 'X';
	write_at(bdir, "a.yml", a);
	crypto_hash_sha256(sha, (const unsigned char *)a, strlen(a));
	sodium_bin2hex(got, sizeof(got), sha, sizeof(sha));
	rs = load_as("k", false, false, 0, &d);
	assert_null(rs);
	assert_true(asprintf(&want, "%s: error: sha256 %s does not match the manifest (%s:%u:3 "
			     "lists %s); the file is not parsed", apath, got, mpath, lineno,
			     listed) > 0);
	assert_one_error(&d, want);
	free(want);
	diag__free(&d);
	free(a);
	free(text);
	free(apath);
	free(mpath);
}

static void test_manifest_changed_after_signing(void **st)
{
	char id[SIGN_KEY_ID_LEN + 1], *mpath = cat(bdir, BUNDLE_MANIFEST);
	char *spath = cat(bdir, BUNDLE_SIGNATURE), *text, *want, *v;
	struct ruleset *rs;
	struct diag d;

	keygen("k", id);
	make_manifest(1, 0);
	sign_with("k");
	/* the version raised by hand: the bytes signed are not these */
	text = read_all(mpath);
	v = strstr(text, "version: 1\n");
	assert_non_null(v);
	v[9] = '9';
	write_at(bdir, BUNDLE_MANIFEST, text);
	rs = load_as("k", false, false, 0, &d);
	assert_null(rs);
	assert_true(asprintf(&want, "%s:3:1: error: signature by key %s does not verify against "
			     "%s (the manifest was changed after signing): refused, nothing in the "
			     "bundle is parsed", spath, id, mpath) > 0);
	assert_one_error(&d, want);
	free(want);
	diag__free(&d);
	free(text);
	free(spath);
	free(mpath);
}

static void test_unknown_key(void **st)
{
	char good[SIGN_KEY_ID_LEN + 1], other[SIGN_KEY_ID_LEN + 1];
	char *spath = cat(bdir, BUNDLE_SIGNATURE), *want;
	struct ruleset *rs;
	struct diag d;

	keygen("trusted", good);
	keygen("stranger", other);
	make_manifest(1, 0);
	sign_with("stranger");
	rs = load_as("trusted", false, false, 0, &d);
	assert_null(rs);
	assert_true(asprintf(&want, "%s:3:1: error: signed by key %s, which is not trusted "
			     "(trusted: %s): refused, nothing in the bundle is parsed", spath,
			     other, good) > 0);
	assert_one_error(&d, want);
	free(want);
	diag__free(&d);
	free(spath);
}

static void test_older_signed_version(void **st)
{
	char id[SIGN_KEY_ID_LEN + 1], *mpath = cat(bdir, BUNDLE_MANIFEST), *vpath, *text, *want;
	struct ruleset *rs;
	struct diag d;

	keygen("k", id);
	make_manifest(5, 0);
	sign_with("k");
	rs = load_as("k", true, false, 0, &d);
	assert_non_null(rs);
	assert_int_equal(ruleset__content_info(rs, 0)->highest_version, 0);
	ruleset__free(rs);
	diag__free(&d);
	/* accepted, so recorded */
	vpath = cat(state, CONTENT_VERSIONS_FILE);
	text = read_all(vpath);
	assert_non_null(strstr(text, "\ndemo 5\n"));
	free(text);

	/* an older bundle, correctly signed: refused */
	make_manifest(4, 0);
	sign_with("k");
	rs = load_as("k", true, false, 0, &d);
	assert_null(rs);
	assert_true(asprintf(&want, "%s:6:10: error: bundle 'demo' version 4 is older than "
			     "version 5, the highest accepted (anti-rollback): refused", mpath) > 0);
	assert_one_error(&d, want);
	free(want);
	diag__free(&d);

	/* as the sensor's own last-known-good it loads, saying so */
	rs = load_as("k", true, true, 0, &d);
	assert_non_null(rs);
	assert_int_equal(ruleset__content_info(rs, 0)->version, 4);
	assert_int_equal(ruleset__content_info(rs, 0)->highest_version, 5);
	ruleset__free(rs);
	diag__free(&d);
	/* and does not lower the floor */
	text = read_all(vpath);
	assert_non_null(strstr(text, "\ndemo 5\n"));
	free(text);

	/* the same version again, and a newer one, load */
	make_manifest(5, 0);
	sign_with("k");
	rs = load_as("k", true, false, 0, &d);
	assert_non_null(rs);
	ruleset__free(rs);
	diag__free(&d);
	make_manifest(6, 0);
	sign_with("k");
	rs = load_as("k", true, false, 0, &d);
	assert_non_null(rs);
	assert_int_equal(ruleset__content_info(rs, 0)->highest_version, 5);
	ruleset__free(rs);
	diag__free(&d);
	text = read_all(vpath);
	assert_non_null(strstr(text, "\ndemo 6\n"));
	free(text);
	free(vpath);
	free(mpath);
}

static void test_expired(void **st)
{
	char id[SIGN_KEY_ID_LEN + 1], *mpath = cat(bdir, BUNDLE_MANIFEST), *text, *want;
	int64_t exp, now;
	struct ruleset *rs;
	struct diag d;

	assert_int_equal(bundle__parse_time("2030-06-01T12:00:00Z", 20, &exp), 0);
	keygen("k", id);
	make_manifest(2, exp);
	sign_with("k");
	text = read_all(mpath);
	assert_non_null(strstr(text, "\nexpires: 2030-06-01T12:00:00Z\n"));
	free(text);

	/* a second before: loads, with the expiry for the sensor to watch */
	now = exp - 1;
	rs = load_as("k", false, false, now, &d);
	assert_non_null(rs);
	assert_int_equal(ruleset__content_info(rs, 0)->expires, exp);
	assert_false(ruleset__content_info(rs, 0)->expired);
	ruleset__free(rs);
	diag__free(&d);

	/* at the expiry: refused */
	rs = load_as("k", false, false, exp, &d);
	assert_null(rs);
	assert_true(asprintf(&want, "%s:9:10: error: bundle 'demo' expired at "
			     "2030-06-01T12:00:00Z: refused for activation (running content stays; "
			     "publish a newer bundle)", mpath) > 0);
	assert_one_error(&d, want);
	free(want);
	diag__free(&d);

	/* stale content keeps running as the last-known-good */
	rs = load_as("k", false, true, exp + 86400, &d);
	assert_non_null(rs);
	assert_true(ruleset__content_info(rs, 0)->expired);
	ruleset__free(rs);
	diag__free(&d);
	free(mpath);
}

static void test_unsigned_refused_when_required(void **st)
{
	char id[SIGN_KEY_ID_LEN + 1], *mpath = cat(bdir, BUNDLE_MANIFEST), *pub, *want;
	const char *trusted[1];
	struct ruleset_opts o = { .trusted_keys = trusted, .n_trusted_keys = 1 };
	struct ruleset *rs;
	struct diag d;

	keygen("k", id);
	pub = cat(keys, "k.pub");
	trusted[0] = pub;

	/* a plain directory: nothing in it parsed */
	write_at(bdir, "broken.yml", "title: [unclosed\n");
	rs = load_as("k", false, false, 0, &d);
	assert_null(rs);
	assert_true(asprintf(&want, "%s: error: unsigned content refused: signed content is "
			     "required (trusted keys are configured), and this directory holds 3 "
			     "rule files outside any signed bundle; they are not parsed", bdir) > 0);
	assert_one_error(&d, want);
	free(want);
	diag__free(&d);

	/* a rule file given by name */
	{
		char *a = cat(bdir, "a.yml");
		const char *paths[] = { a };

		diag__init(&d);
		rs = ruleset__load_opts(paths, 1, &o, &d);
		assert_null(rs);
		assert_true(asprintf(&want, "%s: error: unsigned content refused: signed content "
				     "is required (trusted keys are configured), and this rule file "
				     "is not in a signed bundle; it is not parsed", a) > 0);
		assert_one_error(&d, want);
		free(want);
		diag__free(&d);
		free(a);
	}

	/* a buffer */
	diag__init(&d);
	rs = ruleset__load_buffer("mem.yml", RULE_A, strlen(RULE_A), &o, &d);
	assert_null(rs);
	assert_one_error(&d, "mem.yml: error: unsigned content refused: signed content is "
			 "required (trusted keys are configured), and content held in memory is "
			 "not a signed bundle; it is not parsed");
	diag__free(&d);

	/* a bundle without a signature: not even its manifest is parsed */
	{
		char *b = cat(bdir, "broken.yml");

		unlink(b);
		free(b);
	}
	make_manifest(1, 0);
	write_at(bdir, BUNDLE_MANIFEST, "format: [unclosed\n");
	rs = load_as("k", false, false, 0, &d);
	assert_null(rs);
	assert_true(asprintf(&want, "%s: error: the bundle is not signed (no " BUNDLE_SIGNATURE
			     ") and content must be signed by a trusted key: refused, nothing in "
			     "it is parsed", mpath) > 0);
	assert_one_error(&d, want);
	free(want);
	diag__free(&d);
	free(pub);
	free(mpath);
}

static void test_trusted_key_directory(void **st)
{
	char id1[SIGN_KEY_ID_LEN + 1], id2[SIGN_KEY_ID_LEN + 1], *bad, *want;
	const char *trusted[] = { keys };
	const char *paths[] = { bdir };
	struct ruleset_opts o = { .trusted_keys = trusted, .n_trusted_keys = 1 };
	struct ruleset *rs;
	struct diag d;
	char buf[1024];

	/* keys/ holds k1.pub, k2.pub and a damaged one: the damaged one is
	 * skipped with a warning, the others trusted */
	keygen("k1", id1);
	keygen("k2", id2);
	write_at(keys, "bad.pub", "ed25519 0000000000000000 AAAA\n");
	bad = cat(keys, "bad.pub");
	make_manifest(1, 0);
	sign_with("k2");
	diag__init(&d);
	rs = ruleset__load_opts(paths, 1, &o, &d);
	assert_non_null(rs);
	assert_string_equal(ruleset__content_info(rs, 0)->key_id, id2);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.n_errors, 0);
	diag__format(&d.v[0], buf, sizeof(buf));
	assert_true(asprintf(&want, "ringward: warning: trusted key skipped: %s:1:1: error: the "
			     "public key must be 32 bytes in base64", bad) > 0);
	assert_string_equal(buf, want);
	free(want);
	ruleset__free(rs);
	diag__free(&d);

	/* no usable key at all: everything refused */
	{
		const char *only[] = { bad };
		struct ruleset_opts o2 = { .trusted_keys = only, .n_trusted_keys = 1 };

		diag__init(&d);
		rs = ruleset__load_opts(paths, 1, &o2, &d);
		assert_null(rs);
		assert_int_equal(d.n_errors, 1);
		diag__format(&d.v[d.n - 1], buf, sizeof(buf));
		assert_true(asprintf(&want, "%s: error: signed content is required (trusted keys "
				     "are configured) but no usable public key was found: all "
				     "content is refused", bad) > 0);
		assert_string_equal(buf, want);
		free(want);
		diag__free(&d);
	}
	free(bad);
}

static void test_append_second_signature(void **st)
{
	char id1[SIGN_KEY_ID_LEN + 1], id2[SIGN_KEY_ID_LEN + 1], *k2 = cat(keys, "new.key");
	char *spath = cat(bdir, BUNDLE_SIGNATURE), *text;
	struct ruleset *rs;
	struct diag d;

	keygen("old", id1);
	keygen("new", id2);
	make_manifest(1, 0);
	sign_with("old");
	diag__init(&d);
	assert_int_equal(sign__bundle(bdir, k2, true, NULL, &d), 0);
	diag__free(&d);
	text = read_all(spath);
	assert_non_null(strstr(text, id1));
	assert_non_null(strstr(text, id2));
	free(text);
	/* hosts trusting either key load it */
	rs = load_as("old", false, false, 0, &d);
	assert_non_null(rs);
	assert_string_equal(ruleset__content_info(rs, 0)->key_id, id1);
	ruleset__free(rs);
	diag__free(&d);
	rs = load_as("new", false, false, 0, &d);
	assert_non_null(rs);
	assert_string_equal(ruleset__content_info(rs, 0)->key_id, id2);
	ruleset__free(rs);
	diag__free(&d);

	/* a new manifest removes the signatures of the old one */
	diag__init(&d);
	{
		struct bundle_write w = { .name = "demo", .version = 2 };
		char buf[1024], *want;

		assert_int_equal(bundle__write_manifest(bdir, &w, NULL, &d), 0);
		assert_int_equal(d.n, 1);
		diag__format(&d.v[0], buf, sizeof(buf));
		assert_true(asprintf(&want, "%s: note: removed: it signed the previous manifest "
				     "(sign the bundle again)", spath) > 0);
		assert_string_equal(buf, want);
		free(want);
	}
	diag__free(&d);
	assert_int_equal(access(spath, F_OK), -1);
	free(spath);
	free(k2);
}

static void test_malformed_signature_file(void **st)
{
	char id[SIGN_KEY_ID_LEN + 1], *spath = cat(bdir, BUNDLE_SIGNATURE), *want;
	struct sign_file sf;
	struct ruleset *rs;
	struct diag d;
	char buf[1024];

	keygen("k", id);
	make_manifest(1, 0);
	write_at(bdir, BUNDLE_SIGNATURE, "# comment\nrsa 0123456789abcdef AAAA\n");
	rs = load_as("k", false, false, 0, &d);
	assert_null(rs);
	assert_int_equal(d.n, 2);
	diag__format(&d.v[0], buf, sizeof(buf));
	assert_true(asprintf(&want, "%s: error: malformed signature file: refused, nothing in the "
			     "bundle is parsed", spath) > 0);
	assert_string_equal(buf, want);
	free(want);
	diag__format(&d.v[1], buf, sizeof(buf));
	assert_true(asprintf(&want, "%s:2:1: error: expected 'ed25519 KEYID BASE64'", spath) > 0);
	assert_string_equal(buf, want);
	free(want);
	diag__free(&d);

	/* the parser on its own: id case, base64 length, duplicates */
	diag__init(&d);
	assert_int_equal(sign_file__parse(&sf, "s", "ed25519 0123456789ABCDEF AAAA\n", 30, &d),
			 -EINVAL);
	diag__format(&d.v[0], buf, sizeof(buf));
	assert_string_equal(buf, "s:1:1: error: the key id must be 16 lower-case hex digits");
	diag__free(&d);
	diag__init(&d);
	assert_int_equal(sign_file__parse(&sf, "s", "\n# only comments\n", 17, &d), -EINVAL);
	diag__format(&d.v[0], buf, sizeof(buf));
	assert_string_equal(buf, "s: error: no signature in the signature file");
	diag__free(&d);
	free(spath);
}

/* ---- anti-rollback state on its own ---- */

static void test_anti_rollback_state(void **st)
{
	char *vpath = cat(state, CONTENT_VERSIONS_FILE), *text;
	int64_t hi = -1;

	assert_int_equal(content_version__highest(state, "x", &hi), 0);
	assert_int_equal(hi, 0);
	assert_int_equal(content_version__check_and_persist(state, "x", 5), 0);
	assert_int_equal(content_version__check_and_persist(state, "y", 2), 0);
	assert_int_equal(content_version__check_and_persist(state, "x", 5), 0);
	assert_int_equal(content_version__check_and_persist(state, "x", 4), -ESTALE);
	assert_int_equal(content_version__check_and_persist(state, "x", 7), 0);
	assert_int_equal(content_version__highest(state, "x", &hi), 0);
	assert_int_equal(hi, 7);
	text = read_all(vpath);
	assert_string_equal(text, "# ringward anti-rollback: the highest version accepted per "
			    "bundle name (written by the sensor)\nx 7\ny 2\n");
	free(text);
	{
		struct stat s;

		assert_int_equal(stat(vpath, &s), 0);
		assert_int_equal(s.st_mode & 07777, 0600);
	}
	/* no temporary file left behind */
	{
		char cmd[512];

		snprintf(cmd, sizeof(cmd), "ls -a %s | grep -q '^\\.content-versions\\.......$'",
			 state);
		assert_int_not_equal(system(cmd), 0);
	}
	/* a damaged file is an error, never "no versions" */
	write_at(state, CONTENT_VERSIONS_FILE, "x 7\ny two\n");
	assert_int_equal(content_version__highest(state, "x", &hi), -EBADMSG);
	assert_int_equal(content_version__check_and_persist(state, "x", 1), -EBADMSG);
	write_at(state, CONTENT_VERSIONS_FILE, "x 7");	/* cut short */
	assert_int_equal(content_version__highest(state, "x", &hi), -EBADMSG);
	/* names as bundles have them */
	assert_int_equal(content_version__check_and_persist(state, "a b", 1), -EINVAL);
	assert_int_equal(content_version__check_and_persist(state, "x", 0), -EINVAL);
	free(vpath);
}

static void test_rfc3339(void **st)
{
	int64_t t;
	char buf[32];

	assert_int_equal(bundle__parse_time("1970-01-01T00:00:00Z", 20, &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(bundle__parse_time("2000-01-01T00:00:00Z", 20, &t), 0);
	assert_int_equal(t, 946684800);
	assert_int_equal(bundle__parse_time("2024-02-29T23:59:59Z", 20, &t), 0);
	assert_int_equal(t, 1709251199);
	bundle__format_time(t, buf, sizeof(buf));
	assert_string_equal(buf, "2024-02-29T23:59:59Z");
	assert_int_equal(bundle__parse_time("2023-02-29T00:00:00Z", 20, &t), -EINVAL);
	assert_int_equal(bundle__parse_time("2024-01-01T00:00:00+01:00", 25, &t), -EINVAL);
	assert_int_equal(bundle__parse_time("2024-01-01T24:00:00Z", 20, &t), -EINVAL);
	assert_int_equal(bundle__parse_time("2024-01-01 00:00:00Z", 20, &t), -EINVAL);
	assert_int_equal(bundle__parse_time("2024-01-01T00:00:00.5Z", 22, &t), -EINVAL);
}

static void test_bad_expiry_in_manifest(void **st)
{
	char *mpath = cat(bdir, BUNDLE_MANIFEST), *text, *want, *e;
	struct ruleset *rs;
	struct diag d;

	make_manifest(1, 1893456000);	/* 2030-01-01 */
	text = read_all(mpath);
	e = strstr(text, "2030-01-01T00:00:00Z");
	assert_non_null(e);
	memcpy(e, "2030-13-01", 10);
	write_at(bdir, BUNDLE_MANIFEST, text);
	rs = load_as(NULL, false, false, 0, &d);
	assert_null(rs);
	assert_true(asprintf(&want, "%s:9:10: error: expiry '2030-13-01T00:00:00Z' must be an RFC "
			     "3339 UTC time, YYYY-MM-DDTHH:MM:SSZ", mpath) > 0);
	assert_one_error(&d, want);
	free(want);
	diag__free(&d);
	free(text);
	free(mpath);
}

/* The last-known-good copy of a signed bundle keeps its signature: it
 * loads where only signed content may, after the original is gone. */
static void test_lkg_copy_stays_signed(void **st)
{
	char id[SIGN_KEY_ID_LEN + 1], *pub = cat(keys, "k.pub"), buf[4096];
	const char *trusted[] = { pub }, *paths[] = { bdir }, *lkg;
	struct ruleset_opts o = { .trusted_keys = trusted, .n_trusted_keys = 1,
				  .versions_dir = state };
	struct ruleset *rs;
	struct diag d;

	keygen("k", id);
	make_manifest(3, 0);
	sign_with("k");
	diag__init(&d);
	assert_int_equal(content_store__save_lkg_opts(state, paths, 1, &o, &d), 0);
	diag__free(&d);
	lkg = content_store__lkg_dir(state, buf, sizeof(buf));
	assert_non_null(lkg);
	o.last_known_good = true;
	diag__init(&d);
	rs = ruleset__load_opts(&lkg, 1, &o, &d);
	if (!rs)
		diag__print(&d, stderr);
	assert_non_null(rs);
	assert_int_equal(ruleset__count(rs), 2);
	assert_string_equal(ruleset__content_info(rs, 0)->key_id, id);
	ruleset__free(rs);
	diag__free(&d);
	free(pub);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_keygen_sign_verify_cli),
		T(test_signed_bundle_loads),
		T(test_file_changed_after_signing),
		T(test_manifest_changed_after_signing),
		T(test_unknown_key),
		T(test_older_signed_version),
		T(test_expired),
		T(test_unsigned_refused_when_required),
		T(test_trusted_key_directory),
		T(test_append_second_signature),
		T(test_malformed_signature_file),
		T(test_anti_rollback_state),
		T(test_rfc3339),
		T(test_bad_expiry_in_manifest),
		T(test_lkg_copy_stays_signed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
