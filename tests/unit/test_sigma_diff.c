/*
 * The compiled matcher against the naive one-rule-at-a-time evaluator:
 * for every event, both must fire exactly the same rules in the same
 * order. The rules: every rule of ../shared/sigma-linux plus content/, and
 * a set written here to reach what that corpus does not (wildcards with
 * '?', non-ASCII and cased literals, regexes with each flag and negated
 * classes, every modifier, null, neq, numbers, cidr, fieldref, conditions
 * that hold with no pattern hit). The events: every fixture of content/,
 * and random events built from the rules' own strings (mixed case, cut,
 * glued to junk, non-ASCII bytes, newlines, NULs), so that rules fire and
 * nearly fire; the same events again, their values now found in the
 * matcher's value caches, and with the caches off. Each run uses a fixed
 * seed (RW_DIFF_SEED to change it; RW_DIFF_EVENTS for more events).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testlib.h"

#include "common/ecs_in.h"
#include "common/ecs_out.h"
#include "common/event.h"
#include "engine/ruleset.h"
#include "engine/sigma.h"
#include "engine/sigma_match.h"

/* ---- a small deterministic generator ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static size_t pick(size_t n)
{
	return n ? (size_t)(rnd() % n) : 0;
}

static bool chance(unsigned percent)
{
	return pick(100) < percent;
}

/* ---- comparing the two evaluators ---- */

struct fired {
	size_t idx[512];
	size_t n;
	const struct ruleset *rs;
};

static int on_fire(const struct rule_info *ri, const struct rw_event *ev, void *ctx)
{
	struct fired *f = ctx;

	if (f->n < sizeof(f->idx) / sizeof(f->idx[0]))
		f->idx[f->n++] = (size_t)(ri - ruleset__rule(f->rs, 0));
	return 0;
}

struct tally {
	size_t events, fired, hits[4096];	/* hits per rule index */
};

static void dump_event(const struct rw_event *ev)
{
	struct strbuf sb = { 0 };

	ecs__write_json(&sb, ev);
	fprintf(stderr, "event: %.*s", (int)sb.len, sb.buf);
	strbuf__free(&sb);
}

/* Both evaluators on ev: the same rules, in the same order. */
static void compare(const struct ruleset *rs, const struct rw_event *ev, struct tally *t)
{
	struct fired a = { .rs = rs }, b = { .rs = rs };
	int na = ruleset__match(rs, ev, on_fire, &a);
	int nb = ruleset__match_naive(rs, ev, on_fire, &b);

	if (na != nb || a.n != b.n || memcmp(a.idx, b.idx, a.n * sizeof(a.idx[0]))) {
		dump_event(ev);
		for (size_t i = 0; i < a.n; i++)
			fprintf(stderr, "compiled: %s (%s)\n", ruleset__rule(rs, a.idx[i])->title,
				ruleset__rule(rs, a.idx[i])->file);
		for (size_t i = 0; i < b.n; i++)
			fprintf(stderr, "naive:    %s (%s)\n", ruleset__rule(rs, b.idx[i])->title,
				ruleset__rule(rs, b.idx[i])->file);
		fail_msg("compiled matcher (%d) and naive evaluator (%d) differ", na, nb);
	}
	t->events++;
	t->fired += (size_t)a.n;
	for (size_t i = 0; i < a.n; i++)
		if (a.idx[i] < sizeof(t->hits) / sizeof(t->hits[0]))
			t->hits[a.idx[i]]++;
}

static size_t distinct_fired(const struct tally *t)
{
	size_t n = 0;

	for (size_t i = 0; i < sizeof(t->hits) / sizeof(t->hits[0]); i++)
		n += t->hits[i] != 0;
	return n;
}

/* ---- random events from the rules' own strings ---- */

struct piece {
	const char *s;
	size_t n;
};

/* Strings of the rules, per ECS field they are matched against. */
struct vocab {
	struct piece *v[RW_F__COUNT];
	size_t n[RW_F__COUNT], cap[RW_F__COUNT];
	struct piece *all;	/* every string, any field */
	size_t n_all, cap_all;
};

static void vocab_add(struct piece **v, size_t *n, size_t *cap, const char *s, size_t len)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*v = realloc(*v, *cap * sizeof(**v));
		assert_non_null(*v);
	}
	(*v)[(*n)++] = (struct piece){ s, len };
}

static void vocab_put(struct vocab *vo, enum rw_field f, const char *s, size_t len)
{
	if (!len)
		return;
	vocab_add(&vo->v[f], &vo->n[f], &vo->cap[f], s, len);
	vocab_add(&vo->all, &vo->n_all, &vo->cap_all, s, len);
}

static void vocab_build(struct vocab *vo, struct ruleset *rs)
{
	memset(vo, 0, sizeof(*vo));
	for (size_t i = 0; i < ruleset__count(rs); i++) {
		struct rule *r = ruleset__compiled(rs, i);

		for (uint32_t it = 0; it < r->n_items; it++) {
			const struct item *im = &r->items[it];
			enum rw_field f = sigma_fields[im->field].ecs;

			for (uint32_t g = 0; g < im->n_groups; g++) {
				const struct group *gr = &r->groups[im->first_group + g];

				for (uint32_t k = 0; k < gr->n_pats; k++) {
					const struct pattern *p = &r->pats[gr->first_pat + k];

					if (p->kind == PK_EQ || p->kind == PK_PREFIX ||
					    p->kind == PK_SUFFIX || p->kind == PK_CONTAINS) {
						vocab_put(vo, f, p->s, p->len);
					} else if (p->kind == PK_GLOB) {
						/* the literal runs between wildcards */
						uint32_t a = 0;

						for (uint32_t j = 0; j <= p->len; j++)
							if (j == p->len || p->wild[j] != PW_LIT) {
								vocab_put(vo, f, p->s + a, j - a);
								a = j + 1;
							}
					} else if (p->kind == PK_RE) {
						/* runs of letters and digits in the regex */
						uint32_t a = 0;

						for (uint32_t j = 0; j <= p->len; j++) {
							char c = j < p->len ? p->s[j] : 0;
							bool alnum = (c >= 'a' && c <= 'z') ||
								     (c >= 'A' && c <= 'Z') ||
								     (c >= '0' && c <= '9');

							if (!alnum) {
								if (j - a >= 2)
									vocab_put(vo, f, p->s + a,
										  j - a);
								a = j + 1;
							}
						}
					}
				}
			}
		}
	}
}

static void vocab_free(struct vocab *vo)
{
	for (int f = 0; f < RW_F__COUNT; f++)
		free(vo->v[f]);
	free(vo->all);
}

/* Append random junk: path-ish and command-line-ish bytes, sometimes
 * non-ASCII (valid UTF-8 and not), newlines and NULs. */
static void junk(char *buf, size_t *n, size_t cap)
{
	static const char chars[] = "abcxyzABCXYZ0129/._- /-=:'\"|*?\\";
	static const char *const odd[] = { "\xc3\xa9", "\xc3", "\xe2\x80\x8b", "\xff", "\n",
					   "\r\n", "\t", "\x00", "\xf0\x9f\x98\x80", "%", "$(",
					   "\xc3\x89" };
	size_t len = pick(8);

	for (size_t i = 0; i < len && *n < cap; i++) {
		if (chance(10)) {
			const char *o = odd[pick(sizeof(odd) / sizeof(odd[0]))];
			size_t ol = o[0] ? strlen(o) : 1;

			for (size_t j = 0; j < ol && *n < cap; j++)
				buf[(*n)++] = o[j];
		} else {
			buf[(*n)++] = chars[pick(sizeof(chars) - 1)];
		}
	}
}

/* A value for field f: pieces of the rules' strings (mostly of f), in
 * random case, whole or cut, glued with junk. */
static size_t make_value(const struct vocab *vo, enum rw_field f, char *buf, size_t cap)
{
	size_t n = 0, parts = 1 + pick(3);

	if (chance(3))
		return 0;	/* empty */
	for (size_t i = 0; i < parts; i++) {
		const struct piece *pc = NULL;

		if (chance(30))
			junk(buf, &n, cap);
		if (vo->n[f] && chance(80))
			pc = &vo->v[f][pick(vo->n[f])];
		else if (vo->n_all && chance(60))
			pc = &vo->all[pick(vo->n_all)];
		if (pc) {
			size_t from = 0, len = pc->n;

			if (chance(10) && len > 1) {	/* cut short */
				from = pick(2);
				len -= from + pick(2);
				if (len > pc->n)
					len = 0;
			}
			for (size_t j = 0; j < len && n < cap; j++) {
				char c = pc->s[from + j];

				if (chance(30) && c >= 'a' && c <= 'z')
					c = (char)(c - 'a' + 'A');
				buf[n++] = c;
			}
		}
		if (chance(30))
			junk(buf, &n, cap);
	}
	return n;
}

static const char *const ips[] = {
	"10.1.2.3", "127.0.0.1", "192.168.1.10", "8.8.8.8", "172.16.5.4", "::1",
	"fe80::1", "2001:db8::5", "::ffff:10.0.0.1", "169.254.169.254", "0.0.0.0", "bogus",
	"100.64.0.1", "fd00::7",
};

static void random_event(struct rw_event *ev, const struct vocab *vo)
{
	static const char *const odd_actions[] = { "open", "", "exec2", "fork" };
	static char buf[2048];
	bool done[RW_F__COUNT] = { false };

	rw_event__reset(ev);
	if (chance(97)) {
		const char *a = sigma_actions[pick(sigma_n_actions)].action;

		rw_event__set_cstr(ev, RW_F_EVENT_ACTION, a);
	} else {
		rw_event__set_cstr(ev, RW_F_EVENT_ACTION, odd_actions[pick(4)]);
	}
	done[RW_F_EVENT_ACTION] = true;
	for (size_t i = 0; i < sigma_n_fields; i++) {
		enum rw_field f = sigma_fields[i].ecs;
		size_t n;

		if (done[f] || !chance(75))
			continue;
		done[f] = true;
		switch (rw_schema[f].type) {
		case RW_T_INT:
		case RW_T_TIME: {
			static const int64_t nums[] = { 0, 1, 22, 80, 443, 4444, 1337, 65535, -1,
							1000, 31337 };

			rw_event__set_int(ev, f, chance(70) ? nums[pick(11)] : (int64_t)pick(70000));
			break;
		}
		case RW_T_BOOL:
			rw_event__set_bool(ev, f, chance(50));
			break;
		case RW_T_STRV: {
			size_t k = pick(4);

			for (size_t j = 0; j < k; j++) {
				if (chance(50)) {
					const char *ip = ips[pick(sizeof(ips) / sizeof(ips[0]))];

					rw_event__add_strv(ev, f, ip, strlen(ip));
				} else {
					n = make_value(vo, f, buf, sizeof(buf));
					rw_event__add_strv(ev, f, buf, n);
				}
			}
			break;
		}
		default:
			if ((f == RW_F_DEST_IP || f == RW_F_SOURCE_IP) && chance(70)) {
				rw_event__set_cstr(ev, f, ips[pick(sizeof(ips) / sizeof(ips[0]))]);
				break;
			}
			n = make_value(vo, f, buf, sizeof(buf));
			rw_event__set_str(ev, f, buf, n);
			break;
		}
	}
	/* a field equal to another now and then, for fieldref */
	if (chance(10) && rw_event__has(ev, RW_F_PROC_EXECUTABLE)) {
		size_t len;
		const char *s = rw_event__str(ev, RW_F_PROC_EXECUTABLE, &len);

		memcpy(buf, s, len < sizeof(buf) ? len : sizeof(buf));
		rw_event__set_str(ev, RW_F_PARENT_EXECUTABLE, buf, len < sizeof(buf) ? len : sizeof(buf));
	}
}

static size_t n_random(void)
{
	const char *e = getenv("RW_DIFF_EVENTS");

	return e ? strtoul(e, NULL, 10) : 20000;
}

static void seed(void)
{
	const char *e = getenv("RW_DIFF_SEED");

	rng_state = e ? strtoull(e, NULL, 0) : 0x5eed1234abcdull;
	if (!rng_state)
		rng_state = 1;
	fprintf(stderr, "# seed 0x%llx\n", (unsigned long long)rng_state);
}

static void random_run_n(const struct ruleset *rs, struct ruleset *rsw, struct tally *t,
			 size_t n)
{
	struct rw_event *ev = rw_event__new();
	struct vocab vo;

	assert_non_null(ev);
	vocab_build(&vo, rsw);
	for (size_t i = 0; i < n; i++) {
		random_event(ev, &vo);
		compare(rs, ev, t);
	}
	vocab_free(&vo);
	free(ev);
}

static void random_run(const struct ruleset *rs, struct ruleset *rsw, struct tally *t)
{
	random_run_n(rs, rsw, t, n_random());
}

/* ---- the corpus ---- */

static struct ruleset *corpus;

static int setup(void **state)
{
	static const char *const paths[] = {
		"content/rules", "../shared/sigma-linux/rules",
		"../shared/sigma-linux/rules-emerging-threats",
		"../shared/sigma-linux/rules-threat-hunting",
	};
	struct stat st;
	struct diag d;

	diag__init(&d);
	corpus = ruleset__load(paths, stat("../shared/sigma-linux", &st) ? 1 : 4, &d);
	diag__print(&d, stderr);
	diag__free(&d);
	seed();
	return corpus ? 0 : -1;
}

static int teardown(void **state)
{
	ruleset__free(corpus);
	return 0;
}

static void replay_file(const char *path, struct tally *t)
{
	FILE *f = fopen(path, "r");
	struct rw_event *ev = rw_event__new();
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	assert_non_null(f);
	assert_non_null(ev);
	while ((len = getline(&line, &cap, f)) > 0) {
		rw_event__reset(ev);
		assert_int_equal(ecs__read_json(ev, line, (size_t)len, NULL), 0);
		compare(corpus, ev, t);
	}
	free(line);
	free(ev);
	fclose(f);
}

static void test_fixtures(void **state)
{
	struct dirent **ents;
	struct tally *t = calloc(1, sizeof(*t));
	int n = scandir("content/fixtures", &ents, NULL, alphasort);

	assert_non_null(t);
	assert_true(n > 2);
	for (int i = 0; i < n; i++) {
		char p[512];

		if (ents[i]->d_name[0] != '.') {
			snprintf(p, sizeof(p), "content/fixtures/%s/match.jsonl", ents[i]->d_name);
			replay_file(p, t);
			snprintf(p, sizeof(p), "content/fixtures/%s/nomatch.jsonl", ents[i]->d_name);
			replay_file(p, t);
		}
		free(ents[i]);
	}
	free(ents);
	/* the fixtures fire every content rule at least once */
	fprintf(stderr, "# fixtures: %zu events, %zu alerts, %zu rules fired\n", t->events,
		t->fired, distinct_fired(t));
	assert_true(t->events > 50);
	assert_true(distinct_fired(t) >= 26);
	free(t);
}

static void test_random_events_on_corpus(void **state)
{
	struct tally *t = calloc(1, sizeof(*t));
	struct ruleset_stats st;

	assert_non_null(t);
	random_run(corpus, corpus, t);
	fprintf(stderr, "# corpus: %zu random events, %zu alerts, %zu of %zu rules fired\n",
		t->events, t->fired, distinct_fired(t), ruleset__count(corpus));
	/* not a vacuous comparison: many rules fire, and often */
	assert_true(t->fired > t->events / 20);
	assert_true(distinct_fired(t) >= ruleset__count(corpus) / 3);
	ruleset__stats(corpus, &st);
	assert_int_equal(st.disabled_oob, 0);
	assert_int_equal(st.re_errors, 0);
	free(t);
}

/* The value caches and the gates change nothing: the same events again
 * (their values now from the caches), and with the caches off. */
static void test_caches_and_gates(void **state)
{
	struct cmatch *cm = ruleset__cmatch(corpus);
	struct tally *t = calloc(1, sizeof(*t));
	struct cmatch_stats a, b, c;
	uint64_t seed0 = rng_state;

	assert_non_null(t);
	cmatch__set_cache(cm, true);	/* empty */
	cmatch__stats(cm, &a);
	random_run_n(corpus, corpus, t, 1000);
	cmatch__stats(cm, &b);
	rng_state = seed0;
	random_run_n(corpus, corpus, t, 1000);
	cmatch__stats(cm, &c);
	fprintf(stderr, "# caches: first pass %llu scans, %llu from the caches; same events "
		"again: %llu scans, %llu from the caches\n",
		(unsigned long long)(b.scans - a.scans),
		(unsigned long long)(b.cache_hits - a.cache_hits),
		(unsigned long long)(c.scans - b.scans),
		(unsigned long long)(c.cache_hits - b.cache_hits));
	/* the second time, values come from the caches far more than not */
	assert_true(c.cache_hits - b.cache_hits > 4 * (c.scans - b.scans));
	assert_true(c.scans - b.scans < b.scans - a.scans);
	/* and the gates dropped rules a hit had named */
	assert_true(c.gated > a.gated);
	/* without caches, the same again */
	cmatch__set_cache(cm, false);
	rng_state = seed0;
	random_run_n(corpus, corpus, t, 1000);
	cmatch__stats(cm, &a);
	assert_int_equal(a.cache_hits, c.cache_hits);
	cmatch__set_cache(cm, true);
	free(t);
}

/* ---- rules written to reach what the corpus does not ---- */

#define HEAD(n, cat)                                                           \
	"title: diff " #n "\n"                                                 \
	"id: d1ff0000-0000-4000-8000-0000000000" #n "\n"                       \
	"logsource: {product: linux, category: " #cat "}\n"                     \
	"detection:\n"

static const char tricky[] =
	HEAD(01, process_creation)
	"    sel:\n"
	"        Image: ['/usr/bin/?ash', '*/b?n/*zsh', '/tmp/\xc3\xa9*', 'C:\\\\x?y*z']\n"
	"    condition: sel\n"
	"---\n"
	HEAD(02, process_creation)
	"    sel:\n"
	"        CommandLine|contains: ['\xc3\xa9t\xc3\xa9', 'Caf\xc3\x89', 'abc']\n"
	"    sel2:\n"
	"        CommandLine|contains|cased: ['ABC', 'xYz']\n"
	"    condition: sel or sel2\n"
	"---\n"
	HEAD(03, process_creation)
	"    a:\n"
	"        CommandLine|re: '[^a-z]bash\\s'\n"
	"    b:\n"
	"        CommandLine|re|i: '^cur[l]\\b.*\\|'\n"
	"    c:\n"
	"        CommandLine|re|m: '^sh$'\n"
	"    d:\n"
	"        CommandLine|re|s: 'nc.*-e'\n"
	"    e:\n"
	"        Image|re: '(?i)/tmp/[^/]+$'\n"
	"    f:\n"
	"        CommandLine|re: 'x*'\n"
	"        Image|re: '^$'\n"
	"    condition: 1 of them\n"
	"---\n"
	HEAD(04, process_creation)
	"    sel:\n"
	"        CommandLine|contains|all: ['abc', 'xyz']\n"
	"    filter:\n"
	"        Image|endswith: '/bash'\n"
	"    condition: sel and not filter\n"
	"---\n"
	HEAD(05, process_creation)
	"    filter:\n"
	"        Image|startswith: ['/usr/', '/bin/']\n"
	"    condition: not filter\n"
	"---\n"
	HEAD(06, process_creation)
	"    sel:\n"
	"        CommandLine|windash|contains: ' -e '\n"
	"    enc:\n"
	"        CommandLine|base64offset|contains: 'curl'\n"
	"    wide:\n"
	"        CommandLine|utf16le|contains: 'ab'\n"
	"    condition: sel or enc or wide\n"
	"---\n"
	HEAD(07, process_creation)
	"    sel:\n"
	"        User|neq: root\n"
	"        CurrentDirectory|exists: true\n"
	"    nul:\n"
	"        ParentCommandLine: null\n"
	"    empty:\n"
	"        CommandLine: ''\n"
	"    any:\n"
	"        ParentImage: '*'\n"
	"    condition: sel and (nul or empty or any)\n"
	"---\n"
	HEAD(08, process_creation)
	"    sel:\n"
	"        ProcessId|gt: 1000\n"
	"        ParentProcessId: 1\n"
	"    ref:\n"
	"        ParentImage|fieldref: Image\n"
	"    ref2:\n"
	"        CommandLine|fieldref|contains: Image\n"
	"    condition: sel or ref or ref2\n"
	"---\n"
	HEAD(09, network_connection)
	"    sel:\n"
	"        DestinationIp|cidr: ['10.0.0.0/8', 'fd00::/8', '127.0.0.0/8']\n"
	"        Initiated: 'true'\n"
	"    port:\n"
	"        DestinationPort: [4444, 1337]\n"
	"    portstr:\n"
	"        DestinationPort|startswith: '44'\n"
	"    host:\n"
	"        DestinationHostname|endswith: ['.onion', '.xyz']\n"
	"    condition: (sel and not port) or portstr or host\n"
	"---\n"
	HEAD(10, file_event)
	"    sel:\n"
	"        TargetFilename|endswith: ['/.bashrc', '/authorized_keys']\n"
	"    tmp:\n"
	"        TargetFilename|startswith|cased: '/TMP/'\n"
	"    g:\n"
	"        TargetFilename: '/etc/*/??.conf'\n"
	"    condition: all of them or sel or g\n"
	"---\n"
	HEAD(11, pipe_created)
	"    sel:\n"
	"        PipeName|contains: ['/tmp/', 'fifo']\n"
	"        EventType: CreatePipe\n"
	"    open:\n"
	"        EventType|neq: CreatePipe\n"
	"    condition: sel or open\n"
	"---\n"
	HEAD(12, dns_query)
	"    sel:\n"
	"        QueryResults|cidr: '10.0.0.0/8'\n"
	"    name:\n"
	"        QueryName|contains|all: ['bad', 'evil']\n"
	"    ips:\n"
	"        QueryResults|contains: ['8.8', '::1']\n"
	"    condition: sel or name or ips\n"
	"---\n"
	HEAD(13, process_creation)
	"    a:\n"
	"        CommandLine|endswith: ['.sh', 'x']\n"
	"    b:\n"
	"        CommandLine|startswith: 'sudo '\n"
	"    c:\n"
	"        Image|contains: 'abc'\n"
	"    condition: all of them or not (a or b or c)\n"
	"---\n"
	HEAD(14, file_rename)
	"    sel:\n"
	"        TargetFilename|contains: '.'\n"
	"    condition: sel\n";

static void test_random_events_on_tricky_rules(void **state)
{
	struct tally *t = calloc(1, sizeof(*t));
	struct cmatch_stats cst;
	struct ruleset *rs;
	struct diag d;

	assert_non_null(t);
	diag__init(&d);
	rs = ruleset__load_buffer("tricky.yml", tricky, sizeof(tricky) - 1, NULL, &d);
	diag__print(&d, stderr);
	diag__free(&d);
	assert_non_null(rs);
	assert_int_equal(ruleset__count(rs), 14);
	/* every kind of pattern is there: exact, confirmed, direct */
	cmatch__stats(ruleset__cmatch(rs), &cst);
	fprintf(stderr, "# tricky: %zu databases, %zu patterns in them (%zu confirmed), "
		"%zu direct, %zu rules always evaluated\n", cst.databases, cst.hs_patterns,
		cst.confirmed, cst.direct, cst.always);
	assert_true(cst.confirmed >= 4);
	assert_true(cst.direct >= 10);
	assert_true(cst.always >= 3);
	random_run(rs, rs, t);
	fprintf(stderr, "# tricky: %zu random events, %zu alerts, %zu of %zu rules fired\n",
		t->events, t->fired, distinct_fired(t), ruleset__count(rs));
	/* every one of these rules fires on some events */
	assert_int_equal(distinct_fired(t), ruleset__count(rs));
	ruleset__free(rs);
	free(t);
}

/* Hand-made events on the '?' and non-ASCII edges, where Hyperscan's
 * superset must be confirmed. */
static void test_confirm_edges(void **state)
{
	static const char *const images[] = {
		"/usr/bin/bash", "/usr/bin/\xc3\xa9" "ash", "/usr/bin/\xc3" "ash",
		"/usr/bin/\xc3\xa9\xa9" "ash", "/usr/bin/ash", "/tmp/\xc3\xa9x", "/tmp/\xc3\x89x",
		"/tmp/E", "/x/bin/sh", "/x/b\xf0\x9f\x98\x80n/zsh", "C:\\x\xe2\x80\x8byQz",
		"C:\\xyz", "/usr/bin/BASH",
	};
	static const char *const cmds[] = {
		"\xc3\xa9t\xc3\xa9", "\xc3\x89t\xc3\x89", "caf\xc3\x89", "caf\xc3\xa9", "ABC", "abc",
		"XYZ", "xYz", "x\nsh\ny", "nc\n-e", "1bash ", "abash ",
	};
	struct rw_event *ev = rw_event__new();
	struct tally *t = calloc(1, sizeof(*t));
	struct ruleset *rs;
	struct diag d;

	assert_non_null(ev);
	assert_non_null(t);
	diag__init(&d);
	rs = ruleset__load_buffer("tricky.yml", tricky, sizeof(tricky) - 1, NULL, &d);
	diag__free(&d);
	assert_non_null(rs);
	for (size_t i = 0; i < sizeof(images) / sizeof(images[0]); i++)
		for (size_t j = 0; j < sizeof(cmds) / sizeof(cmds[0]); j++) {
			rw_event__reset(ev);
			rw_event__set_cstr(ev, RW_F_EVENT_ACTION, "exec");
			rw_event__set_cstr(ev, RW_F_PROC_EXECUTABLE, images[i]);
			rw_event__set_cstr(ev, RW_F_PROC_COMMAND_LINE, cmds[j]);
			compare(rs, ev, t);
		}
	/* rule 01 ('?' wildcards, non-ASCII) fires on some, not all */
	assert_true(t->hits[0] > 0 && t->hits[0] < t->events);
	assert_true(t->hits[1] > 0 && t->hits[1] < t->events);
	ruleset__free(rs);
	free(ev);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixtures),
		cmocka_unit_test(test_random_events_on_corpus),
		cmocka_unit_test(test_caches_and_gates),
		cmocka_unit_test(test_random_events_on_tricky_rules),
		cmocka_unit_test(test_confirm_edges),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
