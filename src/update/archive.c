/*
 * Bundle archives (update/archive.h).
 */
#include "update/archive.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/bundle.h"

#define fail tuf_err__set	/* the update/ modules' one way to refuse (tuf.h) */

#define MAGIC_LEN	8


static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static bool valid_path(const char *p, size_t n)
{
	size_t comp = 0;

	if (n == 0 || n > BUNDLE_MAX_PATH)
		return false;
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = i < n ? (unsigned char)p[i] : '/';

		if (c == '/') {
			const char *s = p + i - comp;

			if (comp == 0 || (comp == 1 && s[0] == '.') ||
			    (comp == 2 && s[0] == '.' && s[1] == '.'))
				return false;
			comp = 0;
			continue;
		}
		if (c < 0x20 || c == 0x7f || c == '\\')
			return false;
		comp++;
	}
	return true;
}

/* <0, 0, >0 as a sorts before, equal to, after b (bytes, then length). */
static int path_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);

	if (c)
		return c;
	return an < bn ? -1 : an > bn;
}

static int walk(const uint8_t *buf, size_t len, archive_entry_fn cb, void *ctx,
		struct tuf_err *e)
{
	const char *prev = NULL;
	size_t off, count, prev_len = 0;
	bool manifest = false;

	if (len < MAGIC_LEN + 4 || memcmp(buf, ARCHIVE_MAGIC, MAGIC_LEN))
		return fail(e, -EINVAL, "not a bundle archive (no " ARCHIVE_MAGIC " header)");
	count = be32(buf + MAGIC_LEN);
	if (count == 0 || count > ARCHIVE_MAX_FILES)
		return fail(e, -EINVAL, "bundle archive: %zu files (must be 1 to %d)", count,
			    ARCHIVE_MAX_FILES);
	off = MAGIC_LEN + 4;
	for (size_t i = 0; i < count; i++) {
		struct archive_entry ent;
		size_t plen;

		if (len - off < 2)
			return fail(e, -EINVAL, "bundle archive: truncated in file %zu of %zu", i + 1,
				    count);
		plen = (size_t)buf[off] << 8 | buf[off + 1];
		off += 2;
		if (len - off < plen)
			return fail(e, -EINVAL, "bundle archive: truncated in file %zu of %zu", i + 1,
				    count);
		ent.path = (const char *)buf + off;
		ent.path_len = plen;
		if (!valid_path(ent.path, plen))
			return fail(e, -EINVAL, "bundle archive: file %zu: path \"%.*s\" is not a "
				    "plain relative path", i + 1, (int)(plen < 80 ? plen : 80),
				    ent.path);
		if (prev && path_cmp(prev, prev_len, ent.path, plen) >= 0)
			return fail(e, -EINVAL, "bundle archive: file %zu: \"%.*s\" is out of order "
				    "or repeated", i + 1, (int)(plen < 80 ? plen : 80), ent.path);
		off += plen;
		if (len - off < 4)
			return fail(e, -EINVAL, "bundle archive: truncated in file %zu of %zu", i + 1,
				    count);
		ent.size = be32(buf + off);
		off += 4;
		if (ent.size > ARCHIVE_MAX_FILE)
			return fail(e, -EINVAL, "bundle archive: \"%.*s\": %zu bytes, more than the "
				    "limit of %d", (int)(plen < 80 ? plen : 80), ent.path, ent.size,
				    ARCHIVE_MAX_FILE);
		if (len - off < ent.size)
			return fail(e, -EINVAL, "bundle archive: truncated in \"%.*s\"",
				    (int)(plen < 80 ? plen : 80), ent.path);
		ent.data = buf + off;
		off += ent.size;
		if (plen == strlen(BUNDLE_MANIFEST) && !memcmp(ent.path, BUNDLE_MANIFEST, plen))
			manifest = true;
		if (cb) {
			int rc = cb(ctx, &ent);

			if (rc)
				return rc;
		}
		prev = ent.path;
		prev_len = plen;
	}
	if (off != len)
		return fail(e, -EINVAL, "bundle archive: %zu bytes after the last file", len - off);
	if (!manifest)
		return fail(e, -EINVAL, "bundle archive: no " BUNDLE_MANIFEST " (not a bundle)");
	return 0;
}

int archive__walk(const uint8_t *buf, size_t len, archive_entry_fn cb, void *ctx,
		  struct tuf_err *e)
{
	int err;

	if (len > (size_t)ARCHIVE_MAX_TOTAL)
		return fail(e, -EFBIG, "bundle archive: larger than %lld bytes",
			    (long long)ARCHIVE_MAX_TOTAL);
	/* everything checked before anything is handed out */
	err = walk(buf, len, NULL, NULL, e);
	if (err || !cb)
		return err;
	return walk(buf, len, cb, ctx, e);
}

/* ---- packing ---- */

struct pfile {
	char *path;	/* relative; from malloc() */
	char *data;	/* from malloc() */
	size_t size;
};

struct plist {
	struct pfile *v;
	size_t n, cap;
	size_t total;
};

static void plist_free(struct plist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].path);
		free(l->v[i].data);
	}
	free(l->v);
}

static int collect(struct plist *l, const char *top, const char *rel, int depth,
		   struct tuf_err *e)
{
	char *full = NULL;
	struct dirent *de;
	DIR *d;
	int err = 0;

	if (depth > 32)
		return fail(e, -ELOOP, "%s/%s: directories nested too deep", top, rel);
	if (asprintf(&full, "%s%s%s", top, *rel ? "/" : "", rel) < 0)
		return fail(e, -ENOMEM, "out of memory");
	d = opendir(full);
	if (!d) {
		err = fail(e, -errno, "%s: cannot open: %s", full, strerror(errno));
		free(full);
		return err;
	}
	while (!err && (de = readdir(d))) {
		char *r = NULL, *p = NULL;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (asprintf(&r, "%s%s%s", rel, *rel ? "/" : "", de->d_name) < 0 ||
		    asprintf(&p, "%s/%s", full, de->d_name) < 0) {
			free(r);
			err = fail(e, -ENOMEM, "out of memory");
			break;
		}
		if (lstat(p, &st)) {
			err = fail(e, -errno, "%s: %s", p, strerror(errno));
		} else if (S_ISDIR(st.st_mode)) {
			err = collect(l, top, r, depth + 1, e);
		} else if (!S_ISREG(st.st_mode)) {
			err = fail(e, -EINVAL, "%s: a symbolic link or special file: a bundle holds "
				   "regular files only", p);
		} else if (!valid_path(r, strlen(r))) {
			err = fail(e, -EINVAL, "%s: a name an archive cannot carry", p);
		} else if (l->n >= ARCHIVE_MAX_FILES) {
			err = fail(e, -E2BIG, "%s: more than %d files", top, ARCHIVE_MAX_FILES);
		} else {
			struct pfile f = { .path = r };

			err = bundle__read_file(p, ARCHIVE_MAX_FILE, &f.data, &f.size);
			if (err) {
				fail(e, err, "%s: cannot read: %s", p, err == -EFBIG ?
				     "larger than the limit for a bundle file" : strerror(-err));
			} else if (l->total + f.size + 6 + strlen(r) > (size_t)ARCHIVE_MAX_TOTAL) {
				free(f.data);
				err = fail(e, -EFBIG, "%s: the bundle is larger than %lld bytes", top,
					   (long long)ARCHIVE_MAX_TOTAL);
			} else {
				if (l->n == l->cap) {
					size_t cap = l->cap ? l->cap * 2 : 32;
					struct pfile *v = realloc(l->v, cap * sizeof(*v));

					if (!v) {
						free(f.data);
						err = fail(e, -ENOMEM, "out of memory");
					} else {
						l->v = v;
						l->cap = cap;
					}
				}
				if (!err) {
					l->total += f.size + 6 + strlen(r);
					l->v[l->n++] = f;
					r = NULL;
				}
			}
		}
		free(r);
		free(p);
	}
	closedir(d);
	free(full);
	return err;
}

static int cmp_pfile(const void *a, const void *b)
{
	const struct pfile *x = a, *y = b;

	return path_cmp(x->path, strlen(x->path), y->path, strlen(y->path));
}

int archive__pack(const char *dir, uint8_t **out, size_t *len, struct tuf_err *e)
{
	struct plist l = { 0 };
	uint8_t *b = NULL;
	size_t off;
	int err;

	*out = NULL;
	*len = 0;
	err = collect(&l, dir, "", 0, e);
	if (err)
		goto cleanup;
	if (l.n == 0) {
		err = fail(e, -EINVAL, "%s: no files", dir);
		goto cleanup;
	}
	qsort(l.v, l.n, sizeof(*l.v), cmp_pfile);
	b = malloc(MAGIC_LEN + 4 + l.total);
	if (!b) {
		err = fail(e, -ENOMEM, "out of memory");
		goto cleanup;
	}
	memcpy(b, ARCHIVE_MAGIC, MAGIC_LEN);
	put32(b + MAGIC_LEN, (uint32_t)l.n);
	off = MAGIC_LEN + 4;
	for (size_t i = 0; i < l.n; i++) {
		size_t pl = strlen(l.v[i].path);

		b[off] = (uint8_t)(pl >> 8);
		b[off + 1] = (uint8_t)pl;
		memcpy(b + off + 2, l.v[i].path, pl);
		off += 2 + pl;
		put32(b + off, (uint32_t)l.v[i].size);
		memcpy(b + off + 4, l.v[i].data, l.v[i].size);
		off += 4 + l.v[i].size;
	}
	/* what was written must read back: the same checks the updater runs */
	err = archive__walk(b, off, NULL, NULL, e);
	if (err) {
		char m[TUF_ERR_LEN];

		snprintf(m, sizeof(m), "%s", e ? e->msg : "");
		fail(e, err, "%s: %s", dir, m);
		goto cleanup;
	}
	*out = b;
	*len = off;
	b = NULL;
cleanup:
	free(b);
	plist_free(&l);
	return err;
}

/* ---- unpacking ---- */

struct unpack_ctx {
	int top;
	struct tuf_err *e;
	const char *dir;
};

static int unpack_one(void *vctx, const struct archive_entry *ent)
{
	struct unpack_ctx *c = vctx;
	char comp[BUNDLE_MAX_PATH + 1];
	size_t start = 0;
	int cur = c->top, fd, err = 0;

	for (size_t i = 0; i <= ent->path_len; i++) {
		size_t n;

		if (i < ent->path_len && ent->path[i] != '/')
			continue;
		n = i - start;
		memcpy(comp, ent->path + start, n);
		comp[n] = '\0';
		start = i + 1;
		if (i == ent->path_len) {
			fd = openat(cur, comp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				    0644);
			if (fd < 0) {
				err = fail(c->e, -errno, "%s/%.*s: cannot create: %s", c->dir,
					   (int)ent->path_len, ent->path, strerror(errno));
				break;
			}
			err = bundle__write_all(fd, ent->data, ent->size);
			if (!err && (fchmod(fd, 0644) || fsync(fd)))
				err = -errno;
			close(fd);
			if (err)
				fail(c->e, err, "%s/%.*s: cannot write: %s", c->dir,
				     (int)ent->path_len, ent->path, strerror(-err));
			break;
		}
		if (mkdirat(cur, comp, 0755) && errno != EEXIST) {
			err = fail(c->e, -errno, "%s/%.*s: cannot make a directory: %s", c->dir,
				   (int)ent->path_len, ent->path, strerror(errno));
			break;
		}
		fd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			err = fail(c->e, -errno, "%s/%.*s: a file and a directory of the same name",
				   c->dir, (int)ent->path_len, ent->path);
			break;
		}
		if (cur != c->top)
			close(cur);
		cur = fd;
	}
	if (cur != c->top)
		close(cur);
	return err;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) ? -errno : 0;
	return unlink(path) ? -errno : 0;
}

int archive__remove_tree(const char *dir)
{
	struct stat st;

	if (lstat(dir, &st))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(dir) ? -errno : 0;
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) ? -EIO : 0;
}

int archive__unpack(const uint8_t *buf, size_t len, const char *dir, struct tuf_err *e)
{
	struct unpack_ctx c = { .e = e, .dir = dir };
	int err;

	err = archive__walk(buf, len, NULL, NULL, e);
	if (err)
		return err;
	if (mkdir(dir, 0755))
		return fail(e, -errno, "%s: cannot make the directory: %s", dir, strerror(errno));
	c.top = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (c.top < 0) {
		err = fail(e, -errno, "%s: %s", dir, strerror(errno));
		rmdir(dir);
		return err;
	}
	err = archive__walk(buf, len, unpack_one, &c, e);
	if (!err && fsync(c.top))
		err = fail(e, -errno, "%s: fsync: %s", dir, strerror(errno));
	close(c.top);
	if (err)
		archive__remove_tree(dir);
	return err;
}
