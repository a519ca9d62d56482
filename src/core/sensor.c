/*
 * The sensor: starts every source, runs the event loop, enriches and writes
 * events, keeps the counters, and reports what is in force.
 *
 * One thread. Sources are drained on a 5 ms tick (batched: the kernel side
 * does not wake us per record) or when their fd is readable; output is
 * buffered and flushed on the same tick.
 *
 * This is the privileged core: it never parses content. Events go to the
 * engine process through shared memory (core/supervisor.h), which
 * evaluates them in its sandbox; its alerts come back the same way.
 */
#include "core/sensor.h"

#include <dirent.h>
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
#include "common/clock.h"
#include "common/ecs_out.h"
#include "core/bpf_source.h"
#include "core/dns.h"
#include "core/fan_source.h"
#include "core/output_proc.h"
#include "core/perm_source.h"
#include "core/proc_table.h"
#include "core/quarantine.h"
#include "core/response.h"
#include "core/status_sock.h"
#include "core/supervisor.h"
#include "core/update_proc.h"
#include "engine/bundle.h"
#include "engine/content_sign.h"
#include "engine/fault.h"

#define MAX_WATCH	16
#define MAX_OWN		16
#define MAX_CBS		16
#define MAX_HOOKS	1024	/* one per eBPF program and per marked filesystem */
#define TICK_NS		5000000ULL	/* 5 ms: batch draining and output flush */
#define FLUSH_BYTES	(256 * 1024)
#define PROC_TABLE_MAX	65536
#define STATUS_DIR	"/run/ringward"
#define STATUS_FILE	STATUS_DIR "/status.json"
#define MAX_CONTENT	32
#define RELOAD_SETTLE_NS 250000000ULL	/* content dir quiet this long before a reload */
#define STOP_DRAIN_MS	5000	/* the engine's time to finish the ring at stop */
#define ENGINE_WAIT_NS	5000000000ULL	/* collection waits this long for detection */
#define HELD_MAX	16	/* engine records before sensor-started */
#define STABLE_NS	60000000000ULL	/* a run this long ends a streak of unclean starts */

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
	bool by_design;		/* not built, not broken: listed, health unaffected */
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
	/* the engine starts before the hooks attach (it compiles its content
	 * meanwhile); what it reports before sensor-started waits here, so
	 * that sensor-started stays the first record */
	bool hold;
	struct rw_event *held[HELD_MAX];
	int n_held;

	struct proc_table *procs;
	struct bpf_source *bpf;
	struct fan_source *fan;
	struct dns_source *dns;

	/* output */
	int out_fd;		/* the destination; the writer process owns the writing */
	struct output_proc outp;
	bool text;
	bool events;		/* write every event, not only alerts/state */
	struct strbuf out;
	uint64_t out_records_pending;

	char hostname[256];
	char host_id[64];
	int64_t boot_to_real;	/* realtime - boottime, ns */
	uint64_t start_real_ns;
	uint64_t metrics_every_ns, next_metrics_ns, next_second_ns;
	uint64_t health_every_ns, next_health_ns;
	char health_version[SV_ID_LEN];	/* content the drop baseline is for */
	uint64_t health_drops_base;

	struct rw_event *scratch;
	struct rw_event *rec;	/* for the sensor's own records */

	/* detection: evaluated by the engine process the supervisor runs */
	const char *content[MAX_CONTENT];
	int n_content;
	const char *placeholders;
	const char *trusted_keys;	/* --trusted-keys, the default, or NULL */
	struct supervisor_opts svo;
	struct supervisor *sv;
	int ino_fd;
	uint64_t reload_at_ns;		/* monotonic; 0 = none pending */
	bool reload_now;		/* SIGHUP */

	/* response: --mode protect acts on block, kill and quarantine */
	bool protect;
	unsigned verdict_ms;
	struct perm_source *perm;
	char *own[MAX_OWN];		/* the sensor's files (real paths): tamper evidence */
	size_t own_len[MAX_OWN];
	int n_own;
	dev_t exe_dev;
	ino_t exe_ino;

	/* staged content delivery (issue 6): the updater process */
	struct update_opts upo;
	struct update_proc *upd;
	char update_dir[PATH_MAX];	/* <state>/update: root's */
	char update_current[PATH_MAX];	/* its symlink to the running bundle */
	char updater_dir[PATH_MAX];	/* <state>/update/updater: the updater's */

	/* containment and status */
	const char *state_dir;
	struct boot_info boot;
	unsigned safe_after;
	bool stable_said;		/* the streak of unclean starts is cleared */
	unsigned test_faults;		/* FAULT_* (test only) */
	const char *status_path;
	struct status_sock *status;
	uint64_t start_mono_ns;
	uint64_t drops_mark, drops_mark_prev;	/* total losses a minute ago, two */
	uint64_t next_minute_ns;
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

void sensor__forget(struct sensor *s, void *ctx)
{
	int n = 0;

	/* watches keep their index (epoll data names it): emptied in place */
	for (int i = 0; i < s->n_watches; i++)
		if (s->watches[i].ctx == ctx && s->watches[i].cb) {
			epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->watches[i].fd, NULL);
			s->watches[i].cb = NULL;
		}
	for (int i = 0; i < s->n_ticks; i++)
		if (s->ticks[i].ctx != ctx)
			s->ticks[n++] = s->ticks[i];
	s->n_ticks = n;
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

static void update_clock_offset(struct sensor *s)
{
	/* take the pair whose boottime reads are closest together */
	int64_t best = 0;
	uint64_t best_gap = UINT64_MAX;

	for (int i = 0; i < 3; i++) {
		uint64_t b1 = rw_clock_ns(CLOCK_BOOTTIME);
		uint64_t r = rw_clock_ns(CLOCK_REALTIME);
		uint64_t b2 = rw_clock_ns(CLOCK_BOOTTIME);

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
	bool restarted = false;
	int fd = s->outp.pipe_w >= 0 ? s->outp.pipe_w : s->out_fd;

	while (off < s->out.len) {
		ssize_t n = write(fd, s->out.buf + off, s->out.len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EPIPE && s->outp.pid > 0 && !restarted &&
		    output_proc__restart(&s->outp) == 0) {
			/* the writer died: a new one takes what the pipe did not
			 * (a record the old pipe took only the head of is lost) */
			s->counters[RW_C_OUTPUT_WRITER_STARTS] = s->outp.starts;
			fd = s->outp.pipe_w >= 0 ? s->outp.pipe_w : s->out_fd;
			restarted = true;
			if (off > 0 && s->out.buf[off - 1] != '\n') {
				while (off < s->out.len && s->out.buf[off] != '\n')
					off++;
				off += off < s->out.len;
				s->counters[RW_C_DROP_OUTPUT]++;
			}
			continue;
		}
		if (n <= 0) {
			/* records in the unwritten part are lost: count them */
			for (size_t i = off; i < s->out.len; i++)
				s->counters[RW_C_DROP_OUTPUT] += s->out.buf[i] == '\n';
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

static void tamper_check(struct sensor *s, const struct rw_event *ev, const char *a,
			 size_t alen);

void sensor__emit(struct sensor *s, struct rw_event *ev)
{
	size_t alen = 0;
	const char *a = rw_event__str(ev, RW_F_EVENT_ACTION, &alen);
	pid_t pid = (pid_t)rw_event__int(ev, RW_F_PROC_PID, 0);

	if (!rw_event__has(ev, RW_F_TIMESTAMP))
		rw_event__set_time(ev, RW_F_TIMESTAMP, rw_clock_ns(CLOCK_REALTIME));
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

	if (s->n_own)
		tamper_check(s, ev, a, alen);
	count_action(s, a, alen);
	if (ev->n_truncated)
		s->counters[RW_C_TRUNC_USER_ARENA] += ev->n_truncated;
	if (s->events)
		write_record(s, ev);
	supervisor__feed(s->sv, ev);
}

/* ---- response and tamper evidence ---------------------------------- */

/* Why there is no BPF-LSM self-protection here: the kernel's LSM list
 * (securityfs) says whether it could be. */
static const char *lsm_state(void)
{
	char buf[512] = "";
	FILE *f = fopen("/sys/kernel/security/lsm", "re");

	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		fclose(f);
	}
	if (!f)
		return "BPF-LSM state unknown (no /sys/kernel/security/lsm); unlink, rename, "
		       "signals and ptrace aimed at the sensor are alerted, not denied";
	if (!strstr(buf, "bpf"))
		return "BPF-LSM is not enabled in this kernel (lsm= lacks bpf); unlink, rename, "
		       "signals and ptrace aimed at the sensor are alerted, not denied";
	return "BPF-LSM is enabled here but ringward has no LSM programs yet; unlink, rename, "
	       "signals and ptrace aimed at the sensor are alerted, not denied";
}

static bool own_path(const struct sensor *s, const char *p, size_t len)
{
	for (int i = 0; p && i < s->n_own; i++) {
		size_t l = s->own_len[i];

		if (len >= l && !memcmp(p, s->own[i], l) && (len == l || p[l] == '/'))
			return true;
	}
	return false;
}

static void add_own(struct sensor *s, const char *path)
{
	char *rp = path ? realpath(path, NULL) : NULL;

	if (!rp)
		return;
	if (s->n_own == MAX_OWN || own_path(s, rp, strlen(rp))) {
		free(rp);
		return;
	}
	s->own_len[s->n_own] = strlen(rp);
	s->own[s->n_own++] = rp;
}

/* The sensor's binary, its content and keys, its state and unit: what a
 * change to raises ringward-tamper, and what protect mode keeps from
 * being written. */
static void collect_own(struct sensor *s)
{
	struct stat sb;

	if (stat("/proc/self/exe", &sb) == 0) {
		s->exe_dev = sb.st_dev;
		s->exe_ino = sb.st_ino;
	}
	add_own(s, "/proc/self/exe");
	for (int i = 0; i < s->n_content; i++)
		add_own(s, s->content[i]);
	add_own(s, s->trusted_keys);
	add_own(s, s->state_dir);
	add_own(s, "/etc/ringward");
	add_own(s, "/etc/systemd/system/ringward.service");
}

/* Was the process that did ev the sensor, one of its processes, or the
 * ringward binary (the CLI managing quarantine or content)? */
static bool by_sensor(const struct sensor *s, const struct rw_event *ev)
{
	pid_t pid = (pid_t)rw_event__int(ev, RW_F_PROC_PID, 0);
	char path[64];
	struct stat sb;

	if (pid == s->self || (pid_t)rw_event__int(ev, RW_F_PARENT_PID, 0) == s->self ||
	    pid == supervisor__engine_pid(s->sv) || pid == s->outp.pid)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	return pid > 0 && stat(path, &sb) == 0 && sb.st_dev == s->exe_dev &&
	       sb.st_ino == s->exe_ino;
}

/* A file event on the sensor's own files, by anyone else: a
 * ringward-tamper alert of the core's own (no content needed). */
static void tamper_check(struct sensor *s, const struct rw_event *ev, const char *a, size_t alen)
{
	size_t plen = 0, tlen = 0;
	const char *p = rw_event__str(ev, RW_F_FILE_PATH, &plen);
	const char *t = rw_event__str(ev, RW_F_FILE_TARGET_PATH, &tlen);
	struct rw_event *al = s->rec;
	char action[64], reason[PATH_MAX + 128];
	static const enum rw_field keep[] = {
		RW_F_TIMESTAMP, RW_F_FILE_PATH, RW_F_FILE_NAME, RW_F_FILE_DIRECTORY,
		RW_F_FILE_TARGET_PATH, RW_F_FILE_INODE, RW_F_PROC_PID, RW_F_PROC_NAME,
		RW_F_PROC_EXECUTABLE, RW_F_PROC_COMMAND_LINE, RW_F_PROC_UID, RW_F_USER_ID,
		RW_F_USER_NAME, RW_F_PARENT_PID, RW_F_PARENT_EXECUTABLE,
	};

	if (!(action_is(a, alen, "delete") || action_is(a, alen, "rename") ||
	      action_is(a, alen, "modify") || action_is(a, alen, "create") ||
	      action_is(a, alen, "chmod")))
		return;
	if (!own_path(s, p, plen) && !own_path(s, t, tlen))
		return;
	if (by_sensor(s, ev))
		return;
	rw_event__reset(al);
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		rw_event__copy_field(al, ev, keep[i]);
	snprintf(action, sizeof(action), "sensor-file-%.*s", (int)alen, a);
	rw_event__set_cstr(al, RW_F_EVENT_KIND, "alert");
	rw_event__set_cstr(al, RW_F_EVENT_CATEGORY, "file");
	rw_event__set_cstr(al, RW_F_EVENT_TYPE, "change");
	rw_event__set_cstr(al, RW_F_EVENT_ACTION, action);
	rw_event__set_cstr(al, RW_F_RULE_ID, "ringward-tamper");
	rw_event__set_cstr(al, RW_F_RULE_NAME, "ringward-tamper");
	rw_event__set_int(al, RW_F_EVENT_SEVERITY, 4);
	rw_event__set_cstr(al, RW_F_RW_RULE_LEVEL, "high");
	snprintf(reason, sizeof(reason), "the sensor's file %.*s: %.*s by another process",
		 (int)(own_path(s, p, plen) ? plen : tlen), own_path(s, p, plen) ? p : t,
		 (int)alen, a);
	rw_event__set_cstr(al, RW_F_EVENT_REASON, reason);
	sensor__write(s, al);
}

/* What the rule of an alert says to do, done (protect mode) or said
 * (detect mode), recorded in the alert. */
static void respond(struct sensor *s, struct rw_event *al)
{
	size_t len = 0;
	const char *act = rw_event__str(al, RW_F_RW_RULE_ACTION, &len);
	pid_t pid = (pid_t)rw_event__int(al, RW_F_PROC_PID, 0);
	char detail[PATH_MAX + 128], id[QUARANTINE_ID_SIZE] = "";
	int err;

	if (!act || action_is(act, len, "alert"))
		return;
	rw_event__set_str(al, RW_F_RW_RESPONSE_ACTION, act, len);
	if (!s->protect) {
		rw_event__set_cstr(al, RW_F_RW_RESPONSE_RESULT, "not-enforced");
		snprintf(detail, sizeof(detail), "detect mode: would have done '%.*s'", (int)len,
			 act);
		rw_event__set_cstr(al, RW_F_RW_RESPONSE_DETAIL, detail);
		return;
	}
	if (action_is(act, len, "block")) {
		if (rw_event__has(al, RW_F_RW_VERDICT_ID)) {
			const char *o = perm_source__outcome(s->perm,
				(uint64_t)rw_event__int(al, RW_F_RW_VERDICT_ID, 0), true);

			rw_event__set_cstr(al, RW_F_RW_RESPONSE_RESULT,
					   !strncmp(o, "denied", 6) ? "denied" : "not-denied");
			rw_event__set_cstr(al, RW_F_RW_RESPONSE_DETAIL, o);
			if (!strncmp(o, "denied", 6))
				rw_event__set_cstr(al, RW_F_EVENT_OUTCOME, "failure");
		} else {
			/* the real event matched: the exec or open was not held
			 * (no permission hook, a missed deadline, or fields known
			 * only once it ran) */
			rw_event__set_cstr(al, RW_F_RW_RESPONSE_RESULT, "not-denied");
			rw_event__set_cstr(al, RW_F_RW_RESPONSE_DETAIL, s->perm ?
				"it ran: not held for a verdict, or the verdict missed its deadline" :
				"it ran: fanotify permission events are not in force");
		}
		return;
	}
	if (action_is(act, len, "kill")) {
		uint64_t start = 0;
		unsigned killed = 0;
		bool group = rw_event__int(al, RW_F_RW_RULE_KILL_GROUP, 0) != 0;

		/* the process that matched, not one that reused its pid: its
		 * start time must be the one the table saw */
		err = pid > 0 ? response__proc_start(pid, &start, NULL) : -ESRCH;
		if (!err && rw_event__has(al, RW_F_PROC_START)) {
			long hz = sysconf(_SC_CLK_TCK);
			uint64_t boot_ns = start * (1000000000ULL / (uint64_t)(hz > 0 ? hz : 100));
			int64_t d = (int64_t)sensor__boot_to_real(s, boot_ns) -
				    rw_event__int(al, RW_F_PROC_START, 0);

			if (d > 50000000LL || d < -50000000LL)
				err = -ESRCH;
		}
		if (!err)
			err = response__kill_checked(pid, start, group, &killed);
		rw_event__set_cstr(al, RW_F_RW_RESPONSE_RESULT, err ? "failed" : "killed");
		if (err)
			snprintf(detail, sizeof(detail), "kill of pid %d%s failed: %s", (int)pid,
				 group ? " and its process group" : "", strerror(-err));
		else
			snprintf(detail, sizeof(detail), "pid %d%s killed with SIGKILL (%u processes)",
				 (int)pid, group ? " and its process group" : "", killed);
		rw_event__set_cstr(al, RW_F_RW_RESPONSE_DETAIL, detail);
		s->counters[err ? RW_C_RESP_FAILED : RW_C_RESP_KILLED]++;
		return;
	}
	if (action_is(act, len, "quarantine")) {
		size_t plen = 0;
		const char *p = rw_event__str(al, RW_F_FILE_TARGET_PATH, &plen);
		char path[PATH_MAX], qdir[PATH_MAX];

		if (!p)
			p = rw_event__str(al, RW_F_FILE_PATH, &plen);
		if (!p)
			p = rw_event__str(al, RW_F_PROC_EXECUTABLE, &plen);
		snprintf(path, sizeof(path), "%.*s", (int)plen, p ? p : "");
		snprintf(qdir, sizeof(qdir), "%s/quarantine", s->state_dir);
		{
			size_t rlen = 0;
			const char *r = rw_event__str(al, RW_F_RULE_ID, &rlen);
			char rule[128];

			snprintf(rule, sizeof(rule), "%.*s", (int)rlen, r ? r : "");
			err = p ? quarantine__file(qdir, path, rule, id) : -ENOENT;
		}
		rw_event__set_cstr(al, RW_F_RW_RESPONSE_RESULT, err ? "failed" : "quarantined");
		if (!err)
			rw_event__set_cstr(al, RW_F_RW_QUARANTINE_ID, id);
		snprintf(detail, sizeof(detail), err ? "quarantine of %s failed: %s" :
			 "%s moved to the quarantine (ringward quarantine restore ID)", path,
			 strerror(-err));
		rw_event__set_cstr(al, RW_F_RW_RESPONSE_DETAIL, detail);
		s->counters[err ? RW_C_RESP_FAILED : RW_C_RESP_QUARANTINED]++;
	}
}

void sensor__write(struct sensor *s, struct rw_event *rec)
{
	if (!rw_event__has(rec, RW_F_TIMESTAMP))
		rw_event__set_time(rec, RW_F_TIMESTAMP, rw_clock_ns(CLOCK_REALTIME));
	add_host(s, rec);
	rw_event__set_int(rec, RW_F_EVENT_SEQUENCE, (int64_t)++s->seq);
	write_record(s, rec);
}

/* ---- the sensor's own records ------------------------------------------ */

static void refresh_counters(struct sensor *s)
{
	struct proc_table_stats st;

	for (int i = 0; i < s->n_reports; i++)
		s->reports[i].cb(s, s->reports[i].ctx);
	supervisor__counters(s->sv, s->counters);
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
	rw_event__set_time(ev, RW_F_TIMESTAMP, rw_clock_ns(CLOCK_REALTIME));
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
	if (strcmp(action, "sensor-started") == 0) {
		rw_event__set_bool(ev, RW_F_RW_SENSOR_SAFE_MODE, s->boot.safe_mode);
		rw_event__set_int(ev, RW_F_RW_SENSOR_UNCLEAN, s->boot.unclean);
		if (s->boot.safe_mode) {
			snprintf(buf, sizeof(buf), "safe mode: %u unclean starts in a row; collection "
				 "and reporting on, content off", s->boot.unclean);
			rw_event__set_cstr(ev, RW_F_EVENT_REASON, buf);
		}
		/* what the engine will accept; each content-loaded record
		 * then says how the running content was signed */
		if (s->trusted_keys)
			snprintf(buf, sizeof(buf), "signed content required: trusted keys %s",
				 s->trusted_keys);
		else
			snprintf(buf, sizeof(buf), "unsigned: no trusted key is configured");
		rw_event__set_cstr(ev, RW_F_RW_CONTENT_SIGNING, buf);
		rw_event__set_cstr(ev, RW_F_RW_SENSOR_MODE, s->protect ? "protect" : "detect");
		for (unsigned i = 0; fault__name(i); i++)
			if (s->test_faults & (1u << i))
				rw_event__add_strv(ev, RW_F_RW_SENSOR_TEST_FAULTS, fault__name(i),
						   strlen(fault__name(i)));
		ev->strv_open = -1;
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

static uint64_t total_drops(struct sensor *s)
{
	uint64_t n = 0;

	for (int i = 0; i < RW_C__COUNT; i++)
		if (!strncmp(rw_counter_names[i], "drops.", 6))
			n += s->counters[i];
	return n;
}

/* The health verdict and its reasons: a JSON object. */
static void health_json(struct sensor *s, struct strbuf *sb)
{
	static const char *const verdicts[] = { "ok", "degraded", "failing" };
	struct strbuf r = { 0 };
	bool first = true;
	int level = 0, v;
	uint64_t drops = total_drops(s);

	for (int i = 0; i < s->n_hooks; i++) {
		char line[512];

		/* hooks switched off by the operator are as asked */
		if (s->hooks[i].in_force || s->hooks[i].by_design ||
		    !strncmp(s->hooks[i].name, "group:", 6))
			continue;
		snprintf(line, sizeof(line), "hook %s not in force: %s", s->hooks[i].name,
			 s->hooks[i].why ? s->hooks[i].why : "unavailable");
		if (!first)
			strbuf__append(&r, ",", 1);
		first = false;
		json__append_string(&r, line, strlen(line));
		level = 1;
	}
	if (drops > s->drops_mark_prev) {
		char line[256];

		snprintf(line, sizeof(line), "%llu event(s) lost in the last minutes (see drops.* "
			 "in the counters)", (unsigned long long)(drops - s->drops_mark_prev));
		if (!first)
			strbuf__append(&r, ",", 1);
		first = false;
		json__append_string(&r, line, strlen(line));
		level = level < 1 ? 1 : level;
	}
	v = supervisor__health(s->sv, &r, &first);
	if (v > level)
		level = v;
	strbuf__appendf(sb, "\"health\":{\"verdict\":\"%s\",\"reasons\":[", verdicts[level]);
	if (!r.oom)
		strbuf__append(sb, r.buf, r.len);
	strbuf__append(sb, "]}", 2);
	strbuf__free(&r);
}

/* The whole status: served on the status socket and written to the
 * status file. Keeps the file's old leading keys ("state", "pid") that
 * `ringward reload` reads. */
/* The content-health record: how the running content fares since it was
 * activated, for a staged rollout's controller (`ringward rollout`) to
 * compare hosts on a new version with hosts on the old one. */
static void health_record(struct sensor *s)
{
	struct rw_event *ev = s->rec;
	struct sv_health h;
	uint64_t drops = total_drops(s);

	if (supervisor__content_health(s->sv, &h))
		return;
	if (strcmp(h.version, s->health_version)) {
		snprintf(s->health_version, sizeof(s->health_version), "%s", h.version);
		s->health_drops_base = drops;
	}
	rw_event__reset(ev);
	rw_event__set_time(ev, RW_F_TIMESTAMP, rw_clock_ns(CLOCK_REALTIME));
	rw_event__set_cstr(ev, RW_F_EVENT_KIND, "metric");
	rw_event__set_cstr(ev, RW_F_EVENT_CATEGORY, "host");
	rw_event__set_cstr(ev, RW_F_EVENT_TYPE, "info");
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, "content-health");
	rw_event__set_cstr(ev, RW_F_EVENT_MODULE, "ringward");
	rw_event__set_int(ev, RW_F_PROC_PID, s->self);
	rw_event__set_cstr(ev, RW_F_RW_SENSOR_VERSION, RW_SENSOR_VERSION);
	rw_event__set_int(ev, RW_F_RW_SENSOR_SCHEMA, RW_SCHEMA_VERSION);
	rw_event__set_cstr(ev, RW_F_RW_CONTENT_VERSION, h.version);
	if (h.label[0])
		rw_event__set_cstr(ev, RW_F_RW_CONTENT_LABEL, h.label);
	rw_event__set_cstr(ev, RW_F_RW_CONTENT_SOURCE, h.last_known_good ? "last-known-good" :
			   "configured");
	rw_event__set_time(ev, RW_F_RW_HEALTH_ACTIVATED, (uint64_t)h.activated_ns);
	rw_event__set_int(ev, RW_F_RW_HEALTH_RESTARTS, (int64_t)h.engine_restarts);
	rw_event__set_int(ev, RW_F_RW_HEALTH_FAILURES, (int64_t)h.engine_failures);
	rw_event__set_int(ev, RW_F_RW_HEALTH_RULE_ERRORS, (int64_t)h.rule_errors);
	rw_event__set_int(ev, RW_F_RW_HEALTH_DROPS, (int64_t)(drops - s->health_drops_base));
	rw_event__set_int(ev, RW_F_RW_HEALTH_EVENTS, (int64_t)h.events);
	rw_event__set_int(ev, RW_F_RW_HEALTH_EVAL_NS, h.events ? (int64_t)(h.eval_ns / h.events) : 0);
	rw_event__set_int(ev, RW_F_RW_HEALTH_ROLLBACKS, (int64_t)h.rollbacks);
	sensor__write(s, ev);
}

static void status_json(struct sensor *s, const char *state, struct strbuf *sb)
{
	unsigned long long up = (rw_clock_ns(CLOCK_REALTIME) - s->start_real_ns) / 1000000000ULL;

	refresh_counters(s);
	strbuf__appendf(sb, "{\"state\":\"%s\",\"pid\":%d,\"version\":\"%s\",\"schema\":%d,"
			"\"uptime_s\":%llu,", state, s->self, RW_SENSOR_VERSION, RW_SCHEMA_VERSION, up);
	health_json(s, sb);
	strbuf__appendf(sb, ",\"sensor\":{\"version\":\"%s\",\"schema\":%d,\"pid\":%d,"
			"\"uptime_s\":%llu,\"mode\":\"%s\",\"safe_mode\":%s,\"unclean_starts\":%u,"
			"\"test_faults\":[",
			RW_SENSOR_VERSION, RW_SCHEMA_VERSION, s->self, up,
			s->protect ? "protect" : "detect",
			s->boot.safe_mode ? "true" : "false", s->boot.unclean);
	for (unsigned i = 0, n = 0; fault__name(i); i++)
		if (s->test_faults & (1u << i))
			strbuf__appendf(sb, "%s\"%s\"", n++ ? "," : "", fault__name(i));
	strbuf__append(sb, "],\"state_dir\":", 14);
	json__append_string(sb, s->state_dir, strlen(s->state_dir));
	strbuf__append(sb, ",\"host\":", 8);
	json__append_string(sb, s->hostname, strlen(s->hostname));
	strbuf__append(sb, "},", 2);
	supervisor__status_json(s->sv, sb);
	strbuf__append(sb, ",\"hooks\":[", 10);
	for (int i = 0; i < s->n_hooks; i++) {
		strbuf__appendf(sb, "%s{\"name\":", i ? "," : "");
		json__append_string(sb, s->hooks[i].name, strlen(s->hooks[i].name));
		strbuf__appendf(sb, ",\"in_force\":%s", s->hooks[i].in_force ? "true" : "false");
		if (s->hooks[i].why) {
			strbuf__append(sb, ",\"why\":", 7);
			json__append_string(sb, s->hooks[i].why, strlen(s->hooks[i].why));
		}
		strbuf__append(sb, "}", 1);
	}
	strbuf__append(sb, "],\"counters\":", 13);
	counters_json(s, sb);
	strbuf__append(sb, "}", 1);
}

/* Temporary status files of sensors killed while writing one (named by a
 * pid that is gone, or by the older random suffix). */
static void status_tmp_sweep(void)
{
	DIR *d = opendir(STATUS_DIR);
	struct dirent *e;
	const char *prefix = "status.json.";

	if (!d)
		return;
	while ((e = readdir(d))) {
		char *end;
		long pid;

		if (strncmp(e->d_name, prefix, strlen(prefix)))
			continue;
		pid = strtol(e->d_name + strlen(prefix), &end, 10);
		if (*end || pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno == ESRCH))
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
}

static void status_fill(void *ctx, struct strbuf *sb)
{
	status_json(ctx, "running", sb);
}

/* The status file: the latest state, mode 0600, written atomically; for
 * `ringward reload` and as the last word of a stopped sensor (`ringward
 * status` asks the socket). */
static void write_status(struct sensor *s, const char *state)
{
	struct strbuf sb = { 0 };
	char tmp[sizeof(STATUS_FILE) + 16];
	int fd;

	if (mkdir(STATUS_DIR, 0700) < 0 && errno != EEXIST)
		return;
	status_json(s, state, &sb);
	strbuf__append(&sb, "\n", 1);
	if (sb.oom)
		goto cleanup;
	/* named by our pid: one killed half-way is found and removed */
	snprintf(tmp, sizeof(tmp), STATUS_FILE ".%d", (int)s->self);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
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

static void on_content_change(struct sensor *s)
{
	char buf[8192];

	while (read(s->ino_fd, buf, sizeof(buf)) > 0)
		;
	s->reload_at_ns = rw_clock_ns(CLOCK_MONOTONIC) + RELOAD_SETTLE_NS;
}

static void maybe_reload(struct sensor *s)
{
	if (s->reload_now ||
	    (s->reload_at_ns && rw_clock_ns(CLOCK_MONOTONIC) >= s->reload_at_ns)) {
		s->reload_now = false;
		s->reload_at_ns = 0;
		supervisor__reload(s->sv);
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
	/* after the sources: what they emitted goes to the engine in one
	 * wakeup, and its alerts come back */
	supervisor__tick(s->sv);
	status_sock__tick(s->status);
	now = rw_clock_ns(CLOCK_MONOTONIC);
	if (now >= s->next_second_ns) {
		s->next_second_ns = now + 1000000000ULL;
		update_clock_offset(s);
		proc_table__expire(s->procs, rw_clock_ns(CLOCK_REALTIME));
	}
	if (now >= s->next_minute_ns) {
		s->next_minute_ns = now + 60000000000ULL;
		refresh_counters(s);
		s->drops_mark_prev = s->drops_mark;
		s->drops_mark = total_drops(s);
	}
	if (!s->stable_said && now - s->start_mono_ns >= STABLE_NS) {
		/* a run this long was no boot loop */
		s->stable_said = true;
		supervisor__boot_clean(s->state_dir, false);
	}
	if (s->metrics_every_ns && now >= s->next_metrics_ns) {
		s->next_metrics_ns = now + s->metrics_every_ns;
		sensor_record(s, "metric", "sensor-metrics", false, true);
		write_status(s, "running");
	}
	if (s->health_every_ns && now >= s->next_health_ns) {
		s->next_health_ns = now + s->health_every_ns;
		health_record(s);
	}
	maybe_reload(s);
	if (s->out.len)
		flush_output(s);
}

/* The supervisor's records and the engine's alerts, checked by it. */
/* The engine is one of the sensor's processes: signals aimed at it are
 * tamper-relevant too. Its pid leaves the kernel's map when it is reaped
 * (the map is small, and pids are reused). */
static void sv_engine_pid(void *ctx, pid_t pid, bool alive)
{
	struct sensor *s = ctx;

	if (alive)
		bpf_source__protect_pid(s->bpf, pid);
	else
		bpf_source__unprotect_pid(s->bpf, pid);
}

/* The updater chooses with what this host runs and what it rolled back
 * from (bundle labels are NAME@VERSION). */
static void tell_updater(struct sensor *s, const struct rw_event *rec)
{
	size_t alen = 0, llen = 0, rlen = 0;
	const char *a = rw_event__str(rec, RW_F_EVENT_ACTION, &alen);
	const char *l = rw_event__str(rec, RW_F_RW_CONTENT_LABEL, &llen);
	const char *r = rw_event__str(rec, RW_F_RULE_ID, &rlen);
	char label[256], *at;
	long long v;

	if (!l || !llen)
		return;
	snprintf(label, sizeof(label), "%.*s", (int)llen, l);
	at = strrchr(label, '@');
	if (!at || !at[1])
		return;
	*at = 0;
	v = strtoll(at + 1, NULL, 10);
	if (action_is(a, alen, "content-loaded"))
		update_proc__running(s->upd, label, v);
	else if (r && action_is(r, rlen, "ringward-content-rollback"))
		update_proc__rolled_back(s->upd, label, v);
}

static void sv_verdict(void *ctx, uint64_t id, uint32_t bits)
{
	struct sensor *s = ctx;

	perm_source__verdict(s->perm, id, bits);
}

static void sv_write(void *ctx, struct rw_event *rec)
{
	struct sensor *s = ctx;
	size_t klen = 0;
	const char *kind;

	if (s->hold) {
		/* an event is flat (its strings live in its arena): a copy
		 * is one memcpy */
		struct rw_event *c = s->n_held < HELD_MAX ? malloc(sizeof(*c)) : NULL;

		if (c) {
			memcpy(c, rec, sizeof(*c));
			s->held[s->n_held++] = c;
			return;
		}
		/* no room: written now, out of order rather than lost */
	}
	kind = rw_event__str(rec, RW_F_EVENT_KIND, &klen);

	if (action_is(kind, klen, "alert")) {
		respond(s, rec);
	} else if (s->perm) {
		size_t alen = 0;
		const char *a = rw_event__str(rec, RW_F_EVENT_ACTION, &alen);

		if (action_is(a, alen, "content-loaded"))
			perm_source__refresh(s->perm);
	}
	if (s->upd)
		tell_updater(s, rec);

	add_host(s, rec);
	rw_event__set_int(rec, RW_F_EVENT_SEQUENCE, (int64_t)++s->seq);
	write_record(s, rec);
}

static void on_status_client(struct sensor *s, int fd, uint32_t events, void *ctx)
{
	status_sock__accept(s->status);
}

/* One turn of the event loop: wait up to timeout_ms, run what is ready.
 * -1 when the loop cannot go on. */
static int loop_once(struct sensor *s, int timeout_ms)
{
	struct epoll_event evs[16];
	int n = epoll_wait(s->epfd, evs, 16, timeout_ms);

	if (n < 0 && errno != EINTR) {
		perror("ringward run: epoll_wait");
		return -1;
	}
	for (int i = 0; i < n && !s->stop; i++) {
		struct watch *w;

		if (evs[i].data.u32 == UINT32_MAX) {
			on_content_change(s);
			continue;
		}
		w = &s->watches[evs[i].data.u32];
		if (w->cb)
			w->cb(s, w->fd, evs[i].events, w->ctx);
	}
	if (s->reload_now)
		maybe_reload(s);
	return 0;
}

/*
 * Before any hook attaches, the engine compiles its content (~0.1 s here
 * for the default rules): the first events then meet rules that are
 * loaded, instead of filling the engine's ring meanwhile (where a burst
 * at start was counted as drops.engine.ring_full, unevaluated). Bounded:
 * collection never waits longer than ENGINE_WAIT_NS for detection.
 */
static void wait_engine(struct sensor *s)
{
	uint64_t until = rw_clock_ns(CLOCK_MONOTONIC) + ENGINE_WAIT_NS;

	while (!s->stop && !supervisor__settled(s->sv) && rw_clock_ns(CLOCK_MONOTONIC) < until)
		if (loop_once(s, 5) < 0)
			break;
	if (!supervisor__settled(s->sv))
		fprintf(stderr, "ringward run: the engine has not loaded its content after %llu s; "
			"collection starts, detection follows when it has\n",
			ENGINE_WAIT_NS / 1000000000ULL);
}

/* sensor-started is out: what the engine said meanwhile, in its order */
static void release_held(struct sensor *s)
{
	s->hold = false;
	for (int i = 0; i < s->n_held; i++) {
		sv_write(s, s->held[i]);
		free(s->held[i]);
	}
	s->n_held = 0;
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
"  --health-interval S  seconds between content-health records: the running\n"
"                       content's engine restarts, rule errors, drops and\n"
"                       evaluation cost since activation (default 60, 0 = off)\n"
"  --content PATH       Sigma rules or a bundle: file or directory (repeatable);\n"
"                       default: the content/rules next to the binary, else\n"
"                       /etc/ringward/content. Reloads on SIGHUP, `ringward\n"
"                       reload`, or a change under PATH.\n"
"  --no-content         collect and write events only\n"
"  --placeholders FILE  YAML name: [values] for the |expand modifier\n"
"  --mode MODE          detect (default): rules only alert, and an alert says\n"
"                       what its rule's action would have done; protect: block\n"
"                       (fanotify permission events), kill and quarantine are\n"
"                       carried out, and the sensor's files are kept from\n"
"                       being written\n"
"  --verdict-deadline-ms MS  how long an exec or open waits for the engine's\n"
"                       verdict before the default applies (default 30)\n"
"  --update-url URL     follow a content repository (ringward repo): an\n"
"                       unprivileged updater polls it, verifies it the TUF way\n"
"                       and stages what the rollout document gives this host\n"
"  --update-root FILE   the repository's trusted root metadata (1.root.json)\n"
"  --update-group G     the operator group this host is in (rollout policy)\n"
"  --update-interval S  seconds between polls (default 300)\n"
"  --update-ca FILE     CA bundle for an https repository (default: the system's)\n"
"  --trusted-keys PATH  a public key file or a directory of *.pub: only content\n"
"                       bundles signed by a trusted key load (default\n"
"                       " RW_TRUSTED_DIR " when it holds a key; else\n"
"                       unsigned content loads and the records say so)\n"
"\n"
"Fault containment (content runs in a sandboxed engine process):\n"
"  --state-dir DIR      crash counts, bad versions, last-known-good content and\n"
"                       unclean starts (default " SV_STATE_DIR ")\n"
"  --status-socket PATH where `ringward status` asks (default " STATUS_SOCK_PATH ")\n"
"  --engine-hang-ms MS  heartbeat silence that counts as a hang (default 2000)\n"
"  --engine-memory-mb N private memory that counts as runaway (default 512)\n"
"  --engine-ring-mb N   events held for the engine, MiB (default 8: ~12k events)\n"
"  --engine-failures K  failures within the window that mark content bad (default 3)\n"
"  --engine-failure-window S  seconds after activation they count (default 60)\n"
"  --lkg-after S        seconds content runs before it becomes last-known-good\n"
"                       (default: the failure window)\n"
"  --safe-mode-after N  unclean starts in a row before safe mode: collection and\n"
"                       reporting on, content off (default 3; 0 = never)\n"
"  --test-faults LIST   TESTS ONLY: rules (ringward.fault: crash|hang|alloc in a\n"
"                       rule), unknown-fields (validation bypassed),\n"
"                       no-bounds-check, all. Never use in production.\n"
"  -h, --help           this help\n");
}

static void sensor_free(struct sensor *s)
{
	if (!s)
		return;
	perm_source__stop(s->perm);
	update_proc__stop(s->upd);
	bpf_source__stop(s->bpf);
	fan_source__stop(s->fan);
	dns_source__stop(s->dns);
	supervisor__free(s->sv);
	for (int i = 0; i < s->n_own; i++)
		free(s->own[i]);
	status_sock__close(s->status);
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
	if (s->ino_fd >= 0)
		close(s->ino_fd);
	free(s->scratch);
	free(s->rec);
	for (int i = 0; i < s->n_held; i++)
		free(s->held[i]);
	free(s);
}

static int opt_uint(const char *name, const char *v, unsigned *out)
{
	char *end;
	unsigned long n = strtoul(v, &end, 10);

	if (!*v || *end || n > 100000000UL) {
		fprintf(stderr, "ringward run: --%s takes a number\n", name);
		return -EINVAL;
	}
	*out = (unsigned)n;
	return 0;
}

/* Does dir hold a public key (*.pub)? Only names: the engine reads keys. */
static bool dir_has_key(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool found = false;

	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		size_t n = strlen(de->d_name);

		found = de->d_name[0] != '.' && n > 4 && !strcmp(de->d_name + n - 4, ".pub");
	}
	closedir(d);
	return found;
}

/* ---- the updater's hand-over ---- */

/* Point <state>/update/current at dir (the core's own copy of a bundle the
 * updater verified and staged: <state>/update/updater.content/NAME-V) in
 * one rename, and reload: the engine loads it aside and swaps it in, or
 * keeps what runs. */
static void update_activate(void *ctx, const char *dir, const char *name, int64_t version)
{
	struct sensor *s = ctx;
	char *real = realpath(dir, NULL), tmp[PATH_MAX + 8], base[PATH_MAX + 16];
	size_t blen;

	snprintf(base, sizeof(base), "%s.content/", s->updater_dir);
	blen = strlen(base);
	if (!real || strncmp(real, base, blen) || strchr(real + blen, '/')) {
		fprintf(stderr, "ringward run: updater staged %s outside %s: ignored\n", dir, base);
		free(real);
		return;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", s->update_current);
	unlink(tmp);
	if (symlink(real, tmp) < 0 || rename(tmp, s->update_current) < 0) {
		fprintf(stderr, "ringward run: activating %s@%lld: %s\n", name, (long long)version,
			strerror(errno));
		unlink(tmp);
	} else {
		supervisor__reload(s->sv);
	}
	free(real);
}

static void update_revoke(void *ctx, const char *name, int64_t version, const char *why)
{
	struct sensor *s = ctx;
	char reason[512];

	snprintf(reason, sizeof(reason), "%s@%lld: %s", name, (long long)version, why);
	supervisor__revoke(s->sv, reason);
}

/* The kill switch's rules, one id a line, into the engine's store where
 * every load reads them (the last-known-good's too); a reload when they
 * changed. */
static void update_kill_rules(void *ctx, const char *const *ids, size_t n)
{
	struct sensor *s = ctx;
	char path[PATH_MAX], dir[PATH_MAX], want[16384], have[16384] = "";
	size_t used = 0;
	ssize_t got = 0;
	int fd, err;

	for (size_t i = 0; i < n && used < sizeof(want); i++)
		used += (size_t)snprintf(want + used, sizeof(want) - used, "%s\n", ids[i]);
	if (used >= sizeof(want))
		return;
	snprintf(path, sizeof(path), "%s/content/killed-rules", s->state_dir);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		got = read(fd, have, sizeof(have) - 1);
		close(fd);
	}
	if (got >= 0 && (size_t)got == used && !memcmp(have, want, used))
		return;		/* as it is: no reload */
	snprintf(dir, sizeof(dir), "%s/content", s->state_dir);
	err = bundle__write_file_atomic(dir, "killed-rules", want, used, 0600, NULL);
	if (err) {
		fprintf(stderr, "ringward run: %s: %s\n", path, strerror(-err));
		return;
	}
	supervisor__reload(s->sv);
}

/* <state>/update/current exists from the start (an empty set until the
 * first bundle arrives), so the engine always has a path to load. */
static int update_prepare(struct sensor *s)
{
	char empty[PATH_MAX + 8];
	struct stat sb;

	snprintf(s->update_dir, sizeof(s->update_dir), "%s/update", s->state_dir);
	snprintf(s->update_current, sizeof(s->update_current), "%s/current", s->update_dir);
	snprintf(s->updater_dir, sizeof(s->updater_dir), "%s/updater", s->update_dir);
	snprintf(empty, sizeof(empty), "%s/empty", s->update_dir);
	if ((mkdir(s->state_dir, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(s->update_dir, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(empty, 0755) < 0 && errno != EEXIST))
		return -errno;
	if (lstat(s->update_current, &sb) < 0 && symlink(empty, s->update_current) < 0)
		return -errno;
	s->upo.state_dir = s->updater_dir;
	s->upo.host_id = s->host_id;
	return 0;
}

/* Start the engine (unless content is off): after collection is attached,
 * so that bad content never keeps the sensor from seeing. */
static void start_detection(struct sensor *s, bool no_content)
{
	struct supervisor_host host = { .ctx = s, .write = sv_write, .engine_pid = sv_engine_pid,
					.verdict = sv_verdict };

	if (no_content) {
		s->n_content = 0;
	} else if (s->upo.url && s->update_current[0] && s->n_content < MAX_CONTENT) {
		/* the repository's content, beside any --content */
		s->content[s->n_content++] = s->update_current;
	} else if (!s->n_content) {
		const char *dflt = default_content();

		if (dflt)
			s->content[s->n_content++] = dflt;
		else
			fprintf(stderr, "ringward run: no --content and no default content found: events only\n");
	}
	s->svo.state_dir = s->state_dir;
	s->svo.content = s->content;
	s->svo.n_content = s->n_content;
	s->svo.placeholders = s->placeholders;
	s->svo.trusted_keys = s->trusted_keys;
	s->svo.content_off = s->boot.safe_mode;
	s->svo.test_faults = s->test_faults;
	s->sv = supervisor__new(&s->svo, &host);
	if (!s->sv)
		fprintf(stderr, "ringward run: cannot set up the engine (%s): no detection\n",
			strerror(errno));
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
		{ "state-dir", required_argument, NULL, 'S' },
		{ "trusted-keys", required_argument, NULL, 'K' },
		{ "status-socket", required_argument, NULL, 'U' },
		{ "engine-hang-ms", required_argument, NULL, 1 },
		{ "engine-memory-mb", required_argument, NULL, 2 },
		{ "engine-ring-mb", required_argument, NULL, 3 },
		{ "engine-failures", required_argument, NULL, 4 },
		{ "engine-failure-window", required_argument, NULL, 5 },
		{ "lkg-after", required_argument, NULL, 6 },
		{ "safe-mode-after", required_argument, NULL, 7 },
		{ "test-faults", required_argument, NULL, 8 },
		{ "mode", required_argument, NULL, 9 },
		{ "verdict-deadline-ms", required_argument, NULL, 10 },
		{ "health-interval", required_argument, NULL, 11 },
		{ "update-url", required_argument, NULL, 12 },
		{ "update-root", required_argument, NULL, 13 },
		{ "update-group", required_argument, NULL, 14 },
		{ "update-interval", required_argument, NULL, 15 },
		{ "update-ca", required_argument, NULL, 16 },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct sensor *s = calloc(1, sizeof(*s));
	struct itimerspec its = { { 0, TICK_NS }, { 0, TICK_NS } };
	const char *output = NULL;
	sigset_t mask;
	int opt, rc = 1, err, upd_err = 0;
	bool no_content = false, booted = false;
	unsigned ring_mb = 8;	/* ~700 B per event: ~12k events, 120 ms at 100k/s */

	if (!s) {
		perror("ringward");
		return 1;
	}
	s->epfd = s->sigfd = s->tickfd = s->ino_fd = -1;
	s->out_fd = STDOUT_FILENO;
	s->outp.pipe_w = -1;	/* no writer yet: write directly */
	s->metrics_every_ns = 60ULL * 1000000000ULL;
	s->health_every_ns = 60ULL * 1000000000ULL;
	s->state_dir = SV_STATE_DIR;
	s->status_path = STATUS_SOCK_PATH;
	s->safe_after = 3;
	for (size_t i = 0; i < N_GROUPS; i++)
		s->group_on[i] = groups[i].dflt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "o:f:eH:m:c:h", opts, NULL)) != -1) {
		err = 0;
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
		case 'S': s->state_dir = optarg; break;
		case 'K': s->trusted_keys = optarg; break;
		case 'U': s->status_path = optarg; break;
		case 1: err = opt_uint("engine-hang-ms", optarg, &s->svo.hang_ms); break;
		case 2: err = opt_uint("engine-memory-mb", optarg, &s->svo.mem_mb); break;
		case 3: err = opt_uint("engine-ring-mb", optarg, &ring_mb); break;
		case 4: err = opt_uint("engine-failures", optarg, &s->svo.failures); break;
		case 5: err = opt_uint("engine-failure-window", optarg, &s->svo.window_s); break;
		case 6: err = opt_uint("lkg-after", optarg, &s->svo.lkg_after_s); break;
		case 7: err = opt_uint("safe-mode-after", optarg, &s->safe_after); break;
		case 8:
			if (fault__parse(optarg, &s->test_faults)) {
				fprintf(stderr, "ringward run: --test-faults takes rules, unknown-fields, "
					"no-bounds-check or all\n");
				err = -EINVAL;
			}
			break;
		case 9:
			if (!strcmp(optarg, "protect") || !strcmp(optarg, "detect")) {
				s->protect = !strcmp(optarg, "protect");
			} else {
				fprintf(stderr, "ringward run: --mode takes protect or detect\n");
				err = -EINVAL;
			}
			break;
		case 10: err = opt_uint("verdict-deadline-ms", optarg, &s->verdict_ms); break;
		case 11: {
			unsigned v = 0;

			err = opt_uint("health-interval", optarg, &v);
			s->health_every_ns = (uint64_t)v * 1000000000ULL;
			break;
		}
		case 12: s->upo.url = optarg; break;
		case 13: s->upo.root = optarg; break;
		case 14: s->upo.group = optarg; break;
		case 15: err = opt_uint("update-interval", optarg, &s->upo.interval_s); break;
		case 16: s->upo.ca_file = optarg; break;
		case 'h': usage_run(stdout); rc = 0; goto cleanup;
		default: usage_run(stderr); rc = 2; goto cleanup;
		}
		if (err) {
			rc = 2;
			goto cleanup;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ringward run: unexpected argument '%s'\n", argv[optind]);
		rc = 2;
		goto cleanup;
	}
	s->svo.ring_bytes = (size_t)ring_mb << 20;
	if (!s->trusted_keys && dir_has_key(RW_TRUSTED_DIR))
		s->trusted_keys = RW_TRUSTED_DIR;
	if (geteuid() != 0)
		fprintf(stderr, "ringward run: not root: eBPF and fanotify hooks will be refused\n");
	if (s->test_faults)
		fprintf(stderr, "ringward run: WARNING: test-only fault injection is on "
			"(--test-faults); never run this in production\n");

	s->self = getpid();
	s->start_mono_ns = rw_clock_ns(CLOCK_MONOTONIC);
	s->next_minute_ns = s->start_mono_ns + 60000000000ULL;
	/* count this start before anything can fail: a sensor that keeps
	 * dying during start comes up in safe mode */
	err = supervisor__boot(s->state_dir, s->safe_after, &s->boot);
	booted = true;
	if (err)
		fprintf(stderr, "ringward run: state directory %s: %s (unclean starts not counted)\n",
			s->state_dir, strerror(-err));
	if (s->boot.safe_mode)
		fprintf(stderr, "ringward run: SAFE MODE: %u unclean starts in a row; collecting and "
			"reporting, content off\n", s->boot.unclean);
	s->scratch = rw_event__new();
	s->rec = rw_event__new();
	s->procs = proc_table__new(PROC_TABLE_MAX);
	if (!s->scratch || !s->rec || !s->procs) {
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
	s->start_real_ns = rw_clock_ns(CLOCK_REALTIME);

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
	/* from here on, an unprivileged process writes the output */
	if (output_proc__start(&s->outp, s->out_fd) < 0) {
		perror("ringward run: output writer");
		goto cleanup;
	}
	s->counters[RW_C_OUTPUT_WRITER_STARTS] = s->outp.starts;
	s->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	s->tickfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->epfd < 0 || s->sigfd < 0 || s->tickfd < 0 ||
	    timerfd_settime(s->tickfd, 0, &its, NULL) < 0 ||
	    sensor__watch_fd(s, s->sigfd, on_signal, NULL) < 0 ||
	    sensor__watch_fd(s, s->tickfd, on_tick, NULL) < 0) {
		perror("ringward run: event loop");
		goto cleanup;
	}

	/* the repository's content (update/current) is among what the engine
	 * loads first; the updater itself starts with the hooks, below */
	if (s->upo.url)
		upd_err = !s->upo.root ? -EINVAL : update_prepare(s);
	s->next_metrics_ns = rw_clock_ns(CLOCK_MONOTONIC) + s->metrics_every_ns;
	s->next_health_ns = rw_clock_ns(CLOCK_MONOTONIC) + s->health_every_ns;
	/* detection first (its records wait for sensor-started) */
	s->hold = true;
	start_detection(s, no_content);
	wait_engine(s);

	/* Processes older than the sensor get ancestry from /proc. */
	if (proc_table__scan(s->procs, "/proc") < 0)
		fprintf(stderr, "ringward run: /proc scan failed; older processes lack context\n");

	/* Each source probes its own hooks and degrades on its own. */
	if (sensor__group_enabled(s, "process") || sensor__group_enabled(s, "network") ||
	    sensor__group_enabled(s, "tamper") || sensor__group_enabled(s, "tamper-syscalls")) {
		s->bpf = bpf_source__start(s);
		if (s->bpf) {
			bpf_source__protect_pid(s->bpf, s->self);
			/* the engine started before this map existed */
			if (supervisor__engine_pid(s->sv) > 0)
				bpf_source__protect_pid(s->bpf, supervisor__engine_pid(s->sv));
		}
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

	/* the sensor's own files: tamper evidence in both modes; in protect
	 * mode also kept from writing, and block rules enforced */
	collect_own(s);
	if (s->protect) {
		struct perm_opts po = { .deadline_ms = s->verdict_ms,
					.protect = (const char *const *)s->own,
					.n_protect = s->n_own };

		s->perm = perm_source__start(s, NULL, &po);
		if (s->perm && s->sv && perm_source__set_supervisor(s->perm, s->sv))
			fprintf(stderr, "ringward run: verdict wakeups: %s\n", strerror(errno));
		sensor__hook(s, "permission", s->perm != NULL, s->perm ? NULL : strerror(errno));
		/* denying unlink/rename/ptrace/kill of the sensor in the kernel
		 * needs BPF-LSM: said, not done (README, protect mode) */
		sensor__hook(s, "lsm-self-protection", false, lsm_state());
		for (int i = 0; i < s->n_hooks; i++)
			if (!strcmp(s->hooks[i].name, "lsm-self-protection"))
				s->hooks[i].by_design = true;
	}
	if (s->upo.url) {
		struct update_host uh = { .ctx = s, .activate = update_activate,
					  .revoke = update_revoke, .kill_rules = update_kill_rules };

		if (!upd_err) {
			s->upd = update_proc__start(s, &s->upo, &uh);
			upd_err = s->upd ? 0 : -errno;
		}
		sensor__hook(s, "updater", !upd_err, upd_err == -EINVAL ?
			     "--update-url needs --update-root" : upd_err ? strerror(-upd_err) : NULL);
	}
	sensor_record(s, "state", "sensor-started", true, false);
	release_held(s);
	content_watch(s);
	status_tmp_sweep();
	s->status = status_sock__open(s->status_path, status_fill, s);
	if (!s->status)
		fprintf(stderr, "ringward run: status socket %s: %s\n", s->status_path,
			strerror(errno));
	else if ((err = sensor__watch_fd(s, status_sock__fd(s->status), on_status_client, NULL)))
		fprintf(stderr, "ringward run: status socket %s: %s\n", s->status_path,
			strerror(-err));
	write_status(s, "running");

	while (!s->stop)
		if (loop_once(s, 1000) < 0)
			break;

	/* Drain what the sources hold, take their counters, then detach
	 * everything (a source's stop may emit what it drains last); let the
	 * engine evaluate what is queued and hand back its alerts; then the
	 * final record. */
	for (int i = 0; i < s->n_ticks; i++)
		s->ticks[i].cb(s, s->ticks[i].ctx);
	refresh_counters(s);
	/* first: nothing on the host may wait for a sensor that is leaving */
	perm_source__stop(s->perm);
	s->perm = NULL;
	update_proc__stop(s->upd);
	s->upd = NULL;
	bpf_source__stop(s->bpf);
	fan_source__stop(s->fan);
	dns_source__stop(s->dns);
	s->bpf = NULL;
	s->fan = NULL;
	s->dns = NULL;
	s->n_ticks = s->n_reports = 0;
	supervisor__stop(s->sv, STOP_DRAIN_MS);
	sensor_record(s, "state", "sensor-stopped", false, true);
	write_status(s, "stopped");
	rc = 0;
cleanup:
	output_proc__stop(&s->outp, STOP_DRAIN_MS);	/* writes what it holds */
	/* an orderly exit, even on an error: only a crash or a kill leaves
	 * this start counted as unclean */
	if (booted)
		supervisor__boot_clean(s->state_dir, true);
	if (s->out_fd > STDOUT_FILENO)
		close(s->out_fd);
	sensor_free(s);
	return rc;
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
