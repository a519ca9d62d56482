/*
 * The fleet replay's model: see fleet_model.h for the contract and
 * bench/fleet/README.md for every number and why.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fleet_model.h"

/* ---- deterministic draws -------------------------------------------------- */

/* What is drawn: each quantity of a host has its own stream, so adding one
 * never shifts the others. Poll jitter and crash run times are indexed. */
enum {
	S_KIND = 1, S_REGION, S_ONLINE, S_AWAY, S_ONLINE_AT, S_ONLINE_AT2,
	S_SLOW, S_INTERVAL, S_PHASE, S_BOOT, S_SKEW_CLASS, S_SKEW, S_SKEW2,
	S_SPAWN, S_LOAD, S_LOAD2, S_LKG_LOAD, S_LKG_LOAD2, S_STAGE, S_CDN0,
	S_CDN1, S_CRASHES, S_LKG, S_BG, S_REPAIR, S_REPAIR2, S_RACE, S_RACE_T,
	S_CRASH_AFTER = 0x10000,	/* + attempt */
	S_JITTER = 0x100000,		/* + poll number */
};

static uint64_t splitmix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Uniform in [0, 1). */
static double draw(const struct fleet_params *p, uint32_t id, uint32_t what)
{
	uint64_t x = splitmix(p->seed ^ splitmix(((uint64_t)what << 32) | id));

	return (double)(x >> 11) * 0x1p-53;
}

static double uniform(const struct fleet_params *p, uint32_t id, uint32_t what,
		      double lo, double hi)
{
	return lo + (hi - lo) * draw(p, id, what);
}

/* Standard normal (Box-Muller over streams what and what2). */
static double normal(const struct fleet_params *p, uint32_t id, uint32_t what, uint32_t what2)
{
	double u1 = 1.0 - draw(p, id, what);	/* (0, 1]: log is finite */
	double u2 = draw(p, id, what2);

	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static double exponential(const struct fleet_params *p, uint32_t id, uint32_t what, double mean)
{
	if (mean <= 0)
		return 0;
	return -mean * log(1.0 - draw(p, id, what));
}

static double clamp(double x, double lo, double hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

/* ---- parameters ----------------------------------------------------------- */

void fleet_params__default(struct fleet_params *p)
{
	memset(p, 0, sizeof(*p));
	p->seed = 1;
	p->hosts = 8500000;
	p->salt = "ringward-rings-2024-07";
	p->horizon_s = 22 * 86400.0;

	/* Friday 19 July 2024, 04:09 UTC. Servers run around the clock;
	 * endpoints follow the working day of their region. */
	p->server_fraction = 0.40;
	p->server_online = 0.98;
	p->server_back_mean_s = 6 * 3600.0;
	p->region_share[FLEET_AMER] = 0.40;
	p->region_share[FLEET_EMEA] = 0.35;
	p->region_share[FLEET_APAC] = 0.25;
	p->region_online[FLEET_AMER] = 0.20;	/* 00:09 EDT: always-on desktops */
	p->region_online[FLEET_EMEA] = 0.30;	/* 06:09 CEST: early starters */
	p->region_online[FLEET_APAC] = 0.70;	/* 12:09 SGT: the working day */
	/* the next 08:30 local: EMEA 06:30 UTC Friday, AMER 13:30 UTC
	 * Friday (Central; the zones spread it), APAC Monday 00:30 UTC */
	p->region_workday_s[FLEET_AMER] = 9.35 * 3600;
	p->region_workday_s[FLEET_EMEA] = 2.35 * 3600;
	p->region_workday_s[FLEET_APAC] = 68.35 * 3600;
	p->region_workday_sd_s[FLEET_AMER] = 1.5 * 3600;
	p->region_workday_sd_s[FLEET_EMEA] = 1.0 * 3600;
	p->region_workday_sd_s[FLEET_APAC] = 1.0 * 3600;
	p->away_fraction = 0.10;
	p->away_span_s = 14 * 86400.0;
	p->boot_poll_min_s = 10;
	p->boot_poll_max_s = 120;

	p->poll_s = 300;
	p->poll_slow_s = 3600;
	p->poll_slow_fraction = 0.10;
	p->poll_spread = 0.05;
	p->poll_jitter = 0.10;

	p->skew_ntp_sd_s = 0.5;
	p->skew_drift_fraction = 0.049;
	p->skew_drift_sd_s = 120;
	p->skew_wild_fraction = 0.001;
	p->skew_wild_sd_s = 12 * 3600.0;
	p->expiry_margin_s = 12 * 3600.0;

	p->cdn_ttl_s = 60;
	p->publish_delay_s = 30;
	p->stage_min_s = 1;
	p->stage_max_s = 5;

	p->crash_fraction = 1.0;
	p->crash_after_mean_s = 2.0;
	p->spawn_min_s = 0.010;
	p->spawn_max_s = 0.030;
	p->load_median_s = 0.25;
	p->load_sigma = 0.5;
	p->no_lkg_fraction = 0;
	p->bg_fail_per_hour = 1e-4;

	p->failures_k = 3;
	p->window_s = 60;
	p->backoff_min_s = 0.010;
	p->backoff_max_s = 5.0;
	p->stable_s = 60;

	p->revert_s = 78 * 60.0;	/* 05:27 UTC */
	p->repair_median_s = 12 * 3600.0;
	p->repair_sigma = 1.32;
	p->repair_min_s = 1800;
	p->repair_max_s = 21 * 86400.0;
	p->reboot_race_fraction = 0;
	p->reboot_race_mean_s = 3600;

	p->ring_fraction[FLEET_CANARY] = 0.01;
	p->ring_fraction[FLEET_EARLY] = 0.10;
	p->ring_fraction[FLEET_BROAD] = 0.89;
	p->bake_s[FLEET_CANARY] = 3600;
	p->bake_s[FLEET_EARLY] = 4 * 3600.0;
	p->bake_s[FLEET_BROAD] = 24 * 3600.0;
	p->tick_s = 60;
	p->gate_min_hosts = 20;
	p->gate_min_failed = 3;
	p->gate_ratio = 2.0;
	p->gate_margin = 0.01;
	p->promote_coverage = 0.25;
}

static int params_check(const struct fleet_params *p)
{
	if (!p->hosts || !p->salt || p->horizon_s < 60 || p->horizon_s > 400 * 86400.0 ||
	    p->poll_s <= 0 || p->poll_slow_s <= 0 || p->poll_jitter < 0 || p->poll_jitter >= 0.4 ||
	    p->poll_spread < 0 || p->poll_spread >= 0.5 || p->tick_s <= 0 ||
	    !p->failures_k || p->failures_k > FLEET_MAX_K || p->backoff_min_s <= 0 ||
	    p->ring_fraction[FLEET_CANARY] < 0 || p->ring_fraction[FLEET_EARLY] < 0 ||
	    p->ring_fraction[FLEET_CANARY] + p->ring_fraction[FLEET_EARLY] > 1)
		return -EINVAL;
	return 0;
}

/* ---- one host ------------------------------------------------------------- */

static double online_at(const struct fleet_params *p, uint32_t id, struct fleet_host *h)
{
	double u;

	if (h->kind == FLEET_SERVER) {
		if (draw(p, id, S_ONLINE) < p->server_online)
			return 0;
		return fmax(60, exponential(p, id, S_ONLINE_AT, p->server_back_mean_s));
	}
	if (draw(p, id, S_ONLINE) < p->region_online[h->region])
		return 0;
	if (draw(p, id, S_AWAY) < p->away_fraction)
		return fmax(60, p->away_span_s * draw(p, id, S_ONLINE_AT));
	u = p->region_workday_s[h->region] +
	    p->region_workday_sd_s[h->region] * normal(p, id, S_ONLINE_AT, S_ONLINE_AT2);
	return fmax(60, u);
}

void fleet__host(const struct fleet_params *p, uint32_t id, struct fleet_host *h)
{
	double u, rate;

	memset(h, 0, sizeof(*h));
	h->id = id;
	h->kind = draw(p, id, S_KIND) < p->server_fraction ? FLEET_SERVER : FLEET_ENDPOINT;
	u = draw(p, id, S_REGION);
	h->region = u < p->region_share[FLEET_AMER] ? FLEET_AMER :
		    u < p->region_share[FLEET_AMER] + p->region_share[FLEET_EMEA] ? FLEET_EMEA :
		    FLEET_APAC;
	h->online_s = online_at(p, id, h);

	h->interval_s = (draw(p, id, S_SLOW) < p->poll_slow_fraction ? p->poll_slow_s : p->poll_s) *
			uniform(p, id, S_INTERVAL, 1 - p->poll_spread, 1 + p->poll_spread);
	/* online at T0: it has been polling, its last poll some time in the
	 * last interval; else it polls shortly after it boots */
	if (h->online_s <= 0)
		h->first_poll_s = -h->interval_s * draw(p, id, S_PHASE);
	else
		h->first_poll_s = h->online_s +
				  uniform(p, id, S_BOOT, p->boot_poll_min_s, p->boot_poll_max_s);

	u = draw(p, id, S_SKEW_CLASS);
	h->skew_s = normal(p, id, S_SKEW, S_SKEW2) *
		    (u < p->skew_wild_fraction ? p->skew_wild_sd_s :
		     u < p->skew_wild_fraction + p->skew_drift_fraction ? p->skew_drift_sd_s :
		     p->skew_ntp_sd_s);
	h->clock_refused = h->skew_s > p->expiry_margin_s;

	h->spawn_s = uniform(p, id, S_SPAWN, p->spawn_min_s, p->spawn_max_s);
	h->load_s = p->load_median_s * exp(p->load_sigma * normal(p, id, S_LOAD, S_LOAD2));
	h->lkg_load_s = p->load_median_s *
			exp(p->load_sigma * normal(p, id, S_LKG_LOAD, S_LKG_LOAD2));
	h->stage_s = uniform(p, id, S_STAGE, p->stage_min_s, p->stage_max_s);
	h->cdn_s[0] = uniform(p, id, S_CDN0, 0, p->cdn_ttl_s);
	h->cdn_s[1] = uniform(p, id, S_CDN1, 0, p->cdn_ttl_s);

	h->crashes = draw(p, id, S_CRASHES) < p->crash_fraction;
	h->has_lkg = draw(p, id, S_LKG) >= p->no_lkg_fraction;
	rate = p->bg_fail_per_hour / 3600.0;
	h->bg_fail_s = rate > 0 ? fmax(h->online_s, 0) + exponential(p, id, S_BG, 1.0 / rate)
				: INFINITY;
	h->repair_s = clamp(p->repair_median_s * exp(p->repair_sigma *
						     normal(p, id, S_REPAIR, S_REPAIR2)),
			    p->repair_min_s, p->repair_max_s);
	h->reboot_race = draw(p, id, S_RACE) < p->reboot_race_fraction;
	h->race_s = exponential(p, id, S_RACE_T, p->reboot_race_mean_s);
}

/* Poll k of h: poll 0 where the schedule starts, then every interval,
 * each moved by up to +-jitter of it (so they stay in order). */
static double poll_at(const struct fleet_params *p, const struct fleet_host *h, uint64_t k)
{
	if (!k)
		return h->first_poll_s;
	return h->first_poll_s + (double)k * h->interval_s +
	       (2 * draw(p, h->id, S_JITTER + (uint32_t)k) - 1) * p->poll_jitter * h->interval_s;
}

double fleet__next_poll(const struct fleet_params *p, const struct fleet_host *h, double t)
{
	double kf, tk;
	uint64_t k;

	if (t <= h->first_poll_s)
		return h->first_poll_s;
	/* poll k is at most first + (k + jitter) x interval: this k is at
	 * or before t, so walking up finds the first at or after it */
	kf = floor((t - h->first_poll_s) / h->interval_s - p->poll_jitter);
	k = kf < 1 ? 1 : (uint64_t)kf;
	while ((tk = poll_at(p, h, k)) < t)
		k++;
	return tk;
}

double fleet__crash_after(const struct fleet_params *p, uint32_t id, unsigned attempt)
{
	return exponential(p, id, S_CRASH_AFTER + attempt, p->crash_after_mean_s);
}

void fleet__host_id(uint32_t id, char out[FLEET_HOST_ID_LEN])
{
	static const char hex[] = "0123456789abcdef";
	uint64_t w[2] = { splitmix(0x686f7374ULL ^ id),
			  splitmix(0x6964ULL + ((uint64_t)id << 20)) };
	int i;

	for (i = 0; i < 32; i++)
		out[i] = hex[(w[i / 16] >> (60 - 4 * (i % 16))) & 0xf];
	out[32] = 0;
}

uint32_t fleet__bucket(const char *salt, uint32_t id)
{
	crypto_hash_sha256_state st;
	unsigned char md[crypto_hash_sha256_BYTES], zero = 0;
	char hid[FLEET_HOST_ID_LEN];
	uint64_t v = 0;
	int i;

	fleet__host_id(id, hid);
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const unsigned char *)salt, strlen(salt));
	crypto_hash_sha256_update(&st, &zero, 1);
	crypto_hash_sha256_update(&st, (const unsigned char *)hid, 32);
	crypto_hash_sha256_final(&st, md);
	for (i = 0; i < 8; i++)
		v = v << 8 | md[i];
	return (uint32_t)(v % FLEET_RING_BUCKETS);
}

enum fleet_ring fleet__ring(const struct fleet_params *p, const char *salt, uint32_t id)
{
	double b = fleet__bucket(salt, id);
	double canary = p->ring_fraction[FLEET_CANARY] * FLEET_RING_BUCKETS;
	double early = p->ring_fraction[FLEET_EARLY] * FLEET_RING_BUCKETS;

	if (b < canary)
		return FLEET_CANARY;
	if (b < canary + early)
		return FLEET_EARLY;
	return FLEET_BROAD;
}

/* ---- the supervisor's crash loop ------------------------------------------ */

void fleet__supervise(const struct fleet_params *p, const struct fleet_loop_in *in,
		      struct fleet_loop_out *out)
{
	/* the updater hands the bundle over; the engine loads it while the
	 * old set keeps evaluating, and swaps: that is the activation */
	double t = in->t_act + in->load_s, activated = t;
	double started = -INFINITY, backoff = 0, tc;
	unsigned i, counted = 0;

	memset(out, 0, sizeof(*out));
	out->first_crash = INFINITY;
	out->back = INFINITY;
	for (i = 0;; i++) {
		tc = t + in->crash_after[i < FLEET_MAX_K ? i : FLEET_MAX_K - 1];
		if (tc >= in->t_fix) {
			/* good content from the updater first: a reload, which
			 * for a crash-looping engine is a start */
			if (out->crashed)
				out->back = in->t_fix + in->spawn_s + in->load_s;
			return;
		}
		if (!out->crashed) {
			out->crashed = true;
			out->first_crash = tc;
		}
		out->failures++;
		/* backoff: the minimum after a stable run, else doubling */
		if (backoff == 0 || tc - started >= p->stable_s)
			backoff = p->backoff_min_s;
		else
			backoff = fmin(2 * backoff, p->backoff_max_s);
		/* only failures within T of the activation count against it */
		if (tc - activated <= p->window_s)
			counted++;
		if (counted >= p->failures_k && in->has_lkg) {
			out->local = true;
			out->back = tc + backoff + in->spawn_s + in->lkg_load_s;
			return;
		}
		if (counted >= p->failures_k || tc - activated > p->window_s) {
			/* marked bad with nothing to fall back to, or past the
			 * window where failures count: it loops until the
			 * updater brings good content */
			if (isfinite(in->t_fix))
				out->back = fmax(in->t_fix, tc) + in->spawn_s + in->load_s;
			return;
		}
		started = tc + backoff + in->spawn_s;
		t = started + in->load_s;
	}
}

static void loop_in(const struct fleet_params *p, const struct fleet_host *h, double t_act,
		    double t_fix, struct fleet_loop_in *in)
{
	unsigned i;

	in->t_act = t_act;
	in->t_fix = t_fix;
	in->spawn_s = h->spawn_s;
	in->load_s = h->load_s;
	in->lkg_load_s = h->lkg_load_s;
	in->has_lkg = h->has_lkg;
	/* each pass of the loop counts a failure or ends it: K run times */
	for (i = 0; i < p->failures_k; i++)
		in->crash_after[i] = fleet__crash_after(p, h->id, i);
	for (; i < FLEET_MAX_K; i++)
		in->crash_after[i] = in->crash_after[p->failures_k - 1];
}

/* ---- results -------------------------------------------------------------- */

struct acc {
	double *diff, *corr;	/* down: whole-second starts, partial seconds */
	uint32_t *recv, *back;	/* per second, made cumulative at the end */
	float *dur;		/* per down host: seconds without detection */
	uint32_t n_dur;
};

static int acc_init(struct acc *a, struct fleet_result *r, const struct fleet_params *p)
{
	memset(a, 0, sizeof(*a));
	r->n_sec = (uint32_t)ceil(p->horizon_s);
	a->diff = calloc((size_t)r->n_sec + 1, sizeof(double));
	a->corr = calloc((size_t)r->n_sec + 1, sizeof(double));
	a->dur = malloc((size_t)p->hosts * sizeof(float));
	r->recv_cum = calloc(r->n_sec, sizeof(uint32_t));
	r->back_cum = calloc(r->n_sec, sizeof(uint32_t));
	if (!a->diff || !a->corr || !a->dur || !r->recv_cum || !r->back_cum)
		return -ENOMEM;
	a->recv = r->recv_cum;
	a->back = r->back_cum;
	return 0;
}

static void acc_free(struct acc *a)
{
	free(a->diff);
	free(a->corr);
	free(a->dur);
}

static void count_at(uint32_t *hist, const struct fleet_result *r, double t)
{
	if (t >= 0 && t < r->n_sec)
		hist[(uint32_t)t]++;
}

/* Host down over [a, b): added to the per-second occupancy exactly. */
static void down_span(struct acc *acc, struct fleet_result *r, double a, double b)
{
	double n = r->n_sec;
	uint32_t ia, ib;

	a = clamp(a, 0, n);
	b = clamp(b, 0, n);
	if (b <= a)
		return;
	ia = (uint32_t)a;
	ib = (uint32_t)b;
	if (ia == ib) {
		acc->corr[ia] += b - a;
		return;
	}
	acc->corr[ia] += (ia + 1) - a;
	acc->diff[ia + 1] += 1;
	acc->diff[ib] -= 1;
	acc->corr[ib] += b - ib;
}

static int cmp_float(const void *x, const void *y)
{
	float a = *(const float *)x, b = *(const float *)y;

	return (a > b) - (a < b);
}

static void acc_finish(struct acc *acc, struct fleet_result *r)
{
	double run = 0;
	uint32_t i;

	/* the occupancy goes into corr's storage, then owned by r */
	for (i = 0; i < r->n_sec; i++) {
		run += acc->diff[i];
		acc->corr[i] += run;
		if (acc->corr[i] > r->peak_down) {
			r->peak_down = acc->corr[i];
			r->peak_down_at_s = i;
		}
		if (i) {
			r->recv_cum[i] += r->recv_cum[i - 1];
			r->back_cum[i] += r->back_cum[i - 1];
		}
	}
	r->down = acc->corr;
	acc->corr = NULL;
	if (acc->n_dur) {
		qsort(acc->dur, acc->n_dur, sizeof(float), cmp_float);
		/* nearest rank */
		r->down_p50_s = acc->dur[(uint32_t)ceil(0.50 * acc->n_dur) - 1];
		r->down_p99_s = acc->dur[(uint32_t)ceil(0.99 * acc->n_dur) - 1];
	}
}

/* One host that took the new version: the bookkeeping every policy shares.
 * first/back: its span without detection (crashed) or, not crashed, back
 * is when it left the version (INFINITY: it stays). */
static void took(struct acc *acc, struct fleet_result *r, const struct fleet_host *h,
		 double t_act, bool crashed, double first, double back)
{
	double d;

	r->received++;
	count_at(acc->recv, r, t_act);
	if (isfinite(back))
		count_at(acc->back, r, back);
	if (!crashed)
		return;
	r->crashed++;
	r->down_hosts++;
	down_span(acc, r, first, back);
	if (back > r->n_sec)
		r->down_at_horizon++;
	d = fmin(back, r->n_sec) - first;
	r->down_host_hours += d / 3600.0;
	r->down_max_s = fmax(r->down_max_s, d);
	acc->dur[acc->n_dur++] = (float)d;
	/* the failure record carries the host's clock */
	if (first + h->skew_s < 0)
		r->stamped_before_release++;
}

/* A ringward host that took the version at poll t_poll; t_stop: the
 * halt/revert visible to it (INFINITY: none). */
static void ringward_host(const struct fleet_params *p, struct acc *acc, struct fleet_result *r,
			  const struct fleet_host *h, double t_poll, double t_stop)
{
	struct fleet_loop_in in;
	struct fleet_loop_out out, bound;
	double t_act = t_poll + h->stage_s, t_fix = INFINITY;

	/* the halt reaches it at its next poll; the updater stages the good
	 * version as it staged the bad one */
	if (isfinite(t_stop))
		t_fix = fleet__next_poll(p, h, fmax(t_stop, t_poll + 1e-6)) + h->stage_s;
	if (!h->crashes) {
		took(acc, r, h, t_act, false, 0, t_fix);
		return;
	}
	loop_in(p, h, t_act, t_fix, &in);
	fleet__supervise(p, &in, &out);
	if (!out.crashed) {
		took(acc, r, h, t_act, false, 0, t_fix);
		return;
	}
	took(acc, r, h, t_act, true, out.first_crash, out.back);
	if (out.local)
		r->local_rollbacks++;
	/* its own restart + rollback time: the supervisor alone, no help */
	in.t_fix = INFINITY;
	fleet__supervise(p, &in, &bound);
	if (!bound.local || out.back - out.first_crash > bound.back - bound.first_crash + 1e-9)
		r->over_bound++;
}

/* ---- all at once ---------------------------------------------------------- */

static void all_at_once(const struct fleet_params *p, enum fleet_policy pol, struct acc *acc,
			struct fleet_result *r)
{
	struct fleet_host h;
	double t_poll, t_revert, first, back;
	uint32_t id;

	r->halt_s = r->halt_published_s = p->revert_s;
	r->ring_start_s[FLEET_CANARY] = r->ring_start_s[FLEET_EARLY] = 0;
	r->ring_start_s[FLEET_BROAD] = 0;
	for (id = 0; id < p->hosts; id++) {
		fleet__host(p, id, &h);
		if (h.online_s <= 0)
			r->online_t0++;
		/* ringward's updater checks TUF expiry; the 2024 channel
		 * file delivery is modelled without it */
		if (pol == FLEET_ALL_RINGWARD && h.clock_refused) {
			r->clock_refused++;
			continue;
		}
		t_revert = p->revert_s + h.cdn_s[1];
		t_poll = fleet__next_poll(p, &h, h.cdn_s[0]);
		if (t_poll >= t_revert || t_poll >= r->n_sec)
			continue;
		r->received_ring[FLEET_BROAD]++;
		if (pol == FLEET_ALL_RINGWARD) {
			ringward_host(p, acc, r, &h, t_poll, t_revert);
			continue;
		}
		/* the driver reads the file at once; the first event of the
		 * kind the bad template matches crashes the machine, at every
		 * boot after, until someone removes the file */
		if (!h.crashes) {
			took(acc, r, &h, t_poll + h.stage_s, false, 0,
			     fleet__next_poll(p, &h, t_revert) + h.stage_s);
			continue;
		}
		first = t_poll + h.stage_s + h.load_s + fleet__crash_after(p, id, 0);
		if (h.reboot_race)
			back = fmax(first, t_revert) + h.race_s;
		else
			back = first + h.repair_s;
		took(acc, r, &h, t_poll + h.stage_s, true, first, back);
		r->over_bound++;	/* no local rollback at all */
	}
}

/* ---- rings ---------------------------------------------------------------- */

struct plan {
	uint32_t n_ticks;
	uint32_t *new_n, *new_c, *ring_n, *old_n, *old_c;
};

/* A report arriving at t is seen at the first controller tick at or after
 * it: tick k covers (k-1, k] x tick. */
static void report(const struct fleet_params *p, const struct plan *pl, uint32_t *bins, double t)
{
	double k = ceil(t / p->tick_s);

	if (t >= 0 && k < pl->n_ticks)
		bins[(uint32_t)k]++;
}

/* Reports of one stage, as if there were no halt: the halt only changes
 * what happens after it, and the controller never looks past now. */
static void stage_reports(const struct fleet_params *p, const uint8_t *ring, unsigned stage,
			  const double *start, const struct plan *pl)
{
	struct fleet_loop_in in;
	struct fleet_loop_out out;
	struct fleet_host h;
	double vis, t_poll, t_act, t_fail;
	uint32_t id;

	memset(pl->old_n, 0, pl->n_ticks * sizeof(uint32_t));
	memset(pl->old_c, 0, pl->n_ticks * sizeof(uint32_t));
	for (id = 0; id < p->hosts; id++) {
		if (ring[id] < stage)
			continue;	/* reported in an earlier stage */
		fleet__host(p, id, &h);
		if (ring[id] > stage) {
			/* still on the old version: its first report since
			 * this stage began, and its first failure after */
			report(p, pl, pl->old_n, fleet__next_poll(p, &h, start[stage]));
			if (h.bg_fail_s >= start[stage])
				report(p, pl, pl->old_c, fleet__next_poll(p, &h, h.bg_fail_s));
			continue;
		}
		if (h.clock_refused)
			continue;
		vis = start[stage] + (stage ? p->publish_delay_s : 0) + h.cdn_s[0];
		t_poll = fleet__next_poll(p, &h, vis);
		if (t_poll >= p->horizon_s)
			continue;
		t_act = t_poll + h.stage_s;
		t_fail = INFINITY;
		if (h.crashes) {
			loop_in(p, &h, t_act, INFINITY, &in);
			fleet__supervise(p, &in, &out);
			t_fail = out.first_crash;
		}
		if (h.bg_fail_s >= t_act)
			t_fail = fmin(t_fail, h.bg_fail_s);
		/* health reports go with the next poll */
		t_poll = fleet__next_poll(p, &h, t_poll + 1e-6);
		report(p, pl, pl->new_n, t_poll);
		report(p, pl, pl->ring_n + (size_t)stage * pl->n_ticks, t_poll);
		if (isfinite(t_fail))
			report(p, pl, pl->new_c, fleet__next_poll(p, &h, t_fail));
	}
}

/* The controller over one stage: halt, promote, or run out of time.
 * Returns true when the rollout goes on to the next ring. */
static bool stage_control(const struct fleet_params *p, unsigned stage, double *start,
			  const struct plan *pl, struct fleet_result *r)
{
	uint64_t nn = 0, cn = 0, no = 0, co = 0, rn = 0;
	const uint32_t *ring_n = pl->ring_n + (size_t)stage * pl->n_ticks;
	double t, rate_old;
	uint32_t k, k0 = (uint32_t)ceil(start[stage] / p->tick_s);

	for (k = 0; k < k0 && k < pl->n_ticks; k++) {
		nn += pl->new_n[k];
		cn += pl->new_c[k];
	}
	for (k = k0; k < pl->n_ticks; k++) {
		t = k * p->tick_s;
		nn += pl->new_n[k];
		cn += pl->new_c[k];
		no += pl->old_n[k];
		co += pl->old_c[k];
		rn += ring_n[k];
		/* hosts on the new version against hosts on the old one over
		 * the same period (without old hosts left: the margin alone) */
		rate_old = no ? (double)co / no : 0;
		if (nn >= p->gate_min_hosts && cn >= p->gate_min_failed &&
		    (double)cn / nn > p->gate_ratio * rate_old + p->gate_margin) {
			r->halt_s = t;
			r->halt_published_s = t + p->publish_delay_s;
			r->halt_new_hosts = nn;
			r->halt_new_failed = cn;
			r->halt_old_hosts = no;
			r->halt_old_failed = co;
			return false;
		}
		if (stage + 1 < FLEET__N_RINGS && t >= start[stage] + p->bake_s[stage] &&
		    rn >= p->promote_coverage * r->ring_hosts[stage] && nn >= p->gate_min_hosts) {
			start[stage + 1] = t;
			return true;
		}
		if (stage + 1 == FLEET__N_RINGS && t >= start[stage] + p->bake_s[stage])
			return false;	/* the rollout is complete */
	}
	return false;
}

static int rings(const struct fleet_params *p, struct acc *acc, struct fleet_result *r)
{
	struct plan pl = { 0 };
	struct fleet_host h;
	uint8_t *ring = malloc(p->hosts);
	double start[FLEET__N_RINGS] = { 0, -1, -1 }, vis, t_poll, t_halt;
	unsigned stage;
	uint32_t id;
	int err = -ENOMEM;

	pl.n_ticks = (uint32_t)ceil(p->horizon_s / p->tick_s) + 2;
	pl.new_n = calloc(pl.n_ticks, sizeof(uint32_t));
	pl.new_c = calloc(pl.n_ticks, sizeof(uint32_t));
	pl.old_n = calloc(pl.n_ticks, sizeof(uint32_t));
	pl.old_c = calloc(pl.n_ticks, sizeof(uint32_t));
	pl.ring_n = calloc((size_t)pl.n_ticks * FLEET__N_RINGS, sizeof(uint32_t));
	if (!ring || !pl.new_n || !pl.new_c || !pl.old_n || !pl.old_c || !pl.ring_n)
		goto cleanup;
	for (id = 0; id < p->hosts; id++) {
		ring[id] = (uint8_t)fleet__ring(p, p->salt, id);
		r->ring_hosts[ring[id]]++;
	}

	r->halt_s = r->halt_published_s = -1;
	for (stage = 0; stage < FLEET__N_RINGS; stage++) {
		stage_reports(p, ring, stage, start, &pl);
		if (!stage_control(p, stage, start, &pl, r))
			break;
	}
	memcpy(r->ring_start_s, start, sizeof(start));

	for (id = 0; id < p->hosts; id++) {
		fleet__host(p, id, &h);
		if (h.online_s <= 0)
			r->online_t0++;
		if (h.clock_refused) {
			r->clock_refused++;
			continue;
		}
		if (start[ring[id]] < 0)
			continue;
		vis = start[ring[id]] + (ring[id] ? p->publish_delay_s : 0) + h.cdn_s[0];
		t_halt = r->halt_published_s >= 0 ? r->halt_published_s + h.cdn_s[1] : INFINITY;
		t_poll = fleet__next_poll(p, &h, vis);
		if (t_poll >= t_halt || t_poll >= r->n_sec)
			continue;
		r->received_ring[ring[id]]++;
		ringward_host(p, acc, r, &h, t_poll, t_halt);
	}
	err = 0;
cleanup:
	free(ring);
	free(pl.new_n);
	free(pl.new_c);
	free(pl.old_n);
	free(pl.old_c);
	free(pl.ring_n);
	return err;
}

/* ---- entry points --------------------------------------------------------- */

int fleet__run(const struct fleet_params *p, enum fleet_policy pol, struct fleet_result *r)
{
	struct acc acc;
	int err;

	memset(r, 0, sizeof(*r));
	r->policy = pol;
	r->hosts = p->hosts;
	if ((err = params_check(p)) || pol >= FLEET__N_POLICIES)
		return err ? err : -EINVAL;
	if (sodium_init() < 0)
		return -EIO;
	err = acc_init(&acc, r, p);
	if (err)
		goto cleanup;
	if (pol == FLEET_RINGS) {
		err = rings(p, &acc, r);
		if (err)
			goto cleanup;
	} else {
		all_at_once(p, pol, &acc, r);
	}
	acc_finish(&acc, r);
cleanup:
	acc_free(&acc);
	if (err)
		fleet_result__free(r);
	return err;
}

void fleet_result__free(struct fleet_result *r)
{
	if (!r)
		return;
	free(r->down);
	free(r->recv_cum);
	free(r->back_cum);
	r->down = NULL;
	r->recv_cum = r->back_cum = NULL;
}

static uint32_t sec_of(const struct fleet_result *r, double t)
{
	if (!r->n_sec || t < 0)
		return 0;
	return t >= r->n_sec ? r->n_sec - 1 : (uint32_t)t;
}

double fleet_result__down_at(const struct fleet_result *r, double t)
{
	return r->down && t >= 0 ? r->down[sec_of(r, t)] : 0;
}

uint32_t fleet_result__recv_by(const struct fleet_result *r, double t)
{
	return r->recv_cum && t >= 0 ? r->recv_cum[sec_of(r, t)] : 0;
}

uint32_t fleet_result__back_by(const struct fleet_result *r, double t)
{
	return r->back_cum && t >= 0 ? r->back_cum[sec_of(r, t)] : 0;
}

const char *fleet__policy_name(enum fleet_policy pol)
{
	switch (pol) {
	case FLEET_ALL_DRIVER:
		return "all-at-once, driver-style sensor (19 July 2024)";
	case FLEET_ALL_RINGWARD:
		return "all-at-once, ringward sensor";
	case FLEET_RINGS:
		return "ringward default rings";
	default:
		return "?";
	}
}
