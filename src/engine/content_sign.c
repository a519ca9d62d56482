/*
 * Ed25519 keys and bundle signatures (engine/content_sign.h).
 */
#include "engine/content_sign.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/bundle.h"

#define PUB_TAG		"ed25519"
#define SECRET_TAG	"ed25519-secret"
#define SIG_TAG		"ed25519"
#define B64_VARIANT	sodium_base64_VARIANT_ORIGINAL

void sign__key_id(const uint8_t pk[32], char *id)
{
	uint8_t h[32];

	crypto_hash_sha256(h, pk, 32);
	sodium_bin2hex(id, SIGN_KEY_ID_LEN + 1, h, SIGN_KEY_ID_LEN / 2);
}

static bool is_hex_id(const char *s, size_t n)
{
	if (n != SIGN_KEY_ID_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Exactly want bytes of base64 (with padding) in s[0..n) into out. */
static bool unb64(const char *s, size_t n, uint8_t *out, size_t want)
{
	size_t got = 0;
	const char *end = NULL;

	if (n != sodium_base64_ENCODED_LEN(want, B64_VARIANT) - 1)
		return false;
	if (sodium_base642bin(out, want, s, n, NULL, &got, &end, B64_VARIANT) != 0)
		return false;
	return got == want && end == s + n;
}

/*
 * Walk the lines of a key or signature file: each line that is not blank
 * or a comment must be "TAG ID BASE64" with single spaces. cb gets the id
 * and the base64 text; it returns 0 or an error message.
 */
typedef const char *(*line_fn)(void *ctx, const char *id, const char *b64, size_t b64len,
			       unsigned line);

static int each_line(const char *name, const char *buf, size_t len, const char *tag,
		     line_fn cb, void *ctx, struct diag *d)
{
	const char *p = buf, *end = buf + len;
	unsigned lineno = 0;
	int err = 0;

	if (memchr(buf, 0, len)) {
		diag__add(d, DIAG_ERROR, name, 0, 0, NULL, "a NUL byte in a key or signature file");
		return -EINVAL;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end, *sp1, *sp2, *why = NULL;
		size_t tl = strlen(tag);

		lineno++;
		if (le > p && le[-1] == '\r')
			le--;
		if (le == p || *p == '#')
			goto next;
		sp1 = memchr(p, ' ', (size_t)(le - p));
		sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(le - sp1 - 1)) : NULL;
		if (!sp1 || !sp2 || (size_t)(sp1 - p) != tl || memcmp(p, tag, tl)) {
			why = "expected '%s KEYID BASE64'";
		} else if (!is_hex_id(sp1 + 1, (size_t)(sp2 - sp1 - 1))) {
			why = "the key id must be 16 lower-case hex digits";
		} else {
			char id[SIGN_KEY_ID_LEN + 1];

			memcpy(id, sp1 + 1, SIGN_KEY_ID_LEN);
			id[SIGN_KEY_ID_LEN] = 0;
			why = cb(ctx, id, sp2 + 1, (size_t)(le - sp2 - 1), lineno);
		}
		if (why) {
			char msg[128];

			snprintf(msg, sizeof(msg), why, tag);
			diag__add(d, DIAG_ERROR, name, lineno, 1, NULL, "%s", msg);
			err = -EINVAL;
		}
next:
		p = nl ? nl + 1 : end;
	}
	return err;
}

/* ---- public keys ---- */

struct pub_ctx {
	uint8_t *pk;
	char *id;
	int n;
};

static const char *pub_line(void *vctx, const char *id, const char *b64, size_t n, unsigned line)
{
	struct pub_ctx *c = vctx;
	char want[SIGN_KEY_ID_LEN + 1];

	if (c->n++)
		return "a public key file holds one key";
	if (!unb64(b64, n, c->pk, 32))
		return "the public key must be 32 bytes in base64";
	sign__key_id(c->pk, want);
	if (strcmp(want, id))
		return "the key id does not match the key (the file is damaged)";
	memcpy(c->id, id, SIGN_KEY_ID_LEN + 1);
	return NULL;
}

int sign__read_public(const char *path, uint8_t pk[32], char *id, struct diag *d)
{
	struct pub_ctx c = { .pk = pk, .id = id };
	char *buf = NULL;
	size_t len;
	int err;

	if (sodium_init() < 0)
		return -ENOSYS;
	err = bundle__read_file(path, SIGN_MAX_FILE, &buf, &len);
	if (err) {
		diag__add(d, DIAG_ERROR, path, 0, 0, NULL, "cannot read public key: %s",
			  err == -EMLINK ? "a symbolic link" : err == -EINVAL ? "not a regular file" :
			  err == -EFBIG ? "larger than a key file" : strerror(-err));
		return err;
	}
	err = each_line(path, buf, len, PUB_TAG, pub_line, &c, d);
	if (!err && c.n == 0) {
		diag__add(d, DIAG_ERROR, path, 0, 0, NULL, "no public key in the file");
		err = -EINVAL;
	}
	free(buf);
	return err;
}

void sign_trust__free(struct sign_trust *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		free(t->keys[i].path);
	free(t->keys);
	memset(t, 0, sizeof(*t));
}

const struct sign_key *sign_trust__find(const struct sign_trust *t, const char *id)
{
	for (size_t i = 0; t && i < t->n; i++)
		if (!strcmp(t->keys[i].id, id))
			return &t->keys[i];
	return NULL;
}

/* Add the key in path; a bad file is a warning (the others still count). */
static int trust_add(struct sign_trust *t, const char *path, struct diag *d)
{
	struct diag local;
	struct sign_key k = { 0 };
	int err;

	diag__init(&local);
	err = sign__read_public(path, k.pk, k.id, &local);
	if (err) {
		char buf[1024];

		for (size_t i = 0; i < local.n; i++) {
			diag__format(&local.v[i], buf, sizeof(buf));
			diag__add(d, DIAG_WARNING, NULL, 0, 0, NULL, "trusted key skipped: %s", buf);
		}
		diag__free(&local);
		return err == -ENOMEM ? err : 0;
	}
	diag__free(&local);
	if (sign_trust__find(t, k.id))
		return 0;	/* the same key twice */
	if (t->n >= SIGN_MAX_KEYS) {
		diag__add(d, DIAG_WARNING, path, 0, 0, NULL, "more than %d trusted keys: skipped",
			  SIGN_MAX_KEYS);
		return 0;
	}
	if (!(t->n % 8)) {
		struct sign_key *v = realloc(t->keys, (t->n + 8) * sizeof(*v));

		if (!v)
			return -ENOMEM;
		t->keys = v;
	}
	k.path = strdup(path);
	if (!k.path)
		return -ENOMEM;
	t->keys[t->n++] = k;
	return 0;
}

static bool is_pub_name(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 4 && !strcmp(name + n - 4, ".pub");
}

static int trust_add_dir(struct sign_trust *t, const char *dir, struct diag *d)
{
	struct dirent **ents = NULL;
	int n = scandir(dir, &ents, NULL, alphasort), err = 0;

	if (n < 0) {
		diag__add(d, DIAG_WARNING, dir, 0, 0, NULL, "cannot read trusted keys directory: %s",
			  strerror(errno));
		return 0;
	}
	for (int i = 0; i < n; i++) {
		char *p = NULL;

		if (!err && is_pub_name(ents[i]->d_name)) {
			if (asprintf(&p, "%s/%s", dir, ents[i]->d_name) < 0)
				err = -ENOMEM;
			else
				err = trust_add(t, p, d);
			free(p);
		}
		free(ents[i]);
	}
	free(ents);
	return err;
}

int sign_trust__load(struct sign_trust *t, const char *const paths[], size_t n, struct diag *d)
{
	int err = 0;

	memset(t, 0, sizeof(*t));
	if (n == 0)
		return 0;
	t->required = true;
	if (sodium_init() < 0) {
		diag__add(d, DIAG_ERROR, NULL, 0, 0, NULL, "cannot initialise libsodium");
		return -ENOSYS;
	}
	for (size_t i = 0; i < n && !err; i++) {
		struct stat st;

		if (stat(paths[i], &st) == 0 && S_ISDIR(st.st_mode))
			err = trust_add_dir(t, paths[i], d);
		else
			err = trust_add(t, paths[i], d);
	}
	if (err) {
		diag__add(d, DIAG_ERROR, NULL, 0, 0, NULL, "out of memory");
		return err;
	}
	if (t->n == 0) {
		diag__add(d, DIAG_ERROR, paths[0], 0, 0, NULL, "signed content is required (trusted "
			  "keys are configured) but no usable public key was found: all content is "
			  "refused");
		return -ENOKEY;
	}
	return 0;
}

/* ---- key generation ---- */

int sign__keygen(const char *prefix, char *id_out, struct diag *d)
{
	uint8_t pk[32], sk[64];
	char b64[sodium_base64_ENCODED_LEN(64, B64_VARIANT)], id[SIGN_KEY_ID_LEN + 1];
	char *kpath = NULL, *ppath = NULL, *text = NULL;
	struct stat st;
	int err = 0, n;

	if (sodium_init() < 0)
		return -ENOSYS;
	if (asprintf(&kpath, "%s.key", prefix) < 0)
		kpath = NULL;
	if (asprintf(&ppath, "%s.pub", prefix) < 0)
		ppath = NULL;
	if (!kpath || !ppath) {
		err = -ENOMEM;
		goto cleanup;
	}
	/* refuse before generating anything: a key is never overwritten */
	if (lstat(kpath, &st) == 0 || lstat(ppath, &st) == 0) {
		diag__add(d, DIAG_ERROR, lstat(kpath, &st) == 0 ? kpath : ppath, 0, 0, NULL,
			  "exists: refusing to overwrite a key");
		err = -EEXIST;
		goto cleanup;
	}
	crypto_sign_keypair(pk, sk);
	sign__key_id(pk, id);
	sodium_bin2base64(b64, sizeof(b64), sk, sizeof(sk), B64_VARIANT);
	n = asprintf(&text, "# ringward content signing SECRET key (Ed25519), key id %s.\n"
		     "# Keep it off the hosts that run the sensor; whoever holds it can sign "
		     "content.\n" SECRET_TAG " %s %s\n", id, id, b64);
	sodium_memzero(b64, sizeof(b64));
	if (n < 0) {
		text = NULL;
		err = -ENOMEM;
		goto cleanup;
	}
	err = bundle__write_new(kpath, 0600, text, (size_t)n);
	sodium_memzero(text, (size_t)n);
	free(text);
	text = NULL;
	if (err) {
		diag__add(d, DIAG_ERROR, kpath, 0, 0, NULL, "cannot write: %s", strerror(-err));
		goto cleanup;
	}
	sodium_bin2base64(b64, sizeof(b64), pk, sizeof(pk), B64_VARIANT);
	n = asprintf(&text, "# ringward content signing public key (Ed25519), key id %s.\n"
		     "# Put it in " RW_TRUSTED_DIR "/ on the hosts that must trust it.\n"
		     PUB_TAG " %s %s\n", id, id, b64);
	if (n < 0) {
		text = NULL;
		err = -ENOMEM;
	} else {
		err = bundle__write_new(ppath, 0644, text, (size_t)n);
	}
	if (err) {
		diag__add(d, DIAG_ERROR, ppath, 0, 0, NULL, "cannot write: %s", strerror(-err));
		unlink(kpath);	/* half a key pair is no key pair */
		goto cleanup;
	}
	if (id_out)
		memcpy(id_out, id, sizeof(id));
cleanup:
	sodium_memzero(sk, sizeof(sk));
	free(text);
	free(kpath);
	free(ppath);
	return err;
}

/* ---- secret keys ---- */

struct sec_ctx {
	uint8_t *sk;
	char *id;
	int n;
};

static const char *sec_line(void *vctx, const char *id, const char *b64, size_t n, unsigned line)
{
	struct sec_ctx *c = vctx;
	uint8_t pk[32];
	char want[SIGN_KEY_ID_LEN + 1];

	if (c->n++)
		return "a secret key file holds one key";
	if (!unb64(b64, n, c->sk, 64))
		return "the secret key must be 64 bytes in base64";
	crypto_sign_ed25519_sk_to_pk(pk, c->sk);
	sign__key_id(pk, want);
	if (strcmp(want, id))
		return "the key id does not match the key (the file is damaged)";
	memcpy(c->id, id, SIGN_KEY_ID_LEN + 1);
	return NULL;
}

static int read_secret(const char *path, uint8_t sk[64], char *id, struct diag *d)
{
	struct sec_ctx c = { .sk = sk, .id = id };
	struct stat st;
	char *buf = NULL;
	size_t len;
	int err;

	if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077)) {
		diag__add(d, DIAG_ERROR, path, 0, 0, NULL, "secret key is accessible to group or "
			  "others (mode %04o): refusing to use it (chmod 600)",
			  (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	err = bundle__read_file(path, SIGN_MAX_FILE, &buf, &len);
	if (err) {
		diag__add(d, DIAG_ERROR, path, 0, 0, NULL, "cannot read secret key: %s",
			  err == -EMLINK ? "a symbolic link" : err == -EINVAL ? "not a regular file" :
			  err == -EFBIG ? "larger than a key file" : strerror(-err));
		return err;
	}
	err = each_line(path, buf, len, SECRET_TAG, sec_line, &c, d);
	if (!err && c.n == 0) {
		diag__add(d, DIAG_ERROR, path, 0, 0, NULL, "no secret key in the file");
		err = -EINVAL;
	}
	sodium_memzero(buf, len);
	free(buf);
	return err;
}

/* ---- signature files ---- */

static const char *sig_line(void *vctx, const char *id, const char *b64, size_t n, unsigned line)
{
	struct sign_file *sf = vctx;
	struct sign_entry *e;

	if (sf->n >= SIGN_MAX_SIGS)
		return "more than 16 signatures in one file";
	e = &sf->v[sf->n];
	if (!unb64(b64, n, e->sig, 64))
		return "the signature must be 64 bytes in base64";
	for (size_t i = 0; i < sf->n; i++)
		if (!strcmp(sf->v[i].id, id))
			return "a second signature by the same key";
	memcpy(e->id, id, SIGN_KEY_ID_LEN + 1);
	e->line = line;
	sf->n++;
	return NULL;
}

int sign_file__parse(struct sign_file *sf, const char *name, const char *buf, size_t len,
		     struct diag *d)
{
	int err;

	memset(sf, 0, sizeof(*sf));
	err = each_line(name, buf, len, SIG_TAG, sig_line, sf, d);
	if (!err && sf->n == 0) {
		diag__add(d, DIAG_ERROR, name, 0, 0, NULL, "no signature in the signature file");
		err = -EINVAL;
	}
	return err;
}

/* "a, b, c" of the trusted key ids, into buf. */
static void trusted_list(const struct sign_trust *t, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = 0;
	for (size_t i = 0; i < t->n && used + SIGN_KEY_ID_LEN + 8 < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "",
					 t->keys[i].id);
	if (used + SIGN_KEY_ID_LEN + 8 >= size && t->n)
		snprintf(buf + used, size - used, ", ...");
}

int sign__verify(const struct sign_trust *t, const char *manifest_path, const char *msg,
		 size_t len, const char *sig_path, const char *sigbuf, size_t siglen,
		 const struct sign_key **signer, struct diag *d)
{
	struct sign_file sf;
	struct diag local;
	const struct sign_entry *bad = NULL;
	char list[512];
	int err;

	if (signer)
		*signer = NULL;
	if (!sigbuf) {
		diag__add(d, DIAG_ERROR, manifest_path, 0, 0, NULL, "the bundle is not signed (no "
			  "%s) and content must be signed by a trusted key: refused, nothing in it "
			  "is parsed", BUNDLE_SIGNATURE);
		return -ENOKEY;
	}
	diag__init(&local);
	err = sign_file__parse(&sf, sig_path, sigbuf, siglen, &local);
	if (err) {
		diag__add(d, DIAG_ERROR, sig_path, 0, 0, NULL, "malformed signature file: "
			  "refused, nothing in the bundle is parsed");
		for (size_t i = 0; i < local.n; i++)
			diag__add(d, local.v[i].level, local.v[i].file, local.v[i].line,
				  local.v[i].col, NULL, "%s", local.v[i].text);
		diag__free(&local);
		return -EBADMSG;
	}
	diag__free(&local);
	for (size_t i = 0; i < sf.n; i++) {
		const struct sign_key *k = sign_trust__find(t, sf.v[i].id);

		if (!k)
			continue;
		if (crypto_sign_verify_detached(sf.v[i].sig, (const unsigned char *)msg, len,
						k->pk) == 0) {
			if (signer)
				*signer = k;
			return 0;
		}
		if (!bad)
			bad = &sf.v[i];
	}
	if (bad) {
		diag__add(d, DIAG_ERROR, sig_path, bad->line, 1, NULL, "signature by key %s does not "
			  "verify against %s (the manifest was changed after signing): refused, "
			  "nothing in the bundle is parsed", bad->id, manifest_path);
		return -EBADMSG;
	}
	trusted_list(t, list, sizeof(list));
	diag__add(d, DIAG_ERROR, sig_path, sf.v[0].line, 1, NULL, "signed by key %s%s, which is "
		  "not trusted (trusted: %s): refused, nothing in the bundle is parsed",
		  sf.v[0].id, sf.n > 1 ? " and others" : "", list);
	return -EKEYREJECTED;
}

/* ---- signing ---- */

int sign__bundle(const char *dir, const char *key_path, bool append, char *id_out,
		 struct diag *d)
{
	uint8_t sk[64];
	char id[SIGN_KEY_ID_LEN + 1], *mpath = NULL, *spath = NULL, *msg = NULL, *old = NULL;
	char b64[sodium_base64_ENCODED_LEN(64, B64_VARIANT)];
	struct sign_file sf = { 0 };
	struct sign_entry mine = { 0 };
	char *text = NULL;
	size_t len, oldlen = 0, used = 0, cap;
	int err;

	if (sodium_init() < 0)
		return -ENOSYS;
	err = read_secret(key_path, sk, id, d);
	if (err)
		goto cleanup;
	if (asprintf(&mpath, "%s/" BUNDLE_MANIFEST, dir) < 0)
		mpath = NULL;
	if (asprintf(&spath, "%s/" BUNDLE_SIGNATURE, dir) < 0)
		spath = NULL;
	if (!mpath || !spath) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = bundle__read_file(mpath, BUNDLE_MAX_MANIFEST, &msg, &len);
	if (err) {
		diag__add(d, DIAG_ERROR, mpath, 0, 0, NULL, "cannot read the manifest: %s",
			  err == -ENOENT ? "no manifest (make one with `ringward content manifest`)" :
			  strerror(-err));
		goto cleanup;
	}
	if (append && bundle__read_file(spath, SIGN_MAX_FILE, &old, &oldlen) == 0) {
		err = sign_file__parse(&sf, spath, old, oldlen, d);
		if (err)
			goto cleanup;
	}
	crypto_sign_detached(mine.sig, NULL, (const unsigned char *)msg, len, sk);
	memcpy(mine.id, id, sizeof(id));
	cap = 256 + (SIGN_MAX_SIGS + 1) * 128;
	text = malloc(cap);
	if (!text) {
		err = -ENOMEM;
		goto cleanup;
	}
	used = (size_t)snprintf(text, cap, "# ringward bundle signature: Ed25519 over the exact "
				"bytes of " BUNDLE_MANIFEST ",\n# which lists the sha256 of every "
				"file of the bundle.\n");
	{
		size_t keep = 0;

		for (size_t i = 0; i < sf.n; i++)
			keep += strcmp(sf.v[i].id, id) != 0;
		if (keep + 1 > SIGN_MAX_SIGS) {
			diag__add(d, DIAG_ERROR, spath, 0, 0, NULL, "already %d signatures by "
				  "other keys: cannot add one", SIGN_MAX_SIGS);
			err = -E2BIG;
			goto cleanup;
		}
	}
	for (size_t i = 0; i <= sf.n; i++) {
		const struct sign_entry *e = i < sf.n ? &sf.v[i] : &mine;

		if (i < sf.n && !strcmp(e->id, id))
			continue;	/* replaced by the new signature */
		sodium_bin2base64(b64, sizeof(b64), e->sig, sizeof(e->sig), B64_VARIANT);
		used += (size_t)snprintf(text + used, cap - used, SIG_TAG " %s %s\n", e->id, b64);
	}
	err = bundle__write_file_atomic(dir, BUNDLE_SIGNATURE, text, used, 0644, d);
	if (!err && id_out)
		memcpy(id_out, id, sizeof(id));
cleanup:
	sodium_memzero(sk, sizeof(sk));
	if (err == -ENOMEM)
		diag__add(d, DIAG_ERROR, dir, 0, 0, NULL, "out of memory");
	free(text);
	free(msg);
	free(old);
	free(mpath);
	free(spath);
	return err;
}
