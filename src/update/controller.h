/*
 * The rollout controller (`ringward rollout`): reads the fleet's health
 * reports and decides, for each release on its way through the rings of
 * the rollout document (update/rollout.h), to promote it to the next ring,
 * hold it, or halt it. Pure logic: no files, no clock; the caller feeds
 * report lines, gets decisions, and applies them to the document it then
 * publishes (src/update/cli_rollout.c).
 *
 * ---- Input ----
 *
 * JSON lines as the sensor writes them through its normal output:
 *
 *   content-health records (event.action "content-health"), every
 *   --health-interval seconds:
 *     @timestamp, host.id,
 *     ringward.content.label       "NAME@VERSION[,NAME@VERSION...]": the
 *                                  release it runs (below)
 *     ringward.content.source      "configured" | "last-known-good"
 *     ringward.health.activated    when that content was activated
 *     ringward.health.{engine_restarts, engine_failures, rule_errors,
 *       drops, events, eval_ns_per_event}   since the activation
 *   rollback alerts (rule.name "ringward-content-rollback"): host.id,
 *     @timestamp, and the label of the version the host rolled back from.
 *
 * Nested objects or flat dotted keys ("ringward.health.events") both do.
 * Other records are ignored; a line that is not a JSON object, or a
 * health record or rollback alert lacking a field above or with a wrong
 * type, is malformed: counted, and refused with a message. Records after
 * `now` are ignored (counted as future): a replay with an earlier --now
 * sees the fleet as it was then.
 *
 * A label names a release of the document when one of its NAME@VERSION
 * parts has a VERSION that is a release whose target is NAME-VERSION.rwb
 * (or, for a target not named that way, whose version is VERSION). A
 * host's ring is rollout__ring(host.id, the document's salt): the
 * controller derives it, it does not trust what a report says.
 *
 * ---- What is kept ----
 *
 * Per host: its ring, its newest record (version, source), the versions it
 * rolled back from (newest alert time each), and its activations: one per
 * (version, activation time), each with its newest sample and, for each
 * evaluation window, its oldest sample in that window. Memory is bounded
 * by hosts x activations (at most CTL_MAX_SEGS per host), not by the
 * number of lines read.
 *
 * ---- Evidence: the same period for both sides ----
 *
 * A release R is in flight when it has reached ring 0, is neither halted
 * nor killed, no newer such release has reached the last ring, and it has
 * not been in its last ring for longer than that ring's bake (when 0: the
 * ring before it's). For each ring k it has reached (k = 0 .. cur, the
 * last reached), the window is [reach time of ring k, now], and:
 *
 *   new  the hosts of ring k that ran R in the window, or rolled back from
 *        it (an alert in the window; or a last-known-good activation after
 *        an activation of R)
 *   old  every other host (any ring: the rings after k are, by
 *        construction, still on older content) that ran an older release,
 *        not halted nor killed, in the window
 *
 * Each host's counters are taken over the window only: for an activation
 * before the window starts, its oldest sample in the window is subtracted
 * from its newest (counters are cumulative since activation); for one
 * within the window, since the activation. So a drop storm last week on
 * the old hosts, or a fleet-wide storm now on both sides, does not make
 * the new version look worse or better than it is.
 *
 * Per side: hosts; failed hosts (engine failures or restarts, or a
 * rollback); rule-error hosts; the sums; the drop rate (drops per million
 * of events + drops); evaluation cost per event; CPU share (evaluation
 * time over wall time, per mille of one CPU, per host).
 *
 * ---- Gates (per ring, from the document; a ring with no gate at all
 *      uses the nearest earlier ring's) ----
 *
 *   max_engine_restarts  failed hosts on R may exceed what the old side's
 *                        rate predicts (expected = new hosts x old failed /
 *                        old hosts; 0 without old hosts) by 3 standard
 *                        deviations of that prediction (3 sqrt(expected),
 *                        Poisson) plus this many hosts
 *   max_rule_errors      the same for hosts reporting rule errors
 *   max_drop_ppm         new drop rate - old drop rate, ppm
 *   max_cpu_permille     (new - old evaluation cost per event) x the new
 *                        hosts' event rate: the extra share of one CPU the
 *                        new content costs a host, per mille
 *   min_hosts            new hosts needed before a promotion, and before
 *                        the two rate gates (averages) may halt; at least 1
 *
 * ---- Decisions, per release in flight ----
 *
 *   halt     any reached ring's evidence fails a gate (bake or not: a
 *            crash is evidence enough); the reason names the ring and the
 *            numbers
 *   promote  not halted, the ring's bake (urgent bake for an urgent
 *            release) is over, at least min_hosts new hosts reported, and
 *            the document does not already schedule the next ring later
 *   hold     anything else: bake not over, too few reports, the next ring
 *            scheduled by the operator, or in the last ring (watched for a
 *            halt until its bake is over)
 *
 * controller__apply() writes them into the document: a halt sets the
 * release's "halted" to the reason (rollout__select then sends every host
 * on it back to the newest good release below, or its last-known-good),
 * a promotion sets the next ring's time to now; the document's version
 * goes up by one when anything changed.
 *
 * Errors: 0 or -errno; constructors return NULL and set errno.
 */
#ifndef RINGWARD_CONTROLLER_H
#define RINGWARD_CONTROLLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "update/rollout.h"

#define CTL_ROLLBACK_RULE	"ringward-content-rollback"
#define CTL_HEALTH_ACTION	"content-health"
#define CTL_MAX_LINE		(1024 * 1024)	/* bytes of one report line */
#define CTL_MAX_HOST_ID		256		/* bytes of host.id */
#define CTL_MAX_SEGS		32	/* activations kept per host (newest) */
#define CTL_MAX_RB		16	/* rolled-back versions kept per host */
#define CTL_MAX_WINDOWS		64	/* distinct window starts evaluated */
#define CTL_SIGMAS		3	/* noise allowance on failure counts */

enum ctl_action { CTL_HOLD, CTL_PROMOTE, CTL_HALT };

/* "hold", "promote", "halt" */
const char *ctl_action__name(enum ctl_action a);

/* One side of a comparison, over one window. */
struct ctl_stats {
	uint64_t hosts;
	uint64_t failed_hosts;		/* engine failed or restarted, or rolled back */
	uint64_t rollback_hosts;	/* rolled back (counted in failed_hosts too) */
	uint64_t rule_error_hosts;
	uint64_t engine_restarts, engine_failures, rule_errors;
	uint64_t events, drops;
	uint64_t eval_ns;		/* evaluation time, summed */
	uint64_t host_seconds;		/* measured time, summed over hosts */
	double drop_ppm;		/* drops per million events + drops */
	double eval_ns_per_event;
	double cpu_permille;		/* evaluation time / wall time, per host */
};

enum ctl_check { CTL_CHECK_OFF, CTL_CHECK_PASS, CTL_CHECK_FAIL, CTL_CHECK_WAIT };

/* "off" (no gate), "pass", "fail", "wait" (too few hosts to judge) */
const char *ctl_check__name(enum ctl_check c);

struct ctl_evidence {
	size_t ring;			/* the ring whose hosts are "new" */
	int64_t start, end;		/* the window */
	struct rollout_gates gates;	/* in force for that ring */
	int64_t min_hosts;		/* max(1, gates.min_hosts) */
	struct ctl_stats new_v, old_v;
	double expected_failed, limit_failed;	/* halt when failed_hosts > limit */
	double expected_rule, limit_rule;
	double excess_drop_ppm, excess_cpu_permille;
	enum ctl_check failed, rule, drop, cpu, hosts;
};

struct ctl_decision {
	int64_t version;
	const char *target;		/* owned by the document */
	bool urgent;
	enum ctl_action action;
	size_t ring;			/* the last ring reached */
	size_t next_ring;		/* promote: the ring it goes to */
	int64_t reached;		/* when it reached ring */
	int64_t bake, baked;		/* seconds needed in ring, and so far */
	int64_t scheduled;		/* hold: the next ring's time in the document */
	char reason[320];
	struct ctl_evidence ev;		/* halt: the failing ring's; else ring's */
};

struct ctl_counts {
	uint64_t lines;			/* read, blank ones included */
	uint64_t health;		/* content-health records used */
	uint64_t rollbacks;		/* rollback alerts used */
	uint64_t unmapped;		/* of those, naming no release of the document */
	uint64_t future;		/* after now: ignored */
	uint64_t ignored;		/* other records and blank lines */
	uint64_t malformed;
};

struct controller;

/* A controller for doc (borrowed: it must outlive the controller and its
 * decisions) at time now (seconds since the epoch). NULL with errno. */
struct controller *controller__new(const struct rollout_doc *doc, int64_t now);
void controller__free(struct controller *c);

/*
 * Take one report line (len bytes, no newline needed). 0: used (a health
 * record or rollback alert); 1: ignored (another record, a blank line, a
 * record after now); -EINVAL: malformed, with the reason in err (errsize
 * bytes); -ENOMEM. Bounded by the line's length and the host's
 * activations.
 */
int controller__ingest(struct controller *c, const char *line, size_t len, char *err,
		       size_t errsize);

const struct ctl_counts *controller__counts(const struct controller *c);

/* Decide for every release in flight, oldest first, into *out (from
 * malloc(), caller frees; NULL when *n is 0). */
int controller__decide(struct controller *c, struct ctl_decision **out, size_t *n);

/* Write decisions into doc (halts, promotions at now); *changed says
 * whether anything changed, and then doc->version went up by one. */
int controller__apply(struct rollout_doc *doc, const struct ctl_decision *d, size_t n,
		      int64_t now, bool *changed);

/* One decision as a JSON object for the log (caller puts it); NULL on
 * ENOMEM. */
json_object *controller__decision_json(const struct controller *c,
				       const struct ctl_decision *d);
/* The fleet as the newest records show it: hosts by release and ring,
 * hosts on last-known-good content, hosts on no release of the document
 * (caller puts it). */
json_object *controller__census_json(const struct controller *c);

/* "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" to seconds since the
 * epoch (the fraction dropped). 0 or -EINVAL. */
int controller__parse_time(const char *s, size_t n, int64_t *t);

#endif
