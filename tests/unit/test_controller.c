/*
 * The rollout controller (update/controller.h, `ringward rollout`) on a
 * real repository in a temporary directory: made with the repository API
 * (init, add of two real signed bundles, publish with a rollout document),
 * fed with health-report files written here in the sensor's own record
 * format, run through cmd_rollout() in this process, and its published
 * rollout document read back and verified by the TUF client (through the
 * directory fetch callback), as a host would.
 *
 * Covered: a healthy canary promoted once its bake is over (and not
 * promoted twice); a hold for the bake and for too few reports, with
 * nothing published; a crashing version halted before its bake is over,
 * the halt signed and sending canaries back to the release below; drop
 * rate and evaluation cost regressions halted; both sides measured over
 * the same period (an old storm does not mask a regression, a fleet-wide
 * storm does not halt); malformed lines counted and logged with file:line;
 * --dry-run; stdin; usage and errors; and the pure parts: times, labels,
 * the noise allowance, gates inherited by rings without their own, the
 * evidence numbers, and the rollout document written back as JSON.
 *
 * Every run is at a fixed --now: no test depends on the clock.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testlib.h"

#include "cli.h"
#include "engine/bundle.h"
#include "engine/content_sign.h"
#include "update/controller.h"
#include "update/repo.h"
#include "update/rollout.h"
#include "update/tuf.h"

#define T0	((int64_t)1893456000)	/* 2030-01-01T00:00:00Z: 13 reaches canary */
#define MIN	((int64_t)60)
#define HOUR	((int64_t)3600)
#define OLD_ACT	((int64_t)1890000000)	/* when the old hosts activated 12 */

#define DOC_TEXT                                                                      \
	"{\"_type\": \"rollout\", \"version\": 1, \"salt\": \"test-salt\",\n"         \
	" \"rings\": [\n"                                                             \
	"  {\"name\": \"canary\", \"hosts_bp\": 2000, \"bake_seconds\": 3600,"         \
	"   \"urgent_bake_seconds\": 600, \"gates\": {\"max_engine_restarts\": 0,"    \
	"   \"max_rule_errors\": 0, \"max_drop_ppm\": 1000, \"max_cpu_permille\": 50," \
	"   \"min_hosts\": 5}},\n"                                                    \
	"  {\"name\": \"early\", \"hosts_bp\": 3000, \"bake_seconds\": 3600},\n"       \
	"  {\"name\": \"broad\", \"hosts_bp\": 5000}],\n"                             \
	" \"releases\": [\n"                                                          \
	"  {\"version\": 12, \"target\": \"ringward-default-12.rwb\", \"rings\": {"     \
	"\"canary\": \"2029-12-01T00:00:00Z\", \"early\": \"2029-12-02T00:00:00Z\", "  \
	"\"broad\": \"2029-12-03T00:00:00Z\"}},\n"                                    \
	"  {\"version\": 13, \"target\": \"ringward-default-13.rwb\", \"rings\": {"     \
	"\"canary\": \"2030-01-01T00:00:00Z\"}}],\n"                                  \
	" \"groups\": {\"default\": {\"policy\": \"latest\"}}}\n"

static char *top;			/* the group's directory */
static char *ckey;			/* content signing key */
static char *b12, *b13;			/* signed bundles, versions 12 and 13 */
static struct rollout_doc ref;		/* DOC_TEXT, for ring assignment */
static int serial;

/* Host ids by ring under the document's salt. */
#define N_CANARY 20
#define N_OTHER 40
static char canary[N_CANARY][32], other[N_OTHER][32];

static char *cat(const char *a, const char *b)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", a, b) > 0);
	return p;
}

static void write_at(const char *d, const char *name, const char *text)
{
	char *p = cat(d, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	free(p);
}

static char *read_all(const char *path, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;

	assert_int_equal(bundle__read_file(path, 64 << 20, &buf, &n), 0);
	if (len)
		*len = n;
	return buf;
}

static void make_bundle(const char *dir, int64_t version)
{
	struct bundle_write w = { .name = "ringward-default", .version = version };
	struct diag d;

	assert_int_equal(mkdir(dir, 0755), 0);
	write_at(dir, "a.yml",
		 "title: Rule A\n"
		 "id: cccccccc-0000-4000-8000-000000000001\n"
		 "logsource: {product: linux, category: process_creation}\n"
		 "detection:\n"
		 "    sel:\n"
		 "        Image|endswith: '/nc'\n"
		 "    condition: sel\n"
		 "level: high\n");
	diag__init(&d);
	assert_int_equal(bundle__write_manifest(dir, &w, NULL, &d), 0);
	assert_int_equal(sign__bundle(dir, ckey, false, NULL, &d), 0);
	diag__free(&d);
}

static int group_setup(void **st)
{
	char id[SIGN_KEY_ID_LEN + 1], *prefix;
	struct tuf_err e;
	struct diag d;
	size_t nc = 0, no = 0;

	if (sodium_init() < 0)
		return -1;
	top = rwt_mkdtemp("controller");
	if (!top)
		return -1;
	prefix = cat(top, "content");
	ckey = cat(top, "content.key");
	diag__init(&d);
	if (sign__keygen(prefix, id, &d))
		return -1;
	diag__free(&d);
	free(prefix);
	b12 = cat(top, "bundle12");
	b13 = cat(top, "bundle13");
	make_bundle(b12, 12);
	make_bundle(b13, 13);
	if (rollout__parse(&ref, "rollout.json", DOC_TEXT, strlen(DOC_TEXT), &e)) {
		fprintf(stderr, "%s\n", e.msg);
		return -1;
	}
	for (int i = 0; i < 2000 && (nc < N_CANARY || no < N_OTHER); i++) {
		char h[32];

		snprintf(h, sizeof(h), "host-%04d", i);
		if (rollout__ring(h, ref.salt, ref.rings, ref.n_rings) == 0) {
			if (nc < N_CANARY)
				strcpy(canary[nc++], h);
		} else if (no < N_OTHER) {
			strcpy(other[no++], h);
		}
	}
	return nc == N_CANARY && no == N_OTHER ? 0 : -1;
}

static int group_teardown(void **st)
{
	rwt_rmtree(top);
	free(top);
	free(ckey);
	free(b12);
	free(b13);
	rollout__free(&ref);
	return 0;
}

/* ---- fixture: a repository publishing 12, 13 and DOC_TEXT at T0 - 1 h ---- */

struct fx {
	char *base, *dir, *state, *root1, *reports, *log;
	struct repo_opts o;
	FILE *rep;		/* reports/fleet.jsonl while writing */
};

static void diag_ok(int err, struct diag *d)
{
	if (err) {
		char line[2048];

		for (size_t i = 0; i < d->n; i++) {
			diag__format(&d->v[i], line, sizeof(line));
			fprintf(stderr, "%s\n", line);
		}
		fail_msg("repository operation failed: %d", err);
	}
	diag__free(d);
	diag__init(d);
}

static int fx_setup(void **st)
{
	struct repo_init_opts io = { .n_root_keys = 1, .threshold = 1 };
	struct fx *f = calloc(1, sizeof(*f));
	char name[32], *ro;
	struct diag d;

	snprintf(name, sizeof(name), "t%d", ++serial);
	f->base = cat(top, name);
	assert_int_equal(mkdir(f->base, 0700), 0);
	f->dir = cat(f->base, "repo");
	f->state = cat(f->base, "state");
	f->root1 = cat(f->dir, "1.root.json");
	f->reports = cat(f->base, "reports");
	f->log = cat(f->base, "rollout.log");
	assert_int_equal(mkdir(f->reports, 0755), 0);
	f->o.dir = f->dir;
	f->o.now = T0 - HOUR;
	write_at(f->base, "rollout.json", DOC_TEXT);
	ro = cat(f->base, "rollout.json");
	diag__init(&d);
	diag_ok(repo__init(&f->o, &io, &d), &d);
	diag_ok(repo__add(&f->o, b12, NULL, 0, &d), &d);
	diag_ok(repo__add(&f->o, b13, NULL, 0, &d), &d);
	diag_ok(repo__publish(&f->o, ro, &d), &d);
	diag__free(&d);
	free(ro);
	*st = f;
	return 0;
}

static int fx_teardown(void **st)
{
	struct fx *f = *st;

	if (f) {
		if (f->rep)
			fclose(f->rep);
		rwt_rmtree(f->base);
		free(f->base);
		free(f->dir);
		free(f->state);
		free(f->root1);
		free(f->reports);
		free(f->log);
		free(f);
	}
	return 0;
}

/* ---- writing reports as the sensor does ---- */

static void fmt_time(int64_t t, char *buf, size_t size)
{
	char s[32];

	bundle__format_time(t, s, sizeof(s));
	s[19] = 0;	/* drop the Z: the sensor writes nanoseconds */
	snprintf(buf, size, "%s.%09dZ", s, (int)(t % 7) * 1000);
}

struct ctr {
	uint64_t restarts, failures, rule_errors, drops, events, eval_ns, rollbacks;
};

static void health_line(FILE *f, const char *host, int64_t ts, int64_t version,
			int64_t activated, bool lkg, const struct ctr *c)
{
	char t[48], a[48];

	fmt_time(ts, t, sizeof(t));
	fmt_time(activated, a, sizeof(a));
	fprintf(f, "{\"@timestamp\":\"%s\",\"event\":{\"kind\":\"metric\",\"category\":\"host\","
		"\"type\":\"info\",\"action\":\"content-health\",\"module\":\"ringward\"},"
		"\"process\":{\"pid\":4242},\"host\":{\"hostname\":\"vm\",\"id\":\"%s\"},"
		"\"ringward\":{\"sensor\":{\"version\":\"0.1.0\",\"schema\":2},"
		"\"content\":{\"version\":\"sha256:%064lld\",\"label\":\"ringward-default@%lld\","
		"\"source\":\"%s\"},\"health\":{\"activated\":\"%s\",\"engine_restarts\":%llu,"
		"\"engine_failures\":%llu,\"rule_errors\":%llu,\"drops\":%llu,\"events\":%llu,"
		"\"eval_ns_per_event\":%llu,\"rollbacks\":%llu}}}\n",
		t, host, (long long)version, (long long)version,
		lkg ? "last-known-good" : "configured", a, (unsigned long long)c->restarts,
		(unsigned long long)c->failures, (unsigned long long)c->rule_errors,
		(unsigned long long)c->drops, (unsigned long long)c->events,
		(unsigned long long)c->eval_ns, (unsigned long long)c->rollbacks);
}

static void rollback_line(FILE *f, const char *host, int64_t ts, int64_t version)
{
	char t[48];

	fmt_time(ts, t, sizeof(t));
	fprintf(f, "{\"@timestamp\":\"%s\",\"event\":{\"kind\":\"alert\",\"category\":"
		"\"configuration\",\"type\":\"change\",\"action\":\"ringward-content-rollback\","
		"\"outcome\":\"success\",\"severity\":4},\"host\":{\"hostname\":\"vm\",\"id\":\"%s\"},"
		"\"rule\":{\"id\":\"ringward-content-rollback\",\"name\":\"ringward-content-rollback\"},"
		"\"ringward\":{\"content\":{\"version\":\"sha256:%064lld\",\"label\":"
		"\"ringward-default@%lld\"},\"engine\":{\"cause\":\"signal\",\"failures\":3}}}\n",
		t, host, (long long)version, (long long)version);
}

/* One host's records on one activation, every `step` from `from` to `to`:
 * ev_per_s events a second since `since` (on top of pre_events, what the
 * counters held at `since`), of which drop_ppm per million dropped. */
struct series {
	int64_t version, activated, since;
	bool lkg;
	double ev_per_s, drop_ppm;
	uint64_t eval_ns, failures, rule_errors;
	uint64_t pre_events, pre_drops;
};

static void series(FILE *f, const char *host, const struct series *s, int64_t from, int64_t to,
		   int64_t step)
{
	for (int64_t t = from; t <= to; t += step) {
		uint64_t ev = (uint64_t)(s->ev_per_s * (double)(t - s->since));
		struct ctr c = {
			.restarts = s->failures, .failures = s->failures,
			.rule_errors = s->rule_errors, .eval_ns = s->eval_ns,
			.events = s->pre_events + ev,
			.drops = s->pre_drops +
				 (uint64_t)((double)ev * s->drop_ppm / (1e6 - s->drop_ppm) + 0.5),
		};

		health_line(f, host, t, s->version, s->activated, s->lkg, &c);
	}
}

static FILE *reports(struct fx *f, const char *name)
{
	char *p = cat(f->reports, name);

	if (f->rep)
		fclose(f->rep);
	f->rep = fopen(p, "w");
	assert_non_null(f->rep);
	free(p);
	return f->rep;
}

static void reports_done(struct fx *f)
{
	if (f->rep)
		assert_int_equal(fclose(f->rep), 0);
	f->rep = NULL;
}

/* The old side: N_OTHER hosts of early and broad on 12 since long ago,
 * reporting every 10 minutes from T0 - 20 min to `to` at 50 events/s and
 * 3000 ns/event; drop_ppm over the window; pre_* what they counted before
 * (e.g. a storm last month). */
static void old_fleet(FILE *out, int64_t to, double drop_ppm, uint64_t pre_events,
		      uint64_t pre_drops)
{
	struct series s = { .version = 12, .activated = OLD_ACT, .since = T0 - 20 * MIN,
			    .ev_per_s = 50, .drop_ppm = drop_ppm, .eval_ns = 3000,
			    .pre_events = pre_events, .pre_drops = pre_drops };

	for (int i = 0; i < N_OTHER; i++)
		series(out, other[i], &s, T0 - 20 * MIN, to, 10 * MIN);
}

/* n canaries on 13, activated 5 minutes after T0, reporting every 10
 * minutes from T0 + 10 min to `to`. */
static void new_canaries(FILE *out, int from_i, int n, int64_t to, double drop_ppm,
			 uint64_t eval_ns, double ev_per_s)
{
	struct series s = { .version = 13, .activated = T0 + 5 * MIN, .since = T0 + 5 * MIN,
			    .ev_per_s = ev_per_s, .drop_ppm = drop_ppm, .eval_ns = eval_ns };

	for (int i = from_i; i < from_i + n; i++)
		series(out, canary[i], &s, T0 + 10 * MIN, to, 10 * MIN);
}

/* ---- running the controller ---- */

/* cmd_rollout() with argv, its stdout to /dev/null (the log file has the
 * same lines); stdin from stdin_path when given. Returns the exit code. */
static int run_rollout(const char *stdin_path, const char *const *argv)
{
	int argc = 0, rc, out, in = -1, null = open("/dev/null", O_WRONLY);
	char *args[32];

	while (argv[argc]) {
		args[argc] = (char *)argv[argc];
		argc++;
	}
	args[argc] = NULL;
	assert_true(null >= 0);
	fflush(stdout);
	out = dup(1);
	dup2(null, 1);
	close(null);
	if (stdin_path) {
		int fd = open(stdin_path, O_RDONLY);

		assert_true(fd >= 0);
		in = dup(0);
		dup2(fd, 0);
		close(fd);
		clearerr(stdin);
	}
	rc = cmd_rollout(argc, args);
	fflush(stdout);
	dup2(out, 1);
	close(out);
	if (in >= 0) {
		dup2(in, 0);
		close(in);
		clearerr(stdin);
	}
	return rc;
}

static int rollout_at(struct fx *f, int64_t now, const char *extra)
{
	char t[32];
	const char *argv[] = { "rollout", "--repo", f->dir, "--reports", f->reports, "--now", t,
			       "--log", f->log, extra, NULL };

	bundle__format_time(now, t, sizeof(t));
	return run_rollout(NULL, argv);
}

/* The log's lines, parsed (caller puts each). */
struct logv {
	json_object *v[4096];
	size_t n;
};

static void log_read(struct fx *f, struct logv *l)
{
	size_t len;
	char *buf = read_all(f->log, &len), *p = buf, *nl;

	l->n = 0;
	while ((nl = strchr(p, '\n')) && l->n < 4096) {
		*nl = 0;
		l->v[l->n] = json_tokener_parse(p);
		if (!l->v[l->n])
			fail_msg("log line is not JSON: %s", p);
		l->n++;
		p = nl + 1;
	}
	assert_string_equal(p, "");	/* whole lines only */
	free(buf);
}

static void log_free(struct logv *l)
{
	for (size_t i = 0; i < l->n; i++)
		json_object_put(l->v[i]);
	l->n = 0;
}

/* The last log line with action (and version, when > 0). */
static json_object *log_find(struct logv *l, const char *action, int64_t version)
{
	for (size_t i = l->n; i-- > 0;) {
		const char *a = rwt_str(l->v[i], "action");

		if (a && !strcmp(a, action) &&
		    (version <= 0 || rwt_int(l->v[i], "version", -1) == version))
			return l->v[i];
	}
	return NULL;
}

static size_t log_count(struct logv *l, const char *action)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++) {
		const char *a = rwt_str(l->v[i], "action");

		n += a && !strcmp(a, action);
	}
	return n;
}

static double num(json_object *o, const char *dotted)
{
	json_object *v = rwt_get(o, dotted);

	if (!v)
		fail_msg("no %s in the log line", dotted);
	return json_object_get_double(v);
}

static void expect_contains(const char *hay, const char *needle)
{
	if (!hay || !strstr(hay, needle))
		fail_msg("expected \"%s\" in \"%s\"", needle, hay ? hay : "(null)");
}

/* What a host trusting 1.root.json gets from the repository at now: the
 * whole TUF chain verified, then rollout.json's length and sha256. */
static void host_view(struct fx *f, int64_t now, struct rollout_doc *doc)
{
	struct tuf_client_opts co = {
		.state_dir = f->state, .bootstrap_root = f->root1,
		.fetch = tuf__fetch_dir, .fetch_ctx = f->dir, .now = now,
	};
	struct tuf_client *c;
	struct tuf_err e = { { 0 } };
	uint8_t *buf = NULL;
	size_t len = 0;

	c = tuf_client__new(&co, &e);
	if (!c || tuf_client__refresh(c, &e) ||
	    tuf_client__fetch_target(c, ROLLOUT_TARGET, &buf, &len, &e))
		fail_msg("the client refused the repository: %s", e.msg);
	if (rollout__parse(doc, ROLLOUT_TARGET, (char *)buf, len, &e))
		fail_msg("published rollout.json: %s", e.msg);
	free(buf);
	tuf_client__free(c);
}

static int64_t published_version(struct fx *f)
{
	struct rollout_doc doc;
	struct tuf_err e;
	struct diag d;
	uint8_t *buf;
	size_t len;
	int64_t v;

	diag__init(&d);
	diag_ok(repo__read_target(&f->o, ROLLOUT_TARGET, &buf, &len, &d), &d);
	diag__free(&d);
	assert_int_equal(rollout__parse(&doc, ROLLOUT_TARGET, (char *)buf, len, &e), 0);
	v = doc.version;
	rollout__free(&doc);
	free(buf);
	return v;
}

/* ---- tests: the command on a real repository ---- */

/* Healthy canaries: held while baking, promoted once the bake is over,
 * and then held in the next ring (no second promotion). */
static void test_healthy_promoted(void **st)
{
	struct fx *f = *st;
	struct rollout_doc doc;
	struct logv l;
	json_object *d, *p;
	FILE *out = reports(f, "fleet.jsonl");
	char *ts1, *ts2;
	size_t n1, n2;

	old_fleet(out, T0 + 2 * HOUR, 100, 5000000, 500);
	new_canaries(out, 0, 6, T0 + 2 * HOUR, 100, 3100, 50);
	/* two canaries still on 12 (slow to poll): the old side, same ring */
	for (int i = 6; i < 8; i++) {
		struct series s = { .version = 12, .activated = OLD_ACT, .since = T0 - 20 * MIN,
				    .ev_per_s = 50, .drop_ppm = 100, .eval_ns = 3000 };

		series(out, canary[i], &s, T0 - 20 * MIN, T0 + 2 * HOUR, 10 * MIN);
	}
	reports_done(f);

	/* 30 minutes in: baking */
	{
		char *p1 = cat(f->dir, "timestamp.json");

		ts1 = read_all(p1, &n1);
		assert_int_equal(rollout_at(f, T0 + 30 * MIN, NULL), 0);
		ts2 = read_all(p1, &n2);
		free(p1);
	}
	assert_true(n1 == n2 && !memcmp(ts1, ts2, n1));	/* nothing published */
	free(ts1);
	free(ts2);
	log_read(f, &l);
	d = log_find(&l, "hold", 13);
	assert_non_null(d);
	expect_contains(rwt_str(d, "reason"), "baking in canary since 2030-01-01T00:00:00Z: 1800 "
			"of 3600 s");
	assert_int_equal(rwt_int(d, "bake.elapsed_s", 0), 1800);
	assert_int_equal(rwt_int(d, "evidence.new.hosts", 0), 6);
	assert_string_equal(rwt_str(d, "evidence.checks.failed_hosts.result"), "pass");
	p = log_find(&l, "summary", 0);
	assert_non_null(p);
	assert_false(json_object_get_boolean(rwt_get(p, "published")));
	assert_int_equal(rwt_int(p, "decisions.hold", -1), 1);
	assert_null(log_find(&l, "promote", 0));
	log_free(&l);
	assert_int_equal(published_version(f), 1);

	/* two hours in: promoted to early */
	assert_int_equal(rollout_at(f, T0 + 2 * HOUR, NULL), 0);
	log_read(f, &l);
	d = log_find(&l, "promote", 13);
	assert_non_null(d);
	assert_string_equal(rwt_str(d, "ring"), "canary");
	assert_string_equal(rwt_str(d, "to_ring"), "early");
	expect_contains(rwt_str(d, "reason"), "healthy in canary for 7200 s on 6 hosts (5 needed): "
			"on to early");
	assert_string_equal(rwt_str(d, "evidence.window.start"), "2030-01-01T00:00:00Z");
	assert_string_equal(rwt_str(d, "evidence.window.end"), "2030-01-01T02:00:00Z");
	/* the new side: 6 canaries since their activation at T0 + 5 min */
	assert_int_equal(rwt_int(d, "evidence.new.hosts", 0), 6);
	assert_int_equal(rwt_int(d, "evidence.new.failed_hosts", -1), 0);
	assert_int_equal(rwt_int(d, "evidence.new.events", 0), 6 * 50 * (7200 - 300));
	assert_int_equal(rwt_int(d, "evidence.new.host_seconds", 0), 6 * (7200 - 300));
	assert_true(num(d, "evidence.new.eval_ns_per_event") == 3100.0);
	/* the old side: 40 others + 2 slow canaries, over the window only */
	assert_int_equal(rwt_int(d, "evidence.old.hosts", 0), 42);
	assert_int_equal(rwt_int(d, "evidence.old.events", 0), 42 * 50 * 7200);
	assert_int_equal(rwt_int(d, "evidence.old.host_seconds", 0), 42 * 7200);
	assert_true(num(d, "evidence.old.drop_ppm") > 99.0 && num(d, "evidence.old.drop_ppm") < 101.0);
	assert_true(num(d, "evidence.checks.cpu_permille.excess") < 0.01);
	assert_string_equal(rwt_str(d, "evidence.checks.min_hosts.result"), "pass");
	p = log_find(&l, "published", 0);
	assert_non_null(p);
	assert_int_equal(rwt_int(p, "rollout_version", 0), 2);
	assert_int_equal(rwt_int(p, "previous_version", 0), 1);
	assert_int_equal(rwt_int(log_find(&l, "summary", 0), "fleet.by_release.13.canary", 0), 6);
	assert_int_equal(rwt_int(log_find(&l, "summary", 0), "fleet.by_release.12.canary", 0), 2);
	log_free(&l);

	/* what a host sees, verified */
	host_view(f, T0 + 2 * HOUR, &doc);
	assert_int_equal(doc.version, 2);
	assert_int_equal(doc.n_releases, 2);
	assert_int_equal(doc.releases[1].version, 13);
	assert_int_equal(doc.releases[1].ring_time[0], T0);
	assert_int_equal(doc.releases[1].ring_time[1], T0 + 2 * HOUR);
	assert_int_equal(doc.releases[1].ring_time[2], 0);
	assert_null(doc.releases[1].halted);
	/* everything else as the operator wrote it */
	assert_string_equal(doc.salt, "test-salt");
	assert_int_equal(doc.rings[0].gates.max_drop_ppm, 1000);
	assert_int_equal(doc.rings[0].urgent_bake, 600);
	assert_int_equal(doc.releases[0].ring_time[2], ref.releases[0].ring_time[2]);
	{
		struct rollout_choice ch;
		struct rollout_health h = { .current = 12 };

		assert_int_equal(rollout__select(&doc, other[0], NULL, T0 + 2 * HOUR, &h, &ch), 0);
		if (ch.ring == 1) {
			assert_int_equal(ch.version, 13);
		} else {
			assert_int_equal(ch.version, 12);
		}
	}
	rollout__free(&doc);

	/* ten minutes later: in early, baking; not promoted again */
	assert_int_equal(rollout_at(f, T0 + 2 * HOUR + 10 * MIN, NULL), 0);
	log_read(f, &l);
	d = log_find(&l, "hold", 13);
	assert_non_null(d);
	assert_string_equal(rwt_str(d, "ring"), "early");
	expect_contains(rwt_str(d, "reason"), "baking in early since 2030-01-01T02:00:00Z: 600 of "
			"3600 s");
	assert_int_equal(log_count(&l, "published"), 1);
	log_free(&l);
	assert_int_equal(published_version(f), 2);
}

/* Bake over, but fewer canaries reported than min_hosts: hold. */
static void test_too_few_reports_hold(void **st)
{
	struct fx *f = *st;
	struct logv l;
	json_object *d;
	FILE *out = reports(f, "fleet.jsonl");

	old_fleet(out, T0 + 2 * HOUR, 100, 0, 0);
	new_canaries(out, 0, 3, T0 + 2 * HOUR, 100, 3000, 50);
	reports_done(f);
	assert_int_equal(rollout_at(f, T0 + 2 * HOUR, NULL), 0);
	log_read(f, &l);
	d = log_find(&l, "hold", 13);
	assert_non_null(d);
	assert_string_equal(rwt_str(d, "reason"), "too few reports from canary: 3 hosts on 13, 5 "
			    "needed");
	assert_string_equal(rwt_str(d, "evidence.checks.min_hosts.result"), "wait");
	assert_int_equal(rwt_int(d, "evidence.checks.min_hosts.needed", 0), 5);
	/* the rate gates do not judge on 3 hosts either */
	assert_string_equal(rwt_str(d, "evidence.checks.drop_ppm.result"), "wait");
	assert_null(log_find(&l, "published", 0));
	log_free(&l);
	assert_int_equal(published_version(f), 1);
}

/* A version that crashes the engine: halted within the bake, signed, and
 * canaries on it are sent back to 12. */
static void test_crash_halted(void **st)
{
	struct fx *f = *st;
	struct rollout_doc doc;
	struct rollout_choice ch;
	struct rollout_health h = { .current = 13 };
	struct logv l;
	json_object *d;
	FILE *out = reports(f, "fleet.jsonl");
	int64_t now = T0 + 40 * MIN;

	old_fleet(out, now, 100, 0, 0);
	/* two healthy canaries */
	new_canaries(out, 0, 2, now, 100, 3000, 50);
	/* two that failed on 13 (reported), rolled back, and run 12 as LKG */
	for (int i = 2; i < 4; i++) {
		struct series s = { .version = 13, .activated = T0 + 5 * MIN, .since = T0 + 5 * MIN,
				    .ev_per_s = 50, .eval_ns = 3000, .failures = 2 };
		struct series lkg = { .version = 12, .activated = T0 + 16 * MIN, .lkg = true,
				      .since = T0 + 16 * MIN, .ev_per_s = 50, .eval_ns = 3000 };

		series(out, canary[i], &s, T0 + 10 * MIN, T0 + 15 * MIN, 5 * MIN);
		rollback_line(out, canary[i], T0 + 16 * MIN, 13);
		series(out, canary[i], &lkg, T0 + 20 * MIN, now, 10 * MIN);
	}
	/* two that crashed before their first health record: only the alert
	 * and then the last-known-good content say so */
	for (int i = 4; i < 6; i++) {
		struct series lkg = { .version = 12, .activated = T0 + 7 * MIN, .lkg = true,
				      .since = T0 + 7 * MIN, .ev_per_s = 50, .eval_ns = 3000 };
		struct ctr c = { .rollbacks = 1 };

		rollback_line(out, canary[i], T0 + 7 * MIN, 13);
		health_line(out, canary[i], T0 + 8 * MIN, 12, T0 + 7 * MIN, true, &c);
		series(out, canary[i], &lkg, T0 + 20 * MIN, now, 10 * MIN);
	}
	reports_done(f);

	assert_int_equal(rollout_at(f, now, NULL), 0);
	log_read(f, &l);
	d = log_find(&l, "halt", 13);
	assert_non_null(d);
	assert_string_equal(rwt_str(d, "reason"),
			    "engine failures in canary: 4 of 6 hosts on 13 failed or rolled back "
			    "(4 rollbacks), above the limit of 0.0 (older releases: 0 of 40 hosts)");
	assert_int_equal(rwt_int(d, "evidence.new.failed_hosts", 0), 4);
	assert_int_equal(rwt_int(d, "evidence.new.rollback_hosts", 0), 4);
	assert_int_equal(rwt_int(d, "evidence.new.engine_failures", 0), 4);
	assert_int_equal(rwt_int(d, "evidence.old.hosts", 0), 40);
	assert_string_equal(rwt_str(d, "evidence.checks.failed_hosts.result"), "fail");
	assert_int_equal(rwt_int(d, "bake.elapsed_s", 0), 40 * 60);	/* before the bake's end */
	assert_int_equal(json_object_get_int64(json_object_array_get_idx(
		rwt_get(log_find(&l, "published", 0), "halted"), 0)), 13);
	assert_int_equal(rwt_int(log_find(&l, "summary", 0), "fleet.last_known_good", 0), 4);
	assert_int_equal(rwt_int(log_find(&l, "summary", 0), "reports.rollbacks", 0), 4);
	log_free(&l);

	/* the published, signed document carries the halt */
	host_view(f, now, &doc);
	assert_int_equal(doc.version, 2);
	assert_non_null(doc.releases[1].halted);
	assert_string_equal(doc.releases[1].halted,
			    "engine failures in canary: 4 of 6 hosts on 13 failed or rolled back "
			    "(4 rollbacks), above the limit of 0.0 (older releases: 0 of 40 hosts)");
	/* a canary on 13 goes back to 12, one on 12 stays */
	assert_int_equal(rollout__select(&doc, canary[0], NULL, now, &h, &ch), 0);
	assert_int_equal(ch.ring, 0);
	assert_int_equal(ch.version, 12);
	assert_true(ch.change);
	assert_string_equal(ch.target, "ringward-default-12.rwb");
	h.current = 12;
	assert_int_equal(rollout__select(&doc, canary[4], NULL, now, &h, &ch), 0);
	assert_int_equal(ch.version, 12);
	assert_false(ch.change);
	rollout__free(&doc);

	/* a halted release is no longer in flight: the next run decides nothing */
	assert_int_equal(rollout_at(f, now + 10 * MIN, NULL), 0);
	log_read(f, &l);
	assert_int_equal(rwt_int(log_find(&l, "summary", 0), "decisions.halt", -1), 0);
	assert_int_equal(rwt_int(log_find(&l, "summary", 0), "decisions.hold", -1), 0);
	assert_int_equal(log_count(&l, "published"), 1);
	log_free(&l);
	assert_int_equal(published_version(f), 2);
}

/* --dry-run: the halt is decided and logged, nothing is published. */
static void test_dry_run(void **st)
{
	struct fx *f = *st;
	struct logv l;
	FILE *out = reports(f, "fleet.jsonl");

	old_fleet(out, T0 + 30 * MIN, 100, 0, 0);
	for (int i = 0; i < 3; i++)
		rollback_line(out, canary[i], T0 + 10 * MIN, 13);
	reports_done(f);
	assert_int_equal(rollout_at(f, T0 + 30 * MIN, "--dry-run"), 0);
	log_read(f, &l);
	assert_non_null(log_find(&l, "halt", 13));
	assert_null(log_find(&l, "published", 0));
	assert_true(json_object_get_boolean(rwt_get(log_find(&l, "summary", 0), "dry_run")));
	log_free(&l);
	assert_int_equal(published_version(f), 1);
}

/* A drop-rate regression: halted. The old hosts had a storm last month
 * (in their cumulative counters): measured over the same window, it does
 * not mask the regression. */
static void test_drop_regression_halted(void **st)
{
	struct fx *f = *st;
	struct rollout_doc doc;
	struct logv l;
	json_object *d;
	FILE *out = reports(f, "fleet.jsonl");
	int64_t now = T0 + 90 * MIN;

	/* cumulative since activation: 33% dropped; in the window: 100 ppm */
	old_fleet(out, now, 100, 10000000, 5000000);
	new_canaries(out, 0, 6, now, 20000, 3000, 50);
	reports_done(f);
	assert_int_equal(rollout_at(f, now, NULL), 0);
	log_read(f, &l);
	d = log_find(&l, "halt", 13);
	assert_non_null(d);
	expect_contains(rwt_str(d, "reason"), "drop rate in canary: 20000 ppm on 13 (6 hosts) "
			"against 100 ppm on older releases (40 hosts) over the same period: 19900 ppm "
			"more, gate 1000");
	assert_true(num(d, "evidence.checks.drop_ppm.excess") > 19899.0 &&
		    num(d, "evidence.checks.drop_ppm.excess") < 19901.0);
	assert_string_equal(rwt_str(d, "evidence.checks.drop_ppm.result"), "fail");
	assert_string_equal(rwt_str(d, "evidence.checks.failed_hosts.result"), "pass");
	log_free(&l);
	host_view(f, now, &doc);
	expect_contains(doc.releases[1].halted, "drop rate in canary");
	rollout__free(&doc);
}

/* An evaluation-cost regression: 100 us/event at 1000 events/s against
 * 3 us on the old side is ~97 per mille of a CPU more: halted. */
static void test_cpu_regression_halted(void **st)
{
	struct fx *f = *st;
	struct rollout_doc doc;
	struct logv l;
	json_object *d;
	FILE *out = reports(f, "fleet.jsonl");
	int64_t now = T0 + 90 * MIN;

	old_fleet(out, now, 100, 0, 0);
	new_canaries(out, 0, 6, now, 100, 100000, 1000);
	reports_done(f);
	assert_int_equal(rollout_at(f, now, NULL), 0);
	log_read(f, &l);
	d = log_find(&l, "halt", 13);
	assert_non_null(d);
	expect_contains(rwt_str(d, "reason"), "evaluation cost in canary: 100000 ns/event on 13 "
			"(6 hosts) against 3000 on older releases (40 hosts) over the same period: "
			"97.0 per mille of a CPU more, gate 50");
	assert_true(num(d, "evidence.new.cpu_permille") > 99.9 &&
		    num(d, "evidence.new.cpu_permille") < 100.1);
	assert_true(num(d, "evidence.old.cpu_permille") > 0.149 &&
		    num(d, "evidence.old.cpu_permille") < 0.151);
	assert_string_equal(rwt_str(d, "evidence.checks.cpu_permille.result"), "fail");
	assert_string_equal(rwt_str(d, "evidence.checks.drop_ppm.result"), "pass");
	log_free(&l);
	host_view(f, now, &doc);
	expect_contains(doc.releases[1].halted, "evaluation cost in canary");
	rollout__free(&doc);
}

/* A fleet-wide drop storm during the window, on both sides: the new
 * version's absolute drop rate is over the gate, but not its excess over
 * the old hosts' in the same period: promoted. */
static void test_same_period_storm_promoted(void **st)
{
	struct fx *f = *st;
	struct logv l;
	json_object *d;
	FILE *out = reports(f, "fleet.jsonl");
	char *slash = NULL;
	const char *argv[] = { "rollout", "--repo", NULL, "--reports", f->reports, "--now",
			       "2030-01-01T02:00:00Z", "--log", f->log, NULL };

	old_fleet(out, T0 + 2 * HOUR, 4800, 0, 0);
	new_canaries(out, 0, 6, T0 + 2 * HOUR, 5000, 3000, 50);
	reports_done(f);
	/* "DIR/" names the same repository (and DIR.keys) as "DIR" */
	slash = cat(f->dir, "");
	argv[2] = slash;
	assert_int_equal(run_rollout(NULL, argv), 0);
	free(slash);
	log_read(f, &l);
	d = log_find(&l, "promote", 13);
	assert_non_null(d);
	assert_true(num(d, "evidence.new.drop_ppm") > 4999.0);
	assert_true(num(d, "evidence.old.drop_ppm") > 4795.0 && num(d, "evidence.old.drop_ppm") <
		    4805.0);
	assert_true(num(d, "evidence.checks.drop_ppm.excess") > 190.0 &&
		    num(d, "evidence.checks.drop_ppm.excess") < 210.0);
	assert_string_equal(rwt_str(d, "evidence.checks.drop_ppm.result"), "pass");
	log_free(&l);
	assert_int_equal(published_version(f), 2);
}

/* Malformed lines are counted and skipped with file:line; the directory's
 * *.jsonl and *.json files are read, other files are not. */
static void test_malformed_lines(void **st)
{
	struct fx *f = *st;
	struct logv l;
	json_object *s;
	FILE *out = reports(f, "a.jsonl");
	char *pa = cat(f->reports, "a.jsonl"), *pb = cat(f->reports, "b.json"), want[512];
	const char *msgs[4];
	size_t k = 0;

	old_fleet(out, T0 + 30 * MIN, 100, 0, 0);	/* 40 x 6 lines */
	fputs("{\"@timestamp\": \"2030-01-01T00:10:00Z\"\n", out);	/* line 241: cut */
	fputs("\n", out);				/* 242: blank, ignored */
	fputs("{\"event\":{\"action\":\"content-health\"},\"@timestamp\":"
	      "\"2030-01-01T00:10:00Z\"}\n", out);	/* 243: no host.id */
	fputs("{\"event\":{\"action\":\"process-exec\"},\"host\":{\"id\":\"x\"}}\n", out); /* 244 */
	reports_done(f);
	out = reports(f, "b.json");
	new_canaries(out, 0, 6, T0 + 30 * MIN, 100, 3000, 50);	/* 6 x 3 lines */
	fputs("[1, 2]\n", out);				/* line 19 */
	fputs("{\"rule\":{\"name\":\"ringward-content-rollback\"},\"host\":{\"id\":\"h\"},"
	      "\"@timestamp\":\"yesterday\"}\n", out);	/* 20 */
	reports_done(f);
	write_at(f->reports, "notes.txt", "not a report, not read\n");
	assert_int_equal(rollout_at(f, T0 + 30 * MIN, NULL), 0);
	log_read(f, &l);
	for (size_t i = 0; i < l.n; i++) {
		if (strcmp(rwt_str(l.v[i], "action"), "skip"))
			continue;
		if (k < 4)
			msgs[k] = rwt_str(l.v[i], "message");
		k++;
	}
	assert_int_equal(k, 4);
	snprintf(want, sizeof(want), "%s:241: not JSON: truncated", pa);
	assert_string_equal(msgs[0], want);
	snprintf(want, sizeof(want), "%s:243: content-health record without host.id", pa);
	assert_string_equal(msgs[1], want);
	snprintf(want, sizeof(want), "%s:19: not a JSON object", pb);
	assert_string_equal(msgs[2], want);
	snprintf(want, sizeof(want), "%s:20: rollback alert: @timestamp is not an RFC 3339 time",
		 pb);
	assert_string_equal(msgs[3], want);
	assert_int_equal(rwt_int(log_find(&l, "skip", 0), "line", 0), 20);
	assert_string_equal(rwt_str(log_find(&l, "skip", 0), "file"), pb);
	s = log_find(&l, "summary", 0);
	assert_int_equal(rwt_int(s, "reports.malformed", 0), 4);
	assert_int_equal(rwt_int(s, "reports.lines", 0), 244 + 20);
	assert_int_equal(rwt_int(s, "reports.health", 0), 240 + 18);
	assert_int_equal(rwt_int(s, "reports.ignored", 0), 2);
	assert_int_equal(rwt_int(s, "fleet.hosts", 0), 46);
	/* the good lines still count */
	assert_int_equal(rwt_int(log_find(&l, "hold", 13), "evidence.new.hosts", 0), 6);
	log_free(&l);
	free(pa);
	free(pb);
}

/* Reports on stdin ("-", the default), and records after --now ignored. */
static void test_stdin_and_future(void **st)
{
	struct fx *f = *st;
	struct logv l;
	json_object *s;
	char t[32], *p;
	FILE *out = reports(f, "fleet.jsonl");
	const char *argv[] = { "rollout", "--repo", f->dir, "--now", t, "--log", f->log, NULL };

	old_fleet(out, T0 + 2 * HOUR, 100, 0, 0);
	new_canaries(out, 0, 6, T0 + 2 * HOUR, 100, 3000, 50);
	reports_done(f);
	bundle__format_time(T0 + 50 * MIN, t, sizeof(t));
	p = cat(f->reports, "fleet.jsonl");
	assert_int_equal(run_rollout(p, argv), 0);
	free(p);
	log_read(f, &l);
	s = log_find(&l, "summary", 0);
	/* old: T0-20..T0+50 min every 10 (8 of 15 lines); new: T0+10..T0+50 (5 of 12) */
	assert_int_equal(rwt_int(s, "reports.health", 0), 40 * 8 + 6 * 5);
	assert_int_equal(rwt_int(s, "reports.future", 0), 40 * 7 + 6 * 7);
	assert_non_null(log_find(&l, "hold", 13));
	log_free(&l);
}

/* Usage errors exit 2, other errors 1, and neither publishes. */
static void test_usage_and_errors(void **st)
{
	struct fx *f = *st;
	char *missing = cat(f->base, "no-such-repo"), *nofile = cat(f->base, "nothing.jsonl");
	const char *a1[] = { "rollout", NULL };
	const char *a2[] = { "rollout", "--repo", f->dir, "--now", "tomorrow", NULL };
	const char *a3[] = { "rollout", "--repo", f->dir, "--bogus", NULL };
	const char *a4[] = { "rollout", "--repo", f->dir, "extra", NULL };
	const char *a5[] = { "rollout", "--repo", missing, "--reports", f->reports, NULL };
	const char *a6[] = { "rollout", "--repo", f->dir, "--reports", nofile, "--now",
			     "2030-01-01T02:00:00Z", NULL };
	const char *a7[] = { "rollout", "--help", NULL };
	const char *a8[] = { "rollout", "--repo", f->dir, "--expires", "bogus=1d", NULL };

	assert_int_equal(run_rollout(NULL, a1), 2);
	assert_int_equal(run_rollout(NULL, a2), 2);
	assert_int_equal(run_rollout(NULL, a3), 2);
	assert_int_equal(run_rollout(NULL, a4), 2);
	assert_int_equal(run_rollout(NULL, a5), 1);
	assert_int_equal(run_rollout(NULL, a6), 1);
	assert_int_equal(run_rollout(NULL, a7), 0);
	assert_int_equal(run_rollout(NULL, a8), 2);
	assert_int_equal(published_version(f), 1);
	free(missing);
	free(nofile);
}

/* ---- tests: the pure parts ---- */

static void test_parse_time(void **st)
{
	int64_t t;

	assert_int_equal(controller__parse_time("2030-01-01T00:00:00Z", 20, &t), 0);
	assert_int_equal(t, T0);
	assert_int_equal(controller__parse_time("2030-01-01T00:00:01.999999999Z", 30, &t), 0);
	assert_int_equal(t, T0 + 1);
	assert_int_equal(controller__parse_time("2030-01-01T02:00:00+02:00", 25, &t), 0);
	assert_int_equal(t, T0);
	assert_int_equal(controller__parse_time("2029-12-31T23:00:00-01:00", 25, &t), 0);
	assert_int_equal(t, T0);
	assert_int_equal(controller__parse_time("2028-02-29T00:00:00Z", 20, &t), 0);
	assert_int_equal(controller__parse_time("2029-02-29T00:00:00Z", 20, &t), -EINVAL);
	assert_int_equal(controller__parse_time("2030-01-01 00:00:00Z", 20, &t), -EINVAL);
	assert_int_equal(controller__parse_time("2030-01-01T00:00:00", 19, &t), -EINVAL);
	assert_int_equal(controller__parse_time("2030-01-01T00:00:00.Z", 21, &t), -EINVAL);
	assert_int_equal(controller__parse_time("2030-13-01T00:00:00Z", 20, &t), -EINVAL);
	assert_int_equal(controller__parse_time("2030-01-01T00:00:00Zjunk", 24, &t), -EINVAL);
}

/* Feed a controller lines built with the report writers above. */
static void feed(struct controller *c, void (*gen)(FILE *, void *), void *arg)
{
	char *buf = NULL, err[256];
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	char *p, *nl;

	assert_non_null(m);
	gen(m, arg);
	assert_int_equal(fclose(m), 0);
	for (p = buf; (nl = strchr(p, '\n')); p = nl + 1) {
		int r = controller__ingest(c, p, (size_t)(nl - p), err, sizeof(err));

		if (r < 0)
			fail_msg("refused: %s: %.*s", err, (int)(nl - p), p);
	}
	free(buf);
}

/* n_old old hosts of which bad_old crashed; n_new canaries, bad_new crashed */
struct crash_mix {
	int n_old, bad_old, n_new, bad_new;
};

static void gen_mix(FILE *out, void *arg)
{
	const struct crash_mix *m = arg;

	for (int i = 0; i < m->n_old; i++) {
		struct series s = { .version = 12, .activated = OLD_ACT, .since = T0 - 20 * MIN,
				    .ev_per_s = 10, .eval_ns = 2000 };

		series(out, other[i], &s, T0 - 20 * MIN, T0 + 30 * MIN, 10 * MIN);
		if (i < m->bad_old) {
			/* an engine restart inside the window */
			struct ctr c = { .restarts = 1, .failures = 1, .events = 1000000 };

			health_line(out, other[i], T0 + 31 * MIN, 12, OLD_ACT, false, &c);
		}
	}
	for (int i = 0; i < m->n_new; i++) {
		struct series s = { .version = 13, .activated = T0 + 5 * MIN, .since = T0 + 5 * MIN,
				    .ev_per_s = 10, .eval_ns = 2000, .failures = i < m->bad_new };

		series(out, canary[i], &s, T0 + 10 * MIN, T0 + 30 * MIN, 10 * MIN);
	}
}

static void decide_mix(const struct crash_mix *m, struct ctl_decision *out)
{
	struct controller *c = controller__new(&ref, T0 + 40 * MIN);
	struct ctl_decision *d;
	size_t n;

	assert_non_null(c);
	feed(c, gen_mix, (void *)m);
	assert_int_equal(controller__decide(c, &d, &n), 0);
	assert_int_equal(n, 1);
	*out = d[0];
	free(d);
	controller__free(c);
}

/* Background failures on the old side raise the allowance on the new
 * (expected + 3 sigma + the gate); without them, one failure halts. */
static void test_noise_allowance(void **st)
{
	struct ctl_decision d;
	struct crash_mix m = { .n_old = 40, .bad_old = 4, .n_new = 6, .bad_new = 1 };

	decide_mix(&m, &d);
	assert_int_equal(d.action, CTL_HOLD);
	assert_int_equal(d.ev.old_v.hosts, 40);
	assert_int_equal(d.ev.old_v.failed_hosts, 4);
	assert_int_equal(d.ev.old_v.engine_restarts, 4);
	assert_true(d.ev.expected_failed > 0.599 && d.ev.expected_failed < 0.601);
	/* 0.6 + 3 sqrt(0.6) */
	assert_true(d.ev.limit_failed > 2.92 && d.ev.limit_failed < 2.93);
	assert_int_equal(d.ev.failed, CTL_CHECK_PASS);

	/* 3 failed of 6 is above 2.92 */
	m.bad_new = 3;
	decide_mix(&m, &d);
	assert_int_equal(d.action, CTL_HALT);
	assert_int_equal(d.ev.failed, CTL_CHECK_FAIL);
	assert_string_equal(d.reason, "engine failures in canary: 3 of 6 hosts on 13 failed or "
			    "rolled back (0 rollbacks), above the limit of 2.9 (older releases: 4 of "
			    "40 hosts)");

	/* a clean old side: one failure is one too many */
	m.bad_old = 0;
	m.bad_new = 1;
	decide_mix(&m, &d);
	assert_int_equal(d.action, CTL_HALT);
	assert_true(d.ev.limit_failed == 0.0);
}

/* A ring without gates uses the nearest earlier ring's. */
static void test_gates_inherited(void **st)
{
	struct rollout_doc doc;
	struct controller *c;
	struct ctl_decision *d;
	struct tuf_err e;
	size_t n;
	/* 13 in early since T0 + 1 h */
	const char *text =
		"{\"_type\": \"rollout\", \"version\": 1, \"salt\": \"test-salt\", \"rings\": ["
		"{\"name\": \"canary\", \"hosts_bp\": 2000, \"bake_seconds\": 3600, \"gates\": "
		"{\"max_engine_restarts\": 0, \"min_hosts\": 2}},"
		"{\"name\": \"early\", \"hosts_bp\": 3000, \"bake_seconds\": 3600},"
		"{\"name\": \"broad\", \"hosts_bp\": 5000}], \"releases\": ["
		"{\"version\": 12, \"target\": \"ringward-default-12.rwb\", \"rings\": {"
		"\"canary\": \"2029-12-01T00:00:00Z\", \"early\": \"2029-12-02T00:00:00Z\", "
		"\"broad\": \"2029-12-03T00:00:00Z\"}},"
		"{\"version\": 13, \"target\": \"ringward-default-13.rwb\", \"rings\": {"
		"\"canary\": \"2030-01-01T00:00:00Z\", \"early\": \"2030-01-01T01:00:00Z\"}}]}";
	char line[2048], err[256];
	int early = -1;

	assert_int_equal(rollout__parse(&doc, "r", text, strlen(text), &e), 0);
	c = controller__new(&doc, T0 + 90 * MIN);
	assert_non_null(c);
	for (int i = 0; i < N_OTHER && early < 0; i++)
		if (rollout__ring(other[i], doc.salt, doc.rings, doc.n_rings) == 1)
			early = i;
	assert_true(early >= 0);
	{
		char *buf = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&buf, &len);
		struct ctr k = { .restarts = 3, .failures = 3, .events = 100 };

		health_line(m, other[early], T0 + 80 * MIN, 13, T0 + 65 * MIN, false, &k);
		fclose(m);
		snprintf(line, sizeof(line), "%s", buf);
		free(buf);
	}
	assert_int_equal(controller__ingest(c, line, strlen(line), err, sizeof(err)), 0);
	assert_int_equal(controller__decide(c, &d, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(d[0].action, CTL_HALT);
	assert_int_equal(d[0].ev.ring, 1);
	assert_int_equal(d[0].ev.gates.max_engine_restarts, 0);
	assert_int_equal(d[0].ev.min_hosts, 2);
	expect_contains(d[0].reason, "engine failures in early: 1 of 1 hosts on 13");
	/* applied: halted, version up; promotions untouched */
	{
		bool changed;

		assert_int_equal(controller__apply(&doc, d, n, T0 + 90 * MIN, &changed), 0);
		assert_true(changed);
		assert_int_equal(doc.version, 2);
		assert_string_equal(doc.releases[1].halted, d[0].reason);
	}
	free(d);
	controller__free(c);
	rollout__free(&doc);
}

/* Labels: NAME@VERSION of this document's bundle; other bundles, other
 * names and junk do not map. */
static void test_labels(void **st)
{
	static const char *const labels[] = {
		"ringward-default@13", "local@4,ringward-default@13", "other@13",
		"ringward-default@14", "ringward-default@", "@13", "ringward-default@13x", "",
	};
	struct controller *c = controller__new(&ref, T0 + HOUR);

	assert_non_null(c);
	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
		char line[1024], err[256], host[32];

		snprintf(host, sizeof(host), "label-%zu", i);
		snprintf(line, sizeof(line),
			 "{\"@timestamp\":\"2030-01-01T00:30:00Z\",\"event.action\":\"content-health\","
			 "\"host.id\":\"%s\",\"ringward.content.label\":\"%s\","
			 "\"ringward.health.activated\":\"2030-01-01T00:10:00Z\","
			 "\"ringward.health.engine_restarts\":0,\"ringward.health.engine_failures\":0,"
			 "\"ringward.health.rule_errors\":0,\"ringward.health.drops\":0,"
			 "\"ringward.health.events\":10,\"ringward.health.eval_ns_per_event\":5}",
			 host, labels[i]);
		assert_int_equal(controller__ingest(c, line, strlen(line), err, sizeof(err)), 0);
	}
	{
		json_object *census = controller__census_json(c);

		/* flat dotted keys were read: every host is known */
		assert_int_equal(rwt_int(census, "hosts", 0), 8);
		assert_int_equal(rwt_int(census, "no_release", 0), 6);
		/* label-0 and label-1, both canaries or not, run 13 */
		assert_int_equal(rwt_int(census, "by_release.13.canary", 0) +
				 rwt_int(census, "by_release.13.early", 0) +
				 rwt_int(census, "by_release.13.broad", 0), 2);
		json_object_put(census);
	}
	assert_int_equal(controller__counts(c)->unmapped, 6);
	controller__free(c);
}

/* The document written back reads as the same document. */
static void test_rollout_write_roundtrip(void **st)
{
	const char *text =
		"{\"_type\": \"rollout\", \"version\": 7, \"salt\": \"fleet-2024-07\", \"rings\": ["
		"{\"name\": \"canary\", \"hosts_bp\": 100, \"bake_seconds\": 86400, "
		"\"urgent_bake_seconds\": 3600, \"gates\": {\"max_engine_restarts\": 0, "
		"\"max_rule_errors\": 2, \"max_drop_ppm\": 1000, \"max_cpu_permille\": 50, "
		"\"min_hosts\": 10}},"
		"{\"name\": \"early\", \"hosts_bp\": 1000, \"bake_seconds\": 86400, "
		"\"gates\": {\"min_hosts\": 100}},"
		"{\"name\": \"broad\", \"hosts_bp\": 8900}],"
		"\"releases\": [{\"version\": 13, \"target\": \"rw-13.rwb\", \"urgent\": true, "
		"\"halted\": \"engine restarts in canary: 41 hosts\", \"rings\": {\"canary\": "
		"\"2024-07-19T04:09:00Z\"}},"
		"{\"version\": 12, \"target\": \"rw-12.rwb\", \"rings\": {\"canary\": "
		"\"2024-07-18T00:00:00Z\", \"early\": \"2024-07-19T00:00:00Z\"}}],"
		"\"groups\": {\"default\": {\"policy\": \"latest\"}, \"db\": {\"policy\": \"n-1\", "
		"\"windows\": [{\"days\": [\"sat\", \"sun\"], \"start\": \"02:00\", \"end\": "
		"\"05:00\"}, {\"start\": \"23:30\", \"end\": \"00:30\"}]}, \"payments\": {\"policy\": "
		"\"pin\", \"version\": 12}, \"lab\": {\"policy\": \"pause\"}},"
		"\"kill_switch\": {\"versions\": [13], \"rules\": [\"rule-b\", \"rule-a\"]}}";
	struct rollout_doc a, b;
	struct tuf_err e;
	char *w1, *w2;
	size_t l1, l2;

	assert_int_equal(rollout__parse(&a, "a", text, strlen(text), &e), 0);
	assert_int_equal(rollout__write(&a, &w1, &l1), 0);
	assert_int_equal(l1, strlen(w1));
	assert_int_equal(w1[l1 - 1], '\n');
	if (rollout__parse(&b, "b", w1, l1, &e))
		fail_msg("written document refused: %s\n%s", e.msg, w1);
	assert_int_equal(rollout__write(&b, &w2, &l2), 0);
	assert_string_equal(w1, w2);
	assert_int_equal(b.version, 7);
	assert_string_equal(b.salt, "fleet-2024-07");
	assert_int_equal(b.n_rings, 3);
	assert_int_equal(b.rings[0].urgent_bake, 3600);
	assert_int_equal(b.rings[0].gates.max_rule_errors, 2);
	assert_int_equal(b.rings[0].gates.max_cpu_permille, 50);
	assert_int_equal(b.rings[1].gates.min_hosts, 100);
	assert_int_equal(b.rings[1].gates.max_drop_ppm, -1);
	assert_int_equal(b.rings[2].gates.max_engine_restarts, -1);
	assert_int_equal(b.n_releases, 2);
	assert_int_equal(b.releases[1].version, 13);
	assert_true(b.releases[1].urgent);
	assert_string_equal(b.releases[1].halted, "engine restarts in canary: 41 hosts");
	assert_int_equal(b.releases[0].ring_time[1], a.releases[0].ring_time[1]);
	assert_int_equal(b.n_groups, 4);
	assert_string_equal(b.groups[0].name, "db");
	assert_int_equal(b.groups[0].n_windows, 2);
	assert_int_equal(b.groups[0].windows[0].days, a.groups[0].windows[0].days);
	assert_int_equal(b.groups[0].windows[1].days, 0x7f);
	assert_int_equal(b.groups[0].windows[1].start, 23 * 60 + 30);
	assert_int_equal(b.groups[3].policy, ROLLOUT_PIN);
	assert_int_equal(b.groups[3].pin, 12);
	assert_int_equal(b.n_killed_versions, 1);
	assert_int_equal(b.n_killed_rules, 2);
	assert_string_equal(b.killed_rules[0], "rule-a");
	free(w1);
	free(w2);
	rollout__free(&a);
	rollout__free(&b);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_healthy_promoted),
		T(test_too_few_reports_hold),
		T(test_crash_halted),
		T(test_dry_run),
		T(test_drop_regression_halted),
		T(test_cpu_regression_halted),
		T(test_same_period_storm_promoted),
		T(test_malformed_lines),
		T(test_stdin_and_future),
		T(test_usage_and_errors),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_noise_allowance),
		cmocka_unit_test(test_gates_inherited),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_rollout_write_roundtrip),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
