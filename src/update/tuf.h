/*
 * The Update Framework (TUF), as ringward uses it: the metadata model, its
 * canonical JSON and Ed25519 signatures (libsodium), and the client's
 * verification of a repository (spec 1.0, sections 5.2-5.7), built around
 * a fetch callback so that tests feed bytes from files and the updater
 * feeds libcurl.
 *
 * ---- Repository layout (what a web server, object store or CDN serves) ----
 *
 *   DIR/root.json                 the newest root (a copy; clients never
 *                                 trust it: it is for bootstrapping by hand)
 *   DIR/1.root.json, 2.root.json  every root version, kept forever: a client
 *                                 walks N -> N+1 -> ... from the root it trusts
 *   DIR/timestamp.json            the only file ever replaced in place, and
 *                                 always last, by an atomic rename
 *   DIR/V.snapshot.json           snapshot version V (consistent snapshots)
 *   DIR/V.targets.json            targets version V
 *   DIR/targets/HASH.NAME         target NAME, HASH its sha256 in hex
 *
 * Every file but timestamp.json is named by its version or its hash, and
 * written before the metadata that refers to it; a client that reads the
 * old timestamp.json sees the old repository whole, one that reads the new
 * one sees the new repository whole: a half-published update is never
 * visible, and a CDN may cache every file but timestamp.json forever. The
 * publisher's private directory (keys, configuration, staging) is never
 * inside DIR (update/repo.h).
 *
 * ---- Metadata files ----
 *
 * Each is one JSON object, the envelope:
 *
 *   {"signatures": [{"keyid": KEYID, "sig": HEX(64 bytes)}, ...],
 *    "signed": BODY}
 *
 * A signature is Ed25519 over the canonical JSON of BODY: objects with their
 * keys sorted by bytes, no whitespace, strings escaping only '"' and '\',
 * integers only (no floats, |n| < 2^53), true/false/null (the OLPC canonical
 * JSON that TUF implementations use). The verifier canonicalises the very
 * object it then reads, so what is checked is what is used, however the
 * file is laid out. Fields of BODY that ringward does not know are covered
 * by the signature and ignored; the envelope allows nothing else.
 *
 * Every BODY has "_type" (the role), "spec_version" ("1.x.y"), "version"
 * (integer >= 1) and "expires" ("YYYY-MM-DDTHH:MM:SSZ", UTC). Then:
 *
 *   root       "consistent_snapshot": true|false,
 *              "keys": {KEYID: {"keytype": "ed25519", "scheme": "ed25519",
 *                               "keyval": {"public": HEX(32 bytes)}}, ...},
 *              "roles": {"root"|"targets"|"snapshot"|"timestamp":
 *                        {"keyids": [KEYID, ...], "threshold": T}}
 *              KEYID is the sha256 (hex) of the canonical JSON of the key
 *              object, and is checked: one key cannot count twice under two
 *              ids. 1 <= T <= the number of the role's keys.
 *   targets    "targets": {NAME: {"length": BYTES, "hashes": {"sha256": HEX},
 *                                 "custom": {...}}}
 *              NAME: [A-Za-z0-9._-], starting with a letter or digit, at
 *              most TUF_MAX_NAME bytes. custom is free; ringward's bundle
 *              targets carry {"bundle": NAME, "version": N, "schema": S}.
 *              Delegations are not supported (refused).
 *   snapshot   "meta": {"targets.json": {"version": V, "length": BYTES,
 *                                         "hashes": {"sha256": HEX}}}
 *   timestamp  "meta": {"snapshot.json": {the same three}}
 *              length and hashes are optional in TUF; ringward's publisher
 *              always writes both, and the client checks whatever is given.
 *
 * ---- The client (tuf_client__refresh) ----
 *
 *   1. root: from the trusted root (state dir, else the bootstrap file),
 *      fetch N+1.root.json (cap TUF_MAX_ROOT_LEN) until the fetch says
 *      -ENOENT. Each must be version N+1 and signed by a threshold of the
 *      root keys of version N AND a threshold of its own root keys. Then
 *      the newest root must not have expired. When a rotation changed the
 *      timestamp, snapshot or targets keys, the trusted metadata of those
 *      roles is forgotten (recovery from a fast-forward attack).
 *   2. timestamp.json (cap TUF_MAX_TIMESTAMP_LEN): threshold of timestamp
 *      keys, version >= trusted, snapshot version listed >= trusted, not
 *      expired.
 *   3. V.snapshot.json (cap: the length in the timestamp): sha256 as in the
 *      timestamp, threshold of snapshot keys, version V as listed, targets
 *      version >= the trusted snapshot's, not expired.
 *   4. V.targets.json (cap: the length in the snapshot): the same against
 *      the snapshot, threshold of targets keys, version >= trusted.
 *   5. targets/HASH.NAME on demand (tuf_client__fetch_target): cap its
 *      length, then length and sha256 as in the targets metadata.
 * A snapshot or targets file already trusted with the version and hash
 * listed is not fetched again (but still checked for expiry). Each file
 * verified is kept in the state dir (written to a temporary file, fsync'd,
 * renamed): root.json, timestamp.json, snapshot.json, targets.json. A
 * refusal leaves what was trusted before in place.
 *
 * ---- Errors ----
 *
 * Functions return 0 or a negative errno, and on failure write one precise
 * message into a struct tuf_err, naming the file and the attack it stops:
 *
 *   -EINVAL        malformed metadata (JSON, fields, types, names)
 *   -EKEYREJECTED  too few valid signatures by the role's keys (threshold),
 *                  including signatures by keys that are not the role's
 *   -ESTALE        a version older than the trusted one (rollback)
 *   -EKEYEXPIRED   expired metadata (freeze)
 *   -EBADMSG       length, hash or version differs from what the referring
 *                  metadata lists (tampering, mix-and-match)
 *   -EFBIG         more bytes than the cap for that file
 *   -ENOENT        the fetch found no such file
 *   other          what the fetch callback or the file system returned
 * e.g. "timestamp.json: version 3 is older than trusted version 5 (rollback)".
 * Constructors return NULL and set errno (and the message).
 */
#ifndef RINGWARD_TUF_H
#define RINGWARD_TUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define TUF_SPEC_VERSION	"1.0.31"
#define TUF_MAX_ROOT_LEN	(512 * 1024)		/* bytes of one root */
#define TUF_MAX_TIMESTAMP_LEN	(16 * 1024)		/* bytes of timestamp.json */
#define TUF_MAX_SNAPSHOT_LEN	(1024 * 1024)		/* when the timestamp gives none */
#define TUF_MAX_TARGETS_LEN	(16 * 1024 * 1024)	/* any targets metadata */
#define TUF_MAX_TARGET_LEN	(256LL * 1024 * 1024)	/* any one target */
#define TUF_MAX_ROOT_STEPS	64	/* root versions walked in one refresh */
#define TUF_MAX_KEYS		64	/* keys in a root */
#define TUF_MAX_SIGS		64	/* signatures on one file */
#define TUF_MAX_TARGETS		65536	/* targets in the targets metadata */
#define TUF_MAX_NAME		200	/* bytes of a target name */
#define TUF_MAX_DEPTH		16	/* JSON nesting */
#define TUF_KEYID_LEN		64	/* hex digits */
#define TUF_ERR_LEN		640

enum tuf_role { TUF_ROOT, TUF_TARGETS, TUF_SNAPSHOT, TUF_TIMESTAMP, TUF_N_ROLES };

/* "root", "targets", "snapshot", "timestamp" */
const char *tuf_role__name(enum tuf_role r);

struct tuf_err {
	char msg[TUF_ERR_LEN];
};

/* A public key of a root. */
struct tuf_key {
	char id[TUF_KEYID_LEN + 1];
	uint8_t pk[32];
};

/* Which keys may sign for a role (indices into tuf_root.keys). */
struct tuf_role_keys {
	size_t *key_idx;	/* from malloc() */
	size_t n;
	unsigned threshold;
};

struct tuf_root {
	int64_t version, expires;	/* expires: seconds since the epoch */
	bool consistent_snapshot;
	struct tuf_key *keys;		/* from malloc() */
	size_t n_keys;
	struct tuf_role_keys roles[TUF_N_ROLES];
};

/* What a snapshot says of targets.json, or a timestamp of snapshot.json. */
struct tuf_meta_ref {
	int64_t version;
	int64_t length;		/* 0: not given */
	bool has_sha256;
	uint8_t sha256[32];
};

struct tuf_target {
	char *name;		/* from malloc() */
	int64_t length;
	uint8_t sha256[32];
	char *custom;		/* canonical JSON of "custom", or NULL; from malloc() */
	/* from custom, when it describes a content bundle: */
	char *bundle;		/* NULL when not a bundle; from malloc() */
	int64_t bundle_version;
	int schema;
};

struct tuf_targets {
	int64_t version, expires;
	struct tuf_target *v;	/* from malloc(), sorted by name */
	size_t n;
};

struct tuf_snapshot {
	int64_t version, expires;
	struct tuf_meta_ref targets;
};

struct tuf_timestamp {
	int64_t version, expires;
	struct tuf_meta_ref snapshot;
};

/* A parsed envelope: the whole document, and the canonical bytes of its
 * "signed" body that the signatures are over. */
struct tuf_sig {
	char keyid[TUF_KEYID_LEN + 1];
	uint8_t sig[64];
};

struct tuf_envelope {
	json_object *doc;	/* owned (json_object_put) */
	json_object *body;	/* "signed", borrowed from doc */
	char *canon;		/* from malloc() */
	size_t canon_len;
	struct tuf_sig sigs[TUF_MAX_SIGS];
	size_t n_sigs;
};

/* ---- canonical JSON, keys, signing ---- */

/* The canonical JSON of o into *out (from malloc(), NUL-terminated, caller
 * frees). -EINVAL for floats, integers beyond 2^53, or nesting beyond
 * TUF_MAX_DEPTH; -ENOMEM. */
int tuf__canonical(json_object *o, char **out, size_t *len);

/* Key id of an Ed25519 public key: sha256 hex of the canonical JSON of
 * tuf_key__json(pk), into id (TUF_KEYID_LEN + 1 bytes). */
void tuf_key__id(const uint8_t pk[32], char *id);
/* {"keytype":"ed25519","keyval":{"public":HEX},"scheme":"ed25519"}; the
 * caller owns the reference. NULL on ENOMEM. */
json_object *tuf_key__json(const uint8_t pk[32]);

/* A key that signs: its public part and its secret. */
struct tuf_signer {
	char id[TUF_KEYID_LEN + 1];
	uint8_t pk[32];
	uint8_t sk[64];
};

/* A new random key pair. 0 or -ENOSYS (libsodium would not start). */
int tuf_signer__generate(struct tuf_signer *s);
/*
 * Key files (JSON, one object):
 *   PATH.key (mode 0600)  {"keytype":"ed25519","scheme":"ed25519",
 *                          "keyid":KEYID,"keyval":{"public":HEX,"private":HEX(64)}}
 *   PATH.pub (0644)       {"keytype":"ed25519","scheme":"ed25519",
 *                          "keyid":KEYID,"keyval":{"public":HEX}}
 * Write both (prefix without extension), never overwriting (-EEXIST).
 */
int tuf_signer__write(const struct tuf_signer *s, const char *prefix, struct tuf_err *e);
/* Read a secret key file; refuses one readable by group or others, one
 * whose key id or public half does not match its secret (-EINVAL). */
int tuf_signer__read(struct tuf_signer *s, const char *path, struct tuf_err *e);
/* Read the public key of a .pub (or .key) file. */
int tuf_key__read(struct tuf_key *k, const char *path, struct tuf_err *e);
/* Wipe the secret. */
void tuf_signer__wipe(struct tuf_signer *s);

/* Sign body with each of signers[0..n) and write the envelope as text
 * (indented JSON) into *out (from malloc(), caller frees). */
int tuf__sign(json_object *body, const struct tuf_signer *const *signers, size_t n,
	      char **out, size_t *len, struct tuf_err *e);

/* ---- parsing and verifying ---- */

/* Parse one JSON document strictly: no NUL byte, nesting at most
 * TUF_MAX_DEPTH, nothing after it but white space. The caller owns the
 * result (json_object_put); NULL with the message in e. */
json_object *tuf__parse_json(const char *name, const uint8_t *buf, size_t len,
			     struct tuf_err *e);

/* Parse buf as an envelope (name for messages). 0 or -EINVAL. Free with
 * tuf_envelope__free() either way. */
int tuf_envelope__parse(struct tuf_envelope *env, const char *name, const uint8_t *buf,
			size_t len, struct tuf_err *e);
void tuf_envelope__free(struct tuf_envelope *env);

/*
 * Count the valid signatures of env by the keys root gives role, each key
 * at most once; 0 when they reach the role's threshold, else
 * -EKEYREJECTED with a message naming the file (name), the count, the
 * threshold, whose keys (whose, e.g. "root version 4") and any signature
 * by a key that is not the role's.
 */
int tuf__verify_role(const struct tuf_root *root, enum tuf_role role,
		     const struct tuf_envelope *env, const char *name, const char *whose,
		     struct tuf_err *e);

/* The bodies of each role (the envelope parsed, no signature checked):
 * fields, types, _type, key ids, thresholds, target names. 0 or -EINVAL.
 * Free each with its __free() either way. */
int tuf_root__parse(struct tuf_root *r, const char *name, const struct tuf_envelope *env,
		    struct tuf_err *e);
int tuf_targets__parse(struct tuf_targets *t, const char *name, const struct tuf_envelope *env,
		       struct tuf_err *e);
int tuf_snapshot__parse(struct tuf_snapshot *s, const char *name,
			const struct tuf_envelope *env, struct tuf_err *e);
int tuf_timestamp__parse(struct tuf_timestamp *t, const char *name,
			 const struct tuf_envelope *env, struct tuf_err *e);
void tuf_root__free(struct tuf_root *r);
void tuf_targets__free(struct tuf_targets *t);

/* The target named name, or NULL. */
const struct tuf_target *tuf_targets__find(const struct tuf_targets *t, const char *name);
/* Is name a valid target name? */
bool tuf__valid_name(const char *name);
/* Does the root list the same keys for role as other does? */
bool tuf_root__same_keys(const struct tuf_root *a, const struct tuf_root *b, enum tuf_role role);

/* Bodies as JSON objects for the publisher (caller owns the reference);
 * NULL on ENOMEM. The root's keys are written from r->keys. */
json_object *tuf_root__json(const struct tuf_root *r);
json_object *tuf_targets__json(const struct tuf_targets *t);
json_object *tuf_snapshot__json(const struct tuf_snapshot *s);
json_object *tuf_timestamp__json(const struct tuf_timestamp *t);
/* The reference {"version","length","hashes":{"sha256"}} for a file. */
void tuf_meta_ref__of(struct tuf_meta_ref *m, int64_t version, const uint8_t *buf, size_t len);

/* Put a message into e (may be NULL) and return err: the one way every
 * update/ module reports a refusal. */
int tuf_err__set(struct tuf_err *e, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Hex helpers: 32 bytes to 65 chars; hex text of exactly 2*n digits to n
 * bytes (false on anything else). */
void tuf__hex(const uint8_t *b, size_t n, char *out);
bool tuf__unhex(const char *s, size_t slen, uint8_t *out, size_t n);

/* Write buf as dir/name atomically (temporary file, fsync, mode, rename,
 * directory fsync). 0 or -errno. */
int tuf__write_atomic(const char *dir, const char *name, const void *buf, size_t len,
		      unsigned mode);

/* ---- the client ---- */

/*
 * Fetch the repository file name (relative: "timestamp.json",
 * "3.snapshot.json", "targets/HASH.NAME") into *buf (from malloc(); the
 * client frees it) and *len. Must not deliver more than max_len bytes:
 * stop reading and return -EFBIG beyond it (the client checks again).
 * Return -ENOENT when the repository has no such file (HTTP 404), another
 * -errno for other failures (network, timeout, server error).
 */
typedef int (*tuf_fetch_fn)(void *ctx, const char *name, size_t max_len, uint8_t **buf,
			    size_t *len);

struct tuf_client_opts {
	const char *state_dir;		/* trusted metadata (created 0700); required */
	const char *bootstrap_root;	/* a root.json trusted out of band, used when
					 * state_dir holds none; may be NULL then */
	tuf_fetch_fn fetch;
	void *fetch_ctx;
	int64_t now;			/* seconds since the epoch; 0: the clock */
	size_t max_timestamp_len;	/* 0: TUF_MAX_TIMESTAMP_LEN */
};

struct tuf_client;

/* Load the trusted state (root: its own threshold of signatures; the
 * others: verified with it, dropped when they do not verify). NULL with
 * errno and the message in e when no root can be trusted. */
struct tuf_client *tuf_client__new(const struct tuf_client_opts *o, struct tuf_err *e);
void tuf_client__free(struct tuf_client *c);

/* Steps 1-4 above. 0, or -errno with the message; what was trusted before
 * stays trusted. Bounded: TUF_MAX_ROOT_STEPS + 3 fetches. */
int tuf_client__refresh(struct tuf_client *c, struct tuf_err *e);

/* Trusted metadata (valid until the next refresh or free; NULL before the
 * first refresh that reached it). */
const struct tuf_root *tuf_client__root(const struct tuf_client *c);
const struct tuf_targets *tuf_client__targets(const struct tuf_client *c);
int64_t tuf_client__version(const struct tuf_client *c, enum tuf_role role);	/* 0: none */

/* Fetch target name (listed in the trusted targets) into *buf (from
 * malloc(), caller frees) and check its length and sha256. */
int tuf_client__fetch_target(struct tuf_client *c, const char *name, uint8_t **buf,
			     size_t *len, struct tuf_err *e);
/* Check bytes obtained otherwise against the trusted targets metadata. */
int tuf_client__verify_target(const struct tuf_client *c, const char *name, const uint8_t *buf,
			      size_t len, struct tuf_err *e);
/* The repository file name of a target: "targets/HASH.NAME" (consistent
 * snapshots) or "targets/NAME", into out. */
int tuf_client__target_path(const struct tuf_client *c, const char *name, char *out, size_t size);

/* A fetch callback that reads files under a directory (ctx: the directory
 * path), for tests and local mirrors. Refuses names with "..", absolute
 * names and symbolic links. */
int tuf__fetch_dir(void *ctx, const char *name, size_t max_len, uint8_t **buf, size_t *len);

#endif
