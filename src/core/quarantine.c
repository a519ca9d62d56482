/*
 * Quarantine of files (core/quarantine.h).
 */
#include "core/quarantine.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <linux/fs.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "engine/bundle.h"

#define SIDECAR_MAX	(64 * 1024)
#define COPY_CHUNK	(256 * 1024)

static const char *qdir_of(const char *qdir)
{
	return qdir ? qdir : QUARANTINE_DIR;
}

static bool id_ok(const char *id)
{
	if (!id || strlen(id) != QUARANTINE_ID_LEN)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

/* ---- the directory ---- */

/* mkdir -p, each missing level 0700. */
static int mkdirs(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

/* Open the quarantine directory: created when missing; a real directory
 * owned by this user and closed to others (made so when it is ours). */
static int open_qdir(const char *qdir, bool create)
{
	struct stat st;
	int fd, err;

	if (create && (err = mkdirs(qdir)))
		return err;
	fd = open(qdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		/* a link or a file where the directory should be */
		return errno == ELOOP || errno == ENOTDIR ? -EPERM : -errno;
	if (fstat(fd, &st) || st.st_uid != geteuid()) {
		close(fd);
		return -EPERM;
	}
	if ((st.st_mode & 077) && fchmod(fd, 0700)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int fsync_path_dir(const char *path)
{
	char buf[PATH_MAX];
	char *slash;
	int fd, err = 0;

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	slash = strrchr(buf, '/');
	if (!slash)
		strcpy(buf, ".");
	else if (slash == buf)
		buf[1] = 0;
	else
		*slash = 0;
	fd = open(buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd))
		err = -errno;
	close(fd);
	return err;
}

/* ---- files ---- */

/* sha256 of fd's bytes from offset 0 (hex into out), and the size; when
 * to >= 0 the bytes are also written there. */
static int hash_fd(int fd, char out[65], int64_t *size, int to)
{
	crypto_hash_sha256_state h;
	unsigned char *buf = malloc(COPY_CHUNK), sha[32];
	off_t off = 0;
	int err = 0;

	if (!buf)
		return -ENOMEM;
	crypto_hash_sha256_init(&h);
	for (;;) {
		ssize_t r = pread(fd, buf, COPY_CHUNK, off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			break;
		}
		if (r == 0)
			break;
		crypto_hash_sha256_update(&h, buf, (size_t)r);
		if (to >= 0 && (err = bundle__write_all(to, buf, (size_t)r)))
			break;
		off += r;
	}
	free(buf);
	if (err)
		return err;
	crypto_hash_sha256_final(&h, sha);
	sodium_bin2hex(out, 65, sha, sizeof(sha));
	*size = (int64_t)off;
	return 0;
}

/* Move oldname (in olddir) to newname (in newdir) without replacing
 * anything: RENAME_NOREPLACE, or link + unlink where the filesystem does
 * not have it. */
static int move_noreplace(int olddir, const char *oldname, int newdir, const char *newname)
{
	if (syscall(SYS_renameat2, olddir, oldname, newdir, newname, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	if (linkat(olddir, oldname, newdir, newname, 0))
		return -errno;
	if (unlinkat(olddir, oldname, 0))
		return -errno;
	return 0;
}

/* Owner, mode and times onto fd, in that order (chown clears set-id bits). */
static int set_meta(int fd, uid_t uid, gid_t gid, mode_t mode, const struct timespec t[2])
{
	if (fchown(fd, uid, gid) && errno != EPERM)
		return -errno;
	if (fchmod(fd, mode & 07777))
		return -errno;
	if (futimens(fd, t))
		return -errno;
	return 0;
}

/* ---- the sidecar ---- */

static void iso_time(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

char *quarantine_entry__json(const struct quarantine_entry *e)
{
	json_object *o = json_object_new_object();
	char mode[16], when[32];
	char *s = NULL;

	if (!o)
		return NULL;
	snprintf(mode, sizeof(mode), "%04o", (unsigned)(e->mode & 07777));
	iso_time(e->quarantined_at, when, sizeof(when));
	json_object_object_add(o, "id", json_object_new_string(e->id));
	json_object_object_add(o, "original_path", json_object_new_string(e->path));
	json_object_object_add(o, "sha256", json_object_new_string(e->sha256));
	json_object_object_add(o, "size", json_object_new_int64(e->size));
	json_object_object_add(o, "uid", json_object_new_int64(e->uid));
	json_object_object_add(o, "gid", json_object_new_int64(e->gid));
	json_object_object_add(o, "mode", json_object_new_string(mode));
	json_object_object_add(o, "atime_sec", json_object_new_int64(e->atime_sec));
	json_object_object_add(o, "atime_nsec", json_object_new_int64(e->atime_nsec));
	json_object_object_add(o, "mtime_sec", json_object_new_int64(e->mtime_sec));
	json_object_object_add(o, "mtime_nsec", json_object_new_int64(e->mtime_nsec));
	json_object_object_add(o, "rule_id", e->rule_id ? json_object_new_string(e->rule_id) :
							   NULL);
	json_object_object_add(o, "quarantined_at", json_object_new_string(when));
	json_object_object_add(o, "quarantined_at_sec", json_object_new_int64(e->quarantined_at));
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						  JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}

static bool get_i64(json_object *o, const char *k, int64_t *v)
{
	json_object *x;

	if (!json_object_object_get_ex(o, k, &x) || !json_object_is_type(x, json_type_int))
		return false;
	*v = json_object_get_int64(x);
	return true;
}

static const char *get_str(json_object *o, const char *k)
{
	json_object *x;

	if (!json_object_object_get_ex(o, k, &x) || !json_object_is_type(x, json_type_string))
		return NULL;
	return json_object_get_string(x);
}

/* Parse a sidecar; every field checked. */
static int parse_sidecar(const char *text, const char *id, struct quarantine_entry *e)
{
	json_object *o = json_tokener_parse(text);
	const char *path, *sha, *mode, *rule;
	int64_t uid, gid, size;
	char *end;
	long m;
	int err = -EBADMSG;

	memset(e, 0, sizeof(*e));
	if (!o || !json_object_is_type(o, json_type_object))
		goto cleanup;
	path = get_str(o, "original_path");
	sha = get_str(o, "sha256");
	mode = get_str(o, "mode");
	rule = get_str(o, "rule_id");
	if (!path || path[0] != '/' || !sha || strlen(sha) != 64 || !mode ||
	    !get_i64(o, "uid", &uid) || !get_i64(o, "gid", &gid) || !get_i64(o, "size", &size) ||
	    !get_i64(o, "atime_sec", &e->atime_sec) || !get_i64(o, "atime_nsec", &e->atime_nsec) ||
	    !get_i64(o, "mtime_sec", &e->mtime_sec) || !get_i64(o, "mtime_nsec", &e->mtime_nsec) ||
	    !get_i64(o, "quarantined_at_sec", &e->quarantined_at) || uid < 0 || gid < 0 ||
	    size < 0 || e->atime_nsec < 0 || e->atime_nsec > 999999999 || e->mtime_nsec < 0 ||
	    e->mtime_nsec > 999999999)
		goto cleanup;
	errno = 0;
	m = strtol(mode, &end, 8);
	if (errno || *end || m < 0 || m > 07777)
		goto cleanup;
	e->path = strdup(path);
	e->rule_id = rule ? strdup(rule) : NULL;
	if (!e->path || (rule && !e->rule_id)) {
		err = -ENOMEM;
		goto cleanup;
	}
	memcpy(e->id, id, QUARANTINE_ID_SIZE);
	memcpy(e->sha256, sha, 65);
	e->uid = (uid_t)uid;
	e->gid = (gid_t)gid;
	e->size = size;
	e->mode = (mode_t)m;
	err = 0;
cleanup:
	if (err)
		quarantine_entry__free(e);
	json_object_put(o);
	return err;
}

void quarantine_entry__free(struct quarantine_entry *e)
{
	if (!e)
		return;
	free(e->path);
	free(e->rule_id);
	memset(e, 0, sizeof(*e));
}

/* Read ID.json under dfd. */
static int read_sidecar(int dfd, const char *id, struct quarantine_entry *e)
{
	char name[QUARANTINE_ID_SIZE + 8], *buf;
	struct stat st;
	ssize_t r;
	size_t got = 0;
	int fd, err;

	snprintf(name, sizeof(name), "%s.json", id);
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > SIDECAR_MAX) {
		close(fd);
		return -EBADMSG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size &&
	       (r = read(fd, buf + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)r;
	close(fd);
	buf[got] = 0;
	err = parse_sidecar(buf, id, e);
	free(buf);
	if (!err) {
		snprintf(name, sizeof(name), "%s.data", id);
		e->data_present = faccessat(dfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
	}
	return err;
}

/* Write the sidecar atomically as ID.json under dfd. */
static int write_sidecar(int dfd, const struct quarantine_entry *e)
{
	char tmp[QUARANTINE_ID_SIZE + 16], name[QUARANTINE_ID_SIZE + 8];
	char *text = quarantine_entry__json(e);
	int fd, err;

	if (!text)
		return -ENOMEM;
	snprintf(tmp, sizeof(tmp), ".%s.json.tmp", e->id);
	snprintf(name, sizeof(name), "%s.json", e->id);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(text);
		return -errno;
	}
	err = bundle__write_all(fd, text, strlen(text));
	if (!err)
		err = bundle__write_all(fd, "\n", 1);
	if (!err && fsync(fd))
		err = -errno;
	close(fd);
	free(text);
	if (!err && renameat(dfd, tmp, dfd, name))
		err = -errno;
	if (err)
		unlinkat(dfd, tmp, 0);
	else if (fsync(dfd))
		err = -errno;
	return err;
}

/* ---- quarantine ---- */

/* Copy fd (hashed again: it must still be want) to ID.data under dfd
 * with the recorded owner, mode minus execute bits, and times. */
static int copy_in(int fd, int dfd, const struct quarantine_entry *e, const struct timespec t[2])
{
	char part[QUARANTINE_ID_SIZE + 8], data[QUARANTINE_ID_SIZE + 8], sha[65];
	int64_t size;
	int out, err;

	snprintf(part, sizeof(part), "%s.part", e->id);
	snprintf(data, sizeof(data), "%s.data", e->id);
	out = openat(dfd, part, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return -errno;
	err = hash_fd(fd, sha, &size, out);
	if (!err && (strcmp(sha, e->sha256) || size != e->size))
		err = -EAGAIN;	/* changed while copied */
	if (!err && fsync(out))
		err = -errno;
	if (!err)
		err = set_meta(out, e->uid, e->gid, e->mode & 0666, t);
	close(out);
	if (!err && renameat(dfd, part, dfd, data))
		err = -errno;
	if (err)
		unlinkat(dfd, part, 0);
	else if (fsync(dfd))
		err = -errno;
	return err;
}

int quarantine__file(const char *qdir, const char *path, const char *rule_id, char *id_out)
{
	struct quarantine_entry e = { 0 };
	unsigned char rnd[QUARANTINE_ID_LEN / 2];
	char data[QUARANTINE_ID_SIZE + 8], json[QUARANTINE_ID_SIZE + 8];
	struct timespec t[2];
	struct stat st, now;
	int dfd, fd = -1, err;

	if (sodium_init() < 0)
		return -ENOSYS;
	if (!path || path[0] != '/')
		return -EINVAL;
	dfd = open_qdir(qdir_of(qdir), true);
	if (dfd < 0)
		return dfd;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)	/* O_NOATIME needs ownership or CAP_FOWNER */
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		err = errno == ELOOP ? -EINVAL : -errno;
		goto cleanup;
	}
	if (fstat(fd, &st)) {
		err = -errno;
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EINVAL;
		goto cleanup;
	}
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(e.id, sizeof(e.id), rnd, sizeof(rnd));
	e.path = (char *)path;
	e.rule_id = (char *)rule_id;
	e.uid = st.st_uid;
	e.gid = st.st_gid;
	e.mode = st.st_mode & 07777;
	e.atime_sec = st.st_atim.tv_sec;
	e.atime_nsec = st.st_atim.tv_nsec;
	e.mtime_sec = st.st_mtim.tv_sec;
	e.mtime_nsec = st.st_mtim.tv_nsec;
	e.quarantined_at = (int64_t)time(NULL);
	t[0] = st.st_atim;
	t[1] = st.st_mtim;
	err = hash_fd(fd, e.sha256, &e.size, -1);
	if (err)
		goto cleanup;
	/* the sidecar first: a crash after it leaves the file in place and a
	 * sidecar without data, never data without its origin */
	err = write_sidecar(dfd, &e);
	if (err)
		goto cleanup;
	snprintf(data, sizeof(data), "%s.data", e.id);
	snprintf(json, sizeof(json), "%s.json", e.id);
	err = move_noreplace(AT_FDCWD, path, dfd, data);
	if (!err) {
		/* the file moved must be the file hashed */
		if (fstatat(dfd, data, &now, AT_SYMLINK_NOFOLLOW) || now.st_dev != st.st_dev ||
		    now.st_ino != st.st_ino) {
			move_noreplace(dfd, data, AT_FDCWD, path);
			err = -EAGAIN;
			goto unwind;
		}
		if (fchmod(fd, e.mode & 0666) || futimens(fd, t)) {
			err = -errno;
			move_noreplace(dfd, data, AT_FDCWD, path);
			goto unwind;
		}
		if (fsync(dfd) || fsync_path_dir(path))
			err = -errno;
		goto done;
	}
	if (err != -EXDEV)
		goto unwind;
	/* another filesystem: copy, then unlink the original if it is still
	 * the file copied */
	err = copy_in(fd, dfd, &e, t);
	if (err)
		goto unwind;
	if (lstat(path, &now) || now.st_dev != st.st_dev || now.st_ino != st.st_ino) {
		unlinkat(dfd, data, 0);
		err = -EAGAIN;
		goto unwind;
	}
	if (unlink(path)) {
		err = -errno;
		unlinkat(dfd, data, 0);
		goto unwind;
	}
	fsync_path_dir(path);
done:
	if (id_out)
		memcpy(id_out, e.id, QUARANTINE_ID_SIZE);
	goto cleanup;
unwind:
	unlinkat(dfd, json, 0);
	fsync(dfd);
cleanup:
	if (fd >= 0)
		close(fd);
	close(dfd);
	return err;
}

/* ---- restore ---- */

/* Copy the quarantined fd to a temporary file beside path, with its
 * metadata, then put it at path without replacing anything. */
static int copy_out(int fd, const struct quarantine_entry *e, const struct timespec t[2])
{
	char tmp[PATH_MAX], sha[65];
	int64_t size;
	int out, err;

	if (snprintf(tmp, sizeof(tmp), "%s.ringward-restore.XXXXXX", e->path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	out = mkostemp(tmp, O_CLOEXEC);
	if (out < 0)
		return -errno;
	err = hash_fd(fd, sha, &size, out);
	if (!err && strcmp(sha, e->sha256))
		err = -EBADMSG;
	if (!err && fsync(out))
		err = -errno;
	if (!err)
		err = set_meta(out, e->uid, e->gid, e->mode, t);
	close(out);
	if (!err)
		err = move_noreplace(AT_FDCWD, tmp, AT_FDCWD, e->path);
	if (err)
		unlink(tmp);
	return err;
}

int quarantine__restore(const char *qdir, const char *id, struct quarantine_entry *out)
{
	struct quarantine_entry e;
	char data[QUARANTINE_ID_SIZE + 8], json[QUARANTINE_ID_SIZE + 8], sha[65];
	struct timespec t[2];
	struct stat st;
	int64_t size;
	int dfd, fd = -1, err;

	if (out)
		memset(out, 0, sizeof(*out));
	if (!id_ok(id))
		return -ENOENT;
	if (sodium_init() < 0)
		return -ENOSYS;
	dfd = open_qdir(qdir_of(qdir), false);
	if (dfd < 0)
		return dfd;
	err = read_sidecar(dfd, id, &e);
	if (err) {
		close(dfd);
		return err;
	}
	snprintf(data, sizeof(data), "%s.data", id);
	snprintf(json, sizeof(json), "%s.json", id);
	fd = openat(dfd, data, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto cleanup;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		err = -EBADMSG;
		goto cleanup;
	}
	err = hash_fd(fd, sha, &size, -1);
	if (err)
		goto cleanup;
	if (strcmp(sha, e.sha256) || size != e.size) {
		err = -EBADMSG;
		goto cleanup;
	}
	if (lstat(e.path, &st) == 0) {
		err = -EEXIST;
		goto cleanup;
	}
	t[0] = (struct timespec){ e.atime_sec, e.atime_nsec };
	t[1] = (struct timespec){ e.mtime_sec, e.mtime_nsec };
	err = move_noreplace(dfd, data, AT_FDCWD, e.path);
	if (!err) {
		err = set_meta(fd, e.uid, e.gid, e.mode, t);
	} else if (err == -EXDEV) {
		err = copy_out(fd, &e, t);
		if (!err)
			unlinkat(dfd, data, 0);
	}
	if (err)
		goto cleanup;
	fsync_path_dir(e.path);
	unlinkat(dfd, json, 0);
	fsync(dfd);
	if (out) {
		*out = e;
		memset(&e, 0, sizeof(e));
	}
cleanup:
	quarantine_entry__free(&e);
	if (fd >= 0)
		close(fd);
	close(dfd);
	return err;
}

int quarantine__read(const char *qdir, const char *id, struct quarantine_entry *e)
{
	int dfd, err;

	memset(e, 0, sizeof(*e));
	if (!id_ok(id))
		return -ENOENT;
	dfd = open_qdir(qdir_of(qdir), false);
	if (dfd < 0)
		return dfd;
	err = read_sidecar(dfd, id, e);
	close(dfd);
	return err;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct quarantine_entry *x = a, *y = b;

	if (x->quarantined_at != y->quarantined_at)
		return x->quarantined_at < y->quarantined_at ? -1 : 1;
	return strcmp(x->id, y->id);
}

void quarantine_entries__free(struct quarantine_entry *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		quarantine_entry__free(&v[i]);
	free(v);
}

int quarantine__list(const char *qdir, struct quarantine_entry **out, size_t *n_out)
{
	struct quarantine_entry *v = NULL;
	struct dirent *de;
	size_t n = 0, cap = 0;
	DIR *dir;
	int dfd, err = 0;

	*out = NULL;
	*n_out = 0;
	dfd = open_qdir(qdir_of(qdir), false);
	if (dfd == -ENOENT)
		return 0;
	if (dfd < 0)
		return dfd;
	dir = fdopendir(dfd);
	if (!dir) {
		close(dfd);
		return -errno;
	}
	while ((de = readdir(dir))) {
		char id[QUARANTINE_ID_SIZE];
		size_t l = strlen(de->d_name);

		if (l != QUARANTINE_ID_LEN + 5 || strcmp(de->d_name + QUARANTINE_ID_LEN, ".json"))
			continue;
		memcpy(id, de->d_name, QUARANTINE_ID_LEN);
		id[QUARANTINE_ID_LEN] = 0;
		if (!id_ok(id))
			continue;
		if (n == cap) {
			struct quarantine_entry *nv;

			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*nv));
			if (!nv) {
				err = -ENOMEM;
				break;
			}
			v = nv;
		}
		if (read_sidecar(dirfd(dir), id, &v[n]) == 0)
			n++;	/* a damaged sidecar is left out of the list */
	}
	closedir(dir);
	if (err) {
		quarantine_entries__free(v, n);
		return err;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_entry);
	*out = v;
	*n_out = n;
	return 0;
}
