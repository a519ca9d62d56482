/*
 * The fleet replay: 19 July 2024 at fleet scale. A content version that
 * crashes the detection engine is released at T0 (04:09 UTC); the model
 * follows every host of a fleet (8.5 million by default) through polls,
 * activation, the engine's crash loop and its recovery, under three ways of
 * shipping the content:
 *
 *   FLEET_ALL_DRIVER    all hosts at once, a driver-style sensor: a host that
 *                       activates the content crashes and stays down until a
 *                       person repairs it (the vendor's revert at T0+78 min
 *                       saves only hosts that had not yet taken it);
 *   FLEET_ALL_RINGWARD  all hosts at once, ringward's user-mode engine: the
 *                       supervisor rolls back to last-known-good by itself
 *                       (K failures within T of activation), same revert;
 *   FLEET_RINGS         ringward's default rings (canary 1%, early 10%,
 *                       broad the rest; bake 1 h, 4 h) with the rollout
 *                       controller's health gate and automatic halt.
 *
 * Pure computation: no I/O, no threads, no global state. Deterministic for
 * a given fleet_params (seed included): every per-host quantity is a hash of
 * (seed, host index, what is drawn), so passes over the fleet need no
 * per-host memory and give the same host the same life every time.
 *
 * Times are seconds relative to T0 (the release at the origin). Every
 * number of the model is a field of struct fleet_params; fleet_params__default
 * sets the values named in bench/fleet/README.md.
 *
 * Errors: 0 or -errno.
 */
#ifndef RINGWARD_FLEET_MODEL_H
#define RINGWARD_FLEET_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#define FLEET_MAX_K		16	/* supervisor failures K at most */
#define FLEET_RING_BUCKETS	1000000	/* ring buckets: fractions in 1e-6 steps */
#define FLEET_HOST_ID_LEN	33	/* 32 hex + NUL, like /etc/machine-id */

enum fleet_policy {
	FLEET_ALL_DRIVER,
	FLEET_ALL_RINGWARD,
	FLEET_RINGS,
	FLEET__N_POLICIES
};

enum fleet_ring { FLEET_CANARY, FLEET_EARLY, FLEET_BROAD, FLEET__N_RINGS };
enum fleet_kind { FLEET_SERVER, FLEET_ENDPOINT };
enum fleet_region { FLEET_AMER, FLEET_EMEA, FLEET_APAC, FLEET__N_REGIONS };

struct fleet_params {
	uint64_t seed;
	uint32_t hosts;
	const char *salt;		/* ring salt (rotated by the operator) */
	double horizon_s;		/* time simulated after T0 */

	/* -- who is online: servers, and endpoints by region -- */
	double server_fraction;		/* of the fleet */
	double server_online;		/* servers online at T0 */
	double server_back_mean_s;	/* offline servers: online after Exp(mean) */
	double region_share[FLEET__N_REGIONS];	/* of endpoints */
	double region_online[FLEET__N_REGIONS];	/* endpoints online at T0 */
	double region_workday_s[FLEET__N_REGIONS]; /* next 08:30 local, after T0 */
	double region_workday_sd_s[FLEET__N_REGIONS];
	double away_fraction;		/* offline endpoints back at a uniform time */
	double away_span_s;		/*   ... within this span (leave, travel) */
	double boot_poll_min_s, boot_poll_max_s; /* first poll after coming online */

	/* -- polling -- */
	double poll_s;			/* nominal interval */
	double poll_slow_s;		/* hosts configured to poll slowly */
	double poll_slow_fraction;
	double poll_spread;		/* per-host interval: nominal x U(1-s, 1+s) */
	double poll_jitter;		/* per-poll: +-jitter x interval */

	/* -- clocks -- */
	double skew_ntp_sd_s;		/* synchronised clocks */
	double skew_drift_fraction, skew_drift_sd_s;	/* unsynchronised */
	double skew_wild_fraction, skew_wild_sd_s;	/* broken RTC, wrong zone */
	double expiry_margin_s;		/* TUF timestamp validity left, at least */

	/* -- delivery -- */
	double cdn_ttl_s;		/* metadata cached at the edge up to this */
	double publish_delay_s;		/* controller: sign and upload metadata */
	double stage_min_s, stage_max_s; /* download, verify, hand to the core */

	/* -- the content and the engine -- */
	double crash_fraction;		/* hosts whose engine the new version crashes */
	double crash_after_mean_s;	/* run time until the trigger event: Exp */
	double spawn_min_s, spawn_max_s; /* fork+exec+sandbox of the engine */
	double load_median_s, load_sigma; /* content load+compile: lognormal */
	double no_lkg_fraction;		/* hosts without a last-known-good */
	double bg_fail_per_hour;	/* unrelated engine failures, per host-hour */

	/* -- the supervisor (src/core/supervisor.h defaults) -- */
	unsigned failures_k;		/* K */
	double window_s;		/* T */
	double backoff_min_s, backoff_max_s;
	double stable_s;

	/* -- 19 July 2024: all-at-once -- */
	double revert_s;		/* vendor's revert, published at the origin */
	double repair_median_s, repair_sigma;	/* manual repair: lognormal */
	double repair_min_s, repair_max_s;
	double reboot_race_fraction;	/* crashed hosts saved by rebooting */
	double reboot_race_mean_s;	/*   ... after the revert, Exp(mean) */

	/* -- rings and the controller -- */
	double ring_fraction[FLEET__N_RINGS];	/* canary, early; broad: the rest */
	double bake_s[FLEET__N_RINGS];	/* minimum time in a ring before the next */
	double tick_s;			/* controller evaluation period */
	unsigned gate_min_hosts;	/* new-version hosts reported, at least */
	unsigned gate_min_failed;	/* ... of which failed, at least */
	double gate_ratio;		/* halt: rate_new > ratio x rate_old + margin */
	double gate_margin;
	double promote_coverage;	/* promote: this share of the ring reported */
};

/* The values named in bench/fleet/README.md (8.5 M hosts, seed 1). */
void fleet_params__default(struct fleet_params *p);

/* One host as the model draws it. */
struct fleet_host {
	uint32_t id;
	uint8_t kind, region;
	bool has_lkg;
	bool crashes;		/* the new version crashes this host's engine */
	bool clock_refused;	/* clock ahead past the metadata's expiry */
	bool reboot_race;
	double online_s;	/* <= 0: online at T0 */
	double first_poll_s;	/* poll 0 of its schedule */
	double interval_s;
	double skew_s;		/* host clock minus true time */
	double spawn_s, load_s, lkg_load_s, stage_s;
	double cdn_s[2];	/* edge delay of: the release, the halt/revert */
	double bg_fail_s;	/* first unrelated engine failure */
	double repair_s;	/* driver-style: crash to manual repair */
	double race_s;		/* reboot race: revert visible to recovery */
};

/* Draw host id (0 <= id < p->hosts). */
void fleet__host(const struct fleet_params *p, uint32_t id, struct fleet_host *h);
/* The first poll of h at or after t. */
double fleet__next_poll(const struct fleet_params *p, const struct fleet_host *h, double t);
/* How long the engine of host id runs on the bad content before it crashes,
 * the attempt-th time (0-based). */
double fleet__crash_after(const struct fleet_params *p, uint32_t id, unsigned attempt);

/* The stable host id: 32 hex characters, independent of seed and salt. */
void fleet__host_id(uint32_t id, char out[FLEET_HOST_ID_LEN]);
/* Ring bucket: the first 8 bytes of SHA-256(salt || 0x00 || host id),
 * big-endian, modulo FLEET_RING_BUCKETS. */
uint32_t fleet__bucket(const char *salt, uint32_t id);
/* The ring: canary when bucket < canary x buckets, early below
 * (canary + early) x buckets, else broad. */
enum fleet_ring fleet__ring(const struct fleet_params *p, const char *salt, uint32_t id);

/* The supervisor's crash loop on one host (src/core/supervisor.c): the
 * updater hands the bundle to the core at t_act; the engine loads it
 * (load_s, the old set still running), runs crash_after[i] and crashes; it
 * restarts after backoff (min, doubling) + spawn + load; failures within
 * window_s of the activation count; at K with a last-known-good it starts
 * on the LKG (lkg_load_s). A failure that cannot count any more, or no LKG,
 * leaves it crash-looping until the updater brings good content at t_fix
 * (INFINITY: never), which costs spawn + load. */
struct fleet_loop_in {
	double t_act, t_fix;
	double spawn_s, load_s, lkg_load_s;
	double crash_after[FLEET_MAX_K];	/* the last repeats */
	bool has_lkg;
};
struct fleet_loop_out {
	bool crashed;		/* false: t_fix came before the first crash */
	bool local;		/* back by the supervisor's own rollback */
	unsigned failures;	/* crashes counted */
	double first_crash;	/* without detection from here ... */
	double back;		/* ... to here (INFINITY: never) */
};
void fleet__supervise(const struct fleet_params *p, const struct fleet_loop_in *in,
		      struct fleet_loop_out *out);

/* What one policy did to the fleet. */
struct fleet_result {
	enum fleet_policy policy;
	uint32_t hosts;
	uint32_t ring_hosts[FLEET__N_RINGS];	/* FLEET_RINGS only */
	uint32_t online_t0;
	uint32_t clock_refused;		/* never took metadata (clock ahead) */
	uint32_t received;		/* activated the new version */
	uint32_t received_ring[FLEET__N_RINGS];
	uint32_t crashed;		/* engine crashed on it */
	uint32_t down_hosts;		/* left without detection */
	uint32_t local_rollbacks;	/* back by the supervisor alone */
	uint32_t over_bound;		/* down longer than restart + rollback */
	uint32_t down_at_horizon;	/* still without detection at the end */
	uint32_t stamped_before_release; /* failure records whose host clock
					  * says before T0 */
	double down_host_hours;
	double down_max_s, down_p50_s, down_p99_s;	/* per host, of down hosts */
	double peak_down, peak_down_at_s;	/* most hosts down in one second */
	double halt_s;			/* rings: controller halt decision;
					 * all-at-once: the revert; < 0 none */
	double halt_published_s;	/* the halt/revert at the origin */
	double ring_start_s[FLEET__N_RINGS];	/* version released to ring; < 0 never */
	uint32_t halt_new_hosts, halt_new_failed;	/* evidence at the halt */
	uint32_t halt_old_hosts, halt_old_failed;

	/* Per second from T0 over the horizon (n_sec bins); from malloc,
	 * freed by fleet_result__free. */
	uint32_t n_sec;
	double *down;		/* mean hosts without detection in second i */
	uint32_t *recv_cum;	/* hosts that activated the version by the end of i */
	uint32_t *back_cum;	/* of those, back on good content by the end of i */
};

/* Run policy pol over the fleet of p into r (zeroed first; r's arrays are
 * allocated here, free with fleet_result__free). Work: a few passes over
 * p->hosts hosts, O(1) each; memory: ~16 bytes per simulated second plus
 * 4 bytes per host. 0, -EINVAL (bad parameters) or -ENOMEM. */
int fleet__run(const struct fleet_params *p, enum fleet_policy pol, struct fleet_result *r);
void fleet_result__free(struct fleet_result *r);

/* Hosts without detection during second t (mean), and the cumulative counts
 * at the end of second t; t past the horizon reads the last second. */
double fleet_result__down_at(const struct fleet_result *r, double t);
uint32_t fleet_result__recv_by(const struct fleet_result *r, double t);
uint32_t fleet_result__back_by(const struct fleet_result *r, double t);

const char *fleet__policy_name(enum fleet_policy pol);

#endif
