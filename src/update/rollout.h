/*
 * The rollout document: which content version each host runs, and when.
 *
 * It is the target "rollout.json" of the repository (update/tuf.h): listed
 * with its length and sha256 in the targets metadata, so it is signed by
 * the targets key, and as fresh as the timestamp (a change reaches every
 * host at its next poll). The publisher stages it with `ringward repo
 * publish --rollout FILE`; the controller rewrites it to promote and halt.
 *
 *   {
 *     "_type": "rollout",
 *     "version": 7,                       document version, >= 1
 *     "salt": "fleet-2024-07",            host -> ring assignment; rotate to
 *                                         pick other canaries
 *     "rings": [                          2..ROLLOUT_MAX_RINGS, in order
 *       {"name": "canary", "hosts_bp": 100,     share of hosts in basis
 *                                               points (1/100 %); all sum
 *                                               to exactly 10000
 *        "bake_seconds": 86400,                 minimum time on this ring
 *                                               before the next may start
 *        "urgent_bake_seconds": 3600,           the same for urgent releases
 *                                               (default: bake_seconds)
 *        "gates": {"max_engine_restarts": 0,    health gates the controller
 *                  "max_rule_errors": 0,        applies before promoting
 *                  "max_drop_ppm": 1000,        (each optional; absent: no
 *                  "max_cpu_permille": 50,      gate)
 *                  "min_hosts": 10}},
 *       {"name": "early", "hosts_bp": 1000, "bake_seconds": 86400},
 *       {"name": "broad", "hosts_bp": 8900}       the last ring bakes for nothing
 *     ],
 *     "releases": [                       content versions, any order
 *       {"version": 12, "target": "ringward-default-12.rwb",
 *        "urgent": false,
 *        "rings": {"canary": "2024-07-18T00:00:00Z",   when the controller
 *                  "early": "2024-07-19T00:00:00Z"}},  promoted it to a ring
 *       {"version": 13, "target": "ringward-default-13.rwb",
 *        "halted": "engine restarts in canary: 41 hosts",
 *        "rings": {"canary": "2024-07-19T04:09:00Z"}}
 *     ],
 *     "groups": {                         operators' policies per host group
 *       "default":  {"policy": "latest"},
 *       "db":       {"policy": "n-1",
 *                    "windows": [{"days": ["sat", "sun"],
 *                                 "start": "02:00", "end": "05:00"}]},
 *       "payments": {"policy": "pin", "version": 12},
 *       "lab":      {"policy": "pause"}
 *     },
 *     "kill_switch": {"versions": [13], "rules": ["<sigma rule id>", ...]}
 *   }
 *
 * Rings. A host's ring follows from sha256(salt, 0x00, host id): its first
 * 8 bytes, big-endian, modulo 10000, against the rings' cumulative shares
 * (rollout__ring). The same hosts stay canaries until the salt changes.
 *
 * When a release reaches a ring. Ring 0 from its "rings" time; ring i from
 * the later of its own time and the time ring i-1 was reached plus ring
 * i-1's bake (urgent_bake for an urgent release). A ring without a time is
 * not reached, nor any ring after it. So even a document that lists every
 * ring at once moves one ring per bake: nothing reaches every host in one
 * step, urgent content included (bakes are at least ROLLOUT_MIN_BAKE).
 *
 * Which version a host runs (rollout__select). The candidates are the
 * releases that reached the host's ring, are not halted, not killed, and
 * not among the versions this host itself rolled back from. Then by the
 * group's policy (an unknown group uses "default"; without one, latest):
 *   latest      the newest candidate;
 *   n-1, n-2    one or two candidates behind the newest (the oldest when
 *               there are fewer);
 *   pin         exactly that version, rings notwithstanding (an operator's
 *               explicit choice), unless halted or killed: then as n-1 from
 *               below it;
 *   pause       stay on the current version.
 * Maintenance windows (UTC; "days" optional, default every day; a window
 * whose end is before its start runs past midnight): outside every window
 * the host stays on its current version. Whatever the policy or window, a
 * current version that is halted, killed or bad for this host is left at
 * once for the newest candidate below it.
 *
 * Kill switch: killed versions are never selected; killed rule ids are
 * returned to the caller to disable (rollout__rule_killed).
 *
 * Errors: 0 or -errno; parse errors with one message in the struct tuf_err.
 */
#ifndef RINGWARD_ROLLOUT_H
#define RINGWARD_ROLLOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "update/tuf.h"

#define ROLLOUT_TARGET		"rollout.json"
#define ROLLOUT_MAX_LEN		(4 * 1024 * 1024)	/* bytes of the document */
#define ROLLOUT_MAX_RINGS	8
#define ROLLOUT_MAX_RELEASES	4096
#define ROLLOUT_MAX_GROUPS	4096
#define ROLLOUT_MAX_WINDOWS	16
#define ROLLOUT_MAX_KILLED	4096	/* versions, and rule ids */
#define ROLLOUT_MAX_NAME	128	/* ring, group, salt, rule id bytes */
#define ROLLOUT_MIN_BAKE	60	/* seconds */
#define ROLLOUT_BP_ALL		10000	/* basis points: all hosts */

struct rollout_gates {
	int64_t max_engine_restarts;	/* -1: no gate */
	int64_t max_rule_errors;
	int64_t max_drop_ppm;
	int64_t max_cpu_permille;
	int64_t min_hosts;		/* reports needed before a promotion; 0: none */
};

struct rollout_ring {
	char *name;		/* from malloc() */
	unsigned hosts_bp;
	int64_t bake, urgent_bake;	/* seconds */
	struct rollout_gates gates;
};

struct rollout_release {
	int64_t version;
	char *target;		/* from malloc() */
	bool urgent;
	char *halted;		/* the reason, or NULL; from malloc() */
	int64_t ring_time[ROLLOUT_MAX_RINGS];	/* promotion times; 0: not promoted */
};

enum rollout_policy { ROLLOUT_LATEST, ROLLOUT_N1, ROLLOUT_N2, ROLLOUT_PIN, ROLLOUT_PAUSE };

struct rollout_window {
	uint8_t days;		/* bit d: weekday d (0 Sunday .. 6 Saturday) */
	int start, end;		/* minutes of the day, UTC */
};

struct rollout_group {
	char *name;		/* from malloc() */
	enum rollout_policy policy;
	int64_t pin;
	struct rollout_window windows[ROLLOUT_MAX_WINDOWS];
	size_t n_windows;
};

struct rollout_doc {
	int64_t version;
	char *salt;
	struct rollout_ring rings[ROLLOUT_MAX_RINGS];
	size_t n_rings;
	struct rollout_release *releases;	/* from malloc(), by version ascending */
	size_t n_releases;
	struct rollout_group *groups;		/* from malloc(), by name */
	size_t n_groups;
	int64_t *killed_versions;		/* from malloc() */
	size_t n_killed_versions;
	char **killed_rules;			/* from malloc(), sorted */
	size_t n_killed_rules;
};

/* Parse and check the document (name for messages). 0 or -EINVAL with the
 * message. Free with rollout__free() either way. */
int rollout__parse(struct rollout_doc *doc, const char *name, const char *buf, size_t len,
		   struct tuf_err *e);
void rollout__free(struct rollout_doc *doc);

/* The host's bucket, 0..9999: sha256(salt, 0x00, host_id), first 8 bytes
 * big-endian, modulo 10000. Pure. */
unsigned rollout__bucket(const char *host_id, const char *salt);
/* The index of the host's ring among rings[0..n): the first whose
 * cumulative hosts_bp exceeds the bucket (the last ring when the shares
 * fall short). Pure and deterministic. */
size_t rollout__ring(const char *host_id, const char *salt, const struct rollout_ring *rings,
		     size_t n);

/* When release r reaches ring i (seconds since the epoch); INT64_MAX: not
 * (yet) promoted that far. */
int64_t rollout__reach_time(const struct rollout_doc *doc, const struct rollout_release *r,
			    size_t ring);

/* What the host knows of its own health. */
struct rollout_health {
	int64_t current;		/* the content version it runs; 0: none */
	const int64_t *bad;		/* versions it rolled back from (crash loop) */
	size_t n_bad;
};

struct rollout_choice {
	int64_t version;		/* to run: the current one when nothing is to
					 * change; 0 only with no current version
					 * (or with current_bad) */
	const char *target;		/* its target name (owned by doc), or NULL */
	size_t ring;			/* the host's ring */
	const char *ring_name;		/* owned by doc */
	bool change;			/* version differs from health->current */
	bool current_bad;		/* the current version must not run (halted,
					 * killed, or bad here) and no release
					 * below it is a candidate: version is 0,
					 * fall back to the last-known-good */
	char reason[192];		/* why, for logs and health reports */
};

/*
 * Choose the content version host_id in group (NULL: "default") runs at
 * now (seconds since the epoch), as described above. Pure: same inputs,
 * same choice. health may be NULL (no current version, nothing bad).
 */
int rollout__select(const struct rollout_doc *doc, const char *host_id, const char *group,
		    int64_t now, const struct rollout_health *health,
		    struct rollout_choice *out);

/* Is rule id killed fleet-wide? */
bool rollout__rule_killed(const struct rollout_doc *doc, const char *rule_id);
/* Is this version killed fleet-wide? */
bool rollout__version_killed(const struct rollout_doc *doc, int64_t version);

/*
 * The document as JSON text (members as in the format above; absent gates,
 * a default urgent bake, a false "urgent" and an empty kill switch are
 * left out), what rollout__parse() reads back to the same document. For
 * the controller (`ringward rollout`), which rewrites the document to
 * promote and halt. *out is from malloc() (NUL-terminated, ends with a
 * newline), caller frees; 0 or -ENOMEM.
 */
int rollout__write(const struct rollout_doc *doc, char **out, size_t *len);

#endif
