/*
 * The last-known-good content store (engine/content_store.h): copy, fsync,
 * check by loading, then switch one symbolic link atomically.
 *
 * Steps of a save, as content_store__step_hook() sees them:
 *   1  fresh data directory made
 *   2  one file copied and fsync'd (once per file)
 *   3  everything copied, every directory fsync'd
 *   4  the copy loaded
 *   5  the new link made beside `lkg`
 *   6  `lkg` switched (renamed over), state directory not yet fsync'd
 *   7  old data removed
 */
#include "engine/content_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/bundle.h"
#include "engine/sigma.h"

#define LKG_LINK	"lkg"
#define DATA_PREFIX	"lkg.d."
#define LINK_PREFIX	"lkg.l."
#define LOCK_NAME	".lkg.lock"

void (*content_store__step_hook)(int step);

static void step(int n)
{
	if (content_store__step_hook)
		content_store__step_hook(n);
}

static char *join(const char *a, const char *b)
{
	char *s;

	return asprintf(&s, "%s/%s", a, b) < 0 ? NULL : s;
}

static bool has_rule_ext(const char *name)
{
	size_t n = strlen(name);

	return (n > 4 && !strcmp(name + n - 4, ".yml")) ||
	       (n > 5 && !strcmp(name + n - 5, ".yaml"));
}

static int fsync_path(const char *path, bool dir)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | (dir ? O_DIRECTORY : 0));
	int err = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd))
		err = -errno;
	close(fd);
	return err;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* rm -rf of something this store made (never follows links). */
static void rm_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st))
		return;
	if (S_ISDIR(st.st_mode))
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	else
		unlink(path);
}

/* ---- copying ---- */

/* Copy src (following a link only when follow) into dst, a new file,
 * fsync'd. At most max bytes. */
static int copy_file(const char *src, const char *dst, size_t max, bool follow)
{
	struct stat st;
	uint64_t total = 0;
	int in, out = -1, err = 0;

	in = open(src, O_RDONLY | O_CLOEXEC | O_NONBLOCK | (follow ? 0 : O_NOFOLLOW));
	if (in < 0)
		return -errno;
	if (fstat(in, &st)) {
		err = -errno;
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EINVAL;
		goto cleanup;
	}
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (out < 0) {
		err = -errno;
		goto cleanup;
	}
	err = bundle__copy_fd(in, out, &total, max);
cleanup:
	if (out >= 0 && close(out) && !err)
		err = -errno;
	close(in);
	if (!err)
		step(2);
	return err;
}

static int copy_bundle(const char *src, const char *dst, int depth, struct diag *d);
static int copy_plain(const char *src, const char *dst, int depth, struct diag *d);

static void report(struct diag *d, const char *path, int err)
{
	if (d)
		diag__add(d, DIAG_ERROR, path, 0, 0, NULL, "cannot save as last-known-good: %s",
			  err == -EINVAL ? "not a regular file or directory" :
			  err == -EFBIG ? "larger than the limit" : strerror(-err));
}

/*
 * Copy the entries of directory src into dst (already made), then fsync
 * dst: everything when src is (inside) a bundle, else what the loader
 * reads of a plain directory (rule files, not hidden, links to files
 * followed, bundles met on the way copied whole). 0 or -errno.
 */
static int copy_dir(const char *src, const char *dst, int depth, bool bundle, struct diag *d)
{
	struct dirent **ents = NULL;
	int n, err = 0;

	if (depth > SIGMA_MAX_DIR_DEPTH)
		return -ELOOP;
	n = scandir(src, &ents, NULL, alphasort);
	if (n < 0) {
		err = -errno;
		report(d, src, err);
		return err;
	}
	for (int i = 0; i < n && !err; i++) {
		const char *name = ents[i]->d_name;
		char *s = NULL, *t = NULL;
		struct stat st;

		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		/* the loader skips hidden entries of plain directories; a
		 * bundle is copied whole */
		if (!bundle && name[0] == '.')
			continue;
		s = join(src, name);
		t = join(dst, name);
		if (!s || !t) {
			err = -ENOMEM;
		} else if (lstat(s, &st)) {
			err = -errno;
			report(d, s, err);
		} else if (bundle) {
			if (S_ISDIR(st.st_mode))
				err = copy_bundle(s, t, depth + 1, d);
			else if (S_ISREG(st.st_mode))
				err = copy_file(s, t, BUNDLE_MAX_FILE_SIZE, false);
			else
				err = -EINVAL;	/* the bundle would not have loaded */
			if (err)
				report(d, s, err);
		} else if (S_ISDIR(st.st_mode)) {
			err = copy_plain(s, t, depth + 1, d);
		} else if ((S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) && has_rule_ext(name)) {
			/* the loader follows links to files, not to directories */
			struct stat tst;

			if (S_ISLNK(st.st_mode) && (stat(s, &tst) || !S_ISREG(tst.st_mode)))
				goto next;
			err = copy_file(s, t, SIGMA_MAX_FILE_SIZE, true);
			if (err)
				report(d, s, err);
		}
next:
		free(s);
		free(t);
	}
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	if (!err)
		err = fsync_path(dst, true);
	return err;
}

static int copy_bundle(const char *src, const char *dst, int depth, struct diag *d)
{
	if (mkdir(dst, 0700))
		return -errno;
	return copy_dir(src, dst, depth, true, d);
}

static int copy_plain(const char *src, const char *dst, int depth, struct diag *d)
{
	if (mkdir(dst, 0700))
		return -errno;
	return copy_dir(src, dst, depth, bundle__is_bundle(src), d);
}

/* Copy one content path as the loader reads it into data/NNNN[.yml]. */
static int copy_path(const char *path, const char *data, int i, struct diag *d)
{
	char name[32], *dst, *bdir = NULL;
	const char *base = strrchr(path, '/');
	struct stat st;
	int err;

	if (stat(path, &st)) {
		err = -errno;
		report(d, path, err);
		return err;
	}
	/* an explicit manifest means its bundle, as for the loader */
	base = base ? base + 1 : path;
	if (S_ISREG(st.st_mode) && !strcmp(base, BUNDLE_MANIFEST)) {
		bdir = base == path ? strdup(".") : strndup(path, (size_t)(base - path - 1));
		if (!bdir)
			return -ENOMEM;
		if (!bdir[0]) {
			free(bdir);
			bdir = strdup("/");
			if (!bdir)
				return -ENOMEM;
		}
		path = bdir;
		if (stat(path, &st)) {
			free(bdir);
			return -errno;
		}
	}
	snprintf(name, sizeof(name), S_ISDIR(st.st_mode) ? "%04d" : "%04d.yml", i);
	dst = join(data, name);
	if (!dst) {
		free(bdir);
		return -ENOMEM;
	}
	if (S_ISDIR(st.st_mode)) {
		err = copy_plain(path, dst, 0, d);
	} else if (S_ISREG(st.st_mode)) {
		err = copy_file(path, dst, SIGMA_MAX_FILE_SIZE, true);
		if (err)
			report(d, path, err);
	} else {
		err = -EINVAL;
		report(d, path, err);
	}
	free(dst);
	free(bdir);
	return err;
}

static int write_sources(const char *data, const char *const paths[], int n)
{
	char *p = join(data, "SOURCES");
	FILE *f;
	int err = 0;

	if (!p)
		return -ENOMEM;
	f = fopen(p, "wx");
	free(p);
	if (!f)
		return -errno;
	fprintf(f, "# the content paths this last-known-good copy was made from\n");
	for (int i = 0; i < n; i++)
		fprintf(f, "%04d\t%s\n", i, paths[i]);
	if (fflush(f) || fsync(fileno(f)))
		err = -errno;
	if (fclose(f) && !err)
		err = -errno;
	return err;
}

/* ---- the state directory ---- */

/* Name of the data directory `lkg` points at, into buf ("" when none). */
static void current_target(const char *state, char *buf, size_t len)
{
	char *link = join(state, LKG_LINK);
	ssize_t n = link ? readlink(link, buf, len - 1) : -1;

	buf[n > 0 ? n : 0] = 0;
	free(link);
}

/* Remove what interrupted saves left: data directories and links `lkg`
 * does not point at. */
static void clean_leftovers(const char *state)
{
	char cur[PATH_MAX];
	struct dirent *e;
	DIR *dp = opendir(state);

	if (!dp)
		return;
	current_target(state, cur, sizeof(cur));
	while ((e = readdir(dp))) {
		char *p;

		if (strncmp(e->d_name, DATA_PREFIX, strlen(DATA_PREFIX)) &&
		    strncmp(e->d_name, LINK_PREFIX, strlen(LINK_PREFIX)))
			continue;
		if (!strcmp(e->d_name, cur))
			continue;
		p = join(state, e->d_name);
		if (p)
			rm_tree(p);
		free(p);
	}
	closedir(dp);
}

static int mkdir_p(const char *path)
{
	char *p = strdup(path);
	int err = 0;

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; ; s++) {
		if (*s == '/' || !*s) {
			char c = *s;

			*s = 0;
			if (mkdir(p, 0700) && errno != EEXIST) {
				err = -errno;
				break;
			}
			*s = c;
			if (!c)
				break;
		}
	}
	free(p);
	return err;
}

const char *content_store__lkg_dir(const char *state_dir, char *buf, size_t len)
{
	struct stat st;
	int n;

	if (!state_dir)
		state_dir = CONTENT_STORE_DIR;
	n = snprintf(buf, len, "%s/" LKG_LINK, state_dir);
	if (n < 0 || (size_t)n >= len)
		return NULL;
	/* the link only ever points at a complete, fsync'd copy */
	if (stat(buf, &st) || !S_ISDIR(st.st_mode))
		return NULL;
	return buf;
}

/* Is the only path the current LKG itself (a restart from it)? */
static bool is_current(const char *state, const char *const paths[], int n)
{
	char *link = join(state, LKG_LINK), *a = NULL, *b = NULL;
	bool same = false;

	if (link && n == 1) {
		a = realpath(link, NULL);
		b = realpath(paths[0], NULL);
		same = a && b && !strcmp(a, b);
	}
	free(a);
	free(b);
	free(link);
	return same;
}

/* Point `lkg` at data: a new link beside it, renamed over it. */
static int switch_link(const char *state, const char *data)
{
	const char *base = strrchr(data, '/') + 1;
	char *tmp = NULL, *link = join(state, LKG_LINK);
	struct stat st;
	int err = 0;

	if (!link || asprintf(&tmp, "%s/" LINK_PREFIX "%s", state,
			      base + strlen(DATA_PREFIX)) < 0) {
		free(link);
		return -ENOMEM;
	}
	if (symlink(base, tmp)) {
		err = -errno;
		goto cleanup;
	}
	step(5);
	/* a real directory where the link goes (made by hand): move it aside,
	 * as a leftover the next save removes */
	if (lstat(link, &st) == 0 && S_ISDIR(st.st_mode)) {
		char *aside;

		if (asprintf(&aside, "%s/" DATA_PREFIX "moved-aside", state) < 0) {
			err = -ENOMEM;
			goto cleanup;
		}
		rm_tree(aside);
		if (rename(link, aside))
			err = -errno;
		free(aside);
		if (err)
			goto cleanup;
	}
	if (rename(tmp, link)) {
		err = -errno;
		goto cleanup;
	}
	step(6);
	err = fsync_path(state, true);
cleanup:
	if (err)
		unlink(tmp);
	free(tmp);
	free(link);
	return err;
}

int content_store__save_lkg_opts(const char *state_dir, const char *const paths[], int n,
				 const struct ruleset_opts *opts, struct diag *d)
{
	char old[PATH_MAX], *data = NULL, *lockp = NULL;
	struct ruleset *rs;
	int lock = -1, err;

	if (!state_dir)
		state_dir = CONTENT_STORE_DIR;
	if (n < 1 || n > CONTENT_STORE_MAX_PATHS)
		return -EINVAL;
	err = mkdir_p(state_dir);
	if (err)
		return err;
	lockp = join(state_dir, LOCK_NAME);
	if (!lockp)
		return -ENOMEM;
	lock = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lock < 0 || flock(lock, LOCK_EX)) {
		err = -errno;
		goto cleanup;
	}
	if (is_current(state_dir, paths, n))
		goto cleanup;	/* restarted from the LKG: it is already saved */
	clean_leftovers(state_dir);
	current_target(state_dir, old, sizeof(old));
	if (asprintf(&data, "%s/" DATA_PREFIX "XXXXXX", state_dir) < 0) {
		data = NULL;
		err = -ENOMEM;
		goto cleanup;
	}
	if (!mkdtemp(data)) {
		err = -errno;
		free(data);
		data = NULL;
		goto cleanup;
	}
	step(1);
	for (int i = 0; i < n && !err; i++)
		err = copy_path(paths[i], data, i, d);
	if (!err)
		err = write_sources(data, paths, n);
	if (!err)
		err = fsync_path(data, true);
	if (err)
		goto cleanup;
	step(3);
	/* the copy must load, with the sensor's own loader */
	{
		const char *p[] = { data };

		rs = ruleset__load_opts(p, 1, opts, d);
		if (!rs) {
			err = -EINVAL;
			goto cleanup;
		}
		ruleset__free(rs);
	}
	step(4);
	/* the data directory's own entry is durable before `lkg` names it */
	err = fsync_path(state_dir, true);
	if (!err)
		err = switch_link(state_dir, data);
	if (err)
		goto cleanup;
	free(data);
	data = NULL;
	if (old[0] && !strncmp(old, DATA_PREFIX, strlen(DATA_PREFIX)) && !strchr(old, '/')) {
		char *o = join(state_dir, old);

		if (o)
			rm_tree(o);
		free(o);
	}
	step(7);
cleanup:
	if (data) {
		rm_tree(data);
		free(data);
	}
	if (lock >= 0)
		close(lock);	/* releases the flock */
	free(lockp);
	return err;
}

int content_store__save_lkg(const char *state_dir, const char *const paths[], int n)
{
	return content_store__save_lkg_opts(state_dir, paths, n, NULL, NULL);
}
