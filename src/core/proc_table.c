/*
 * The process table (see proc_table.h for the contract).
 *
 * Layout: a chained hash table pid -> entry, and two lists threaded through
 * the entries: `live` in least-recently-used order (head = most recent) and
 * `dead` in exit order (head = oldest exit). Eviction takes dead.head first,
 * then live.tail; expiry walks dead from its head.
 *
 * What a process looked like at its last exec (name, executable, args, cwd,
 * cgroup) is an immutable, reference-counted `image`: fork shares the
 * parent's image with the child (one reference, no copy), exec makes a new
 * one. Images are single allocations with every string bounded, and their
 * bytes count against a byte budget besides the entry cap, so the table's
 * memory is bounded whatever the processes on the host do.
 *
 * Strings from /proc are read with bounded buffers and never trusted to be
 * NUL-terminated.
 */
#include "core/proc_table.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "ringward/abi.h"

#define NSEC_PER_SEC	1000000000ULL
#define PT_GRACE_NS	(5 * NSEC_PER_SEC)	/* exited entries kept this long */
#define PT_PATH_MAX	RW_PATH_MAX		/* exe, cwd */
#define PT_ARGS_MAX	RW_ARGS_MAX		/* NUL-separated argv bytes */
#define PT_CGROUP_MAX	1024
#define PT_NAME_MAX	RW_NAME_MAX
#define PT_CID_LEN	64			/* container id: 64 hex digits */
#define PT_USER_MAX	64			/* user name bytes kept */
#define PT_USERS	256			/* uid -> name cache slots */
#define PT_DEFAULT_BYTE_BUDGET	(12u << 20)
#define CGROUP2_MAGIC	0x63677270

/* ---- images: what a process looked like at its last exec -------------- */

struct pt_image {
	uint32_t refs;
	uint32_t size;		/* bytes of this allocation (budget) */
	uint64_t cgroup_id;	/* 0: unknown */
	uint32_t argc;		/* elements in args */
	uint16_t name_len, exe_len, cwd_len, cg_len, args_len;
	uint8_t has_exe, has_cwd, has_args, has_cg;
	char cid[PT_CID_LEN + 1];	/* "" when not in a container */
	char data[];		/* name, exe, cwd, cgroup path, args: back to back */
};

static const char *img_name(const struct pt_image *im) { return im->data; }
static const char *img_exe(const struct pt_image *im) { return im->data + im->name_len; }
static const char *img_cwd(const struct pt_image *im)
{
	return img_exe(im) + im->exe_len;
}
static const char *img_cg(const struct pt_image *im) { return img_cwd(im) + im->cwd_len; }
static const char *img_args(const struct pt_image *im) { return img_cg(im) + im->cg_len; }

/* The parts an image is built from; pointers are borrowed. has_* = known. */
struct pt_image_src {
	const char *name, *exe, *cwd, *cg, *args;
	size_t name_len, exe_len, cwd_len, cg_len, args_len;
	bool has_exe, has_cwd, has_cg, has_args;
	uint32_t argc;
	uint64_t cgroup_id;
	const char *cid;	/* NULL: derive from the cgroup path */
	size_t cid_len;
};

static size_t cap(size_t n, size_t max)
{
	return n < max ? n : max;
}

static bool is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/*
 * A container id in a cgroup path: a run of exactly 64 lowercase hex digits
 * that is a whole path component or a component's "<runtime>-<id>.scope"
 * part (docker "/docker/<id>", systemd "docker-<id>.scope", containerd
 * "cri-containerd-<id>.scope", cri-o "crio-<id>.scope", kubepods
 * ".../pod<uid>/<id>"). The innermost (last) one wins. Writes "" when none.
 */
static void container_id_from_cgroup(const char *p, size_t n, char out[PT_CID_LEN + 1])
{
	size_t i = 0;

	out[0] = '\0';
	while (i < n) {
		size_t j = i;

		if (!is_lower_hex(p[i])) {
			i++;
			continue;
		}
		while (j < n && is_lower_hex(p[j]))
			j++;
		if (j - i == PT_CID_LEN &&
		    (i == 0 || p[i - 1] == '/' || p[i - 1] == '-' || p[i - 1] == ':') &&
		    (j == n || p[j] == '/' || p[j] == '.')) {
			memcpy(out, p + i, PT_CID_LEN);
			out[PT_CID_LEN] = '\0';
		}
		i = j;
	}
}

/* Build an image; NULL on ENOMEM. Every part is cut to its bound. */
static struct pt_image *image__new(const struct pt_image_src *s)
{
	size_t name_len = cap(s->name_len, PT_NAME_MAX);
	size_t exe_len = s->has_exe ? cap(s->exe_len, PT_PATH_MAX) : 0;
	size_t cwd_len = s->has_cwd ? cap(s->cwd_len, PT_PATH_MAX) : 0;
	size_t cg_len = s->has_cg ? cap(s->cg_len, PT_CGROUP_MAX) : 0;
	size_t args_len = s->has_args ? cap(s->args_len, PT_ARGS_MAX) : 0;
	size_t size = sizeof(struct pt_image) + name_len + exe_len + cwd_len + cg_len + args_len;
	struct pt_image *im = malloc(size);
	char *d;

	if (!im)
		return NULL;
	im->refs = 1;
	im->size = (uint32_t)size;
	im->cgroup_id = s->cgroup_id;
	im->argc = s->argc;
	im->name_len = (uint16_t)name_len;
	im->exe_len = (uint16_t)exe_len;
	im->cwd_len = (uint16_t)cwd_len;
	im->cg_len = (uint16_t)cg_len;
	im->args_len = (uint16_t)args_len;
	im->has_exe = s->has_exe;
	im->has_cwd = s->has_cwd;
	im->has_cg = s->has_cg;
	im->has_args = s->has_args;
	d = im->data;
	if (name_len)
		memcpy(d, s->name, name_len);
	d += name_len;
	if (exe_len)
		memcpy(d, s->exe, exe_len);
	d += exe_len;
	if (cwd_len)
		memcpy(d, s->cwd, cwd_len);
	d += cwd_len;
	if (cg_len)
		memcpy(d, s->cg, cg_len);
	d += cg_len;
	if (args_len)
		memcpy(d, s->args, args_len);
	if (s->cid && s->cid_len) {
		size_t l = cap(s->cid_len, PT_CID_LEN);

		memcpy(im->cid, s->cid, l);
		im->cid[l] = '\0';
	} else if (s->has_cg) {
		container_id_from_cgroup(s->cg, cg_len, im->cid);
	} else {
		im->cid[0] = '\0';
	}
	return im;
}

/* ---- entries and lists ------------------------------------------------- */

enum {
	PT_K_PPID	= 1 << 0,
	PT_K_UID	= 1 << 1,	/* real uid */
	PT_K_EUID	= 1 << 2,
	PT_K_GID	= 1 << 3,
	PT_K_EGID	= 1 << 4,
	PT_K_START	= 1 << 5,
	PT_K_TTY	= 1 << 6,	/* tty_major/minor known (0/0: none) */
	PT_K_SID	= 1 << 7,
};

struct pt_entry {
	struct pt_entry *hnext;		/* hash chain */
	struct pt_entry *prev, *next;	/* live (LRU) or dead (exit order) list */
	struct pt_image *img;		/* NULL: nothing known (a failed /proc read) */
	pid_t pid, ppid, sid;
	uint32_t uid, euid, gid, egid;
	uint32_t tty_major, tty_minor;
	uint32_t known;			/* PT_K_* */
	bool exited;
	uint64_t start_ns, exit_ns;
};

struct pt_list {
	struct pt_entry *head, *tail;
};

struct pt_user {
	uint32_t uid;
	bool used;
	char name[PT_USER_MAX + 1];
};

struct proc_table {
	struct pt_entry **buckets;	/* from calloc() */
	size_t mask;			/* buckets - 1 (a power of two) */
	size_t max_entries, n;
	size_t bytes, byte_budget;	/* entries + images */
	struct pt_list live, dead;
	struct proc_table_stats st;
	char root[256];			/* procfs root used for misses */
	int64_t boot_real_ns;		/* wall-clock time of boot */
	uint64_t tick_ns;		/* one clock tick (stat start times) */
	long hz;
	char cgroup_base[32];		/* cgroup2 mount, "" when none */
	struct pt_user users[PT_USERS];
	size_t n_users;
	char scratch[PT_ARGS_MAX + 1];	/* command line being joined */
};

static void list_unlink(struct pt_list *l, struct pt_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		l->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		l->tail = e->prev;
	e->prev = e->next = NULL;
}

static void list_push_head(struct pt_list *l, struct pt_entry *e)
{
	e->prev = NULL;
	e->next = l->head;
	if (l->head)
		l->head->prev = e;
	else
		l->tail = e;
	l->head = e;
}

static void list_push_tail(struct pt_list *l, struct pt_entry *e)
{
	e->next = NULL;
	e->prev = l->tail;
	if (l->tail)
		l->tail->next = e;
	else
		l->head = e;
	l->tail = e;
}

static struct pt_list *list_of(struct proc_table *pt, struct pt_entry *e)
{
	return e->exited ? &pt->dead : &pt->live;
}

static size_t bucket_of(const struct proc_table *pt, pid_t pid)
{
	return ((uint32_t)pid * 2654435761u) & pt->mask;
}

static struct pt_entry *find(const struct proc_table *pt, pid_t pid)
{
	struct pt_entry *e;

	for (e = pt->buckets[bucket_of(pt, pid)]; e; e = e->hnext)
		if (e->pid == pid)
			return e;
	return NULL;
}

static void image_put(struct proc_table *pt, struct pt_image *im)
{
	if (im && --im->refs == 0) {
		pt->bytes -= im->size;
		free(im);
	}
}

static void image_set(struct proc_table *pt, struct pt_entry *e, struct pt_image *im)
{
	if (im)
		im->refs++;
	image_put(pt, e->img);
	e->img = im;
}

/* Unlink e from the hash and its list and free it. */
static void remove_entry(struct proc_table *pt, struct pt_entry *e)
{
	struct pt_entry **pp = &pt->buckets[bucket_of(pt, e->pid)];

	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	list_unlink(list_of(pt, e), e);
	image_put(pt, e->img);
	pt->bytes -= sizeof(*e);
	pt->n--;
	free(e);
}

/* Evict one entry other than keep: the oldest exited, else the least
 * recently used. Returns false when nothing can go. */
static bool evict_one(struct proc_table *pt, const struct pt_entry *keep)
{
	struct pt_entry *v = pt->dead.head;

	if (v && v == keep)
		v = v->next;
	if (!v) {
		v = pt->live.tail;
		if (v && v == keep)
			v = v->prev;
	}
	if (!v)
		return false;
	remove_entry(pt, v);
	pt->st.evictions++;
	return true;
}

/* Make room for `extra` more bytes (and one more entry when new_entry). */
static void make_room(struct proc_table *pt, const struct pt_entry *keep,
		      size_t extra, bool new_entry)
{
	while ((new_entry && pt->n >= pt->max_entries) ||
	       pt->bytes + extra > pt->byte_budget)
		if (!evict_one(pt, keep))
			break;
}

/* Link a new (unlinked) entry; the caller made room. */
static void insert(struct proc_table *pt, struct pt_entry *e)
{
	size_t b = bucket_of(pt, e->pid);

	e->hnext = pt->buckets[b];
	pt->buckets[b] = e;
	if (e->exited)
		list_push_tail(&pt->dead, e);
	else
		list_push_head(&pt->live, e);
	pt->bytes += sizeof(*e);
	pt->n++;
}

/* A use: a live entry moves to the head of the LRU list. */
static void touch(struct proc_table *pt, struct pt_entry *e)
{
	if (!e->exited && pt->live.head != e) {
		list_unlink(&pt->live, e);
		list_push_head(&pt->live, e);
	}
}

static struct pt_entry *entry__new(pid_t pid)
{
	struct pt_entry *e = calloc(1, sizeof(*e));

	if (e)
		e->pid = pid;
	return e;
}

/* ---- construction ------------------------------------------------------ */

static void find_cgroup2(struct proc_table *pt)
{
	static const char *const bases[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };
	struct statfs sfs;

	pt->cgroup_base[0] = '\0';
	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++)
		if (statfs(bases[i], &sfs) == 0 && sfs.f_type == CGROUP2_MAGIC) {
			snprintf(pt->cgroup_base, sizeof(pt->cgroup_base), "%s", bases[i]);
			return;
		}
}

struct proc_table *proc_table__new(size_t max_entries)
{
	struct proc_table *pt = NULL;
	size_t nb = 64;

	if (max_entries == 0) {
		errno = EINVAL;
		return NULL;
	}
	pt = calloc(1, sizeof(*pt));
	if (!pt)
		return NULL;
	while (nb < max_entries && nb < (1u << 20))
		nb <<= 1;
	pt->buckets = calloc(nb, sizeof(*pt->buckets));
	if (!pt->buckets) {
		free(pt);
		return NULL;
	}
	pt->mask = nb - 1;
	pt->max_entries = max_entries;
	pt->byte_budget = PT_DEFAULT_BYTE_BUDGET;
	snprintf(pt->root, sizeof(pt->root), "/proc");
	pt->hz = sysconf(_SC_CLK_TCK);
	if (pt->hz <= 0)
		pt->hz = 100;
	pt->tick_ns = NSEC_PER_SEC / (uint64_t)pt->hz;
	/* realtime - boottime: the same base the sensor uses for kernel stamps */
	pt->boot_real_ns = (int64_t)rw_clock_ns(CLOCK_REALTIME) - (int64_t)rw_clock_ns(CLOCK_BOOTTIME);
	find_cgroup2(pt);
	return pt;
}

void proc_table__free(struct proc_table *pt)
{
	if (!pt)
		return;
	while (pt->live.head)
		remove_entry(pt, pt->live.head);
	while (pt->dead.head)
		remove_entry(pt, pt->dead.head);
	free(pt->buckets);
	free(pt);
}

void proc_table__set_boot_time(struct proc_table *pt, int64_t boot_real_ns)
{
	pt->boot_real_ns = boot_real_ns;
}

void proc_table__set_byte_budget(struct proc_table *pt, size_t bytes)
{
	pt->byte_budget = bytes;
	make_room(pt, NULL, 0, false);
}

/* ---- reading /proc/<pid> ------------------------------------------------ */

/* Read up to cap-1 bytes of dirfd/name into buf (NUL-terminated for the
 * parsers' convenience; the length is returned). -errno on failure. */
static ssize_t read_small(int dirfd, const char *name, char *buf, size_t cap_)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	size_t off = 0;
	ssize_t n = 0;

	if (fd < 0)
		return -errno;
	while (off < cap_ - 1) {
		n = read(fd, buf + off, cap_ - 1 - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (n < 0)
		n = -errno;
	close(fd);
	buf[off] = '\0';
	return n < 0 ? n : (ssize_t)off;
}

struct pt_stat {
	pid_t ppid, sid;
	uint32_t tty_major, tty_minor;
	uint64_t start_ticks;
	char comm[64];
	size_t comm_len;
};

/* /proc/<pid>/stat: "pid (comm) state ppid pgrp session tty_nr ... starttime"
 * (proc(5)); comm may hold spaces and ')', so parse from the last ')'. */
static int parse_stat(const char *buf, size_t len, struct pt_stat *st)
{
	const char *open = memchr(buf, '(', len);
	const char *close = memrchr(buf, ')', len);
	const char *p;
	unsigned long long v[20];
	char *end;
	int i;

	if (!open || !close || close < open)
		return -EINVAL;
	st->comm_len = cap((size_t)(close - open - 1), sizeof(st->comm));
	memcpy(st->comm, open + 1, st->comm_len);
	p = close + 1;
	/* fields 3..22: state, then 19 numbers */
	while (*p == ' ')
		p++;
	if (!*p)
		return -EINVAL;
	p++;	/* state */
	for (i = 1; i < 20; i++) {
		errno = 0;
		v[i] = strtoull(p, &end, 10);
		if (end == p)
			return -EINVAL;
		p = end;
	}
	st->ppid = (pid_t)v[1];
	st->sid = (pid_t)v[3];
	/* tty_nr: minor in bits 0-7 and 20-31, major in bits 8-19 */
	st->tty_major = (uint32_t)((v[4] >> 8) & 0xfff);
	st->tty_minor = (uint32_t)((v[4] & 0xff) | ((v[4] >> 12) & 0xfff00));
	st->start_ticks = v[19];
	return 0;
}

/* "Uid:\treal\teffective\tsaved\tfs" style line of /proc/<pid>/status */
static bool status_ids(const char *buf, const char *key, uint32_t *real, uint32_t *eff)
{
	const char *p = buf;
	unsigned long r, e;
	char *end;

	/* the key at the start of a line ("Gid:" is also inside "Tgid:") */
	while ((p = strstr(p, key)) && p != buf && p[-1] != '\n')
		p++;
	if (!p)
		return false;
	p += strlen(key);
	r = strtoul(p, &end, 10);
	if (end == p)
		return false;
	p = end;
	e = strtoul(p, &end, 10);
	if (end == p)
		return false;
	*real = (uint32_t)r;
	*eff = (uint32_t)e;
	return true;
}

static uint64_t ticks_to_ns(const struct proc_table *pt, uint64_t ticks)
{
	uint64_t hz = (uint64_t)pt->hz;

	return ticks / hz * NSEC_PER_SEC + ticks % hz * NSEC_PER_SEC / hz;
}

/* The cgroup path of a process: the cgroup2 line ("0::/path") when there is
 * one, else the first line's path. Returns its length, 0 when none. */
static size_t cgroup_path(char *buf, size_t len, const char **path)
{
	const char *line = buf, *end = buf + len;
	const char *chosen = NULL, *chosen_end = NULL;

	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *le = nl ? nl : end;
		const char *c1 = memchr(line, ':', (size_t)(le - line));
		const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(le - c1 - 1)) : NULL;

		if (c2) {
			bool v2 = c1 - line == 1 && line[0] == '0' && c2 == c1 + 1;

			if (!chosen || v2) {
				chosen = c2 + 1;
				chosen_end = le;
			}
			if (v2)
				break;
		}
		line = le + 1;
	}
	if (!chosen)
		return 0;
	*path = chosen;
	return (size_t)(chosen_end - chosen);
}

static uint64_t cgroup_id_of(const struct proc_table *pt, const char *path, size_t len)
{
	char full[PT_CGROUP_MAX + 64];
	struct stat sb;

	if (!pt->cgroup_base[0] || len == 0 || len > PT_CGROUP_MAX || path[0] != '/')
		return 0;
	snprintf(full, sizeof(full), "%s%.*s", pt->cgroup_base, (int)len, path);
	if (stat(full, &sb) != 0)
		return 0;
	return (uint64_t)sb.st_ino;
}

static const char *base_name(const char *p, size_t len, size_t *blen)
{
	const char *s = memrchr(p, '/', len);

	s = s ? s + 1 : p;
	*blen = (size_t)(p + len - s);
	return s;
}

/* Count the elements of NUL-separated args (a last element without its
 * NUL, cut by a bound, still counts). */
static uint32_t count_args(const char *a, size_t len)
{
	uint32_t n = 0;

	for (size_t i = 0; i < len; i++)
		if (a[i] == '\0')
			n++;
	if (len && a[len - 1] != '\0')
		n++;
	return n;
}

/*
 * Read one process from <root>/<pid>. Returns a new unlinked entry, or NULL
 * when the process is gone (or ENOMEM). Work: one opendir and six small
 * reads, each bounded.
 */
static struct pt_entry *read_proc(struct proc_table *pt, int rootfd, pid_t pid)
{
	char name[16], statb[1024], status[4096], cg[PT_CGROUP_MAX + 256];
	char exe[PT_PATH_MAX], cwd[PT_PATH_MAX], args[PT_ARGS_MAX + 1];
	struct pt_image_src src = { 0 };
	struct pt_stat st = { 0 };
	struct pt_image *im = NULL;
	struct pt_entry *e = NULL;
	uint32_t r, ef;
	ssize_t n;
	int dfd;

	pt->st.proc_reads++;
	snprintf(name, sizeof(name), "%d", (int)pid);
	dfd = openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return NULL;
	n = read_small(dfd, "stat", statb, sizeof(statb));
	if (n <= 0 || parse_stat(statb, (size_t)n, &st) < 0)
		goto cleanup;
	e = entry__new(pid);
	if (!e)
		goto cleanup;
	e->ppid = st.ppid;
	e->sid = st.sid;
	e->tty_major = st.tty_major;
	e->tty_minor = st.tty_minor;
	e->start_ns = (uint64_t)(pt->boot_real_ns + (int64_t)ticks_to_ns(pt, st.start_ticks));
	e->known = PT_K_PPID | PT_K_SID | PT_K_TTY | PT_K_START;

	n = read_small(dfd, "status", status, sizeof(status));
	if (n > 0) {
		if (status_ids(status, "Uid:", &r, &ef)) {
			e->uid = r;
			e->euid = ef;
			e->known |= PT_K_UID | PT_K_EUID;
		}
		if (status_ids(status, "Gid:", &r, &ef)) {
			e->gid = r;
			e->egid = ef;
			e->known |= PT_K_GID | PT_K_EGID;
		}
	}

	n = readlinkat(dfd, "exe", exe, sizeof(exe));
	if (n > 0) {
		src.exe = exe;
		src.exe_len = (size_t)n;
		src.has_exe = true;
	}
	n = readlinkat(dfd, "cwd", cwd, sizeof(cwd));
	if (n > 0) {
		src.cwd = cwd;
		src.cwd_len = (size_t)n;
		src.has_cwd = true;
	}
	n = read_small(dfd, "cmdline", args, sizeof(args));
	/* a process that rewrote its title may leave NUL padding after it:
	 * one terminator is the end, not a row of empty arguments */
	while (n >= 2 && args[n - 1] == '\0' && args[n - 2] == '\0')
		n--;
	if (n > 0) {
		src.args = args;
		src.args_len = (size_t)n;
		src.has_args = true;
		src.argc = count_args(args, (size_t)n);
	}
	n = read_small(dfd, "cgroup", cg, sizeof(cg));
	if (n > 0) {
		src.cg_len = cgroup_path(cg, (size_t)n, &src.cg);
		src.has_cg = src.cg_len > 0;
		if (src.has_cg && strcmp(pt->root, "/proc") == 0)
			src.cgroup_id = cgroup_id_of(pt, src.cg, src.cg_len);
	}
	/* ECS process.name: the executable's base name; the kernel's comm
	 * (cut to 15 bytes) only for kernel threads, which have no exe */
	if (src.has_exe)
		src.name = base_name(exe, src.exe_len, &src.name_len);
	else {
		src.name = st.comm;
		src.name_len = st.comm_len;
	}
	im = image__new(&src);
	if (!im) {
		free(e);
		e = NULL;
		goto cleanup;
	}
	e->img = im;
	pt->bytes += im->size;
cleanup:
	close(dfd);
	return e;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

int proc_table__scan(struct proc_table *pt, const char *proc_root)
{
	struct dirent *de;
	DIR *d;
	int rootfd, err = 0;

	if (strlen(proc_root) >= sizeof(pt->root))
		return -ENAMETOOLONG;
	snprintf(pt->root, sizeof(pt->root), "%s", proc_root);
	d = opendir(proc_root);
	if (!d)
		return -errno;
	rootfd = dirfd(d);
	while ((de = readdir(d))) {
		struct pt_entry *e, *old;
		long pid;

		if (!all_digits(de->d_name))
			continue;
		pid = strtol(de->d_name, NULL, 10);
		if (pid <= 0 || pid > 0x7fffffff)
			continue;
		e = read_proc(pt, rootfd, (pid_t)pid);
		if (!e)
			continue;	/* gone since readdir, or not a process dir */
		old = find(pt, e->pid);
		if (old)
			remove_entry(pt, old);
		make_room(pt, NULL, 0, true);
		insert(pt, e);
	}
	closedir(d);
	return err;
}

/* Look pid up; on a miss read /proc/<pid> once. A process that cannot be
 * read gets an empty entry, marked exited, so that its further events do
 * not read /proc again until it expires. */
static struct pt_entry *lookup_or_read(struct proc_table *pt, pid_t pid)
{
	struct pt_entry *e = find(pt, pid);
	int rootfd;

	if (e) {
		touch(pt, e);
		return e;
	}
	pt->st.misses++;
	rootfd = open(pt->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd >= 0) {
		e = read_proc(pt, rootfd, pid);
		close(rootfd);
	}
	if (!e) {
		e = entry__new(pid);
		if (!e)
			return NULL;
		e->exited = true;
		e->exit_ns = rw_clock_ns(CLOCK_REALTIME);
	}
	make_room(pt, NULL, 0, true);
	insert(pt, e);
	return e;
}

/* ---- updates from events ------------------------------------------------ */

static bool parse_u32(const char *s, size_t len, uint32_t *out)
{
	uint64_t v = 0;

	if (!s || len == 0 || len > 10)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

static bool ev_u32(const struct rw_event *ev, enum rw_field f, uint32_t *out)
{
	size_t len = 0;
	const char *s = rw_event__str(ev, f, &len);

	return s && parse_u32(s, len, out);
}

/* Join the elements of a STRV field NUL-separated into buf; returns bytes
 * used (bounded by cap_), the element count in *argc. */
static size_t strv_join(const struct rw_event *ev, enum rw_field f, char *buf,
			size_t cap_, uint32_t *argc)
{
	uint32_t pos = 0;
	size_t len, off = 0;
	const char *s;

	*argc = 0;
	while ((s = rw_event__strv_next(ev, f, &pos, &len))) {
		size_t room = cap_ - off;

		(*argc)++;
		if (room == 0)
			continue;
		len = cap(len, room);
		memcpy(buf + off, s, len);
		off += len;
		if (off < cap_)
			buf[off++] = '\0';
	}
	return off;
}

void proc_table__exec(struct proc_table *pt, const struct rw_event *ev)
{
	pid_t pid = (pid_t)rw_event__int(ev, RW_F_PROC_PID, 0);
	struct pt_image_src src = { 0 };
	const struct pt_image *old;
	struct pt_image *im;
	struct pt_entry *e;
	char args[PT_ARGS_MAX];
	bool is_new = false;
	uint32_t v;

	if (pid <= 0)
		return;
	e = find(pt, pid);
	if (!e) {
		e = entry__new(pid);
		if (!e)
			return;
		is_new = true;
	}
	old = e->img;

	src.exe = rw_event__str(ev, RW_F_PROC_EXECUTABLE, &src.exe_len);
	src.has_exe = src.exe != NULL;
	if (rw_event__has(ev, RW_F_PROC_ARGS)) {
		src.args_len = strv_join(ev, RW_F_PROC_ARGS, args, sizeof(args), &src.argc);
		src.args = args;
		src.has_args = true;
	}
	src.name = rw_event__str(ev, RW_F_PROC_NAME, &src.name_len);
	if (!src.name && src.exe)
		src.name = base_name(src.exe, src.exe_len, &src.name_len);
	/* exec changes neither the working directory nor the cgroup: keep
	 * what the table knew when the event does not say */
	src.cwd = rw_event__str(ev, RW_F_PROC_CWD, &src.cwd_len);
	src.has_cwd = src.cwd != NULL;
	if (!src.has_cwd && old && old->has_cwd) {
		src.cwd = img_cwd(old);
		src.cwd_len = old->cwd_len;
		src.has_cwd = true;
	}
	src.cg = rw_event__str(ev, RW_F_RW_CGROUP_PATH, &src.cg_len);
	src.has_cg = src.cg != NULL;
	src.cgroup_id = (uint64_t)rw_event__int(ev, RW_F_RW_CGROUP_ID, 0);
	src.cid = rw_event__str(ev, RW_F_CONTAINER_ID, &src.cid_len);
	if (!src.has_cg && old && old->has_cg &&
	    (!src.cgroup_id || src.cgroup_id == old->cgroup_id)) {
		src.cg = img_cg(old);
		src.cg_len = old->cg_len;
		src.has_cg = true;
		if (!src.cgroup_id)
			src.cgroup_id = old->cgroup_id;
		if (!src.cid) {
			src.cid = old->cid;
			src.cid_len = strlen(old->cid);
		}
	}

	im = image__new(&src);
	if (!im) {
		if (is_new)
			free(e);
		return;
	}
	pt->bytes += im->size;
	image_set(pt, e, im);
	im->refs--;	/* image_set took the entry's reference */

	if (rw_event__has(ev, RW_F_PARENT_PID)) {
		e->ppid = (pid_t)rw_event__int(ev, RW_F_PARENT_PID, 0);
		e->known |= PT_K_PPID;
	}
	if (rw_event__has(ev, RW_F_PROC_START)) {
		e->start_ns = (uint64_t)rw_event__int(ev, RW_F_PROC_START, 0);
		e->known |= PT_K_START;
	}
	if (ev_u32(ev, RW_F_PROC_RUID, &v)) {
		e->uid = v;
		e->known |= PT_K_UID;
	}
	if (ev_u32(ev, RW_F_PROC_UID, &v)) {
		e->euid = v;
		e->known |= PT_K_EUID;
	}
	if (ev_u32(ev, RW_F_PROC_RGID, &v)) {
		e->gid = v;
		e->known |= PT_K_GID;
	}
	if (ev_u32(ev, RW_F_PROC_GID, &v)) {
		e->egid = v;
		e->known |= PT_K_EGID;
	}
	if (rw_event__has(ev, RW_F_PROC_TTY_MAJOR) || rw_event__has(ev, RW_F_PROC_INTERACTIVE)) {
		e->tty_major = (uint32_t)rw_event__int(ev, RW_F_PROC_TTY_MAJOR, 0);
		e->tty_minor = (uint32_t)rw_event__int(ev, RW_F_PROC_TTY_MINOR, 0);
		e->known |= PT_K_TTY;
	}
	if (rw_event__has(ev, RW_F_PROC_SID)) {
		e->sid = (pid_t)rw_event__int(ev, RW_F_PROC_SID, 0);
		e->known |= PT_K_SID;
	}

	if (is_new) {
		make_room(pt, NULL, 0, true);
		insert(pt, e);
	} else {
		if (e->exited) {
			/* an exec after the exit: the pid was reused */
			list_unlink(&pt->dead, e);
			e->exited = false;
			e->exit_ns = 0;
			list_push_head(&pt->live, e);
		}
		touch(pt, e);
		make_room(pt, e, 0, false);
	}
}

void proc_table__fork(struct proc_table *pt, pid_t parent, pid_t child, uint64_t ts_ns)
{
	struct pt_entry *p = NULL, *c;

	if (child <= 0 || child == parent)
		return;
	if (parent > 0)
		p = lookup_or_read(pt, parent);
	c = find(pt, child);
	if (c && !c->exited) {
		/* The child's own events (read from /proc on a miss) can come
		 * before its fork record, from another source: keep what was
		 * read then, it is newer than the parent's copy. */
		if (!ts_ns || !(c->known & PT_K_START) || c->start_ns + pt->tick_ns >= ts_ns) {
			if (!(c->known & PT_K_PPID) && parent > 0) {
				c->ppid = parent;
				c->known |= PT_K_PPID;
			}
			touch(pt, c);
			return;
		}
	}
	if (c)
		remove_entry(pt, c);	/* an older process with this pid */
	c = entry__new(child);
	if (!c)
		return;
	if (p) {
		c->uid = p->uid;
		c->euid = p->euid;
		c->gid = p->gid;
		c->egid = p->egid;
		c->sid = p->sid;
		c->tty_major = p->tty_major;
		c->tty_minor = p->tty_minor;
		c->known = p->known & (PT_K_UID | PT_K_EUID | PT_K_GID | PT_K_EGID |
				       PT_K_SID | PT_K_TTY);
		image_set(pt, c, p->img);	/* shared until the child execs */
	}
	if (parent > 0) {
		c->ppid = parent;
		c->known |= PT_K_PPID;
	}
	if (ts_ns) {
		c->start_ns = ts_ns;
		c->known |= PT_K_START;
	}
	make_room(pt, NULL, 0, true);
	insert(pt, c);
}

void proc_table__exit(struct proc_table *pt, pid_t pid, uint64_t ts_ns)
{
	struct pt_entry *e = pid > 0 ? find(pt, pid) : NULL;

	if (!e || e->exited)
		return;
	list_unlink(&pt->live, e);
	e->exited = true;
	e->exit_ns = ts_ns ? ts_ns : rw_clock_ns(CLOCK_REALTIME);
	list_push_tail(&pt->dead, e);
}

void proc_table__expire(struct proc_table *pt, uint64_t now_ns)
{
	/* the dead list is in exit order: stop at the first one still young */
	while (pt->dead.head && pt->dead.head->exit_ns + PT_GRACE_NS <= now_ns)
		remove_entry(pt, pt->dead.head);
}

/* ---- enrichment --------------------------------------------------------- */

const char *proc_table__user_name(struct proc_table *pt, uint32_t uid)
{
	size_t i = (uid * 2654435761u) % PT_USERS;
	struct passwd pw, *res = NULL;
	char stackbuf[4096], *buf = stackbuf, *heap = NULL;
	size_t bufsz = sizeof(stackbuf);
	struct pt_user *u;
	int rc;

	for (size_t k = 0; k < PT_USERS; k++, i = (i + 1) % PT_USERS) {
		if (!pt->users[i].used)
			break;
		if (pt->users[i].uid == uid)
			return pt->users[i].name;
	}
	if (pt->n_users >= PT_USERS * 3 / 4) {
		/* bounded: start over rather than grow */
		memset(pt->users, 0, sizeof(pt->users));
		pt->n_users = 0;
		i = (uid * 2654435761u) % PT_USERS;
	}
	while ((rc = getpwuid_r(uid, &pw, buf, bufsz, &res)) == ERANGE && bufsz < 65536) {
		char *nb;

		bufsz *= 2;
		nb = realloc(heap, bufsz);
		if (!nb)
			break;
		heap = buf = nb;
	}
	u = &pt->users[i];
	u->used = true;
	u->uid = uid;
	u->name[0] = '\0';
	/* unknown uids are cached as "" too, so NSS is asked once */
	if (rc == 0 && res && res->pw_name)
		snprintf(u->name, sizeof(u->name), "%s", res->pw_name);
	pt->n_users++;
	free(heap);
	return u->name;
}

static void set_id(struct rw_event *ev, enum rw_field f, uint32_t v)
{
	char b[12];
	int n = snprintf(b, sizeof(b), "%u", v);

	rw_event__set_str(ev, f, b, (size_t)n);
}

static bool lacks(const struct rw_event *ev, enum rw_field f)
{
	return !rw_event__has(ev, f);
}

/* Join NUL-separated args with spaces into pt->scratch; returns length. */
static size_t join_args(struct proc_table *pt, const char *a, size_t len)
{
	size_t n = cap(len, PT_ARGS_MAX);

	memcpy(pt->scratch, a, n);
	if (n && pt->scratch[n - 1] == '\0')
		n--;	/* the last argument's terminator */
	for (size_t i = 0; i < n; i++)
		if (pt->scratch[i] == '\0')
			pt->scratch[i] = ' ';
	return n;
}

static void add_args(struct rw_event *ev, enum rw_field f, const char *a, size_t len)
{
	size_t i = 0;

	while (i < len) {
		const char *z = memchr(a + i, '\0', len - i);
		size_t l = z ? (size_t)(z - (a + i)) : len - i;

		if (rw_event__add_strv(ev, f, a + i, l) < 0)
			break;
		i += l + 1;
	}
	ev->strv_open = -1;	/* the list is complete */
}

static void fill_image(struct proc_table *pt, struct rw_event *ev, const struct pt_image *im)
{
	if (im->name_len && lacks(ev, RW_F_PROC_NAME))
		rw_event__set_str(ev, RW_F_PROC_NAME, img_name(im), im->name_len);
	if (im->has_exe && lacks(ev, RW_F_PROC_EXECUTABLE))
		rw_event__set_str(ev, RW_F_PROC_EXECUTABLE, img_exe(im), im->exe_len);
	if (im->has_args && im->argc) {
		if (lacks(ev, RW_F_PROC_ARGS))
			add_args(ev, RW_F_PROC_ARGS, img_args(im), im->args_len);
		if (lacks(ev, RW_F_PROC_ARGS_COUNT))
			rw_event__set_int(ev, RW_F_PROC_ARGS_COUNT, im->argc);
		if (lacks(ev, RW_F_PROC_COMMAND_LINE))
			rw_event__set_str(ev, RW_F_PROC_COMMAND_LINE, pt->scratch,
					  join_args(pt, img_args(im), im->args_len));
	}
	if (im->has_cwd && lacks(ev, RW_F_PROC_CWD))
		rw_event__set_str(ev, RW_F_PROC_CWD, img_cwd(im), im->cwd_len);
	if (im->cid[0] && lacks(ev, RW_F_CONTAINER_ID))
		rw_event__set_cstr(ev, RW_F_CONTAINER_ID, im->cid);
	if (im->cgroup_id && lacks(ev, RW_F_RW_CGROUP_ID))
		rw_event__set_int(ev, RW_F_RW_CGROUP_ID, (int64_t)im->cgroup_id);
	if (im->has_cg && lacks(ev, RW_F_RW_CGROUP_PATH))
		rw_event__set_str(ev, RW_F_RW_CGROUP_PATH, img_cg(im), im->cg_len);
}

static void fill_process(struct proc_table *pt, struct rw_event *ev, const struct pt_entry *e)
{
	if (e->img)
		fill_image(pt, ev, e->img);
	if ((e->known & PT_K_START) && lacks(ev, RW_F_PROC_START))
		rw_event__set_time(ev, RW_F_PROC_START, e->start_ns);
	if (e->known & PT_K_TTY) {
		if (lacks(ev, RW_F_PROC_INTERACTIVE))
			rw_event__set_bool(ev, RW_F_PROC_INTERACTIVE, e->tty_major != 0);
		if (e->tty_major && lacks(ev, RW_F_PROC_TTY_MAJOR) && lacks(ev, RW_F_PROC_TTY_MINOR)) {
			rw_event__set_int(ev, RW_F_PROC_TTY_MAJOR, e->tty_major);
			rw_event__set_int(ev, RW_F_PROC_TTY_MINOR, e->tty_minor);
		}
	}
	if ((e->known & PT_K_SID) && e->sid >= 0 && lacks(ev, RW_F_PROC_SID))
		rw_event__set_int(ev, RW_F_PROC_SID, e->sid);
	if ((e->known & PT_K_EUID) && lacks(ev, RW_F_PROC_UID))
		set_id(ev, RW_F_PROC_UID, e->euid);
	if ((e->known & PT_K_UID) && lacks(ev, RW_F_PROC_RUID))
		set_id(ev, RW_F_PROC_RUID, e->uid);
	if ((e->known & PT_K_EGID) && lacks(ev, RW_F_PROC_GID))
		set_id(ev, RW_F_PROC_GID, e->egid);
	if ((e->known & PT_K_GID) && lacks(ev, RW_F_PROC_RGID))
		set_id(ev, RW_F_PROC_RGID, e->gid);
}

/* user.* and process.user.name from the event's own process.user.id (set
 * by the source or just above from the table). */
static void fill_user(struct proc_table *pt, struct rw_event *ev)
{
	size_t len = 0;
	const char *id = rw_event__str(ev, RW_F_PROC_UID, &len);
	const char *name;
	uint32_t uid;

	if (!id)
		return;
	if (lacks(ev, RW_F_USER_ID))
		rw_event__set_str(ev, RW_F_USER_ID, id, len);
	if (!parse_u32(id, len, &uid) || (!lacks(ev, RW_F_PROC_USER) && !lacks(ev, RW_F_USER_NAME)))
		return;
	name = proc_table__user_name(pt, uid);
	if (!name[0])
		return;
	if (lacks(ev, RW_F_PROC_USER))
		rw_event__set_cstr(ev, RW_F_PROC_USER, name);
	if (lacks(ev, RW_F_USER_NAME))
		rw_event__set_cstr(ev, RW_F_USER_NAME, name);
}

static void fill_parent(struct proc_table *pt, struct rw_event *ev, const struct pt_entry *p)
{
	const struct pt_image *im = p->img;

	if (!im)
		return;
	if (im->name_len && lacks(ev, RW_F_PARENT_NAME))
		rw_event__set_str(ev, RW_F_PARENT_NAME, img_name(im), im->name_len);
	if (im->has_exe && lacks(ev, RW_F_PARENT_EXECUTABLE))
		rw_event__set_str(ev, RW_F_PARENT_EXECUTABLE, img_exe(im), im->exe_len);
	if (im->has_args && im->argc && lacks(ev, RW_F_PARENT_COMMAND_LINE))
		rw_event__set_str(ev, RW_F_PARENT_COMMAND_LINE, pt->scratch,
				  join_args(pt, img_args(im), im->args_len));
}

void proc_table__enrich(struct proc_table *pt, struct rw_event *ev)
{
	pid_t pid = (pid_t)rw_event__int(ev, RW_F_PROC_PID, 0);
	struct pt_entry *e, *p;
	pid_t ppid = 0;

	if (pid <= 0)
		return;
	e = lookup_or_read(pt, pid);
	if (e) {
		fill_process(pt, ev, e);
		if (e->known & PT_K_PPID)
			ppid = e->ppid;
	}
	fill_user(pt, ev);
	/* e is not used below: the parent's lookup may evict it */
	if (rw_event__has(ev, RW_F_PARENT_PID))
		ppid = (pid_t)rw_event__int(ev, RW_F_PARENT_PID, 0);
	else if (ppid > 0)
		rw_event__set_int(ev, RW_F_PARENT_PID, ppid);
	if (ppid <= 0)
		return;
	p = lookup_or_read(pt, ppid);
	if (p)
		fill_parent(pt, ev, p);
}

void proc_table__enrich_target(struct proc_table *pt, struct rw_event *ev)
{
	pid_t pid = (pid_t)rw_event__int(ev, RW_F_RW_TARGET_PID, 0);
	struct pt_entry *e;

	if (pid <= 0)
		return;
	e = lookup_or_read(pt, pid);
	if (!e || !e->img)
		return;
	if (e->img->name_len && lacks(ev, RW_F_RW_TARGET_NAME))
		rw_event__set_str(ev, RW_F_RW_TARGET_NAME, img_name(e->img), e->img->name_len);
	if (e->img->has_exe && lacks(ev, RW_F_RW_TARGET_EXE))
		rw_event__set_str(ev, RW_F_RW_TARGET_EXE, img_exe(e->img), e->img->exe_len);
}

void proc_table__stats(const struct proc_table *pt, struct proc_table_stats *st)
{
	*st = pt->st;
	st->entries = pt->n;
	st->bytes = pt->bytes;
}

bool proc_table__known(const struct proc_table *pt, pid_t pid)
{
	return find(pt, pid) != NULL;
}
