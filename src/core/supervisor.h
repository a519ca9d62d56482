/*
 * The supervisor: the part of the privileged core that runs the engine
 * process and recovers from its failures. It never parses content; it
 * hashes content files to tell versions apart, and reads only the records
 * the engine hands back, each checked (core/shm_ring.h).
 *
 * Everything happens on the core's 5 ms tick and never blocks it:
 *
 *   - spawn: fork+exec of the core's own binary (`ringward engine`), the
 *     shared memory and a wakeup eventfd inherited, nothing else;
 *   - feed: events go into the shared ring; the engine is woken once per
 *     tick, not per event;
 *   - detect: exit or any signal (waitid on a pidfd), a hang (heartbeat
 *     still for hang_ms; load_timeout_ms while loading), runaway memory
 *     (private RSS over mem_mb; the engine also has RLIMIT_AS);
 *   - restart with exponential backoff (backoff_min_ms doubling up to
 *     backoff_max_ms, back to the minimum after stable_s of running),
 *     writing an `engine-failed` state record with the cause and the rule
 *     being evaluated;
 *   - content versions (the sha256 of the content's files and names): K
 *     failures within T of activating version V (persisted in state_dir,
 *     so they count across sensor restarts) mark V bad; the engine
 *     restarts on the last-known-good content, an alert
 *     `ringward-content-rollback` names V, the cause and the rule, and V is
 *     refused from then on (also after a restart of the sensor);
 *   - last-known-good: content that ran lkg_after_s without being marked
 *     bad is saved by the engine (engine/content_store.h) under
 *     state_dir/content;
 *   - a poison event (in flight at K failures in a row on the same
 *     content with no rollback left) is skipped and counted, so one
 *     event cannot stop evaluation for good.
 *
 * The state file (state_dir/supervisor.state, 0600, written atomically:
 * temporary file, fsync, rename, directory fsync, under a lock) also holds
 * the record of unclean starts behind safe mode (supervisor__boot).
 *
 * Errors: 0 or -errno; constructors return NULL and set errno.
 */
#ifndef RINGWARD_SUPERVISOR_H
#define RINGWARD_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/ecs_out.h"
#include "common/event.h"
#include "core/sensor.h"

#define SV_STATE_DIR		"/var/lib/ringward"
#define SV_ID_LEN		72	/* "sha256:" + 64 hex + NUL */

struct supervisor_opts {
	const char *engine_exe;		/* NULL: the core's own binary */
	const char *state_dir;		/* NULL: SV_STATE_DIR */
	const char *const *content;	/* the operator's content paths */
	int n_content;
	const char *placeholders;	/* or NULL */
	const char *trusted_keys;	/* key file or directory of *.pub: only
					 * bundles signed by one load; or NULL */
	bool content_off;		/* safe mode: run no engine at all */
	unsigned hang_ms;		/* 0: 2000 */
	unsigned load_timeout_ms;	/* 0: 60000 */
	unsigned mem_mb;		/* 0: 512 */
	unsigned failures;		/* K; 0: 3 */
	unsigned window_s;		/* T; 0: 60 */
	unsigned lkg_after_s;		/* 0: T */
	unsigned backoff_min_ms;	/* 0: 10 */
	unsigned backoff_max_ms;	/* 0: 5000 */
	unsigned stable_s;		/* 0: 60 */
	size_t ring_bytes;		/* 0: 64 MiB */
	unsigned test_faults;		/* FAULT_* (engine/fault.h); 0 in production */
};

/* What the supervisor needs from its host (the sensor, or a benchmark). */
struct supervisor_host {
	void *ctx;
	/* Write a record the supervisor built or received from the engine
	 * (checked): the host adds its sequence and host fields. */
	void (*write)(void *ctx, struct rw_event *rec);
	/* An engine process started (alive) or was reaped (!alive), so the
	 * host can watch what is done to it (signals); may be NULL. */
	void (*engine_pid)(void *ctx, pid_t pid, bool alive);
	/* The engine's verdict on request id (VERDICT_* bits); may be NULL. */
	void (*verdict)(void *ctx, uint64_t id, uint32_t bits);
};

struct supervisor;

/* Set up the shared memory and state; starts the engine unless content is
 * off. NULL with errno on failure (the sensor then runs without
 * detection and says so). */
struct supervisor *supervisor__new(const struct supervisor_opts *o,
				   const struct supervisor_host *host);
/* Stop the engine: it finishes what is in the ring, for at most max_ms;
 * then it is killed. Alerts it wrote are handed to the host. */
void supervisor__stop(struct supervisor *sv, unsigned max_ms);
void supervisor__free(struct supervisor *sv);

/* Queue one enriched event for evaluation (hot path: a copy into the
 * ring, no syscall). Counted as drops.engine.ring_full when the ring is
 * full; ignored when content is off. */
void supervisor__feed(struct supervisor *sv, const struct rw_event *ev);
/* The 5 ms tick: wake the engine, hand its alerts and records to the
 * host, watch its health, restart it when due. */
void supervisor__tick(struct supervisor *sv);
/* Protect mode: ask the engine for a verdict on ev (an exec or open held
 * by a fanotify permission event): it evaluates the block rules only, and
 * host.verdict(id, bits) follows, possibly never (a dead engine): the
 * caller keeps the deadline. Wakes the engine at once. -ENOTCONN when
 * content is off, -ENOSPC when the ring is full. */
int supervisor__ask(struct supervisor *sv, const struct rw_event *ev, uint64_t id);
/* An eventfd the engine writes after a verdict; on readable, call
 * supervisor__on_reply (drains the alert ring now, verdicts included). */
int supervisor__reply_fd(const struct supervisor *sv);
void supervisor__on_reply(struct supervisor *sv);
/* BLOCK_* (core/shm_ring.h) of the running content and its generation
 * (changes when new content is swapped in): 0 when content is off. */
uint32_t supervisor__block_flags(struct supervisor *sv, uint64_t *gen);

/* The health of the running content since it was activated: what a
 * staged rollout judges a version by (issue 6). */
struct sv_health {
	char version[SV_ID_LEN];	/* the content id */
	char label[128];		/* bundle name@version, or "" */
	bool last_known_good;		/* running the LKG copy */
	int64_t activated_ns;		/* unix ns */
	uint64_t engine_restarts;	/* since activation */
	uint64_t engine_failures;	/* failures recorded on this version */
	uint64_t rule_errors;		/* rules disabled out of bounds, regex errors */
	uint64_t events, eval_ns;	/* evaluated since activation, and their cost */
	uint64_t rollbacks;		/* content rollbacks since the sensor started */
};
/* -ENOENT while no content runs. */
int supervisor__content_health(struct supervisor *sv, struct sv_health *h);

/* The content repository revoked the configured content (a halt or the
 * kill switch): it is marked bad like a version that crashed the engine
 * (persisted, refused from then on), a `ringward-content-revoked` alert
 * says so, and the engine goes to the last-known-good content. */
int supervisor__revoke(struct supervisor *sv, const char *why);

/* The content changed or a reload was asked for. */
void supervisor__reload(struct supervisor *sv);

/* Counters the supervisor keeps (engine.*, content.*, drops.engine.*):
 * set into c[] (indexed by enum rw_counter). */
void supervisor__counters(struct supervisor *sv, uint64_t c[RW_C__COUNT]);
/* Append `"engine":{...},"content":{...}` to a JSON object being built. */
void supervisor__status_json(struct supervisor *sv, struct strbuf *sb);
/* Health of detection: 0 ok, 1 degraded, 2 failing; each reason is
 * appended to sb as a JSON string preceded by a comma when sb is not at
 * the start of the array (*first tracks that). */
int supervisor__health(struct supervisor *sv, struct strbuf *sb, bool *first);
/* The engine's pid, or 0. */
pid_t supervisor__engine_pid(const struct supervisor *sv);
/* True unless an engine is running that has not finished loading its
 * content yet (no engine, one evaluating, or one in its backoff). */
bool supervisor__settled(const struct supervisor *sv);
/* The version id of the active content, or "" (a pointer into sv). */
const char *supervisor__active(const struct supervisor *sv);

/* ---- boot accounting (safe mode) ---- */

struct boot_info {
	unsigned unclean;	/* earlier starts in a row that did not stop cleanly */
	bool safe_mode;		/* unclean >= the limit */
};
/* Count earlier unclean starts (sensors that started and neither stopped
 * cleanly nor ran stable_s) and record this start. Never blocks for long:
 * a lock held elsewhere is waited for at most 1 s. */
int supervisor__boot(const char *state_dir, unsigned safe_after, struct boot_info *out);
/* This sensor stopped cleanly, or has run long enough (stable): the
 * streak of unclean starts ends. */
void supervisor__boot_clean(const char *state_dir, bool stopping);

/* The version id of content (sha256 over every regular file beneath the
 * paths, with its relative name; and the placeholders file), into out.
 * Reads bytes, parses nothing. */
int supervisor__content_id(const char *const *paths, int n, const char *placeholders,
			   char out[SV_ID_LEN]);

#endif
