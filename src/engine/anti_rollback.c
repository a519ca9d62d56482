/*
 * Anti-rollback state (engine/anti_rollback.h).
 */
#include "engine/anti_rollback.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/bundle.h"

#define VERSIONS_MAX_BYTES	(1024 * 1024)
#define LOCK_FILE		".content-versions.lock"

struct vent {
	char *name;	/* from malloc() */
	int64_t version;
};

struct vtab {
	struct vent *v;	/* from malloc() */
	size_t n;
};

static void vtab__free(struct vtab *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].name);
	free(t->v);
	memset(t, 0, sizeof(*t));
}

static bool name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (!first && (c == '.' || c == '_' || c == '-'));
}

/* One "NAME VERSION" line; false when malformed. */
static bool parse_line(const char *p, size_t n, struct vent *e)
{
	const char *sp = memchr(p, ' ', n);
	size_t nl, dl;
	int64_t v = 0;

	if (!sp)
		return false;
	nl = (size_t)(sp - p);
	dl = n - nl - 1;
	if (nl == 0 || nl > BUNDLE_MAX_NAME || dl == 0 || dl > 18 || (dl > 1 && sp[1] == '0'))
		return false;
	for (size_t i = 0; i < nl; i++)
		if (!name_char(p[i], i == 0))
			return false;
	for (size_t i = 0; i < dl; i++) {
		if (sp[1 + i] < '0' || sp[1 + i] > '9')
			return false;
		v = v * 10 + (sp[1 + i] - '0');
	}
	e->name = strndup(p, nl);
	e->version = v;
	return e->name != NULL;
}

/* Read <dir>/content-versions into t (empty when the file is missing). */
static int vtab__read(struct vtab *t, const char *path)
{
	char *buf = NULL, *p, *end;
	size_t len;
	int err;

	memset(t, 0, sizeof(*t));
	err = bundle__read_file(path, VERSIONS_MAX_BYTES, &buf, &len);
	if (err == -ENOENT)
		return 0;
	if (err)
		return err == -EFBIG || err == -EINVAL || err == -EMLINK ? -EBADMSG : err;
	t->v = calloc(CONTENT_VERSIONS_MAX, sizeof(*t->v));
	if (!t->v) {
		free(buf);
		return -ENOMEM;
	}
	for (p = buf, end = buf + len; p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);

		if (!nl) {	/* every line ends: a cut file is damaged */
			err = -EBADMSG;
			break;
		}
		if (n && p[0] != '#') {
			if (t->n >= CONTENT_VERSIONS_MAX || !parse_line(p, n, &t->v[t->n])) {
				err = -EBADMSG;
				break;
			}
			t->n++;
		}
		p = nl + 1;
	}
	free(buf);
	if (err)
		vtab__free(t);
	return err;
}

static struct vent *vtab__find(struct vtab *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->v[i].name, name))
			return &t->v[i];
	return NULL;
}

static char *path_in(const char *dir, const char *name)
{
	char *p;

	return asprintf(&p, "%s/%s", dir, name) < 0 ? NULL : p;
}

int content_version__highest(const char *state_dir, const char *bundle_name, int64_t *highest)
{
	char *path = path_in(state_dir, CONTENT_VERSIONS_FILE);
	struct vtab t;
	struct vent *e;
	int err;

	*highest = 0;
	if (!path)
		return -ENOMEM;
	err = vtab__read(&t, path);
	free(path);
	if (err)
		return err;
	e = vtab__find(&t, bundle_name);
	if (e)
		*highest = e->version;
	vtab__free(&t);
	return 0;
}

/* Take the lock, trying for at most a second. Returns the fd or -errno. */
static int lock_dir(const char *dir)
{
	struct timespec ten_ms = { 0, 10 * 1000 * 1000 };
	char *path = path_in(dir, LOCK_FILE);
	int fd, err = 0;

	if (!path)
		return -ENOMEM;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	free(path);
	if (fd < 0)
		return -errno;
	for (int i = 0; i < 100; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return fd;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			err = -errno;
			break;
		}
		err = -EAGAIN;
		nanosleep(&ten_ms, NULL);
	}
	close(fd);
	return err;
}

/* Write t as the new file, atomically (bundle__write_file_atomic:
 * temporary, fsync, rename, fsync of the directory). */
static int vtab__write(const struct vtab *t, const char *dir)
{
	static const char head[] = "# ringward anti-rollback: the highest version accepted per "
				   "bundle name (written by the sensor)\n";
	char *buf = NULL;
	size_t len = 0;
	struct diag d;
	FILE *f = open_memstream(&buf, &len);
	int err;

	if (!f)
		return -ENOMEM;
	fputs(head, f);
	for (size_t i = 0; i < t->n; i++)
		fprintf(f, "%s %lld\n", t->v[i].name, (long long)t->v[i].version);
	if (fclose(f) || !buf) {
		free(buf);
		return -ENOMEM;
	}
	diag__init(&d);
	err = bundle__write_file_atomic(dir, CONTENT_VERSIONS_FILE, buf, len, 0600, &d);
	diag__free(&d);
	free(buf);
	return err;
}

int content_version__check_and_persist(const char *state_dir, const char *bundle_name,
				       int64_t version)
{
	char *path = NULL;
	struct vtab t = { 0 };
	struct vent *e;
	int lfd, err;

	if (!bundle_name || !bundle_name[0] || strlen(bundle_name) > BUNDLE_MAX_NAME ||
	    version < 1 || version > 999999999999999999LL)
		return -EINVAL;
	for (size_t i = 0; bundle_name[i]; i++)
		if (!name_char(bundle_name[i], i == 0))
			return -EINVAL;
	if (mkdir(state_dir, 0700) && errno != EEXIST)
		return -errno;
	lfd = lock_dir(state_dir);
	if (lfd < 0)
		return lfd;
	path = path_in(state_dir, CONTENT_VERSIONS_FILE);
	if (!path) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = vtab__read(&t, path);
	if (err)
		goto cleanup;
	e = vtab__find(&t, bundle_name);
	if (e && version < e->version) {
		err = -ESTALE;
		goto cleanup;
	}
	if (e && version == e->version)
		goto cleanup;	/* already recorded */
	if (e) {
		e->version = version;
	} else {
		if (!t.v)
			t.v = calloc(CONTENT_VERSIONS_MAX, sizeof(*t.v));
		if (!t.v) {
			err = -ENOMEM;
			goto cleanup;
		}
		if (t.n >= CONTENT_VERSIONS_MAX) {
			err = -ENOSPC;
			goto cleanup;
		}
		t.v[t.n].name = strdup(bundle_name);
		if (!t.v[t.n].name) {
			err = -ENOMEM;
			goto cleanup;
		}
		t.v[t.n++].version = version;
	}
	err = vtab__write(&t, state_dir);
cleanup:
	vtab__free(&t);
	free(path);
	close(lfd);	/* releases the lock */
	return err;
}
