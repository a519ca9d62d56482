/*
 * Protect mode: fanotify permission events, answered within a deadline.
 *
 * One fanotify group of class FAN_CLASS_CONTENT (fd-based events: the
 * kernel does not combine permission events with file handles everywhere
 * we run) holds the opens it must decide on:
 *
 *   - FAN_OPEN_EXEC_PERM on every local filesystem while the running
 *     content has a block rule on process_creation (BLOCK_EXEC);
 *   - FAN_OPEN_PERM on every local filesystem while it has a block rule on
 *     file_access (BLOCK_OPEN): every open on the host waits for us then,
 *     which is why the default content has none;
 *   - FAN_OPEN_PERM on the sensor's own files (binary, content, keys,
 *     state): self-protection, always in protect mode.
 *
 * A thread of its own reads the group and answers, so that no open on the
 * host ever waits for the run loop (which may itself be blocked opening a
 * file we mark, or spawning the engine, whose exec we are asked about):
 *
 *   1. the sensor and its children (engine, output writer): allowed;
 *   2. the sensor's files: opens for writing (the open flags read from
 *      /proc/<tid>/syscall of the blocked thread; unknown counts as
 *      writing) denied, unless by the sensor's own binary (the CLI);
 *      every denial is a `ringward-tamper` alert;
 *   3. the verdict cache: keyed by device, inode, change time and inode
 *      generation, so a file written, renamed over or replaced misses; it
 *      holds only verdicts the engine marked cacheable (every block rule
 *      of the category reads the path alone) and is emptied when content
 *      changes;
 *   4. else the request (the exec with its argv read from the blocked
 *      thread, or the open) goes to the run loop, which enriches it and
 *      asks the engine (supervisor__ask); the engine's verdict answers it.
 *      Past the deadline the default applies: allow, or deny when a block
 *      rule of that category says `fail: closed` (never for the sensor's
 *      processes and binary). Each miss is counted.
 *
 * Threads: the perm thread owns the fanotify fd's reading; everything both
 * threads touch (request slots, the cache, the flags) is under one mutex;
 * the answer to an event is written exactly once, by whichever side moves
 * its slot out of the waiting states.
 */
#ifndef RINGWARD_PERM_SOURCE_H
#define RINGWARD_PERM_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

struct sensor;
struct supervisor;
struct rw_event;

#define PERM_DEADLINE_MS	30	/* default: tens of milliseconds */

struct perm_opts {
	unsigned deadline_ms;		/* 0: PERM_DEADLINE_MS */
	const char *const *protect;	/* files and directory trees to protect */
	int n_protect;
};

struct perm_source;

/* Start (protect mode). NULL with errno when fanotify permission events
 * are not available (reported as the hook "permission"). */
struct perm_source *perm_source__start(struct sensor *s, struct supervisor *sv,
				       const struct perm_opts *o);
/* The engine to ask, once it is set up (before: no engine to ask). */
int perm_source__set_supervisor(struct perm_source *ps, struct supervisor *sv);
/* Answer everything pending (allow), remove the marks, join the thread. */
void perm_source__stop(struct perm_source *ps);

/* Take the running content's block rules (marks, cache): each tick, and
 * when a content-loaded record passes, so that its marks are in place
 * before anyone can read that record. */
void perm_source__refresh(struct perm_source *ps);
/* The engine's verdict (supervisor host callback; run loop). */
void perm_source__verdict(struct perm_source *ps, uint64_t id, uint32_t bits);
/* What became of request id, for the alert the verdict follows:
 * "denied", "allowed: deadline missed", ... (static strings). */
const char *perm_source__outcome(struct perm_source *ps, uint64_t id, bool deny);

#endif
