/*
 * Bundle archives: a content bundle directory (engine/bundle.h) as the one
 * file a repository serves as a target (update/repo.h) and the updater
 * unpacks into a staging directory. The archive carries the bundle's files
 * as they are, manifest and signature included, so the sensor loads the
 * unpacked directory with its normal loader: signature, every file's
 * sha256, then the rules.
 *
 * Format, all integers big-endian, nothing optional:
 *
 *   magic     8 bytes   "RWBUNDL1"
 *   count     u32       number of files, 1..ARCHIVE_MAX_FILES
 *   count times:
 *     plen    u16       1..BUNDLE_MAX_PATH
 *     path    plen bytes: relative, '/'-separated; every component
 *                       non-empty, not "." or "..", no byte below 0x20,
 *                       no 0x7f, no '\'
 *     size    u32       0..ARCHIVE_MAX_FILE
 *     data    size bytes
 *
 * The archive ends right after the last file. Paths are in strictly
 * increasing byte order: no path twice, and one directory packs to exactly
 * one archive (same bytes, same sha256). There are no directories, links,
 * modes or owners: directories follow from the paths, files unpack as 0644
 * and directories as 0755. BUNDLE_MANIFEST must be one of the files.
 *
 * Errors: 0 or -errno, with one message in the struct tuf_err.
 */
#ifndef RINGWARD_ARCHIVE_H
#define RINGWARD_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/bundle.h"
#include "update/tuf.h"

#define ARCHIVE_MAGIC		"RWBUNDL1"
#define ARCHIVE_MAX_FILES	(BUNDLE_MAX_FILES + 2)	/* + manifest and signature */
#define ARCHIVE_MAX_FILE	BUNDLE_MAX_FILE_SIZE
#define ARCHIVE_MAX_TOTAL	TUF_MAX_TARGET_LEN
#define ARCHIVE_SUFFIX		".rwb"

struct archive_entry {
	const char *path;	/* not NUL-terminated: path_len bytes */
	size_t path_len;
	const uint8_t *data;
	size_t size;
};

/* Called for each file in order; non-zero stops the walk and is returned. */
typedef int (*archive_entry_fn)(void *ctx, const struct archive_entry *ent);

/* Check the whole of buf[0..len) (every bound, path and order; the
 * manifest present) and then, only when it all holds, call cb (may be
 * NULL) for each file. 0, -EINVAL with the message, or cb's value. Bounded
 * by len: no allocation. */
int archive__walk(const uint8_t *buf, size_t len, archive_entry_fn cb, void *ctx,
		  struct tuf_err *e);

/* Pack the regular files under dir (recursively, hidden ones included)
 * into *out (from malloc(), caller frees). Refuses symbolic links and
 * special files, and anything over the limits. */
int archive__pack(const char *dir, uint8_t **out, size_t *len, struct tuf_err *e);

/* Unpack buf into dir, which must not exist: made 0755, every file made
 * with O_EXCL and O_NOFOLLOW under directories made here, then fsync'd.
 * On failure nothing of dir is left. */
int archive__unpack(const uint8_t *buf, size_t len, const char *dir, struct tuf_err *e);

/* rm -rf dir, never following links (for staging directories). */
int archive__remove_tree(const char *dir);

#endif
