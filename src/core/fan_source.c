/*
 * Files and named pipes from fanotify. See fan_source.h for the contract.
 *
 * Shape of one drain (every 5 ms tick): read the group's fd until EAGAIN;
 * for each event parse its info records (directory handle + name, the
 * target's own handle, or both names of a rename), turn the directory
 * handle into a path (cache, else open_by_handle_at on that filesystem +
 * readlink of /proc/self/fd/N), and emit one event per reported action.
 * Mount fds are opened only for the length of a drain, so the sensor never
 * keeps a filesystem busy (umount, container teardown).
 */
#include "core/fan_source.h"
#include "common/clock.h"
#include "core/mounts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "core/fan_flags.h"
#include "core/sensor.h"

#ifndef FAN_EVENT_INFO_TYPE_OLD_DFID_NAME
#define FAN_EVENT_INFO_TYPE_OLD_DFID_NAME	10	/* Linux 5.17 */
#define FAN_EVENT_INFO_TYPE_NEW_DFID_NAME	12
#endif

#define FAN_BUF_SZ	(64 * 1024)
#define FAN_READS_MAX	64	/* per tick; what is left waits in the kernel queue */
#define DELETED_MAX	4096	/* deletes remembered within one read */
#define FAN_MAX_FS	256
#define DCACHE_MAX	8192	/* directory handle -> path */
#define FIFO_MAX	4096	/* FIFOs with an inode mark */
#define PENDING_MAX	256	/* FIFO opens waiting for their close */
#define PENDING_NS	1000000000ULL
#define SCAN_DEPTH	4
#define SCAN_BUDGET	20000	/* directory entries looked at by the start scan */
#define PROC_FDS_MAX	4096	/* fds of one process looked at for a FIFO open */
#define GONE_MAX	256	/* deleted directories forgotten at the end of a drain */
#define KEY_MAX		(8 + 4 + MAX_HANDLE_SZ)
#define PATH_CAP	(PATH_MAX + NAME_MAX + 2)

#define FIFO_MASK	(FAN_OPEN | FAN_CLOSE_WRITE | FAN_CLOSE_NOWRITE)
#define FIFO_HOOK	"fanotify:fifo-inode-marks"
#define COMPAT_HOOK	"fanotify:pre-5.17-moved-pairs"

/* ---- a small hash map with LRU order ------------------------------------ */

struct hent {
	struct hent *hnext;		/* bucket chain */
	struct hent *prev, *next;	/* most recently used first */
	uint64_t hash;
	void *val;			/* from malloc(); freed with the entry */
	uint16_t klen;
	uint8_t key[];
};

struct hmap {
	struct hent **b;
	size_t mask, n, max;
	struct hent *head, *tail;
};

static int hmap_init(struct hmap *m, size_t max)
{
	size_t nb = 16;

	while (nb < 2 * max)
		nb <<= 1;
	m->b = calloc(nb, sizeof(*m->b));
	if (!m->b)
		return -ENOMEM;
	m->mask = nb - 1;
	m->max = max;
	m->n = 0;
	m->head = m->tail = NULL;
	return 0;
}

static uint64_t hash_bytes(const uint8_t *k, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a: keys come from the kernel */

	for (size_t i = 0; i < n; i++)
		h = (h ^ k[i]) * 0x100000001b3ULL;
	return h;
}

static void lru_unlink(struct hmap *m, struct hent *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		m->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		m->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push(struct hmap *m, struct hent *e)
{
	e->prev = NULL;
	e->next = m->head;
	if (m->head)
		m->head->prev = e;
	m->head = e;
	if (!m->tail)
		m->tail = e;
}

static struct hent *hmap_get(struct hmap *m, const uint8_t *k, size_t n)
{
	uint64_t h = hash_bytes(k, n);

	for (struct hent *e = m->b[h & m->mask]; e; e = e->hnext)
		if (e->hash == h && e->klen == n && memcmp(e->key, k, n) == 0) {
			lru_unlink(m, e);
			lru_push(m, e);
			return e;
		}
	return NULL;
}

static void hmap_del(struct hmap *m, struct hent *e)
{
	struct hent **pp = &m->b[e->hash & m->mask];

	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	lru_unlink(m, e);
	free(e->val);
	free(e);
	m->n--;
}

/* Insert or replace; takes val (freed here on failure). When full, the
 * least recently used entry goes if evict, else -ENOSPC. */
static int hmap_put(struct hmap *m, const uint8_t *k, size_t n, void *val, bool evict)
{
	struct hent *e = hmap_get(m, k, n);

	if (e) {
		free(e->val);
		e->val = val;
		return 0;
	}
	if (m->n == m->max) {
		if (!evict || !m->tail) {
			free(val);
			return -ENOSPC;
		}
		hmap_del(m, m->tail);
	}
	e = malloc(sizeof(*e) + n);
	if (!e) {
		free(val);
		return -ENOMEM;
	}
	e->hash = hash_bytes(k, n);
	e->klen = (uint16_t)n;
	memcpy(e->key, k, n);
	e->val = val;
	e->hnext = m->b[e->hash & m->mask];
	m->b[e->hash & m->mask] = e;
	lru_push(m, e);
	m->n++;
	return 0;
}

static void hmap_fini(struct hmap *m)
{
	while (m->head)
		hmap_del(m, m->head);
	free(m->b);
	m->b = NULL;
}

/* ---- state -------------------------------------------------------------- */

/* A file handle as the kernel reported it, pointing into the read buffer. */
struct fid_ref {
	const uint8_t *fsid;	/* 8 bytes */
	uint32_t hbytes;
	int32_t htype;
	const uint8_t *hdata;
	const char *name;	/* NULL when the record has none */
};

struct fan_ev {
	uint64_t mask;
	pid_t pid;
	bool has_dname, has_dfid, has_fid, has_old, has_new;
	struct fid_ref dname, dfid, fid, old, new;
};

struct fkey {
	uint16_t len;
	uint8_t b[KEY_MAX];
};

/* A file the event is about. */
struct fobj {
	bool resolved;		/* path is absolute and known */
	char path[PATH_CAP];
	const char *name;	/* basename; into path, or the event's name */
};

struct fan_fs {
	dev_t dev;
	uint8_t fsid[8];
	char *mnt;		/* from malloc() */
	int mfd;		/* on mnt, open only during a drain */
	bool marked, seen;
};

struct fifo_info {
	dev_t dev;
	ino_t ino;
};

struct pend {			/* a FIFO open whose opener was already gone */
	bool used;
	pid_t pid;
	uint64_t t_ns;
	struct fkey key;
	char *path;		/* from malloc(); NULL when unresolved */
	char *name;		/* from malloc() */
};

struct fan_source {
	struct sensor *s;
	int fd;
	int mountinfo_fd;
	bool want_file, want_fifo;
	bool target_fid;	/* FAN_REPORT_TARGET_FID + FAN_RENAME (5.17) */
	bool fifos_full;	/* reported once */
	uint64_t fs_mask;
	pid_t self;
	uint8_t *buf;

	struct fan_fs fs[FAN_MAX_FS];
	int n_fs;

	struct hmap dirs;	/* key -> char *path */
	struct hmap fifos;	/* key -> struct fifo_info */
	struct hmap deleted;	/* the batch being read: files whose delete is in it */
	struct pend pend[PENDING_MAX];
	uint64_t next_mount_check_ns;

	/* Directories deleted during this drain. Their cache entries go at
	 * its end, not at once: the kernel merges a mkdir and an rmdir of
	 * the same directory by the same process into one event queued
	 * where the mkdir was, before the events inside the directory. */
	struct { struct fkey key; char *path; } gone[GONE_MAX];
	int n_gone;

	/* FAN_MOVED_FROM waiting for its FAN_MOVED_TO (kernels before 5.17) */
	bool mv_valid, mv_ondir;
	pid_t mv_pid;

	/* scratch, kept here: each is PATH_CAP bytes */
	struct fobj obj, obj2, mv;
	char tmp[PATH_CAP];
};

/* ---- keys and handles --------------------------------------------------- */

static bool key_of(struct fkey *k, const uint8_t fsid[8], int32_t htype, const uint8_t *h,
		   uint32_t hbytes)
{
	if (hbytes > MAX_HANDLE_SZ)
		return false;
	memcpy(k->b, fsid, 8);
	memcpy(k->b + 8, &htype, 4);
	memcpy(k->b + 12, h, hbytes);
	k->len = (uint16_t)(12 + hbytes);
	return true;
}

static bool key_of_ref(struct fkey *k, const struct fid_ref *r)
{
	return key_of(k, r->fsid, r->htype, r->hdata, r->hbytes);
}

union handle_buf {
	struct file_handle fh;
	uint8_t raw[sizeof(struct file_handle) + MAX_HANDLE_SZ];
};

/* The key of the object fd refers to (any fd, O_PATH included). */
static int key_of_fd(int fd, struct fkey *k)
{
	union handle_buf h;
	struct statfs sfs;
	int mnt_id;

	h.fh.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(fd, "", &h.fh, &mnt_id, AT_EMPTY_PATH) < 0)
		return -errno;
	if (fstatfs(fd, &sfs) < 0)
		return -errno;
	if (!key_of(k, (const uint8_t *)&sfs.f_fsid, h.fh.handle_type, h.fh.f_handle,
		    h.fh.handle_bytes))
		return -EOVERFLOW;
	return 0;
}

static struct fan_fs *fs_by_fsid(struct fan_source *f, const uint8_t *fsid)
{
	for (int i = 0; i < f->n_fs; i++)
		if (f->fs[i].marked && memcmp(f->fs[i].fsid, fsid, 8) == 0)
			return &f->fs[i];
	return NULL;
}

/* An fd on the filesystem's mount for open_by_handle_at, opened for this
 * drain only (closed by close_mount_fds). */
static int fs_mount_fd(struct fan_fs *fs)
{
	struct stat st;

	if (fs->mfd >= 0)
		return fs->mfd;
	/* not O_PATH: open_by_handle_at refuses an O_PATH mount fd */
	fs->mfd = open(fs->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fs->mfd < 0)
		return -errno;
	/* a mount stacked on the mountpoint since: the handle is not for it */
	if (fstat(fs->mfd, &st) < 0 || st.st_dev != fs->dev) {
		close(fs->mfd);
		fs->mfd = -1;
		return -ENODEV;
	}
	return fs->mfd;
}

static void close_mount_fds(struct fan_source *f)
{
	for (int i = 0; i < f->n_fs; i++)
		if (f->fs[i].mfd >= 0) {
			close(f->fs[i].mfd);
			f->fs[i].mfd = -1;
		}
}

/* An O_PATH fd on the object r names (whatever its name is by now), or
 * -errno (-ESTALE: it is gone). Caller closes. */
static int open_ref(struct fan_source *f, const struct fid_ref *r)
{
	union handle_buf h;
	struct fan_fs *fs = fs_by_fsid(f, r->fsid);
	int mfd, fd;

	if (!fs)
		return -ENODEV;
	mfd = fs_mount_fd(fs);
	if (mfd < 0)
		return mfd;
	h.fh.handle_bytes = r->hbytes;
	h.fh.handle_type = r->htype;
	memcpy(h.fh.f_handle, r->hdata, r->hbytes);
	fd = open_by_handle_at(mfd, &h.fh, O_PATH | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* ---- directory paths ---------------------------------------------------- */

static void dcache_put(struct fan_source *f, const struct fkey *k, const char *path)
{
	char *dup = strdup(path);

	if (dup)
		hmap_put(&f->dirs, k->b, k->len, dup, true);
}

/* Forget every cached directory at or under path (it moved or went). */
static void dcache_drop_prefix(struct fan_source *f, const char *path)
{
	size_t n = strlen(path);
	struct hent *e, *next;

	if (n <= 1)
		return;
	for (e = f->dirs.head; e; e = next) {
		const char *v = e->val;

		next = e->next;
		if (strncmp(v, path, n) == 0 && (v[n] == 0 || v[n] == '/'))
			hmap_del(&f->dirs, e);
	}
}

/* Absolute path of the directory r names, into out. 0, or -errno
 * (-ESTALE, -ENOENT: it is gone; -ENODEV: a filesystem we did not mark). */
static int dir_path(struct fan_source *f, const struct fid_ref *r, char *out, size_t cap)
{
	struct hent *e;
	struct fkey k;
	struct stat st;
	char link[64];
	ssize_t n;
	int dfd, err = 0;

	if (!key_of_ref(&k, r))
		return -EOVERFLOW;
	e = hmap_get(&f->dirs, k.b, k.len);
	if (e) {
		snprintf(out, cap, "%s", (const char *)e->val);
		return 0;
	}
	dfd = open_ref(f, r);
	if (dfd < 0)
		return dfd;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", dfd);
	n = readlink(link, out, cap - 1);
	if (n < 0)
		err = -errno;
	else if ((size_t)n >= cap - 1)
		err = -ENAMETOOLONG;
	else if (fstat(dfd, &st) < 0 || st.st_nlink == 0)
		err = -ENOENT;	/* removed, still held open somewhere */
	close(dfd);
	if (err)
		return err;
	out[n] = 0;
	if (out[0] != '/')
		return -ENOENT;	/* not reachable from our root */
	dcache_put(f, &k, out);
	return 0;
}

static void fobj_set_path(struct fobj *o, const char *path)
{
	const char *slash;

	snprintf(o->path, sizeof(o->path), "%s", path);
	o->resolved = true;
	slash = strrchr(o->path, '/');
	o->name = slash && slash[1] ? slash + 1 : o->path;
}

/* The object of a directory record: the directory itself when the record
 * has no name or the name "." (an event on a directory), else dir/name. */
static void fobj_from(struct fan_source *f, const struct fid_ref *r, struct fobj *o)
{
	bool self = !r->name || strcmp(r->name, ".") == 0;
	size_t len;

	o->resolved = false;
	o->name = self ? NULL : r->name;
	if (dir_path(f, r, f->tmp, sizeof(f->tmp)) < 0) {
		sensor__count(f->s, RW_C_DROP_FAN_PATH, 1);
		return;
	}
	if (self) {
		fobj_set_path(o, f->tmp);
		return;
	}
	len = strlen(f->tmp);
	if (len + 1 + strlen(r->name) + 1 > sizeof(o->path)) {
		sensor__count(f->s, RW_C_DROP_FAN_PATH, 1);
		return;
	}
	snprintf(o->path, sizeof(o->path), "%s%s%s", f->tmp, len == 1 ? "" : "/", r->name);
	o->resolved = true;
	o->name = o->path + len + (len == 1 ? 0 : 1);
}

/* ---- emitting ----------------------------------------------------------- */

static const char *ftype_of(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG: return "file";
	case S_IFDIR: return "dir";
	case S_IFLNK: return "symlink";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "socket";
	case S_IFCHR: return "char_device";
	case S_IFBLK: return "block_device";
	}
	return NULL;
}

struct emit {
	const char *action, *type;	/* event.action, event.type */
	pid_t pid;
	const struct fobj *obj, *target;
	const struct stat *st;		/* mode, uid, gid, inode */
	const char *ftype;
	const char *role;		/* ringward.fifo.role */
};

static void emit(struct fan_source *f, const struct emit *a)
{
	struct rw_event *ev = sensor__scratch(f->s);
	const struct fobj *o = a->obj;
	char buf[32];

	rw_event__set_cstr(ev, RW_F_EVENT_KIND, "event");
	rw_event__set_cstr(ev, RW_F_EVENT_CATEGORY, "file");
	rw_event__set_cstr(ev, RW_F_EVENT_TYPE, a->type);
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, a->action);
	if (a->pid > 0)
		rw_event__set_int(ev, RW_F_PROC_PID, a->pid);
	if (o->resolved) {
		size_t dlen = (size_t)(o->name - o->path);

		rw_event__set_cstr(ev, RW_F_FILE_PATH, o->path);
		/* "/x" -> "/", "/a/x" -> "/a" */
		rw_event__set_str(ev, RW_F_FILE_DIRECTORY, o->path, dlen > 1 ? dlen - 1 : 1);
	}
	if (o->name && *o->name)
		rw_event__set_cstr(ev, RW_F_FILE_NAME, o->name);
	if (a->ftype)
		rw_event__set_cstr(ev, RW_F_FILE_TYPE, a->ftype);
	if (a->st) {
		snprintf(buf, sizeof(buf), "%04o", (unsigned)(a->st->st_mode & 07777));
		rw_event__set_cstr(ev, RW_F_FILE_MODE, buf);
		snprintf(buf, sizeof(buf), "%u", (unsigned)a->st->st_uid);
		rw_event__set_cstr(ev, RW_F_FILE_UID, buf);
		snprintf(buf, sizeof(buf), "%u", (unsigned)a->st->st_gid);
		rw_event__set_cstr(ev, RW_F_FILE_GID, buf);
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)a->st->st_ino);
		rw_event__set_cstr(ev, RW_F_FILE_INODE, buf);
	}
	if (a->target && a->target->resolved)
		rw_event__set_cstr(ev, RW_F_FILE_TARGET_PATH, a->target->path);
	if (a->role)
		rw_event__set_cstr(ev, RW_F_RW_FIFO_ROLE, a->role);
	sensor__emit(f->s, ev);
}

/* ---- named pipes -------------------------------------------------------- */

/* Put an inode mark on the FIFO fd refers to (O_PATH is enough) and
 * remember it. The mark is placed through /proc/self/fd/N so that it lands
 * on exactly the object checked, whatever the name points to by now. */
static int fifo_track_fd(struct fan_source *f, int fd)
{
	struct fifo_info *fi;
	struct fkey k;
	struct stat st;
	char link[64];
	int err;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISFIFO(st.st_mode))
		return -EINVAL;
	err = key_of_fd(fd, &k);
	if (err)
		return err;
	if (hmap_get(&f->fifos, k.b, k.len))
		return 0;
	if (f->fifos.n == f->fifos.max) {
		if (!f->fifos_full)
			sensor__hook(f->s, FIFO_HOOK, false,
				     "FIFO table full: opens of FIFOs created since are not seen");
		f->fifos_full = true;
		return -ENOSPC;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if (fanotify_mark(f->fd, FAN_MARK_ADD, FIFO_MASK, AT_FDCWD, link) < 0)
		return -errno;
	fi = malloc(sizeof(*fi));
	if (!fi)
		return -ENOMEM;
	fi->dev = st.st_dev;
	fi->ino = st.st_ino;
	return hmap_put(&f->fifos, k.b, k.len, fi, false);
}

static int fifo_track_at(struct fan_source *f, int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	int err;

	if (fd < 0)
		return -errno;
	err = fifo_track_fd(f, fd);
	close(fd);
	return err;
}

/* A FIFO name went away: drop the mark unless another name still links
 * the inode. The kernel frees the mark itself when the inode goes. */
static void fifo_forget(struct fan_source *f, struct hent *e, const struct fid_ref *r)
{
	struct stat st;
	char link[64];
	int fd = open_ref(f, r);

	if (fd >= 0) {
		bool linked = fstat(fd, &st) == 0 && st.st_nlink > 0;

		if (!linked) {
			snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
			fanotify_mark(f->fd, FAN_MARK_REMOVE, FIFO_MASK, AT_FDCWD, link);
		}
		close(fd);
		if (linked)
			return;
	}
	hmap_del(&f->fifos, e);
}

/* Read "flags:" and "ino:" from /proc/<pid>/fdinfo/<fd>. */
static int read_fdinfo(pid_t pid, const char *fd, unsigned *flags, unsigned long long *ino)
{
	char path[64], buf[512];
	ssize_t n;
	int fdi;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", pid, fd);
	fdi = open(path, O_RDONLY | O_CLOEXEC);
	if (fdi < 0)
		return -errno;
	n = read(fdi, buf, sizeof(buf) - 1);
	close(fdi);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	p = strstr(buf, "flags:");
	if (!p || sscanf(p + 6, "%o", flags) != 1)
		return -EIO;
	*ino = 0;
	p = strstr(buf, "\nino:");	/* Linux 5.14 */
	if (p)
		sscanf(p + 5, "%llu", ino);
	return 0;
}

/*
 * The role of pid's open of the FIFO at path: the access mode of the
 * newest fd that points to it. Matching uses readlink of /proc/<pid>/fd/N
 * (it touches no filesystem, so a dead NFS server cannot hang us) and the
 * inode number from fdinfo. NULL when pid holds no such fd any more.
 * Looks at no more than PROC_FDS_MAX fds.
 */
static const char *fd_role(struct fan_source *f, pid_t pid, const char *path, ino_t ino)
{
	char dpath[64], *link = f->tmp;
	unsigned flags = 0, best_flags = 0;
	unsigned long long fino;
	struct dirent *de;
	long best = -1;
	int n = 0;
	DIR *d;

	snprintf(dpath, sizeof(dpath), "/proc/%d/fd", pid);
	d = opendir(dpath);
	if (!d)
		return NULL;
	while ((de = readdir(d)) && n++ < PROC_FDS_MAX) {
		ssize_t len;
		long fdn;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		len = readlinkat(dirfd(d), de->d_name, link, PATH_CAP - 1);
		if (len <= 0)
			continue;
		link[len] = 0;
		if (strcmp(link, path) != 0)
			continue;
		fdn = strtol(de->d_name, NULL, 10);
		if (fdn <= best || read_fdinfo(pid, de->d_name, &flags, &fino) < 0)
			continue;
		if (ino && fino && fino != (unsigned long long)ino)
			continue;
		best = fdn;
		best_flags = flags;
	}
	closedir(d);
	if (best < 0)
		return NULL;
	switch (best_flags & O_ACCMODE) {
	case O_RDONLY: return "reader";
	case O_WRONLY: return "writer";
	default: return "read-write";
	}
}

static const char *role_from_close(uint64_t mask)
{
	/* a close after writing was a writer's (or a read-write open's) */
	return mask & FAN_CLOSE_WRITE ? "writer" : "reader";
}

static void pend_emit(struct fan_source *f, struct pend *p, const char *role)
{
	struct fobj *o = &f->obj2;

	if (p->path) {
		fobj_set_path(o, p->path);
	} else {
		o->resolved = false;
		o->name = p->name;
	}
	emit(f, &(struct emit){ .action = "pipe-open", .type = "access", .pid = p->pid,
				 .obj = o, .ftype = "fifo", .role = role });
	free(p->path);
	free(p->name);
	memset(p, 0, sizeof(*p));
}

static void pend_add(struct fan_source *f, pid_t pid, const struct fkey *k, const struct fobj *o)
{
	struct pend *slot = NULL, *oldest = NULL;

	for (int i = 0; i < PENDING_MAX; i++) {
		struct pend *p = &f->pend[i];

		if (!p->used) {
			slot = p;
			break;
		}
		if (!oldest || p->t_ns < oldest->t_ns)
			oldest = p;
	}
	if (!slot) {		/* full: the oldest is decided now */
		pend_emit(f, oldest, "unknown");
		slot = oldest;
	}
	slot->used = true;
	slot->pid = pid;
	slot->t_ns = rw_clock_ns(CLOCK_MONOTONIC);
	slot->key = *k;
	slot->path = o->resolved ? strdup(o->path) : NULL;
	slot->name = strdup(o->name ? o->name : "");
}

static void pend_expire(struct fan_source *f, uint64_t now, bool all)
{
	for (int i = 0; i < PENDING_MAX; i++)
		if (f->pend[i].used && (all || now - f->pend[i].t_ns >= PENDING_NS))
			pend_emit(f, &f->pend[i], "unknown");
}

static void fifo_open(struct fan_source *f, const struct fan_ev *e, const struct fobj *o,
		      const struct fkey *k, const struct fifo_info *fi)
{
	const char *role = NULL;

	if (!f->want_fifo)
		return;
	if (o->resolved)
		role = fd_role(f, e->pid, o->path, fi ? fi->ino : 0);
	if (!role && (e->mask & FAN_CLOSE))	/* opened and closed before we looked */
		role = role_from_close(e->mask);
	if (!role && k) {
		pend_add(f, e->pid, k, o);	/* its close will tell */
		return;
	}
	emit(f, &(struct emit){ .action = "pipe-open", .type = "access", .pid = e->pid,
				 .obj = o, .ftype = "fifo", .role = role ? role : "unknown" });
}

static void fifo_close(struct fan_source *f, const struct fan_ev *e, const struct fkey *k)
{
	struct pend *best = NULL;

	for (int i = 0; i < PENDING_MAX; i++) {
		struct pend *p = &f->pend[i];

		if (p->used && p->pid == e->pid && p->key.len == k->len &&
		    memcmp(p->key.b, k->b, k->len) == 0 && (!best || p->t_ns < best->t_ns))
			best = p;
	}
	if (best)
		pend_emit(f, best, role_from_close(e->mask));
}

/* Look for FIFOs that existed before the sensor, in the usual places. */
static void scan_fifos(struct fan_source *f, int dfd, int depth, unsigned *budget)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;

	if (!d) {
		close(dfd);
		return;
	}
	while (*budget > 0 && (de = readdir(d))) {
		unsigned char t = de->d_type;

		(*budget)--;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (t == DT_UNKNOWN) {
			struct stat st;

			if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			t = S_ISFIFO(st.st_mode) ? DT_FIFO : S_ISDIR(st.st_mode) ? DT_DIR : DT_REG;
		}
		if (t == DT_FIFO) {
			fifo_track_at(f, dirfd(d), de->d_name);
		} else if (t == DT_DIR && depth < SCAN_DEPTH) {
			int sub = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0)
				scan_fifos(f, sub, depth + 1, budget);
		}
	}
	closedir(d);
}

/* ---- file events -------------------------------------------------------- */

/* A delete of this file is in the read being handled (note_deletes). */
static bool deleted_in_batch(struct fan_source *f, const struct fan_ev *e)
{
	struct fkey k;

	return f->deleted.n && e->has_fid && key_of_ref(&k, &e->fid) &&
	       hmap_get(&f->deleted, k.b, k.len);
}

/*
 * stat the object of a create: by the handle the kernel gave (right
 * whatever its name is by now), else by path. Not by path first: by the
 * time a batch is read, a name created and renamed or removed meanwhile
 * is no longer in the dentry cache, and looking it up takes the
 * directory's lock shared, against the very process creating files in it
 * (file churn paid for that lookup in its own syscalls). For a FIFO *fd is
 * an O_PATH fd on it (caller closes), else -1.
 */
static bool stat_created(struct fan_source *f, const struct fan_ev *e, const struct fobj *o,
			 struct stat *st, int *fd)
{
	*fd = -1;
	if (deleted_in_batch(f, e))
		return false;	/* created and gone within one read */
	*fd = e->has_fid ? open_ref(f, &e->fid) : -1;
	if (*fd >= 0) {
		bool ok = fstat(*fd, st) == 0;

		if (ok && S_ISFIFO(st->st_mode))
			return true;
		close(*fd);
		*fd = -1;
		return ok;
	}
	if (e->has_fid)
		return false;	/* no such inode any more: created and gone */
	if (o->resolved && lstat(o->path, st) == 0) {
		if (S_ISFIFO(st->st_mode))
			*fd = open(o->path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		return true;
	}
	return false;
}

static void on_create(struct fan_source *f, const struct fan_ev *e, const struct fobj *o)
{
	bool ondir = e->mask & FAN_ONDIR;
	struct stat st;
	struct fkey k;
	int fd;
	bool have_st = stat_created(f, e, o, &st, &fd);

	/* a new directory: its path is known now, even if it goes before
	 * the events inside it are read */
	if (ondir && o->resolved && e->has_fid && key_of_ref(&k, &e->fid))
		dcache_put(f, &k, o->path);
	if (!ondir && have_st && S_ISFIFO(st.st_mode) && f->want_fifo) {
		if (fd >= 0)	/* mark first: opens start right after mkfifo */
			fifo_track_fd(f, fd);
		emit(f, &(struct emit){ .action = "pipe-create", .type = "creation", .pid = e->pid,
					 .obj = o, .st = &st, .ftype = "fifo" });
	} else if (f->want_file) {
		emit(f, &(struct emit){ .action = "create", .type = "creation", .pid = e->pid,
					 .obj = o, .st = have_st ? &st : NULL,
					 .ftype = ondir ? "dir" : have_st ? ftype_of(st.st_mode) : NULL });
	}
	if (fd >= 0)
		close(fd);
}

static void on_attrib(struct fan_source *f, const struct fan_ev *e, const struct fobj *o)
{
	struct stat st;
	bool have = false;
	int fd;

	if (!f->want_file || deleted_in_batch(f, e))
		return;
	/* By the handle first (see stat_created: a name already gone is a
	 * slow lookup under the directory's lock). Gone already, most often
	 * the link-count change of an unlink, which the kernel reports as an
	 * attribute change: not a chmod. */
	fd = e->has_fid ? open_ref(f, &e->fid) : -1;
	if (fd >= 0) {
		have = fstat(fd, &st) == 0;
		close(fd);
		if (have && st.st_nlink == 0)
			return;
	} else if (e->has_fid) {
		return;		/* no such inode any more */
	} else if (o->resolved) {
		if (lstat(o->path, &st) < 0)
			return;
		have = true;
	}
	emit(f, &(struct emit){ .action = "chmod", .type = "change", .pid = e->pid, .obj = o,
				 .st = have ? &st : NULL, .ftype = have ? ftype_of(st.st_mode) : NULL });
}

static void forget_gone(struct fan_source *f)
{
	for (int i = 0; i < f->n_gone; i++) {
		struct hent *d = f->gone[i].key.len ?
			hmap_get(&f->dirs, f->gone[i].key.b, f->gone[i].key.len) : NULL;

		if (d)
			hmap_del(&f->dirs, d);
		if (f->gone[i].path)
			dcache_drop_prefix(f, f->gone[i].path);
		free(f->gone[i].path);
	}
	f->n_gone = 0;
}

static void on_delete(struct fan_source *f, const struct fan_ev *e, const struct fobj *o,
		      struct hent *fifo)
{
	bool ondir = e->mask & FAN_ONDIR;

	if (ondir) {
		if (f->n_gone == GONE_MAX)
			forget_gone(f);
		/* Its own entry is enough: what was under it went first,
		 * each with its own delete. Without its handle (before
		 * 5.17), drop by path. */
		f->gone[f->n_gone].key.len = 0;
		f->gone[f->n_gone].path = NULL;
		if (!e->has_fid || !key_of_ref(&f->gone[f->n_gone].key, &e->fid))
			f->gone[f->n_gone].path = o->resolved ? strdup(o->path) : NULL;
		f->n_gone++;
	}
	if (fifo)
		fifo_forget(f, fifo, &e->fid);
	if (f->want_file)
		emit(f, &(struct emit){ .action = "delete", .type = "deletion", .pid = e->pid,
					 .obj = o, .ftype = ondir ? "dir" : fifo ? "fifo" : NULL });
}

static void emit_rename(struct fan_source *f, pid_t pid, bool ondir, const struct fobj *from,
			const struct fobj *to)
{
	if (f->want_file)
		emit(f, &(struct emit){ .action = "rename", .type = "change", .pid = pid,
					 .obj = from, .target = to, .ftype = ondir ? "dir" : NULL });
}

static void on_rename(struct fan_source *f, const struct fan_ev *e)
{
	bool ondir = e->mask & FAN_ONDIR;
	struct fkey k;

	if (!e->has_old || !e->has_new)
		return;
	fobj_from(f, &e->old, &f->obj);
	fobj_from(f, &e->new, &f->obj2);
	if (ondir) {
		if (f->obj.resolved)
			dcache_drop_prefix(f, f->obj.path);
		if (f->obj2.resolved && e->has_fid && key_of_ref(&k, &e->fid))
			dcache_put(f, &k, f->obj2.path);
	}
	emit_rename(f, e->pid, ondir, &f->obj, &f->obj2);
}

/* Kernels before 5.17 have no FAN_RENAME: pair FAN_MOVED_FROM with the
 * FAN_MOVED_TO that follows it from the same process. */
static void flush_move(struct fan_source *f)
{
	struct fobj none = { .resolved = false };

	if (!f->mv_valid)
		return;
	f->mv_valid = false;
	emit_rename(f, f->mv_pid, f->mv_ondir, &f->mv, &none);
}

static void on_moved(struct fan_source *f, const struct fan_ev *e, const struct fobj *o)
{
	bool ondir = e->mask & FAN_ONDIR;

	if (ondir && o->resolved)
		dcache_drop_prefix(f, o->path);
	if (e->mask & FAN_MOVED_FROM) {
		flush_move(f);
		f->mv = *o;
		if (o->resolved)
			f->mv.name = f->mv.path + (o->name - o->path);
		f->mv_valid = true;
		f->mv_pid = e->pid;
		f->mv_ondir = ondir;
	}
	if (e->mask & FAN_MOVED_TO) {
		if (f->mv_valid && f->mv_pid == e->pid) {
			f->mv_valid = false;
			emit_rename(f, e->pid, ondir, &f->mv, o);
		} else {
			struct fobj none = { .resolved = false };

			flush_move(f);
			emit_rename(f, e->pid, ondir, &none, o);
		}
	}
}

static void handle_event(struct fan_source *f, const struct fan_ev *e)
{
	uint64_t m = e->mask;
	struct fobj *o = &f->obj;
	struct hent *fifo = NULL;
	struct fkey k;
	bool have_key = e->has_fid && key_of_ref(&k, &e->fid);

	if (m & FAN_RENAME) {	/* never merged with other events */
		on_rename(f, e);
		return;
	}
	if (e->has_dname)
		fobj_from(f, &e->dname, o);
	else if (e->has_dfid)
		fobj_from(f, &e->dfid, o);
	else
		return;
	if (have_key && f->fifos.n)
		fifo = hmap_get(&f->fifos, k.b, k.len);

	/* One event may carry several actions on the same object from the
	 * same process (the kernel merges them): report them in the order
	 * they must have happened. */
	if (m & FAN_CREATE)
		on_create(f, e, o);
	if (m & (FAN_MOVED_FROM | FAN_MOVED_TO))
		on_moved(f, e, o);
	if (m & FAN_OPEN)
		fifo_open(f, e, o, have_key ? &k : NULL, fifo ? fifo->val : NULL);
	if ((m & FAN_ATTRIB) && !(m & FAN_DELETE))
		on_attrib(f, e, o);
	if (m & FAN_CLOSE) {
		if (fifo || !(m & FAN_CLOSE_WRITE)) {
			/* a FIFO's close: decides a pending open (if FAN_OPEN
			 * came in this same event, fifo_open used it) */
			if (!(m & FAN_OPEN) && have_key && f->want_fifo)
				fifo_close(f, e, &k);
		} else if (f->want_file) {
			emit(f, &(struct emit){ .action = "modify", .type = "change", .pid = e->pid,
						 .obj = o });
		}
	}
	if (m & FAN_DELETE)
		on_delete(f, e, o, fifo);
}

/* ---- reading the queue -------------------------------------------------- */

/* Parse the info records of one event; false when they are malformed. */
static bool parse_info(const uint8_t *p, size_t len, struct fan_ev *e)
{
	while (len > 0) {
		struct fanotify_event_info_header hdr;
		struct fid_ref r;
		size_t rl, hoff = sizeof(hdr) + 8;	/* header, fsid */
		uint32_t hbytes;

		if (len < sizeof(hdr))
			return false;
		memcpy(&hdr, p, sizeof(hdr));
		rl = hdr.len;
		if (rl < sizeof(hdr) || rl > len)
			return false;
		switch (hdr.info_type) {
		case FAN_EVENT_INFO_TYPE_FID:
		case FAN_EVENT_INFO_TYPE_DFID:
		case FAN_EVENT_INFO_TYPE_DFID_NAME:
		case FAN_EVENT_INFO_TYPE_OLD_DFID_NAME:
		case FAN_EVENT_INFO_TYPE_NEW_DFID_NAME:
			if (rl < hoff + 8)
				return false;
			memcpy(&hbytes, p + hoff, 4);
			if (hbytes > MAX_HANDLE_SZ || hbytes > rl - hoff - 8)
				return false;
			r.fsid = p + sizeof(hdr);
			r.hbytes = hbytes;
			memcpy(&r.htype, p + hoff + 4, 4);
			r.hdata = p + hoff + 8;
			r.name = NULL;
			if (hdr.info_type != FAN_EVENT_INFO_TYPE_FID &&
			    hdr.info_type != FAN_EVENT_INFO_TYPE_DFID) {
				const char *nm = (const char *)r.hdata + hbytes;
				size_t room = rl - hoff - 8 - hbytes;

				if (!memchr(nm, 0, room))
					return false;
				r.name = nm;
			}
			if (hdr.info_type == FAN_EVENT_INFO_TYPE_FID) {
				e->fid = r;
				e->has_fid = true;
			} else if (hdr.info_type == FAN_EVENT_INFO_TYPE_DFID) {
				e->dfid = r;
				e->has_dfid = true;
			} else if (hdr.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME) {
				e->dname = r;
				e->has_dname = true;
			} else if (hdr.info_type == FAN_EVENT_INFO_TYPE_OLD_DFID_NAME) {
				e->old = r;
				e->has_old = true;
			} else {
				e->new = r;
				e->has_new = true;
			}
			break;
		default:
			break;	/* a record type we don't use (pidfd, error) */
		}
		p += rl;
		len -= rl;
	}
	return true;
}

/* Events are 4-byte aligned in the buffer and the metadata holds a u64:
 * copy it out rather than read it in place. */
/* The files (not directories) a delete event in buf names: whatever else
 * buf says about them, there is nothing left to stat. */
static void note_deletes(struct fan_source *f, const uint8_t *buf, size_t len)
{
	size_t off = 0;

	while (len - off >= FAN_EVENT_METADATA_LEN) {
		struct fanotify_event_metadata m;
		struct fan_ev e = { 0 };
		struct fkey k;

		memcpy(&m, buf + off, sizeof(m));
		if (m.event_len < FAN_EVENT_METADATA_LEN || m.event_len > len - off)
			return;
		off += m.event_len;
		if (!(m.mask & FAN_DELETE) || (m.mask & FAN_ONDIR) ||
		    m.vers != FANOTIFY_METADATA_VERSION || m.metadata_len < FAN_EVENT_METADATA_LEN ||
		    m.metadata_len > m.event_len)
			continue;
		if (parse_info(buf + off - m.event_len + m.metadata_len,
			       m.event_len - m.metadata_len, &e) && e.has_fid &&
		    key_of_ref(&k, &e.fid))
			hmap_put(&f->deleted, k.b, k.len, NULL, false);
	}
}

static void handle_buf(struct fan_source *f, const uint8_t *buf, size_t len)
{
	size_t off = 0;

	note_deletes(f, buf, len);
	while (len - off >= FAN_EVENT_METADATA_LEN) {
		struct fanotify_event_metadata m;
		struct fan_ev e = { 0 };

		memcpy(&m, buf + off, sizeof(m));
		if (m.event_len < FAN_EVENT_METADATA_LEN || m.event_len > len - off) {
			sensor__count(f->s, RW_C_DROP_FAN_READ, 1);
			return;
		}
		off += m.event_len;
		if (m.fd >= 0)
			close(m.fd);	/* not with fid reporting; defensive */
		sensor__count(f->s, RW_C_FAN_EVENTS, 1);
		if (m.vers != FANOTIFY_METADATA_VERSION || m.metadata_len < FAN_EVENT_METADATA_LEN ||
		    m.metadata_len > m.event_len) {
			sensor__count(f->s, RW_C_DROP_FAN_READ, 1);
			continue;
		}
		if (m.mask & FAN_Q_OVERFLOW) {
			/* the kernel dropped events: our cached paths may have
			 * missed a directory rename */
			sensor__count(f->s, RW_C_DROP_FAN_OVERFLOW, 1);
			while (f->dirs.head)
				hmap_del(&f->dirs, f->dirs.head);
			continue;
		}
		if (m.pid == f->self)
			continue;
		e.mask = m.mask;
		e.pid = m.pid;
		if (!parse_info(buf + off - m.event_len + m.metadata_len,
				m.event_len - m.metadata_len, &e)) {
			sensor__count(f->s, RW_C_DROP_FAN_READ, 1);
			continue;
		}
		handle_event(f, &e);
	}
	while (f->deleted.head)
		hmap_del(&f->deleted, f->deleted.head);
}

static void check_mounts(struct fan_source *f);

static void on_tick(struct sensor *s, void *ctx)
{
	struct fan_source *f = ctx;
	uint64_t now;

	for (int i = 0; i < FAN_READS_MAX; i++) {
		ssize_t n = read(f->fd, f->buf, FAN_BUF_SZ);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				sensor__count(s, RW_C_DROP_FAN_READ, 1);
			break;
		}
		if (n == 0)
			break;
		handle_buf(f, f->buf, (size_t)n);
	}
	flush_move(f);
	forget_gone(f);
	close_mount_fds(f);
	now = rw_clock_ns(CLOCK_MONOTONIC);
	pend_expire(f, now, false);
	if (now >= f->next_mount_check_ns) {
		f->next_mount_check_ns = now + 1000000000ULL;
		check_mounts(f);
	}
}

/* ---- filesystems -------------------------------------------------------- */

static struct fan_fs *fs_by_dev(struct fan_source *f, dev_t dev)
{
	for (int i = 0; i < f->n_fs; i++)
		if (f->fs[i].dev == dev)
			return &f->fs[i];
	return NULL;
}

static void hook_fs(struct fan_source *f, const char *path, bool ok, const char *why, int err)
{
	char name[PATH_MAX + 16], buf[200];

	snprintf(name, sizeof(name), "fanotify:%s", path);
	if (err)
		snprintf(buf, sizeof(buf), "%s: %s", why, strerror(err));
	sensor__hook(f->s, name, ok, err ? buf : why);
}

/* Mark one filesystem (all mounts of dev in v[0..n)). */
static void mark_fs(struct fan_source *f, struct mnt *v, int n, dev_t dev)
{
	struct fan_fs *fs;
	struct statfs sfs;
	struct stat st;
	char link[64];
	int best = -1, fd = -1, err;

	if (f->n_fs == FAN_MAX_FS)
		return;
	fs = &f->fs[f->n_fs];
	memset(fs, 0, sizeof(*fs));
	fs->dev = dev;
	fs->mfd = -1;
	fs->seen = true;
	/* a mount of the filesystem's root, reachable (not stacked over) */
	for (int pass = 0; pass < 2 && best < 0; pass++)
		for (int i = n - 1; i >= 0 && best < 0; i--) {
			if (v[i].dev != dev || (pass == 0 && !v[i].root))
				continue;
			fd = open(v[i].path, O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == dev)
				best = i;
			else if (fd >= 0)
				close(fd);
		}
	f->n_fs++;	/* tried: not again on the next mount check */
	if (best < 0) {
		for (int i = 0; i < n; i++)
			if (v[i].dev == dev) {
				char label[PATH_MAX + 32];

				snprintf(label, sizeof(label), "%s[%u:%u]", v[i].path, major(dev),
					 minor(dev));
				hook_fs(f, label, false, "mount hidden under another mount", 0);
				break;
			}
		return;
	}
	fs->mnt = strdup(v[best].path);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	err = 0;
	if (!fs->mnt)
		err = ENOMEM;
	else if (fstatfs(fd, &sfs) < 0)
		err = errno;
	else if (fanotify_mark(f->fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, f->fs_mask, AT_FDCWD,
			       link) < 0)
		err = errno;
	close(fd);
	if (err) {
		/* ENODEV/EOPNOTSUPP: no file handles or no fsid;
		 * EXDEV: its fsid is not unique on this host */
		hook_fs(f, v[best].path, false, "FAN_MARK_FILESYSTEM", err);
		return;
	}
	memcpy(fs->fsid, &sfs.f_fsid, 8);
	fs->marked = true;
	hook_fs(f, fs->mnt, true, NULL, 0);
}

/* Mark filesystems mounted since the last look; note those gone. */
static void scan_mounts(struct fan_source *f)
{
	struct mnt *v = NULL;
	int n = mounts__read(&v);

	for (int i = 0; i < f->n_fs; i++)
		f->fs[i].seen = false;
	for (int i = 0; i < n; i++) {
		struct fan_fs *fs;

		if (mounts__skip_fstype(v[i].fstype))
			continue;
		fs = fs_by_dev(f, v[i].dev);
		if (fs)
			fs->seen = true;
		else
			mark_fs(f, v, n, v[i].dev);
	}
	for (int i = 0; i < f->n_fs; i++) {
		struct fan_fs *fs = &f->fs[i];

		if (fs->seen || n < 0)
			continue;
		/* unmounted: its mark went with it; free the slot */
		if (fs->marked)
			hook_fs(f, fs->mnt, false, "unmounted", 0);
		free(fs->mnt);
		*fs = f->fs[--f->n_fs];
		i--;
	}
	for (int i = 0; i < n; i++)
		free(v[i].path);
	free(v);
}

/* The mount table changed (poll says so without reading it): rescan. */
static void check_mounts(struct fan_source *f)
{
	struct pollfd p = { .fd = f->mountinfo_fd, .events = POLLPRI };

	if (f->mountinfo_fd < 0 || poll(&p, 1, 0) <= 0 || !(p.revents & (POLLPRI | POLLERR)))
		return;
	scan_mounts(f);
}

/*
 * Shells write to /dev/null (and friends) all the time: a "closed after
 * write" there is no file modification. An ignore mark on exactly those
 * inodes makes the kernel drop the events before they are queued. A file
 * put in place of one of them later is a new inode and is reported.
 */
static void ignore_char_devices(struct fan_source *f)
{
	static const char *const devs[] = {
		"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom",
		"/dev/tty", "/dev/ptmx", "/dev/console",
	};
	struct stat st;

	if (!(f->fs_mask & FAN_CLOSE_WRITE))
		return;
	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++)
		if (lstat(devs[i], &st) == 0 && S_ISCHR(st.st_mode))
			fanotify_mark(f->fd,
				      FAN_MARK_ADD | FAN_MARK_IGNORED_MASK |
				      FAN_MARK_IGNORED_SURV_MODIFY | FAN_MARK_DONT_FOLLOW,
				      FAN_CLOSE_WRITE, AT_FDCWD, devs[i]);
}

/* ---- start / stop ------------------------------------------------------- */

static int init_group(struct fan_source *f)
{
	static const unsigned flags[] = {
		RW_FAN_REPORT,		/* 5.17 */
		RW_FAN_REPORT_5_9,	/* 5.9 */
	};
	int err = 0;

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		/* no FAN_UNLIMITED_QUEUE: a stalled sensor must not eat
		 * kernel memory; overflow is counted instead */
		f->fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | flags[i],
				      O_RDONLY | O_CLOEXEC | O_LARGEFILE);
		if (f->fd >= 0) {
			f->target_fid = i == 0;
			return 0;
		}
		err = -errno;
		if (err != -EINVAL)
			break;
	}
	return err;
}

struct fan_source *fan_source__start(struct sensor *s)
{
	struct fan_source *f = calloc(1, sizeof(*f));
	char why[160];
	int err;

	if (!f)
		return NULL;
	f->s = s;
	f->fd = f->mountinfo_fd = -1;
	f->self = sensor__self(s);
	f->want_file = sensor__group_enabled(s, "file");
	f->want_fifo = sensor__group_enabled(s, "fifo");
	f->buf = malloc(FAN_BUF_SZ);
	if (!f->buf || hmap_init(&f->dirs, DCACHE_MAX) < 0 || hmap_init(&f->fifos, FIFO_MAX) < 0 ||
	    hmap_init(&f->deleted, DELETED_MAX) < 0) {
		err = -ENOMEM;
		sensor__hook(s, "fanotify", false, "out of memory");
		goto fail;
	}
	err = init_group(f);
	if (err) {
		snprintf(why, sizeof(why), "fanotify_init with FAN_REPORT_DFID_NAME (Linux 5.9): %s",
			 strerror(-err));
		sensor__hook(s, "fanotify", false, why);
		goto fail;
	}
	/* the FIFO group needs creates (to mark new FIFOs), deletes (to
	 * unmark) and renames (to keep directory paths right) */
	f->fs_mask = RW_FAN_DIRENT_MASK;
	f->fs_mask |= f->target_fid ? RW_FAN_RENAME_MASK : RW_FAN_MOVED_MASK;
	if (f->want_file)
		f->fs_mask |= RW_FAN_FILE_MASK;

	f->mountinfo_fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	scan_mounts(f);
	ignore_char_devices(f);
	if (f->want_fifo) {
		static const char *const dirs[] = { "/tmp", "/var/tmp", "/dev/shm", "/run" };
		unsigned budget = SCAN_BUDGET;

		for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
			int dfd = open(dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);

			if (dfd >= 0)
				scan_fifos(f, dfd, 1, &budget);
		}
		close_mount_fds(f);
		if (!f->fifos_full)
			sensor__hook(s, FIFO_HOOK, true, NULL);
	}
	f->next_mount_check_ns = rw_clock_ns(CLOCK_MONOTONIC) + 1000000000ULL;
	err = sensor__on_tick(s, on_tick, f);
	if (err) {
		sensor__hook(s, "fanotify", false, "cannot register with the sensor's tick");
		goto fail;
	}
	if (!f->target_fid)	/* what tests and operators can see */
		sensor__hook(s, COMPAT_HOOK, true,
			     "kernel before 5.17: renames paired from FAN_MOVED_FROM/TO");
	return f;
fail:
	fan_source__stop(f);
	errno = -err;
	return NULL;
}

void fan_source__stop(struct fan_source *f)
{
	if (!f)
		return;
	if (f->buf)	/* opens still waiting for their close */
		pend_expire(f, 0, true);
	for (int i = 0; i < f->n_gone; i++)
		free(f->gone[i].path);
	if (f->fd >= 0)
		close(f->fd);	/* the group's marks go with it */
	if (f->mountinfo_fd >= 0)
		close(f->mountinfo_fd);
	close_mount_fds(f);
	for (int i = 0; i < f->n_fs; i++)
		free(f->fs[i].mnt);
	if (f->dirs.b)
		hmap_fini(&f->dirs);
	if (f->fifos.b)
		hmap_fini(&f->fifos);
	if (f->deleted.b)
		hmap_fini(&f->deleted);
	free(f->buf);
	free(f);
}
