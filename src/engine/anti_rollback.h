/*
 * Anti-rollback: the highest content version accepted per bundle name,
 * kept on disk, so that an older bundle (even one correctly signed, which
 * an attacker may have kept from the past: a bundle before a detection was
 * added, or with a rule since fixed) is refused.
 *
 * One file, <dir>/content-versions, text, one "NAME VERSION" per line:
 *
 *   # ringward anti-rollback: the highest version accepted per bundle name
 *   ringward-default 20250101120000
 *
 * written atomically (temporary file, fsync, rename, fsync of the
 * directory) under a lock (<dir>/.content-versions.lock, flock, waited for
 * at most a second: loading content never hangs on it). A damaged file is
 * an error, never read as "no versions" (which would let any old bundle
 * in). The directory is the caller's choice: the engine process can write
 * only beneath its content store, so that is where the sensor keeps it.
 *
 * Errors: 0 or -errno.
 */
#ifndef RINGWARD_ANTI_ROLLBACK_H
#define RINGWARD_ANTI_ROLLBACK_H

#include <stdint.h>

#define CONTENT_VERSIONS_FILE	"content-versions"
#define CONTENT_VERSIONS_MAX	4096		/* bundle names remembered */

/* The highest version recorded for bundle_name into *highest (0 when none
 * is). -EBADMSG when the file is damaged, or -errno. */
int content_version__highest(const char *state_dir, const char *bundle_name, int64_t *highest);

/*
 * Accept version of bundle_name: -ESTALE (nothing written) when it is
 * older than the highest recorded; otherwise 0, having recorded it when it
 * is higher. The directory is created (0700) when missing. -EBADMSG when
 * the file is damaged, -EAGAIN when the lock stays held, or -errno.
 */
int content_version__check_and_persist(const char *state_dir, const char *bundle_name,
				       int64_t version);

#endif
