/*
 * The eBPF source (see bpf_source.h for the contract).
 *
 * Four BPF objects, one per hook group (bpf/process, net, tamper,
 * tamper_sys), share one ring and one drop-counter array: both maps are
 * created here and handed to every object before it loads
 * (bpf_map__reuse_fd), so an object the kernel refuses costs only its own
 * hooks.
 */
#include "core/bpf_source.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "common/clock.h"
#include "ringward/abi.h"
#include "core/bpf_selfcheck.h"
#include "core/sensor.h"

#include "process.skel.h"
#include "net.skel.h"
#include "tamper.skel.h"
#include "tamper_sys.skel.h"

#define RING_BYTES		(4u << 20)	/* records are sized by content: ~300 B per exec */
#define WAKEUP_BYTES		(RING_BYTES / 2)
#define MAX_UNIT_HOOKS		12
#define MAX_HOOK_PROGS		2
#define WHY_LEN			256
#define SCAN_EVERY_NS		1000000000ULL
#define N_PORTS			65536

/* ---- objects and their hooks ------------------------------------------- */

struct hook_def {
	const char *name;			/* as reported: "bpf:..." */
	const char *progs[MAX_HOOK_PROGS];	/* all of them, or none */
};

struct unit_def {
	const char *name;
	const char *group;			/* --hooks group */
	const struct hook_def *hooks;
	int n_hooks;
	void *(*open)(void);
	void (*destroy)(void *skel);
	struct bpf_object *(*obj)(void *skel);
	void (*config)(void *skel, const struct rw_bpf_config *cfg, __u64 wakeup_bytes);
};

#define UNIT_OPS(x)								\
static void *x##_open(void) { return x##_bpf__open(); }			\
static void x##_destroy(void *p) { x##_bpf__destroy(p); }			\
static struct bpf_object *x##_obj(void *p) { return ((struct x##_bpf *)p)->obj; } \
static void x##_config(void *p, const struct rw_bpf_config *c, __u64 wake)	\
{										\
	struct x##_bpf *k = p;							\
	k->rodata->rw_cfg = *c;							\
	k->rodata->rw_wakeup_bytes = wake;					\
}
UNIT_OPS(process)
UNIT_OPS(net)
UNIT_OPS(tamper)
UNIT_OPS(tamper_sys)

static const struct hook_def process_hooks[] = {
	{ "bpf:sched_process_exec", { "sched_process_exec" } },
	{ "bpf:sched_process_fork", { "sched_process_fork" } },
	{ "bpf:sched_process_exit", { "sched_process_exit" } },
};
static const struct hook_def net_hooks[] = {
	{ "bpf:inet_sock_set_state", { "inet_sock_set_state" } },
};
static const struct hook_def tamper_hooks[] = {
	{ "bpf:signal_generate", { "signal_generate" } },
	{ "bpf:cap_capable", { "cap_capable" } },	/* set*id needing a capability */
};
#define SYS_PAIR(n) { "bpf:sys_" #n, { "sys_enter_" #n, "sys_exit_" #n } }
static const struct hook_def tamper_sys_hooks[] = {
	{ "bpf:sys_enter_ptrace", { "sys_enter_ptrace" } },
	SYS_PAIR(bpf),
	SYS_PAIR(memfd_create),
	SYS_PAIR(setuid),
	SYS_PAIR(setgid),
	SYS_PAIR(setreuid),
	SYS_PAIR(setregid),
	SYS_PAIR(setresuid),
	SYS_PAIR(setresgid),
	SYS_PAIR(setfsuid),
	SYS_PAIR(setfsgid),
};

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define UNIT(x, grp) { #x, grp, x##_hooks, N_OF(x##_hooks), x##_open, x##_destroy, x##_obj, x##_config }
enum { U_PROCESS, U_NET, U_TAMPER, U_TAMPER_SYS, N_UNITS };
static const struct unit_def units[N_UNITS] = {
	[U_PROCESS] = UNIT(process, "process"),
	[U_NET] = UNIT(net, "network"),
	[U_TAMPER] = UNIT(tamper, "tamper"),
	[U_TAMPER_SYS] = UNIT(tamper_sys, "tamper-syscalls"),
};

struct unit {
	void *skel;			/* NULL: not loaded */
	struct bpf_link *links[MAX_UNIT_HOOKS][MAX_HOOK_PROGS];
	bool in_force[MAX_UNIT_HOOKS];
};

struct bpf_source {
	struct sensor *s;
	int ring_fd, drops_fd;
	struct ring_buffer *rb;
	struct unit u[N_UNITS];
	int ncpu;
	__u64 *percpu;			/* ncpu values, for reading drops */

	/* accept attribution: local port -> pid of the listener */
	pid_t *listeners;

	/* bpf program enumeration */
	bool scan_on;
	uint64_t next_scan_ns;
	__u32 *seen, *cur;		/* sorted program ids */
	size_t n_seen, cap_ids;
	__u32 *ours;
	size_t n_ours, cap_ours;

	/* our own programs and links, checked every second (group "tamper") */
	struct bpf_selfcheck *check;

	char line[RW_ARGS_MAX + RW_PATH_MAX];	/* command line or path being built */
};

/* ---- libbpf messages: keep the reason a load failed -------------------- */

/* How libbpf (1.x) prints a refused program's verifier log. */
#define LOAD_LOG_FMT "libbpf: prog '%s': -- BEGIN PROG LOAD LOG --\n%s-- END PROG LOAD LOG --\n"

static bool lb_verbose;			/* RINGWARD_BPF_VERBOSE: libbpf's debug output */
static bool show_stats;			/* RINGWARD_BPF_STATS: size and verifier cost */
static char lb_reason[WHY_LEN];		/* "Permission denied" */
static char lb_verifier[WHY_LEN];	/* the verifier's last words */

/* The verifier log's error is its last line before the statistics. */
static void lb_take_verifier_line(const char *log)
{
	const char *p = log, *best = NULL, *nl;
	size_t best_len = 0;

	for (; *p; p = nl ? nl + 1 : p + strlen(p)) {
		size_t len;

		nl = strchr(p, '\n');
		len = nl ? (size_t)(nl - p) : strlen(p);
		if (len == 0 || strncmp(p, "processed ", 10) == 0 ||
		    strncmp(p, "verification time", 17) == 0 || strncmp(p, "stack depth", 11) == 0 ||
		    strncmp(p, "-- END", 6) == 0)
			continue;
		best = p;
		best_len = len;
	}
	if (best)
		snprintf(lb_verifier, sizeof(lb_verifier), "%.*s", (int)best_len, best);
}

static int lb_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char msg[512];
	const char *p;
	va_list aq;

	if (lb_verbose) {
		va_copy(aq, ap);
		vfprintf(stderr, fmt, aq);
		va_end(aq);
	}
	if (level != LIBBPF_WARN)
		return 0;
	if (strcmp(fmt, LOAD_LOG_FMT) == 0) {
		/* two strings: the program's name and the verifier's log */
		va_copy(aq, ap);
		(void)va_arg(aq, const char *);
		lb_take_verifier_line(va_arg(aq, const char *));
		va_end(aq);
		return 0;
	}
	vsnprintf(msg, sizeof(msg), fmt, ap);
	p = strstr(msg, "load failed: ");
	if (p) {
		snprintf(lb_reason, sizeof(lb_reason), "%s", p + 13);
		lb_reason[strcspn(lb_reason, "\n")] = 0;
	} else if (!lb_reason[0] && !strstr(msg, "failed to load")) {
		snprintf(lb_reason, sizeof(lb_reason), "%s", msg);
		lb_reason[strcspn(lb_reason, "\n")] = 0;
	}
	return 0;
}

static void lb_clear(void)
{
	lb_reason[0] = 0;
	lb_verifier[0] = 0;
}

static void lb_why(char *why, size_t len, const char *what, int err)
{
	const char *reason = lb_reason[0] ? lb_reason : strerror(err < 0 ? -err : err);

	if (lb_verifier[0])
		snprintf(why, len, "%s: %s; verifier: %s", what, reason, lb_verifier);
	else
		snprintf(why, len, "%s: %s", what, reason);
}

/* ---- loading ------------------------------------------------------------ */

static int reuse_map(struct bpf_object *obj, const char *name, int fd)
{
	struct bpf_map *m = bpf_object__find_map_by_name(obj, name);

	return m ? bpf_map__reuse_fd(m, fd) : -ENOENT;
}

/*
 * Open unit d with only the hooks in want[] set to load, and load it.
 * Returns the skeleton (destroy with d->destroy), or NULL with the reason
 * in why.
 */
static void *unit_load(struct bpf_source *b, const struct unit_def *d, const bool *want,
		       char *why, size_t whylen)
{
	struct rw_bpf_config cfg = {
		.self_tgid = (__u32)sensor__self(b->s),
		/* every set*id from the syscall hooks: the capability hook,
		 * which sees only the privileged ones, stays quiet */
		.setid_by_syscalls = sensor__group_enabled(b->s, "tamper-syscalls"),
	};
	struct bpf_program *prog;
	struct bpf_object *obj;
	void *skel;
	int err;

	lb_clear();
	skel = d->open();
	if (!skel) {
		lb_why(why, whylen, "open", errno);
		return NULL;
	}
	d->config(skel, &cfg, WAKEUP_BYTES);
	obj = d->obj(skel);
	err = reuse_map(obj, "events", b->ring_fd);
	if (!err)
		err = reuse_map(obj, "drops", b->drops_fd);
	if (err) {
		lb_why(why, whylen, "shared maps", err);
		goto fail;
	}
	bpf_object__for_each_program(prog, obj)
		bpf_program__set_autoload(prog, false);
	for (int i = 0; i < d->n_hooks; i++) {
		for (int j = 0; want[i] && j < MAX_HOOK_PROGS && d->hooks[i].progs[j]; j++) {
			prog = bpf_object__find_program_by_name(obj, d->hooks[i].progs[j]);
			if (!prog) {
				err = -ENOENT;
				snprintf(why, whylen, "program %s missing from object %s",
					 d->hooks[i].progs[j], d->name);
				goto fail;
			}
			bpf_program__set_autoload(prog, true);
		}
	}
	err = bpf_object__load(obj);
	if (err) {
		lb_why(why, whylen, "load", err);
		goto fail;
	}
	return skel;
fail:
	d->destroy(skel);
	return NULL;
}

static void note_ours(struct bpf_source *b, int prog_fd, const char *name)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return;
	if (show_stats)
		fprintf(stderr, "ringward: bpf %-24s id %u: %u insns, %u jited bytes, "
			"verifier processed %u insns\n", name, info.id,
			info.xlated_prog_len / 8, info.jited_prog_len, info.verified_insns);
	if (b->n_ours == b->cap_ours) {
		size_t cap = b->cap_ours ? b->cap_ours * 2 : 32;
		__u32 *n = realloc(b->ours, cap * sizeof(*n));

		if (!n)
			return;
		b->ours = n;
		b->cap_ours = cap;
	}
	b->ours[b->n_ours++] = info.id;
}

/* Attach every program of hook i; all or none. */
static int hook_attach(struct unit *u, const struct unit_def *d, int i)
{
	struct bpf_object *obj = d->obj(u->skel);
	int err = 0;

	for (int j = 0; j < MAX_HOOK_PROGS && d->hooks[i].progs[j]; j++) {
		struct bpf_program *p = bpf_object__find_program_by_name(obj, d->hooks[i].progs[j]);

		u->links[i][j] = p ? bpf_program__attach(p) : NULL;
		if (!u->links[i][j]) {
			err = p ? -errno : -ENOENT;
			break;
		}
	}
	if (err)
		for (int j = 0; j < MAX_HOOK_PROGS; j++) {
			bpf_link__destroy(u->links[i][j]);
			u->links[i][j] = NULL;
		}
	return err;
}

/* Load and attach the hooks of one unit, each degrading on its own. */
static void unit_start(struct bpf_source *b, int ui)
{
	const struct unit_def *d = &units[ui];
	struct unit *u = &b->u[ui];
	bool want[MAX_UNIT_HOOKS], ok[MAX_UNIT_HOOKS];
	char why[MAX_UNIT_HOOKS][WHY_LEN];
	struct bpf_program *prog;
	int n_ok = 0;

	for (int i = 0; i < d->n_hooks; i++) {
		want[i] = true;
		ok[i] = false;
		why[i][0] = 0;
	}
	u->skel = unit_load(b, d, want, why[0], WHY_LEN);
	if (u->skel) {
		for (int i = 0; i < d->n_hooks; i++)
			ok[i] = true;
	} else {
		/* find out which hooks this kernel refuses: each one alone */
		for (int i = 0; i < d->n_hooks; i++) {
			bool one[MAX_UNIT_HOOKS] = { false };
			void *skel;

			one[i] = true;
			skel = unit_load(b, d, one, why[i], WHY_LEN);
			ok[i] = skel != NULL;
			n_ok += ok[i];
			if (skel)
				d->destroy(skel);
		}
		if (n_ok) {
			char w[WHY_LEN];

			u->skel = unit_load(b, d, ok, w, sizeof(w));
			for (int i = 0; !u->skel && i < d->n_hooks; i++)
				if (ok[i]) {
					ok[i] = false;
					snprintf(why[i], WHY_LEN, "%s", w);
				}
		}
	}
	if (u->skel)
		bpf_object__for_each_program(prog, d->obj(u->skel))
			if (bpf_program__fd(prog) >= 0)
				note_ours(b, bpf_program__fd(prog), bpf_program__name(prog));
	for (int i = 0; i < d->n_hooks; i++) {
		int err;

		if (!ok[i]) {
			sensor__hook(b->s, d->hooks[i].name, false, why[i]);
			continue;
		}
		err = hook_attach(u, d, i);
		if (err) {
			snprintf(why[i], WHY_LEN, "attach: %s", strerror(-err));
			sensor__hook(b->s, d->hooks[i].name, false, why[i]);
			continue;
		}
		u->in_force[i] = true;
		sensor__hook(b->s, d->hooks[i].name, true, NULL);
		for (int j = 0; j < MAX_HOOK_PROGS && d->hooks[i].progs[j]; j++) {
			prog = bpf_object__find_program_by_name(d->obj(u->skel), d->hooks[i].progs[j]);
			err = bpf_selfcheck__add(b->check, d->hooks[i].name, prog, u->links[i][j]);
			if (err)
				fprintf(stderr, "ringward: bpf %s not self-checked: %s\n",
					d->hooks[i].progs[j], strerror(-err));
		}
	}
}

static bool hook_in_force(struct bpf_source *b, int ui, const char *name)
{
	for (int i = 0; i < units[ui].n_hooks; i++)
		if (strcmp(units[ui].hooks[i].name, name) == 0)
			return b->u[ui].in_force[i];
	return false;
}

/* ---- records to events -------------------------------------------------- */

static void set_id(struct rw_event *ev, enum rw_field f, __u32 id)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%u", id);
	rw_event__set_cstr(ev, f, buf);
}

static struct rw_event *ev_begin(struct bpf_source *b, __u64 ts_boot_ns, const char *category,
				 const char *type, const char *action)
{
	struct rw_event *ev = sensor__scratch(b->s);

	if (ts_boot_ns)
		rw_event__set_time(ev, RW_F_TIMESTAMP, sensor__boot_to_real(b->s, ts_boot_ns));
	rw_event__set_cstr(ev, RW_F_EVENT_KIND, "event");
	rw_event__set_cstr(ev, RW_F_EVENT_CATEGORY, category);
	rw_event__set_cstr(ev, RW_F_EVENT_TYPE, type);
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, action);
	return ev;
}

/* The acting process's credentials and cgroup, as the kernel saw them. */
static void ev_creds(struct rw_event *ev, const struct rw_rec_hdr *h)
{
	set_id(ev, RW_F_PROC_UID, h->euid);
	set_id(ev, RW_F_PROC_RUID, h->uid);
	set_id(ev, RW_F_PROC_GID, h->egid);
	set_id(ev, RW_F_PROC_RGID, h->gid);
	set_id(ev, RW_F_USER_ID, h->euid);
	if (h->cgroup_id)
		rw_event__set_int(ev, RW_F_RW_CGROUP_ID, (int64_t)h->cgroup_id);
}

/* The acting process: pid, thread, parent, credentials. */
static void ev_actor(struct rw_event *ev, const struct rw_rec_hdr *h)
{
	rw_event__set_int(ev, RW_F_PROC_PID, h->pid);
	rw_event__set_int(ev, RW_F_PROC_TID, h->tid);
	rw_event__set_int(ev, RW_F_PARENT_PID, h->ppid);
	ev_creds(ev, h);
}

static void set_signal(struct rw_event *ev, int sig)
{
	const char *abbrev = sigabbrev_np(sig);
	char name[32];

	if (abbrev)
		snprintf(name, sizeof(name), "SIG%s", abbrev);
	else if (sig >= SIGRTMIN && sig <= SIGRTMAX)
		snprintf(name, sizeof(name), "SIGRTMIN+%d", sig - SIGRTMIN);
	else
		snprintf(name, sizeof(name), "SIG%d", sig);
	rw_event__set_int(ev, RW_F_RW_SIGNAL, sig);
	rw_event__set_cstr(ev, RW_F_RW_SIGNAL_NAME, name);
}

/* A path the kernel had to cut (deeper than RW_PATH_DEPTH, or longer than
 * RW_PATH_MAX) holds its deepest components; "..." in front says so, so
 * that it is never mistaken for an absolute path. */
static void set_path(struct bpf_source *b, struct rw_event *ev, enum rw_field f,
		     const char *p, size_t len, bool cut)
{
	if (!cut) {
		rw_event__set_str(ev, f, p, len);
		return;
	}
	memcpy(b->line, "...", 3);
	memcpy(b->line + 3, p, len);	/* len <= RW_PATH_MAX < sizeof(line) - 3 */
	rw_event__set_str(ev, f, b->line, len + 3);
}

static void on_exec(struct bpf_source *b, const struct rw_rec_exec *r)
{
	bool memfd = r->flags & RW_EXEC_F_MEMFD;
	struct rw_event *ev = ev_begin(b, r->h.ts_ns, "process", "start",
				       memfd ? "memfd-exec" : "exec");
	/* the packed strings; rec_valid() checked they fill the record */
	const char *exe = r->data, *cwd = exe + r->exe_len, *args = cwd + r->cwd_len;
	const char *base;
	size_t line_len = 0;

	/* argv first: a list must be appended in one go */
	for (size_t off = 0; off < r->args_len;) {
		const char *a = args + off;
		const char *nul = memchr(a, 0, r->args_len - off);
		size_t len = nul ? (size_t)(nul - a) : r->args_len - off;

		rw_event__add_strv(ev, RW_F_PROC_ARGS, a, len);
		if (line_len)
			b->line[line_len++] = ' ';
		memcpy(b->line + line_len, a, len);	/* bounded: args_len <= RW_ARGS_MAX */
		line_len += len;
		off += len + 1;
	}
	if (r->args_len)
		rw_event__set_str(ev, RW_F_PROC_COMMAND_LINE, b->line, line_len);
	rw_event__set_int(ev, RW_F_PROC_ARGS_COUNT, r->argc);

	ev_actor(ev, &r->h);
	if (r->exe_len) {
		set_path(b, ev, RW_F_PROC_EXECUTABLE, exe, r->exe_len,
			 r->flags & RW_EXEC_F_EXE_TRUNC);
		base = memrchr(exe, '/', r->exe_len);
		base = base ? base + 1 : exe;
		rw_event__set_str(ev, RW_F_PROC_NAME, base, (size_t)(exe + r->exe_len - base));
	} else {
		rw_event__set_str(ev, RW_F_PROC_NAME, r->h.comm, strnlen(r->h.comm, RW_COMM_LEN));
	}
	if (r->cwd_len)
		set_path(b, ev, RW_F_PROC_CWD, cwd, r->cwd_len, r->flags & RW_EXEC_F_CWD_TRUNC);
	if (r->start_boot_ns)
		rw_event__set_time(ev, RW_F_PROC_START, sensor__boot_to_real(b->s, r->start_boot_ns));
	rw_event__set_int(ev, RW_F_PROC_SID, r->sid);
	rw_event__set_bool(ev, RW_F_PROC_INTERACTIVE, r->tty_major || r->tty_minor);
	if (r->tty_major || r->tty_minor) {
		rw_event__set_int(ev, RW_F_PROC_TTY_MAJOR, r->tty_major);
		rw_event__set_int(ev, RW_F_PROC_TTY_MINOR, r->tty_minor);
	}
	if (r->loginuid != (__u32)-1)
		set_id(ev, RW_F_RW_LOGIN_UID, r->loginuid);
	sensor__emit(b->s, ev);
}

static void on_fork(struct bpf_source *b, const struct rw_rec_fork *r)
{
	struct rw_event *ev;

	if (r->is_thread) {
		ev = ev_begin(b, r->h.ts_ns, "process", "start", "clone-thread");
		rw_event__set_int(ev, RW_F_PROC_PID, r->h.pid);
		rw_event__set_int(ev, RW_F_PROC_TID, r->child_tid);
		rw_event__set_int(ev, RW_F_PARENT_PID, r->h.ppid);
	} else {
		/* the event's process is the child */
		ev = ev_begin(b, r->h.ts_ns, "process", "start", "fork");
		rw_event__set_int(ev, RW_F_PROC_PID, r->child_pid);
		rw_event__set_int(ev, RW_F_PROC_TID, r->child_tid);
		rw_event__set_int(ev, RW_F_PARENT_PID, r->h.pid);
	}
	ev_creds(ev, &r->h);
	sensor__emit(b->s, ev);
}

static void on_exit_rec(struct bpf_source *b, const struct rw_rec_exit *r)
{
	struct rw_event *ev = ev_begin(b, r->h.ts_ns, "process", "end", "exit");
	int sig = r->exit_code & 0x7f;

	ev_actor(ev, &r->h);
	if (sig) {
		rw_event__set_int(ev, RW_F_PROC_EXIT_CODE, 128 + sig);
		set_signal(ev, sig);
	} else {
		rw_event__set_int(ev, RW_F_PROC_EXIT_CODE, (r->exit_code >> 8) & 0xff);
	}
	sensor__emit(b->s, ev);
}

static bool is_v4mapped(const __u8 a[16])
{
	static const __u8 pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(a, pfx, sizeof(pfx)) == 0;
}

/* Write one address; IPv4-mapped IPv6 addresses are written as IPv4. */
static void set_ip(struct rw_event *ev, enum rw_field f, __u16 family, const __u8 a[16])
{
	char buf[INET6_ADDRSTRLEN];
	const char *s;

	if (family == AF_INET)
		s = inet_ntop(AF_INET, a, buf, sizeof(buf));
	else if (is_v4mapped(a))
		s = inet_ntop(AF_INET, a + 12, buf, sizeof(buf));
	else
		s = inet_ntop(AF_INET6, a, buf, sizeof(buf));
	if (s)
		rw_event__set_cstr(ev, f, s);
}

static void on_sock(struct bpf_source *b, const struct rw_rec_sock *r)
{
	bool connect = r->h.type == RW_REC_CONNECT;
	bool v4 = r->family == AF_INET || (is_v4mapped(r->saddr) && is_v4mapped(r->daddr));
	struct rw_event *ev;

	if (r->family != AF_INET && r->family != AF_INET6) {
		sensor__count(b->s, RW_C_DROP_RING_MALFORMED, 1);
		return;
	}
	ev = ev_begin(b, r->h.ts_ns, "network", "start", connect ? "connect" : "accept");
	if (connect) {
		ev_actor(ev, &r->h);
		set_ip(ev, RW_F_SOURCE_IP, r->family, r->saddr);
		rw_event__set_int(ev, RW_F_SOURCE_PORT, r->sport);
		set_ip(ev, RW_F_DEST_IP, r->family, r->daddr);
		rw_event__set_int(ev, RW_F_DEST_PORT, r->dport);
	} else {
		/* softirq: the process is whoever listens on the local port */
		pid_t pid = b->listeners ? b->listeners[r->sport] : 0;

		if (pid > 0 && pid == sensor__self(b->s))
			return;
		if (pid > 0)
			rw_event__set_int(ev, RW_F_PROC_PID, pid);
		set_ip(ev, RW_F_SOURCE_IP, r->family, r->daddr);
		rw_event__set_int(ev, RW_F_SOURCE_PORT, r->dport);
		set_ip(ev, RW_F_DEST_IP, r->family, r->saddr);
		rw_event__set_int(ev, RW_F_DEST_PORT, r->sport);
	}
	rw_event__set_cstr(ev, RW_F_NET_TRANSPORT, "tcp");
	rw_event__set_cstr(ev, RW_F_NET_TYPE, v4 ? "ipv4" : "ipv6");
	rw_event__set_cstr(ev, RW_F_NET_DIRECTION, connect ? "egress" : "ingress");
	rw_event__set_cstr(ev, RW_F_EVENT_OUTCOME,
			   r->newstate == TCP_ESTABLISHED ? "success" : "failure");
	sensor__emit(b->s, ev);
}

static void on_listen(struct bpf_source *b, const struct rw_rec_sock *r)
{
	if (!b->listeners)
		return;
	if (r->newstate == TCP_LISTEN)
		b->listeners[r->sport] = (pid_t)r->h.pid;
	else if (b->listeners[r->sport] == (pid_t)r->h.pid)
		b->listeners[r->sport] = 0;
}

static void on_signal_rec(struct bpf_source *b, const struct rw_rec_signal *r)
{
	struct rw_event *ev = ev_begin(b, r->h.ts_ns, "process", "info", "signal");

	ev_actor(ev, &r->h);
	rw_event__set_int(ev, RW_F_RW_TARGET_PID, r->target_pid);
	set_signal(ev, r->sig);
	sensor__emit(b->s, ev);
}

static void on_ptrace(struct bpf_source *b, const struct rw_rec_ptrace *r)
{
	struct rw_event *ev = ev_begin(b, r->h.ts_ns, "process", "info", "ptrace");

	ev_actor(ev, &r->h);
	rw_event__set_int(ev, RW_F_RW_TARGET_PID, r->target_pid);
	rw_event__set_int(ev, RW_F_RW_PTRACE_REQUEST, r->request);
	sensor__emit(b->s, ev);
}

static void set_prog_type(struct rw_event *ev, __u32 type)
{
	const char *name = libbpf_bpf_prog_type_str((enum bpf_prog_type)type);
	char buf[32];

	if (!name) {
		snprintf(buf, sizeof(buf), "%u", type);
		name = buf;
	}
	rw_event__set_cstr(ev, RW_F_RW_BPF_PROG_TYPE, name);
}

static void on_bpf(struct bpf_source *b, const struct rw_rec_bpf *r)
{
	struct rw_event *ev = ev_begin(b, r->h.ts_ns, "process", "info", "bpf-load");

	ev_actor(ev, &r->h);
	rw_event__set_str(ev, RW_F_RW_BPF_PROG_NAME, r->prog_name,
			  strnlen(r->prog_name, sizeof(r->prog_name)));
	set_prog_type(ev, r->prog_type);
	rw_event__set_cstr(ev, RW_F_EVENT_OUTCOME, r->result >= 0 ? "success" : "failure");
	sensor__emit(b->s, ev);
}

static void on_memfd(struct bpf_source *b, const struct rw_rec_memfd *r)
{
	struct rw_event *ev = ev_begin(b, r->h.ts_ns, "process", "info", "memfd-create");

	ev_actor(ev, &r->h);
	rw_event__set_str(ev, RW_F_RW_MEMFD_NAME, r->name, r->name_len);
	sensor__emit(b->s, ev);
}

/* The id a set*id call asks for: the effective one where it names one. */
static __s64 setid_target(long nr, const struct rw_rec_setid *r)
{
	if (nr == SYS_setreuid || nr == SYS_setregid)
		return r->a1 != -1 ? r->a1 : r->a0;
	if (nr == SYS_setresuid || nr == SYS_setresgid)
		return r->a1 != -1 ? r->a1 : r->a0 != -1 ? r->a0 : r->a2;
	return r->a0;
}

static void on_setid(struct bpf_source *b, const struct rw_rec_setid *r)
{
	long nr = r->syscall_nr;
	bool uid = nr == SYS_setuid || nr == SYS_setreuid || nr == SYS_setresuid || nr == SYS_setfsuid;
	struct rw_event *ev = ev_begin(b, r->h.ts_ns, "process", "info", uid ? "setuid" : "setgid");
	__s64 target = setid_target(nr, r);

	ev_actor(ev, &r->h);
	if (target != -1)
		set_id(ev, uid ? RW_F_USER_CHANGES_ID : RW_F_GROUP_ID, (__u32)target);
	/* setfs*id returns the previous id, never an error */
	rw_event__set_cstr(ev, RW_F_EVENT_OUTCOME,
			   r->result >= 0 ? "success" : "failure");
	if (r->via == RW_SETID_CAP)	/* seen at its capability check */
		rw_event__set_cstr(ev, RW_F_EVENT_REASON,
				   uid ? (r->result >= 0 ? "the call needed CAP_SETUID: held" :
					  "the call needed CAP_SETUID: not held, refused") :
				   (r->result >= 0 ? "the call needed CAP_SETGID: held" :
				    "the call needed CAP_SETGID: not held, refused"));
	sensor__emit(b->s, ev);
}

static const size_t rec_size[RW_REC__MAX] = {
	[RW_REC_EXEC] = sizeof(struct rw_rec_exec),
	[RW_REC_FORK] = sizeof(struct rw_rec_fork),
	[RW_REC_EXIT] = sizeof(struct rw_rec_exit),
	[RW_REC_CONNECT] = sizeof(struct rw_rec_sock),
	[RW_REC_ACCEPT] = sizeof(struct rw_rec_sock),
	[RW_REC_LISTEN] = sizeof(struct rw_rec_sock),
	[RW_REC_SIGNAL] = sizeof(struct rw_rec_signal),
	[RW_REC_PTRACE] = sizeof(struct rw_rec_ptrace),
	[RW_REC_BPF] = sizeof(struct rw_rec_bpf),
	[RW_REC_MEMFD] = sizeof(struct rw_rec_memfd),
	[RW_REC_SETID] = sizeof(struct rw_rec_setid),
};

/* A record's own lengths must stay inside it. */
static bool rec_valid(const struct rw_rec_hdr *h, size_t size)
{
	if (size < sizeof(*h) || h->size != size || h->type == 0 || h->type >= RW_REC__MAX)
		return false;
	if (h->type == RW_REC_EXEC) {
		/* variable size: the packed strings must fill it exactly */
		const struct rw_rec_exec *r = (const void *)h;

		return size >= RW_EXEC_HDR_SIZE && size <= sizeof(*r) &&
		       r->exe_len <= RW_PATH_MAX && r->cwd_len <= RW_PATH_MAX &&
		       r->args_len <= RW_ARGS_MAX &&
		       RW_EXEC_HDR_SIZE + (size_t)r->exe_len + r->cwd_len + r->args_len == size;
	}
	if (rec_size[h->type] != size)
		return false;
	if (h->type == RW_REC_MEMFD)
		return ((const struct rw_rec_memfd *)h)->name_len <= RW_NAME_MAX;
	return true;
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct bpf_source *b = ctx;
	const struct rw_rec_hdr *h = data;

	sensor__count(b->s, RW_C_RING_RECORDS, 1);
	if (!rec_valid(h, size)) {
		sensor__count(b->s, RW_C_DROP_RING_MALFORMED, 1);
		return 0;
	}
	switch (h->type) {
	case RW_REC_EXEC: on_exec(b, data); break;
	case RW_REC_FORK: on_fork(b, data); break;
	case RW_REC_EXIT: on_exit_rec(b, data); break;
	case RW_REC_CONNECT:
	case RW_REC_ACCEPT: on_sock(b, data); break;
	case RW_REC_LISTEN: on_listen(b, data); break;
	case RW_REC_SIGNAL: on_signal_rec(b, data); break;
	case RW_REC_PTRACE: on_ptrace(b, data); break;
	case RW_REC_BPF: on_bpf(b, data); break;
	case RW_REC_MEMFD: on_memfd(b, data); break;
	case RW_REC_SETID: on_setid(b, data); break;
	}
	return 0;
}

/* ---- listeners at start: /proc/net/tcp{,6} and socket inodes ----------- */

struct listen_sock {
	unsigned long inode;
	unsigned port;
};

static size_t read_listening(const char *path, struct listen_sock **v, size_t n, size_t *cap)
{
	FILE *f = fopen(path, "r");
	char line[512];

	if (!f)
		return n;
	if (!fgets(line, sizeof(line), f)) {	/* header */
		fclose(f);
		return n;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned port, st;
		unsigned long inode;

		if (sscanf(line, " %*d: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x %*s %*s %*s %*s %*s %lu",
			   &port, &st, &inode) != 3 || st != TCP_LISTEN || !inode || port >= N_PORTS)
			continue;
		if (n == *cap) {
			size_t c = *cap ? *cap * 2 : 64;
			struct listen_sock *nv = realloc(*v, c * sizeof(**v));

			if (!nv)
				break;
			*v = nv;
			*cap = c;
		}
		(*v)[n++] = (struct listen_sock){ inode, port };
	}
	fclose(f);
	return n;
}

/* Who listens on which local port now: LISTEN records keep it current. */
static void scan_listeners(struct bpf_source *b)
{
	struct listen_sock *socks = NULL;
	size_t n = 0, cap = 0;
	struct dirent *pe;
	DIR *proc;

	n = read_listening("/proc/net/tcp", &socks, n, &cap);
	n = read_listening("/proc/net/tcp6", &socks, n, &cap);
	if (!n)
		goto cleanup;
	proc = opendir("/proc");
	if (!proc)
		goto cleanup;
	while ((pe = readdir(proc))) {
		char path[64], link[64];
		struct dirent *fe;
		DIR *fds;

		if (!isdigit((unsigned char)pe->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", pe->d_name);
		fds = opendir(path);
		if (!fds)
			continue;
		while ((fe = readdir(fds))) {
			char fdpath[96];
			unsigned long inode;
			ssize_t len;

			if (fe->d_name[0] == '.')
				continue;
			snprintf(fdpath, sizeof(fdpath), "%s/%s", path, fe->d_name);
			len = readlink(fdpath, link, sizeof(link) - 1);
			if (len <= 0)
				continue;
			link[len] = 0;
			if (sscanf(link, "socket:[%lu]", &inode) != 1)
				continue;
			for (size_t i = 0; i < n; i++)
				if (socks[i].inode == inode && !b->listeners[socks[i].port])
					b->listeners[socks[i].port] = atoi(pe->d_name);
		}
		closedir(fds);
	}
	closedir(proc);
cleanup:
	free(socks);
}

/* ---- BPF programs loaded by others -------------------------------------- */

static bool is_ours(const struct bpf_source *b, __u32 id)
{
	for (size_t i = 0; i < b->n_ours; i++)
		if (b->ours[i] == id)
			return true;
	return false;
}

static void report_prog(struct bpf_source *b, __u32 id)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	struct rw_event *ev;
	int fd = bpf_prog_get_fd_by_id(id);
	bool have = false;

	memset(&info, 0, sizeof(info));
	if (fd >= 0)
		have = bpf_obj_get_info_by_fd(fd, &info, &len) == 0;
	/* gone already: the load still happened; say what we know */
	ev = ev_begin(b, have ? info.load_time : 0, "process", "info", "bpf-load");
	rw_event__set_int(ev, RW_F_RW_BPF_PROG_ID, id);
	if (have) {
		char tag[2 * BPF_TAG_SIZE + 1];

		for (int i = 0; i < BPF_TAG_SIZE; i++)
			snprintf(tag + 2 * i, 3, "%02x", info.tag[i]);
		rw_event__set_str(ev, RW_F_RW_BPF_PROG_NAME, info.name,
				  strnlen(info.name, sizeof(info.name)));
		set_prog_type(ev, info.type);
		rw_event__set_cstr(ev, RW_F_RW_BPF_PROG_TAG, tag);
		set_id(ev, RW_F_USER_ID, info.created_by_uid);
	}
	rw_event__set_cstr(ev, RW_F_EVENT_OUTCOME, "success");
	if (fd >= 0)
		close(fd);
	sensor__emit(b->s, ev);
}

/*
 * List every program id (sorted: the kernel walks its idr in order) and,
 * unless this is the baseline, report the ones not seen last time. Work:
 * one syscall per program loaded on the host, plus two per new program.
 */
static int prog_scan(struct bpf_source *b, bool report)
{
	size_t n = 0, j = 0;
	__u32 id = 0, *t;

	for (;;) {
		if (bpf_prog_get_next_id(id, &id)) {
			if (errno == ENOENT)
				break;
			return -errno;
		}
		if (n == b->cap_ids) {
			size_t cap = b->cap_ids ? b->cap_ids * 2 : 256;
			__u32 *s = realloc(b->seen, cap * sizeof(*s));
			__u32 *c = s ? realloc(b->cur, cap * sizeof(*c)) : NULL;

			if (s)
				b->seen = s;
			if (!c)
				return -ENOMEM;
			b->cur = c;
			b->cap_ids = cap;
		}
		b->cur[n++] = id;
	}
	for (size_t i = 0; report && i < n; i++) {
		while (j < b->n_seen && b->seen[j] < b->cur[i])
			j++;
		if ((j == b->n_seen || b->seen[j] != b->cur[i]) && !is_ours(b, b->cur[i]))
			report_prog(b, b->cur[i]);
	}
	t = b->seen;
	b->seen = b->cur;
	b->cur = t;
	b->n_seen = n;
	return 0;
}

/* ---- the loop's callbacks ------------------------------------------------ */

static void on_tick(struct sensor *s, void *ctx)
{
	struct bpf_source *b = ctx;

	if (b->rb)
		ring_buffer__consume(b->rb);
	if (b->scan_on || b->check) {
		uint64_t now = rw_clock_ns(CLOCK_MONOTONIC);

		if (now >= b->next_scan_ns) {
			b->next_scan_ns = now + SCAN_EVERY_NS;
			if (b->scan_on)
				prog_scan(b, true);
			bpf_selfcheck__run(b->check);
		}
	}
}

/* The ring passed half full and the kernel woke us: drain now. */
static void on_ring_ready(struct sensor *s, int fd, uint32_t events, void *ctx)
{
	struct bpf_source *b = ctx;

	if (b->rb)
		ring_buffer__consume(b->rb);
}

static const enum rw_counter drop_counter[RW_DROP__MAX] = {
	[RW_DROP_RINGBUF_FULL] = RW_C_DROP_KERN_RINGBUF_FULL,
	[RW_DROP_MAP_FULL] = RW_C_DROP_KERN_MAP_FULL,
	[RW_DROP_READ_FAIL] = RW_C_DROP_KERN_READ_FAIL,
	[RW_DROP_PATH_TRUNC] = RW_C_TRUNC_KERN_PATH,
	[RW_DROP_ARGS_TRUNC] = RW_C_TRUNC_KERN_ARGS,
};

static void on_report(struct sensor *s, void *ctx)
{
	struct bpf_source *b = ctx;

	for (__u32 k = 0; k < RW_DROP__MAX; k++) {
		__u64 sum = 0;

		if (bpf_map_lookup_elem(b->drops_fd, &k, b->percpu))
			continue;
		for (int c = 0; c < b->ncpu; c++)
			sum += b->percpu[c];
		sensor__count_set(s, drop_counter[k], sum);
	}
}

/* ---- start / stop -------------------------------------------------------- */

struct bpf_source *bpf_source__start(struct sensor *s)
{
	libbpf_print_fn_t old_print = libbpf_set_print(lb_print);
	struct bpf_source *b = calloc(1, sizeof(*b));
	bool any = false;
	int err = 0;

	lb_verbose = getenv("RINGWARD_BPF_VERBOSE") != NULL;
	show_stats = lb_verbose || getenv("RINGWARD_BPF_STATS") != NULL;
	if (!b) {
		err = -ENOMEM;
		goto fail;
	}
	b->s = s;
	b->ring_fd = b->drops_fd = -1;
	b->ncpu = libbpf_num_possible_cpus();
	if (b->ncpu <= 0) {
		err = b->ncpu ? b->ncpu : -EINVAL;
		goto fail;
	}
	b->percpu = calloc((size_t)b->ncpu, sizeof(*b->percpu));
	if (!b->percpu) {
		err = -ENOMEM;
		goto fail;
	}
	b->ring_fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "rw_events", 0, 0, RING_BYTES, NULL);
	b->drops_fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "rw_drops", sizeof(__u32),
				     sizeof(__u64), RW_DROP__MAX, NULL);
	if (b->ring_fd < 0 || b->drops_fd < 0) {
		char why[WHY_LEN];

		err = b->ring_fd < 0 ? b->ring_fd : b->drops_fd;
		snprintf(why, sizeof(why), "creating the ring buffer: %s", strerror(-err));
		for (int ui = 0; ui < N_UNITS; ui++)
			if (sensor__group_enabled(s, units[ui].group))
				for (int i = 0; i < units[ui].n_hooks; i++)
					sensor__hook(s, units[ui].hooks[i].name, false, why);
	} else {
		if (sensor__group_enabled(s, "tamper"))
			b->check = bpf_selfcheck__new(s);
		for (int ui = 0; ui < N_UNITS; ui++)
			if (sensor__group_enabled(s, units[ui].group))
				unit_start(b, ui);
		for (int ui = 0; ui < N_UNITS; ui++)
			for (int i = 0; i < units[ui].n_hooks; i++)
				any |= b->u[ui].in_force[i];
	}

	if (any) {
		b->rb = ring_buffer__new(b->ring_fd, on_record, b, NULL);
		if (!b->rb) {
			err = -errno;
			goto fail;
		}
	}
	if (hook_in_force(b, U_NET, "bpf:inet_sock_set_state")) {
		b->listeners = calloc(N_PORTS, sizeof(*b->listeners));
		if (b->listeners)
			scan_listeners(b);
	}
	if (sensor__group_enabled(s, "tamper")) {
		int e = prog_scan(b, false);

		if (e) {
			char why[WHY_LEN];

			snprintf(why, sizeof(why), "listing programs: %s", strerror(-e));
			sensor__hook(s, "bpf-prog-scan", false, why);
		} else {
			b->scan_on = true;
			b->next_scan_ns = rw_clock_ns(CLOCK_MONOTONIC) + SCAN_EVERY_NS;
			sensor__hook(s, "bpf-prog-scan", true, NULL);
		}
	}
	if (b->check && bpf_selfcheck__count(b->check)) {
		b->next_scan_ns = rw_clock_ns(CLOCK_MONOTONIC) + SCAN_EVERY_NS;
		sensor__hook(s, "bpf-selfcheck", true, NULL);
	} else {
		bpf_selfcheck__free(b->check);
		b->check = NULL;
	}
	if (!any && !b->scan_on) {
		err = -ENODEV;
		goto fail;
	}
	if ((err = sensor__on_tick(s, on_tick, b)) || (err = sensor__on_report(s, on_report, b)))
		goto fail;
	if (b->rb && sensor__watch_fd(s, b->ring_fd, on_ring_ready, b) < 0)
		fprintf(stderr, "ringward: bpf ring not watched; drained on the tick only\n");
	libbpf_set_print(old_print);
	return b;
fail:
	libbpf_set_print(old_print);
	bpf_source__stop(b);
	errno = err < 0 ? -err : EINVAL;
	return NULL;
}

void bpf_source__stop(struct bpf_source *b)
{
	if (!b)
		return;
	bpf_selfcheck__free(b->check);
	for (int ui = 0; ui < N_UNITS; ui++)
		for (int i = 0; i < MAX_UNIT_HOOKS; i++)
			for (int j = 0; j < MAX_HOOK_PROGS; j++)
				bpf_link__destroy(b->u[ui].links[i][j]);
	if (b->rb) {
		/* what was written before the detach is still ours to report */
		ring_buffer__consume(b->rb);
		ring_buffer__free(b->rb);
	}
	for (int ui = 0; ui < N_UNITS; ui++)
		if (b->u[ui].skel)
			units[ui].destroy(b->u[ui].skel);
	if (b->ring_fd >= 0)
		close(b->ring_fd);
	if (b->drops_fd >= 0)
		close(b->drops_fd);
	free(b->percpu);
	free(b->listeners);
	free(b->seen);
	free(b->cur);
	free(b->ours);
	free(b);
}

int bpf_source__unprotect_pid(struct bpf_source *b, pid_t pid)
{
	struct tamper_bpf *t;
	__u32 key = (__u32)pid;

	if (!b || !b->u[U_TAMPER].skel || !hook_in_force(b, U_TAMPER, "bpf:signal_generate"))
		return -ENOENT;
	t = b->u[U_TAMPER].skel;
	if (bpf_map_delete_elem(bpf_map__fd(t->maps.protected), &key))
		return -errno;
	return 0;
}

int bpf_source__protect_pid(struct bpf_source *b, pid_t pid)
{
	struct tamper_bpf *t;
	__u32 key = (__u32)pid, one = 1;

	if (!b || !b->u[U_TAMPER].skel || !hook_in_force(b, U_TAMPER, "bpf:signal_generate"))
		return -ENOENT;
	t = b->u[U_TAMPER].skel;
	if (bpf_map_update_elem(bpf_map__fd(t->maps.protected), &key, &one, BPF_ANY))
		return errno == E2BIG ? -ENOSPC : -errno;
	return 0;
}
