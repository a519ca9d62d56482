/*
 * The memory the privileged core shares with the engine process, and the
 * two rings in it.
 *
 * Two memfds, both created and sealed by the core (never resized):
 *
 *   ring  the event ring's data. The core maps it read-write and then
 *         seals it against any further writable mapping
 *         (F_SEAL_FUTURE_WRITE): the engine can only map it read-only,
 *         so a compromised engine cannot alter what it is fed, nor what
 *         the core reads back from it (a record's length when it skips a
 *         poison event).
 *   ctl   one page of control (struct engine_ctl: both rings' indexes,
 *         the engine's heartbeat, the rule being evaluated, its counters,
 *         its sandbox report), two tables naming the rules of the loaded
 *         sets, and the alert ring's data. Both map it read-write. The
 *         core treats every byte of it as hostile input: it keeps its own
 *         copy of every index it owns, and checks every index and record
 *         it reads from there.
 *
 * Each ring is single producer, single consumer: positions are byte
 * counters that only grow (a slot is pos % size); the producer publishes
 * with a release store after the record is written, the consumer advances
 * with a release store after the record is done with. Records are
 * contiguous: one that does not fit before the end is preceded by a PAD
 * record to the end.
 *
 * Event ring: the core produces; the engine consumes, and advances its
 * position only after an event is fully evaluated and its alerts are in
 * the alert ring. An engine that dies loses nothing: the next one resumes
 * at the same event. Events wait in the ring while no engine runs; they are
 * lost only when it is full (the caller counts drops.engine.ring_full).
 * Control records (reload, save the last-known-good, stop) travel in the
 * same ring, so they apply exactly between the events they were issued
 * between.
 *
 * Alert ring: the engine produces alerts and its records (content loaded,
 * failed, ...); the core consumes them on its tick and writes them out.
 *
 * Wire format of a record (all little-endian, host layout: the core and
 * the engine are the same binary, checked by magic, layout and schema):
 *   struct wire_hdr, then for an event n_values struct rw_value (one per
 *   present field, in field order), then arena_used bytes of the event's
 *   arena, then padding to a multiple of 8. Control records carry an
 *   optional payload of arena_used bytes after the header.
 *
 * Errors: 0 or -errno; -ENOSPC when a ring is full, -EPROTO when shared
 * state is inconsistent (the other side is broken or hostile).
 */
#ifndef RINGWARD_SHM_RING_H
#define RINGWARD_SHM_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/event.h"

#define ENGINE_SHM_MAGIC	0x31474e4952575241ULL	/* "ARWRING1" */
#define ENGINE_SHM_LAYOUT	2
#define ENGINE_CTL_HDR		4096		/* bytes of struct engine_ctl's page */
#define ENGINE_RULE_SLOTS	20000		/* rules named per table (SIGMA_MAX_RULES) */
#define ENGINE_ALERT_RING	(8u << 20)	/* bytes of the alert ring */
#define ENGINE_RING_MIN		(1u << 20)
#define ENGINE_RING_MAX		(1u << 30)
#define ENGINE_NO_RULE		UINT32_MAX
#define ENGINE_LABEL		128

enum wire_type {
	WIRE_PAD = 1,		/* filler to the end of the ring */
	WIRE_EVENT,		/* core -> engine: an enriched event; tag = sequence */
	WIRE_RELOAD,		/* core -> engine: load aside, swap in; tag = generation,
				 * tag2 = ENGINE_CONTENT_* */
	WIRE_SAVE_LKG,		/* core -> engine: save the running content as LKG; tag = seq */
	WIRE_STOP,		/* core -> engine: exit 0 once here */
	WIRE_ALERT,		/* engine -> core: tag = the event's ring position,
				 * tag2 = rule index */
	WIRE_RECORD,		/* engine -> core: a state record; tag = generation */
	WIRE_VERDICT_Q,		/* core -> engine: an exec or open waiting for a
				 * verdict (an event, only block rules evaluated);
				 * tag = request id */
	WIRE_VERDICT,		/* engine -> core: tag = request id, tag2 = VERDICT_*;
				 * after the alert of the rule that blocked it */
};

/* A verdict (WIRE_VERDICT tag2). */
#define VERDICT_DENY		(1u << 0)	/* a block rule matched */
#define VERDICT_CACHEABLE	(1u << 1)	/* every block rule of the category
						 * reads only the file's path: the
						 * same file gets the same verdict */

/* The running set's block rules (engine_ctl.block_flags). */
#define BLOCK_EXEC		(1u << 0)	/* a block rule on process_creation */
#define BLOCK_EXEC_FAIL_CLOSED	(1u << 1)	/* ... one of them says fail: closed */
#define BLOCK_EXEC_CACHEABLE	(1u << 2)	/* ... all read only Image */
#define BLOCK_OPEN		(1u << 3)	/* a block rule on a file category */
#define BLOCK_OPEN_FAIL_CLOSED	(1u << 4)
#define BLOCK_OPEN_CACHEABLE	(1u << 5)

/* Which content a load uses: the operator's paths or the LKG copy. */
enum { ENGINE_CONTENT_CONFIGURED, ENGINE_CONTENT_LKG };

struct wire_hdr {
	uint32_t len;		/* bytes of the record, header included; multiple of 8 */
	uint16_t type;		/* enum wire_type */
	uint16_t n_values;	/* events: values that follow */
	uint64_t tag;
	uint32_t tag2;
	uint32_t arena_used;	/* events: arena bytes that follow the values */
	uint64_t present[(RW_F__COUNT + 63) / 64];
};

struct ring_idx {
	_Alignas(64) _Atomic uint64_t prod;
	_Alignas(64) _Atomic uint64_t cons;
};

enum engine_phase {
	ENGINE_PHASE_NONE,	/* not started */
	ENGINE_PHASE_SANDBOX,	/* entering its sandbox */
	ENGINE_PHASE_LOADING,	/* loading content (loading_gen) */
	ENGINE_PHASE_RUNNING,	/* evaluating */
	ENGINE_PHASE_SAVING,	/* saving the last-known-good copy */
};

/* Why an engine ended on purpose (set just before it dies). */
enum engine_note {
	ENGINE_NOTE_NONE,
	ENGINE_NOTE_OOM,	/* an allocation failed (RLIMIT_AS) */
	ENGINE_NOTE_SANDBOX,	/* the sandbox could not be set up: no content ran */
	ENGINE_NOTE_PROTOCOL,	/* the shared memory did not check out */
};

/* The engine's sandbox, as it reports it. */
#define SANDBOX_CAPS		(1u << 0)	/* every capability set empty */
#define SANDBOX_NNP		(1u << 1)	/* no_new_privs */
#define SANDBOX_SECCOMP		(1u << 2)	/* seccomp allow-list loaded */
#define SANDBOX_LANDLOCK	(1u << 3)	/* landlock ruleset enforced */
#define SANDBOX_RLIMITS		(1u << 4)

/* Counters the engine keeps; the core adds those of engines gone by. */
enum engine_stat {
	ES_EVENTS, ES_EVALUATIONS, ES_MATCHES, ES_ALERTS, ES_EVAL_NS,
	ES_DISABLED_OOB, ES_BAD_VALUES, ES_RE_ERRORS, ES_DECODE_ERRORS,
	ES__COUNT
};

struct engine_ctl {
	uint64_t magic;
	uint32_t layout;
	uint32_t schema;	/* RW_F__COUNT << 8 | RW_SCHEMA_VERSION */
	uint64_t ring_size;	/* bytes of the event ring (the other memfd) */
	uint64_t alert_off, alert_size;	/* in this memfd */
	uint64_t rules_off;	/* two tables of ENGINE_RULE_SLOTS rule_slot */
	uint64_t ctl_size;	/* bytes of this memfd */

	struct ring_idx ev;	/* prod: core; cons: engine */
	struct ring_idx al;	/* prod: engine; cons: core */

	/* written by the engine */
	_Alignas(64) _Atomic uint64_t heartbeat;	/* bumped per event and per wakeup */
	_Atomic uint32_t phase;		/* enum engine_phase */
	_Atomic uint32_t busy;		/* evaluating the event at ev.cons */
	_Atomic uint32_t cur_rule;	/* index in the active table, or ENGINE_NO_RULE */
	_Atomic uint32_t table;		/* active rule table: 0 or 1 */
	_Atomic uint32_t n_rules[2];	/* rules in each table */
	_Atomic uint32_t note;		/* enum engine_note */
	_Atomic uint32_t sandbox;	/* SANDBOX_* in force */
	_Atomic int32_t landlock_abi;	/* 0: not available */
	_Atomic uint64_t loading_gen;	/* generation being loaded */
	_Atomic uint64_t loaded_gen;	/* generation of the running set (0: none) */
	_Atomic uint64_t load_done_gen;	/* last generation whose load finished */
	_Atomic int32_t load_result;	/* of load_done_gen: 0 or -errno */
	_Atomic uint32_t loaded_rules;	/* rules in the running set */
	_Atomic uint64_t lkg_done_seq;	/* last SAVE_LKG finished */
	_Atomic int32_t lkg_result;	/* of lkg_done_seq: 0 or -errno */
	_Atomic uint64_t st[ES__COUNT];
	_Atomic uint32_t block_flags;	/* BLOCK_* of the running set */
	char label[2][ENGINE_LABEL];	/* per table: bundle name@version, or "" */
	char sandbox_why[256];		/* what is missing from the sandbox, or "" */
};

_Static_assert(sizeof(struct engine_ctl) <= ENGINE_CTL_HDR, "engine_ctl must fit its page");

struct rule_slot {
	char id[40];		/* Sigma id (a UUID), NUL-terminated, or "" */
	char title[88];		/* truncated, NUL-terminated */
};

/* One side's view of one ring. */
struct shm_ring {
	struct ring_idx *idx;	/* in the ctl memfd */
	uint8_t *data;
	uint64_t size;		/* power of two */
	uint64_t mine;		/* the index this side owns (prod or cons) */
	bool producer;
};

/* The mappings of one side. */
struct engine_shm {
	int ctl_fd, ring_fd;	/* memfds (-1 when not open) */
	struct engine_ctl *ctl;	/* mapping of ctl_fd */
	size_t ctl_len;
	uint8_t *ring;		/* mapping of ring_fd */
	size_t ring_len;
	struct shm_ring ev, al;
};

/* Core: create both memfds (ring_bytes rounded up to a power of two within
 * ENGINE_RING_MIN..MAX), map them, initialise, seal. */
int engine_shm__create(struct engine_shm *m, size_t ring_bytes);
/* Engine: map memfds inherited from the core (the ring read-only) and
 * check magic, layout, schema and sizes. */
int engine_shm__attach(struct engine_shm *m, int ctl_fd, int ring_fd);
void engine_shm__close(struct engine_shm *m);
/* Rule table t (0 or 1); ENGINE_RULE_SLOTS entries. */
struct rule_slot *engine_shm__rules(struct engine_shm *m, unsigned t);

/* Bind a ring view: producer or consumer side; `mine` starts from the
 * shared index. */
void shm_ring__init(struct shm_ring *r, struct ring_idx *idx, uint8_t *data, uint64_t size,
		    bool producer);
/* Bytes in use (producer: from its own position and the shared cons;
 * consumer: from its own cons and the shared prod). -EPROTO when the
 * other side's index is out of range. */
int64_t shm_ring__used(const struct shm_ring *r);
/* Producer: the records of this type still waiting for the consumer, or
 * -EPROTO when the waiting part does not check out (the consumer's index
 * or a record's length out of range). Bounded by the ring's size. */
int64_t shm_ring__pending(const struct shm_ring *r, uint16_t type);

/* Bytes one event takes on the wire. */
size_t wire__event_size(const struct rw_event *ev);
/* Producer: append an event record. -ENOSPC when full (nothing written). */
int shm_ring__put_event(struct shm_ring *r, uint16_t type, uint64_t tag, uint32_t tag2,
			const struct rw_event *ev);
/* Producer: append a control record with an optional payload. */
int shm_ring__put(struct shm_ring *r, uint16_t type, uint64_t tag, uint32_t tag2,
		  const void *payload, uint32_t n);

/* Consumer: the next record (PAD skipped), or NULL when empty; *err gets
 * -EPROTO (and NULL is returned) when the ring does not check out. The
 * record stays valid until shm_ring__pop(). *pos gets its position. */
const struct wire_hdr *shm_ring__peek(struct shm_ring *r, uint64_t *pos, int *err);
/* Consumer, when the other side is not trusted: copy the next record (PAD
 * skipped) into buf and consume it. Returns its length, 0 when empty,
 * -E2BIG when it is larger than cap (consumed, not copied), -EPROTO. */
int shm_ring__take(struct shm_ring *r, void *buf, size_t cap, uint64_t *pos);
/* Consumer: done with the record peeked. */
void shm_ring__pop(struct shm_ring *r, const struct wire_hdr *h);

/* Decode an event record into ev (reset here), checking every length and
 * offset against the record. With WIRE_NO_RAW, RAW fields (preformatted
 * JSON) are refused: they are never accepted from the engine. 0 or
 * -EPROTO. */
#define WIRE_NO_RAW	1u
int wire__decode_event(const struct wire_hdr *h, struct rw_event *ev, unsigned flags);
/* A control record's payload (arena_used bytes after the header), or NULL. */
const void *wire__payload(const struct wire_hdr *h, uint32_t *n);

#endif
