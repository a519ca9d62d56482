/*
 * TUF metadata, canonical JSON, Ed25519 signatures and the client's
 * verification (update/tuf.h).
 */
#include "update/tuf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/bundle.h"

#define fail tuf_err__set	/* the update/ modules' one way to refuse (tuf.h) */

#define CANON_INT_MAX	((int64_t)1 << 53)

static const char *const role_names[TUF_N_ROLES] = {
	[TUF_ROOT] = "root",
	[TUF_TARGETS] = "targets",
	[TUF_SNAPSHOT] = "snapshot",
	[TUF_TIMESTAMP] = "timestamp",
};

const char *tuf_role__name(enum tuf_role r)
{
	return (unsigned)r < TUF_N_ROLES ? role_names[r] : "?";
}

int tuf_err__set(struct tuf_err *e, int err, const char *fmt, ...)
{
	va_list ap;

	if (e) {
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
	}
	return err;
}

/* Append to the message already in e. */
static void append(struct tuf_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void append(struct tuf_err *e, const char *fmt, ...)
{
	size_t n;
	va_list ap;

	if (!e)
		return;
	n = strnlen(e->msg, sizeof(e->msg));
	if (n + 1 >= sizeof(e->msg))
		return;
	va_start(ap, fmt);
	vsnprintf(e->msg + n, sizeof(e->msg) - n, fmt, ap);
	va_end(ap);
}

static void fmt_time(int64_t t, char *buf, size_t size)
{
	bundle__format_time(t, buf, size);
}

void tuf__hex(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;	/* lower case only: one spelling per value */
}

bool tuf__unhex(const char *s, size_t slen, uint8_t *out, size_t n)
{
	if (slen != 2 * n)
		return false;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* ---- canonical JSON ---- */

struct sbuf {
	char *p;
	size_t n, cap;
	int err;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->n + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->err = -ENOMEM;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void sb_str(struct sbuf *b, const char *s, size_t n)
{
	size_t from = 0;

	sb_put(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '"' && s[i] != '\\')
			continue;
		sb_put(b, s + from, i - from);
		sb_put(b, "\\", 1);
		from = i;
	}
	sb_put(b, s + from, n - from);
	sb_put(b, "\"", 1);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void canon(struct sbuf *b, json_object *o, int depth)
{
	char num[32];

	if (b->err)
		return;
	if (depth > TUF_MAX_DEPTH) {
		b->err = -EINVAL;
		return;
	}
	switch (json_object_get_type(o)) {
	case json_type_null:
		sb_put(b, "null", 4);
		break;
	case json_type_boolean:
		if (json_object_get_boolean(o))
			sb_put(b, "true", 4);
		else
			sb_put(b, "false", 5);
		break;
	case json_type_int: {
		int64_t v = json_object_get_int64(o);

		if (v >= CANON_INT_MAX || v <= -CANON_INT_MAX) {
			b->err = -EINVAL;
			return;
		}
		snprintf(num, sizeof(num), "%lld", (long long)v);
		sb_put(b, num, strlen(num));
		break;
	}
	case json_type_string:
		sb_str(b, json_object_get_string(o), (size_t)json_object_get_string_len(o));
		break;
	case json_type_array: {
		size_t n = json_object_array_length(o);

		sb_put(b, "[", 1);
		for (size_t i = 0; i < n; i++) {
			if (i)
				sb_put(b, ",", 1);
			canon(b, json_object_array_get_idx(o, i), depth + 1);
		}
		sb_put(b, "]", 1);
		break;
	}
	case json_type_object: {
		size_t n = (size_t)json_object_object_length(o), i = 0;
		const char **keys = n ? calloc(n, sizeof(*keys)) : NULL;

		if (n && !keys) {
			b->err = -ENOMEM;
			return;
		}
		json_object_object_foreach(o, k, v) {
			(void)v;
			if (i < n)
				keys[i++] = k;
		}
		if (i > 1)
			qsort(keys, i, sizeof(*keys), cmp_str);
		sb_put(b, "{", 1);
		for (size_t j = 0; j < i; j++) {
			json_object *v = NULL;

			if (j)
				sb_put(b, ",", 1);
			sb_str(b, keys[j], strlen(keys[j]));
			sb_put(b, ":", 1);
			json_object_object_get_ex(o, keys[j], &v);
			canon(b, v, depth + 1);
		}
		sb_put(b, "}", 1);
		free(keys);
		break;
	}
	default:	/* doubles: TUF's canonical JSON has none */
		b->err = -EINVAL;
		break;
	}
}

int tuf__canonical(json_object *o, char **out, size_t *len)
{
	struct sbuf b = { 0 };

	canon(&b, o, 0);
	if (!b.err && !b.p)
		sb_put(&b, "", 0);
	if (b.err) {
		free(b.p);
		*out = NULL;
		return b.err;
	}
	*out = b.p;
	if (len)
		*len = b.n;
	return 0;
}

/* ---- keys ---- */

json_object *tuf_key__json(const uint8_t pk[32])
{
	json_object *k = json_object_new_object(), *kv = json_object_new_object();
	char hex[65];

	if (!k || !kv) {
		json_object_put(k);
		json_object_put(kv);
		return NULL;
	}
	tuf__hex(pk, 32, hex);
	json_object_object_add(kv, "public", json_object_new_string(hex));
	json_object_object_add(k, "keytype", json_object_new_string("ed25519"));
	json_object_object_add(k, "keyval", kv);
	json_object_object_add(k, "scheme", json_object_new_string("ed25519"));
	return k;
}

static int key_id_of(json_object *key, char *id)
{
	uint8_t h[32];
	char *c;
	size_t n;
	int err = tuf__canonical(key, &c, &n);

	if (err)
		return err;
	crypto_hash_sha256(h, (const uint8_t *)c, n);
	tuf__hex(h, 32, id);
	free(c);
	return 0;
}

void tuf_key__id(const uint8_t pk[32], char *id)
{
	json_object *k = tuf_key__json(pk);

	if (!k || key_id_of(k, id))
		id[0] = '\0';
	json_object_put(k);
}

int tuf_signer__generate(struct tuf_signer *s)
{
	if (sodium_init() < 0)
		return -ENOSYS;
	crypto_sign_keypair(s->pk, s->sk);
	tuf_key__id(s->pk, s->id);
	return s->id[0] ? 0 : -ENOMEM;
}

void tuf_signer__wipe(struct tuf_signer *s)
{
	sodium_memzero(s->sk, sizeof(s->sk));
}

static char *key_file_text(const struct tuf_signer *s, bool secret)
{
	json_object *k = json_object_new_object(), *kv = json_object_new_object();
	char pub[65], sec[129];
	char *out = NULL;

	if (!k || !kv) {
		json_object_put(k);
		json_object_put(kv);
		return NULL;
	}
	tuf__hex(s->pk, 32, pub);
	json_object_object_add(kv, "public", json_object_new_string(pub));
	if (secret) {
		tuf__hex(s->sk, 64, sec);
		json_object_object_add(kv, "private", json_object_new_string(sec));
		sodium_memzero(sec, sizeof(sec));
	}
	json_object_object_add(k, "keytype", json_object_new_string("ed25519"));
	json_object_object_add(k, "scheme", json_object_new_string("ed25519"));
	json_object_object_add(k, "keyid", json_object_new_string(s->id));
	json_object_object_add(k, "keyval", kv);
	if (asprintf(&out, "%s\n", json_object_to_json_string_ext(k, JSON_C_TO_STRING_PRETTY |
			JSON_C_TO_STRING_NOSLASHESCAPE)) < 0)
		out = NULL;
	if (secret) {
		/* json-c keeps its own copy of the text: wipe it too */
		json_object *pv = NULL;

		if (json_object_object_get_ex(kv, "private", &pv))
			sodium_memzero((char *)json_object_get_string(pv),
				       (size_t)json_object_get_string_len(pv));
		const char *t = json_object_to_json_string_ext(k, JSON_C_TO_STRING_PRETTY |
				JSON_C_TO_STRING_NOSLASHESCAPE);
		sodium_memzero((char *)t, strlen(t));
	}
	json_object_put(k);
	return out;
}

int tuf_signer__write(const struct tuf_signer *s, const char *prefix, struct tuf_err *e)
{
	char *kpath = NULL, *ppath = NULL, *text = NULL;
	struct stat st;
	int err = 0;

	if (asprintf(&kpath, "%s.key", prefix) < 0)
		kpath = NULL;
	if (asprintf(&ppath, "%s.pub", prefix) < 0)
		ppath = NULL;
	if (!kpath || !ppath) {
		err = fail(e, -ENOMEM, "%s: out of memory", prefix);
		goto cleanup;
	}
	if (lstat(kpath, &st) == 0 || lstat(ppath, &st) == 0) {
		err = fail(e, -EEXIST, "%s: exists: refusing to overwrite a key",
			   lstat(kpath, &st) == 0 ? kpath : ppath);
		goto cleanup;
	}
	text = key_file_text(s, true);
	if (!text) {
		err = fail(e, -ENOMEM, "%s: out of memory", kpath);
		goto cleanup;
	}
	err = bundle__write_new(kpath, 0600, text, strlen(text));
	sodium_memzero(text, strlen(text));
	free(text);
	text = NULL;
	if (err) {
		fail(e, err, "%s: cannot write: %s", kpath, strerror(-err));
		goto cleanup;
	}
	text = key_file_text(s, false);
	err = text ? bundle__write_new(ppath, 0644, text, strlen(text)) : -ENOMEM;
	if (err) {
		fail(e, err, "%s: cannot write: %s", ppath, strerror(-err));
		unlink(kpath);	/* half a key pair is no key pair */
	}
cleanup:
	free(text);
	free(kpath);
	free(ppath);
	return err;
}

/* Parse buf as one JSON document (strict, bounded depth, nothing after
 * it but white space). NULL with the message in e. */
json_object *tuf__parse_json(const char *name, const uint8_t *buf, size_t len,
			     struct tuf_err *e)
{
	struct json_tokener *tok;
	enum json_tokener_error jerr;
	json_object *o;
	size_t end;

	if (len > INT_MAX || len > (size_t)TUF_MAX_TARGETS_LEN) {
		fail(e, -EFBIG, "%s: too large to parse", name);
		return NULL;
	}
	if (len == 0) {
		fail(e, -EINVAL, "%s: empty", name);
		return NULL;
	}
	if (memchr(buf, '\0', len)) {
		fail(e, -EINVAL, "%s: not JSON: a NUL byte at offset %zu", name,
		     (size_t)((const uint8_t *)memchr(buf, '\0', len) - buf));
		return NULL;
	}
	tok = json_tokener_new_ex(TUF_MAX_DEPTH + 1);
	if (!tok) {
		fail(e, -ENOMEM, "%s: out of memory", name);
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, (const char *)buf, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!o || jerr != json_tokener_success) {
		json_object_put(o);
		fail(e, -EINVAL, "%s: not JSON: %s at offset %zu", name,
		     jerr == json_tokener_continue ? "truncated" : json_tokener_error_desc(jerr),
		     end);
		return NULL;
	}
	for (size_t i = end; i < len; i++) {
		if (buf[i] != ' ' && buf[i] != '\n' && buf[i] != '\t' && buf[i] != '\r') {
			json_object_put(o);
			fail(e, -EINVAL, "%s: not JSON: trailing data at offset %zu", name, i);
			return NULL;
		}
	}
	return o;
}

static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

/* A string member that holds no NUL; NULL otherwise. */
static const char *get_str(json_object *o, const char *key, size_t *len)
{
	json_object *v = get(o, key);
	const char *s;
	size_t n;

	if (!json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (strlen(s) != n)
		return NULL;
	if (len)
		*len = n;
	return s;
}

/* An integer member in [min, max]. */
static bool get_int(json_object *o, const char *key, int64_t min, int64_t max, int64_t *out)
{
	json_object *v = get(o, key);
	int64_t x;

	if (!json_object_is_type(v, json_type_int))
		return false;
	x = json_object_get_int64(v);
	if (x < min || x > max || x >= CANON_INT_MAX || x <= -CANON_INT_MAX)
		return false;
	*out = x;
	return true;
}

static int read_key_file(const char *path, json_object **out, bool secret, struct tuf_err *e)
{
	struct stat st;
	char *buf = NULL;
	size_t len;
	int err;

	if (secret && lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077))
		return fail(e, -EPERM, "%s: secret key is accessible to group or others (mode "
			    "%04o): refusing to use it (chmod 600)", path,
			    (unsigned)(st.st_mode & 07777));
	err = bundle__read_file(path, 65536, &buf, &len);
	if (err)
		return fail(e, err, "%s: cannot read key: %s", path,
			    err == -EMLINK ? "a symbolic link" : strerror(-err));
	*out = tuf__parse_json(path, (const uint8_t *)buf, len, e);
	if (secret)
		sodium_memzero(buf, len);
	free(buf);
	return *out ? 0 : -EINVAL;
}

static int key_public(json_object *k, const char *path, uint8_t pk[32], char *id,
		      struct tuf_err *e)
{
	const char *t = get_str(k, "keytype", NULL), *sc = get_str(k, "scheme", NULL);
	const char *pub, *kid;
	size_t n, kn;

	if (!t || strcmp(t, "ed25519") || !sc || strcmp(sc, "ed25519"))
		return fail(e, -EINVAL, "%s: not an ed25519 key", path);
	pub = get_str(get(k, "keyval"), "public", &n);
	if (!pub || !tuf__unhex(pub, n, pk, 32))
		return fail(e, -EINVAL, "%s: keyval.public must be 32 bytes in lower-case hex",
			    path);
	tuf_key__id(pk, id);
	kid = get_str(k, "keyid", &kn);
	if (kid && (kn != TUF_KEYID_LEN || strcmp(kid, id)))
		return fail(e, -EINVAL, "%s: the key id does not match the key (the file is "
			    "damaged)", path);
	return 0;
}

int tuf_key__read(struct tuf_key *k, const char *path, struct tuf_err *e)
{
	json_object *o = NULL;
	int err = read_key_file(path, &o, false, e);

	if (!err)
		err = key_public(o, path, k->pk, k->id, e);
	json_object_put(o);
	return err;
}

int tuf_signer__read(struct tuf_signer *s, const char *path, struct tuf_err *e)
{
	json_object *o = NULL, *pv;
	uint8_t pk[32];
	const char *sec;
	size_t n;
	int err;

	if (sodium_init() < 0)
		return fail(e, -ENOSYS, "libsodium would not start");
	err = read_key_file(path, &o, true, e);
	if (err)
		return err;
	err = key_public(o, path, s->pk, s->id, e);
	if (err)
		goto cleanup;
	pv = get(get(o, "keyval"), "private");
	sec = get_str(get(o, "keyval"), "private", &n);
	if (!sec || !tuf__unhex(sec, n, s->sk, 64)) {
		err = fail(e, -EINVAL, "%s: keyval.private must be 64 bytes in lower-case hex",
			   path);
		goto cleanup;
	}
	crypto_sign_ed25519_sk_to_pk(pk, s->sk);
	if (memcmp(pk, s->pk, 32)) {
		err = fail(e, -EINVAL, "%s: the secret key does not match its public key (the "
			   "file is damaged)", path);
		goto cleanup;
	}
	sodium_memzero((char *)json_object_get_string(pv), n);
cleanup:
	if (err)
		tuf_signer__wipe(s);
	json_object_put(o);
	return err;
}

int tuf__sign(json_object *body, const struct tuf_signer *const *signers, size_t n,
	      char **out, size_t *len, struct tuf_err *e)
{
	json_object *env = NULL, *sigs = NULL;
	char *c = NULL;
	size_t clen;
	int err;

	*out = NULL;
	if (sodium_init() < 0)
		return fail(e, -ENOSYS, "libsodium would not start");
	if (n > TUF_MAX_SIGS)
		return fail(e, -E2BIG, "more than %d signatures", TUF_MAX_SIGS);
	err = tuf__canonical(body, &c, &clen);
	if (err)
		return fail(e, err, "metadata cannot be written as canonical JSON (floats or "
			    "integers beyond 2^53?)");
	env = json_object_new_object();
	sigs = json_object_new_array();
	if (!env || !sigs) {
		json_object_put(sigs);
		err = fail(e, -ENOMEM, "out of memory");
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *s = json_object_new_object();
		uint8_t sig[64];
		char hex[129];

		crypto_sign_detached(sig, NULL, (const uint8_t *)c, clen, signers[i]->sk);
		tuf__hex(sig, 64, hex);
		json_object_object_add(s, "keyid", json_object_new_string(signers[i]->id));
		json_object_object_add(s, "sig", json_object_new_string(hex));
		json_object_array_add(sigs, s);
	}
	json_object_object_add(env, "signatures", sigs);
	json_object_object_add(env, "signed", json_object_get(body));
	if (asprintf(out, "%s\n", json_object_to_json_string_ext(env, JSON_C_TO_STRING_PRETTY |
			JSON_C_TO_STRING_NOSLASHESCAPE)) < 0) {
		*out = NULL;
		err = fail(e, -ENOMEM, "out of memory");
		goto cleanup;
	}
	if (len)
		*len = strlen(*out);
cleanup:
	json_object_put(env);
	free(c);
	return err;
}

/* ---- envelopes ---- */

int tuf_envelope__parse(struct tuf_envelope *env, const char *name, const uint8_t *buf,
			size_t len, struct tuf_err *e)
{
	json_object *sigs;
	size_t n;
	int err;

	memset(env, 0, sizeof(*env));
	env->doc = tuf__parse_json(name, buf, len, e);
	if (!env->doc)
		return -EINVAL;
	if (!json_object_is_type(env->doc, json_type_object) ||
	    json_object_object_length(env->doc) != 2)
		return fail(e, -EINVAL, "%s: must be an object with exactly \"signatures\" and "
			    "\"signed\"", name);
	sigs = get(env->doc, "signatures");
	env->body = get(env->doc, "signed");
	if (!json_object_is_type(sigs, json_type_array) ||
	    !json_object_is_type(env->body, json_type_object))
		return fail(e, -EINVAL, "%s: must be an object with exactly \"signatures\" (an "
			    "array) and \"signed\" (an object)", name);
	n = json_object_array_length(sigs);
	if (n > TUF_MAX_SIGS)
		return fail(e, -EINVAL, "%s: %zu signatures, more than the limit of %d", name, n,
			    TUF_MAX_SIGS);
	for (size_t i = 0; i < n; i++) {
		json_object *s = json_object_array_get_idx(sigs, i);
		const char *kid, *sig;
		size_t kl = 0, sl = 0;

		kid = get_str(s, "keyid", &kl);
		sig = get_str(s, "sig", &sl);
		if (!kid || !sig || json_object_object_length(s) != 2 ||
		    kl != TUF_KEYID_LEN || !tuf__unhex(sig, sl, env->sigs[i].sig, 64))
			return fail(e, -EINVAL, "%s: signatures[%zu] must be {\"keyid\": 64 hex "
				    "digits, \"sig\": 128 hex digits}", name, i);
		memcpy(env->sigs[i].keyid, kid, TUF_KEYID_LEN + 1);
		env->n_sigs++;
	}
	err = tuf__canonical(env->body, &env->canon, &env->canon_len);
	if (err)
		return fail(e, -EINVAL, "%s: \"signed\" has no canonical form (a float, an "
			    "integer beyond 2^53, or nesting deeper than %d)", name,
			    TUF_MAX_DEPTH);
	return 0;
}

void tuf_envelope__free(struct tuf_envelope *env)
{
	if (!env)
		return;
	json_object_put(env->doc);
	free(env->canon);
	memset(env, 0, sizeof(*env));
}

int tuf__verify_role(const struct tuf_root *root, enum tuf_role role,
		     const struct tuf_envelope *env, const char *name, const char *whose,
		     struct tuf_err *e)
{
	const struct tuf_role_keys *rk = &root->roles[role];
	bool counted[TUF_MAX_KEYS] = { false };
	size_t n_foreign = 0, n_bad = 0;
	const char *foreign = NULL;
	unsigned valid = 0;

	if (sodium_init() < 0)
		return fail(e, -ENOSYS, "libsodium would not start");
	for (size_t i = 0; i < env->n_sigs; i++) {
		const struct tuf_sig *s = &env->sigs[i];
		size_t j;

		for (j = 0; j < rk->n; j++)
			if (!strcmp(root->keys[rk->key_idx[j]].id, s->keyid))
				break;
		if (j == rk->n) {
			if (!n_foreign++)
				foreign = s->keyid;
			continue;
		}
		if (j >= TUF_MAX_KEYS || counted[j])
			continue;	/* a key counts once, however often it signs */
		if (crypto_sign_verify_detached(s->sig, (const uint8_t *)env->canon,
						env->canon_len, root->keys[rk->key_idx[j]].pk)) {
			n_bad++;
			continue;
		}
		counted[j] = true;
		valid++;
	}
	if (valid >= rk->threshold && rk->threshold >= 1)
		return 0;
	fail(e, -EKEYREJECTED, "%s: %u valid signature%s by %s keys of %s, below the "
	     "threshold of %u", name, valid, valid == 1 ? "" : "s", role_names[role], whose,
	     rk->threshold);
	if (n_bad)
		append(e, "; %zu signature%s by %s keys do%s not verify (changed after signing)",
		       n_bad, n_bad == 1 ? "" : "s", role_names[role], n_bad == 1 ? "es" : "");
	if (n_foreign)
		append(e, n_foreign == 1 ? "; %zu signature by a key that is not a %s key of %s "
		       "(%.16s)" : "; %zu signatures by keys that are not %s keys of %s (e.g. "
		       "%.16s)", n_foreign, role_names[role], whose, foreign);
	return -EKEYREJECTED;
}

/* ---- bodies ---- */

static int parse_common(json_object *b, const char *name, enum tuf_role role, int64_t *version,
			int64_t *expires, struct tuf_err *e)
{
	const char *t = get_str(b, "_type", NULL), *sv = get_str(b, "spec_version", NULL);
	const char *ex;
	size_t n;

	if (!t || strcmp(t, role_names[role]))
		return fail(e, -EINVAL, "%s: \"_type\" is %s%s%s, expected \"%s\"", name,
			    t ? "\"" : "", t ? t : "missing", t ? "\"" : "", role_names[role]);
	if (!sv || strncmp(sv, "1.", 2))
		return fail(e, -EINVAL, "%s: \"spec_version\" must be a 1.x version", name);
	if (!get_int(b, "version", 1, CANON_INT_MAX - 1, version))
		return fail(e, -EINVAL, "%s: \"version\" must be an integer >= 1", name);
	ex = get_str(b, "expires", &n);
	if (!ex || bundle__parse_time(ex, n, expires))
		return fail(e, -EINVAL, "%s: \"expires\" must be a time like "
			    "2030-01-01T00:00:00Z (UTC)", name);
	return 0;
}

static int parse_ref(json_object *m, const char *name, const char *what, int64_t max_len,
		     struct tuf_meta_ref *r, struct tuf_err *e)
{
	json_object *h;
	const char *hex;
	size_t n;

	memset(r, 0, sizeof(*r));
	if (!json_object_is_type(m, json_type_object))
		return fail(e, -EINVAL, "%s: meta must list \"%s\"", name, what);
	if (!get_int(m, "version", 1, CANON_INT_MAX - 1, &r->version))
		return fail(e, -EINVAL, "%s: meta.%s.version must be an integer >= 1", name, what);
	if (get(m, "length") && !get_int(m, "length", 1, max_len, &r->length))
		return fail(e, -EINVAL, "%s: meta.%s.length must be an integer from 1 to %lld",
			    name, what, (long long)max_len);
	h = get(m, "hashes");
	if (h) {
		hex = get_str(h, "sha256", &n);
		if (!hex || !tuf__unhex(hex, n, r->sha256, 32))
			return fail(e, -EINVAL, "%s: meta.%s.hashes.sha256 must be 64 lower-case hex "
				    "digits", name, what);
		r->has_sha256 = true;
	}
	return 0;
}

int tuf_snapshot__parse(struct tuf_snapshot *s, const char *name,
			const struct tuf_envelope *env, struct tuf_err *e)
{
	int err;

	memset(s, 0, sizeof(*s));
	err = parse_common(env->body, name, TUF_SNAPSHOT, &s->version, &s->expires, e);
	if (err)
		return err;
	return parse_ref(get(get(env->body, "meta"), "targets.json"), name, "targets.json",
			 TUF_MAX_TARGETS_LEN, &s->targets, e);
}

int tuf_timestamp__parse(struct tuf_timestamp *t, const char *name,
			 const struct tuf_envelope *env, struct tuf_err *e)
{
	json_object *meta;
	int err;

	memset(t, 0, sizeof(*t));
	err = parse_common(env->body, name, TUF_TIMESTAMP, &t->version, &t->expires, e);
	if (err)
		return err;
	meta = get(env->body, "meta");
	if (!json_object_is_type(meta, json_type_object) || json_object_object_length(meta) != 1)
		return fail(e, -EINVAL, "%s: meta must list exactly \"snapshot.json\"", name);
	return parse_ref(get(meta, "snapshot.json"), name, "snapshot.json", TUF_MAX_TARGETS_LEN,
			 &t->snapshot, e);
}

void tuf_root__free(struct tuf_root *r)
{
	if (!r)
		return;
	for (int i = 0; i < TUF_N_ROLES; i++)
		free(r->roles[i].key_idx);
	free(r->keys);
	memset(r, 0, sizeof(*r));
}

static int parse_keys(struct tuf_root *r, json_object *keys, const char *name,
		      struct tuf_err *e)
{
	size_t n;

	if (!json_object_is_type(keys, json_type_object))
		return fail(e, -EINVAL, "%s: \"keys\" must be an object", name);
	n = (size_t)json_object_object_length(keys);
	if (n > TUF_MAX_KEYS)
		return fail(e, -EINVAL, "%s: %zu keys, more than the limit of %d", name, n,
			    TUF_MAX_KEYS);
	r->keys = calloc(n ? n : 1, sizeof(*r->keys));
	if (!r->keys)
		return fail(e, -ENOMEM, "%s: out of memory", name);
	json_object_object_foreach(keys, kid, k) {
		struct tuf_key *key = &r->keys[r->n_keys];
		const char *t = get_str(k, "keytype", NULL), *sc = get_str(k, "scheme", NULL);
		const char *pub;
		char want[TUF_KEYID_LEN + 1];
		size_t pl;

		if (r->n_keys >= n)
			break;
		if (!t || strcmp(t, "ed25519") || !sc || strcmp(sc, "ed25519"))
			return fail(e, -EINVAL, "%s: key %.16s: only ed25519 keys are supported",
				    name, kid);
		pub = get_str(get(k, "keyval"), "public", &pl);
		if (!pub || !tuf__unhex(pub, pl, key->pk, 32))
			return fail(e, -EINVAL, "%s: key %.16s: keyval.public must be 32 bytes in "
				    "lower-case hex", name, kid);
		if (key_id_of(k, want))
			return fail(e, -EINVAL, "%s: key %.16s has no canonical form", name, kid);
		if (strcmp(want, kid))
			return fail(e, -EINVAL, "%s: key id %.16s is not the sha256 of its key (%.16s)",
				    name, kid, want);
		memcpy(key->id, want, sizeof(key->id));
		r->n_keys++;
	}
	return 0;
}

static int parse_role(struct tuf_root *r, json_object *roles, enum tuf_role role,
		      const char *name, struct tuf_err *e)
{
	json_object *ro = get(roles, role_names[role]), *ids = get(ro, "keyids");
	struct tuf_role_keys *rk = &r->roles[role];
	int64_t th;
	size_t n;

	if (!json_object_is_type(ro, json_type_object))
		return fail(e, -EINVAL, "%s: roles.%s is missing", name, role_names[role]);
	if (!json_object_is_type(ids, json_type_array))
		return fail(e, -EINVAL, "%s: roles.%s.keyids must be an array", name,
			    role_names[role]);
	n = json_object_array_length(ids);
	if (n > TUF_MAX_KEYS)
		return fail(e, -EINVAL, "%s: roles.%s lists more than %d keys", name,
			    role_names[role], TUF_MAX_KEYS);
	rk->key_idx = calloc(n ? n : 1, sizeof(*rk->key_idx));
	if (!rk->key_idx)
		return fail(e, -ENOMEM, "%s: out of memory", name);
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(ids, i);
		const char *id = json_object_is_type(v, json_type_string) ?
				 json_object_get_string(v) : "";
		size_t k;

		for (k = 0; k < r->n_keys; k++)
			if (!strcmp(r->keys[k].id, id))
				break;
		if (k == r->n_keys)
			return fail(e, -EINVAL, "%s: roles.%s lists key %.16s, which is not in "
				    "\"keys\"", name, role_names[role], id);
		for (size_t j = 0; j < rk->n; j++)
			if (rk->key_idx[j] == k)
				return fail(e, -EINVAL, "%s: roles.%s lists key %.16s twice", name,
					    role_names[role], id);
		rk->key_idx[rk->n++] = k;
	}
	if (!get(ro, "threshold") || !json_object_is_type(get(ro, "threshold"), json_type_int))
		return fail(e, -EINVAL, "%s: roles.%s.threshold must be an integer", name,
			    role_names[role]);
	th = json_object_get_int64(get(ro, "threshold"));
	if (th < 1)
		return fail(e, -EINVAL, "%s: roles.%s.threshold is %lld: it must be at least 1",
			    name, role_names[role], (long long)th);
	if ((size_t)th > rk->n)
		return fail(e, -EINVAL, "%s: roles.%s.threshold is %lld but it lists %zu key%s: "
			    "it could never be met", name, role_names[role], (long long)th, rk->n,
			    rk->n == 1 ? "" : "s");
	rk->threshold = (unsigned)th;
	return 0;
}

int tuf_root__parse(struct tuf_root *r, const char *name, const struct tuf_envelope *env,
		    struct tuf_err *e)
{
	json_object *cs, *roles;
	int err;

	memset(r, 0, sizeof(*r));
	err = parse_common(env->body, name, TUF_ROOT, &r->version, &r->expires, e);
	if (err)
		return err;
	cs = get(env->body, "consistent_snapshot");
	if (cs && !json_object_is_type(cs, json_type_boolean))
		return fail(e, -EINVAL, "%s: \"consistent_snapshot\" must be true or false", name);
	r->consistent_snapshot = cs && json_object_get_boolean(cs);
	err = parse_keys(r, get(env->body, "keys"), name, e);
	if (err)
		return err;
	roles = get(env->body, "roles");
	if (!json_object_is_type(roles, json_type_object))
		return fail(e, -EINVAL, "%s: \"roles\" must be an object", name);
	for (int i = 0; i < TUF_N_ROLES; i++) {
		err = parse_role(r, roles, (enum tuf_role)i, name, e);
		if (err)
			return err;
	}
	return 0;
}

bool tuf__valid_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > TUF_MAX_NAME)
		return false;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
	      (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static int cmp_target(const void *a, const void *b)
{
	return strcmp(((const struct tuf_target *)a)->name, ((const struct tuf_target *)b)->name);
}

void tuf_targets__free(struct tuf_targets *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].name);
		free(t->v[i].custom);
		free(t->v[i].bundle);
	}
	free(t->v);
	memset(t, 0, sizeof(*t));
}

static int parse_target(struct tuf_target *t, const char *tname, json_object *o,
			const char *name, struct tuf_err *e)
{
	json_object *custom;
	const char *hex, *bn;
	int64_t v;
	size_t n;

	if (!tuf__valid_name(tname))
		return fail(e, -EINVAL, "%s: target name \"%.64s\" is not valid (letters, digits, "
			    "'.', '_', '-'; at most %d bytes)", name, tname, TUF_MAX_NAME);
	t->name = strdup(tname);
	if (!t->name)
		return fail(e, -ENOMEM, "%s: out of memory", name);
	if (!get_int(o, "length", 0, TUF_MAX_TARGET_LEN, &t->length))
		return fail(e, -EINVAL, "%s: targets.%s.length must be an integer from 0 to %lld",
			    name, tname, (long long)TUF_MAX_TARGET_LEN);
	hex = get_str(get(o, "hashes"), "sha256", &n);
	if (!hex || !tuf__unhex(hex, n, t->sha256, 32))
		return fail(e, -EINVAL, "%s: targets.%s.hashes.sha256 must be 64 lower-case hex "
			    "digits", name, tname);
	custom = get(o, "custom");
	if (!custom)
		return 0;
	if (!json_object_is_type(custom, json_type_object))
		return fail(e, -EINVAL, "%s: targets.%s.custom must be an object", name, tname);
	if (tuf__canonical(custom, &t->custom, NULL))
		return fail(e, -EINVAL, "%s: targets.%s.custom has no canonical form", name, tname);
	bn = get_str(custom, "bundle", &n);
	if (!bn)
		return 0;
	if (n == 0 || n > BUNDLE_MAX_NAME || !get_int(custom, "version", 1, CANON_INT_MAX - 1,
						      &t->bundle_version) ||
	    !get_int(custom, "schema", 0, INT_MAX, &v))
		return fail(e, -EINVAL, "%s: targets.%s.custom: a bundle needs \"bundle\" (a "
			    "name), \"version\" (>= 1) and \"schema\"", name, tname);
	t->schema = (int)v;
	t->bundle = strdup(bn);
	return t->bundle ? 0 : fail(e, -ENOMEM, "%s: out of memory", name);
}

int tuf_targets__parse(struct tuf_targets *t, const char *name, const struct tuf_envelope *env,
		       struct tuf_err *e)
{
	json_object *tg, *del;
	size_t n;
	int err;

	memset(t, 0, sizeof(*t));
	err = parse_common(env->body, name, TUF_TARGETS, &t->version, &t->expires, e);
	if (err)
		return err;
	del = get(env->body, "delegations");
	/* json-c asserts on the type of what it measures: check it first */
	if (del && !(json_object_is_type(get(del, "roles"), json_type_array) &&
		     json_object_array_length(get(del, "roles")) == 0))
		return fail(e, -EINVAL, "%s: delegations are not supported", name);
	tg = get(env->body, "targets");
	if (!json_object_is_type(tg, json_type_object))
		return fail(e, -EINVAL, "%s: \"targets\" must be an object", name);
	n = (size_t)json_object_object_length(tg);
	if (n > TUF_MAX_TARGETS)
		return fail(e, -EINVAL, "%s: %zu targets, more than the limit of %d", name, n,
			    TUF_MAX_TARGETS);
	t->v = calloc(n ? n : 1, sizeof(*t->v));
	if (!t->v)
		return fail(e, -ENOMEM, "%s: out of memory", name);
	json_object_object_foreach(tg, tname, o) {
		if (t->n >= n)
			break;
		err = parse_target(&t->v[t->n++], tname, o, name, e);
		if (err)
			return err;
	}
	qsort(t->v, t->n, sizeof(*t->v), cmp_target);
	return 0;
}

const struct tuf_target *tuf_targets__find(const struct tuf_targets *t, const char *name)
{
	struct tuf_target key = { .name = (char *)name };

	if (!t || !t->n)
		return NULL;
	return bsearch(&key, t->v, t->n, sizeof(*t->v), cmp_target);
}

bool tuf_root__same_keys(const struct tuf_root *a, const struct tuf_root *b, enum tuf_role role)
{
	const struct tuf_role_keys *ra = &a->roles[role], *rb = &b->roles[role];

	if (ra->n != rb->n || ra->threshold != rb->threshold)
		return false;
	for (size_t i = 0; i < ra->n; i++) {
		size_t j;

		for (j = 0; j < rb->n; j++)
			if (!strcmp(a->keys[ra->key_idx[i]].id, b->keys[rb->key_idx[j]].id))
				break;
		if (j == rb->n)
			return false;
	}
	return true;
}

/* ---- builders ---- */

static json_object *common_json(enum tuf_role role, int64_t version, int64_t expires)
{
	json_object *o = json_object_new_object();
	char when[32];

	if (!o)
		return NULL;
	fmt_time(expires, when, sizeof(when));
	json_object_object_add(o, "_type", json_object_new_string(role_names[role]));
	json_object_object_add(o, "spec_version", json_object_new_string(TUF_SPEC_VERSION));
	json_object_object_add(o, "version", json_object_new_int64(version));
	json_object_object_add(o, "expires", json_object_new_string(when));
	return o;
}

json_object *tuf_root__json(const struct tuf_root *r)
{
	json_object *o = common_json(TUF_ROOT, r->version, r->expires);
	json_object *keys = json_object_new_object(), *roles = json_object_new_object();

	if (!o || !keys || !roles) {
		json_object_put(o);
		json_object_put(keys);
		json_object_put(roles);
		return NULL;
	}
	json_object_object_add(o, "consistent_snapshot",
			       json_object_new_boolean(r->consistent_snapshot));
	for (size_t i = 0; i < r->n_keys; i++)
		json_object_object_add(keys, r->keys[i].id, tuf_key__json(r->keys[i].pk));
	for (int i = 0; i < TUF_N_ROLES; i++) {
		json_object *ro = json_object_new_object(), *ids = json_object_new_array();

		for (size_t j = 0; j < r->roles[i].n; j++)
			json_object_array_add(ids, json_object_new_string(
				r->keys[r->roles[i].key_idx[j]].id));
		json_object_object_add(ro, "keyids", ids);
		json_object_object_add(ro, "threshold",
				       json_object_new_int64(r->roles[i].threshold));
		json_object_object_add(roles, role_names[i], ro);
	}
	json_object_object_add(o, "keys", keys);
	json_object_object_add(o, "roles", roles);
	return o;
}

static json_object *ref_json(const struct tuf_meta_ref *m)
{
	json_object *o = json_object_new_object();
	char hex[65];

	if (!o)
		return NULL;
	json_object_object_add(o, "version", json_object_new_int64(m->version));
	if (m->length)
		json_object_object_add(o, "length", json_object_new_int64(m->length));
	if (m->has_sha256) {
		json_object *h = json_object_new_object();

		tuf__hex(m->sha256, 32, hex);
		json_object_object_add(h, "sha256", json_object_new_string(hex));
		json_object_object_add(o, "hashes", h);
	}
	return o;
}

json_object *tuf_targets__json(const struct tuf_targets *t)
{
	json_object *o = common_json(TUF_TARGETS, t->version, t->expires);
	json_object *tg = json_object_new_object();

	if (!o || !tg) {
		json_object_put(o);
		json_object_put(tg);
		return NULL;
	}
	for (size_t i = 0; i < t->n; i++) {
		const struct tuf_target *x = &t->v[i];
		json_object *e = json_object_new_object(), *h = json_object_new_object();
		char hex[65];

		tuf__hex(x->sha256, 32, hex);
		json_object_object_add(h, "sha256", json_object_new_string(hex));
		json_object_object_add(e, "length", json_object_new_int64(x->length));
		json_object_object_add(e, "hashes", h);
		if (x->custom) {
			json_object *c = json_tokener_parse(x->custom);

			if (c)
				json_object_object_add(e, "custom", c);
		}
		json_object_object_add(tg, x->name, e);
	}
	json_object_object_add(o, "targets", tg);
	return o;
}

json_object *tuf_snapshot__json(const struct tuf_snapshot *s)
{
	json_object *o = common_json(TUF_SNAPSHOT, s->version, s->expires);
	json_object *meta = json_object_new_object();

	if (!o || !meta) {
		json_object_put(o);
		json_object_put(meta);
		return NULL;
	}
	json_object_object_add(meta, "targets.json", ref_json(&s->targets));
	json_object_object_add(o, "meta", meta);
	return o;
}

json_object *tuf_timestamp__json(const struct tuf_timestamp *t)
{
	json_object *o = common_json(TUF_TIMESTAMP, t->version, t->expires);
	json_object *meta = json_object_new_object();

	if (!o || !meta) {
		json_object_put(o);
		json_object_put(meta);
		return NULL;
	}
	json_object_object_add(meta, "snapshot.json", ref_json(&t->snapshot));
	json_object_object_add(o, "meta", meta);
	return o;
}

void tuf_meta_ref__of(struct tuf_meta_ref *m, int64_t version, const uint8_t *buf, size_t len)
{
	memset(m, 0, sizeof(*m));
	m->version = version;
	m->length = (int64_t)len;
	m->has_sha256 = true;
	crypto_hash_sha256(m->sha256, buf, len);
}

/* ---- files ---- */

int tuf__write_atomic(const char *dir, const char *name, const void *buf, size_t len,
		      unsigned mode)
{
	/* the one atomic writer content already uses (engine/bundle.h) */
	return bundle__write_file_atomic(dir, name, buf, len, mode, NULL);
}

static bool safe_rel_name(const char *name)
{
	const char *p = name;

	if (!*name || *name == '/')
		return false;
	while (*p) {
		const char *s = strchr(p, '/');
		size_t n = s ? (size_t)(s - p) : strlen(p);

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n;
		if (*p == '/')
			p++;
	}
	return true;
}

int tuf__fetch_dir(void *ctx, const char *name, size_t max_len, uint8_t **buf, size_t *len)
{
	const char *dir = ctx;
	char *path = NULL;
	uint8_t *b = NULL;
	size_t got = 0, cap;
	struct stat st;
	int fd, err = 0;

	*buf = NULL;
	*len = 0;
	if (!safe_rel_name(name))
		return -EINVAL;
	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return errno == ELOOP ? -EMLINK : -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		err = -EINVAL;
		goto cleanup;
	}
	/* read at most max_len + 1 bytes: one more tells that it is too long */
	cap = max_len < 65536 ? max_len + 1 : 65536;
	b = malloc(cap);
	if (!b) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (;;) {
		ssize_t r;

		if (got == cap) {
			size_t nc = cap * 2 > max_len + 1 ? max_len + 1 : cap * 2;
			uint8_t *nb;

			if (nc <= cap) {
				err = -EFBIG;
				goto cleanup;
			}
			nb = realloc(b, nc);
			if (!nb) {
				err = -ENOMEM;
				goto cleanup;
			}
			b = nb;
			cap = nc;
		}
		r = read(fd, b + got, cap - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			goto cleanup;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (got > max_len) {
			err = -EFBIG;
			goto cleanup;
		}
	}
	*buf = b;
	*len = got;
	b = NULL;
cleanup:
	free(b);
	close(fd);
	return err;
}

/* ---- the client ---- */

struct tuf_client {
	char *state_dir;
	tuf_fetch_fn fetch;
	void *fetch_ctx;
	int64_t now_fixed;
	size_t max_ts;

	struct tuf_root root;
	bool have_ts, have_snap, have_targets;
	struct tuf_timestamp ts;
	struct tuf_snapshot snap;
	uint8_t snap_sha[32];
	size_t snap_len;
	struct tuf_targets targets;
	uint8_t targets_sha[32];
	size_t targets_len;
	char targets_name[64];	/* the file the trusted targets came from */
};

static int64_t client_now(const struct tuf_client *c)
{
	return c->now_fixed ? c->now_fixed : (int64_t)time(NULL);
}

static int check_expiry(const struct tuf_client *c, const char *name, int64_t expires,
			struct tuf_err *e)
{
	char a[32], b[32];
	int64_t now = client_now(c);

	if (now < expires)
		return 0;
	fmt_time(expires, a, sizeof(a));
	fmt_time(now, b, sizeof(b));
	return fail(e, -EKEYEXPIRED, "%s: expired at %s, now is %s (freeze attack, or the "
		    "repository stopped signing)", name, a, b);
}

/* Fetch with the cap enforced here too: the callback is not trusted to. */
static int do_fetch(struct tuf_client *c, const char *name, size_t max, const char *why,
		    uint8_t **buf, size_t *len, struct tuf_err *e)
{
	int err;

	*buf = NULL;
	*len = 0;
	err = c->fetch(c->fetch_ctx, name, max, buf, len);
	if (!err && *len > max)
		err = -EFBIG;
	if (err) {
		free(*buf);
		*buf = NULL;
		*len = 0;
	}
	if (err == -EFBIG)
		return fail(e, err, "%s: larger than %zu bytes, the cap %s (endless or oversized "
			    "data)", name, max, why);
	if (err == -ENOENT)
		return fail(e, err, "%s: not found in the repository", name);
	if (err)
		return fail(e, err, "%s: fetch failed: %s", name, strerror(-err));
	return 0;
}

static int read_state(const struct tuf_client *c, const char *file, size_t max, uint8_t **buf,
		      size_t *len)
{
	char *path = NULL, *b = NULL;
	int err;

	if (asprintf(&path, "%s/%s", c->state_dir, file) < 0)
		return -ENOMEM;
	err = bundle__read_file(path, max, &b, len);
	free(path);
	*buf = (uint8_t *)b;
	return err;
}

static void drop_state(struct tuf_client *c, const char *file)
{
	char *path = NULL;

	if (asprintf(&path, "%s/%s", c->state_dir, file) >= 0)
		unlink(path);
	free(path);
}

static int keep_state(struct tuf_client *c, const char *file, const uint8_t *buf, size_t len,
		      struct tuf_err *e)
{
	int err = tuf__write_atomic(c->state_dir, file, buf, len, 0600);

	if (err)
		return fail(e, err, "%s/%s: cannot write the trusted metadata: %s", c->state_dir,
			    file, strerror(-err));
	return 0;
}

/* Parse and verify a root in buf by its own root keys (bootstrap, state). */
static int load_root_self(struct tuf_root *r, const char *name, const uint8_t *buf, size_t len,
			  struct tuf_err *e)
{
	struct tuf_envelope env;
	char whose[64];
	int err;

	err = tuf_envelope__parse(&env, name, buf, len, e);
	if (!err)
		err = tuf_root__parse(r, name, &env, e);
	if (!err) {
		snprintf(whose, sizeof(whose), "root version %lld itself", (long long)r->version);
		err = tuf__verify_role(r, TUF_ROOT, &env, name, whose, e);
	}
	tuf_envelope__free(&env);
	if (err)
		tuf_root__free(r);
	return err;
}

static void whose_root(const struct tuf_client *c, char *buf, size_t size)
{
	snprintf(buf, size, "root version %lld", (long long)c->root.version);
}

/* Envelope + signatures by root's keys for role; the body is the caller's. */
static int load_signed(const struct tuf_client *c, enum tuf_role role, const char *name,
		       const uint8_t *buf, size_t len, struct tuf_envelope *env,
		       struct tuf_err *e)
{
	char whose[64];
	int err = tuf_envelope__parse(env, name, buf, len, e);

	if (err)
		return err;
	whose_root(c, whose, sizeof(whose));
	return tuf__verify_role(&c->root, role, env, name, whose, e);
}

static void load_trusted_state(struct tuf_client *c)
{
	struct tuf_envelope env;
	struct tuf_err e;
	uint8_t *buf = NULL;
	size_t len;

	/* What does not verify with the trusted root is forgotten: it only
	 * ever serves to refuse older versions, never to accept anything. */
	if (read_state(c, "timestamp.json", TUF_MAX_TIMESTAMP_LEN, &buf, &len) == 0) {
		if (load_signed(c, TUF_TIMESTAMP, "timestamp.json", buf, len, &env, &e) == 0 &&
		    tuf_timestamp__parse(&c->ts, "timestamp.json", &env, &e) == 0)
			c->have_ts = true;
		tuf_envelope__free(&env);
		free(buf);
		buf = NULL;
	}
	if (read_state(c, "snapshot.json", TUF_MAX_TARGETS_LEN, &buf, &len) == 0) {
		if (load_signed(c, TUF_SNAPSHOT, "snapshot.json", buf, len, &env, &e) == 0 &&
		    tuf_snapshot__parse(&c->snap, "snapshot.json", &env, &e) == 0) {
			c->have_snap = true;
			crypto_hash_sha256(c->snap_sha, buf, len);
			c->snap_len = len;
		}
		tuf_envelope__free(&env);
		free(buf);
		buf = NULL;
	}
	if (read_state(c, "targets.json", TUF_MAX_TARGETS_LEN, &buf, &len) == 0) {
		if (load_signed(c, TUF_TARGETS, "targets.json", buf, len, &env, &e) == 0 &&
		    tuf_targets__parse(&c->targets, "targets.json", &env, &e) == 0) {
			c->have_targets = true;
			crypto_hash_sha256(c->targets_sha, buf, len);
			c->targets_len = len;
			snprintf(c->targets_name, sizeof(c->targets_name), "%lld.targets.json",
				 (long long)c->targets.version);
		} else {
			tuf_targets__free(&c->targets);
		}
		tuf_envelope__free(&env);
		free(buf);
	}
}

struct tuf_client *tuf_client__new(const struct tuf_client_opts *o, struct tuf_err *e)
{
	struct tuf_client *c;
	uint8_t *buf = NULL;
	char *bbuf = NULL;
	size_t len = 0;
	bool bootstrap = false;
	int err;

	if (sodium_init() < 0) {
		errno = ENOSYS;
		fail(e, -ENOSYS, "libsodium would not start");
		return NULL;
	}
	if (!o->state_dir || !o->fetch) {
		errno = EINVAL;
		fail(e, -EINVAL, "a state directory and a fetch callback are required");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->state_dir = strdup(o->state_dir))) {
		free(c);
		errno = ENOMEM;
		fail(e, -ENOMEM, "out of memory");
		return NULL;
	}
	c->fetch = o->fetch;
	c->fetch_ctx = o->fetch_ctx;
	c->now_fixed = o->now;
	c->max_ts = o->max_timestamp_len ? o->max_timestamp_len : TUF_MAX_TIMESTAMP_LEN;
	if (mkdir(c->state_dir, 0700) && errno != EEXIST) {
		err = fail(e, -errno, "%s: cannot make the state directory: %s", c->state_dir,
			   strerror(errno));
		goto cleanup;
	}
	err = read_state(c, "root.json", TUF_MAX_ROOT_LEN, &buf, &len);
	if (err == -ENOENT && o->bootstrap_root) {
		bootstrap = true;
		err = bundle__read_file(o->bootstrap_root, TUF_MAX_ROOT_LEN, &bbuf, &len);
		buf = (uint8_t *)bbuf;
		if (err) {
			fail(e, err, "%s: cannot read the bootstrap root: %s", o->bootstrap_root,
			     err == -EFBIG ? "larger than the cap for a root" : strerror(-err));
			goto cleanup;
		}
	} else if (err) {
		fail(e, err, "%s/root.json: no trusted root: %s", c->state_dir,
		     err == -ENOENT ? "missing, and no bootstrap root was given" : strerror(-err));
		goto cleanup;
	}
	err = load_root_self(&c->root, bootstrap ? o->bootstrap_root : "root.json", buf, len, e);
	if (err)
		goto cleanup;
	if (bootstrap) {
		err = keep_state(c, "root.json", buf, len, e);
		if (err)
			goto cleanup;
	}
	load_trusted_state(c);
cleanup:
	free(buf);
	if (err) {
		tuf_client__free(c);
		errno = -err;
		return NULL;
	}
	return c;
}

void tuf_client__free(struct tuf_client *c)
{
	if (!c)
		return;
	tuf_root__free(&c->root);
	tuf_targets__free(&c->targets);
	free(c->state_dir);
	free(c);
}

static void forget(struct tuf_client *c, enum tuf_role role)
{
	switch (role) {
	case TUF_TIMESTAMP:
		c->have_ts = false;
		drop_state(c, "timestamp.json");
		break;
	case TUF_SNAPSHOT:
		c->have_snap = false;
		drop_state(c, "snapshot.json");
		break;
	case TUF_TARGETS:
		c->have_targets = false;
		tuf_targets__free(&c->targets);
		drop_state(c, "targets.json");
		break;
	default:
		break;
	}
}

static int rotate_once(struct tuf_client *c, const char *name, const uint8_t *buf, size_t len,
		       struct tuf_err *e)
{
	int64_t next = c->root.version + 1;
	struct tuf_envelope env;
	struct tuf_root nr = { 0 };
	char whose[64];
	int err;

	err = tuf_envelope__parse(&env, name, buf, len, e);
	if (err)
		goto cleanup;
	err = tuf_root__parse(&nr, name, &env, e);
	if (err)
		goto cleanup;
	snprintf(whose, sizeof(whose), "trusted root version %lld", (long long)c->root.version);
	err = tuf__verify_role(&c->root, TUF_ROOT, &env, name, whose, e);
	if (!err) {
		snprintf(whose, sizeof(whose), "root version %lld itself", (long long)nr.version);
		err = tuf__verify_role(&nr, TUF_ROOT, &env, name, whose, e);
	}
	if (err) {
		append(e, " (a root rotation must be signed by a threshold of the old root keys "
		       "and a threshold of the new)");
		goto cleanup;
	}
	if (nr.version < next) {
		err = fail(e, -ESTALE, "%s: version %lld is older than version %lld expected after "
			   "trusted root version %lld (rollback)", name, (long long)nr.version,
			   (long long)next, (long long)c->root.version);
		goto cleanup;
	}
	if (nr.version != next) {
		err = fail(e, -EBADMSG, "%s: version %lld, expected %lld (roots go up one version "
			   "at a time)", name, (long long)nr.version, (long long)next);
		goto cleanup;
	}
	err = keep_state(c, "root.json", buf, len, e);
	if (err)
		goto cleanup;
	tuf_root__free(&c->root);
	c->root = nr;
	memset(&nr, 0, sizeof(nr));
cleanup:
	tuf_root__free(&nr);
	tuf_envelope__free(&env);
	return err;
}

static int update_root(struct tuf_client *c, struct tuf_err *e)
{
	struct tuf_root orig = { 0 };
	char name[64];
	bool rotated = false;
	int err = 0;

	for (int step = 0; step < TUF_MAX_ROOT_STEPS; step++) {
		uint8_t *buf = NULL;
		size_t len;

		snprintf(name, sizeof(name), "%lld.root.json", (long long)c->root.version + 1);
		err = do_fetch(c, name, TUF_MAX_ROOT_LEN, "for a root", &buf, &len, e);
		if (err == -ENOENT) {
			err = 0;
			break;
		}
		if (err)
			goto cleanup;
		if (!rotated) {
			/* keep the original's key lists to compare at the end */
			struct tuf_envelope env;
			uint8_t *ob = NULL;
			size_t ol;

			if (read_state(c, "root.json", TUF_MAX_ROOT_LEN, &ob, &ol) == 0 &&
			    tuf_envelope__parse(&env, "root.json", ob, ol, NULL) == 0)
				tuf_root__parse(&orig, "root.json", &env, NULL);
			tuf_envelope__free(&env);
			free(ob);
		}
		err = rotate_once(c, name, buf, len, e);
		free(buf);
		if (err)
			goto cleanup;
		rotated = true;
	}
	snprintf(name, sizeof(name), "%lld.root.json", (long long)c->root.version);
	err = check_expiry(c, name, c->root.expires, e);
	if (err || !rotated)
		goto cleanup;
	/* New keys for a role: what the old keys signed can no longer be
	 * trusted even to refuse rollbacks (an attacker holding the old key
	 * could have pushed the versions up: fast-forward). */
	if (!orig.n_keys || !tuf_root__same_keys(&orig, &c->root, TUF_TIMESTAMP) ||
	    !tuf_root__same_keys(&orig, &c->root, TUF_SNAPSHOT)) {
		forget(c, TUF_TIMESTAMP);
		forget(c, TUF_SNAPSHOT);
	}
	if (!orig.n_keys || !tuf_root__same_keys(&orig, &c->root, TUF_TARGETS))
		forget(c, TUF_TARGETS);
cleanup:
	tuf_root__free(&orig);
	return err;
}

static int update_timestamp(struct tuf_client *c, struct tuf_err *e)
{
	struct tuf_envelope env = { 0 };
	struct tuf_timestamp ts;
	uint8_t *buf = NULL;
	size_t len;
	int err;

	err = do_fetch(c, "timestamp.json", c->max_ts, "for timestamp.json", &buf, &len, e);
	if (err)
		return err;
	err = load_signed(c, TUF_TIMESTAMP, "timestamp.json", buf, len, &env, e);
	if (!err)
		err = tuf_timestamp__parse(&ts, "timestamp.json", &env, e);
	if (err)
		goto cleanup;
	if (c->have_ts && ts.version < c->ts.version) {
		err = fail(e, -ESTALE, "timestamp.json: version %lld is older than trusted version "
			   "%lld (rollback)", (long long)ts.version, (long long)c->ts.version);
		goto cleanup;
	}
	if (c->have_ts && ts.snapshot.version < c->ts.snapshot.version) {
		err = fail(e, -ESTALE, "timestamp.json: lists snapshot version %lld, older than "
			   "trusted version %lld (rollback)", (long long)ts.snapshot.version,
			   (long long)c->ts.snapshot.version);
		goto cleanup;
	}
	if (c->have_snap && ts.snapshot.version < c->snap.version) {
		err = fail(e, -ESTALE, "timestamp.json: lists snapshot version %lld, older than "
			   "trusted version %lld (rollback)", (long long)ts.snapshot.version,
			   (long long)c->snap.version);
		goto cleanup;
	}
	if (c->have_ts && ts.version == c->ts.version) {
		/* the same version again: the trusted one stands */
		err = check_expiry(c, "timestamp.json", c->ts.expires, e);
		goto cleanup;
	}
	err = check_expiry(c, "timestamp.json", ts.expires, e);
	if (!err)
		err = keep_state(c, "timestamp.json", buf, len, e);
	if (!err) {
		c->ts = ts;
		c->have_ts = true;
	}
cleanup:
	tuf_envelope__free(&env);
	free(buf);
	return err;
}

/* Length and hash of fetched bytes against what the referring file lists. */
static int check_ref(const struct tuf_meta_ref *m, const char *name, const char *by,
		     const uint8_t *buf, size_t len, struct tuf_err *e)
{
	uint8_t h[32];
	char got[65], want[65];

	if (m->length && (int64_t)len != m->length)
		return fail(e, -EBADMSG, "%s: %zu bytes, but %s lists %lld (mix-and-match or "
			    "tampering)", name, len, by, (long long)m->length);
	if (!m->has_sha256)
		return 0;
	crypto_hash_sha256(h, buf, len);
	if (!memcmp(h, m->sha256, 32))
		return 0;
	tuf__hex(h, 32, got);
	tuf__hex(m->sha256, 32, want);
	return fail(e, -EBADMSG, "%s: sha256 %s differs from %s listed in %s (mix-and-match or "
		    "tampering)", name, got, want, by);
}

static bool same_ref(const struct tuf_meta_ref *m, int64_t version, const uint8_t sha[32],
		     size_t len)
{
	return m->version == version && (!m->has_sha256 || !memcmp(m->sha256, sha, 32)) &&
	       (!m->length || (int64_t)len == m->length);
}

static int update_snapshot(struct tuf_client *c, struct tuf_err *e)
{
	const struct tuf_meta_ref *m = &c->ts.snapshot;
	struct tuf_envelope env = { 0 };
	struct tuf_snapshot s;
	uint8_t *buf = NULL;
	char name[64];
	size_t len, cap;
	int err;

	if (c->root.consistent_snapshot)
		snprintf(name, sizeof(name), "%lld.snapshot.json", (long long)m->version);
	else
		snprintf(name, sizeof(name), "snapshot.json");
	if (c->have_snap && same_ref(m, c->snap.version, c->snap_sha, c->snap_len))
		return check_expiry(c, name, c->snap.expires, e);
	cap = m->length ? (size_t)m->length : TUF_MAX_SNAPSHOT_LEN;
	err = do_fetch(c, name, cap, m->length ? "listed in timestamp.json" :
		       "for a snapshot", &buf, &len, e);
	if (err)
		return err;
	err = check_ref(m, name, "timestamp.json", buf, len, e);
	if (!err)
		err = load_signed(c, TUF_SNAPSHOT, name, buf, len, &env, e);
	if (!err)
		err = tuf_snapshot__parse(&s, name, &env, e);
	if (err)
		goto cleanup;
	if (s.version != m->version) {
		err = fail(e, -EBADMSG, "%s: version %lld, but timestamp.json lists version %lld "
			   "(mix-and-match)", name, (long long)s.version, (long long)m->version);
		goto cleanup;
	}
	if (c->have_snap && s.targets.version < c->snap.targets.version) {
		err = fail(e, -ESTALE, "%s: lists targets.json version %lld, older than version "
			   "%lld in the trusted snapshot (rollback)", name,
			   (long long)s.targets.version, (long long)c->snap.targets.version);
		goto cleanup;
	}
	err = check_expiry(c, name, s.expires, e);
	if (!err)
		err = keep_state(c, "snapshot.json", buf, len, e);
	if (!err) {
		c->snap = s;
		c->have_snap = true;
		crypto_hash_sha256(c->snap_sha, buf, len);
		c->snap_len = len;
	}
cleanup:
	tuf_envelope__free(&env);
	free(buf);
	return err;
}

static int update_targets(struct tuf_client *c, struct tuf_err *e)
{
	const struct tuf_meta_ref *m = &c->snap.targets;
	struct tuf_envelope env = { 0 };
	struct tuf_targets t = { 0 };
	uint8_t *buf = NULL;
	char name[64], by[64];
	size_t len, cap;
	int err;

	if (c->root.consistent_snapshot) {
		snprintf(name, sizeof(name), "%lld.targets.json", (long long)m->version);
		snprintf(by, sizeof(by), "%lld.snapshot.json", (long long)c->snap.version);
	} else {
		snprintf(name, sizeof(name), "targets.json");
		snprintf(by, sizeof(by), "snapshot.json");
	}
	if (c->have_targets && same_ref(m, c->targets.version, c->targets_sha, c->targets_len))
		return check_expiry(c, name, c->targets.expires, e);
	cap = m->length ? (size_t)m->length : TUF_MAX_TARGETS_LEN;
	err = do_fetch(c, name, cap, m->length ? "listed in the snapshot" : "for targets",
		       &buf, &len, e);
	if (err)
		return err;
	err = check_ref(m, name, by, buf, len, e);
	if (!err)
		err = load_signed(c, TUF_TARGETS, name, buf, len, &env, e);
	if (!err)
		err = tuf_targets__parse(&t, name, &env, e);
	if (err)
		goto cleanup;
	if (t.version != m->version) {
		err = fail(e, -EBADMSG, "%s: version %lld, but %s lists version %lld "
			   "(mix-and-match)", name, (long long)t.version, by, (long long)m->version);
		goto cleanup;
	}
	if (c->have_targets && t.version < c->targets.version) {
		err = fail(e, -ESTALE, "%s: version %lld is older than trusted version %lld "
			   "(rollback)", name, (long long)t.version, (long long)c->targets.version);
		goto cleanup;
	}
	err = check_expiry(c, name, t.expires, e);
	if (!err)
		err = keep_state(c, "targets.json", buf, len, e);
	if (!err) {
		tuf_targets__free(&c->targets);
		c->targets = t;
		memset(&t, 0, sizeof(t));
		c->have_targets = true;
		crypto_hash_sha256(c->targets_sha, buf, len);
		c->targets_len = len;
		snprintf(c->targets_name, sizeof(c->targets_name), "%s", name);
	}
cleanup:
	tuf_targets__free(&t);
	tuf_envelope__free(&env);
	free(buf);
	return err;
}

int tuf_client__refresh(struct tuf_client *c, struct tuf_err *e)
{
	int err;

	if (e)
		e->msg[0] = '\0';
	err = update_root(c, e);
	if (!err)
		err = update_timestamp(c, e);
	if (!err)
		err = update_snapshot(c, e);
	if (!err)
		err = update_targets(c, e);
	return err;
}

const struct tuf_root *tuf_client__root(const struct tuf_client *c)
{
	return &c->root;
}

const struct tuf_targets *tuf_client__targets(const struct tuf_client *c)
{
	return c->have_targets ? &c->targets : NULL;
}

int64_t tuf_client__version(const struct tuf_client *c, enum tuf_role role)
{
	switch (role) {
	case TUF_ROOT:
		return c->root.version;
	case TUF_TIMESTAMP:
		return c->have_ts ? c->ts.version : 0;
	case TUF_SNAPSHOT:
		return c->have_snap ? c->snap.version : 0;
	case TUF_TARGETS:
		return c->have_targets ? c->targets.version : 0;
	default:
		return 0;
	}
}

int tuf_client__target_path(const struct tuf_client *c, const char *name, char *out, size_t size)
{
	const struct tuf_target *t = tuf_client__targets(c) ?
				     tuf_targets__find(&c->targets, name) : NULL;
	char hex[65];
	int n;

	if (!t)
		return -ENOENT;
	tuf__hex(t->sha256, 32, hex);
	if (c->root.consistent_snapshot)
		n = snprintf(out, size, "targets/%s.%s", hex, t->name);
	else
		n = snprintf(out, size, "targets/%s", t->name);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int verify_target_as(const struct tuf_client *c, const struct tuf_target *t,
			    const char *shown, const uint8_t *buf, size_t len, struct tuf_err *e)
{
	uint8_t h[32];
	char got[65], want[65];

	if ((int64_t)len != t->length)
		return fail(e, -EBADMSG, "%s: %zu bytes, but %s lists %lld (target changed after "
			    "signing)", shown, len, c->targets_name, (long long)t->length);
	crypto_hash_sha256(h, buf, len);
	if (!memcmp(h, t->sha256, 32))
		return 0;
	tuf__hex(h, 32, got);
	tuf__hex(t->sha256, 32, want);
	return fail(e, -EBADMSG, "%s: sha256 %s differs from %s listed in %s (target changed "
		    "after signing)", shown, got, want, c->targets_name);
}

int tuf_client__verify_target(const struct tuf_client *c, const char *name, const uint8_t *buf,
			      size_t len, struct tuf_err *e)
{
	const struct tuf_target *t = tuf_client__targets(c) ?
				     tuf_targets__find(&c->targets, name) : NULL;

	if (!t)
		return fail(e, -ENOENT, "%s: not a target of the trusted targets metadata", name);
	return verify_target_as(c, t, name, buf, len, e);
}

int tuf_client__fetch_target(struct tuf_client *c, const char *name, uint8_t **buf,
			     size_t *len, struct tuf_err *e)
{
	const struct tuf_target *t = tuf_client__targets(c) ?
				     tuf_targets__find(&c->targets, name) : NULL;
	char path[TUF_MAX_NAME + 80];
	int err;

	*buf = NULL;
	*len = 0;
	if (!t)
		return fail(e, -ENOENT, "%s: not a target of the trusted targets metadata", name);
	err = check_expiry(c, c->targets_name, c->targets.expires, e);
	if (err)
		return err;
	err = tuf_client__target_path(c, name, path, sizeof(path));
	if (err)
		return fail(e, err, "%s: name too long", name);
	err = do_fetch(c, path, (size_t)t->length, "listed in the targets metadata", buf, len, e);
	if (!err)
		err = verify_target_as(c, t, path, *buf, *len, e);
	if (err) {
		free(*buf);
		*buf = NULL;
		*len = 0;
	}
	return err;
}
