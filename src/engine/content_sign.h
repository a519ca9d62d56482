/*
 * Signed content: Ed25519 keys (libsodium), detached signatures over the
 * exact bytes of a bundle's manifest, and the set of trusted public keys
 * the loader checks them against.
 *
 * Files, all text, one item per line, '#' comments and blank lines allowed:
 *
 *   PREFIX.pub           ed25519 KEYID BASE64(32-byte public key)
 *   PREFIX.key (0600)    ed25519-secret KEYID BASE64(64-byte secret key)
 *   ringward-bundle.sig  ed25519 KEYID BASE64(64-byte signature)   (1..16 lines)
 *
 * KEYID is the first 8 bytes of sha256(public key) in lower-case hex (16
 * digits): it names a key in messages and picks the key for a signature
 * line; it is never trusted on its own (the signature is verified with the
 * trusted key's bytes). The signature is over the manifest file's bytes
 * exactly as on disk (no canonical form, no prefix), so any Ed25519 tool
 * can check it. The manifest lists the sha256 of every file of the
 * bundle, so the signature covers the whole bundle.
 *
 * Several signature lines let a bundle carry signatures by an old and a
 * new key while keys rotate: a bundle verifies when any line by a trusted
 * key verifies.
 *
 * Errors: 0 or -errno, with messages in the diag.
 */
#ifndef RINGWARD_CONTENT_SIGN_H
#define RINGWARD_CONTENT_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/diag.h"

#define SIGN_KEY_ID_LEN		16		/* hex digits */
#define SIGN_MAX_SIGS		16		/* signature lines in one file */
#define SIGN_MAX_KEYS		256		/* trusted keys */
#define SIGN_MAX_FILE		65536		/* bytes of a key or signature file */
#define RW_TRUSTED_DIR		"/etc/ringward/trusted.d"	/* where make install puts them */

/* A trusted public key. */
struct sign_key {
	uint8_t pk[32];
	char id[SIGN_KEY_ID_LEN + 1];
	char *path;		/* the file it came from; from malloc() */
};

/* The trusted keys in force. required: keys were configured, so only
 * content signed by one of them may load (even when none could be read). */
struct sign_trust {
	struct sign_key *keys;	/* from malloc() */
	size_t n;
	bool required;
};

/* One signature line. */
struct sign_entry {
	char id[SIGN_KEY_ID_LEN + 1];
	uint8_t sig[64];
	unsigned line;
};

struct sign_file {
	struct sign_entry v[SIGN_MAX_SIGS];
	size_t n;
};

/* The key id of a public key, into id (SIGN_KEY_ID_LEN + 1 bytes). */
void sign__key_id(const uint8_t pk[32], char *id);

/*
 * Load the trusted keys of paths[0..n): each a public key file, or a
 * directory whose *.pub files (not hidden, not links) are public keys.
 * With n > 0 the trust is required. A key file that cannot be read or is
 * malformed is skipped with a warning; when no usable key remains, an
 * error (nothing signed could be checked, so nothing may load). Returns 0
 * or -errno (the error also in d). Free t with sign_trust__free() either way.
 */
int sign_trust__load(struct sign_trust *t, const char *const paths[], size_t n, struct diag *d);
void sign_trust__free(struct sign_trust *t);
/* The trusted key with this id, or NULL. */
const struct sign_key *sign_trust__find(const struct sign_trust *t, const char *id);

/* Read one public key file into pk and id. 0, or -EINVAL with a message. */
int sign__read_public(const char *path, uint8_t pk[32], char *id, struct diag *d);

/*
 * Make a new key pair: PREFIX.key (mode 0600) and PREFIX.pub (0644),
 * never overwriting either (-EEXIST). id_out (SIGN_KEY_ID_LEN + 1 bytes)
 * gets the key id.
 */
int sign__keygen(const char *prefix, char *id_out, struct diag *d);

/* Parse the text of a signature file (name for messages). 0, or -EINVAL
 * with every problem in d. */
int sign_file__parse(struct sign_file *sf, const char *name, const char *buf, size_t len,
		     struct diag *d);

/*
 * Check that the manifest bytes msg[0..len) carry a valid signature by a
 * trusted key, given the signature file's text (sigbuf, NULL when there
 * is no signature file). On success *signer (may be NULL) is the key.
 * Errors, each with one message naming the refusal:
 *   -ENOKEY        no signature file
 *   -EKEYREJECTED  no line is by a trusted key
 *   -EBADMSG       a trusted key's line does not verify (the manifest was
 *                  changed after signing), or the file is malformed
 */
int sign__verify(const struct sign_trust *t, const char *manifest_path, const char *msg,
		 size_t len, const char *sig_path, const char *sigbuf, size_t siglen,
		 const struct sign_key **signer, struct diag *d);

/*
 * Sign the manifest of the bundle in dir with the secret key in key_path:
 * writes dir/ringward-bundle.sig atomically. append keeps the lines of
 * other keys already there (key rotation); else the file holds this one
 * signature. The secret key file must not be readable by group or others.
 * id_out (may be NULL) gets the key id.
 */
int sign__bundle(const char *dir, const char *key_path, bool append, char *id_out,
		 struct diag *d);

#endif
