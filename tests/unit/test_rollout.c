/*
 * The rollout document (update/rollout.h): the parser's refusals, each
 * with its message; the host -> ring assignment (deterministic, stable
 * across runs, proportional to the shares, changed by the salt); when a
 * release reaches each ring (bakes, urgent bakes, rings never skipped);
 * and the choice of version for every policy (latest, N-1, N-2, pin,
 * pause), maintenance windows, halts, the kill switch and versions a host
 * rolled back from. Pure functions at fixed times: no clock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

#include "engine/bundle.h"
#include "update/rollout.h"

#define T0	((int64_t)1893456000)	/* 2030-01-01T00:00:00Z, a Tuesday */
#define H	((int64_t)3600)
#define DAY	(24 * H)

/* Three rings (1%, 10%, the rest), a day's bake, an hour's when urgent. */
#define RINGS                                                                        \
	"\"rings\": ["                                                               \
	"{\"name\": \"canary\", \"hosts_bp\": 100, \"bake_seconds\": 86400, "        \
	"\"urgent_bake_seconds\": 3600, \"gates\": {\"max_engine_restarts\": 0, "    \
	"\"max_drop_ppm\": 1000, \"min_hosts\": 10}},"                               \
	"{\"name\": \"early\", \"hosts_bp\": 1000, \"bake_seconds\": 86400, "        \
	"\"urgent_bake_seconds\": 3600},"                                            \
	"{\"name\": \"broad\", \"hosts_bp\": 8900}]"

/* releases 10, 11 everywhere; 12 promoted to every ring at T0 (so it
 * moves one ring per day); 13 urgent, promoted at T0 + 3 days */
#define RELEASES                                                                     \
	"\"releases\": ["                                                            \
	"{\"version\": 10, \"target\": \"rw-10.rwb\", \"rings\": {"                  \
	"\"canary\": \"2029-12-01T00:00:00Z\", \"early\": \"2029-12-01T00:00:00Z\", " \
	"\"broad\": \"2029-12-01T00:00:00Z\"}},"                                     \
	"{\"version\": 11, \"target\": \"rw-11.rwb\", \"rings\": {"                  \
	"\"canary\": \"2029-12-10T00:00:00Z\", \"early\": \"2029-12-11T00:00:00Z\", " \
	"\"broad\": \"2029-12-12T00:00:00Z\"}},"                                     \
	"{\"version\": 12, \"target\": \"rw-12.rwb\", \"rings\": {"                  \
	"\"canary\": \"2030-01-01T00:00:00Z\", \"early\": \"2030-01-01T00:00:00Z\", " \
	"\"broad\": \"2030-01-01T00:00:00Z\"}},"                                     \
	"{\"version\": 13, \"target\": \"rw-13.rwb\", \"urgent\": true, \"rings\": {" \
	"\"canary\": \"2030-01-04T00:00:00Z\", \"early\": \"2030-01-04T00:00:00Z\", " \
	"\"broad\": \"2030-01-04T00:00:00Z\"}}]"

#define GROUPS                                                                       \
	"\"groups\": {"                                                              \
	"\"default\": {\"policy\": \"latest\"},"                                     \
	"\"db\": {\"policy\": \"n-1\"},"                                             \
	"\"legacy\": {\"policy\": \"n-2\"},"                                         \
	"\"payments\": {\"policy\": \"pin\", \"version\": 11},"                      \
	"\"lab\": {\"policy\": \"pause\"},"                                          \
	"\"night\": {\"policy\": \"latest\", \"windows\": [{\"days\": [\"tue\"], "   \
	"\"start\": \"22:00\", \"end\": \"02:00\"}]}}"

static const char doc_text[] = "{\"_type\": \"rollout\", \"version\": 3, "
			       "\"salt\": \"fleet-2024-07\", " RINGS ", " RELEASES ", " GROUPS "}";

static struct rollout_doc doc;

static int setup(void **st)
{
	struct tuf_err e;

	if (rollout__parse(&doc, "rollout.json", doc_text, strlen(doc_text), &e)) {
		fprintf(stderr, "%s\n", e.msg);
		return -1;
	}
	return 0;
}

static int teardown(void **st)
{
	rollout__free(&doc);
	return 0;
}

/* The first host "host-N" in ring r. */
static const char *host_in(size_t r)
{
	static char id[32];

	for (int i = 0; i < 1000000; i++) {
		snprintf(id, sizeof(id), "host-%d", i);
		if (rollout__ring(id, doc.salt, doc.rings, doc.n_rings) == r)
			return id;
	}
	fail_msg("no host in ring %zu", r);
	return NULL;
}

static void test_parse(void **st)
{
	assert_int_equal(doc.version, 3);
	assert_int_equal(doc.n_rings, 3);
	assert_string_equal(doc.rings[0].name, "canary");
	assert_int_equal(doc.rings[0].bake, DAY);
	assert_int_equal(doc.rings[0].urgent_bake, H);
	assert_int_equal(doc.rings[0].gates.max_engine_restarts, 0);
	assert_int_equal(doc.rings[0].gates.max_rule_errors, -1);	/* no gate */
	assert_int_equal(doc.rings[0].gates.max_drop_ppm, 1000);
	assert_int_equal(doc.rings[0].gates.min_hosts, 10);
	assert_int_equal(doc.rings[1].urgent_bake, H);
	assert_int_equal(doc.rings[2].hosts_bp, 8900);
	assert_int_equal(doc.n_releases, 4);
	assert_int_equal(doc.releases[3].version, 13);
	assert_true(doc.releases[3].urgent);
	assert_int_equal(doc.n_groups, 6);
}

static void test_ring_assignment(void **st)
{
	size_t count[3] = { 0 }, same = 0, canaries = 0;
	char id[32];

	/* fixed by the algorithm: a change would reshuffle every fleet */
	assert_int_equal(rollout__bucket("host-1", "fleet-2024-07"), 5233);
	for (int i = 0; i < 100000; i++) {
		size_t r;

		snprintf(id, sizeof(id), "host-%d", i);
		r = rollout__ring(id, doc.salt, doc.rings, doc.n_rings);
		assert_true(r < 3);
		assert_int_equal(r, rollout__ring(id, doc.salt, doc.rings, doc.n_rings));
		count[r]++;
		if (r == 0) {
			canaries++;
			same += rollout__ring(id, "fleet-2024-08", doc.rings, doc.n_rings) == 0;
		}
	}
	/* 1%, 10%, 89% of 100000, within 4 standard deviations */
	assert_in_range(count[0], 1000 - 126, 1000 + 126);
	assert_in_range(count[1], 10000 - 380, 10000 + 380);
	assert_in_range(count[2], 89000 - 400, 89000 + 400);
	/* another salt, other canaries: about 1% of them stay canaries */
	assert_in_range(same, 0, canaries / 20);
}

static void test_reach_times(void **st)
{
	const struct rollout_release *r12 = &doc.releases[2], *r13 = &doc.releases[3];

	/* every ring listed at T0: still one ring per bake */
	assert_int_equal(rollout__reach_time(&doc, r12, 0), T0);
	assert_int_equal(rollout__reach_time(&doc, r12, 1), T0 + DAY);
	assert_int_equal(rollout__reach_time(&doc, r12, 2), T0 + 2 * DAY);
	/* urgent: an hour per ring, still ring by ring */
	assert_int_equal(rollout__reach_time(&doc, r13, 0), T0 + 3 * DAY);
	assert_int_equal(rollout__reach_time(&doc, r13, 1), T0 + 3 * DAY + H);
	assert_int_equal(rollout__reach_time(&doc, r13, 2), T0 + 3 * DAY + 2 * H);
	/* a later promotion time wins over the bake */
	assert_int_equal(rollout__reach_time(&doc, &doc.releases[1], 2),
			 T0 - 20 * DAY);	/* 2029-12-12 */
}

static void expect(const char *host, const char *group, int64_t now, int64_t current,
		   int64_t want, const char *reason)
{
	struct rollout_health h = { .current = current };
	struct rollout_choice ch;

	assert_int_equal(rollout__select(&doc, host, group, now, &h, &ch), 0);
	if (ch.version != want || (reason && strcmp(ch.reason, reason)))
		fail_msg("host %s group %s: expected %lld (%s), got %lld (%s)", host,
			 group ? group : "-", (long long)want, reason ? reason : "",
			 (long long)ch.version, ch.reason);
	assert_int_equal(ch.change, want != current && want != 0);
}

static void test_select_latest_ring_by_ring(void **st)
{
	char canary[32], early[32], broad[32];

	snprintf(canary, sizeof(canary), "%s", host_in(0));
	snprintf(early, sizeof(early), "%s", host_in(1));
	snprintf(broad, sizeof(broad), "%s", host_in(2));
	/* T0: 12 reaches the canaries only */
	expect(canary, NULL, T0, 11, 12, "latest release in ring canary");
	expect(early, NULL, T0, 11, 11, "latest release in ring early");
	expect(broad, NULL, T0, 11, 11, "latest release in ring broad");
	/* a day later the early ring, two days later everyone */
	expect(early, NULL, T0 + DAY, 11, 12, NULL);
	expect(broad, NULL, T0 + DAY, 11, 11, NULL);
	expect(broad, NULL, T0 + 2 * DAY, 11, 12, NULL);
	/* urgent 13: canary at once, early an hour later, broad two */
	expect(canary, NULL, T0 + 3 * DAY, 12, 13, NULL);
	expect(early, NULL, T0 + 3 * DAY + H - 1, 12, 12, NULL);
	expect(early, NULL, T0 + 3 * DAY + H, 12, 13, NULL);
	expect(broad, NULL, T0 + 3 * DAY + H, 12, 12, NULL);
	expect(broad, NULL, T0 + 3 * DAY + 2 * H, 12, 13, NULL);
	/* an unknown group follows "default"; the ring names the choice */
	expect(canary, "no-such-group", T0, 11, 12, "latest release in ring canary");
}

static void test_select_policies(void **st)
{
	char canary[32], broad[32];

	snprintf(canary, sizeof(canary), "%s", host_in(0));
	snprintf(broad, sizeof(broad), "%s", host_in(2));
	/* N-1 and N-2 count among what reached the host's ring */
	expect(broad, "db", T0 + 10 * DAY, 13, 12, "group db follows N-1 in ring broad");
	expect(broad, "legacy", T0 + 10 * DAY, 13, 11, "group legacy follows N-2 in ring broad");
	expect(canary, "db", T0, 12, 11, NULL);
	/* pin: that version, whatever the ring */
	expect(broad, "payments", T0 + 10 * DAY, 13, 11, "group payments is pinned to 11");
	/* pause: stay */
	expect(broad, "lab", T0 + 10 * DAY, 10, 10, "group lab is paused on 10");
	/* a host with nothing yet and nothing reached: none */
	expect(broad, NULL, T0 - 40 * DAY, 0, 0, "no release has reached ring broad yet");
}

static void test_select_windows(void **st)
{
	char broad[32];

	snprintf(broad, sizeof(broad), "%s", host_in(2));
	/* T0 + 10 days is a Friday: the Tuesday window is shut */
	expect(broad, "night", T0 + 10 * DAY, 11, 11, "outside the maintenance windows of group "
	       "night: stay on 11");
	/* Tuesday 2030-01-08 23:00, and past midnight into Wednesday 01:59 */
	expect(broad, "night", T0 + 7 * DAY + 23 * H, 11, 13, NULL);
	expect(broad, "night", T0 + 8 * DAY + 2 * H - 60, 11, 13, NULL);
	expect(broad, "night", T0 + 8 * DAY + 2 * H, 11, 11, NULL);
}

static void test_kill_switch_and_halt(void **st)
{
	static const char killed[] = "{\"_type\": \"rollout\", \"version\": 4, "
				     "\"salt\": \"fleet-2024-07\", " RINGS ", " RELEASES ", " GROUPS
				     ", \"kill_switch\": {\"versions\": [13], \"rules\": "
				     "[\"cccccccc-0000-4000-8000-000000000002\"]}}";
	struct rollout_doc k;
	struct rollout_health h = { .current = 13 };
	struct rollout_choice ch;
	struct tuf_err e;
	char broad[32];

	snprintf(broad, sizeof(broad), "%s", host_in(2));
	assert_int_equal(rollout__parse(&k, "rollout.json", killed, strlen(killed), &e), 0);
	assert_true(rollout__version_killed(&k, 13));
	assert_true(rollout__rule_killed(&k, "cccccccc-0000-4000-8000-000000000002"));
	assert_false(rollout__rule_killed(&k, "cccccccc-0000-4000-8000-000000000001"));
	/* the host on 13 goes back at once, even in a closed window, even pinned */
	assert_int_equal(rollout__select(&k, broad, "night", T0 + 10 * DAY, &h, &ch), 0);
	assert_int_equal(ch.version, 12);
	assert_true(ch.change);
	assert_string_equal(ch.reason, "current version 13 is killed: back to 12");
	assert_int_equal(rollout__select(&k, broad, NULL, T0 + 10 * DAY, NULL, &ch), 0);
	assert_int_equal(ch.version, 12);
	rollout__free(&k);

	/* halted by the controller: the same; and with nothing older that
	 * reached the ring, fall back to the last-known-good */
	{
		static const char halted[] = "{\"_type\": \"rollout\", \"version\": 5, "
			"\"salt\": \"fleet-2024-07\", " RINGS ", \"releases\": [{\"version\": 20, "
			"\"target\": \"rw-20.rwb\", \"halted\": \"engine restarts in canary: 41 "
			"hosts\", \"rings\": {\"canary\": \"2030-01-01T00:00:00Z\"}}]}";
		char canary[32];

		snprintf(canary, sizeof(canary), "%s", host_in(0));
		assert_int_equal(rollout__parse(&k, "rollout.json", halted, strlen(halted), &e),
				 0);
		h.current = 20;
		assert_int_equal(rollout__select(&k, canary, NULL, T0 + H, &h, &ch), 0);
		assert_int_equal(ch.version, 0);
		assert_true(ch.current_bad);
		assert_string_equal(ch.reason, "current version 20 is halted and no older release "
				    "has reached ring canary: fall back to the last-known-good");
		/* a canary not yet on it never gets it */
		h.current = 0;
		assert_int_equal(rollout__select(&k, canary, NULL, T0 + H, &h, &ch), 0);
		assert_int_equal(ch.version, 0);
		assert_false(ch.current_bad);
		rollout__free(&k);
	}
}

static void test_host_rolled_back(void **st)
{
	int64_t bad[1] = { 13 };
	struct rollout_health h = { .current = 12, .bad = bad, .n_bad = 1 };
	struct rollout_choice ch;
	char canary[32];

	snprintf(canary, sizeof(canary), "%s", host_in(0));
	/* the fleet says 13, but this host crash-looped on it */
	assert_int_equal(rollout__select(&doc, canary, NULL, T0 + 5 * DAY, &h, &ch), 0);
	assert_int_equal(ch.version, 12);
	assert_false(ch.change);
	assert_string_equal(ch.target, "rw-12.rwb");
}

static void test_refusals(void **st)
{
	static const struct { const char *text, *msg; } cases[] = {
		{ "{\"_type\": \"rollout\", \"version\": 1, \"salt\": \"s\", " RINGS
		  ", \"kill-switch\": {}}",
		  "r.json: the document: unknown member \"kill-switch\"" },
		{ "{\"_type\": \"rollout\", \"version\": 1, \"salt\": \"s\", \"rings\": "
		  "[{\"name\": \"all\", \"hosts_bp\": 10000}]}",
		  "r.json: 1 rings: there must be 2 to 8 (no release may reach every host in one "
		  "step)" },
		{ "{\"_type\": \"rollout\", \"version\": 1, \"salt\": \"s\", \"rings\": "
		  "[{\"name\": \"a\", \"hosts_bp\": 100, \"bake_seconds\": 3600}, "
		  "{\"name\": \"b\", \"hosts_bp\": 100}]}",
		  "r.json: the rings' hosts_bp add up to 200, not 10000" },
		{ "{\"_type\": \"rollout\", \"version\": 1, \"salt\": \"s\", \"rings\": "
		  "[{\"name\": \"a\", \"hosts_bp\": 100, \"bake_seconds\": 0}, "
		  "{\"name\": \"b\", \"hosts_bp\": 9900}]}",
		  "r.json: ring a: \"bake_seconds\" must be at least 60: a ring must bake before "
		  "the next one starts" },
		{ "{\"_type\": \"rollout\", \"version\": 1, \"salt\": \"s\", \"rings\": "
		  "[{\"name\": \"a\", \"hosts_bp\": 100, \"bake_seconds\": 600, "
		  "\"urgent_bake_seconds\": 30}, {\"name\": \"b\", \"hosts_bp\": 9900}]}",
		  "r.json: ring a: \"urgent_bake_seconds\" must be from 60 to bake_seconds: urgent "
		  "content is shorter-baked, never unbaked" },
		{ "{\"_type\": \"rollout\", \"version\": 1, \"salt\": \"s\", " RINGS ", "
		  "\"releases\": [{\"version\": 1, \"target\": \"x.rwb\", \"rings\": "
		  "{\"everyone\": \"2030-01-01T00:00:00Z\"}}]}",
		  "r.json: releases[0]: no ring named \"everyone\"" },
		{ "{\"_type\": \"rollout\", \"version\": 1, \"salt\": \"s\", " RINGS ", "
		  "\"releases\": [{\"version\": 1, \"target\": \"x.rwb\"}, {\"version\": 1, "
		  "\"target\": \"y.rwb\"}]}",
		  "r.json: release version 1 is listed twice" },
		{ "{\"_type\": \"rollout\", \"version\": 1, \"salt\": \"s\", " RINGS ", "
		  "\"groups\": {\"g\": {\"policy\": \"pin\"}}}",
		  "r.json: group g: \"pin\" needs \"version\" (>= 1)" },
		{ "{\"_type\": \"rollout\", \"version\": 1, \"salt\": \"s\", " RINGS ", "
		  "\"groups\": {\"g\": {\"policy\": \"latest\", \"windows\": [{\"start\": "
		  "\"25:00\", \"end\": \"02:00\"}]}}}",
		  "r.json: group g: a window needs \"start\" and \"end\" as HH:MM (UTC), not "
		  "equal" },
		{ "{\"_type\": \"rollout\", \"version\": 1.5, \"salt\": \"s\", " RINGS "}",
		  "r.json: \"version\" must be an integer >= 1" },
	};
	struct rollout_doc d;
	struct tuf_err e;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int err = rollout__parse(&d, "r.json", cases[i].text, strlen(cases[i].text), &e);

		rollout__free(&d);
		if (err != -EINVAL || strcmp(e.msg, cases[i].msg))
			fail_msg("case %zu: expected \"%s\", got %d \"%s\"", i, cases[i].msg, err,
				 e.msg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_ring_assignment),
		cmocka_unit_test(test_reach_times),
		cmocka_unit_test(test_select_latest_ring_by_ring),
		cmocka_unit_test(test_select_policies),
		cmocka_unit_test(test_select_windows),
		cmocka_unit_test(test_kill_switch_and_halt),
		cmocka_unit_test(test_host_rolled_back),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
