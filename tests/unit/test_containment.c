/*
 * Fault containment, the parts that need no root (built with ASan+UBSan):
 * the shared-memory rings and their wire format against hostile input, the
 * seals on the memfds, content version ids, the unclean-start count behind
 * safe mode, the test-only fault switches in the loader, and the 2024
 * scenario's step (2): a rule reading a field the sensor does not supply,
 * with validation bypassed, is stopped by the run-time bounds check,
 * disabled and counted, with no out-of-bounds access (ASan would abort).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#include "core/shm_ring.h"
#include "core/supervisor.h"
#include "engine/fault.h"
#include "engine/ruleset.h"
#include "engine/sigma.h"

static struct rw_event *make_event(unsigned i)
{
	struct rw_event *ev = rw_event__new();
	char buf[64];

	assert_non_null(ev);
	snprintf(buf, sizeof(buf), "/usr/bin/prog-%u", i);
	assert_int_equal(rw_event__set_cstr(ev, RW_F_EVENT_ACTION, "exec"), 0);
	assert_int_equal(rw_event__set_cstr(ev, RW_F_PROC_EXECUTABLE, buf), 0);
	assert_int_equal(rw_event__set_int(ev, RW_F_PROC_PID, (int64_t)i), 0);
	assert_int_equal(rw_event__set_int(ev, RW_F_EVENT_SEQUENCE, (int64_t)i), 0);
	assert_int_equal(rw_event__add_strv(ev, RW_F_PROC_ARGS, "prog", 4), 0);
	assert_int_equal(rw_event__add_strv(ev, RW_F_PROC_ARGS, buf, strlen(buf)), 0);
	ev->strv_open = -1;
	/* a value whose size varies, so records wrap at varying places */
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(rw_event__set_str(ev, RW_F_PROC_CWD, buf, 1 + i % 60), 0);
	return ev;
}

static void check_event(const struct rw_event *ev, unsigned i)
{
	char want[64];
	const char *s;
	size_t n;
	uint32_t pos = 0;

	snprintf(want, sizeof(want), "/usr/bin/prog-%u", i);
	s = rw_event__str(ev, RW_F_PROC_EXECUTABLE, &n);
	assert_non_null(s);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(s, want, n);
	assert_int_equal(rw_event__int(ev, RW_F_PROC_PID, -1), i);
	s = rw_event__strv_next(ev, RW_F_PROC_ARGS, &pos, &n);
	assert_non_null(s);
	assert_memory_equal(s, "prog", 4);
	s = rw_event__strv_next(ev, RW_F_PROC_ARGS, &pos, &n);
	assert_non_null(s);
	assert_int_equal(n, strlen(want));
	assert_null(rw_event__strv_next(ev, RW_F_PROC_ARGS, &pos, &n));
	assert_int_equal(ev->v[RW_F_PROC_ARGS].i, 2);
	assert_non_null(rw_event__str(ev, RW_F_PROC_CWD, &n));
	assert_int_equal(n, 1 + i % 60);
	assert_false(rw_event__has(ev, RW_F_PROC_NAME));
}

/* The core's side and an engine's side of the same memory, in one
 * process: events written by one are read back exactly by the other,
 * across many wraps of the ring, in order. */
static void test_ring_roundtrip_and_wrap(void **state)
{
	struct engine_shm core, eng;
	struct rw_event *out = rw_event__new();
	unsigned written = 0, got = 0;

	assert_non_null(out);
	assert_int_equal(engine_shm__create(&core, 1), 0);
	assert_int_equal(core.ev.size, ENGINE_RING_MIN);
	assert_int_equal(engine_shm__attach(&eng, dup(core.ctl_fd), dup(core.ring_fd)), 0);
	/* ~20 MB through a 1 MiB ring: it wraps many times */
	while (got < 20000) {
		int err;

		for (;;) {
			struct rw_event *ev = make_event(written);

			err = shm_ring__put_event(&core.ev, WIRE_EVENT, written, 0, ev);
			free(ev);
			if (err)
				break;
			written++;
		}
		assert_int_equal(err, -ENOSPC);
		/* full: the consumer has everything written so far */
		for (;;) {
			uint64_t pos;
			const struct wire_hdr *h = shm_ring__peek(&eng.ev, &pos, &err);

			assert_int_equal(err, 0);
			if (!h)
				break;
			assert_int_equal(h->type, WIRE_EVENT);
			assert_int_equal(h->tag, got);
			assert_int_equal(wire__decode_event(h, out, 0), 0);
			check_event(out, got);
			shm_ring__pop(&eng.ev, h);
			got++;
		}
		assert_int_equal(got, written);
		assert_int_equal(shm_ring__used(&core.ev), 0);
	}
	/* control records travel the same way */
	assert_int_equal(shm_ring__put(&core.ev, WIRE_RELOAD, 7, ENGINE_CONTENT_LKG, "ab", 2), 0);
	{
		uint64_t pos;
		uint32_t n;
		int err;
		const struct wire_hdr *h = shm_ring__peek(&eng.ev, &pos, &err);
		const char *p;

		assert_non_null(h);
		assert_int_equal(h->type, WIRE_RELOAD);
		assert_int_equal(h->tag, 7);
		assert_int_equal(h->tag2, ENGINE_CONTENT_LKG);
		p = wire__payload(h, &n);
		assert_int_equal(n, 2);
		assert_memory_equal(p, "ab", 2);
		shm_ring__pop(&eng.ev, h);
	}
	engine_shm__close(&eng);
	engine_shm__close(&core);
	free(out);
}

/* The event ring can never be written by the engine: it maps read-only
 * and cannot be remapped writable; neither memfd can be resized. */
static void test_memfd_seals(void **state)
{
	struct engine_shm core;
	void *p;

	assert_int_equal(engine_shm__create(&core, 1), 0);
	p = mmap(NULL, core.ring_len, PROT_READ | PROT_WRITE, MAP_SHARED, core.ring_fd, 0);
	assert_true(p == MAP_FAILED);
	assert_int_equal(errno, EPERM);
	p = mmap(NULL, core.ring_len, PROT_READ, MAP_SHARED, core.ring_fd, 0);
	assert_true(p != MAP_FAILED);
	assert_int_not_equal(mprotect(p, core.ring_len, PROT_READ | PROT_WRITE), 0);
	munmap(p, core.ring_len);
	assert_int_not_equal(ftruncate(core.ring_fd, 4096), 0);
	assert_int_not_equal(ftruncate(core.ctl_fd, 4096), 0);
	assert_int_not_equal(ftruncate(core.ctl_fd, (off_t)core.ctl_len * 2), 0);
	/* a ctl page that does not check out is refused by the engine */
	core.ctl->schema ^= 1;
	{
		struct engine_shm eng;

		assert_int_equal(engine_shm__attach(&eng, dup(core.ctl_fd), dup(core.ring_fd)),
				 -EPROTO);
		close(eng.ctl_fd);
		close(eng.ring_fd);
	}
	engine_shm__close(&core);
}

/* Index of field f's value in a record. */
static unsigned vidx(const struct wire_hdr *h, enum rw_field f)
{
	unsigned k = 0;

	assert_true((h->present[f / 64] >> (f % 64)) & 1);
	for (int g = 0; g < (int)f; g++)
		k += (h->present[g / 64] >> (g % 64)) & 1;
	return k;
}

/* A record built by hand, then broken one way at a time: every one is
 * refused, none is read past. */
static void test_wire_decode_hostile(void **state)
{
	struct rw_event *ev = make_event(3), *out = rw_event__new();
	struct engine_shm core, eng;
	uint8_t *buf;
	struct wire_hdr *h;
	struct rw_value *v;
	uint64_t pos;
	int n, err;

	assert_non_null(out);
	assert_int_equal(engine_shm__create(&core, 1), 0);
	assert_int_equal(engine_shm__attach(&eng, dup(core.ctl_fd), dup(core.ring_fd)), 0);
	assert_int_equal(shm_ring__put_event(&core.ev, WIRE_EVENT, 1, 0, ev), 0);
	buf = malloc(1 << 20);
	assert_non_null(buf);
	h = (struct wire_hdr *)shm_ring__peek(&eng.ev, &pos, &err);
	assert_non_null(h);
	n = (int)h->len;
	memcpy(buf, h, (size_t)n);
	h = (struct wire_hdr *)buf;
	v = (struct rw_value *)(h + 1);
	assert_int_equal(wire__decode_event(h, out, WIRE_NO_RAW), 0);
	check_event(out, 3);

#define BROKEN(stmt) do {						\
		memcpy(buf, shm_ring__peek(&eng.ev, &pos, &err), (size_t)n);	\
		stmt;							\
		assert_int_equal(wire__decode_event(h, out, WIRE_NO_RAW), -EPROTO); \
	} while (0)
	BROKEN(h->len -= 8);
	BROKEN(h->arena_used = RW_EVENT_ARENA + 1);
	BROKEN(h->n_values++);
	BROKEN(h->present[(RW_F__COUNT + 63) / 64 - 1] |= 1ULL << 63);	/* past the schema */
	BROKEN(h->present[RW_F_HOST_ID / 64] |= 1ULL << (RW_F_HOST_ID % 64));
	BROKEN(v[vidx(h, RW_F_PROC_EXECUTABLE)].off = h->arena_used);
	BROKEN(v[vidx(h, RW_F_PROC_EXECUTABLE)].len = 0xffffff00u);
	BROKEN(v[vidx(h, RW_F_PROC_CWD)].off = h->arena_used - 1);
	/* a STRV whose element length runs past the value */
	BROKEN(uint32_t bad = 0x7fffffff;
	       memcpy((uint8_t *)(v + h->n_values) + v[vidx(h, RW_F_PROC_ARGS)].off, &bad, 4));
	/* a STRV that ends inside an element's length */
	BROKEN(v[vidx(h, RW_F_PROC_ARGS)].len = 3);
#undef BROKEN
	/* a RAW field is accepted from the core's own records, never from
	 * the engine */
	{
		struct rw_event *raw = make_event(4);

		assert_int_equal(rw_event__set_cstr(raw, RW_F_RW_COUNTERS, "{}"), 0);
		shm_ring__pop(&eng.ev, shm_ring__peek(&eng.ev, &pos, &err));
		assert_int_equal(shm_ring__put_event(&core.ev, WIRE_EVENT, 2, 0, raw), 0);
		h = (struct wire_hdr *)shm_ring__peek(&eng.ev, &pos, &err);
		assert_int_equal(wire__decode_event(h, out, 0), 0);
		assert_int_equal(wire__decode_event(h, out, WIRE_NO_RAW), -EPROTO);
		free(raw);
	}
	free(buf);
	free(ev);
	free(out);
	engine_shm__close(&eng);
	engine_shm__close(&core);
}

/* The alert ring as the core reads it: positions the engine sets out of
 * range are refused, records are copied out before they are looked at. */
static void test_alert_ring_hostile(void **state)
{
	struct engine_shm core, eng;
	struct rw_event *ev = make_event(9), *out = rw_event__new();
	uint8_t *buf = malloc(1 << 20);
	uint64_t pos;
	int n;

	assert_non_null(buf);
	assert_int_equal(engine_shm__create(&core, 1), 0);
	assert_int_equal(engine_shm__attach(&eng, dup(core.ctl_fd), dup(core.ring_fd)), 0);
	assert_int_equal(shm_ring__put_event(&eng.al, WIRE_ALERT, 100, 5, ev), 0);
	n = shm_ring__take(&core.al, buf, 1 << 20, &pos);
	assert_true(n > 0);
	assert_int_equal(((struct wire_hdr *)buf)->tag, 100);
	assert_int_equal(((struct wire_hdr *)buf)->tag2, 5);
	assert_int_equal(wire__decode_event((struct wire_hdr *)buf, out, WIRE_NO_RAW), 0);
	check_event(out, 9);
	assert_int_equal(shm_ring__take(&core.al, buf, 1 << 20, &pos), 0);
	/* a producer position beyond the ring */
	atomic_store(&core.ctl->al.prod, core.al.mine + core.al.size + 8);
	assert_int_equal(shm_ring__take(&core.al, buf, 1 << 20, &pos), -EPROTO);
	/* a record length that runs past the end */
	atomic_store(&core.ctl->al.prod, core.al.mine + 64);
	((struct wire_hdr *)((uint8_t *)core.ctl + core.ctl->alert_off +
			     (core.al.mine & (core.al.size - 1))))->len = 1u << 30;
	assert_int_equal(shm_ring__take(&core.al, buf, 1 << 20, &pos), -EPROTO);
	free(buf);
	free(ev);
	free(out);
	engine_shm__close(&eng);
	engine_shm__close(&core);
}

static void test_fault_switch_names(void **state)
{
	unsigned m;

	assert_int_equal(fault__parse("rules", &m), 0);
	assert_int_equal(m, FAULT_RULES);
	assert_int_equal(fault__parse("unknown-fields,no-bounds-check", &m), 0);
	assert_int_equal(m, FAULT_UNKNOWN_FIELDS | FAULT_NO_BOUNDS_CHECK);
	assert_int_equal(fault__parse("all", &m), 0);
	assert_int_equal(m, FAULT__ALL);
	assert_int_equal(fault__parse("rules,crash", &m), -EINVAL);
	assert_int_equal(fault__parse("", &m), -EINVAL);
	assert_int_equal(fault__kind("crash"), RF_CRASH);
	assert_int_equal(fault__kind("hang"), RF_HANG);
	assert_int_equal(fault__kind("alloc"), RF_ALLOC);
	assert_int_equal(fault__kind("boom"), -1);
}

#define RULE_HEAD "title: t\n" \
	"id: 5f2c0000-1111-4222-8333-000000000021\n" \
	"logsource:\n" \
	"    product: linux\n" \
	"    category: process_creation\n" \
	"detection:\n" \
	"    selection:\n" \
	"        Image|endswith: '/true'\n"

static const char fault_rule[] = RULE_HEAD "    condition: selection\n"
				 "ringward:\n    fault: crash\n";
static const char field21_rule[] = RULE_HEAD "        TemplateField21: 'x'\n"
				   "    condition: selection\n";

static struct ruleset *load(const char *text, struct diag *d)
{
	return ruleset__load_buffer("x.yml", text, strlen(text), NULL, d);
}

/* ringward.fault is refused unless the engine was told test faults are
 * allowed; then it reaches the compiled rule. */
static void test_fault_key_only_when_allowed(void **state)
{
	struct diag d;
	struct ruleset *rs;
	char msg[512];

	fault__switches = 0;
	diag__init(&d);
	assert_null(load(fault_rule, &d));
	assert_int_equal(d.n_errors, 1);
	diag__format(&d.v[0], msg, sizeof(msg));
	assert_non_null(strstr(msg, "x.yml:11:5: error:"));
	assert_non_null(strstr(msg, "'ringward.fault' is for tests only"));
	diag__free(&d);

	fault__switches = FAULT_RULES;
	diag__init(&d);
	rs = load(fault_rule, &d);
	assert_non_null(rs);
	assert_int_equal(ruleset__compiled(rs, 0)->fault, RF_CRASH);
	ruleset__free(rs);
	diag__free(&d);
	fault__switches = 0;
}

static int count_match(const struct rule_info *r, const struct rw_event *ev, void *ctx)
{
	(*(int *)ctx)++;
	return 0;
}

/* The 2024 scenario, step (2), under ASan: the field the sensor does not
 * supply is refused by the loader (1); with validation bypassed, the rule
 * loads pointing one past the end of the field table, and the run-time
 * bounds check disables it on first use and counts it, reading nothing
 * out of bounds. */
static void test_2024_bounds_check(void **state)
{
	struct diag d;
	struct ruleset *rs;
	struct ruleset_stats st;
	struct rw_event *ev = rw_event__new();
	volatile uint32_t probe = ENGINE_NO_RULE;
	int matched = 0;

	assert_non_null(ev);
	fault__switches = 0;
	diag__init(&d);
	assert_null(load(field21_rule, &d));
	assert_int_equal(d.n_errors, 1);
	assert_non_null(strstr(d.v[0].text, "field 'TemplateField21' is not supplied"));
	diag__free(&d);

	fault__switches = FAULT_UNKNOWN_FIELDS;
	diag__init(&d);
	rs = load(field21_rule, &d);
	fault__switches = 0;
	assert_non_null(rs);
	assert_int_equal(d.n_errors, 0);
	ruleset__set_probe(rs, &probe);
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, "exec");
	rw_event__set_cstr(ev, RW_F_PROC_EXECUTABLE, "/usr/bin/true");
	for (int i = 0; i < 3; i++)
		assert_int_equal(ruleset__match(rs, ev, count_match, &matched), 0);
	assert_int_equal(matched, 0);
	/* the probe saw the rule being evaluated: rule 0 */
	assert_int_equal(probe, 0);
	ruleset__stats(rs, &st);
	assert_int_equal(st.disabled_oob, 1);
	assert_int_equal(st.evaluations, 1);	/* disabled after the first */
	ruleset__free(rs);
	diag__free(&d);
	free(ev);
}

static void put(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A content version is its files' names and bytes. */
static void test_content_id(void **state)
{
	char *dir = rwt_mkdtemp("cid");
	const char *paths[1];
	char a[SV_ID_LEN], b[SV_ID_LEN], c[SV_ID_LEN], e[SV_ID_LEN];
	char sub[512], from[512], to[512];

	assert_non_null(dir);
	paths[0] = dir;
	put(dir, "a.yml", "one");
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	put(sub, "b.yml", "two");
	assert_int_equal(supervisor__content_id(paths, 1, NULL, a), 0);
	assert_int_equal(strlen(a), 71);
	assert_memory_equal(a, "sha256:", 7);
	assert_int_equal(supervisor__content_id(paths, 1, NULL, b), 0);
	assert_string_equal(a, b);
	put(sub, "b.yml", "twO");
	assert_int_equal(supervisor__content_id(paths, 1, NULL, c), 0);
	assert_string_not_equal(a, c);
	put(sub, "b.yml", "two");
	snprintf(from, sizeof(from), "%s/b.yml", sub);
	snprintf(to, sizeof(to), "%s/c.yml", sub);
	assert_int_equal(rename(from, to), 0);
	assert_int_equal(supervisor__content_id(paths, 1, NULL, e), 0);
	assert_string_not_equal(a, e);
	assert_int_equal(rename(to, from), 0);
	assert_int_equal(supervisor__content_id(paths, 1, NULL, e), 0);
	assert_string_equal(a, e);
	rwt_rmtree(dir);
	free(dir);
}

/* A start that neither stops cleanly nor runs long is unclean; N in a
 * row mean safe mode; a clean stop ends the streak; a sensor that still
 * runs is not counted. */
static void test_unclean_starts(void **state)
{
	char *dir = rwt_mkdtemp("boot");
	struct boot_info bi;

	assert_non_null(dir);
	for (int i = 0; i < 3; i++) {
		pid_t pid = fork();
		int st;

		assert_true(pid >= 0);
		if (pid == 0) {
			struct boot_info child;

			/* starts, then "crashes" */
			_exit(supervisor__boot(dir, 3, &child) == 0 &&
			      child.unclean == (unsigned)i && !child.safe_mode ? 0 : 1);
		}
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	assert_int_equal(supervisor__boot(dir, 3, &bi), 0);
	assert_int_equal(bi.unclean, 3);
	assert_true(bi.safe_mode);
	/* we are alive: a concurrent start does not count us */
	{
		pid_t pid = fork();
		int st;

		if (pid == 0) {
			struct boot_info child;

			_exit(supervisor__boot(dir, 3, &child) == 0 && child.unclean == 3 ? 0 : 1);
		}
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	supervisor__boot_clean(dir, true);
	assert_int_equal(supervisor__boot(dir, 3, &bi), 0);
	assert_int_equal(bi.unclean, 0);
	assert_false(bi.safe_mode);
	supervisor__boot_clean(dir, true);
	/* the state file is private */
	{
		char path[512];
		struct stat st;

		snprintf(path, sizeof(path), "%s/supervisor.state", dir);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	rwt_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_roundtrip_and_wrap),
		cmocka_unit_test(test_memfd_seals),
		cmocka_unit_test(test_wire_decode_hostile),
		cmocka_unit_test(test_alert_ring_hostile),
		cmocka_unit_test(test_fault_switch_names),
		cmocka_unit_test(test_fault_key_only_when_allowed),
		cmocka_unit_test(test_2024_bounds_check),
		cmocka_unit_test(test_content_id),
		cmocka_unit_test(test_unclean_starts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
