/*
 * Content bundles: a directory of detection content with a manifest,
 * BUNDLE_MANIFEST at its top, that names the bundle, gives it a monotonic
 * version, the event schema it targets, the oldest sensor that can run it,
 * and the sha256 of every file in it:
 *
 *   # ringward content bundle (written by `ringward content manifest`)
 *   format: 1
 *   name: ringward-default
 *   version: 12
 *   schema: 2
 *   min_sensor: 0.1.0
 *   expires: 2026-01-01T00:00:00Z      (optional; RFC 3339, UTC)
 *   files:
 *     "rules/rw_reverse_shell_dev_tcp.yml": 3b1f...(64 hex digits)
 *
 * The manifest is YAML, read with libyaml like the rules themselves: every
 * node carries its line and column, so every refusal points at the exact
 * place (`bundle/ringward-bundle.yml:7:3: error: ...`), and bundles are
 * written and reviewed by the same people who write Sigma.
 *
 * Loading a bundle (the rule set does it for any directory that holds a
 * manifest) refuses, each with its own message:
 *   - a manifest that is not exactly the format above (unknown or repeated
 *     keys, wrong types, bad paths, bad hashes);
 *   - a schema version other than the one this sensor supplies
 *     (RW_SCHEMA_VERSION), or a minimum sensor version above this one
 *     (RW_SENSOR_VERSION); then no file of the bundle is parsed at all;
 *   - a file present in the directory but not listed, a listed file that
 *     is missing, a symbolic link or special file anywhere in the bundle;
 *   - a file whose sha256 differs from the manifest. Each file is read
 *     into memory once, hashed, and only then parsed from that same buffer:
 *     nothing is parsed before it is verified, and a file changed between
 *     the check and the parse cannot slip through.
 * Listed files named *.yml or *.yaml are Sigma rules; other files (README,
 * licences, fixtures) are verified but not parsed.
 *
 * Signed bundles (engine/content_sign.h): BUNDLE_SIGNATURE beside the
 * manifest holds Ed25519 signatures over the manifest's exact bytes; it is
 * not listed in the manifest. When the loader is given trusted keys
 * (struct bundle_policy), the manifest is read once, its signature checked
 * against those bytes, and only then are the same bytes parsed: content
 * that is not signed by a trusted key never reaches even the YAML parser.
 * The policy also refuses a bundle whose manifest has expired and one
 * older than the highest version accepted before (engine/anti_rollback.h),
 * each before any file of it is read.
 *
 * Errors: 0 or -errno, with messages in the diag.
 */
#ifndef RINGWARD_BUNDLE_H
#define RINGWARD_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/diag.h"
#include "engine/ruleset.h"

#define BUNDLE_MANIFEST		"ringward-bundle.yml"
#define BUNDLE_SIGNATURE	"ringward-bundle.sig"
#define BUNDLE_FORMAT		1
#define BUNDLE_MAX_MANIFEST	(4 * 1024 * 1024)	/* bytes of the manifest */
#define BUNDLE_MAX_FILES	65536			/* files listed */
#define BUNDLE_MAX_FILE_SIZE	(16 * 1024 * 1024)	/* bytes of a non-rule file */
#define BUNDLE_MAX_NAME		128			/* bytes of the bundle name */
#define BUNDLE_MAX_PATH		1024			/* bytes of a listed path */

struct bundle_entry {
	char *path;		/* relative to the bundle directory; from malloc() */
	uint8_t sha256[32];
	unsigned line, col;	/* of the entry in the manifest */
	bool seen;		/* found in the directory (bundle__load) */
};

struct bundle_manifest {
	char *name;		/* from malloc() */
	int64_t version;	/* >= 1 */
	int schema;
	char *min_sensor;	/* "MAJOR.MINOR.PATCH"; from malloc() */
	struct bundle_entry *files;	/* from malloc(), in manifest order */
	size_t n_files;
	int64_t expires;	/* seconds since the epoch; 0: no expiry */
	unsigned schema_line, schema_col;	/* for messages */
	unsigned sensor_line, sensor_col;
	unsigned version_line, version_col;
	unsigned expires_line, expires_col;
};

/* Does dir hold a manifest (a regular file, not a link)? */
bool bundle__is_bundle(const char *dir);
/* A bundle name (and what else must be as plain: rings, groups, rule ids
 * on the updater's line protocol): 1..max bytes of [A-Za-z0-9._-], the
 * first alphanumeric. */
bool bundle__name_ok(const char *s, size_t n, size_t max);

/* Read and check the manifest of dir (format, types, paths, hashes; not
 * the schema or sensor version, nor the files). 0, or -errno with every
 * problem in d. Free m with bundle_manifest__free() either way. */
int bundle_manifest__read(struct bundle_manifest *m, const char *dir, struct diag *d);
/* The same for manifest text already in memory (path for messages). */
int bundle_manifest__parse(struct bundle_manifest *m, const char *path, const char *buf,
			   size_t len, struct diag *d);
void bundle_manifest__free(struct bundle_manifest *m);

/* An RFC 3339 UTC time, "YYYY-MM-DDTHH:MM:SSZ" exactly, to seconds since
 * the epoch; -EINVAL for anything else (other zones, fractions, a day
 * that does not exist). */
int bundle__parse_time(const char *s, size_t n, int64_t *t);
/* The same form from seconds since the epoch, into buf (at least 21 bytes). */
void bundle__format_time(int64_t t, char *buf, size_t size);

/* Check that this sensor can run m (schema, minimum sensor version); 0 or
 * -EINVAL with a message against manifest_path. */
int bundle_manifest__check_sensor(const struct bundle_manifest *m, const char *manifest_path,
				  struct diag *d);

/* Compare two "MAJOR.MINOR.PATCH" versions into *cmp (<0, 0, >0); -EINVAL
 * when either is not such a version. */
int bundle__version_cmp(const char *a, const char *b, int *cmp);

struct sigma_loader;
struct sign_trust;

/* What a loader demands of bundles beyond their manifest. */
struct bundle_policy {
	const struct sign_trust *trust;	/* required trust: signed by one of its
					 * keys; NULL or not required: any */
	const char *versions_dir;	/* anti-rollback state (anti_rollback.h);
					 * NULL: versions are not checked */
	bool last_known_good;		/* the sensor's own last-known-good copy:
					 * accepted when it was current, so an
					 * older version or an expiry does not
					 * refuse it (both still reported) */
	int64_t now;			/* seconds since the epoch, for expiry;
					 * 0: the clock */
};

/*
 * Load the bundle in dir into ld: manifest (its signature first, when the
 * policy requires one), sensor check, expiry, anti-rollback, the directory
 * walk (unlisted files, links), then each listed file read, hashed and,
 * when it is a rule file, parsed. pol may be NULL (no requirement). On
 * success (and also on failure, as far as the manifest was read) fills
 * info, whose strings are from malloc(): free with content_info__free().
 * Returns 0, or -errno when anything was refused (every problem is in
 * ld->diag). Versions are only checked here; the caller records them
 * (content_version__check_and_persist) once the whole content loaded.
 */
int bundle__load(struct sigma_loader *ld, const char *dir, const struct bundle_policy *pol,
		 struct content_info *info);
void content_info__free(struct content_info *ci);

/* Read a whole regular file (never through a symbolic link) of at most max
 * bytes into *buf (from malloc(), caller frees; NUL-terminated). 0,
 * -EFBIG when larger, or -errno. */
int bundle__read_file(const char *path, size_t max, char **buf, size_t *len);
/* Write all of buf to fd (retrying short writes and EINTR). 0 or -errno. */
int bundle__write_all(int fd, const void *buf, size_t len);
/* Create path exclusively (never through a link), with exactly mode
 * whatever the umask, write buf and fsync; removed again on failure. */
int bundle__write_new(const char *path, unsigned mode, const void *buf, size_t len);
/* Copy in to out until end of file, then fsync out; *total counts the
 * bytes (it may carry a count from earlier files) and -EFBIG stops the
 * copy once it passes max. 0 or -errno. */
int bundle__copy_fd(int in, int out, uint64_t *total, uint64_t max);

struct bundle_write {
	const char *name;
	int64_t version;
	int schema;		/* 0: RW_SCHEMA_VERSION */
	const char *min_sensor;	/* NULL: RW_SENSOR_VERSION */
	bool force;		/* allow a version not above the current one */
	int64_t expires;	/* seconds since the epoch; 0: no expiry */
};

/*
 * Write dir's manifest: every regular file under dir (recursively, hidden
 * ones too, the manifest itself excepted) with its sha256, written to a
 * temporary file, fsync'd and renamed into place, so a reader sees the old
 * manifest or the new one, never half of one. Refuses symbolic links and
 * special files, and a version not above the current manifest's unless
 * w->force. *n_files (may be NULL) gets the number of files listed. A
 * signature of the previous manifest no longer verifies: it is removed
 * (with a note in d), and the bundle must be signed again.
 */
int bundle__write_manifest(const char *dir, const struct bundle_write *w, size_t *n_files,
			   struct diag *d);

/* Write buf as dir/name atomically: a temporary file in dir, fsync'd,
 * given mode, renamed over name, then dir fsync'd. */
int bundle__write_file_atomic(const char *dir, const char *name, const char *buf, size_t len,
			      unsigned mode, struct diag *d);

#endif
