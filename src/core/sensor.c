/*
 * The sensor: starts every source, runs the event loop, enriches and writes
 * events, keeps the counters, and reports what is in force.
 *
 * One thread. Sources are drained on a 5 ms tick (batched: the kernel side
 * does not wake us per record) or when their fd is readable; output is
 * buffered and flushed on the same tick.
 */
#include "core/sensor.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "common/ecs_out.h"
#include "core/bpf_source.h"
#include "core/dns.h"
#include "core/fan_source.h"
#include "core/proc_table.h"
#include "engine/alert.h"
#include "engine/ruleset.h"

#define MAX_WATCH	16
#define MAX_CBS		16
#define MAX_HOOKS	1024	/* one per eBPF program and per marked filesystem */
#define TICK_NS		5000000ULL	/* 5 ms: batch draining and output flush */
#define FLUSH_BYTES	(256 * 1024)
#define PROC_TABLE_MAX	65536
#define STATUS_DIR	"/run/ringward"
#define STATUS_FILE	STATUS_DIR "/status.json"
#define MAX_CONTENT	32
#define RELOAD_SETTLE_NS 250000000ULL	/* content dir quiet this long before a reload */
#define MAX_DIAG_IN_RECORD 20

const char *const rw_counter_names[RW_C__COUNT] = {
#define X(id, name) [RW_C_##id] = name,
#include "ringward/counters.def"
#undef X
};

/* Hook groups an operator can switch with --hooks. tamper-syscalls is off
 * by default: it attaches syscall tracepoints, which put every syscall of
 * every process on the slow path (see README, "Hooks and their cost"). */
static const struct {
	const char *name;
	bool dflt;
} groups[] = {
	{ "process", true },
	{ "network", true },
	{ "file", true },
	{ "fifo", true },
	{ "dns", true },
	{ "tamper", true },
	{ "tamper-syscalls", false },
};
#define N_GROUPS (sizeof(groups) / sizeof(groups[0]))

struct watch {
	int fd;
	sensor_fd_cb cb;
	void *ctx;
};

struct cb {
	sensor_tick_cb cb;
	void *ctx;
};

struct hook {
	char *name;
	char *why;
	bool in_force;
};

struct sensor {
	int epfd, sigfd, tickfd;
	bool stop;
	pid_t self;

	struct watch watches[MAX_WATCH];
	int n_watches;
	struct cb ticks[MAX_CBS], reports[MAX_CBS];
	int n_ticks, n_reports;
	struct hook hooks[MAX_HOOKS];
	int n_hooks;
	bool group_on[N_GROUPS];

	uint64_t counters[RW_C__COUNT];
	uint64_t seq;

	struct proc_table *procs;
	struct bpf_source *bpf;
	struct fan_source *fan;
	struct dns_source *dns;

	/* output */
	int out_fd;
	bool text;
	bool events;		/* write every event, not only alerts/state */
	struct strbuf out;
	uint64_t out_records_pending;

	char hostname[256];
	char host_id[64];
	int64_t boot_to_real;	/* realtime - boottime, ns */
	uint64_t start_real_ns;
	uint64_t metrics_every_ns, next_metrics_ns, next_second_ns;

	struct rw_event *scratch;
	struct rw_event *rec;	/* for the sensor's own records */

	/* detection: content is loaded aside and swapped in between events */
	const char *content[MAX_CONTENT];
	int n_content;
	const char *placeholders;
	struct ruleset *rules;
	struct ruleset_stats engine_base;	/* stats of sets already retired */
	struct rw_event *alert;
	int ino_fd;
	uint64_t reload_at_ns;		/* monotonic; 0 = none pending */
	bool reload_now;		/* SIGHUP */
};

/* ---- services for sources ---------------------------------------------- */

int sensor__watch_fd(struct sensor *s, int fd, sensor_fd_cb cb, void *ctx)
{
	struct epoll_event ee = { .events = EPOLLIN };

	if (s->n_watches == MAX_WATCH)
		return -ENOSPC;
	ee.data.u32 = (uint32_t)s->n_watches;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ee) < 0)
		return -errno;
	s->watches[s->n_watches++] = (struct watch){ fd, cb, ctx };
	return 0;
}

int sensor__on_tick(struct sensor *s, sensor_tick_cb cb, void *ctx)
{
	if (s->n_ticks == MAX_CBS)
		return -ENOSPC;
	s->ticks[s->n_ticks++] = (struct cb){ cb, ctx };
	return 0;
}

int sensor__on_report(struct sensor *s, sensor_tick_cb cb, void *ctx)
{
	if (s->n_reports == MAX_CBS)
		return -ENOSPC;
	s->reports[s->n_reports++] = (struct cb){ cb, ctx };
	return 0;
}

struct rw_event *sensor__scratch(struct sensor *s)
{
	rw_event__reset(s->scratch);
	return s->scratch;
}

void sensor__count(struct sensor *s, enum rw_counter c, uint64_t n)
{
	if ((unsigned)c < RW_C__COUNT)
		s->counters[c] += n;
}

void sensor__count_set(struct sensor *s, enum rw_counter c, uint64_t v)
{
	if ((unsigned)c < RW_C__COUNT)
		s->counters[c] = v;
}

void sensor__hook(struct sensor *s, const char *name, bool in_force, const char *why)
{
	struct hook *h = NULL;

	for (int i = 0; i < s->n_hooks; i++)
		if (strcmp(s->hooks[i].name, name) == 0)
			h = &s->hooks[i];
	if (!h) {
		if (s->n_hooks == MAX_HOOKS) {
			fprintf(stderr, "ringward: more than %d hooks; %s not listed\n",
				MAX_HOOKS, name);
			return;
		}
		h = &s->hooks[s->n_hooks++];
		h->name = strdup(name);
		h->why = NULL;
	}
	free(h->why);
	h->why = why ? strdup(why) : NULL;
	h->in_force = in_force;
	if (!in_force)
		fprintf(stderr, "ringward: hook %s not in force: %s\n", name, why ? why : "?");
}

struct proc_table *sensor__procs(struct sensor *s)
{
	return s->procs;
}

pid_t sensor__self(struct sensor *s)
{
	return s->self;
}

bool sensor__group_enabled(struct sensor *s, const char *group)
{
	for (size_t i = 0; i < N_GROUPS; i++)
		if (strcmp(groups[i].name, group) == 0)
			return s->group_on[i];
	return false;
}

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void update_clock_offset(struct sensor *s)
{
	/* take the pair whose boottime reads are closest together */
	int64_t best = 0;
	uint64_t best_gap = UINT64_MAX;

	for (int i = 0; i < 3; i++) {
		uint64_t b1 = clock_ns(CLOCK_BOOTTIME);
		uint64_t r = clock_ns(CLOCK_REALTIME);
		uint64_t b2 = clock_ns(CLOCK_BOOTTIME);

		if (b2 - b1 < best_gap) {
			best_gap = b2 - b1;
			best = (int64_t)r - (int64_t)(b1 + (b2 - b1) / 2);
		}
	}
	s->boot_to_real = best;
}

uint64_t sensor__boot_to_real(struct sensor *s, uint64_t boot_ns)
{
	return (uint64_t)((int64_t)boot_ns + s->boot_to_real);
}

/* ---- output ------------------------------------------------------------ */

static void flush_output(struct sensor *s)
{
	size_t off = 0;

	while (off < s->out.len) {
		ssize_t n = write(s->out_fd, s->out.buf + off, s->out.len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* records in the unwritten part are lost: count them */
			uint64_t lost = 0;

			for (size_t i = off; i < s->out.len; i++)
				lost += s->out.buf[i] == '\n';
			s->counters[RW_C_DROP_OUTPUT] += lost;
			break;
		}
		off += (size_t)n;
	}
	strbuf__reset(&s->out);
}

static void write_record(struct sensor *s, const struct rw_event *ev)
{
	if (s->text)
		ecs__write_text(&s->out, ev);
	else
		ecs__write_json(&s->out, ev);
	if (s->out.oom) {
		/* the buffer holds complete records up to the failed one: count
		 * every record lost with it */
		uint64_t lost = 1;

		for (size_t i = 0; i < s->out.len; i++)
			lost += s->out.buf[i] == '\n';
		s->counters[RW_C_DROP_OUTPUT] += lost;
		strbuf__reset(&s->out);
		return;
	}
	s->counters[RW_C_RECORDS_WRITTEN]++;
	if (s->out.len >= FLUSH_BYTES)
		flush_output(s);
}

static const struct {
	const char *action;
	enum rw_counter c;
} action_counters[] = {
	{ "exec", RW_C_EV_EXEC }, { "fork", RW_C_EV_FORK },
	{ "clone-thread", RW_C_EV_THREAD }, { "exit", RW_C_EV_EXIT },
	{ "create", RW_C_EV_CREATE }, { "modify", RW_C_EV_MODIFY },
	{ "delete", RW_C_EV_DELETE }, { "rename", RW_C_EV_RENAME },
	{ "chmod", RW_C_EV_CHMOD }, { "pipe-create", RW_C_EV_PIPE_CREATE },
	{ "pipe-open", RW_C_EV_PIPE_OPEN }, { "connect", RW_C_EV_CONNECT },
	{ "accept", RW_C_EV_ACCEPT }, { "dns-answer", RW_C_EV_DNS },
	{ "signal", RW_C_EV_SIGNAL }, { "ptrace", RW_C_EV_PTRACE },
	{ "bpf-load", RW_C_EV_BPF_LOAD }, { "memfd-create", RW_C_EV_MEMFD_CREATE },
	{ "memfd-exec", RW_C_EV_MEMFD_EXEC }, { "setuid", RW_C_EV_SETID },
	{ "setgid", RW_C_EV_SETID },
};

static bool action_is(const char *a, size_t len, const char *want)
{
	return a && strlen(want) == len && memcmp(a, want, len) == 0;
}

static void count_action(struct sensor *s, const char *a, size_t len)
{
	for (size_t i = 0; i < sizeof(action_counters) / sizeof(action_counters[0]); i++)
		if (action_is(a, len, action_counters[i].action)) {
			s->counters[action_counters[i].c]++;
			return;
		}
	s->counters[RW_C_EV_OTHER]++;
}

static void add_host(struct sensor *s, struct rw_event *ev)
{
	if (!rw_event__has(ev, RW_F_HOST_HOSTNAME))
		rw_event__set_cstr(ev, RW_F_HOST_HOSTNAME, s->hostname);
	if (s->host_id[0] && !rw_event__has(ev, RW_F_HOST_ID))
		rw_event__set_cstr(ev, RW_F_HOST_ID, s->host_id);
}

static int on_rule_match(const struct rule_info *rule, const struct rw_event *ev, void *ctx)
{
	struct sensor *s = ctx;

	if (alert__build(s->alert, ev, rule) == -ENOSPC)
		s->counters[RW_C_TRUNC_USER_ARENA]++;
	rw_event__set_int(s->alert, RW_F_EVENT_SEQUENCE, (int64_t)++s->seq);
	write_record(s, s->alert);
	s->counters[RW_C_ENGINE_ALERTS]++;
	return 0;
}

/* Evaluate the active content on one enriched event; alerts are written
 * right after the event they are about. */
static void detect(struct sensor *s, const struct rw_event *ev)
{
	uint64_t t0 = clock_ns(CLOCK_MONOTONIC);

	ruleset__match(s->rules, ev, on_rule_match, s);
	s->counters[RW_C_ENGINE_EVAL_NS] += clock_ns(CLOCK_MONOTONIC) - t0;
	s->counters[RW_C_ENGINE_EVENTS]++;
}

void sensor__emit(struct sensor *s, struct rw_event *ev)
{
	size_t alen = 0;
	const char *a = rw_event__str(ev, RW_F_EVENT_ACTION, &alen);
	pid_t pid = (pid_t)rw_event__int(ev, RW_F_PROC_PID, 0);

	if (!rw_event__has(ev, RW_F_TIMESTAMP))
		rw_event__set_time(ev, RW_F_TIMESTAMP, clock_ns(CLOCK_REALTIME));
	if (!rw_event__has(ev, RW_F_EVENT_KIND))
		rw_event__set_cstr(ev, RW_F_EVENT_KIND, "event");
	rw_event__set_int(ev, RW_F_EVENT_SEQUENCE, (int64_t)++s->seq);

	/* keep the process table current before enriching */
	if (action_is(a, alen, "exec") || action_is(a, alen, "memfd-exec"))
		proc_table__exec(s->procs, ev);
	else if (action_is(a, alen, "fork"))
		proc_table__fork(s->procs, (pid_t)rw_event__int(ev, RW_F_PARENT_PID, 0), pid,
				 (uint64_t)rw_event__int(ev, RW_F_TIMESTAMP, 0));

	if (pid > 0)
		proc_table__enrich(s->procs, ev);
	if (rw_event__has(ev, RW_F_RW_TARGET_PID))
		proc_table__enrich_target(s->procs, ev);
	if (s->dns && rw_event__has(ev, RW_F_DEST_IP))
		dns_source__enrich(s->dns, ev);
	add_host(s, ev);

	if (action_is(a, alen, "exit"))
		proc_table__exit(s->procs, pid, (uint64_t)rw_event__int(ev, RW_F_TIMESTAMP, 0));

	count_action(s, a, alen);
	if (ev->n_truncated)
		s->counters[RW_C_TRUNC_USER_ARENA] += ev->n_truncated;
	if (s->events)
		write_record(s, ev);
	if (s->rules)
		detect(s, ev);
}

/* ---- the sensor's own records ------------------------------------------ */

static void refresh_counters(struct sensor *s)
{
	struct proc_table_stats st;

	for (int i = 0; i < s->n_reports; i++)
		s->reports[i].cb(s, s->reports[i].ctx);
	if (s->rules) {
		struct ruleset_stats rs;

		ruleset__stats(s->rules, &rs);
		s->counters[RW_C_ENGINE_DISABLED_OOB] = s->engine_base.disabled_oob + rs.disabled_oob;
		s->counters[RW_C_ENGINE_BAD_VALUES] = s->engine_base.bad_values + rs.bad_values;
		s->counters[RW_C_ENGINE_RE_ERRORS] = s->engine_base.re_errors + rs.re_errors;
	}
	proc_table__stats(s->procs, &st);
	s->counters[RW_C_PT_ENTRIES] = st.entries;
	s->counters[RW_C_PT_EVICTIONS] = st.evictions;
	s->counters[RW_C_PT_MISSES] = st.misses;
	s->counters[RW_C_PT_PROC_READS] = st.proc_reads;
}

static void counters_json(struct sensor *s, struct strbuf *sb)
{
	strbuf__append(sb, "{", 1);
	for (int i = 0; i < RW_C__COUNT; i++)
		strbuf__appendf(sb, "%s\"%s\":%llu", i ? "," : "", rw_counter_names[i],
				(unsigned long long)s->counters[i]);
	strbuf__append(sb, "}", 1);
}

/* A state or metric record about the sensor itself. */
static void sensor_record(struct sensor *s, const char *kind, const char *action,
			  bool with_hooks, bool with_counters)
{
	struct rw_event *ev = s->rec;
	char buf[512];

	rw_event__reset(ev);
	rw_event__set_time(ev, RW_F_TIMESTAMP, clock_ns(CLOCK_REALTIME));
	rw_event__set_cstr(ev, RW_F_EVENT_KIND, kind);
	rw_event__set_cstr(ev, RW_F_EVENT_CATEGORY, "host");
	rw_event__set_cstr(ev, RW_F_EVENT_TYPE, "info");
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, action);
	rw_event__set_cstr(ev, RW_F_EVENT_MODULE, "ringward");
	rw_event__set_int(ev, RW_F_PROC_PID, s->self);
	rw_event__set_cstr(ev, RW_F_RW_SENSOR_VERSION, RW_SENSOR_VERSION);
	rw_event__set_int(ev, RW_F_RW_SENSOR_SCHEMA, RW_SCHEMA_VERSION);
	add_host(s, ev);
	if (with_hooks) {
		for (int i = 0; i < s->n_hooks; i++)
			if (s->hooks[i].in_force)
				rw_event__add_strv(ev, RW_F_RW_SENSOR_HOOKS, s->hooks[i].name,
						   strlen(s->hooks[i].name));
		for (int i = 0; i < s->n_hooks; i++) {
			if (s->hooks[i].in_force)
				continue;
			snprintf(buf, sizeof(buf), "%s: %s", s->hooks[i].name,
				 s->hooks[i].why ? s->hooks[i].why : "unavailable");
			rw_event__add_strv(ev, RW_F_RW_SENSOR_HOOKS_OFF, buf, strlen(buf));
		}
	}
	if (with_counters) {
		struct strbuf sb = { 0 };

		refresh_counters(s);
		counters_json(s, &sb);
		if (!sb.oom)
			rw_event__set_str(ev, RW_F_RW_COUNTERS, sb.buf, sb.len);
		strbuf__free(&sb);
	}
	s->seq++;
	rw_event__set_int(ev, RW_F_EVENT_SEQUENCE, (int64_t)s->seq);
	write_record(s, ev);
	flush_output(s);
}

/* The status file `ringward status` reads: the latest state, mode 0600,
 * written atomically. */
static void write_status(struct sensor *s, const char *state)
{
	struct strbuf sb = { 0 };
	char tmp[] = STATUS_FILE ".XXXXXX";
	int fd;

	if (mkdir(STATUS_DIR, 0700) < 0 && errno != EEXIST)
		return;
	refresh_counters(s);
	strbuf__appendf(&sb, "{\"state\":\"%s\",\"pid\":%d,\"version\":\"%s\",\"schema\":%d,"
			"\"uptime_s\":%llu,\"hooks\":[", state, s->self, RW_SENSOR_VERSION,
			RW_SCHEMA_VERSION,
			(unsigned long long)((clock_ns(CLOCK_REALTIME) - s->start_real_ns) / 1000000000ULL));
	for (int i = 0; i < s->n_hooks; i++) {
		strbuf__appendf(&sb, "%s{\"name\":", i ? "," : "");
		json__append_string(&sb, s->hooks[i].name, strlen(s->hooks[i].name));
		strbuf__appendf(&sb, ",\"in_force\":%s", s->hooks[i].in_force ? "true" : "false");
		if (s->hooks[i].why) {
			strbuf__append(&sb, ",\"why\":", 7);
			json__append_string(&sb, s->hooks[i].why, strlen(s->hooks[i].why));
		}
		strbuf__append(&sb, "}", 1);
	}
	strbuf__append(&sb, "],\"counters\":", 13);
	counters_json(s, &sb);
	strbuf__append(&sb, "}\n", 2);
	fd = mkstemp(tmp);
	if (fd < 0)
		goto cleanup;
	if (write(fd, sb.buf, sb.len) != (ssize_t)sb.len || fsync(fd) < 0) {
		close(fd);
		unlink(tmp);
		goto cleanup;
	}
	close(fd);
	if (rename(tmp, STATUS_FILE) < 0)
		unlink(tmp);
cleanup:
	strbuf__free(&sb);
}

/* ---- content ------------------------------------------------------- */

static int ino_fd_for_walk;	/* nftw has no context argument */

static int watch_dir(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	const char *base = path + ftw->base;

	if (flag != FTW_D)
		return 0;
	if (ftw->level > 0 && base[0] == '.')
		return 0;
	inotify_add_watch(ino_fd_for_walk, path,
			  IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM |
			  IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB);
	return 0;
}

/* (Re)build the inotify watches on every content path: directories
 * recursively, files through their directory (editors replace files by
 * rename). Rebuilt after each reload so new subdirectories are seen. */
static void content_watch(struct sensor *s)
{
	struct epoll_event ee = { .events = EPOLLIN };

	if (s->ino_fd < 0) {
		s->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (s->ino_fd < 0)
			return;
		ee.data.u32 = UINT32_MAX;	/* handled in the loop, not a watch slot */
		epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->ino_fd, &ee);
	}
	/* adding a watch twice is harmless (same descriptor); watches on
	 * deleted directories go away by themselves */
	ino_fd_for_walk = s->ino_fd;
	for (int i = 0; i < s->n_content; i++) {
		struct stat st;
		char dir[PATH_MAX];

		if (stat(s->content[i], &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			nftw(s->content[i], watch_dir, 16, FTW_PHYS);
		} else {
			snprintf(dir, sizeof(dir), "%s", s->content[i]);
			inotify_add_watch(s->ino_fd, dirname(dir),
					  IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE);
		}
	}
}

static void content_record(struct sensor *s, const char *action, const struct diag *d)
{
	struct rw_event *ev = s->rec;
	char line[1024];

	rw_event__reset(ev);
	rw_event__set_time(ev, RW_F_TIMESTAMP, clock_ns(CLOCK_REALTIME));
	rw_event__set_cstr(ev, RW_F_EVENT_KIND, "state");
	rw_event__set_cstr(ev, RW_F_EVENT_CATEGORY, "configuration");
	rw_event__set_cstr(ev, RW_F_EVENT_TYPE, d && d->n_errors ? "error" : "change");
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, action);
	rw_event__set_cstr(ev, RW_F_EVENT_MODULE, "ringward");
	rw_event__set_cstr(ev, RW_F_EVENT_OUTCOME, d && d->n_errors ? "failure" : "success");
	rw_event__set_int(ev, RW_F_PROC_PID, s->self);
	add_host(s, ev);
	for (int i = 0; i < s->n_content; i++)
		rw_event__add_strv(ev, RW_F_RW_CONTENT_PATHS, s->content[i], strlen(s->content[i]));
	if (s->rules) {
		rw_event__set_int(ev, RW_F_RW_CONTENT_RULES, (int64_t)ruleset__count(s->rules));
		rw_event__set_int(ev, RW_F_RW_CONTENT_FILES, (int64_t)ruleset__files(s->rules));
	}
	if (d && d->n_errors) {
		snprintf(line, sizeof(line), "%zu error(s) in content; the previous content stays active",
			 d->n_errors);
		rw_event__set_cstr(ev, RW_F_EVENT_REASON, line);
		for (size_t i = 0; i < d->n && i < MAX_DIAG_IN_RECORD; i++) {
			diag__format(&d->v[i], line, sizeof(line));
			rw_event__add_strv(ev, RW_F_RW_CONTENT_ERRORS, line, strlen(line));
		}
	}
	rw_event__set_int(ev, RW_F_EVENT_SEQUENCE, (int64_t)++s->seq);
	write_record(s, ev);
	flush_output(s);
}

/* Load the content aside; swap it in only when all of it loaded. A set
 * that fails leaves the running one in place and says why. Single
 * threaded: no event is evaluated by neither set, none by both. */
static int content_load(struct sensor *s, bool initial)
{
	struct ruleset_opts ro = { .placeholders_path = s->placeholders };
	struct diag d;
	struct ruleset *rs;

	if (!s->n_content)
		return 0;
	diag__init(&d);
	rs = ruleset__load_opts(s->content, s->n_content, &ro, &d);
	if (!initial)
		s->counters[RW_C_CONTENT_RELOADS]++;
	if (!rs) {
		if (!initial)
			s->counters[RW_C_CONTENT_RELOAD_FAILURES]++;
		fprintf(stderr, "ringward: content failed to load (%zu errors)%s\n", d.n_errors,
			s->rules ? "; keeping the previous content" : "; running without content");
		diag__print(&d, stderr);
		content_record(s, "content-load-failed", &d);
		diag__free(&d);
		return -EINVAL;
	}
	if (s->rules) {
		struct ruleset_stats st;

		ruleset__stats(s->rules, &st);
		s->engine_base.disabled_oob += st.disabled_oob;
		s->engine_base.bad_values += st.bad_values;
		s->engine_base.re_errors += st.re_errors;
		ruleset__free(s->rules);
	}
	s->rules = rs;
	content_record(s, "content-loaded", NULL);
	diag__free(&d);
	return 0;
}

static void on_content_change(struct sensor *s)
{
	char buf[8192];

	while (read(s->ino_fd, buf, sizeof(buf)) > 0)
		;
	s->reload_at_ns = clock_ns(CLOCK_MONOTONIC) + RELOAD_SETTLE_NS;
}

static void maybe_reload(struct sensor *s)
{
	if (s->reload_now ||
	    (s->reload_at_ns && clock_ns(CLOCK_MONOTONIC) >= s->reload_at_ns)) {
		s->reload_now = false;
		s->reload_at_ns = 0;
		content_load(s, false);
		content_watch(s);
	}
}

/* The content shipped next to the binary (build/../content), used when no
 * --content is given. */
static const char *default_content(void)
{
	static char path[PATH_MAX];
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	struct stat st;

	if (n > 0) {
		exe[n] = 0;
		snprintf(path, sizeof(path), "%s/../content/rules", dirname(exe));
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			return path;
	}
	if (stat("/etc/ringward/content", &st) == 0)
		return "/etc/ringward/content";
	return NULL;
}

/* ---- lifecycle ------------------------------------------------------- */

static void read_host_identity(struct sensor *s)
{
	FILE *f;

	if (gethostname(s->hostname, sizeof(s->hostname) - 1) < 0)
		strcpy(s->hostname, "unknown");
	f = fopen("/etc/machine-id", "r");
	if (f) {
		if (!fgets(s->host_id, sizeof(s->host_id), f))
			s->host_id[0] = 0;
		s->host_id[strcspn(s->host_id, "\n")] = 0;
		fclose(f);
	}
}

static int parse_hooks(struct sensor *s, const char *spec)
{
	char *dup = strdup(spec), *save = NULL, *tok;
	int err = 0;
	bool explicit_set = spec[0] != '+' && spec[0] != '-';

	if (!dup)
		return -ENOMEM;
	if (explicit_set)	/* "process,file": exactly these groups */
		for (size_t i = 0; i < N_GROUPS; i++)
			s->group_on[i] = false;
	for (tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		bool on = true, found = false;

		if (*tok == '+' || *tok == '-')
			on = *tok++ == '+';
		if (strcmp(tok, "all") == 0) {
			for (size_t i = 0; i < N_GROUPS; i++)
				s->group_on[i] = on;
			continue;
		}
		for (size_t i = 0; i < N_GROUPS; i++)
			if (strcmp(groups[i].name, tok) == 0) {
				s->group_on[i] = on;
				found = true;
			}
		if (!found) {
			fprintf(stderr, "ringward: unknown hook group '%s' (groups:", tok);
			for (size_t i = 0; i < N_GROUPS; i++)
				fprintf(stderr, " %s", groups[i].name);
			fprintf(stderr, ")\n");
			err = -EINVAL;
		}
	}
	free(dup);
	return err;
}

static void on_signal(struct sensor *s, int fd, uint32_t events, void *ctx)
{
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM)
			s->stop = true;
		else if (si.ssi_signo == SIGHUP)
			s->reload_now = true;
	}
}

static void on_tick(struct sensor *s, int fd, uint32_t events, void *ctx)
{
	uint64_t expirations, now;

	if (read(fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		return;
	for (int i = 0; i < s->n_ticks; i++)
		s->ticks[i].cb(s, s->ticks[i].ctx);
	now = clock_ns(CLOCK_MONOTONIC);
	if (now >= s->next_second_ns) {
		s->next_second_ns = now + 1000000000ULL;
		update_clock_offset(s);
		proc_table__expire(s->procs, clock_ns(CLOCK_REALTIME));
	}
	if (s->metrics_every_ns && now >= s->next_metrics_ns) {
		s->next_metrics_ns = now + s->metrics_every_ns;
		sensor_record(s, "metric", "sensor-metrics", false, true);
		write_status(s, "running");
	}
	maybe_reload(s);
	if (s->out.len)
		flush_output(s);
}

static void usage_run(FILE *f)
{
	fprintf(f,
"usage: ringward run [options]\n"
"Run the sensor in the foreground (root). Writes ECS JSON lines.\n"
"\n"
"  --output FILE        write records to FILE (appended) instead of stdout\n"
"  --format json|text   JSON lines (default) or one readable line per record\n"
"  --events             write every event, not only alerts and sensor records\n"
"  --hooks SPEC         hook groups: a list (process,file) or changes to the\n"
"                       defaults (+tamper-syscalls,-dns); 'all' for every group.\n"
"                       groups: process network file fifo dns tamper tamper-syscalls\n"
"                       (tamper-syscalls is off by default: it costs every syscall)\n"
"  --metrics-interval S seconds between metric records (default 60, 0 = off)\n"
"  --content PATH       Sigma rules or a bundle: file or directory (repeatable);\n"
"                       default: the content/rules next to the binary, else\n"
"                       /etc/ringward/content. Reloads on SIGHUP, `ringward\n"
"                       reload`, or a change under PATH.\n"
"  --no-content         collect and write events only\n"
"  --placeholders FILE  YAML name: [values] for the |expand modifier\n"
"  -h, --help           this help\n");
}

static void sensor_free(struct sensor *s)
{
	if (!s)
		return;
	bpf_source__stop(s->bpf);
	fan_source__stop(s->fan);
	dns_source__stop(s->dns);
	proc_table__free(s->procs);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->sigfd >= 0)
		close(s->sigfd);
	if (s->tickfd >= 0)
		close(s->tickfd);
	for (int i = 0; i < s->n_hooks; i++) {
		free(s->hooks[i].name);
		free(s->hooks[i].why);
	}
	strbuf__free(&s->out);
	ruleset__free(s->rules);
	if (s->ino_fd >= 0)
		close(s->ino_fd);
	free(s->alert);
	free(s->scratch);
	free(s->rec);
	free(s);
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, 'f' },
		{ "events", no_argument, NULL, 'e' },
		{ "hooks", required_argument, NULL, 'H' },
		{ "metrics-interval", required_argument, NULL, 'm' },
		{ "content", required_argument, NULL, 'c' },
		{ "no-content", no_argument, NULL, 'N' },
		{ "placeholders", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct sensor *s = calloc(1, sizeof(*s));
	struct itimerspec its = { { 0, TICK_NS }, { 0, TICK_NS } };
	const char *output = NULL;
	sigset_t mask;
	int opt, rc = 1;
	bool no_content = false;

	if (!s) {
		perror("ringward");
		return 1;
	}
	s->epfd = s->sigfd = s->tickfd = s->ino_fd = -1;
	s->out_fd = STDOUT_FILENO;
	s->metrics_every_ns = 60ULL * 1000000000ULL;
	for (size_t i = 0; i < N_GROUPS; i++)
		s->group_on[i] = groups[i].dflt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "o:f:eH:m:c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'o': output = optarg; break;
		case 'f':
			if (strcmp(optarg, "text") == 0)
				s->text = true;
			else if (strcmp(optarg, "json") != 0) {
				fprintf(stderr, "ringward run: --format is json or text\n");
				goto cleanup;
			}
			break;
		case 'e': s->events = true; break;
		case 'H':
			if (parse_hooks(s, optarg) < 0)
				goto cleanup;
			break;
		case 'm': s->metrics_every_ns = strtoull(optarg, NULL, 10) * 1000000000ULL; break;
		case 'c':
			if (s->n_content == MAX_CONTENT) {
				fprintf(stderr, "ringward run: at most %d --content paths\n", MAX_CONTENT);
				goto cleanup;
			}
			s->content[s->n_content++] = optarg;
			break;
		case 'N': no_content = true; break;
		case 'P': s->placeholders = optarg; break;
		case 'h': usage_run(stdout); rc = 0; goto cleanup;
		default: usage_run(stderr); rc = 2; goto cleanup;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ringward run: unexpected argument '%s'\n", argv[optind]);
		rc = 2;
		goto cleanup;
	}
	if (geteuid() != 0)
		fprintf(stderr, "ringward run: not root: eBPF and fanotify hooks will be refused\n");

	s->self = getpid();
	s->scratch = rw_event__new();
	s->rec = rw_event__new();
	s->alert = rw_event__new();
	s->procs = proc_table__new(PROC_TABLE_MAX);
	if (!s->scratch || !s->rec || !s->alert || !s->procs) {
		perror("ringward run");
		goto cleanup;
	}
	if (output) {
		s->out_fd = open(output, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (s->out_fd < 0) {
			fprintf(stderr, "ringward run: %s: %s\n", output, strerror(errno));
			goto cleanup;
		}
	}
	read_host_identity(s);
	update_clock_offset(s);
	s->start_real_ns = clock_ns(CLOCK_REALTIME);

	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	/* A shell that starts us as a background job leaves SIGINT ignored, and
	 * an ignored signal never reaches a signalfd: restore the defaults. */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	s->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	s->tickfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->epfd < 0 || s->sigfd < 0 || s->tickfd < 0 ||
	    timerfd_settime(s->tickfd, 0, &its, NULL) < 0 ||
	    sensor__watch_fd(s, s->sigfd, on_signal, NULL) < 0 ||
	    sensor__watch_fd(s, s->tickfd, on_tick, NULL) < 0) {
		perror("ringward run: event loop");
		goto cleanup;
	}

	/* Processes older than the sensor get ancestry from /proc. */
	if (proc_table__scan(s->procs, "/proc") < 0)
		fprintf(stderr, "ringward run: /proc scan failed; older processes lack context\n");

	/* Each source probes its own hooks and degrades on its own. */
	if (sensor__group_enabled(s, "process") || sensor__group_enabled(s, "network") ||
	    sensor__group_enabled(s, "tamper") || sensor__group_enabled(s, "tamper-syscalls")) {
		s->bpf = bpf_source__start(s);
		if (s->bpf)
			bpf_source__protect_pid(s->bpf, s->self);
	}
	if (sensor__group_enabled(s, "file") || sensor__group_enabled(s, "fifo"))
		s->fan = fan_source__start(s);
	if (sensor__group_enabled(s, "dns"))
		s->dns = dns_source__start(s);
	for (size_t i = 0; i < N_GROUPS; i++)
		if (!s->group_on[i]) {
			char name[64];

			snprintf(name, sizeof(name), "group:%s", groups[i].name);
			sensor__hook(s, name, false, "disabled by --hooks (or by default)");
		}

	s->next_metrics_ns = clock_ns(CLOCK_MONOTONIC) + s->metrics_every_ns;
	sensor_record(s, "state", "sensor-started", true, false);
	if (no_content) {
		s->n_content = 0;
	} else if (!s->n_content) {
		const char *dflt = default_content();

		if (dflt)
			s->content[s->n_content++] = dflt;
		else
			fprintf(stderr, "ringward run: no --content and no default content found: events only\n");
	}
	/* Content loads after collection is attached: a bad content file never
	 * keeps the sensor from seeing. */
	content_load(s, true);
	content_watch(s);
	write_status(s, "running");

	while (!s->stop) {
		struct epoll_event evs[16];
		int n = epoll_wait(s->epfd, evs, 16, 1000);

		if (n < 0 && errno != EINTR) {
			perror("ringward run: epoll_wait");
			break;
		}
		for (int i = 0; i < n && !s->stop; i++) {
			struct watch *w;

			if (evs[i].data.u32 == UINT32_MAX) {
				on_content_change(s);
				continue;
			}
			w = &s->watches[evs[i].data.u32];
			w->cb(s, w->fd, evs[i].events, w->ctx);
		}
		if (s->reload_now)
			maybe_reload(s);
	}

	/* Drain what the sources hold, take their counters, then detach
	 * everything (a source's stop may emit what it drains last) before
	 * the final record. */
	for (int i = 0; i < s->n_ticks; i++)
		s->ticks[i].cb(s, s->ticks[i].ctx);
	refresh_counters(s);
	bpf_source__stop(s->bpf);
	fan_source__stop(s->fan);
	dns_source__stop(s->dns);
	s->bpf = NULL;
	s->fan = NULL;
	s->dns = NULL;
	s->n_ticks = s->n_reports = 0;
	sensor_record(s, "state", "sensor-stopped", false, true);
	write_status(s, "stopped");
	rc = 0;
cleanup:
	if (s->out_fd > STDOUT_FILENO)
		close(s->out_fd);
	sensor_free(s);
	return rc;
}

int cmd_status(int argc, char **argv)
{
	FILE *f;
	char buf[4096];
	size_t n;

	if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		printf("usage: ringward status\n"
		       "Print the running sensor's latest status (JSON) from " STATUS_FILE ".\n");
		return 0;
	}
	f = fopen(STATUS_FILE, "r");
	if (!f) {
		fprintf(stderr, "ringward status: %s: %s (is the sensor running?)\n", STATUS_FILE,
			strerror(errno));
		return 1;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stdout);
	fclose(f);
	return 0;
}

int cmd_reload(int argc, char **argv)
{
	FILE *f;
	int pid = 0;

	if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		printf("usage: ringward reload\n"
		       "Ask the running sensor to reload its content (the same as SIGHUP).\n"
		       "The new content is loaded aside and swapped in only if all of it loads.\n");
		return 0;
	}
	f = fopen(STATUS_FILE, "r");
	if (!f || fscanf(f, "{\"state\":\"running\",\"pid\":%d", &pid) != 1 || pid <= 0) {
		fprintf(stderr, "ringward reload: no running sensor found in %s\n", STATUS_FILE);
		if (f)
			fclose(f);
		return 1;
	}
	fclose(f);
	if (kill(pid, SIGHUP) < 0) {
		fprintf(stderr, "ringward reload: pid %d: %s\n", pid, strerror(errno));
		return 1;
	}
	printf("reload requested from sensor pid %d\n", pid);
	return 0;
}
