/*
 * The updater, core side: a separate unprivileged process (`ringward
 * updater`, src/update/updater.c) polls the content repository, verifies
 * the whole TUF chain and the rollout document, and stages the bundle this
 * host should run; the core only reads its short messages and activates
 * what it staged through the engine's normal reload and last-known-good
 * path. A repository that is down, slow, hostile or endless never touches
 * the core: the updater reports the failure and the content stays.
 *
 * The process: forked and exec'd by the core (`ringward updater`) with a
 * pipe each way, as uid/gid 65534 with no capabilities and no_new_privs,
 * its state directory (TUF trusted metadata, staging) owned by that uid.
 * It exits with the core (PR_SET_PDEATHSIG) and is restarted with backoff
 * when it dies.
 *
 * Messages, updater -> core, one per line, fields separated by one space,
 * the last field may hold spaces; anything else is counted and ignored:
 *   checked REPO_VERSION RING CHOSEN_VERSION REASON   a poll succeeded
 *   failed REASON                                      a poll failed (the
 *                                                      precise refusal)
 *   stage NAME VERSION DIR                             a verified bundle,
 *                                                      unpacked in DIR (under
 *                                                      STATE/staged/)
 *   revoke NAME VERSION REASON                         the running version
 *                                                      must not run (halt,
 *                                                      kill switch)
 *   sandbox TEXT                                       what confines it (once,
 *                                                      before its first poll)
 *   kill-rules N [ID...]                               the kill switch's rule
 *                                                      ids (N of them; 0:
 *                                                      none), sent when they
 *                                                      change
 * core -> updater:
 *   running NAME VERSION          the content now running (after a load)
 *   rolled-back NAME VERSION      this host rolled back from that version
 *
 * Errors: 0 or -errno; constructors return NULL and set errno.
 */
#ifndef RINGWARD_UPDATE_PROC_H
#define RINGWARD_UPDATE_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sensor;

struct update_opts {
	const char *url;	/* repository base URL, http:// or https:// */
	const char *root;	/* the trusted root metadata to start from */
	const char *state_dir;	/* the updater's own: trusted metadata, staging */
	const char *host_id;	/* the stable host id (rollout ring) */
	const char *group;	/* the operator's group, or NULL ("default") */
	const char *ca_file;	/* CA bundle for https, or NULL: the system's */
	unsigned interval_s;	/* between polls; 0: 300 */
	unsigned timeout_s;	/* per request; 0: 30 */
	uint64_t max_bytes;	/* cap on a target's size; 0: 64 MiB */
};

struct update_host {
	void *ctx;
	/* Make the bundle in dir (verified, unpacked) the running content. */
	void (*activate)(void *ctx, const char *dir, const char *name, int64_t version);
	/* The repository says the running version must not run: roll back. */
	void (*revoke)(void *ctx, const char *name, int64_t version, const char *why);
	/* The kill switch's rule ids (n may be 0: none any more). */
	void (*kill_rules)(void *ctx, const char *const *ids, size_t n);
};

struct update_proc;

/* Start the updater process; it writes update-* records through the
 * sensor (sensor__write) as its messages arrive. */
struct update_proc *update_proc__start(struct sensor *s, const struct update_opts *o,
				       const struct update_host *h);
void update_proc__stop(struct update_proc *u);
/* Tell the updater what runs now, or what this host rolled back from. */
void update_proc__running(struct update_proc *u, const char *name, int64_t version);
void update_proc__rolled_back(struct update_proc *u, const char *name, int64_t version);
/* The ring the repository's rollout document puts this host in, or "". */
const char *update_proc__ring(const struct update_proc *u);

#endif
