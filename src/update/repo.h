/*
 * The publisher of a content repository (`ringward repo`): init, add,
 * publish, timestamp, rotate-root. The served layout and every metadata
 * format are in update/tuf.h; targets are bundle archives
 * (update/archive.h) and the rollout document (update/rollout.h).
 *
 * Two directories:
 *
 *   DIR/            served as it is by any web server, object store or CDN
 *                   (update/tuf.h: N.root.json, root.json, timestamp.json,
 *                   V.snapshot.json, V.targets.json, targets/HASH.NAME)
 *   KEYS/ (0700)    private, never inside DIR (refused); default DIR.keys
 *     config.json   the repository's configuration (below)
 *     staged.json   targets added since the last publish (an unsigned
 *                   targets envelope; the files are already in DIR/targets,
 *                   where nothing refers to them yet)
 *     root/         root keys, root-ID.key (0600) and .pub, ID the first 16
 *                   hex digits of the key id. Root keys are offline keys:
 *                   after init, move root/ to offline storage and give it
 *                   back with --root-keys only to rotate the root.
 *     online/       targets-ID.key, snapshot-ID.key, timestamp-ID.key: the
 *                   keys publish signs with
 *     retired/      keys a rotation replaced
 *     .lock         one publisher at a time (flock)
 *
 * config.json:
 *   {
 *     "expires": {"root": 31536000, "targets": 7776000,      seconds from
 *                 "snapshot": 604800, "timestamp": 86400},   the signing
 *     "fleet-schemas": [
 *       {"schema": 2},                  validated in-process by this
 *                                       binary's own loader (its schema)
 *       {"schema": 1, "validator": ["/opt/ringward-0.1/ringward", "validate"]}
 *     ],
 *     "trusted-keys": ["/etc/ringward/trusted.d"]   optional: bundles must
 *   }                                               carry a signature by one
 *
 * Every event schema version still in the fleet is listed in
 * "fleet-schemas". Before a bundle is staged (add) and again before it is
 * published, its archive is unpacked into KEYS/.validate/ and checked
 * against each: the schema of this binary by its own loader (the code
 * `ringward validate` and the sensor run, ruleset__load_opts), whose
 * file:line:col messages are passed on; any other schema by its
 * "validator" command (argv, no shell; typically the older ringward binary
 * of that schema: `validate`), run with the unpacked bundle directory as
 * the last argument; a non-zero exit refuses, with its output, and so
 * does one that has not finished within 300 s (it is killed). A schema
 * with no validator command that is not this binary's refuses every
 * bundle: a schema nobody checks is a schema nobody vouches for. No
 * "fleet-schemas": this binary's schema alone.
 *
 * Publishing writes, in this order: the target files (already at add),
 * V.targets.json, V.snapshot.json, then timestamp.json by an atomic rename.
 * A crash at any point leaves the repository as it was for every client.
 *
 * Errors: 0 or -errno, with every problem in the diag (the loader's own
 * file:line:col messages included); notes in the diag say what was done.
 */
#ifndef RINGWARD_REPO_H
#define RINGWARD_REPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/diag.h"
#include "update/tuf.h"

#define REPO_KEYS_SUFFIX	".keys"
#define REPO_CONFIG		"config.json"
#define REPO_STAGED		"staged.json"
#define REPO_DEFAULT_EXPIRES_ROOT	(365LL * 86400)
#define REPO_DEFAULT_EXPIRES_TARGETS	(90LL * 86400)
#define REPO_DEFAULT_EXPIRES_SNAPSHOT	(7LL * 86400)
#define REPO_DEFAULT_EXPIRES_TIMESTAMP	(1LL * 86400)
#define REPO_MAX_SCHEMAS	16
#define REPO_MAX_ROOT_KEYS	(TUF_MAX_KEYS - 8)

/* Where and when, for every operation. */
struct repo_opts {
	const char *dir;		/* the served directory */
	const char *keys_dir;		/* NULL: DIR.keys */
	const char *root_keys_dir;	/* NULL: KEYS/root */
	int64_t now;			/* seconds since the epoch; 0: the clock */
	int64_t expires[TUF_N_ROLES];	/* seconds from now; 0: the configured */
};

/* An event schema version in the fleet and how to validate for it. */
struct repo_schema {
	int schema;
	char **argv;		/* NULL-terminated; NULL: this binary's loader */
};

struct repo_init_opts {
	unsigned n_root_keys;	/* 1..REPO_MAX_ROOT_KEYS */
	unsigned threshold;	/* 1..n_root_keys */
	const struct repo_schema *schemas;	/* NULL: this binary's schema */
	size_t n_schemas;
	const char *const *trusted_keys;	/* for config.json; may be NULL */
	size_t n_trusted_keys;
};

/*
 * Make a new repository: DIR (must not exist, or be empty) and KEYS (must
 * not exist, must not be inside DIR); root keys, online keys, root version
 * 1 signed by every root key, the configuration, and a first, empty
 * publish (targets, snapshot and timestamp version 1), so clients can
 * start. DIR/1.root.json is the root to install on the hosts.
 */
int repo__init(const struct repo_opts *o, const struct repo_init_opts *io, struct diag *d);

/*
 * Stage the bundle directory bundle_dir: read its manifest, refuse a
 * version not above one the repository holds or stages for that bundle
 * name, pack it (target NAME-VERSION.rwb), validate the packed bytes for
 * every fleet schema, write DIR/targets/HASH.NAME-VERSION.rwb and record
 * it in staged.json. target (may be NULL) gets the target name.
 */
int repo__add(const struct repo_opts *o, const char *bundle_dir, char *target, size_t size,
	      struct diag *d);

/*
 * Publish: the staged targets (each validated again) and, when rollout_path
 * is given, that rollout document as target "rollout.json" (parsed; every
 * release must name a target the repository holds, of that bundle version;
 * its version must be above the published one). New targets, snapshot and
 * timestamp versions, each expiring as configured.
 */
int repo__publish(const struct repo_opts *o, const char *rollout_path, struct diag *d);

/* Sign a new timestamp only (same snapshot): what a cron job runs more
 * often than the timestamp expires, so clients can tell a live repository
 * from a frozen one. */
int repo__timestamp(const struct repo_opts *o, struct diag *d);

struct repo_rotate_opts {
	unsigned n_new_keys;	/* new root keys replacing the old; 0: keep them */
	unsigned threshold;	/* 0: the old one */
	bool rotate[TUF_N_ROLES];	/* new online keys for targets, snapshot,
					 * timestamp (after a compromise) */
};

/*
 * Root version N+1, signed by every root key at hand in the root keys
 * directory of version N and of N+1; refused unless that is a threshold of
 * each (what clients demand). Writes DIR/N+1.root.json and DIR/root.json;
 * keys no longer in the root move to KEYS/retired/. When online keys were
 * rotated, publishes again with them.
 */
int repo__rotate_root(const struct repo_opts *o, const struct repo_rotate_opts *ro,
		      struct diag *d);

/* Run the fleet's validators (config of the repository o) on a bundle
 * directory; shown names it in messages (NULL: bundle_dir). */
int repo__validate_bundle(const struct repo_opts *o, const char *bundle_dir, const char *shown,
			  struct diag *d);

/* "90d", "12h", "30m", "45s", "2w" or plain seconds, into *secs (> 0). */
int repo__parse_duration(const char *s, int64_t *secs);

/*
 * The bytes of target name as the newest published targets metadata lists
 * it (length and sha256 checked: -EBADMSG when the file changed), into
 * *buf (from malloc(), caller frees) and *len; -ENOENT when nothing
 * published lists it. Takes the repository's lock while it reads. For the
 * controller (`ringward rollout`), which reads the published rollout
 * document, changes it and publishes it again with repo__publish().
 */
int repo__read_target(const struct repo_opts *o, const char *name, uint8_t **buf, size_t *len,
		      struct diag *d);

#endif
