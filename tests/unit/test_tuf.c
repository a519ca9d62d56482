/*
 * The content repository end to end on real files in a temporary
 * directory: `ringward repo` init, add and publish (update/repo.h), then
 * the client's verification (update/tuf.h) reading the same directory
 * through the fetch callback, unpacking the bundle archive
 * (update/archive.h) and loading it with the sensor's own loader.
 *
 * Each attack is made on the served files and refused with its exact
 * message: a target changed after signing, metadata replayed from an
 * older publish (also across a client restart), an expired timestamp and
 * expired targets (freeze), an old snapshot or old targets mixed with new
 * metadata, a root rotation signed by too few old keys or not by the new,
 * thresholds that are not met or could never be, signatures by keys that
 * are not the role's, and metadata larger than its cap (also when the
 * fetch callback ignores the cap). The publisher's own refusals too: an
 * older bundle, a bundle the fleet's validators reject (the loader's
 * file:line:col, and an external validator's exit), a keys directory
 * inside the served one, a rollout naming a missing target.
 *
 * All signing and checking runs at a fixed time (T0), never the clock.
 */
#include <dirent.h>
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
#include "engine/bundle.h"
#include "engine/content_sign.h"
#include "engine/ruleset.h"
#include "update/archive.h"
#include "update/repo.h"
#include "update/rollout.h"
#include "update/tuf.h"

#define T0	((int64_t)1893456000)	/* 2030-01-01T00:00:00Z */
#define DAY	((int64_t)86400)

static char *top;		/* the group's directory */
static char *ckey, *cpub;	/* content signing key pair */
static char *b12, *b13;		/* signed bundles, versions 12 and 13 */
static int serial;

static char *cat(const char *a, const char *b)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", a, b) > 0);
	return p;
}

static void write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

static void write_at(const char *d, const char *name, const char *text)
{
	char *p = cat(d, name);

	write_file(p, text, strlen(text));
	free(p);
}

static char *read_all(const char *path, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;

	assert_int_equal(bundle__read_file(path, 64 << 20, &buf, &n), 0);
	if (len)
		*len = n;
	return buf;
}

static char *read_at(const char *d, const char *name, size_t *len)
{
	char *p = cat(d, name), *b = read_all(p, len);

	free(p);
	return b;
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

static void make_bundle(const char *dir, int64_t version, const char *extra_rule)
{
	struct bundle_write w = { .name = "ringward-default", .version = version };
	struct diag d;

	assert_int_equal(mkdir(dir, 0755), 0);
	write_at(dir, "a.yml", RULE("cccccccc-0000-4000-8000-000000000001", "Rule A", "/nc"));
	write_at(dir, "README", "test content\n");
	if (extra_rule) {
		char *sub = cat(dir, "more");

		assert_int_equal(mkdir(sub, 0755), 0);
		write_at(sub, "b.yml", extra_rule);
		free(sub);
	}
	diag__init(&d);
	assert_int_equal(bundle__write_manifest(dir, &w, NULL, &d), 0);
	assert_int_equal(sign__bundle(dir, ckey, false, NULL, &d), 0);
	diag__free(&d);
}

static int group_setup(void **st)
{
	char *prefix;
	char id[SIGN_KEY_ID_LEN + 1];
	struct diag d;

	if (sodium_init() < 0)
		return -1;
	top = rwt_mkdtemp("tuf");
	if (!top)
		return -1;
	prefix = cat(top, "content");
	ckey = cat(top, "content.key");
	cpub = cat(top, "content.pub");
	diag__init(&d);
	if (sign__keygen(prefix, id, &d))
		return -1;
	diag__free(&d);
	free(prefix);
	b12 = cat(top, "bundle12");
	b13 = cat(top, "bundle13");
	make_bundle(b12, 12, NULL);
	make_bundle(b13, 13, RULE("cccccccc-0000-4000-8000-000000000002", "Rule B", "/socat"));
	return 0;
}

static int group_teardown(void **st)
{
	rwt_rmtree(top);
	free(top);
	free(ckey);
	free(cpub);
	free(b12);
	free(b13);
	return 0;
}

/* Messages of d, one a line. */
static char *diag_text(const struct diag *d)
{
	char *s = calloc(1, 1), line[4096];

	for (size_t i = 0; i < d->n; i++) {
		char *n = NULL;

		diag__format(&d->v[i], line, sizeof(line));
		assert_true(asprintf(&n, "%s%s\n", s, line) > 0);
		free(s);
		s = n;
	}
	return s;
}

static void expect_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("expected \"%s\" in:\n%s", needle, hay);
}

/* ---- fixture: a repository with bundle 12 published, all at T0 ---- */

struct fx {
	char *base, *dir, *keys, *state, *root1;
	struct repo_opts o;
};

static void repo_ok(int err, struct diag *d)
{
	if (err) {
		char *t = diag_text(d);

		fail_msg("repo operation failed (%d):\n%s", err, t);
	}
	diag__free(d);
	diag__init(d);
}

static int fx_setup(void **st)
{
	struct repo_init_opts io = { .n_root_keys = 3, .threshold = 2 };
	struct fx *f = calloc(1, sizeof(*f));
	char name[32];
	struct diag d;

	snprintf(name, sizeof(name), "t%d", ++serial);
	f->base = cat(top, name);
	assert_int_equal(mkdir(f->base, 0700), 0);
	f->dir = cat(f->base, "repo");
	f->keys = cat(f->base, "repo.keys");
	f->state = cat(f->base, "state");
	f->root1 = cat(f->dir, "1.root.json");
	f->o.dir = f->dir;
	f->o.now = T0;
	diag__init(&d);
	repo_ok(repo__init(&f->o, &io, &d), &d);
	repo_ok(repo__add(&f->o, b12, NULL, 0, &d), &d);
	repo_ok(repo__publish(&f->o, NULL, &d), &d);
	diag__free(&d);
	*st = f;
	return 0;
}

static int fx_teardown(void **st)
{
	struct fx *f = *st;

	if (f) {
		rwt_rmtree(f->base);
		free(f->base);
		free(f->dir);
		free(f->keys);
		free(f->state);
		free(f->root1);
		free(f);
	}
	return 0;
}

/* A client of f's repository at time now, refreshed; *c for the caller
 * to free (NULL when even the trusted root could not load). */
static int client_at(struct fx *f, int64_t now, tuf_fetch_fn fetch, struct tuf_client **c,
		     struct tuf_err *e)
{
	struct tuf_client_opts co = {
		.state_dir = f->state,
		.bootstrap_root = f->root1,
		.fetch = fetch ? fetch : tuf__fetch_dir,
		.fetch_ctx = f->dir,
		.now = now,
	};

	memset(e, 0, sizeof(*e));
	*c = tuf_client__new(&co, e);
	if (!*c)
		return -errno;
	return tuf_client__refresh(*c, e);
}

static void expect_refused(struct fx *f, int64_t now, tuf_fetch_fn fetch, int want_err,
			   const char *want_msg)
{
	struct tuf_client *c;
	struct tuf_err e;
	int err = client_at(f, now, fetch, &c, &e);

	if (err != want_err || strcmp(e.msg, want_msg))
		fail_msg("expected %d \"%s\"\n     got %d \"%s\"", want_err, want_msg, err, e.msg);
	tuf_client__free(c);
}

/* The online key of role (first one found). */
static void online_key(struct fx *f, const char *role, struct tuf_signer *s)
{
	char *dir = cat(f->keys, "online"), *p = NULL;
	struct dirent *de;
	struct tuf_err e;
	DIR *dh = opendir(dir);

	assert_non_null(dh);
	while ((de = readdir(dh)))
		if (!strncmp(de->d_name, role, strlen(role)) && strstr(de->d_name, ".key"))
			p = cat(dir, de->d_name);
	closedir(dh);
	assert_non_null(p);
	assert_int_equal(tuf_signer__read(s, p, &e), 0);
	free(p);
	free(dir);
}

/* The root keys of the repository, sorted as found; returns how many. */
static size_t root_keys(struct fx *f, struct tuf_signer *s, size_t max)
{
	char *dir = cat(f->keys, "root");
	struct dirent *de;
	struct tuf_err e;
	DIR *dh = opendir(dir);
	size_t n = 0;

	assert_non_null(dh);
	while ((de = readdir(dh)) && n < max) {
		char *p;

		if (!strstr(de->d_name, ".key"))
			continue;
		p = cat(dir, de->d_name);
		assert_int_equal(tuf_signer__read(&s[n++], p, &e), 0);
		free(p);
	}
	closedir(dh);
	free(dir);
	return n;
}

/* The signed body of a served file (caller puts it). */
static json_object *body_of(struct fx *f, const char *name)
{
	struct tuf_envelope env;
	struct tuf_err e;
	json_object *b;
	size_t len;
	char *buf = read_at(f->dir, name, &len);

	assert_int_equal(tuf_envelope__parse(&env, name, (uint8_t *)buf, len, &e), 0);
	b = json_object_get(env.body);
	tuf_envelope__free(&env);
	free(buf);
	return b;
}

/* Sign body (consumed) with s[0..n) and serve it as name. */
static void serve_signed(struct fx *f, const char *name, json_object *body,
			 const struct tuf_signer *const *s, size_t n)
{
	struct tuf_err e;
	char *text, *p = cat(f->dir, name);
	size_t len;

	assert_int_equal(tuf__sign(body, s, n, &text, &len, &e), 0);
	write_file(p, text, len);
	json_object_put(body);
	free(text);
	free(p);
}

static void set_int(json_object *o, const char *key, int64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

static char *hex_of(const void *buf, size_t len)
{
	uint8_t h[32];
	char *x = malloc(65);

	crypto_hash_sha256(h, buf, len);
	tuf__hex(h, 32, x);
	return x;
}

static char *target_name(struct fx *f, const char *name, const char *sha_hex)
{
	char *p;

	assert_true(asprintf(&p, "targets/%s.%s", sha_hex, name) > 0);
	return p;
}

/* ---- tests ---- */

/* init + add + publish, verified by the client; the bundle unpacks and
 * loads with the sensor's loader, signed by the content key. */
static void test_round_trip(void **st)
{
	struct fx *f = *st;
	const struct tuf_target *t;
	struct tuf_client *c;
	struct tuf_err e;
	struct ruleset_opts ro = { 0 };
	const char *trusted[1] = { cpub };
	struct ruleset *rs;
	struct diag d;
	uint8_t *buf;
	size_t len;
	char *un = cat(f->base, "unpacked");
	const char *paths[1] = { un };

	assert_int_equal(client_at(f, T0 + 60, NULL, &c, &e), 0);
	assert_int_equal(tuf_client__version(c, TUF_ROOT), 1);
	assert_int_equal(tuf_client__version(c, TUF_TIMESTAMP), 2);
	assert_int_equal(tuf_client__version(c, TUF_SNAPSHOT), 2);
	assert_int_equal(tuf_client__version(c, TUF_TARGETS), 2);
	assert_int_equal(tuf_client__targets(c)->n, 1);
	t = tuf_targets__find(tuf_client__targets(c), "ringward-default-12.rwb");
	assert_non_null(t);
	assert_string_equal(t->bundle, "ringward-default");
	assert_int_equal(t->bundle_version, 12);
	assert_int_equal(t->schema, 2);
	assert_true(tuf_client__root(c)->consistent_snapshot);

	assert_int_equal(tuf_client__fetch_target(c, "ringward-default-12.rwb", &buf, &len, &e),
			 0);
	assert_int_equal((int64_t)len, t->length);
	assert_int_equal(archive__unpack(buf, len, un, &e), 0);
	free(buf);
	ro.trusted_keys = trusted;
	ro.n_trusted_keys = 1;
	diag__init(&d);
	rs = ruleset__load_opts(paths, 1, &ro, &d);
	assert_non_null(rs);
	assert_int_equal(d.n_errors, 0);
	assert_int_equal(ruleset__count(rs), 1);
	assert_int_equal(ruleset__bundles(rs), 1);
	assert_string_equal(ruleset__content_info(rs, 0)->name, "ringward-default");
	assert_int_equal(ruleset__content_info(rs, 0)->version, 12);
	assert_non_null(ruleset__content_info(rs, 0)->key_id);	/* signature verified */
	ruleset__free(rs);
	diag__free(&d);
	tuf_client__free(c);

	/* the trusted state survives the client: a new one starts from it */
	{
		char *p = cat(f->state, "timestamp.json");
		struct stat sb;

		assert_int_equal(stat(p, &sb), 0);
		assert_int_equal(sb.st_mode & 0777, 0600);
		free(p);
	}
	assert_int_equal(client_at(f, T0 + 120, NULL, &c, &e), 0);
	assert_int_equal(tuf_client__version(c, TUF_TARGETS), 2);
	tuf_client__free(c);
	free(un);
}

/* A staged bundle is invisible until publish; published, it is there. */
static void test_staged_invisible(void **st)
{
	struct fx *f = *st;
	struct tuf_client *c;
	struct tuf_err e;
	struct diag d;
	char target[64];

	diag__init(&d);
	repo_ok(repo__add(&f->o, b13, target, sizeof(target), &d), &d);
	assert_string_equal(target, "ringward-default-13.rwb");
	assert_int_equal(client_at(f, T0 + 60, NULL, &c, &e), 0);
	assert_null(tuf_targets__find(tuf_client__targets(c), target));
	assert_int_equal(tuf_client__fetch_target(c, target, &(uint8_t *){ NULL },
						  &(size_t){ 0 }, &e), -ENOENT);
	assert_string_equal(e.msg, "ringward-default-13.rwb: not a target of the trusted "
			    "targets metadata");
	tuf_client__free(c);
	repo_ok(repo__publish(&f->o, NULL, &d), &d);
	assert_int_equal(client_at(f, T0 + 60, NULL, &c, &e), 0);
	assert_int_equal(tuf_client__version(c, TUF_TARGETS), 3);
	assert_non_null(tuf_targets__find(tuf_client__targets(c), target));
	assert_non_null(tuf_targets__find(tuf_client__targets(c), "ringward-default-12.rwb"));
	tuf_client__free(c);
	diag__free(&d);
}

static void test_target_changed_after_signing(void **st)
{
	struct fx *f = *st;
	struct tuf_client *c;
	struct tuf_err e;
	const struct tuf_target *t;
	uint8_t *buf = NULL;
	size_t len, flen;
	char want_hex[65], *path, *file, *got_hex, *name, msg[1024];
	char *orig;

	assert_int_equal(client_at(f, T0 + 60, NULL, &c, &e), 0);
	t = tuf_targets__find(tuf_client__targets(c), "ringward-default-12.rwb");
	tuf__hex(t->sha256, 32, want_hex);
	name = target_name(f, t->name, want_hex);
	file = cat(f->dir, name);
	orig = read_all(file, &flen);
	/* one byte of a rule changed in the served archive, same length */
	orig[flen - 3] ^= 0x20;
	write_file(file, orig, flen);
	got_hex = hex_of(orig, flen);
	assert_int_equal(tuf_client__fetch_target(c, t->name, &buf, &len, &e), -EBADMSG);
	assert_null(buf);
	snprintf(msg, sizeof(msg), "%s: sha256 %s differs from %s listed in 2.targets.json "
		 "(target changed after signing)", name, got_hex, want_hex);
	assert_string_equal(e.msg, msg);

	/* one byte longer: the fetch stops at the signed length */
	orig[flen - 3] ^= 0x20;
	path = malloc(flen + 1);
	memcpy(path, orig, flen);
	path[flen] = '\n';
	write_file(file, path, flen + 1);
	assert_int_equal(tuf_client__fetch_target(c, t->name, &buf, &len, &e), -EFBIG);
	snprintf(msg, sizeof(msg), "%s: larger than %lld bytes, the cap listed in the targets "
		 "metadata (endless or oversized data)", name, (long long)t->length);
	assert_string_equal(e.msg, msg);

	/* and the original verifies again: the client carries on */
	write_file(file, orig, (size_t)t->length);
	assert_int_equal(tuf_client__fetch_target(c, t->name, &buf, &len, &e), 0);
	free(buf);
	free(path);
	free(orig);
	free(got_hex);
	free(file);
	free(name);
	tuf_client__free(c);
}

static void test_replay_older_metadata(void **st)
{
	struct fx *f = *st;
	struct tuf_client *c;
	struct tuf_err e;
	struct diag d;
	char *p = cat(f->dir, "timestamp.json"), *old;
	size_t len;

	assert_int_equal(client_at(f, T0 + 60, NULL, &c, &e), 0);
	tuf_client__free(c);
	old = read_all(p, &len);	/* timestamp version 2 */
	diag__init(&d);
	f->o.now = T0 + 100;
	repo_ok(repo__add(&f->o, b13, NULL, 0, &d), &d);
	repo_ok(repo__publish(&f->o, NULL, &d), &d);
	diag__free(&d);
	assert_int_equal(client_at(f, T0 + 160, NULL, &c, &e), 0);
	assert_int_equal(tuf_client__version(c, TUF_TIMESTAMP), 3);
	/* the mirror replays the older, validly signed timestamp */
	write_file(p, old, len);
	assert_int_equal(tuf_client__refresh(c, &e), -ESTALE);
	assert_string_equal(e.msg, "timestamp.json: version 2 is older than trusted version 3 "
			    "(rollback)");
	/* still what was trusted, and the same after a restart (state dir) */
	assert_int_equal(tuf_client__version(c, TUF_TARGETS), 3);
	tuf_client__free(c);
	expect_refused(f, T0 + 200, NULL, -ESTALE, "timestamp.json: version 2 is older than "
		       "trusted version 3 (rollback)");
	free(old);
	free(p);
}

static void test_expired_metadata(void **st)
{
	struct fx *f = *st;
	struct tuf_client *c;
	struct tuf_err e;
	struct diag d;
	char a[32], b[32], msg[256];

	/* a timestamp of one hour, signed at T0 + 1000 */
	diag__init(&d);
	f->o.now = T0 + 1000;
	f->o.expires[TUF_TIMESTAMP] = 3600;
	repo_ok(repo__timestamp(&f->o, &d), &d);
	assert_int_equal(client_at(f, T0 + 1000 + 3599, NULL, &c, &e), 0);
	tuf_client__free(c);
	bundle__format_time(T0 + 1000 + 3600, a, sizeof(a));
	bundle__format_time(T0 + 1000 + 7200, b, sizeof(b));
	snprintf(msg, sizeof(msg), "timestamp.json: expired at %s, now is %s (freeze attack, "
		 "or the repository stopped signing)", a, b);
	expect_refused(f, T0 + 1000 + 7200, NULL, -EKEYEXPIRED, msg);

	/* a fresh timestamp does not revive expired targets */
	f->o.now = T0 + 2000;
	f->o.expires[TUF_TIMESTAMP] = 30 * DAY;
	f->o.expires[TUF_TARGETS] = DAY;
	repo_ok(repo__publish(&f->o, NULL, &d), &d);	/* targets 3, until T0+2000+1d */
	f->o.now = T0 + 2000 + 2 * DAY;
	repo_ok(repo__timestamp(&f->o, &d), &d);
	bundle__format_time(T0 + 2000 + DAY, a, sizeof(a));
	bundle__format_time(T0 + 2000 + 2 * DAY + 10, b, sizeof(b));
	snprintf(msg, sizeof(msg), "3.targets.json: expired at %s, now is %s (freeze attack, "
		 "or the repository stopped signing)", a, b);
	expect_refused(f, T0 + 2000 + 2 * DAY + 10, NULL, -EKEYEXPIRED, msg);
	diag__free(&d);
}

/* old snapshot + new metadata, and old targets + new snapshot */
static void test_mix_and_match(void **st)
{
	struct fx *f = *st;
	struct tuf_signer snap, ts;
	const struct tuf_signer *s[1];
	struct tuf_snapshot sn = { 0 };
	struct tuf_timestamp tm = { 0 };
	struct diag d;
	char *old_snap, *old_targets, *new_snap, *new_targets, msg[512], *gh, *wh;
	size_t osl, otl, nsl, ntl;

	old_snap = read_at(f->dir, "2.snapshot.json", &osl);
	old_targets = read_at(f->dir, "2.targets.json", &otl);
	diag__init(&d);
	repo_ok(repo__add(&f->o, b13, NULL, 0, &d), &d);
	repo_ok(repo__publish(&f->o, NULL, &d), &d);	/* 3.targets, 3.snapshot, ts 3 */
	diag__free(&d);
	new_snap = read_at(f->dir, "3.snapshot.json", &nsl);
	new_targets = read_at(f->dir, "3.targets.json", &ntl);

	/* the snapshot the timestamp names, replaced by the older snapshot */
	{
		char *p = cat(f->dir, "3.snapshot.json");

		write_file(p, old_snap, osl);
		gh = hex_of(old_snap, osl);
		wh = hex_of(new_snap, nsl);
		if (osl == nsl)
			snprintf(msg, sizeof(msg), "3.snapshot.json: sha256 %s differs from %s listed "
				 "in timestamp.json (mix-and-match or tampering)", gh, wh);
		else
			snprintf(msg, sizeof(msg), "3.snapshot.json: %zu bytes, but timestamp.json "
				 "lists %zu (mix-and-match or tampering)", osl, nsl);
		free(gh);
		free(wh);
		expect_refused(f, T0 + 60, NULL, -EBADMSG, msg);
		write_file(p, new_snap, nsl);
		free(p);
	}
	/* the targets the snapshot names, replaced by the older targets */
	{
		char *p = cat(f->dir, "3.targets.json");

		write_file(p, old_targets, otl);
		snprintf(msg, sizeof(msg), "3.targets.json: %zu bytes, but 3.snapshot.json lists "
			 "%zu (mix-and-match or tampering)", otl, ntl);
		expect_refused(f, T0 + 60, NULL, -EBADMSG, msg);
		/* same length, other bytes: the hash */
		{
			char *same = malloc(ntl);

			memcpy(same, new_targets, ntl);
			same[ntl - 2] = same[ntl - 2] == ' ' ? '\t' : ' ';
			write_file(p, same, ntl);
			gh = hex_of(same, ntl);
			wh = hex_of(new_targets, ntl);
			snprintf(msg, sizeof(msg), "3.targets.json: sha256 %s differs from %s listed "
				 "in 3.snapshot.json (mix-and-match or tampering)", gh, wh);
			expect_refused(f, T0 + 60, NULL, -EBADMSG, msg);
			free(gh);
			free(wh);
			free(same);
		}
		/* a snapshot listing targets by version alone (TUF allows it):
		 * the version tells the old targets apart */
		online_key(f, "snapshot", &snap);
		online_key(f, "timestamp", &ts);
		write_file(p, old_targets, otl);
		sn.version = 4;
		sn.expires = T0 + DAY;
		sn.targets.version = 3;
		s[0] = &snap;
		serve_signed(f, "4.snapshot.json", tuf_snapshot__json(&sn), s, 1);
		free(new_snap);
		new_snap = read_at(f->dir, "4.snapshot.json", &nsl);
		tm.version = 4;
		tm.expires = T0 + DAY;
		tuf_meta_ref__of(&tm.snapshot, 4, (uint8_t *)new_snap, nsl);
		s[0] = &ts;
		serve_signed(f, "timestamp.json", tuf_timestamp__json(&tm), s, 1);
		expect_refused(f, T0 + 60, NULL, -EBADMSG, "3.targets.json: version 2, but "
			       "4.snapshot.json lists version 3 (mix-and-match)");
		free(p);
	}
	free(old_snap);
	free(old_targets);
	free(new_snap);
	free(new_targets);
}

/* Root version 2 from root version 1's body, edited by edit. */
static json_object *root2_body(struct fx *f)
{
	json_object *b = body_of(f, "1.root.json");

	set_int(b, "version", 2);
	return b;
}

static void test_root_rotation_too_few_keys(void **st)
{
	struct fx *f = *st;
	struct tuf_signer rk[8], fresh[2];
	const struct tuf_signer *s[8];
	json_object *b, *keys, *roles, *ids;
	char msg[512];
	size_t n = root_keys(f, rk, 8);

	assert_int_equal(n, 3);
	/* signed by one old root key: threshold 2 */
	s[0] = &rk[0];
	serve_signed(f, "2.root.json", root2_body(f), s, 1);
	expect_refused(f, T0 + 60, NULL, -EKEYREJECTED, "2.root.json: 1 valid signature by root "
		       "keys of trusted root version 1, below the threshold of 2 (a root rotation "
		       "must be signed by a threshold of the old root keys and a threshold of the "
		       "new)");

	/* new root keys, signed by the old ones only: the new keys did not
	 * consent */
	assert_int_equal(tuf_signer__generate(&fresh[0]), 0);
	assert_int_equal(tuf_signer__generate(&fresh[1]), 0);
	b = root2_body(f);
	json_object_object_get_ex(b, "keys", &keys);
	json_object_object_get_ex(b, "roles", &roles);
	json_object_object_get_ex(json_object_object_get(roles, "root"), "keyids", &ids);
	while (json_object_array_length(ids))
		json_object_array_del_idx(ids, 0, 1);
	for (int i = 0; i < 2; i++) {
		json_object_object_add(keys, fresh[i].id, tuf_key__json(fresh[i].pk));
		json_object_array_add(ids, json_object_new_string(fresh[i].id));
	}
	s[0] = &rk[0];
	s[1] = &rk[1];
	serve_signed(f, "2.root.json", b, s, 2);
	snprintf(msg, sizeof(msg), "2.root.json: 0 valid signatures by root keys of root version "
		 "2 itself, below the threshold of 2; 2 signatures by keys that are not root keys "
		 "of root version 2 itself (e.g. %.16s) (a root rotation must be signed by a "
		 "threshold of the old root keys and a threshold of the new)", rk[0].id);
	expect_refused(f, T0 + 60, NULL, -EKEYREJECTED, msg);

	/* the root the client had stays its root */
	{
		struct tuf_client *c;
		struct tuf_err e;

		client_at(f, T0 + 60, NULL, &c, &e);
		assert_non_null(c);
		assert_int_equal(tuf_client__version(c, TUF_ROOT), 1);
		tuf_client__free(c);
	}
	for (size_t i = 0; i < n; i++)
		tuf_signer__wipe(&rk[i]);
}

/* repo rotate-root: new root keys and a new timestamp key; a client that
 * trusted the old timestamp follows, and forgets it. */
static void test_root_rotation(void **st)
{
	struct fx *f = *st;
	struct repo_rotate_opts ro = { .n_new_keys = 2, .threshold = 2 };
	struct tuf_client *c;
	struct tuf_err e;
	struct diag d;
	char *ret = cat(f->keys, "retired");
	struct tuf_signer rk[8];

	assert_int_equal(client_at(f, T0 + 60, NULL, &c, &e), 0);
	assert_int_equal(tuf_client__version(c, TUF_TIMESTAMP), 2);
	ro.rotate[TUF_TIMESTAMP] = true;
	diag__init(&d);
	f->o.now = T0 + 100;
	repo_ok(repo__rotate_root(&f->o, &ro, &d), &d);
	diag__free(&d);
	assert_int_equal(tuf_client__refresh(c, &e), 0);
	assert_int_equal(tuf_client__version(c, TUF_ROOT), 2);
	assert_int_equal(tuf_client__version(c, TUF_TIMESTAMP), 3);
	assert_int_equal(tuf_client__root(c)->roles[TUF_ROOT].n, 2);
	tuf_client__free(c);
	/* the old root keys are retired, the new ones are at hand */
	assert_int_equal(root_keys(f, rk, 8), 2);
	assert_int_equal(access(ret, F_OK), 0);
	/* a new client, bootstrapped from version 1, walks the chain */
	rwt_rmtree(f->state);
	assert_int_equal(client_at(f, T0 + 160, NULL, &c, &e), 0);
	assert_int_equal(tuf_client__version(c, TUF_ROOT), 2);
	tuf_client__free(c);
	tuf_signer__wipe(&rk[0]);
	tuf_signer__wipe(&rk[1]);
	free(ret);
}

static void test_wrong_threshold(void **st)
{
	struct fx *f = *st;
	struct tuf_signer rk[8], ts2;
	const struct tuf_signer *s[8];
	json_object *b, *keys, *roles, *ts;
	size_t n = root_keys(f, rk, 8);

	for (size_t i = 0; i < n; i++)
		s[i] = &rk[i];
	/* a second timestamp key and threshold 2; timestamp.json has one */
	assert_int_equal(tuf_signer__generate(&ts2), 0);
	b = root2_body(f);
	json_object_object_get_ex(b, "keys", &keys);
	json_object_object_get_ex(b, "roles", &roles);
	ts = json_object_object_get(roles, "timestamp");
	json_object_object_add(keys, ts2.id, tuf_key__json(ts2.pk));
	json_object_array_add(json_object_object_get(ts, "keyids"),
			      json_object_new_string(ts2.id));
	set_int(ts, "threshold", 2);
	serve_signed(f, "2.root.json", b, s, n);
	expect_refused(f, T0 + 60, NULL, -EKEYREJECTED, "timestamp.json: 1 valid signature by "
		       "timestamp keys of root version 2, below the threshold of 2");
	rwt_rmtree(f->state);

	/* a threshold of 0 would accept anything: refused */
	b = root2_body(f);
	set_int(json_object_object_get(json_object_object_get(b, "roles"), "root"), "threshold",
		0);
	serve_signed(f, "2.root.json", b, s, n);
	expect_refused(f, T0 + 60, NULL, -EINVAL, "2.root.json: roles.root.threshold is 0: it "
		       "must be at least 1");
	rwt_rmtree(f->state);

	/* one that could never be met: refused */
	b = root2_body(f);
	set_int(json_object_object_get(json_object_object_get(b, "roles"), "timestamp"),
		"threshold", 3);
	serve_signed(f, "2.root.json", b, s, n);
	expect_refused(f, T0 + 60, NULL, -EINVAL, "2.root.json: roles.timestamp.threshold is 3 "
		       "but it lists 1 key: it could never be met");
	for (size_t i = 0; i < n; i++)
		tuf_signer__wipe(&rk[i]);
}

static void test_key_not_in_root(void **st)
{
	struct fx *f = *st;
	struct tuf_signer stranger, targets_key, ts;
	const struct tuf_signer *s[1];
	char msg[512];

	/* signed by a key the root does not know */
	assert_int_equal(tuf_signer__generate(&stranger), 0);
	s[0] = &stranger;
	serve_signed(f, "timestamp.json", body_of(f, "timestamp.json"), s, 1);
	snprintf(msg, sizeof(msg), "timestamp.json: 0 valid signatures by timestamp keys of root "
		 "version 1, below the threshold of 1; 1 signature by a key that is not a "
		 "timestamp key of root version 1 (%.16s)", stranger.id);
	expect_refused(f, T0 + 60, NULL, -EKEYREJECTED, msg);

	/* by a key of the root, but not a timestamp key */
	online_key(f, "targets", &targets_key);
	s[0] = &targets_key;
	serve_signed(f, "timestamp.json", body_of(f, "timestamp.json"), s, 1);
	snprintf(msg, sizeof(msg), "timestamp.json: 0 valid signatures by timestamp keys of root "
		 "version 1, below the threshold of 1; 1 signature by a key that is not a "
		 "timestamp key of root version 1 (%.16s)", targets_key.id);
	expect_refused(f, T0 + 60, NULL, -EKEYREJECTED, msg);

	/* by the timestamp key, over other content (the version raised) */
	{
		json_object *b = body_of(f, "timestamp.json");
		struct tuf_envelope env;
		struct tuf_err e;
		char *text, *p = cat(f->dir, "timestamp.json");
		size_t len;

		online_key(f, "timestamp", &ts);
		s[0] = &ts;
		serve_signed(f, "timestamp.json", json_object_get(b), s, 1);
		text = read_all(p, &len);
		assert_int_equal(tuf_envelope__parse(&env, "t", (uint8_t *)text, len, &e), 0);
		set_int(env.body, "version", 9);
		free(text);
		text = strdup(json_object_to_json_string(env.doc));
		write_file(p, text, strlen(text));
		expect_refused(f, T0 + 60, NULL, -EKEYREJECTED, "timestamp.json: 0 valid signatures "
			       "by timestamp keys of root version 1, below the threshold of 1; 1 "
			       "signature by timestamp keys does not verify (changed after "
			       "signing)");
		tuf_envelope__free(&env);
		json_object_put(b);
		free(text);
		free(p);
	}
	tuf_signer__wipe(&targets_key);
	tuf_signer__wipe(&ts);
}

/* A fetch that ignores the cap: the client checks it itself. */
static int greedy_fetch(void *ctx, const char *name, size_t max_len, uint8_t **buf, size_t *len)
{
	return tuf__fetch_dir(ctx, name, (size_t)64 << 20, buf, len);
}

static void test_oversized_metadata(void **st)
{
	struct fx *f = *st;
	struct tuf_client *c;
	struct tuf_err e;
	char *p = cat(f->dir, "timestamp.json"), *orig, *big, msg[256];
	size_t len;

	orig = read_all(p, &len);
	/* white space after the object: still valid JSON, still validly
	 * signed; refused for its size alone, before any parsing */
	big = malloc(len + 20000);
	memcpy(big, orig, len);
	memset(big + len, ' ', 20000);
	write_file(p, big, len + 20000);
	snprintf(msg, sizeof(msg), "timestamp.json: larger than %d bytes, the cap for "
		 "timestamp.json (endless or oversized data)", TUF_MAX_TIMESTAMP_LEN);
	expect_refused(f, T0 + 60, NULL, -EFBIG, msg);
	expect_refused(f, T0 + 60, greedy_fetch, -EFBIG, msg);
	write_file(p, orig, len);
	assert_int_equal(client_at(f, T0 + 60, NULL, &c, &e), 0);
	tuf_client__free(c);
	free(big);
	free(orig);
	free(p);

	/* a snapshot longer than the timestamp says */
	rwt_rmtree(f->state);
	p = cat(f->dir, "2.snapshot.json");
	orig = read_all(p, &len);
	big = malloc(len + 1);
	memcpy(big, orig, len);
	big[len] = '\n';
	write_file(p, big, len + 1);
	snprintf(msg, sizeof(msg), "2.snapshot.json: larger than %zu bytes, the cap listed in "
		 "timestamp.json (endless or oversized data)", len);
	expect_refused(f, T0 + 60, greedy_fetch, -EFBIG, msg);
	free(big);
	free(orig);
	free(p);
}

/* malformed metadata of every kind is refused by the parser, cleanly */
static void test_malformed_metadata(void **st)
{
	static const struct { const char *text, *msg; } cases[] = {
		{ "", "timestamp.json: empty" },
		{ "{\"signatures\":[],\"signed\":{}} x", "timestamp.json: not JSON: unexpected "
		  "character at offset 30" },
		{ "{\"signatures\":[]}", "timestamp.json: must be an object with exactly "
		  "\"signatures\" and \"signed\"" },
		{ "{\"signatures\":[{\"keyid\":\"ab\",\"sig\":\"00\"}],\"signed\":{}}",
		  "timestamp.json: signatures[0] must be {\"keyid\": 64 hex digits, \"sig\": 128 hex "
		  "digits}" },
		{ "{\"signatures\":[],\"signed\":{\"x\":1.5}}", "timestamp.json: \"signed\" has no "
		  "canonical form (a float, an integer beyond 2^53, or nesting deeper than 16)" },
		{ "[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]", "timestamp.json: not JSON: "
		  "nesting too deep at offset 17" },
	};
	struct fx *f = *st;
	char *p = cat(f->dir, "timestamp.json");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_file(p, cases[i].text, strlen(cases[i].text));
		expect_refused(f, T0 + 60, NULL, -EINVAL, cases[i].msg);
	}
	free(p);
}

static void test_canonical_json(void **st)
{
	static const char in[] = "{\"b\": [1, true, null], \"a\": \"q\\\"\\\\\", "
				 "\"\\u00e9\": {}}";
	struct tuf_err e;
	json_object *o = tuf__parse_json("t", (const uint8_t *)in, strlen(in), &e);
	char *c = NULL;
	size_t n;

	assert_non_null(o);
	assert_int_equal(tuf__canonical(o, &c, &n), 0);
	assert_string_equal(c, "{\"a\":\"q\\\"\\\\\",\"b\":[1,true,null],\"\xc3\xa9\":{}}");
	assert_int_equal(n, strlen(c));
	free(c);
	json_object_put(o);
	o = json_object_new_int64((int64_t)1 << 53);
	assert_int_equal(tuf__canonical(o, &c, &n), -EINVAL);
	json_object_put(o);
}

static void test_archive(void **st)
{
	struct fx *f = *st;
	struct tuf_err e;
	uint8_t *a = NULL, *b = NULL;
	size_t al, bl;
	char *u = cat(f->base, "u"), *u2 = cat(f->base, "u2"), *x;

	/* one directory, one archive: packing twice gives the same bytes */
	assert_int_equal(archive__pack(b13, &a, &al, &e), 0);
	assert_int_equal(archive__pack(b13, &b, &bl, &e), 0);
	assert_int_equal(al, bl);
	assert_memory_equal(a, b, al);
	free(b);
	assert_int_equal(archive__unpack(a, al, u, &e), 0);
	x = read_at(u, "more/b.yml", NULL);
	assert_string_equal(x, RULE("cccccccc-0000-4000-8000-000000000002", "Rule B", "/socat"));
	free(x);
	/* never into an existing directory */
	assert_int_equal(archive__unpack(a, al, u, &e), -EEXIST);
	/* bounds, paths, order */
	assert_int_equal(archive__walk(a, al - 1, NULL, NULL, &e), -EINVAL);
	assert_string_equal(e.msg, "bundle archive: truncated in \"ringward-bundle.yml\"");
	b = malloc(al + 1);
	memcpy(b, a, al);
	b[al] = 0;
	assert_int_equal(archive__walk(b, al + 1, NULL, NULL, &e), -EINVAL);
	assert_string_equal(e.msg, "bundle archive: 1 bytes after the last file");
	{
		/* "README" is the first path; make it "../EADME"-like: ".." + "/" */
		uint8_t *p = b + 8 + 4 + 2;

		assert_memory_equal(p, "README", 6);
		memcpy(p, "../RME", 6);
		assert_int_equal(archive__walk(b, al, NULL, NULL, &e), -EINVAL);
		assert_string_equal(e.msg, "bundle archive: file 1: path \"../RME\" is not a plain "
				    "relative path");
		memcpy(p, "zEADME", 6);
		assert_int_equal(archive__walk(b, al, NULL, NULL, &e), -EINVAL);
		assert_string_equal(e.msg, "bundle archive: file 2: \"a.yml\" is out of order or "
				    "repeated");
		/* nothing half-unpacked */
		assert_int_equal(archive__unpack(b, al, u2, &e), -EINVAL);
		assert_int_equal(access(u2, F_OK), -1);
	}
	free(a);
	free(b);
	free(u);
	free(u2);
}

/* The publisher's refusals. */
static void test_publisher_refusals(void **st)
{
	struct fx *f = *st;
	struct repo_init_opts io = { .n_root_keys = 1, .threshold = 1 };
	struct repo_opts o = { .now = T0 };
	struct diag d;
	char *t, *bad = cat(f->base, "bad"), *inside = cat(f->base, "r2");
	char *kin = cat(inside, "keys");

	diag__init(&d);
	/* an older (or the same) version */
	assert_int_equal(repo__add(&f->o, b12, NULL, 0, &d), -ESTALE);
	t = diag_text(&d);
	expect_contains(t, "error: bundle ringward-default version 12 is not above version 12, "
			"which the repository already holds: versions only go up");
	free(t);
	diag__free(&d);

	/* content the loader refuses: its own file:line:col */
	diag__init(&d);
	assert_int_equal(mkdir(bad, 0755), 0);
	write_at(bad, "a.yml", "title: x\nid: cccccccc-0000-4000-8000-000000000009\n"
		 "logsource: {product: linux, category: process_creation}\ndetection:\n"
		 "    sel:\n        NoSuchField: a\n    condition: sel\n");
	{
		struct bundle_write w = { .name = "ringward-default", .version = 20 };

		assert_int_equal(bundle__write_manifest(bad, &w, NULL, &d), 0);
		diag__free(&d);
		diag__init(&d);
	}
	assert_int_equal(repo__add(&f->o, bad, NULL, 0, &d), -EINVAL);
	t = diag_text(&d);
	expect_contains(t, "/bad/a.yml:6:9: error: ");
	expect_contains(t, "NoSuchField");
	expect_contains(t, "/bad: error: refused by the loader of this ringward (event schema 2): "
			"1 error\n");
	free(t);
	diag__free(&d);

	/* an external validator of an older schema that exits non-zero */
	{
		char *cfg = cat(f->keys, REPO_CONFIG);
		const char *text = "{\"fleet-schemas\": [{\"schema\": 2}, {\"schema\": 1, "
				   "\"validator\": [\"/bin/sh\", \"-c\", \"echo \\\"$1: field 21 is "
				   "not supplied\\\"; exit 3\", \"sh\"]}]}";

		write_file(cfg, text, strlen(text));
		diag__init(&d);
		assert_int_equal(repo__add(&f->o, b13, NULL, 0, &d), -EINVAL);
		t = diag_text(&d);
		expect_contains(t, "error: refused by the validator for event schema 1 (/bin/sh -c "
				"echo \"$1: field 21 is not supplied\"; exit 3 sh): exit status 3");
		/* its output, with the unpacked copy named as the user's bundle */
		expect_contains(t, "note:   ");
		expect_contains(t, "/bundle13: field 21 is not supplied");
		free(t);
		diag__free(&d);
		/* a schema nobody validates refuses everything */
		text = "{\"fleet-schemas\": [{\"schema\": 2}, {\"schema\": 1}]}";
		write_file(cfg, text, strlen(text));
		diag__init(&d);
		assert_int_equal(repo__add(&f->o, b13, NULL, 0, &d), -EINVAL);
		t = diag_text(&d);
		expect_contains(t, "error: fleet-schemas lists event schema 1 without a validator "
				"command, and this ringward validates schema 2 only");
		free(t);
		diag__free(&d);
		/* and a validator that accepts lets it through */
		text = "{\"fleet-schemas\": [{\"schema\": 2}, {\"schema\": 1, \"validator\": "
		       "[\"/bin/true\"]}]}";
		write_file(cfg, text, strlen(text));
		diag__init(&d);
		repo_ok(repo__add(&f->o, b13, NULL, 0, &d), &d);
		diag__free(&d);
		free(cfg);
	}

	/* keys inside the served directory */
	diag__init(&d);
	o.dir = inside;
	o.keys_dir = kin;
	assert_int_equal(repo__init(&o, &io, &d), -EINVAL);
	t = diag_text(&d);
	expect_contains(t, "keys: error: the keys directory is inside the served directory");
	free(t);
	assert_int_equal(access(kin, F_OK), -1);
	diag__free(&d);

	/* a rollout naming a target the repository does not hold */
	{
		char *ro = cat(f->base, "rollout.json");

		write_at(f->base, "rollout.json", "{\"_type\": \"rollout\", \"version\": 1, "
			 "\"salt\": \"s\", \"rings\": [{\"name\": \"canary\", \"hosts_bp\": 100, "
			 "\"bake_seconds\": 3600}, {\"name\": \"broad\", \"hosts_bp\": 9900}], "
			 "\"releases\": [{\"version\": 14, \"target\": "
			 "\"ringward-default-14.rwb\"}]}");
		diag__init(&d);
		assert_int_equal(repo__publish(&f->o, ro, &d), -ENOENT);
		t = diag_text(&d);
		expect_contains(t, "rollout.json: error: release 14 names target "
				"ringward-default-14.rwb, which the repository neither holds nor "
				"stages");
		free(t);
		diag__free(&d);
		free(ro);
	}
	free(bad);
	free(inside);
	free(kin);
}

/* The rollout document published as a target, read back by the client. */
static void test_rollout_published(void **st)
{
	struct fx *f = *st;
	struct tuf_client *c;
	struct rollout_doc doc;
	struct rollout_choice ch;
	struct tuf_err e;
	struct diag d;
	uint8_t *buf;
	size_t len;
	char *ro = cat(f->base, "rollout.json");

	write_at(f->base, "rollout.json", "{\"_type\": \"rollout\", \"version\": 1, "
		 "\"salt\": \"s\", \"rings\": [{\"name\": \"canary\", \"hosts_bp\": 100, "
		 "\"bake_seconds\": 3600}, {\"name\": \"broad\", \"hosts_bp\": 9900}], "
		 "\"releases\": [{\"version\": 12, \"target\": \"ringward-default-12.rwb\", "
		 "\"rings\": {\"canary\": \"2030-01-01T00:00:00Z\", "
		 "\"broad\": \"2030-01-01T00:00:00Z\"}}]}");
	diag__init(&d);
	repo_ok(repo__publish(&f->o, ro, &d), &d);
	/* the same version again is refused */
	assert_int_equal(repo__publish(&f->o, ro, &d), -ESTALE);
	diag__free(&d);
	assert_int_equal(client_at(f, T0 + 7200, NULL, &c, &e), 0);
	assert_int_equal(tuf_client__fetch_target(c, ROLLOUT_TARGET, &buf, &len, &e), 0);
	assert_int_equal(rollout__parse(&doc, ROLLOUT_TARGET, (char *)buf, len, &e), 0);
	/* after canary's bake every host has reached version 12 */
	assert_int_equal(rollout__select(&doc, "host-1", NULL, T0 + 7200, NULL, &ch), 0);
	assert_int_equal(ch.version, 12);
	assert_string_equal(ch.target, "ringward-default-12.rwb");
	assert_non_null(tuf_targets__find(tuf_client__targets(c), ch.target));
	rollout__free(&doc);
	free(buf);
	tuf_client__free(c);
	free(ro);
}

struct run {
	int rc;
	char *out, *err;
};

static struct run run_repo(const char *const argv[])
{
	char outp[] = "/tmp/ringward-test-tuf-out.XXXXXX";
	char errp[] = "/tmp/ringward-test-tuf-err.XXXXXX";
	int o = mkstemp(outp), e = mkstemp(errp), so = dup(1), se = dup(2), argc = 0;
	char *args[24];
	struct run r;

	assert_true(o >= 0 && e >= 0 && so >= 0 && se >= 0);
	for (; argv[argc]; argc++)
		args[argc] = strdup(argv[argc]);
	args[argc] = NULL;
	fflush(stdout);
	fflush(stderr);
	dup2(o, 1);
	dup2(e, 2);
	r.rc = cmd_repo(argc, args);
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
	r.out = read_all(outp, NULL);
	r.err = read_all(errp, NULL);
	unlink(outp);
	unlink(errp);
	return r;
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* `ringward repo` as an operator runs it (real clock). */
static void test_cli(void **st)
{
	struct fx *f = *st;
	char *dir = cat(f->base, "cli"), *root = cat(dir, "1.root.json");
	struct run r;

	r = run_repo((const char *[]){ "repo", "init", dir, "--keys", "2", "--threshold", "2",
				       "--expires", "timestamp=2h", NULL });
	assert_int_equal(r.rc, 0);
	expect_contains(r.out, "repository made: 2 root keys (threshold 2)");
	run_free(&r);
	r = run_repo((const char *[]){ "repo", "add", dir, b12, NULL });
	assert_int_equal(r.rc, 0);
	expect_contains(r.out, "staged ringward-default-12.rwb");
	run_free(&r);
	r = run_repo((const char *[]){ "repo", "publish", dir, NULL });
	assert_int_equal(r.rc, 0);
	expect_contains(r.out, "published targets version 2 (1 targets), snapshot version 2, "
			"timestamp version 2");
	run_free(&r);
	r = run_repo((const char *[]){ "repo", "verify", dir, "--root", root, "--target",
				       "ringward-default-12.rwb", NULL });
	assert_int_equal(r.rc, 0);
	expect_contains(r.out, "root version 1, timestamp version 2, snapshot version 2, "
			"targets version 2");
	expect_contains(r.out, "ringward-default-12.rwb: ok");
	run_free(&r);
	r = run_repo((const char *[]){ "repo", "init", dir, "--keys", "2", NULL });
	assert_int_equal(r.rc, 2);
	run_free(&r);
	r = run_repo((const char *[]){ "repo", "frobnicate", dir, NULL });
	assert_int_equal(r.rc, 2);
	run_free(&r);
	free(dir);
	free(root);
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_round_trip),
		T(test_staged_invisible),
		T(test_target_changed_after_signing),
		T(test_replay_older_metadata),
		T(test_expired_metadata),
		T(test_mix_and_match),
		T(test_root_rotation_too_few_keys),
		T(test_root_rotation),
		T(test_wrong_threshold),
		T(test_key_not_in_root),
		T(test_oversized_metadata),
		T(test_malformed_metadata),
		T(test_canonical_json),
		T(test_archive),
		T(test_publisher_refusals),
		T(test_rollout_published),
		T(test_cli),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
