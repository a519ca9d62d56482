/*
 * Quarantine: a file taken out of the way by `action: quarantine`, kept
 * with everything needed to put it back exactly as it was.
 *
 * The quarantine directory (default QUARANTINE_DIR) is root's: mode 0700,
 * owned by the sensor's user, never a symbolic link (refused otherwise).
 * Each quarantined file is two entries in it, named by a random id:
 *
 *   ID.json   the sidecar: original path, sha256, size, owner, group,
 *             mode, access and modification times (ns), the rule, the
 *             time of quarantine (JSON; written first, atomically)
 *   ID.data   the file itself, its execute (and set-id) bits stripped
 *
 * The file is moved (rename) when the directory is on the same
 * filesystem; otherwise copied (its bytes hashed again on the way: a file
 * that changes meanwhile is not quarantined half-written), fsync'd, given
 * its owner, mode (minus execute bits) and times, and only then is the
 * original unlinked, if it is still the same file. A crash leaves either
 * the file where it was (and a sidecar without data, shown by `list`) or
 * the file quarantined.
 *
 * Restore puts the file back at its original path, refusing to overwrite
 * anything there (RENAME_NOREPLACE, or a link when the filesystem lacks
 * it), after checking that its sha256 is still the one recorded; then
 * owner, mode and times are set back. Across filesystems it is copied to
 * a temporary name beside the original path first.
 *
 * Extended attributes, ACLs and hard links other than the path given are
 * not kept.
 *
 * Errors: 0 or -errno.
 */
#ifndef RINGWARD_QUARANTINE_H
#define RINGWARD_QUARANTINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define QUARANTINE_DIR		"/var/lib/ringward/quarantine"
#define QUARANTINE_ID_LEN	16	/* hex digits */
#define QUARANTINE_ID_SIZE	(QUARANTINE_ID_LEN + 1)

struct quarantine_entry {
	char id[QUARANTINE_ID_SIZE];
	char *path;		/* the original path; from malloc() */
	char *rule_id;		/* from malloc(); NULL when none */
	char sha256[65];	/* hex */
	int64_t size;
	uid_t uid;
	gid_t gid;
	mode_t mode;		/* the original mode (permission and set-id bits) */
	int64_t atime_sec, atime_nsec, mtime_sec, mtime_nsec;
	int64_t quarantined_at;	/* seconds since the epoch */
	bool data_present;	/* ID.data is there (false: interrupted) */
};

/*
 * Quarantine the regular file at path (never through a symbolic link) for
 * rule_id (may be NULL) into qdir (NULL: QUARANTINE_DIR, created when
 * missing). id_out (QUARANTINE_ID_SIZE bytes) gets the id. -EINVAL for
 * anything but a regular file, -EAGAIN when the file changed or moved
 * while being quarantined (it stays where it is), -EPERM when qdir is not
 * a private directory of this user.
 */
int quarantine__file(const char *qdir, const char *path, const char *rule_id, char *id_out);

/* Put file id back (see above). -ENOENT: no such id; -EEXIST: something
 * is at the original path (nothing changed); -EBADMSG: the quarantined
 * copy no longer has its recorded sha256. On success *e (may be NULL)
 * gets the entry restored: free it with quarantine_entry__free(). */
int quarantine__restore(const char *qdir, const char *id, struct quarantine_entry *e);

/* The entry of one id (sidecar read and checked). */
int quarantine__read(const char *qdir, const char *id, struct quarantine_entry *e);
void quarantine_entry__free(struct quarantine_entry *e);

/* Every entry, oldest first, into *v (from malloc(); free with
 * quarantine_entries__free()). A missing directory is an empty list. */
int quarantine__list(const char *qdir, struct quarantine_entry **v, size_t *n);
void quarantine_entries__free(struct quarantine_entry *v, size_t n);

/* An entry as a JSON object text (from malloc(), caller frees). */
char *quarantine_entry__json(const struct quarantine_entry *e);

#endif
