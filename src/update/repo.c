/*
 * The repository publisher (update/repo.h).
 */
#include "update/repo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/bundle.h"
#include "engine/ruleset.h"
#include "ringward/schema.h"
#include "update/archive.h"
#include "update/rollout.h"

#define MAX_CONFIG	(1024 * 1024)
#define MAX_SIGNERS	TUF_MAX_KEYS
#define VALIDATOR_OUT	(64 * 1024)	/* bytes of a validator's output kept */
#define VALIDATOR_TIMEOUT 300		/* seconds a validator may take */

struct repo {
	char *dir, *kdir, *rootkdir;
	int lock_fd;
	int64_t now;
	int64_t expires[TUF_N_ROLES];
	struct repo_schema schemas[REPO_MAX_SCHEMAS];
	size_t n_schemas;
	char **trusted;
	size_t n_trusted;

	struct tuf_root root;		/* the newest */
	int64_t ts_version, snap_version, targets_version;
	struct tuf_targets targets;	/* published */
	struct tuf_targets staged;
};

static int error(struct diag *d, int err, const char *file, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int error(struct diag *d, int err, const char *file, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag__vadd(d, DIAG_ERROR, file, 0, 0, NULL, fmt, ap);
	va_end(ap);
	return err;
}

static int tuf_error(struct diag *d, int err, const struct tuf_err *e)
{
	diag__add(d, DIAG_ERROR, NULL, 0, 0, NULL, "%s", e->msg);
	return err;
}

static char *path2(const char *a, const char *b)
{
	char *p;

	return asprintf(&p, "%s/%s", a, b) < 0 ? NULL : p;
}

static int64_t clock_now(const struct repo_opts *o)
{
	return o->now ? o->now : (int64_t)time(NULL);
}

int repo__parse_duration(const char *s, int64_t *secs)
{
	char *end;
	long long v;
	int64_t mult = 1;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || v <= 0)
		return -EINVAL;
	switch (*end) {
	case '\0':
	case 's':
		break;
	case 'm':
		mult = 60;
		break;
	case 'h':
		mult = 3600;
		break;
	case 'd':
		mult = 86400;
		break;
	case 'w':
		mult = 7 * 86400;
		break;
	default:
		return -EINVAL;
	}
	if (*end && end[1])
		return -EINVAL;
	if (v > (long long)(INT64_MAX / 4 / mult))
		return -ERANGE;
	*secs = v * mult;
	return 0;
}

/* ---- the repository object ---- */

static void schemas_free(struct repo_schema *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; s[i].argv && s[i].argv[j]; j++)
			free(s[i].argv[j]);
		free(s[i].argv);
		s[i].argv = NULL;
	}
}

static void repo_close(struct repo *r)
{
	if (r->lock_fd > 0)
		close(r->lock_fd);
	schemas_free(r->schemas, r->n_schemas);
	for (size_t i = 0; i < r->n_trusted; i++)
		free(r->trusted[i]);
	free(r->trusted);
	tuf_root__free(&r->root);
	tuf_targets__free(&r->targets);
	tuf_targets__free(&r->staged);
	free(r->dir);
	free(r->kdir);
	free(r->rootkdir);
	memset(r, 0, sizeof(*r));
}

static int set_paths(struct repo *r, const struct repo_opts *o, struct diag *d)
{
	size_t n;

	if (!o->dir || !*o->dir)
		return error(d, -EINVAL, NULL, "no repository directory given");
	r->dir = strdup(o->dir);
	if (!r->dir)
		return error(d, -ENOMEM, NULL, "out of memory");
	n = strlen(r->dir);
	while (n > 1 && r->dir[n - 1] == '/')
		r->dir[--n] = '\0';
	if (o->keys_dir)
		r->kdir = strdup(o->keys_dir);
	else if (asprintf(&r->kdir, "%s" REPO_KEYS_SUFFIX, r->dir) < 0)
		r->kdir = NULL;
	if (!r->kdir)
		return error(d, -ENOMEM, NULL, "out of memory");
	r->rootkdir = o->root_keys_dir ? strdup(o->root_keys_dir) : path2(r->kdir, "root");
	if (!r->rootkdir)
		return error(d, -ENOMEM, NULL, "out of memory");
	r->now = clock_now(o);
	return 0;
}

/* The private directory must not be served: refuse it inside DIR. */
static int check_apart(const struct repo *r, struct diag *d)
{
	char *a = realpath(r->dir, NULL), *b = realpath(r->kdir, NULL);
	int err = 0;
	size_t n;

	if (!a || !b) {
		err = error(d, -errno ? -errno : -ENOENT, a ? r->kdir : r->dir, "%s",
			    strerror(errno ? errno : ENOENT));
		goto cleanup;
	}
	n = strlen(a);
	if (!strcmp(a, b) || (!strncmp(a, b, n) && (b[n] == '/' || n == 1)))
		err = error(d, -EINVAL, r->kdir, "the keys directory is inside the served "
			    "directory %s: anyone could fetch the keys; keep it apart", r->dir);
cleanup:
	free(a);
	free(b);
	return err;
}

static int lock_repo(struct repo *r, struct diag *d)
{
	char *p = path2(r->kdir, ".lock");

	if (!p)
		return error(d, -ENOMEM, NULL, "out of memory");
	r->lock_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (r->lock_fd < 0 || flock(r->lock_fd, LOCK_EX | LOCK_NB)) {
		int err = error(d, -errno, p, "cannot lock: %s (another publisher at work?)",
				strerror(errno));

		free(p);
		return err;
	}
	free(p);
	return 0;
}

static int read_json_file(const char *path, size_t max, json_object **out, struct diag *d)
{
	struct tuf_err e;
	char *buf = NULL;
	size_t len;
	int err = bundle__read_file(path, max, &buf, &len);

	*out = NULL;
	if (err)
		return err;
	*out = tuf__parse_json(path, (const uint8_t *)buf, len, &e);
	free(buf);
	if (!*out)
		return tuf_error(d, -EINVAL, &e);
	return 0;
}

static int parse_config(struct repo *r, json_object *c, const char *path, struct diag *d)
{
	static const char *const roles[TUF_N_ROLES] = { "root", "targets", "snapshot",
							"timestamp" };
	static const int64_t dflt[TUF_N_ROLES] = { REPO_DEFAULT_EXPIRES_ROOT,
		REPO_DEFAULT_EXPIRES_TARGETS, REPO_DEFAULT_EXPIRES_SNAPSHOT,
		REPO_DEFAULT_EXPIRES_TIMESTAMP };
	json_object *ex = NULL, *fs = NULL, *tk = NULL, *v;

	json_object_object_get_ex(c, "expires", &ex);
	json_object_object_get_ex(c, "fleet-schemas", &fs);
	json_object_object_get_ex(c, "trusted-keys", &tk);
	for (int i = 0; i < TUF_N_ROLES; i++) {
		r->expires[i] = dflt[i];
		if (!ex || !json_object_object_get_ex(ex, roles[i], &v))
			continue;
		if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) <= 0 ||
		    json_object_get_int64(v) > INT32_MAX * 100LL)
			return error(d, -EINVAL, path, "expires.%s must be seconds (> 0)", roles[i]);
		r->expires[i] = json_object_get_int64(v);
	}
	if (fs && (!json_object_is_type(fs, json_type_array) ||
		   json_object_array_length(fs) > REPO_MAX_SCHEMAS))
		return error(d, -EINVAL, path, "\"fleet-schemas\" must be an array of at most %d",
			     REPO_MAX_SCHEMAS);
	for (size_t i = 0; fs && i < json_object_array_length(fs); i++) {
		json_object *s = json_object_array_get_idx(fs, i), *sv = NULL, *av = NULL;
		struct repo_schema *rs = &r->schemas[r->n_schemas];
		size_t n;

		if (!json_object_object_get_ex(s, "schema", &sv) ||
		    !json_object_is_type(sv, json_type_int) || json_object_get_int64(sv) < 0 ||
		    json_object_get_int64(sv) > INT_MAX)
			return error(d, -EINVAL, path, "fleet-schemas[%zu].schema must be a schema "
				     "version", i);
		rs->schema = (int)json_object_get_int64(sv);
		r->n_schemas++;
		if (!json_object_object_get_ex(s, "validator", &av))
			continue;
		n = json_object_is_type(av, json_type_array) ? json_object_array_length(av) : 0;
		if (n == 0 || n > 64)
			return error(d, -EINVAL, path, "fleet-schemas[%zu].validator must be a "
				     "command: an array of 1 to 64 strings (no shell)", i);
		rs->argv = calloc(n + 1, sizeof(char *));
		if (!rs->argv)
			return error(d, -ENOMEM, NULL, "out of memory");
		for (size_t j = 0; j < n; j++) {
			json_object *a = json_object_array_get_idx(av, j);

			if (!json_object_is_type(a, json_type_string))
				return error(d, -EINVAL, path, "fleet-schemas[%zu].validator[%zu] must "
					     "be a string", i, j);
			rs->argv[j] = strdup(json_object_get_string(a));
			if (!rs->argv[j])
				return error(d, -ENOMEM, NULL, "out of memory");
		}
	}
	if (tk && !json_object_is_type(tk, json_type_array))
		return error(d, -EINVAL, path, "\"trusted-keys\" must be an array of paths");
	r->n_trusted = tk ? json_object_array_length(tk) : 0;
	r->trusted = calloc(r->n_trusted + 1, sizeof(char *));
	if (!r->trusted)
		return error(d, -ENOMEM, NULL, "out of memory");
	for (size_t i = 0; i < r->n_trusted; i++) {
		json_object *a = json_object_array_get_idx(tk, i);

		r->trusted[i] = json_object_is_type(a, json_type_string) ?
				strdup(json_object_get_string(a)) : NULL;
		if (!r->trusted[i])
			return error(d, -EINVAL, path, "trusted-keys[%zu] must be a path", i);
	}
	return 0;
}

static int read_config(struct repo *r, const struct repo_opts *o, struct diag *d)
{
	char *path = path2(r->kdir, REPO_CONFIG);
	json_object *c = NULL;
	int err;

	if (!path)
		return error(d, -ENOMEM, NULL, "out of memory");
	err = read_json_file(path, MAX_CONFIG, &c, d);
	if (err == -ENOENT)
		error(d, err, path, "missing: not a repository's keys directory (ringward repo "
		      "init makes one)");
	else if (err && err != -EINVAL)
		error(d, err, path, "cannot read: %s", strerror(-err));
	if (!err && !json_object_is_type(c, json_type_object))
		err = error(d, -EINVAL, path, "must be a JSON object");
	if (!err)
		err = parse_config(r, c, path, d);
	for (int i = 0; !err && i < TUF_N_ROLES; i++)
		if (o->expires[i])
			r->expires[i] = o->expires[i];
	json_object_put(c);
	free(path);
	return err;
}

/* Parse an envelope from a file of the repository (no signature check:
 * the publisher reads its own files; expired ones must be re-signable). */
static int read_envelope(const char *dir, const char *name, size_t max,
			 struct tuf_envelope *env, uint8_t **bytes, size_t *blen,
			 struct diag *d)
{
	char *path = path2(dir, name), *buf = NULL;
	struct tuf_err e;
	size_t len;
	int err;

	memset(env, 0, sizeof(*env));
	if (!path)
		return error(d, -ENOMEM, NULL, "out of memory");
	err = bundle__read_file(path, max, &buf, &len);
	if (err) {
		if (err != -ENOENT)
			error(d, err, path, "cannot read: %s", strerror(-err));
		free(path);
		return err;
	}
	err = tuf_envelope__parse(env, path, (const uint8_t *)buf, len, &e);
	if (err)
		tuf_error(d, err, &e);
	if (!err && bytes) {
		*bytes = (uint8_t *)buf;
		*blen = len;
		buf = NULL;
	}
	free(buf);
	free(path);
	return err;
}

static int read_root(struct repo *r, struct diag *d)
{
	struct tuf_envelope env;
	struct tuf_err e;
	char name[64];
	int64_t v = 0;
	int err;

	for (;;) {
		char *p;
		struct stat st;

		snprintf(name, sizeof(name), "%lld.root.json", (long long)v + 1);
		p = path2(r->dir, name);
		if (!p)
			return error(d, -ENOMEM, NULL, "out of memory");
		err = lstat(p, &st);
		free(p);
		if (err)
			break;
		v++;
	}
	if (v == 0)
		return error(d, -ENOENT, r->dir, "no 1.root.json: not a repository (ringward repo "
			     "init makes one)");
	snprintf(name, sizeof(name), "%lld.root.json", (long long)v);
	err = read_envelope(r->dir, name, TUF_MAX_ROOT_LEN, &env, NULL, NULL, d);
	if (!err) {
		err = tuf_root__parse(&r->root, name, &env, &e);
		if (err)
			tuf_error(d, err, &e);
	}
	if (!err && r->root.version != v)
		err = error(d, -EINVAL, name, "holds root version %lld", (long long)r->root.version);
	tuf_envelope__free(&env);
	return err;
}

static int read_published(struct repo *r, struct diag *d)
{
	struct tuf_envelope env;
	struct tuf_timestamp ts;
	struct tuf_snapshot snap;
	struct tuf_err e;
	char name[64];
	int err;

	err = read_envelope(r->dir, "timestamp.json", TUF_MAX_TIMESTAMP_LEN, &env, NULL, NULL, d);
	if (err == -ENOENT)
		return 0;	/* nothing published yet */
	if (!err && (err = tuf_timestamp__parse(&ts, "timestamp.json", &env, &e)))
		tuf_error(d, err, &e);
	tuf_envelope__free(&env);
	if (err)
		return err;
	r->ts_version = ts.version;
	snprintf(name, sizeof(name), "%lld.snapshot.json", (long long)ts.snapshot.version);
	err = read_envelope(r->dir, name, TUF_MAX_TARGETS_LEN, &env, NULL, NULL, d);
	if (err == -ENOENT)
		error(d, err, name, "missing, but timestamp.json refers to it");
	if (!err && (err = tuf_snapshot__parse(&snap, name, &env, &e)))
		tuf_error(d, err, &e);
	tuf_envelope__free(&env);
	if (err)
		return err;
	r->snap_version = snap.version;
	snprintf(name, sizeof(name), "%lld.targets.json", (long long)snap.targets.version);
	err = read_envelope(r->dir, name, TUF_MAX_TARGETS_LEN, &env, NULL, NULL, d);
	if (err == -ENOENT)
		error(d, err, name, "missing, but the snapshot refers to it");
	if (!err && (err = tuf_targets__parse(&r->targets, name, &env, &e)))
		tuf_error(d, err, &e);
	tuf_envelope__free(&env);
	if (!err)
		r->targets_version = r->targets.version;
	return err;
}

static int read_staged(struct repo *r, struct diag *d)
{
	struct tuf_envelope env;
	struct tuf_err e;
	int err = read_envelope(r->kdir, REPO_STAGED, TUF_MAX_TARGETS_LEN, &env, NULL, NULL, d);

	if (err == -ENOENT)
		return 0;
	if (!err && (err = tuf_targets__parse(&r->staged, REPO_STAGED, &env, &e)))
		tuf_error(d, err, &e);
	tuf_envelope__free(&env);
	return err;
}

static int repo_open(struct repo *r, const struct repo_opts *o, struct diag *d)
{
	struct stat st;
	int err;

	memset(r, 0, sizeof(*r));
	r->lock_fd = -1;
	err = set_paths(r, o, d);
	if (err)
		return err;
	if (stat(r->kdir, &st) || !S_ISDIR(st.st_mode))
		return error(d, -ENOENT, r->kdir, "no keys directory (--keys-dir)");
	err = check_apart(r, d);
	if (!err)
		err = lock_repo(r, d);
	if (!err)
		err = read_config(r, o, d);
	if (!err)
		err = read_root(r, d);
	if (!err)
		err = read_published(r, d);
	if (!err)
		err = read_staged(r, d);
	return err;
}

/* ---- keys ---- */

struct signers {
	struct tuf_signer v[MAX_SIGNERS];
	size_t n;
};

static void signers_wipe(struct signers *s)
{
	sodium_memzero(s, sizeof(*s));
}

/* Every *.key in dir (missing dir: none). Unreadable keys are warned of. */
static int load_key_dir(struct signers *s, const char *dir, struct diag *d)
{
	struct dirent *de;
	DIR *dh = opendir(dir);

	if (!dh)
		return errno == ENOENT ? 0 : error(d, -errno, dir, "%s", strerror(errno));
	while ((de = readdir(dh))) {
		size_t n = strlen(de->d_name);
		struct tuf_err e;
		char *p;

		if (n < 5 || strcmp(de->d_name + n - 4, ".key") || de->d_name[0] == '.')
			continue;
		if (s->n >= MAX_SIGNERS)
			break;
		p = path2(dir, de->d_name);
		if (!p)
			break;
		if (tuf_signer__read(&s->v[s->n], p, &e) == 0)
			s->n++;
		else
			diag__add(d, DIAG_WARNING, NULL, 0, 0, NULL, "%s (skipped)", e.msg);
		free(p);
	}
	closedir(dh);
	return 0;
}

static bool role_has(const struct tuf_root *root, enum tuf_role role, const char *id)
{
	for (size_t i = 0; i < root->roles[role].n; i++)
		if (!strcmp(root->keys[root->roles[role].key_idx[i]].id, id))
			return true;
	return false;
}

/* The signers at hand for role in root; error unless a threshold. */
static int pick(const struct signers *all, const struct tuf_root *root, enum tuf_role role,
		const struct tuf_signer **out, size_t *n, const char *where, struct diag *d)
{
	*n = 0;
	for (size_t i = 0; i < all->n; i++) {
		bool dup = false;

		if (!role_has(root, role, all->v[i].id))
			continue;
		for (size_t j = 0; j < *n; j++)
			dup |= !strcmp(out[j]->id, all->v[i].id);
		if (!dup && *n < MAX_SIGNERS)
			out[(*n)++] = &all->v[i];
	}
	if (*n >= root->roles[role].threshold)
		return 0;
	return error(d, -ENOKEY, where, "%zu of the %u %s keys of root version %lld needed to "
		     "sign are here", *n, root->roles[role].threshold, tuf_role__name(role),
		     (long long)root->version);
}

static int online_signers(struct repo *r, struct signers *s, struct diag *d)
{
	char *p = path2(r->kdir, "online");
	int err;

	if (!p)
		return error(d, -ENOMEM, NULL, "out of memory");
	err = load_key_dir(s, p, d);
	free(p);
	return err;
}

/* Make a key pair in dir as ROLE-ID16.{key,pub}. */
static int new_key(const char *dir, const char *role, struct tuf_signer *s, struct diag *d)
{
	struct tuf_err e;
	char *prefix;
	int err;

	err = tuf_signer__generate(s);
	if (err)
		return error(d, err, NULL, "cannot make a key: libsodium would not start");
	if (mkdir(dir, 0700) && errno != EEXIST)
		return error(d, -errno, dir, "cannot make the directory: %s", strerror(errno));
	if (asprintf(&prefix, "%s/%s-%.16s", dir, role, s->id) < 0)
		return error(d, -ENOMEM, NULL, "out of memory");
	err = tuf_signer__write(s, prefix, &e);
	free(prefix);
	return err ? tuf_error(d, err, &e) : 0;
}

/* ---- signing and writing ---- */

static int sign_write(struct repo *r, json_object *body, const struct tuf_signer *const *s,
		      size_t n, const char *name, uint8_t **bytes, size_t *blen, struct diag *d)
{
	struct tuf_err e;
	char *text = NULL;
	size_t len;
	int err;

	if (!body)
		return error(d, -ENOMEM, NULL, "out of memory");
	err = tuf__sign(body, s, n, &text, &len, &e);
	json_object_put(body);
	if (err)
		return tuf_error(d, err, &e);
	err = tuf__write_atomic(r->dir, name, text, len, 0644);
	if (err) {
		free(text);
		return error(d, err, name, "cannot write: %s", strerror(-err));
	}
	if (bytes) {
		*bytes = (uint8_t *)text;
		*blen = len;
	} else {
		free(text);
	}
	return 0;
}

/* The timestamp over the snapshot whose bytes are given. */
static int write_timestamp(struct repo *r, const struct signers *all, int64_t snap_version,
			   const uint8_t *snap, size_t snap_len, struct diag *d)
{
	const struct tuf_signer *s[MAX_SIGNERS];
	struct tuf_timestamp ts = { 0 };
	size_t n;
	int err;

	err = pick(all, &r->root, TUF_TIMESTAMP, s, &n, r->kdir, d);
	if (err)
		return err;
	ts.version = r->ts_version + 1;
	ts.expires = r->now + r->expires[TUF_TIMESTAMP];
	tuf_meta_ref__of(&ts.snapshot, snap_version, snap, snap_len);
	/* the one file replaced in place, by rename, last of all */
	err = sign_write(r, tuf_timestamp__json(&ts), s, n, "timestamp.json", NULL, NULL, d);
	if (!err)
		r->ts_version = ts.version;
	return err;
}

/* New targets (t, whose version and expiry are set here), snapshot,
 * timestamp: in that order, each file complete before the next names it. */
static int publish_meta(struct repo *r, struct tuf_targets *t, struct diag *d)
{
	const struct tuf_signer *s[MAX_SIGNERS];
	struct tuf_snapshot snap = { 0 };
	struct signers all = { 0 };
	uint8_t *tb = NULL, *sb = NULL;
	size_t tl = 0, sl = 0, n;
	char name[64];
	int err;

	err = online_signers(r, &all, d);
	if (!err)
		err = pick(&all, &r->root, TUF_TARGETS, s, &n, r->kdir, d);
	if (err)
		goto cleanup;
	t->version = r->targets_version + 1;
	t->expires = r->now + r->expires[TUF_TARGETS];
	snprintf(name, sizeof(name), "%lld.targets.json", (long long)t->version);
	err = sign_write(r, tuf_targets__json(t), s, n, name, &tb, &tl, d);
	if (err)
		goto cleanup;
	err = pick(&all, &r->root, TUF_SNAPSHOT, s, &n, r->kdir, d);
	if (err)
		goto cleanup;
	snap.version = r->snap_version + 1;
	snap.expires = r->now + r->expires[TUF_SNAPSHOT];
	tuf_meta_ref__of(&snap.targets, t->version, tb, tl);
	snprintf(name, sizeof(name), "%lld.snapshot.json", (long long)snap.version);
	err = sign_write(r, tuf_snapshot__json(&snap), s, n, name, &sb, &sl, d);
	if (!err)
		err = write_timestamp(r, &all, snap.version, sb, sl, d);
	if (err)
		goto cleanup;
	r->targets_version = t->version;
	r->snap_version = snap.version;
	diag__add(d, DIAG_NOTE, r->dir, 0, 0, NULL, "published targets version %lld (%zu "
		  "targets), snapshot version %lld, timestamp version %lld",
		  (long long)t->version, t->n, (long long)snap.version, (long long)r->ts_version);
cleanup:
	signers_wipe(&all);
	free(tb);
	free(sb);
	return err;
}

/* ---- targets lists ---- */

static int copy_target(struct tuf_target *dst, const struct tuf_target *src)
{
	*dst = *src;
	dst->name = strdup(src->name);
	dst->custom = src->custom ? strdup(src->custom) : NULL;
	dst->bundle = src->bundle ? strdup(src->bundle) : NULL;
	if (!dst->name || (src->custom && !dst->custom) || (src->bundle && !dst->bundle)) {
		free(dst->name);
		free(dst->custom);
		free(dst->bundle);
		memset(dst, 0, sizeof(*dst));
		return -ENOMEM;
	}
	return 0;
}

static int cmp_target(const void *a, const void *b)
{
	return strcmp(((const struct tuf_target *)a)->name, ((const struct tuf_target *)b)->name);
}

/* Put a copy of x into t, replacing a target of the same name. */
static int targets_put(struct tuf_targets *t, const struct tuf_target *x)
{
	struct tuf_target *v, c;

	if (copy_target(&c, x))
		return -ENOMEM;
	for (size_t i = 0; i < t->n; i++) {
		if (strcmp(t->v[i].name, x->name))
			continue;
		free(t->v[i].name);
		free(t->v[i].custom);
		free(t->v[i].bundle);
		t->v[i] = c;
		return 0;
	}
	if (t->n >= TUF_MAX_TARGETS) {
		free(c.name);
		free(c.custom);
		free(c.bundle);
		return -E2BIG;
	}
	v = realloc(t->v, (t->n + 1) * sizeof(*v));
	if (!v) {
		free(c.name);
		free(c.custom);
		free(c.bundle);
		return -ENOMEM;
	}
	t->v = v;
	t->v[t->n++] = c;
	qsort(t->v, t->n, sizeof(*t->v), cmp_target);
	return 0;
}

static int write_staged(struct repo *r, struct diag *d)
{
	json_object *env = json_object_new_object(), *body;
	char *p = path2(r->kdir, REPO_STAGED);
	const char *text;
	int err = 0;

	r->staged.version = 1;
	r->staged.expires = r->now;
	body = tuf_targets__json(&r->staged);
	if (!env || !body || !p) {
		json_object_put(body);
		err = error(d, -ENOMEM, NULL, "out of memory");
		goto cleanup;
	}
	json_object_object_add(env, "signatures", json_object_new_array());
	json_object_object_add(env, "signed", body);
	text = json_object_to_json_string_ext(env, JSON_C_TO_STRING_PRETTY |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	err = tuf__write_atomic(r->kdir, REPO_STAGED, text, strlen(text), 0600);
	if (err)
		error(d, err, p, "cannot write: %s", strerror(-err));
cleanup:
	json_object_put(env);
	free(p);
	return err;
}

static char *target_file(const struct repo *r, const struct tuf_target *t)
{
	char hex[65], *p;

	tuf__hex(t->sha256, 32, hex);
	return asprintf(&p, "%s/targets/%s.%s", r->dir, hex, t->name) < 0 ? NULL : p;
}

/* Write bytes as the target t (its hash and length set from them). */
static int write_target(struct repo *r, struct tuf_target *t, const uint8_t *buf, size_t len,
			struct diag *d)
{
	char hex[65], *tdir = path2(r->dir, "targets"), *name = NULL;
	int err;

	if (!tdir)
		return error(d, -ENOMEM, NULL, "out of memory");
	crypto_hash_sha256(t->sha256, buf, len);
	t->length = (int64_t)len;
	tuf__hex(t->sha256, 32, hex);
	if (mkdir(tdir, 0755) && errno != EEXIST) {
		err = error(d, -errno, tdir, "cannot make the directory: %s", strerror(errno));
		goto cleanup;
	}
	if (asprintf(&name, "%s.%s", hex, t->name) < 0) {
		name = NULL;
		err = error(d, -ENOMEM, NULL, "out of memory");
		goto cleanup;
	}
	err = tuf__write_atomic(tdir, name, buf, len, 0644);
	if (err)
		error(d, err, tdir, "cannot write %s: %s", name, strerror(-err));
cleanup:
	free(name);
	free(tdir);
	return err;
}

/* Read the bytes of a target back from DIR, checked against t. */
static int read_target(const struct repo *r, const struct tuf_target *t, uint8_t **buf,
		       size_t *len, struct diag *d)
{
	char *p = target_file(r, t), *b = NULL;
	uint8_t h[32];
	int err;

	*buf = NULL;
	if (!p)
		return error(d, -ENOMEM, NULL, "out of memory");
	err = bundle__read_file(p, (size_t)TUF_MAX_TARGET_LEN, &b, len);
	if (err) {
		error(d, err, p, "cannot read the target: %s", strerror(-err));
	} else {
		crypto_hash_sha256(h, (const uint8_t *)b, *len);
		if ((int64_t)*len != t->length || memcmp(h, t->sha256, 32))
			err = error(d, -EBADMSG, p, "changed since it was added: its sha256 or length "
				    "no longer matches");
	}
	free(p);
	if (err) {
		free(b);
		return err;
	}
	*buf = (uint8_t *)b;
	return 0;
}

/* ---- validation ---- */

/* Copy the loader's messages, with the unpacked directory's name in file
 * names replaced by what the user knows. */
static void copy_diag(struct diag *d, const struct diag *from, const char *dir,
		      const char *shown)
{
	size_t n = strlen(dir);

	for (size_t i = 0; i < from->n; i++) {
		const struct diag_msg *m = &from->v[i];
		char *f = NULL;

		if (m->file && !strncmp(m->file, dir, n) && asprintf(&f, "%s%s", shown,
								      m->file + n) < 0)
			f = NULL;
		diag__add(d, m->level, f ? f : m->file, m->line, m->col, m->rule, "%s", m->text);
		free(f);
	}
	if (from->n_lost)
		diag__add(d, DIAG_ERROR, shown, 0, 0, NULL, "%zu more errors not shown",
			  from->n_lost);
}

static int validate_here(struct repo *r, const char *dir, const char *shown, struct diag *d)
{
	struct ruleset_opts ro = { 0 };
	const char *paths[1] = { dir };
	struct ruleset *rs;
	struct diag ld;
	int err = 0;

	diag__init(&ld);
	ro.trusted_keys = (const char *const *)r->trusted;
	ro.n_trusted_keys = r->n_trusted;
	ro.now = r->now;
	rs = ruleset__load_opts(paths, 1, &ro, &ld);
	copy_diag(d, &ld, dir, shown);
	if (!rs || ld.n_errors)
		err = error(d, -EINVAL, shown, "refused by the loader of this ringward (event schema "
			    "%d): %zu error%s", RW_SCHEMA_VERSION, ld.n_errors,
			    ld.n_errors == 1 ? "" : "s");
	ruleset__free(rs);
	diag__free(&ld);
	return err;
}

/* Each line of out as a note, the unpacked directory's name replaced. */
static void output_lines(struct diag *d, char *out, const char *dir, const char *shown)
{
	size_t dn = strlen(dir);
	char *save = NULL;

	for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char buf[1024];
		size_t o = 0;

		for (const char *p = line; *p && o + 1 < sizeof(buf);) {
			if (!strncmp(p, dir, dn)) {
				o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s", shown);
				if (o >= sizeof(buf))
					o = sizeof(buf) - 1;
				p += dn;
			} else {
				buf[o++] = *p++;
			}
		}
		buf[o] = '\0';
		diag__add(d, DIAG_NOTE, NULL, 0, 0, NULL, "  %s", buf);
	}
}

static int run_validator(const struct repo_schema *s, const char *dir, const char *shown,
			 struct diag *d)
{
	char *out = malloc(VALIDATOR_OUT + 1), cmd[256] = "";
	size_t argc = 0, got = 0;
	char **argv = NULL;
	int p[2] = { -1, -1 }, status = 0, err = 0;
	bool timed_out = false;
	time_t deadline;
	pid_t pid;

	while (s->argv[argc])
		argc++;
	argv = calloc(argc + 2, sizeof(char *));
	if (!out || !argv) {
		err = error(d, -ENOMEM, NULL, "out of memory");
		goto cleanup;
	}
	for (size_t i = 0; i < argc; i++) {
		argv[i] = s->argv[i];
		snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), "%s%s", i ? " " : "",
			 s->argv[i]);
	}
	argv[argc] = (char *)dir;
	if (pipe2(p, O_CLOEXEC)) {
		err = error(d, -errno, NULL, "pipe: %s", strerror(errno));
		goto cleanup;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		err = error(d, -errno, NULL, "fork: %s", strerror(errno));
		goto cleanup;
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);

		if (nul >= 0)
			dup2(nul, 0);
		dup2(p[1], 1);
		dup2(p[1], 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	p[1] = -1;
	deadline = time(NULL) + VALIDATOR_TIMEOUT;
	for (;;) {
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		int left = (int)(deadline - time(NULL));
		char sink[4096];
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, left * 1000) == 0) {
			timed_out = true;
			kill(pid, SIGKILL);
			break;
		}
		n = got < VALIDATOR_OUT ? read(p[0], out + got, VALIDATOR_OUT - got) :
					  read(p[0], sink, sizeof(sink));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (got < VALIDATOR_OUT)
			got += (size_t)n;
	}
	out[got] = '\0';
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (timed_out)
		err = error(d, -ETIMEDOUT, shown, "refused: the validator for event schema %d (%s) "
			    "did not finish within %d s", s->schema, cmd, VALIDATOR_TIMEOUT);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		goto cleanup;
	else if (WIFEXITED(status))
		err = error(d, -EINVAL, shown, "refused by the validator for event schema %d (%s): "
			    "exit status %d%s", s->schema, cmd, WEXITSTATUS(status),
			    WEXITSTATUS(status) == 127 ? " (command not found?)" : "");
	else
		err = error(d, -EINVAL, shown, "refused by the validator for event schema %d (%s): "
			    "killed by signal %d", s->schema, cmd, WTERMSIG(status));
	output_lines(d, out, dir, shown);
cleanup:
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	free(argv);
	free(out);
	return err;
}

static int validate_dir(struct repo *r, const char *dir, const char *shown, struct diag *d)
{
	int err = 0;

	if (r->n_schemas == 0)
		return validate_here(r, dir, shown, d);
	for (size_t i = 0; i < r->n_schemas; i++) {
		const struct repo_schema *s = &r->schemas[i];
		int e;

		if (s->argv)
			e = run_validator(s, dir, shown, d);
		else if (s->schema == RW_SCHEMA_VERSION)
			e = validate_here(r, dir, shown, d);
		else
			e = error(d, -EINVAL, shown, "fleet-schemas lists event schema %d without a "
				  "validator command, and this ringward validates schema %d only: "
				  "give it one (the ringward binary of that schema, \"validate\")",
				  s->schema, RW_SCHEMA_VERSION);
		if (e && !err)
			err = e;
	}
	return err;
}

/* Unpack the archive into KEYS/.validate/label and validate that. */
static int validate_archive(struct repo *r, const uint8_t *buf, size_t len, const char *label,
			    const char *shown, struct diag *d)
{
	char *vdir = path2(r->kdir, ".validate"), *sub = NULL;
	struct tuf_err e;
	int err;

	if (!vdir || !(sub = path2(vdir, label))) {
		free(vdir);
		return error(d, -ENOMEM, NULL, "out of memory");
	}
	if (mkdir(vdir, 0700) && errno != EEXIST) {
		err = error(d, -errno, vdir, "cannot make the directory: %s", strerror(errno));
		goto cleanup;
	}
	archive__remove_tree(sub);
	err = archive__unpack(buf, len, sub, &e);
	if (err) {
		error(d, err, shown, "%s", e.msg);
		goto cleanup;
	}
	err = validate_dir(r, sub, shown, d);
	archive__remove_tree(sub);
cleanup:
	free(sub);
	free(vdir);
	return err;
}

int repo__validate_bundle(const struct repo_opts *o, const char *bundle_dir, const char *shown,
			  struct diag *d)
{
	struct repo r;
	int err = repo_open(&r, o, d);

	if (!err)
		err = validate_dir(&r, bundle_dir, shown ? shown : bundle_dir, d);
	repo_close(&r);
	return err;
}

/* ---- init ---- */

static int write_config(const char *kdir, const struct repo_opts *o,
			const struct repo_init_opts *io, struct diag *d)
{
	static const char *const roles[TUF_N_ROLES] = { "root", "targets", "snapshot",
							"timestamp" };
	static const int64_t dflt[TUF_N_ROLES] = { REPO_DEFAULT_EXPIRES_ROOT,
		REPO_DEFAULT_EXPIRES_TARGETS, REPO_DEFAULT_EXPIRES_SNAPSHOT,
		REPO_DEFAULT_EXPIRES_TIMESTAMP };
	json_object *c = json_object_new_object(), *ex = json_object_new_object();
	json_object *fs = json_object_new_array();
	const char *text;
	int err;

	if (!c || !ex || !fs) {
		json_object_put(c);
		json_object_put(ex);
		json_object_put(fs);
		return error(d, -ENOMEM, NULL, "out of memory");
	}
	for (int i = 0; i < TUF_N_ROLES; i++)
		json_object_object_add(ex, roles[i], json_object_new_int64(o->expires[i] ?
					       o->expires[i] : dflt[i]));
	json_object_object_add(c, "expires", ex);
	for (size_t i = 0; i < (io->schemas ? io->n_schemas : 1); i++) {
		json_object *s = json_object_new_object();

		json_object_object_add(s, "schema", json_object_new_int(io->schemas ?
					       io->schemas[i].schema : RW_SCHEMA_VERSION));
		if (io->schemas && io->schemas[i].argv) {
			json_object *a = json_object_new_array();

			for (size_t j = 0; io->schemas[i].argv[j]; j++)
				json_object_array_add(a, json_object_new_string(
					io->schemas[i].argv[j]));
			json_object_object_add(s, "validator", a);
		}
		json_object_array_add(fs, s);
	}
	json_object_object_add(c, "fleet-schemas", fs);
	if (io->n_trusted_keys) {
		json_object *tk = json_object_new_array();

		for (size_t i = 0; i < io->n_trusted_keys; i++)
			json_object_array_add(tk, json_object_new_string(io->trusted_keys[i]));
		json_object_object_add(c, "trusted-keys", tk);
	}
	text = json_object_to_json_string_ext(c, JSON_C_TO_STRING_PRETTY |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
	err = tuf__write_atomic(kdir, REPO_CONFIG, text, strlen(text), 0600);
	if (err)
		error(d, err, kdir, "cannot write " REPO_CONFIG ": %s", strerror(-err));
	json_object_put(c);
	return err;
}

static bool dir_empty_or_missing(const char *p, bool *exists)
{
	struct dirent *de;
	DIR *dh = opendir(p);
	bool empty = true;

	*exists = dh != NULL;
	if (!dh)
		return errno == ENOENT;
	while ((de = readdir(dh)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			empty = false;
	closedir(dh);
	return empty;
}

/* Add a public key to root (when absent) and to role. */
static int root_add_key(struct tuf_root *root, enum tuf_role role, const struct tuf_signer *s)
{
	struct tuf_role_keys *rk = &root->roles[role];
	size_t k, *idx;

	for (k = 0; k < root->n_keys; k++)
		if (!strcmp(root->keys[k].id, s->id))
			break;
	if (k == root->n_keys) {
		struct tuf_key *v;

		if (root->n_keys >= TUF_MAX_KEYS)
			return -E2BIG;
		v = realloc(root->keys, (root->n_keys + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		root->keys = v;
		memcpy(v[k].id, s->id, sizeof(v[k].id));
		memcpy(v[k].pk, s->pk, 32);
		root->n_keys++;
	}
	idx = realloc(rk->key_idx, (rk->n + 1) * sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	rk->key_idx = idx;
	rk->key_idx[rk->n++] = k;
	return 0;
}

int repo__init(const struct repo_opts *o, const struct repo_init_opts *io, struct diag *d)
{
	static const enum tuf_role online[] = { TUF_TARGETS, TUF_SNAPSHOT, TUF_TIMESTAMP };
	struct tuf_signer *rootk = NULL, onl[3];
	const struct tuf_signer *rs[REPO_MAX_ROOT_KEYS];
	struct tuf_root root = { 0 };
	struct repo r = { .lock_fd = -1 };
	struct tuf_targets empty = { 0 };
	uint8_t *rb = NULL;
	size_t rl = 0;
	bool exists;
	char *odir = NULL, *tdir = NULL;
	int err;

	err = set_paths(&r, o, d);
	if (err)
		goto cleanup;
	if (io->n_root_keys < 1 || io->n_root_keys > REPO_MAX_ROOT_KEYS ||
	    io->threshold < 1 || io->threshold > io->n_root_keys) {
		err = error(d, -EINVAL, NULL, "root keys: %u with threshold %u: need 1 to %d keys "
			    "and a threshold from 1 to the number of keys", io->n_root_keys,
			    io->threshold, REPO_MAX_ROOT_KEYS);
		goto cleanup;
	}
	for (size_t i = 0; io->schemas && i < io->n_schemas; i++)
		if (!io->schemas[i].argv && io->schemas[i].schema != RW_SCHEMA_VERSION) {
			err = error(d, -EINVAL, NULL, "fleet schema %d needs a validator command: "
				    "this ringward validates schema %d only",
				    io->schemas[i].schema, RW_SCHEMA_VERSION);
			goto cleanup;
		}
	if (!dir_empty_or_missing(r.dir, &exists)) {
		err = error(d, -EEXIST, r.dir, "exists and is not empty: refusing to make a "
			    "repository there");
		goto cleanup;
	}
	if (!exists && mkdir(r.dir, 0755)) {
		err = error(d, -errno, r.dir, "cannot make the directory: %s", strerror(errno));
		goto cleanup;
	}
	if (mkdir(r.kdir, 0700)) {
		err = error(d, -errno, r.kdir, errno == EEXIST ? "exists: refusing to overwrite "
			    "a repository's keys" : "cannot make the directory: %s",
			    strerror(errno));
		goto cleanup;
	}
	err = check_apart(&r, d);
	if (err) {
		rmdir(r.kdir);
		goto cleanup;
	}
	tdir = path2(r.dir, "targets");
	odir = path2(r.kdir, "online");
	rootk = calloc(io->n_root_keys, sizeof(*rootk));
	if (!tdir || !odir || !rootk) {
		err = error(d, -ENOMEM, NULL, "out of memory");
		goto cleanup;
	}
	if (mkdir(tdir, 0755) && errno != EEXIST) {
		err = error(d, -errno, tdir, "cannot make the directory: %s", strerror(errno));
		goto cleanup;
	}
	for (unsigned i = 0; !err && i < io->n_root_keys; i++) {
		err = new_key(r.rootkdir, "root", &rootk[i], d);
		rs[i] = &rootk[i];
		if (!err)
			err = root_add_key(&root, TUF_ROOT, &rootk[i]);
	}
	for (int i = 0; !err && i < 3; i++) {
		err = new_key(odir, tuf_role__name(online[i]), &onl[i], d);
		if (!err)
			err = root_add_key(&root, online[i], &onl[i]);
	}
	if (err) {
		if (err == -ENOMEM || err == -E2BIG)
			error(d, err, NULL, "too many keys");
		goto cleanup;
	}
	root.version = 1;
	root.expires = r.now + (o->expires[TUF_ROOT] ? o->expires[TUF_ROOT] :
				REPO_DEFAULT_EXPIRES_ROOT);
	root.consistent_snapshot = true;
	root.roles[TUF_ROOT].threshold = io->threshold;
	for (int i = 0; i < 3; i++)
		root.roles[online[i]].threshold = 1;
	err = sign_write(&r, tuf_root__json(&root), rs, io->n_root_keys, "1.root.json", &rb, &rl,
			 d);
	if (!err)
		err = tuf__write_atomic(r.dir, "root.json", rb, rl, 0644);
	if (!err)
		err = write_config(r.kdir, o, io, d);
	repo_close(&r);
	if (err)
		goto cleanup;
	/* the first publish, through the same path as every later one */
	err = repo_open(&r, o, d);
	if (!err)
		err = publish_meta(&r, &empty, d);
	if (!err)
		diag__add(d, DIAG_NOTE, r.dir, 0, 0, NULL, "repository made: %u root keys "
			  "(threshold %u) in %s, online keys in %s; install %s/1.root.json on the "
			  "hosts as their trusted root, and move %s offline", io->n_root_keys,
			  io->threshold, r.rootkdir, odir, r.dir, r.rootkdir);
cleanup:
	if (rootk) {
		sodium_memzero(rootk, io->n_root_keys * sizeof(*rootk));
		free(rootk);
	}
	sodium_memzero(onl, sizeof(onl));
	tuf_root__free(&root);
	tuf_targets__free(&empty);
	free(rb);
	free(odir);
	free(tdir);
	repo_close(&r);
	return err;
}

/* ---- add ---- */

/* The newest version of bundle name the repository holds or stages. */
static int64_t held_version(const struct repo *r, const char *name)
{
	int64_t v = 0;

	for (size_t i = 0; i < r->targets.n; i++)
		if (r->targets.v[i].bundle && !strcmp(r->targets.v[i].bundle, name) &&
		    r->targets.v[i].bundle_version > v)
			v = r->targets.v[i].bundle_version;
	for (size_t i = 0; i < r->staged.n; i++)
		if (r->staged.v[i].bundle && !strcmp(r->staged.v[i].bundle, name) &&
		    r->staged.v[i].bundle_version > v)
			v = r->staged.v[i].bundle_version;
	return v;
}

static int bundle_custom(struct tuf_target *t, const char *name, int64_t version, int schema)
{
	json_object *c = json_object_new_object();
	int err;

	if (!c)
		return -ENOMEM;
	json_object_object_add(c, "bundle", json_object_new_string(name));
	json_object_object_add(c, "version", json_object_new_int64(version));
	json_object_object_add(c, "schema", json_object_new_int(schema));
	err = tuf__canonical(c, &t->custom, NULL);
	json_object_put(c);
	if (!err) {
		t->bundle = strdup(name);
		t->bundle_version = version;
		t->schema = schema;
		if (!t->bundle)
			err = -ENOMEM;
	}
	return err;
}

int repo__add(const struct repo_opts *o, const char *bundle_dir, char *target, size_t size,
	      struct diag *d)
{
	struct bundle_manifest m = { 0 };
	struct tuf_target t = { 0 };
	struct tuf_err e;
	struct repo r;
	uint8_t *buf = NULL;
	size_t len = 0;
	char hex[65], *sig = NULL;
	int64_t held;
	struct stat st;
	int err;

	err = repo_open(&r, o, d);
	if (err)
		goto cleanup;
	err = bundle_manifest__read(&m, bundle_dir, d);
	if (err)
		goto cleanup;
	if (asprintf(&t.name, "%s-%lld" ARCHIVE_SUFFIX, m.name, (long long)m.version) < 0) {
		t.name = NULL;
		err = error(d, -ENOMEM, NULL, "out of memory");
		goto cleanup;
	}
	if (!tuf__valid_name(t.name)) {
		err = error(d, -EINVAL, bundle_dir, "bundle name \"%s\" cannot name a target "
			    "(letters, digits, '.', '_', '-', starting with a letter or digit)",
			    m.name);
		goto cleanup;
	}
	held = held_version(&r, m.name);
	if (m.version <= held) {
		err = error(d, -ESTALE, bundle_dir, "bundle %s version %lld is not above version "
			    "%lld, which the repository already holds: versions only go up",
			    m.name, (long long)m.version, (long long)held);
		goto cleanup;
	}
	sig = path2(bundle_dir, BUNDLE_SIGNATURE);
	if (sig && lstat(sig, &st))
		diag__add(d, DIAG_WARNING, bundle_dir, 0, 0, NULL, "the bundle is not signed "
			  "(ringward content sign): sensors that require signed content will "
			  "refuse it");
	err = archive__pack(bundle_dir, &buf, &len, &e);
	if (err) {
		tuf_error(d, err, &e);
		goto cleanup;
	}
	err = validate_archive(&r, buf, len, t.name, bundle_dir, d);
	if (err) {
		error(d, err, bundle_dir, "not added: the repository publishes only content that "
		      "every sensor schema in the fleet loads");
		goto cleanup;
	}
	err = bundle_custom(&t, m.name, m.version, m.schema);
	if (err) {
		error(d, err, NULL, "out of memory");
		goto cleanup;
	}
	err = write_target(&r, &t, buf, len, d);
	if (!err && (err = targets_put(&r.staged, &t)))
		error(d, err, NULL, "cannot stage: %s", strerror(-err));
	if (!err)
		err = write_staged(&r, d);
	if (err)
		goto cleanup;
	tuf__hex(t.sha256, 32, hex);
	diag__add(d, DIAG_NOTE, r.dir, 0, 0, NULL, "staged %s (%zu bytes, sha256 %s); "
		  "`ringward repo publish %s` makes it visible", t.name, len, hex, r.dir);
	if (target)
		snprintf(target, size, "%s", t.name);
cleanup:
	free(t.name);
	free(t.custom);
	free(t.bundle);
	free(sig);
	free(buf);
	bundle_manifest__free(&m);
	repo_close(&r);
	return err;
}

/* ---- publish ---- */

static int current_rollout_version(struct repo *r, int64_t *v, struct diag *d)
{
	const struct tuf_target *t = tuf_targets__find(&r->targets, ROLLOUT_TARGET);
	struct rollout_doc doc;
	struct tuf_err e;
	uint8_t *buf;
	size_t len;
	int err;

	*v = 0;
	if (!t)
		return 0;
	err = read_target(r, t, &buf, &len, d);
	if (err)
		return err;
	err = rollout__parse(&doc, ROLLOUT_TARGET, (const char *)buf, len, &e);
	if (!err)
		*v = doc.version;
	rollout__free(&doc);
	free(buf);
	return 0;	/* an unreadable old one does not block a new one */
}

static int stage_rollout(struct repo *r, const char *path, const struct tuf_targets *all,
			 struct diag *d)
{
	struct tuf_target t = { .name = (char *)ROLLOUT_TARGET };
	struct rollout_doc doc;
	struct tuf_err e;
	char *buf = NULL;
	size_t len;
	int64_t old;
	int err;

	err = bundle__read_file(path, ROLLOUT_MAX_LEN, &buf, &len);
	if (err)
		return error(d, err, path, "cannot read: %s", err == -EFBIG ?
			     "larger than the limit for a rollout document" : strerror(-err));
	err = rollout__parse(&doc, path, buf, len, &e);
	if (err) {
		tuf_error(d, err, &e);
		goto cleanup;
	}
	for (size_t i = 0; i < doc.n_releases; i++) {
		const struct rollout_release *rel = &doc.releases[i];
		const struct tuf_target *x = tuf_targets__find(all, rel->target);

		if (!x) {
			err = error(d, -ENOENT, path, "release %lld names target %s, which the "
				    "repository neither holds nor stages", (long long)rel->version,
				    rel->target);
		} else if (x->bundle && x->bundle_version != rel->version) {
			err = error(d, -EINVAL, path, "release %lld names target %s, which is bundle "
				    "%s version %lld", (long long)rel->version, rel->target,
				    x->bundle, (long long)x->bundle_version);
		}
	}
	if (err)
		goto cleanup;
	err = current_rollout_version(r, &old, d);
	if (!err && doc.version <= old)
		err = error(d, -ESTALE, path, "rollout version %lld is not above the published "
			    "version %lld", (long long)doc.version, (long long)old);
	if (!err)
		err = write_target(r, &t, (const uint8_t *)buf, len, d);
	if (!err && (err = targets_put(&r->staged, &t)))
		error(d, err, NULL, "cannot stage: %s", strerror(-err));
	if (!err)
		diag__add(d, DIAG_NOTE, r->dir, 0, 0, NULL, "rollout document version %lld: %zu "
			  "rings, %zu releases, %zu groups", (long long)doc.version, doc.n_rings,
			  doc.n_releases, doc.n_groups);
cleanup:
	rollout__free(&doc);
	free(buf);
	return err;
}

int repo__publish(const struct repo_opts *o, const char *rollout_path, struct diag *d)
{
	struct tuf_targets merged = { 0 };
	struct repo r;
	int err;

	err = repo_open(&r, o, d);
	if (err)
		goto cleanup;
	/* what was staged is validated again, from the very bytes served:
	 * the fleet's schemas may have changed since it was added */
	for (size_t i = 0; i < r.staged.n && !err; i++) {
		const struct tuf_target *t = &r.staged.v[i];
		uint8_t *buf;
		size_t len;
		char *shown;

		if (!t->bundle)
			continue;
		err = read_target(&r, t, &buf, &len, d);
		if (err)
			break;
		shown = target_file(&r, t);
		err = validate_archive(&r, buf, len, t->name, shown ? shown : t->name, d);
		if (err)
			error(d, err, shown, "not published: the repository publishes only content "
			      "that every sensor schema in the fleet loads");
		free(shown);
		free(buf);
	}
	for (size_t i = 0; !err && i < r.targets.n; i++)
		err = targets_put(&merged, &r.targets.v[i]);
	for (size_t i = 0; !err && i < r.staged.n; i++)
		err = targets_put(&merged, &r.staged.v[i]);
	if (err == -ENOMEM || err == -E2BIG)
		error(d, err, NULL, "%s", strerror(-err));
	if (!err && rollout_path) {
		err = stage_rollout(&r, rollout_path, &merged, d);
		if (!err)
			err = targets_put(&merged, tuf_targets__find(&r.staged, ROLLOUT_TARGET));
	}
	if (err)
		goto cleanup;
	err = publish_meta(&r, &merged, d);
	if (!err) {
		char *p = path2(r.kdir, REPO_STAGED);

		if (p)
			unlink(p);
		free(p);
	}
cleanup:
	tuf_targets__free(&merged);
	repo_close(&r);
	return err;
}

int repo__timestamp(const struct repo_opts *o, struct diag *d)
{
	struct signers all = { 0 };
	struct tuf_envelope env;
	struct repo r;
	uint8_t *sb = NULL;
	size_t sl = 0;
	char name[64];
	int err;

	err = repo_open(&r, o, d);
	if (err)
		goto cleanup;
	if (!r.snap_version) {
		err = error(d, -ENOENT, r.dir, "nothing published yet");
		goto cleanup;
	}
	snprintf(name, sizeof(name), "%lld.snapshot.json", (long long)r.snap_version);
	err = read_envelope(r.dir, name, TUF_MAX_TARGETS_LEN, &env, &sb, &sl, d);
	tuf_envelope__free(&env);
	if (!err)
		err = online_signers(&r, &all, d);
	if (!err)
		err = write_timestamp(&r, &all, r.snap_version, sb, sl, d);
	if (!err)
		diag__add(d, DIAG_NOTE, r.dir, 0, 0, NULL, "timestamp version %lld over snapshot "
			  "version %lld", (long long)r.ts_version, (long long)r.snap_version);
cleanup:
	signers_wipe(&all);
	free(sb);
	repo_close(&r);
	return err;
}

/* ---- root rotation ---- */

/* Move the key files of the keys no longer in root from dir to retired. */
static void retire_keys(const struct repo *r, const char *dir, const struct tuf_root *root)
{
	char *ret = path2(r->kdir, "retired");
	struct dirent *de;
	DIR *dh;

	if (!ret)
		return;
	dh = opendir(dir);
	mkdir(ret, 0700);
	while (dh && (de = readdir(dh))) {
		size_t n = strlen(de->d_name);
		const char *dash = strrchr(de->d_name, '-');
		bool keep = false;
		char *from, *to;

		if (n < 5 || !dash || (strcmp(de->d_name + n - 4, ".key") &&
				       strcmp(de->d_name + n - 4, ".pub")))
			continue;
		for (size_t k = 0; k < root->n_keys; k++)
			keep |= !strncmp(root->keys[k].id, dash + 1, 16);
		if (keep)
			continue;
		from = path2(dir, de->d_name);
		to = path2(ret, de->d_name);
		if (from && to)
			rename(from, to);
		free(from);
		free(to);
	}
	if (dh)
		closedir(dh);
	free(ret);
}

int repo__rotate_root(const struct repo_opts *o, const struct repo_rotate_opts *ro,
		      struct diag *d)
{
	struct signers *rootk = calloc(1, sizeof(*rootk)), *onl = calloc(1, sizeof(*onl));
	const struct tuf_signer *use[MAX_SIGNERS], *tmp[MAX_SIGNERS];
	struct tuf_signer *fresh = NULL;
	struct tuf_root nr = { 0 };
	struct tuf_targets cur = { 0 };
	struct repo r;
	uint8_t *rb = NULL;
	size_t rl = 0, n_use = 0, n;
	unsigned n_fresh = ro->n_new_keys;
	char name[64], *odir = NULL;
	int err;

	err = repo_open(&r, o, d);
	if (err)
		goto cleanup;
	odir = path2(r.kdir, "online");
	fresh = calloc(n_fresh + TUF_N_ROLES, sizeof(*fresh));
	if (!rootk || !onl || !odir || !fresh) {
		err = error(d, -ENOMEM, NULL, "out of memory");
		goto cleanup;
	}
	err = load_key_dir(rootk, r.rootkdir, d);
	if (!err)
		err = load_key_dir(onl, odir, d);
	if (err)
		goto cleanup;
	/* the new root: same keys, or fresh root keys; fresh online keys
	 * where asked */
	nr.version = r.root.version + 1;
	nr.expires = r.now + r.expires[TUF_ROOT];
	nr.consistent_snapshot = true;
	for (int role = 0; role < TUF_N_ROLES && !err; role++) {
		const struct tuf_role_keys *rk = &r.root.roles[role];
		bool renew = role == TUF_ROOT ? n_fresh > 0 : ro->rotate[role];

		if (!renew) {
			for (size_t i = 0; i < rk->n && !err; i++) {
				struct tuf_signer s = { 0 };

				memcpy(s.id, r.root.keys[rk->key_idx[i]].id, sizeof(s.id));
				memcpy(s.pk, r.root.keys[rk->key_idx[i]].pk, 32);
				err = root_add_key(&nr, (enum tuf_role)role, &s);
			}
			nr.roles[role].threshold = rk->threshold;
			continue;
		}
		for (unsigned i = 0; i < (role == TUF_ROOT ? n_fresh : 1) && !err; i++) {
			struct tuf_signer *s = &fresh[role == TUF_ROOT ? i : n_fresh + role];

			err = tuf_signer__generate(s);
			if (!err)
				err = root_add_key(&nr, (enum tuf_role)role, s);
		}
		nr.roles[role].threshold = role == TUF_ROOT ? rk->threshold : 1;
	}
	if (err) {
		error(d, err, NULL, "cannot make the new root: %s", strerror(-err));
		goto cleanup;
	}
	if (ro->threshold)
		nr.roles[TUF_ROOT].threshold = ro->threshold;
	if (nr.roles[TUF_ROOT].threshold < 1 ||
	    nr.roles[TUF_ROOT].threshold > nr.roles[TUF_ROOT].n) {
		err = error(d, -EINVAL, NULL, "threshold %u for %zu root keys: it must be from 1 to "
			    "the number of keys", nr.roles[TUF_ROOT].threshold,
			    nr.roles[TUF_ROOT].n);
		goto cleanup;
	}
	/* signers: old root keys at hand, then the new (fresh ones included);
	 * both thresholds checked before anything is written */
	err = pick(rootk, &r.root, TUF_ROOT, tmp, &n, r.rootkdir, d);
	if (err) {
		error(d, err, r.rootkdir, "a root rotation must be signed by a threshold of the "
		      "old root keys (--root-keys DIR)");
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++)
		use[n_use++] = tmp[i];
	for (unsigned i = 0; i < n_fresh; i++)
		if (n_use < MAX_SIGNERS)
			use[n_use++] = &fresh[i];
	for (size_t i = 0; i < rootk->n && n_use < MAX_SIGNERS; i++) {
		bool have = false;

		if (!role_has(&nr, TUF_ROOT, rootk->v[i].id))
			continue;
		for (size_t j = 0; j < n_use; j++)
			have |= !strcmp(use[j]->id, rootk->v[i].id);
		if (!have)
			use[n_use++] = &rootk->v[i];
	}
	n = 0;
	for (size_t i = 0; i < n_use; i++)
		n += role_has(&nr, TUF_ROOT, use[i]->id);
	if (n < nr.roles[TUF_ROOT].threshold) {
		err = error(d, -ENOKEY, r.rootkdir, "%zu of the %u keys of the new root needed to "
			    "sign it are here", n, nr.roles[TUF_ROOT].threshold);
		goto cleanup;
	}
	/* the fresh keys to disk first: a root naming keys nobody holds
	 * would lock the repository */
	for (unsigned i = 0; i < n_fresh + TUF_N_ROLES && !err; i++) {
		struct tuf_err e;
		char *prefix = NULL;
		int role = i < n_fresh ? TUF_ROOT : (int)(i - n_fresh);

		if (!fresh[i].id[0])
			continue;
		if (asprintf(&prefix, "%s/%s-%.16s", role == TUF_ROOT ? r.rootkdir : odir,
			     tuf_role__name((enum tuf_role)role), fresh[i].id) < 0) {
			err = error(d, -ENOMEM, NULL, "out of memory");
			break;
		}
		mkdir(role == TUF_ROOT ? r.rootkdir : odir, 0700);
		err = tuf_signer__write(&fresh[i], prefix, &e);
		if (err)
			tuf_error(d, err, &e);
		free(prefix);
	}
	if (err)
		goto cleanup;
	snprintf(name, sizeof(name), "%lld.root.json", (long long)nr.version);
	err = sign_write(&r, tuf_root__json(&nr), use, n_use, name, &rb, &rl, d);
	if (!err && (err = tuf__write_atomic(r.dir, "root.json", rb, rl, 0644)))
		error(d, err, r.dir, "cannot write root.json: %s", strerror(-err));
	if (err)
		goto cleanup;
	diag__add(d, DIAG_NOTE, r.dir, 0, 0, NULL, "root version %lld: %zu root keys, threshold "
		  "%u, signed by %zu keys", (long long)nr.version, nr.roles[TUF_ROOT].n,
		  nr.roles[TUF_ROOT].threshold, n_use);
	retire_keys(&r, r.rootkdir, &nr);
	retire_keys(&r, odir, &nr);
	if (!ro->rotate[TUF_TARGETS] && !ro->rotate[TUF_SNAPSHOT] && !ro->rotate[TUF_TIMESTAMP])
		goto cleanup;
	/* new online keys: everything they sign is published again */
	tuf_root__free(&r.root);
	r.root = nr;
	memset(&nr, 0, sizeof(nr));
	for (size_t i = 0; i < r.targets.n && !err; i++)
		err = targets_put(&cur, &r.targets.v[i]);
	if (!err)
		err = publish_meta(&r, &cur, d);
cleanup:
	if (rootk)
		signers_wipe(rootk);
	if (onl)
		signers_wipe(onl);
	if (fresh)
		sodium_memzero(fresh, (n_fresh + TUF_N_ROLES) * sizeof(*fresh));
	free(rootk);
	free(onl);
	free(fresh);
	free(odir);
	free(rb);
	tuf_root__free(&nr);
	tuf_targets__free(&cur);
	repo_close(&r);
	return err;
}

/* ---- reading what is published (the controller) ---- */

int repo__read_target(const struct repo_opts *o, const char *name, uint8_t **buf, size_t *len,
		      struct diag *d)
{
	const struct tuf_target *t;
	struct repo r;
	int err;

	*buf = NULL;
	*len = 0;
	err = repo_open(&r, o, d);
	if (err)
		goto cleanup;
	t = tuf_targets__find(&r.targets, name);
	if (!t) {
		err = error(d, -ENOENT, r.dir, "no published target %s (targets version %lld)", name,
			    (long long)r.targets_version);
		goto cleanup;
	}
	err = read_target(&r, t, buf, len, d);
cleanup:
	repo_close(&r);
	return err;
}
