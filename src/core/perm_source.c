/*
 * Protect mode: fanotify permission events (core/perm_source.h).
 */
#include "core/perm_source.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <linux/fs.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/event.h"
#include "common/protected.h"
#include "core/mounts.h"
#include "core/proc_table.h"
#include "core/sensor.h"
#include "core/shm_ring.h"
#include "core/supervisor.h"

#ifndef FAN_REPORT_TID
#define FAN_REPORT_TID		0x00000100
#endif
#ifndef FAN_OPEN_EXEC_PERM
#define FAN_OPEN_EXEC_PERM	0x00040000
#endif

#define N_SLOTS		256		/* requests waiting for the engine */
#define CACHE_SIZE	8192		/* verdicts (a power of two) */
#define N_OUTCOMES	256		/* what became of recent requests */
#define N_NOTES		64		/* self-protection denials to report */
#define MAX_PROTECT	16
#define MAX_MARKS	4096		/* inode marks on the sensor's files */
#define MAX_ARGS	256
#define ARG_BYTES	16384

/* FILLING is the perm thread's alone, ASKING the run loop's alone (no
 * lock held meanwhile: the run loop may open files, /etc/passwd for a
 * user name, and such an open may itself wait for the perm thread). */
enum slot_state { S_FREE, S_FILLING, S_QUEUED, S_ASKING, S_ASKED };

struct slot {
	enum slot_state state;
	uint64_t id;
	uint64_t deadline_ns;		/* monotonic */
	int fd;				/* the event's file */
	bool exec;
	bool essential;			/* protected__essential_exe(path) */
	uint64_t key[4];		/* dev, ino, ctime ns, generation */
	uint64_t gen;			/* content generation asked under */
	struct rw_event *ev;
};

struct centry {
	uint64_t key[4];
	uint64_t gen;
	uint8_t used, exec, deny;
};

struct outcome {
	uint64_t id;
	const char *what;
};

struct note {
	pid_t pid, tid;
	char path[PATH_MAX];
	char why[96];
};

enum pc { PC_EVENTS, PC_CACHED, PC_ASKED, PC_DENIED, PC_MISSED, PC_SELF_DENIED, PC_OVERFLOW,
	  PC__COUNT };

struct perm_source {
	struct sensor *s;
	struct supervisor *sv;
	int fan_fd, stop_fd, queue_fd;
	pid_t self;
	dev_t exe_dev;
	ino_t exe_ino;
	uint64_t deadline_ns;
	pthread_t thread;
	bool thread_up;

	char *protect[MAX_PROTECT];	/* real paths */
	size_t protect_len[MAX_PROTECT];
	int n_protect;
	unsigned n_marks;
	uint64_t next_mark_ns;

	pthread_mutex_t lock;		/* everything below */
	uint32_t flags;			/* BLOCK_* in force */
	uint32_t fs_mask;		/* filesystem marks in place */
	uint64_t gen;			/* content generation of flags */
	uint64_t next_id;
	struct slot slots[N_SLOTS];
	struct centry cache[CACHE_SIZE];
	struct outcome outcomes[N_OUTCOMES];
	unsigned n_outcomes;
	struct note notes[N_NOTES];
	unsigned n_notes, notes_lost;
	_Atomic uint64_t pc[PC__COUNT];
};

static void count(struct perm_source *ps, enum pc c)
{
	atomic_fetch_add_explicit(&ps->pc[c], 1, memory_order_relaxed);
}

/* Write the answer for fd and close it. */
static void respond(struct perm_source *ps, int fd, bool allow)
{
	struct fanotify_response r = { .fd = fd, .response = allow ? FAN_ALLOW : FAN_DENY };

	if (write(ps->fan_fd, &r, sizeof(r)) != sizeof(r)) {
		/* the group is closing: the kernel allows what is pending */
	}
	close(fd);
	if (!allow)
		count(ps, PC_DENIED);
}

/* Under lock: answer a slot's event, remember what became of it, free it. */
static void answer(struct perm_source *ps, struct slot *sl, bool allow, const char *what)
{
	struct outcome *o = &ps->outcomes[ps->n_outcomes++ % N_OUTCOMES];

	respond(ps, sl->fd, allow);
	o->id = sl->id;
	o->what = what;
	sl->fd = -1;
	sl->state = S_FREE;
}

/* ---- /proc of the blocked thread ---- */

/* Tgid and PPid of tid; -1 when gone. */
static int task_ids(pid_t tid, pid_t *tgid, pid_t *ppid)
{
	char path[64], buf[2048], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strstr(buf, "\nTgid:");
	*tgid = p ? (pid_t)atoi(p + 6) : tid;
	p = strstr(buf, "\nPPid:");
	*ppid = p ? (pid_t)atoi(p + 6) : 0;
	return 0;
}

/* The arguments of the system call tid is blocked in (it waits for our
 * answer, so /proc/<tid>/syscall shows it): the number, or -1. */
static long task_syscall(pid_t tid, unsigned long args[6])
{
	char path[64], buf[512];
	ssize_t n;
	long nr;
	char *p, *end;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	nr = strtol(buf, &end, 10);
	if (end == buf)
		return -1;	/* "running" */
	p = end;
	for (int i = 0; i < 6; i++) {
		args[i] = strtoul(p, &end, 16);
		if (end == p)
			return -1;
		p = end;
	}
	return nr;
}

static ssize_t peek(pid_t pid, unsigned long addr, void *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)addr, len };

	return process_vm_readv(pid, &local, 1, &remote, 1, 0);
}

/* Is tid opening for writing? 1 yes, 0 no, -1 unknown (counted as yes). */
static int opens_for_write(pid_t tid)
{
	unsigned long a[6];
	long nr = task_syscall(tid, a);
	unsigned long flags;

	switch (nr) {
#ifdef SYS_open
	case SYS_open:
		flags = a[1];
		break;
#endif
#ifdef SYS_creat
	case SYS_creat:
		return 1;
#endif
	case SYS_openat:
		flags = a[2];
		break;
#ifdef SYS_openat2
	case SYS_openat2: {
		uint64_t f;

		if (peek(tid, a[2], &f, sizeof(f)) != sizeof(f))
			return -1;
		flags = (unsigned long)f;
		break;
	}
#endif
	case SYS_open_by_handle_at:
		flags = a[2];
		break;
	case SYS_execve:
	case SYS_execveat:
		return 0;
	default:
		return -1;
	}
	return (flags & O_ACCMODE) != O_RDONLY || (flags & (O_TRUNC | O_CREAT)) ? 1 : 0;
}

/* The argv of the exec tid is blocked in, into ev. */
static void exec_args(pid_t tid, struct rw_event *ev)
{
	unsigned long a[6], argv_addr, ptrs[MAX_ARGS];
	long nr = task_syscall(tid, a);
	char *buf = NULL, *cmd = NULL;
	size_t used = 0, clen = 0;
	ssize_t n;
	int argc = 0;

	if (nr == SYS_execve)
		argv_addr = a[1];
	else if (nr == SYS_execveat)
		argv_addr = a[2];
	else
		return;
	n = peek(tid, argv_addr, ptrs, sizeof(ptrs));
	buf = malloc(ARG_BYTES);
	cmd = malloc(ARG_BYTES);
	if (n <= 0 || !buf || !cmd)
		goto out;
	for (size_t i = 0; i < (size_t)n / sizeof(ptrs[0]) && ptrs[i]; i++) {
		size_t room = ARG_BYTES - used, l;
		ssize_t got;

		if (room < 2)
			break;
		/* a page at a time: a string may end just before unmapped memory */
		got = peek(tid, ptrs[i], buf + used, room - 1 < 4096 ? room - 1 : 4096);
		if (got <= 0)
			break;
		buf[used + (size_t)got] = 0;
		l = strnlen(buf + used, (size_t)got);
		rw_event__add_strv(ev, RW_F_PROC_ARGS, buf + used, l);
		if (clen + l + 1 < ARG_BYTES) {
			if (clen)
				cmd[clen++] = ' ';
			memcpy(cmd + clen, buf + used, l);
			clen += l;
		}
		used += l + 1;
		argc++;
	}
	if (argc) {
		rw_event__set_int(ev, RW_F_PROC_ARGS_COUNT, argc);
		rw_event__set_str(ev, RW_F_PROC_COMMAND_LINE, cmd, clen);
	}
out:
	free(buf);
	free(cmd);
}

static bool under(const char *path, const char *root, size_t rlen)
{
	return !strncmp(path, root, rlen) && (path[rlen] == 0 || path[rlen] == '/' ||
					      (rlen == 1 && root[0] == '/'));
}

static bool is_protected(const struct perm_source *ps, const char *path)
{
	for (int i = 0; i < ps->n_protect; i++)
		if (under(path, ps->protect[i], ps->protect_len[i]))
			return true;
	return false;
}

static bool is_sensor_exe(const struct perm_source *ps, pid_t tid)
{
	char path[64];
	struct stat sb;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)tid);
	return stat(path, &sb) == 0 && sb.st_dev == ps->exe_dev && sb.st_ino == ps->exe_ino;
}

/* ---- the cache ---- */

static size_t cache_slot(const uint64_t key[4], bool exec)
{
	uint64_t h = key[0] * 0x9e3779b97f4a7c15ULL ^ key[1] * 0xc2b2ae3d27d4eb4fULL ^
		     key[2] * 0x165667b19e3779f9ULL ^ key[3] ^ (exec ? 0x5bd1e995 : 0);

	return (size_t)(h ^ h >> 29) & (CACHE_SIZE - 1);
}

/* Under lock. 1 deny, 0 allow, -1 not cached. */
static int cache_get(struct perm_source *ps, const uint64_t key[4], bool exec)
{
	const struct centry *c = &ps->cache[cache_slot(key, exec)];

	if (!c->used || c->gen != ps->gen || c->exec != exec || memcmp(c->key, key, sizeof(c->key)))
		return -1;
	return c->deny;
}

static void cache_put(struct perm_source *ps, const uint64_t key[4], bool exec, bool deny)
{
	struct centry *c = &ps->cache[cache_slot(key, exec)];

	memcpy(c->key, key, sizeof(c->key));
	c->gen = ps->gen;
	c->exec = exec;
	c->deny = deny;
	c->used = 1;
}

/* ---- the thread ---- */

static void note(struct perm_source *ps, pid_t tgid, pid_t tid, const char *path, const char *why)
{
	struct note *n;

	pthread_mutex_lock(&ps->lock);
	if (ps->n_notes < N_NOTES) {
		n = &ps->notes[ps->n_notes++];
		n->pid = tgid;
		n->tid = tid;
		snprintf(n->path, sizeof(n->path), "%s", path);
		snprintf(n->why, sizeof(n->why), "%s", why);
	} else {
		ps->notes_lost++;
	}
	pthread_mutex_unlock(&ps->lock);
}

/* The default when no verdict came: allow, unless a block rule of the
 * category says fail: closed; even then never for the host's essential
 * executables (init, the package manager, sshd, the loader, the sensor):
 * the guardrails keep rules from blocking those, and so does this. */
static bool default_allows(const struct perm_source *ps, bool exec, bool essential)
{
	return essential || !(ps->flags & (exec ? BLOCK_EXEC_FAIL_CLOSED : BLOCK_OPEN_FAIL_CLOSED));
}

static void fill_event(struct perm_source *ps, struct slot *sl, pid_t tgid, pid_t tid,
		       pid_t ppid, const char *path)
{
	struct rw_event *ev = sl->ev;
	const char *base = strrchr(path, '/');

	rw_event__reset(ev);
	rw_event__set_time(ev, RW_F_TIMESTAMP, rw_clock_ns(CLOCK_REALTIME));
	rw_event__set_cstr(ev, RW_F_EVENT_KIND, "event");
	rw_event__set_int(ev, RW_F_RW_VERDICT_ID, (int64_t)sl->id);
	rw_event__set_int(ev, RW_F_PROC_PID, tgid);
	rw_event__set_int(ev, RW_F_PROC_TID, tid);
	if (ppid > 0)
		rw_event__set_int(ev, RW_F_PARENT_PID, ppid);
	if (sl->exec) {
		rw_event__set_cstr(ev, RW_F_EVENT_ACTION, "exec");
		rw_event__set_cstr(ev, RW_F_EVENT_CATEGORY, "process");
		rw_event__set_cstr(ev, RW_F_EVENT_TYPE, "start");
		rw_event__set_cstr(ev, RW_F_PROC_EXECUTABLE, path);
		rw_event__set_cstr(ev, RW_F_PROC_NAME, base ? base + 1 : path);
		exec_args(tid, ev);
		if (!rw_event__has(ev, RW_F_PROC_COMMAND_LINE))	/* never the old image's */
			rw_event__set_cstr(ev, RW_F_PROC_COMMAND_LINE, path);
	} else {
		char exe[64], buf[PATH_MAX];
		ssize_t n;

		rw_event__set_cstr(ev, RW_F_EVENT_ACTION, "open");
		rw_event__set_cstr(ev, RW_F_EVENT_CATEGORY, "file");
		rw_event__set_cstr(ev, RW_F_EVENT_TYPE, "access");
		rw_event__set_cstr(ev, RW_F_FILE_PATH, path);
		rw_event__set_cstr(ev, RW_F_FILE_NAME, base ? base + 1 : path);
		snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)tid);
		n = readlink(exe, buf, sizeof(buf) - 1);
		if (n > 0)
			rw_event__set_str(ev, RW_F_PROC_EXECUTABLE, buf, (size_t)n);
	}
}

/* The file's identity for the cache: device, inode, change time (a
 * write, chmod, rename or link changes it) and inode generation. */
static int file_key(int fd, uint64_t key[4], struct stat *sb)
{
	unsigned int generation = 0;

	if (fstat(fd, sb) < 0)
		return -1;
	ioctl(fd, FS_IOC_GETVERSION, &generation);	/* 0 where unsupported */
	key[0] = (uint64_t)sb->st_dev;
	key[1] = (uint64_t)sb->st_ino;
	key[2] = (uint64_t)sb->st_ctim.tv_sec * 1000000000ULL + (uint64_t)sb->st_ctim.tv_nsec;
	key[3] = generation;
	return 0;
}

static void handle(struct perm_source *ps, const struct fanotify_event_metadata *md)
{
	bool exec = md->mask & FAN_OPEN_EXEC_PERM;
	pid_t tid = md->pid, tgid = 0, ppid = 0;
	char fdpath[64], path[PATH_MAX];
	uint64_t key[4] = { 0 };
	struct slot *sl = NULL;
	struct stat sb;
	ssize_t n;
	int c = -1;

	count(ps, PC_EVENTS);
	if (file_key(md->fd, key, &sb) < 0) {
		respond(ps, md->fd, true);
		return;
	}
	if (exec) {
		/* the hot path: an exec already judged costs no /proc read */
		if (sb.st_dev == ps->exe_dev && sb.st_ino == ps->exe_ino) {
			respond(ps, md->fd, true);	/* running ringward is never blocked */
			return;
		}
		pthread_mutex_lock(&ps->lock);
		c = ps->flags & BLOCK_EXEC ? cache_get(ps, key, true) : 0;
		pthread_mutex_unlock(&ps->lock);
		if (c == 0) {
			count(ps, PC_CACHED);
			respond(ps, md->fd, true);
			return;
		}
	}
	/* 1. the sensor and its children */
	if (task_ids(tid, &tgid, &ppid) < 0 || tgid == ps->self || ppid == ps->self) {
		respond(ps, md->fd, true);
		return;
	}
	if (c == 1) {
		count(ps, PC_CACHED);
		respond(ps, md->fd, false);
		return;
	}
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", md->fd);
	n = readlink(fdpath, path, sizeof(path) - 1);
	if (n <= 0) {
		respond(ps, md->fd, true);
		return;
	}
	path[n] = 0;
	/* 2. the sensor's files */
	if (!exec && is_protected(ps, path)) {
		int w = opens_for_write(tid);

		if (w == 0 || is_sensor_exe(ps, tid)) {
			respond(ps, md->fd, true);
		} else {
			respond(ps, md->fd, false);
			count(ps, PC_SELF_DENIED);
			note(ps, tgid, tid, path, w > 0 ? "opened for writing" :
			     "opened in a way the sensor cannot read (counted as writing)");
		}
		return;
	}

	pthread_mutex_lock(&ps->lock);
	if (!(ps->flags & (exec ? BLOCK_EXEC : BLOCK_OPEN))) {
		pthread_mutex_unlock(&ps->lock);
		respond(ps, md->fd, true);	/* a mark being removed */
		return;
	}
	/* 3. the cache (opens; execs were looked up above) */
	if (!exec && (c = cache_get(ps, key, false)) >= 0) {
		pthread_mutex_unlock(&ps->lock);
		count(ps, PC_CACHED);
		respond(ps, md->fd, !c);
		return;
	}
	for (int i = 0; i < N_SLOTS && !sl; i++)
		if (ps->slots[i].state == S_FREE)
			sl = &ps->slots[i];
	if (!sl) {
		bool allow = default_allows(ps, exec, exec && protected__essential_exe(path));

		pthread_mutex_unlock(&ps->lock);
		count(ps, PC_OVERFLOW);
		respond(ps, md->fd, allow);
		return;
	}
	sl->state = S_FILLING;
	sl->id = ++ps->next_id;
	sl->fd = md->fd;
	sl->exec = exec;
	sl->essential = exec && protected__essential_exe(path);
	memcpy(sl->key, key, sizeof(key));
	sl->gen = ps->gen;
	sl->deadline_ns = rw_clock_ns(CLOCK_MONOTONIC) + ps->deadline_ns;
	pthread_mutex_unlock(&ps->lock);

	/* 4. to the run loop, which asks the engine (the slot is ours alone
	 * while FILLING) */
	fill_event(ps, sl, tgid, tid, ppid, path);
	pthread_mutex_lock(&ps->lock);
	sl->state = S_QUEUED;
	pthread_mutex_unlock(&ps->lock);
	{
		uint64_t one = 1;

		if (write(ps->queue_fd, &one, sizeof(one)) < 0) {
			/* EAGAIN: a wakeup is pending */
		}
	}
}

static void expire(struct perm_source *ps, uint64_t now, int *timeout_ms)
{
	uint64_t next = UINT64_MAX;

	pthread_mutex_lock(&ps->lock);
	for (int i = 0; i < N_SLOTS; i++) {
		struct slot *sl = &ps->slots[i];

		if (sl->state != S_QUEUED && sl->state != S_ASKED)
			continue;
		if (sl->deadline_ns <= now) {
			bool allow = default_allows(ps, sl->exec, sl->essential);

			count(ps, PC_MISSED);
			answer(ps, sl, allow, allow ? "allowed: the verdict missed its deadline" :
			       "denied: the verdict missed its deadline (fail: closed)");
		} else if (sl->deadline_ns < next) {
			next = sl->deadline_ns;
		}
	}
	pthread_mutex_unlock(&ps->lock);
	*timeout_ms = next == UINT64_MAX ? -1 : (int)((next - now + 999999) / 1000000);
}

static void *perm_thread(void *arg)
{
	struct perm_source *ps = arg;
	_Alignas(struct fanotify_event_metadata) char buf[8192];
	int timeout = -1;

	for (;;) {
		struct pollfd p[2] = { { ps->fan_fd, POLLIN, 0 }, { ps->stop_fd, POLLIN, 0 } };
		ssize_t n;

		if (poll(p, 2, timeout) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (p[0].revents & POLLIN) {
			n = read(ps->fan_fd, buf, sizeof(buf));
			for (struct fanotify_event_metadata *md = (void *)buf;
			     n > 0 && FAN_EVENT_OK(md, n); md = FAN_EVENT_NEXT(md, n)) {
				if (md->vers != FANOTIFY_METADATA_VERSION)
					break;
				if (md->fd < 0) {
					count(ps, PC_OVERFLOW);	/* FAN_Q_OVERFLOW */
					continue;
				}
				if (md->mask & (FAN_OPEN_PERM | FAN_OPEN_EXEC_PERM))
					handle(ps, md);
				else
					close(md->fd);
			}
		}
		expire(ps, rw_clock_ns(CLOCK_MONOTONIC), &timeout);
	}
	return NULL;
}

/* ---- the run loop's side ---- */

/* Requests the thread queued: enrich (the process table is the run
 * loop's) and ask the engine. */
static void on_queue(struct sensor *s, int fd, uint32_t events, void *ctx)
{
	struct perm_source *ps = ctx;
	uint64_t v;

	(void)events;
	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN */
	}
	for (int i = 0; i < N_SLOTS; i++) {
		struct slot *sl = &ps->slots[i];
		int err;

		pthread_mutex_lock(&ps->lock);
		if (sl->state != S_QUEUED) {
			pthread_mutex_unlock(&ps->lock);
			continue;
		}
		sl->state = S_ASKING;
		pthread_mutex_unlock(&ps->lock);

		proc_table__enrich(sensor__procs(s), sl->ev);
		err = supervisor__ask(ps->sv, sl->ev, sl->id);

		pthread_mutex_lock(&ps->lock);
		if (err) {
			bool allow = default_allows(ps, sl->exec, sl->essential);

			answer(ps, sl, allow, allow ? "allowed: no engine to ask" :
			       "denied: no engine to ask (fail: closed)");
		} else {
			count(ps, PC_ASKED);
			if (!sl->exec)
				sensor__count(s, RW_C_EV_OPEN, 1);
			sl->state = S_ASKED;
		}
		pthread_mutex_unlock(&ps->lock);
	}
}

static void on_reply(struct sensor *s, int fd, uint32_t events, void *ctx)
{
	struct perm_source *ps = ctx;

	(void)s;
	(void)fd;
	(void)events;
	supervisor__on_reply(ps->sv);
}

static struct slot *slot_of(struct perm_source *ps, uint64_t id)
{
	for (int i = 0; i < N_SLOTS; i++)
		if ((ps->slots[i].state == S_ASKED || ps->slots[i].state == S_QUEUED) &&
		    ps->slots[i].id == id)
			return &ps->slots[i];
	return NULL;
}

void perm_source__verdict(struct perm_source *ps, uint64_t id, uint32_t bits)
{
	struct slot *sl;
	bool deny = bits & VERDICT_DENY;

	if (!ps)
		return;
	pthread_mutex_lock(&ps->lock);
	sl = slot_of(ps, id);
	if (sl) {
		if ((bits & VERDICT_CACHEABLE) && sl->gen == ps->gen)
			cache_put(ps, sl->key, sl->exec, deny);
		answer(ps, sl, !deny, deny ? "denied" : "allowed");
	}
	pthread_mutex_unlock(&ps->lock);
}

const char *perm_source__outcome(struct perm_source *ps, uint64_t id, bool deny)
{
	const char *what = "unknown: no such request";
	struct slot *sl;

	if (!ps)
		return "not enforced: protect mode is off";
	pthread_mutex_lock(&ps->lock);
	sl = slot_of(ps, id);
	if (sl && deny) {
		/* the alert comes just before its verdict: answer now, so
		 * that what the alert says is what happened */
		if ((ps->flags & (sl->exec ? BLOCK_EXEC_CACHEABLE : BLOCK_OPEN_CACHEABLE)) &&
		    sl->gen == ps->gen)
			cache_put(ps, sl->key, sl->exec, true);
		answer(ps, sl, false, "denied");
		what = "denied";
	} else {
		for (unsigned i = 0; i < N_OUTCOMES && i < ps->n_outcomes; i++) {
			const struct outcome *o = &ps->outcomes[(ps->n_outcomes - 1 - i) % N_OUTCOMES];

			if (o->id == id) {
				what = o->what;
				break;
			}
		}
	}
	pthread_mutex_unlock(&ps->lock);
	return what;
}

/* The dynamic loader is opened for exec with every dynamically linked
 * program: half the exec permission events. No rule may block it (the
 * guardrails), and a loader can run any program without an exec anyway
 * (`ld.so ./prog`), so its events are ignored in the kernel: an ignore
 * mark on its inode, kept across writes to it. */
static void ignore_loaders(struct perm_source *ps, bool on)
{
	for (const char *const *p = protected_loader_exe; *p; p++) {
		char *real = realpath(*p, NULL);

		if (!real)
			continue;
		fanotify_mark(ps->fan_fd, (on ? FAN_MARK_ADD : FAN_MARK_REMOVE) |
			      FAN_MARK_IGNORED_MASK | FAN_MARK_IGNORED_SURV_MODIFY,
			      FAN_OPEN_EXEC_PERM, AT_FDCWD, real);
		free(real);
	}
}

/* Filesystem marks for mask (0: none), on every local filesystem; with
 * again set, also on filesystems mounted since (a mark added twice is one
 * mark). */
static void set_fs_marks(struct perm_source *ps, uint32_t mask, bool again)
{
	struct mnt *v = NULL;
	int n;

	if (mask == ps->fs_mask && (!again || !mask))
		return;
	n = mounts__read(&v);
	for (int i = 0; i < n; i++) {
		if (!mounts__skip_fstype(v[i].fstype)) {
			/* the new bits first, then the old ones dropped: no
			 * moment without a mark both sets want */
			if (mask)
				fanotify_mark(ps->fan_fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM,
					      mask, AT_FDCWD, v[i].path);
			if (ps->fs_mask & ~mask)
				fanotify_mark(ps->fan_fd, FAN_MARK_REMOVE | FAN_MARK_FILESYSTEM,
					      ps->fs_mask & ~mask, AT_FDCWD, v[i].path);
		}
		free(v[i].path);
	}
	free(v);
	if ((mask ^ ps->fs_mask) & FAN_OPEN_EXEC_PERM)
		ignore_loaders(ps, mask & FAN_OPEN_EXEC_PERM);
	ps->fs_mask = mask;
}

static struct perm_source *walk_ps;	/* nftw has no context argument */

static int mark_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	uint64_t mask = FAN_OPEN_PERM;

	(void)ftw;
	if (walk_ps->n_marks >= MAX_MARKS)
		return 1;
	if (flag == FTW_D)
		mask |= FAN_EVENT_ON_CHILD | FAN_ONDIR;
	else if (!S_ISREG(sb->st_mode))
		return 0;
	if (fanotify_mark(walk_ps->fan_fd, FAN_MARK_ADD, mask, AT_FDCWD, path) == 0)
		walk_ps->n_marks++;
	return 0;
}

/* Inode marks on the sensor's files, again every few seconds: files and
 * directories made since are covered (a mark added twice is one mark). */
static void mark_protected(struct perm_source *ps)
{
	walk_ps = ps;
	ps->n_marks = 0;
	for (int i = 0; i < ps->n_protect; i++)
		nftw(ps->protect[i], mark_one, 16, FTW_PHYS | FTW_MOUNT);
	walk_ps = NULL;
}

/* The alert for a write to the sensor's files that was denied. */
static void tamper_alert(struct perm_source *ps, const struct note *n)
{
	struct rw_event *ev = sensor__scratch(ps->s);
	char reason[PATH_MAX + 160];
	const char *base = strrchr(n->path, '/');

	rw_event__reset(ev);
	rw_event__set_time(ev, RW_F_TIMESTAMP, rw_clock_ns(CLOCK_REALTIME));
	rw_event__set_cstr(ev, RW_F_EVENT_KIND, "alert");
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, "sensor-file-write-denied");
	rw_event__set_cstr(ev, RW_F_EVENT_CATEGORY, "file");
	rw_event__set_cstr(ev, RW_F_EVENT_TYPE, "denied");
	rw_event__set_cstr(ev, RW_F_EVENT_OUTCOME, "failure");
	rw_event__set_cstr(ev, RW_F_RULE_ID, "ringward-tamper");
	rw_event__set_cstr(ev, RW_F_RULE_NAME, "ringward-tamper");
	rw_event__set_int(ev, RW_F_EVENT_SEVERITY, 4);
	rw_event__set_cstr(ev, RW_F_RW_RULE_LEVEL, "high");
	rw_event__set_cstr(ev, RW_F_FILE_PATH, n->path);
	rw_event__set_cstr(ev, RW_F_FILE_NAME, base ? base + 1 : n->path);
	rw_event__set_int(ev, RW_F_PROC_PID, n->pid);
	rw_event__set_int(ev, RW_F_PROC_TID, n->tid);
	rw_event__set_cstr(ev, RW_F_RW_RESPONSE_ACTION, "block");
	rw_event__set_cstr(ev, RW_F_RW_RESPONSE_RESULT, "denied");
	snprintf(reason, sizeof(reason), "the sensor's file %s was %s by another process: denied",
		 n->path, n->why);
	rw_event__set_cstr(ev, RW_F_EVENT_REASON, reason);
	proc_table__enrich(sensor__procs(ps->s), ev);
	sensor__write(ps->s, ev);
}

void perm_source__refresh(struct perm_source *ps)
{
	uint64_t gen = 0;
	uint32_t fl, mask;

	if (!ps)
		return;
	fl = supervisor__block_flags(ps->sv, &gen);
	mask = (fl & BLOCK_EXEC ? FAN_OPEN_EXEC_PERM : 0) | (fl & BLOCK_OPEN ? FAN_OPEN_PERM : 0);
	pthread_mutex_lock(&ps->lock);
	if (gen != ps->gen || fl != ps->flags) {
		/* new content: verdicts cached under the old one are void */
		ps->gen = gen;
		ps->flags = fl;
		memset(ps->cache, 0, sizeof(ps->cache));
	}
	pthread_mutex_unlock(&ps->lock);
	/* marks are added before requests can need them, removed after */
	set_fs_marks(ps, mask, false);
}

static void on_tick(struct sensor *s, void *ctx)
{
	struct perm_source *ps = ctx;
	uint64_t now = rw_clock_ns(CLOCK_MONOTONIC);
	struct note notes[N_NOTES];
	unsigned n_notes, lost;

	perm_source__refresh(ps);
	pthread_mutex_lock(&ps->lock);
	n_notes = ps->n_notes;
	memcpy(notes, ps->notes, n_notes * sizeof(notes[0]));
	lost = ps->notes_lost;
	ps->n_notes = 0;
	ps->notes_lost = 0;
	pthread_mutex_unlock(&ps->lock);

	if (now >= ps->next_mark_ns) {
		ps->next_mark_ns = now + 2000000000ULL;
		mark_protected(ps);
		set_fs_marks(ps, ps->fs_mask, true);	/* and new mounts */
	}
	for (unsigned i = 0; i < n_notes; i++)
		tamper_alert(ps, &notes[i]);
	if (lost)
		sensor__count(s, RW_C_PERM_OVERFLOW, lost);
	sensor__count_set(s, RW_C_PERM_EVENTS, atomic_load(&ps->pc[PC_EVENTS]));
	sensor__count_set(s, RW_C_PERM_CACHED, atomic_load(&ps->pc[PC_CACHED]));
	sensor__count_set(s, RW_C_PERM_ASKED, atomic_load(&ps->pc[PC_ASKED]));
	sensor__count_set(s, RW_C_PERM_DENIED, atomic_load(&ps->pc[PC_DENIED]));
	sensor__count_set(s, RW_C_PERM_DEADLINE_MISSED, atomic_load(&ps->pc[PC_MISSED]));
	sensor__count_set(s, RW_C_PERM_SELF_DENIED, atomic_load(&ps->pc[PC_SELF_DENIED]));
}

static void add_protect(struct perm_source *ps, const char *p)
{
	char *rp = p ? realpath(p, NULL) : NULL;

	if (!rp)
		return;
	for (int i = 0; i < ps->n_protect; i++)
		if (!strcmp(ps->protect[i], rp)) {
			free(rp);
			return;
		}
	if (ps->n_protect == MAX_PROTECT) {
		free(rp);
		return;
	}
	ps->protect_len[ps->n_protect] = strlen(rp);
	ps->protect[ps->n_protect++] = rp;
}

struct perm_source *perm_source__start(struct sensor *s, struct supervisor *sv,
				       const struct perm_opts *o)
{
	struct perm_source *ps = calloc(1, sizeof(*ps));
	struct stat sb;
	int err = 0;

	if (!ps)
		return NULL;
	ps->s = s;
	ps->sv = sv;
	ps->self = getpid();
	ps->fan_fd = ps->stop_fd = ps->queue_fd = -1;
	ps->deadline_ns = (uint64_t)(o->deadline_ms ? o->deadline_ms : PERM_DEADLINE_MS) * 1000000ULL;
	pthread_mutex_init(&ps->lock, NULL);
	for (int i = 0; i < N_SLOTS; i++) {
		ps->slots[i].fd = -1;
		ps->slots[i].ev = rw_event__new();
		if (!ps->slots[i].ev)
			err = -ENOMEM;
	}
	if (stat("/proc/self/exe", &sb) == 0) {
		ps->exe_dev = sb.st_dev;
		ps->exe_ino = sb.st_ino;
	}
	add_protect(ps, "/proc/self/exe");
	for (int i = 0; i < o->n_protect; i++)
		add_protect(ps, o->protect[i]);
	ps->fan_fd = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_REPORT_TID |
				   FAN_UNLIMITED_QUEUE, O_RDONLY | O_LARGEFILE | O_CLOEXEC);
	ps->stop_fd = eventfd(0, EFD_CLOEXEC);
	ps->queue_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!err && (ps->fan_fd < 0 || ps->stop_fd < 0 || ps->queue_fd < 0))
		err = -errno;
	if (!err)
		err = sensor__watch_fd(s, ps->queue_fd, on_queue, ps);
	if (!err)
		err = sensor__on_tick(s, on_tick, ps);
	if (!err) {
		err = -pthread_create(&ps->thread, NULL, perm_thread, ps);
		ps->thread_up = !err;
	}
	if (err) {
		perm_source__stop(ps);
		errno = -err;
		return NULL;
	}
	mark_protected(ps);
	ps->next_mark_ns = rw_clock_ns(CLOCK_MONOTONIC) + 2000000000ULL;
	on_tick(s, ps);
	return ps;
}

int perm_source__set_supervisor(struct perm_source *ps, struct supervisor *sv)
{
	if (!ps || !sv)
		return 0;
	pthread_mutex_lock(&ps->lock);
	ps->sv = sv;
	pthread_mutex_unlock(&ps->lock);
	return supervisor__reply_fd(sv) >= 0 ?
	       sensor__watch_fd(ps->s, supervisor__reply_fd(sv), on_reply, ps) : 0;
}

void perm_source__stop(struct perm_source *ps)
{
	uint64_t one = 1;

	if (!ps)
		return;
	sensor__forget(ps->s, ps);
	if (ps->thread_up) {
		if (write(ps->stop_fd, &one, sizeof(one)) < 0) {
			/* cannot happen with a counter far from its limit */
		}
		pthread_join(ps->thread, NULL);
	}
	for (int i = 0; i < N_SLOTS; i++) {
		if (ps->slots[i].state != S_FREE && ps->slots[i].fd >= 0)
			respond(ps, ps->slots[i].fd, true);
		free(ps->slots[i].ev);
	}
	/* closing the group allows whatever it still held */
	if (ps->fan_fd >= 0)
		close(ps->fan_fd);
	if (ps->stop_fd >= 0)
		close(ps->stop_fd);
	if (ps->queue_fd >= 0)
		close(ps->queue_fd);
	for (int i = 0; i < ps->n_protect; i++)
		free(ps->protect[i]);
	pthread_mutex_destroy(&ps->lock);
	free(ps);
}
