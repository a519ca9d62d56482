/*
 * The fleet replay's model (bench/fleet/fleet_model.c), on a fleet of
 * 200,000 hosts: ring assignment as defined (SHA-256 of salt and host id),
 * its proportions and salt rotation; the supervisor's crash loop against
 * values worked out by hand from its rules (src/core/supervisor.c); and
 * each policy's outcome against what its rules imply: the bad version
 * stays in the canary ring, the halt comes within one bake period and no
 * earlier than a report can arrive, all-at-once reaches every online host,
 * a good version is promoted exactly at the end of each bake.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fleet_model.h"

#define HOSTS	200000

/* cmocka's assert_float_equal compares floats: times need doubles */
#define assert_near(a, b, eps)							\
	do {									\
		double a_ = (a), b_ = (b);					\
		if (!(fabs(a_ - b_) <= (eps)))					\
			fail_msg("%s = %.9f, expected %.9f (+-%g)", #a, a_, b_,	\
				 (double)(eps));				\
	} while (0)

static struct fleet_params g_p;

/* Results of the default policies, run once for the tests that read them. */
static struct fleet_result g_res[FLEET__N_POLICIES];
static bool g_ran[FLEET__N_POLICIES];

static const struct fleet_result *result(enum fleet_policy pol)
{
	if (!g_ran[pol]) {
		assert_int_equal(fleet__run(&g_p, pol, &g_res[pol]), 0);
		g_ran[pol] = true;
	}
	return &g_res[pol];
}

static int group_setup(void **state)
{
	fleet_params__default(&g_p);
	g_p.hosts = HOSTS;
	return sodium_init() < 0 ? -1 : 0;
}

static int group_teardown(void **state)
{
	int k;

	for (k = 0; k < FLEET__N_POLICIES; k++)
		if (g_ran[k])
			fleet_result__free(&g_res[k]);
	return 0;
}

/* ---- rings ------------------------------------------------------------------ */

static void test_ring_is_sha256_of_salt_and_host_id(void **state)
{
	unsigned char in[64], md[crypto_hash_sha256_BYTES];
	char id[FLEET_HOST_ID_LEN], again[FLEET_HOST_ID_LEN], other[FLEET_HOST_ID_LEN];
	const char *salt = "salt-A";
	uint64_t v;
	uint32_t h;
	size_t n;
	int i;

	fleet__host_id(42, id);
	fleet__host_id(42, again);
	fleet__host_id(43, other);
	assert_int_equal(strlen(id), 32);
	assert_int_equal(strspn(id, "0123456789abcdef"), 32);
	assert_string_equal(id, again);
	assert_string_not_equal(id, other);

	for (h = 0; h < 50; h++) {
		fleet__host_id(h, id);
		n = strlen(salt);
		memcpy(in, salt, n);
		in[n] = 0;
		memcpy(in + n + 1, id, 32);
		crypto_hash_sha256(md, in, n + 33);
		for (v = 0, i = 0; i < 8; i++)
			v = v << 8 | md[i];
		assert_int_equal(fleet__bucket(salt, h), v % FLEET_RING_BUCKETS);
		assert_int_equal(fleet__ring(&g_p, salt, h),
				 v % FLEET_RING_BUCKETS < 10000 ? FLEET_CANARY :
				 v % FLEET_RING_BUCKETS < 110000 ? FLEET_EARLY : FLEET_BROAD);
	}
}

static void test_ring_proportions(void **state)
{
	uint32_t n[FLEET__N_RINGS] = { 0 }, id;

	for (id = 0; id < HOSTS; id++) {
		enum fleet_ring r = fleet__ring(&g_p, g_p.salt, id);

		assert_int_equal(fleet__ring(&g_p, g_p.salt, id), r);	/* stable */
		n[r]++;
	}
	/* 1% and 10% of 200,000, within 5 binomial standard deviations
	 * (sqrt(n p (1-p)): 44 and 134) */
	assert_in_range(n[FLEET_CANARY], 2000 - 225, 2000 + 225);
	assert_in_range(n[FLEET_EARLY], 20000 - 670, 20000 + 670);
	assert_int_equal(n[FLEET_BROAD], HOSTS - n[FLEET_CANARY] - n[FLEET_EARLY]);
}

static void test_salt_rotation_changes_the_canaries(void **state)
{
	uint32_t a = 0, b = 0, both = 0, id;
	bool ca, cb;

	for (id = 0; id < HOSTS; id++) {
		ca = fleet__ring(&g_p, "salt-A", id) == FLEET_CANARY;
		cb = fleet__ring(&g_p, "salt-B", id) == FLEET_CANARY;
		a += ca;
		b += cb;
		both += ca && cb;
	}
	assert_in_range(a, 1775, 2225);
	assert_in_range(b, 1775, 2225);
	/* independent draws: about 1% of the canaries stay canaries (20);
	 * the same salt keeps all of them (test above) */
	assert_in_range(both, 1, 60);
}

/* ---- the supervisor's crash loop ------------------------------------------- */

static void loop(double t_act, double t_fix, double spawn, double load, double lkg,
		 const double *d, int nd, bool has_lkg, struct fleet_loop_out *out,
		 const struct fleet_params *p)
{
	struct fleet_loop_in in = { .t_act = t_act, .t_fix = t_fix, .spawn_s = spawn,
				    .load_s = load, .lkg_load_s = lkg, .has_lkg = has_lkg };
	int i;

	for (i = 0; i < FLEET_MAX_K; i++)
		in.crash_after[i] = d[i < nd ? i : nd - 1];
	fleet__supervise(p, &in, out);
}

static void test_supervisor_rolls_back_after_k_failures(void **state)
{
	static const double d[] = { 1, 2, 3 };
	struct fleet_loop_out o;

	/* activation at 100.25 (load); crash 1 at 101.25; +10 ms backoff,
	 * 20 ms spawn, 250 ms load, runs 2 s: crash 2 at 103.53; +20 ms
	 * backoff ...: crash 3 at 106.82, the third within 60 s: marked bad;
	 * +40 ms backoff, spawn, LKG load: back at 107.13 */
	loop(100, INFINITY, 0.02, 0.25, 0.25, d, 3, true, &o, &g_p);
	assert_true(o.crashed);
	assert_true(o.local);
	assert_int_equal(o.failures, 3);
	assert_near(o.first_crash, 101.25, 1e-9);
	assert_near(o.back, 107.13, 1e-9);
	assert_near(o.back - o.first_crash, 5.88, 1e-9);
}

static void test_supervisor_backoff_doubles(void **state)
{
	static const double d[] = { 1 };
	struct fleet_params p = g_p;
	struct fleet_loop_out o;

	/* K = 5, everything instant but the 1 s runs: backoffs 10, 20, 40,
	 * 80 ms between crashes, 160 ms before the LKG start */
	p.failures_k = 5;
	loop(0, INFINITY, 0, 0, 0, d, 1, true, &o, &p);
	assert_true(o.local);
	assert_int_equal(o.failures, 5);
	assert_near(o.first_crash, 1.0, 1e-9);
	assert_near(o.back, 5.31, 1e-9);
}

static void test_supervisor_failures_past_the_window_do_not_count(void **state)
{
	static const double d[] = { 30 };
	struct fleet_loop_out o;

	/* crash 1 at 30.25 (counted), crash 2 at 60.53: 60.28 s after the
	 * activation, past T = 60 s: no rollback can come; good content
	 * from the updater at 500 ends it (spawn + load) */
	loop(0, 500, 0.02, 0.25, 0.25, d, 1, true, &o, &g_p);
	assert_true(o.crashed);
	assert_false(o.local);
	assert_int_equal(o.failures, 2);
	assert_near(o.first_crash, 30.25, 1e-9);
	assert_near(o.back, 500.27, 1e-9);
	/* and without the updater's help, never */
	loop(0, INFINITY, 0.02, 0.25, 0.25, d, 1, true, &o, &g_p);
	assert_false(o.local);
	assert_true(isinf(o.back));
}

static void test_supervisor_without_lkg_waits_for_the_updater(void **state)
{
	static const double d[] = { 1 };
	struct fleet_loop_out o;

	loop(0, 900, 0.02, 0.25, 0.25, d, 1, false, &o, &g_p);
	assert_false(o.local);
	assert_int_equal(o.failures, 3);
	assert_near(o.back, 900.27, 1e-9);
}

static void test_supervisor_good_content_before_the_crash(void **state)
{
	static const double d[] = { 10 };
	struct fleet_loop_out o;

	loop(0, 5, 0.02, 0.25, 0.25, d, 1, true, &o, &g_p);
	assert_false(o.crashed);
	assert_int_equal(o.failures, 0);
}

/* ---- hosts and polls ---------------------------------------------------------- */

static void test_polls(void **state)
{
	struct fleet_host h, h2;
	double t, a, b, lo, hi;
	uint32_t id;
	int i;

	for (id = 0; id < 2000; id++) {
		fleet__host(&g_p, id, &h);
		fleet__host(&g_p, id, &h2);
		assert_memory_equal(&h, &h2, sizeof(h));	/* a pure function */
		if (h.online_s <= 0)
			assert_true(h.first_poll_s <= 0 && h.first_poll_s > -h.interval_s);
		else
			assert_true(h.first_poll_s >= h.online_s + g_p.boot_poll_min_s);
		t = -h.interval_s;
		for (i = 0; i < 20; i++) {
			a = fleet__next_poll(&g_p, &h, t);
			assert_true(a >= t);
			assert_near(fleet__next_poll(&g_p, &h, a), a, 0);
			b = fleet__next_poll(&g_p, &h, a + 1e-6);
			/* consecutive polls: interval +- 2 x jitter apart */
			lo = h.interval_s * (1 - 2 * g_p.poll_jitter) - 1e-6;
			hi = h.interval_s * (1 + 2 * g_p.poll_jitter) + 1e-6;
			if (a > h.first_poll_s)
				assert_true(b - a >= lo && b - a <= hi);
			t = a + 1e-6;
		}
	}
}

/* ---- policies --------------------------------------------------------------- */

/* Everything a run of the rings policy with the bad version must show. */
static void test_rings_bad_version_stays_in_canary(void **state)
{
	const struct fleet_result *r = result(FLEET_RINGS);
	double min_gap = g_p.poll_s * (1 - g_p.poll_spread) * (1 - 2 * g_p.poll_jitter);

	assert_int_equal(r->hosts, HOSTS);
	assert_in_range(r->ring_hosts[FLEET_CANARY], 1775, 2225);
	/* the target: never leaves the canary ring */
	assert_int_equal(r->received_ring[FLEET_EARLY], 0);
	assert_int_equal(r->received_ring[FLEET_BROAD], 0);
	assert_true(r->ring_start_s[FLEET_EARLY] < 0);
	assert_true(r->ring_start_s[FLEET_BROAD] < 0);
	/* most online canaries poll (every ~5 min) before the halt */
	assert_true(r->received_ring[FLEET_CANARY] > r->ring_hosts[FLEET_CANARY] / 3);
	assert_true(r->received_ring[FLEET_CANARY] <= r->ring_hosts[FLEET_CANARY]);
	assert_int_equal(r->received, r->received_ring[FLEET_CANARY]);
	/* it crashes every engine; every one rolls back by itself */
	assert_int_equal(r->crashed, r->received);
	assert_int_equal(r->down_hosts, r->received);
	assert_int_equal(r->local_rollbacks, r->received);
	assert_int_equal(r->over_bound, 0);
	assert_int_equal(r->down_at_horizon, 0);
	/* a local rollback ends within the window after the activation,
	 * plus the last backoff, spawn and the LKG's load */
	assert_true(r->down_max_s < g_p.window_s + 5);
	assert_true(r->down_p50_s > 0 && r->down_p50_s <= r->down_p99_s);
	assert_true(r->down_p99_s <= r->down_max_s);
	/* the halt: within one bake, and not before a health report can
	 * arrive (the poll after the one that brought the version) */
	assert_true(r->halt_s >= min_gap);
	assert_near(r->halt_published_s, r->halt_s + g_p.publish_delay_s, 1e-9);
	assert_true(r->halt_published_s <= g_p.bake_s[FLEET_CANARY]);
	assert_int_equal(r->halt_new_failed, r->halt_new_hosts);
	assert_true(r->halt_new_failed >= g_p.gate_min_failed);
	assert_true(r->halt_new_hosts >= g_p.gate_min_hosts);
	/* every host is back on good content by the end; the counts agree */
	assert_int_equal(fleet_result__recv_by(r, g_p.horizon_s), r->received);
	assert_int_equal(fleet_result__back_by(r, g_p.horizon_s), r->received);
	assert_near(fleet_result__down_at(r, g_p.horizon_s - 1), 0, 1e-9);
	assert_near(fleet_result__down_at(r, 2 * 3600), 0, 1e-9);
}

static void test_all_at_once_driver_reaches_every_online_host(void **state)
{
	const struct fleet_result *r = result(FLEET_ALL_DRIVER);
	struct fleet_host h;
	uint32_t id, online_before_revert = 0, online = 0;

	for (id = 0; id < HOSTS; id++) {
		fleet__host(&g_p, id, &h);
		online += h.online_s <= 0;
		online_before_revert += h.online_s < g_p.revert_s + g_p.cdn_ttl_s;
	}
	assert_int_equal(r->online_t0, online);
	/* the slowest poll (1 h + 5% + 10%) comes before the revert at
	 * 78 min: every host online at T0 takes it, and only hosts online
	 * before the revert can */
	assert_true(r->received >= r->online_t0);
	assert_true(r->received <= online_before_revert);
	assert_int_equal(r->received_ring[FLEET_BROAD], r->received);
	assert_int_equal(r->crashed, r->received);
	assert_int_equal(r->local_rollbacks, 0);
	assert_int_equal(r->over_bound, r->crashed);
	/* down for the manual repair: lognormal, median 12 h, at most 21 d */
	assert_true(r->down_p50_s > 0.9 * g_p.repair_median_s);
	assert_true(r->down_p50_s < 1.1 * g_p.repair_median_s);
	assert_true(r->down_max_s <= g_p.repair_max_s + 1e-3);
	assert_near(r->halt_published_s, g_p.revert_s, 1e-9);
	/* nobody is repaired before the first repairs (30 min) */
	assert_int_equal(fleet_result__back_by(r, g_p.repair_min_s - 1), 0);
	assert_true(fleet_result__down_at(r, 3600) > 0.9 * r->online_t0);
}

static void test_all_at_once_ringward_rolls_back_everywhere(void **state)
{
	const struct fleet_result *r = result(FLEET_ALL_RINGWARD);
	const struct fleet_result *d = result(FLEET_ALL_DRIVER);

	/* the same hosts take it, but for those whose clock is past the
	 * metadata's expiry */
	assert_true(r->received >= r->online_t0 - r->clock_refused);
	assert_true(r->received <= d->received);
	assert_true(r->received >= d->received - r->clock_refused);
	assert_int_equal(r->crashed, r->received);
	assert_int_equal(r->local_rollbacks, r->crashed);
	assert_int_equal(r->over_bound, 0);
	assert_true(r->down_max_s < g_p.window_s + 5);
	/* more than a thousand times fewer host-hours than the driver */
	assert_true(r->down_host_hours * 1000 < d->down_host_hours);
}

static void test_rings_good_version_is_promoted_after_each_bake(void **state)
{
	struct fleet_params p = g_p;
	struct fleet_result r;

	p.crash_fraction = 0;
	assert_int_equal(fleet__run(&p, FLEET_RINGS, &r), 0);
	/* no halt on background failures (1e-4 per host-hour on both
	 * sides); promoted at the first tick after each bake, coverage
	 * being reached well before */
	assert_true(r.halt_s < 0);
	assert_near(r.ring_start_s[FLEET_CANARY], 0, 0);
	assert_near(r.ring_start_s[FLEET_EARLY], p.bake_s[FLEET_CANARY], 1e-9);
	assert_near(r.ring_start_s[FLEET_BROAD],
			   p.bake_s[FLEET_CANARY] + p.bake_s[FLEET_EARLY], 1e-9);
	assert_true(r.received_ring[FLEET_EARLY] > r.ring_hosts[FLEET_EARLY] / 2);
	assert_true(r.received_ring[FLEET_BROAD] > r.ring_hosts[FLEET_BROAD] / 2);
	assert_int_equal(r.crashed, 0);
	assert_int_equal(r.down_hosts, 0);
	assert_near(r.down_host_hours, 0, 0);
	/* nothing sends them back */
	assert_int_equal(fleet_result__back_by(&r, p.horizon_s), 0);
	fleet_result__free(&r);
}

static void test_rings_halt_sends_survivors_back(void **state)
{
	struct fleet_params p = g_p;
	struct fleet_result r;

	/* half the engines crash: still far above the gate; the hosts it
	 * did not crash go back at their next poll after the halt */
	p.crash_fraction = 0.5;
	assert_int_equal(fleet__run(&p, FLEET_RINGS, &r), 0);
	assert_true(r.halt_s >= 0 && r.halt_published_s <= p.bake_s[FLEET_CANARY]);
	assert_int_equal(r.received_ring[FLEET_EARLY] + r.received_ring[FLEET_BROAD], 0);
	assert_in_range(r.crashed, r.received * 4 / 10, r.received * 6 / 10);
	assert_int_equal(r.local_rollbacks, r.crashed);
	assert_int_equal(fleet_result__back_by(&r, p.horizon_s), r.received);
	/* not before the halt reached them */
	assert_true(fleet_result__back_by(&r, r.halt_published_s) <= r.crashed);
	fleet_result__free(&r);
}

static void test_rings_gate_margin(void **state)
{
	struct fleet_params p = g_p;
	struct fleet_result r;

	/* 0.1% of engines crash: under the gate's 1% margin, the version
	 * goes on to every ring (and each of those hosts rolls back alone) */
	p.crash_fraction = 0.001;
	assert_int_equal(fleet__run(&p, FLEET_RINGS, &r), 0);
	assert_true(r.halt_s < 0);
	assert_true(r.received_ring[FLEET_BROAD] > 0);
	assert_in_range(r.crashed, 1, r.received / 200);
	assert_int_equal(r.local_rollbacks, r.crashed);
	fleet_result__free(&r);
	/* 5%: over it; halted in the canary ring, at the first evaluation
	 * with gate_min_failed failures among gate_min_hosts reports */
	p.crash_fraction = 0.05;
	assert_int_equal(fleet__run(&p, FLEET_RINGS, &r), 0);
	assert_true(r.halt_s >= 0 && r.halt_published_s <= p.bake_s[FLEET_CANARY]);
	assert_int_equal(r.received_ring[FLEET_EARLY] + r.received_ring[FLEET_BROAD], 0);
	assert_true(r.halt_new_failed >= p.gate_min_failed);
	assert_true((double)r.halt_new_failed / r.halt_new_hosts > p.gate_margin);
	fleet_result__free(&r);
}

static void test_rings_without_lkg_the_halt_is_the_backstop(void **state)
{
	struct fleet_params p = g_p;
	struct fleet_result r;

	p.no_lkg_fraction = 1;
	assert_int_equal(fleet__run(&p, FLEET_RINGS, &r), 0);
	assert_int_equal(r.local_rollbacks, 0);
	assert_int_equal(r.over_bound, r.crashed);
	assert_int_equal(r.down_at_horizon, 0);
	/* down until the poll after the halt (slow pollers: 1 h + 15%) */
	assert_true(r.down_max_s > p.window_s);
	assert_true(r.down_max_s < r.halt_published_s + p.cdn_ttl_s +
				   p.poll_slow_s * (1 + p.poll_spread) * (1 + 2 * p.poll_jitter) +
				   p.stage_max_s + 10);
	fleet_result__free(&r);
}

static void test_deterministic_for_a_seed(void **state)
{
	const struct fleet_result *a = result(FLEET_RINGS);
	struct fleet_params p = g_p;
	struct fleet_result b, c;

	assert_int_equal(fleet__run(&p, FLEET_RINGS, &b), 0);
	assert_int_equal(b.received, a->received);
	assert_int_equal(b.online_t0, a->online_t0);
	assert_near(b.down_host_hours, a->down_host_hours, 0);
	assert_near(b.halt_s, a->halt_s, 0);
	assert_int_equal(b.n_sec, a->n_sec);
	assert_memory_equal(b.down, a->down, a->n_sec * sizeof(double));
	assert_memory_equal(b.back_cum, a->back_cum, a->n_sec * sizeof(uint32_t));
	fleet_result__free(&b);

	p.seed = 2;
	assert_int_equal(fleet__run(&p, FLEET_RINGS, &c), 0);
	/* other hosts' lives; the same rings (they depend on the salt) */
	assert_int_not_equal(c.online_t0, a->online_t0);
	assert_memory_equal(c.ring_hosts, a->ring_hosts, sizeof(c.ring_hosts));
	fleet_result__free(&c);
}

static void test_bad_parameters(void **state)
{
	struct fleet_params p = g_p;
	struct fleet_result r;

	p.failures_k = FLEET_MAX_K + 1;
	assert_int_equal(fleet__run(&p, FLEET_RINGS, &r), -EINVAL);
	assert_null(r.down);
	p = g_p;
	p.hosts = 0;
	assert_int_equal(fleet__run(&p, FLEET_ALL_DRIVER, &r), -EINVAL);
	p = g_p;
	assert_int_equal(fleet__run(&p, FLEET__N_POLICIES, &r), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_is_sha256_of_salt_and_host_id),
		cmocka_unit_test(test_ring_proportions),
		cmocka_unit_test(test_salt_rotation_changes_the_canaries),
		cmocka_unit_test(test_supervisor_rolls_back_after_k_failures),
		cmocka_unit_test(test_supervisor_backoff_doubles),
		cmocka_unit_test(test_supervisor_failures_past_the_window_do_not_count),
		cmocka_unit_test(test_supervisor_without_lkg_waits_for_the_updater),
		cmocka_unit_test(test_supervisor_good_content_before_the_crash),
		cmocka_unit_test(test_polls),
		cmocka_unit_test(test_rings_bad_version_stays_in_canary),
		cmocka_unit_test(test_all_at_once_driver_reaches_every_online_host),
		cmocka_unit_test(test_all_at_once_ringward_rolls_back_everywhere),
		cmocka_unit_test(test_rings_good_version_is_promoted_after_each_bake),
		cmocka_unit_test(test_rings_halt_sends_survivors_back),
		cmocka_unit_test(test_rings_gate_margin),
		cmocka_unit_test(test_rings_without_lkg_the_halt_is_the_backstop),
		cmocka_unit_test(test_deterministic_for_a_seed),
		cmocka_unit_test(test_bad_parameters),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
