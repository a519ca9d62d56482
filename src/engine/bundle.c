/*
 * Content bundles: reading and checking the manifest, verifying every file
 * against it before anything is parsed, and writing manifests. See
 * engine/bundle.h for the format and what is refused.
 */
#include "engine/bundle.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#include "common/ecs_in.h"
#include "engine/anti_rollback.h"
#include "engine/content_sign.h"
#include "engine/sigma.h"
#include "ringward/schema.h"

static const char *const manifest_keys[] = {
	"format", "name", "version", "schema", "min_sensor", "files", "expires",
};
enum { K_FORMAT, K_NAME, K_VERSION, K_SCHEMA, K_MIN_SENSOR, K_FILES, K_EXPIRES, K__COUNT };
#define K__REQUIRED	K_EXPIRES	/* keys before it are required */

/* ---- small helpers ---- */

static bool is_rule_file(const char *path)
{
	size_t n = strlen(path);

	return (n > 4 && !strcmp(path + n - 4, ".yml")) ||
	       (n > 5 && !strcmp(path + n - 5, ".yaml"));
}

static char *join(const char *a, const char *b)
{
	char *s;

	return asprintf(&s, "%s/%s", a, b) < 0 ? NULL : s;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = 0;
}

/* 64 lower-case hex digits into 32 bytes. */
static bool unhex_sha(const char *s, size_t n, uint8_t out[32])
{
	if (n != 64)
		return false;
	for (size_t i = 0; i < 64; i++) {
		char c = s[i];
		int v;

		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else
			return false;
		if (i % 2 == 0)
			out[i / 2] = (uint8_t)(v << 4);
		else
			out[i / 2] |= (uint8_t)v;
	}
	return true;
}

/* A decimal integer without sign or leading zeros (YAML 1.1 would read
 * "010" as octal: refuse the ambiguity), at most 18 digits. */
static bool parse_dec(const char *s, size_t n, int64_t *out)
{
	int64_t v = 0;

	if (n == 0 || n > 18 || (n > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* "MAJOR.MINOR.PATCH", each a decimal number of at most 9 digits. */
static bool parse_version(const char *s, long v[3])
{
	for (int i = 0; i < 3; i++) {
		size_t n = 0;

		v[i] = 0;
		while (s[n] >= '0' && s[n] <= '9') {
			if (n == 9)
				return false;
			v[i] = v[i] * 10 + (s[n] - '0');
			n++;
		}
		if (n == 0)
			return false;
		s += n;
		if (i < 2 && *s++ != '.')
			return false;
	}
	return *s == 0;
}

int bundle__version_cmp(const char *a, const char *b, int *cmp)
{
	long va[3], vb[3];

	if (!parse_version(a, va) || !parse_version(b, vb))
		return -EINVAL;
	*cmp = 0;
	for (int i = 0; i < 3 && !*cmp; i++)
		*cmp = va[i] < vb[i] ? -1 : va[i] > vb[i];
	return 0;
}

int bundle__parse_time(const char *s, size_t n, int64_t *t)
{
	int64_t ns;

	/* manifests take one form of RFC 3339: YYYY-MM-DDTHH:MM:SSZ, from
	 * 1970, no leap second; the ECS reader's parser does the rest */
	if (n != 20 || s[10] != 'T' || s[19] != 'Z' || (s[17] == '6' && s[18] == '0') ||
	    ecs__parse_time(s, n, &ns) || ns < 0)
		return -EINVAL;
	*t = ns / 1000000000;
	return 0;
}

void bundle__format_time(int64_t t, char *buf, size_t size)
{
	int64_t days = t / 86400, rem = t % 86400;
	long z, era, doe, yoe, y, doy, mp, d, m;

	if (rem < 0) {
		rem += 86400;
		days--;
	}
	/* civil_from_days */
	z = (long)days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp + (mp < 10 ? 3 : -9);
	y += m <= 2;
	snprintf(buf, size, "%04ld-%02ld-%02ldT%02ld:%02ld:%02ldZ", y, m, d, (long)(rem / 3600),
		 (long)(rem / 60 % 60), (long)(rem % 60));
}

bool bundle__name_ok(const char *s, size_t n, size_t max)
{
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return false;
	}
	return true;
}

/* Why a listed path is unacceptable, or NULL. Paths are relative, with
 * no empty, "." or ".." components, so that none can name a file outside
 * the bundle. */
static const char *bad_path(const char *p, size_t n)
{
	const char *c = p, *end = p + n, *last = p;

	if (n == 0)
		return "an empty path";
	if (n > BUNDLE_MAX_PATH)
		return "a path longer than the limit";
	if (memchr(p, 0, n))
		return "a path with a NUL byte";
	if (p[0] == '/')
		return "an absolute path (paths are relative to the bundle directory)";
	while (c <= end) {
		const char *slash = memchr(c, '/', (size_t)(end - c));
		size_t len = (size_t)((slash ? slash : end) - c);

		if (len == 0)
			return "a path with an empty component ('//' or a trailing '/')";
		if ((len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
			return "a path with a '.' or '..' component";
		last = c;
		if (!slash)
			break;
		c = slash + 1;
	}
	if ((size_t)(end - last) == strlen(BUNDLE_MANIFEST) &&
	    !memcmp(last, BUNDLE_MANIFEST, strlen(BUNDLE_MANIFEST)))
		return last == p ? "the manifest itself (it is not listed)" :
				   "a manifest inside the bundle (bundles do not nest)";
	if (n == strlen(BUNDLE_SIGNATURE) && !memcmp(p, BUNDLE_SIGNATURE, n))
		return "the signature file (it signs the manifest and is not listed)";
	return NULL;
}

int bundle__copy_fd(int in, int out, uint64_t *total, uint64_t max)
{
	char buf[65536];
	int err;

	for (;;) {
		ssize_t r = read(in, buf, sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		*total += (uint64_t)r;
		if (*total > max)
			return -EFBIG;
		err = bundle__write_all(out, buf, (size_t)r);
		if (err)
			return err;
	}
	return fsync(out) ? -errno : 0;
}

int bundle__write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int bundle__write_new(const char *path, unsigned mode, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
	int err;

	if (fd < 0)
		return -errno;
	err = fchmod(fd, (mode_t)mode) ? -errno : bundle__write_all(fd, buf, len);
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (err)
		unlink(path);
	return err;
}

int bundle__read_file(const char *path, size_t max, char **buf, size_t *len)
{
	struct stat st;
	size_t got = 0;
	char *b = NULL;
	int fd, err = 0;

	*buf = NULL;
	*len = 0;
	/* O_NONBLOCK: opening a FIFO must not wait; fstat refuses it next */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return errno == ELOOP ? -EMLINK : -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EINVAL;
		goto cleanup;
	}
	if ((unsigned long long)st.st_size > max) {
		err = -EFBIG;
		goto cleanup;
	}
	b = malloc((size_t)st.st_size + 1);
	if (!b) {
		err = -ENOMEM;
		goto cleanup;
	}
	/* at most the size seen, even if the file grows meanwhile */
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, b + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			goto cleanup;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	b[got] = 0;
	*buf = b;
	*len = got;
	b = NULL;
cleanup:
	free(b);
	close(fd);
	return err;
}

bool bundle__is_bundle(const char *dir)
{
	struct stat st;
	char *p = join(dir, BUNDLE_MANIFEST);
	bool yes = p && lstat(p, &st) == 0 && S_ISREG(st.st_mode);

	free(p);
	return yes;
}

/* ---- the directory walk ---- */

struct flist {
	char **v;	/* relative paths, from malloc() */
	size_t n, cap;
	bool over;	/* more than BUNDLE_MAX_FILES: reported once */
};

static void flist__free(struct flist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int flist__add(struct flist *l, const char *s)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		char **v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n] = strdup(s);
	if (!l->v[l->n])
		return -ENOMEM;
	l->n++;
	return 0;
}

/* Is name, at the top of the bundle, a manifest or signature being
 * written? */
static bool is_manifest_temp(const char *name)
{
	static const char prefix[] = "." BUNDLE_MANIFEST ".";
	static const char sprefix[] = "." BUNDLE_SIGNATURE ".";

	return !strncmp(name, prefix, sizeof(prefix) - 1) ||
	       !strncmp(name, sprefix, sizeof(sprefix) - 1);
}

/*
 * Every regular file under root/rel, as paths relative to root, in sorted
 * order per directory. Symbolic links and special files are errors
 * (reported against their path): a bundle must not reach outside itself.
 * The top-level manifest and signature are left out; so are temporary
 * ones when skip_temp (the writer's own). Returns 0 or -errno (also for errors
 * reported in d).
 */
static int walk(const char *root, const char *rel, int depth, bool skip_temp,
		struct flist *out, struct diag *d)
{
	char *dir = rel ? join(root, rel) : strdup(root);
	struct dirent **ents = NULL;
	int n = -1, err = 0;

	if (!dir)
		return -ENOMEM;
	if (depth > SIGMA_MAX_DIR_DEPTH) {
		diag__add(d, DIAG_ERROR, dir, 0, 0, NULL,
			  "directories nested deeper than %d levels", SIGMA_MAX_DIR_DEPTH);
		err = -ELOOP;
		goto cleanup;
	}
	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0) {
		err = -errno;
		diag__add(d, DIAG_ERROR, dir, 0, 0, NULL, "cannot read directory: %s",
			  strerror(errno));
		goto cleanup;
	}
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		char *sub = NULL, *full = NULL;
		struct stat st;
		int e = 0;

		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		if (!rel && (!strcmp(name, BUNDLE_MANIFEST) || !strcmp(name, BUNDLE_SIGNATURE) ||
			     (skip_temp && is_manifest_temp(name))))
			continue;
		sub = rel ? join(rel, name) : strdup(name);
		full = sub ? join(root, sub) : NULL;
		if (!full) {
			e = -ENOMEM;
		} else if (lstat(full, &st)) {
			e = -errno;
			diag__add(d, DIAG_ERROR, full, 0, 0, NULL, "cannot stat: %s", strerror(errno));
		} else if (S_ISLNK(st.st_mode)) {
			e = -EINVAL;
			diag__add(d, DIAG_ERROR, full, 0, 0, NULL, "symbolic link in a bundle "
				  "(a bundle holds regular files and directories only)");
		} else if (S_ISDIR(st.st_mode)) {
			e = walk(root, sub, depth + 1, skip_temp, out, d);
		} else if (!S_ISREG(st.st_mode)) {
			e = -EINVAL;
			diag__add(d, DIAG_ERROR, full, 0, 0, NULL, "special file in a bundle "
				  "(a bundle holds regular files and directories only)");
		} else if (out->n >= BUNDLE_MAX_FILES) {
			if (!out->over)
				diag__add(d, DIAG_ERROR, root, 0, 0, NULL, "more than %d files in "
					  "a bundle", BUNDLE_MAX_FILES);
			out->over = true;
			e = -E2BIG;
		} else {
			e = flist__add(out, sub);
		}
		if (e == -ENOMEM)
			diag__add(d, DIAG_ERROR, dir, 0, 0, NULL, "out of memory");
		if (e && !err)
			err = e;
		free(sub);
		free(full);
	}
cleanup:
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	free(dir);
	return err;
}

/* ---- reading the manifest ---- */

struct mctx {
	const char *file;
	yaml_document_t *doc;
	struct diag *d;
	int errors;
};

static void merr(struct mctx *c, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void merr(struct mctx *c, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag__vadd(c->d, DIAG_ERROR, c->file, n ? (unsigned)n->start_mark.line + 1 : 0,
		   n ? (unsigned)n->start_mark.column + 1 : 0, NULL, fmt, ap);
	va_end(ap);
	c->errors++;
}

static const char *sv(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static size_t sl(const yaml_node_t *n)
{
	return n->data.scalar.length;
}

/* A plain (unquoted) scalar: numbers must be written as numbers. */
static bool plain(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static char *mdup(struct mctx *c, const yaml_node_t *n)
{
	char *s = strndup(sv(n), sl(n));

	if (!s)
		merr(c, n, "out of memory");
	return s;
}

struct eref {
	const struct bundle_entry *e;
};

static int cmp_entry(const void *a, const void *b)
{
	const struct bundle_entry *x = ((const struct eref *)a)->e, *y = ((const struct eref *)b)->e;
	int r = strcmp(x->path, y->path);

	if (r)
		return r;
	return x->line < y->line ? -1 : x->line > y->line;
}

static void read_files(struct mctx *c, struct bundle_manifest *m, yaml_node_t *v)
{
	yaml_node_pair_t *p;
	size_t n;

	if (v->type != YAML_MAPPING_NODE) {
		merr(c, v, "'files' must be a mapping of path: sha256");
		return;
	}
	n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
	if (n > BUNDLE_MAX_FILES) {
		merr(c, v, "%zu files listed, more than the limit of %d", n, BUNDLE_MAX_FILES);
		return;
	}
	m->files = calloc(n ? n : 1, sizeof(*m->files));
	if (!m->files) {
		merr(c, v, "out of memory");
		return;
	}
	for (p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *h = yaml_document_get_node(c->doc, p->value);
		struct bundle_entry *e = &m->files[m->n_files];
		const char *why;

		if (!k || !h)
			continue;
		if (k->type != YAML_SCALAR_NODE) {
			merr(c, k, "a file path must be a string");
			continue;
		}
		why = bad_path(sv(k), sl(k));
		if (why) {
			merr(c, k, "bad file path '%.*s': %s", (int)(sl(k) > 200 ? 200 : sl(k)),
			     sv(k), why);
			continue;
		}
		if (h->type != YAML_SCALAR_NODE || !unhex_sha(sv(h), sl(h), e->sha256)) {
			merr(c, h, "sha256 of '%s' must be 64 lower-case hex digits", sv(k));
			continue;
		}
		e->path = mdup(c, k);
		if (!e->path)
			continue;
		e->line = (unsigned)k->start_mark.line + 1;
		e->col = (unsigned)k->start_mark.column + 1;
		m->n_files++;
	}
	/* a path listed twice: report every later one */
	if (m->n_files > 1) {
		struct eref *v2 = malloc(m->n_files * sizeof(*v2));

		if (!v2) {
			merr(c, v, "out of memory");
			return;
		}
		for (size_t i = 0; i < m->n_files; i++)
			v2[i].e = &m->files[i];
		qsort(v2, m->n_files, sizeof(*v2), cmp_entry);
		for (size_t i = 1; i < m->n_files; i++)
			if (!strcmp(v2[i].e->path, v2[i - 1].e->path)) {
				diag__add(c->d, DIAG_ERROR, c->file, v2[i].e->line, v2[i].e->col,
					  NULL, "file '%s' listed twice (first at line %u)",
					  v2[i].e->path, v2[i - 1].e->line);
				c->errors++;
			}
		free(v2);
	}
}

static void read_key(struct mctx *c, struct bundle_manifest *m, int key, yaml_node_t *v)
{
	int64_t n;

	if (key != K_FILES && v->type != YAML_SCALAR_NODE) {
		merr(c, v, "'%s' must be a single value", manifest_keys[key]);
		return;
	}
	switch (key) {
	case K_FORMAT:
		if (!plain(v) || !parse_dec(sv(v), sl(v), &n) || n != BUNDLE_FORMAT)
			merr(c, v, "manifest format '%s' is not one this sensor reads (format %d)",
			     sv(v), BUNDLE_FORMAT);
		break;
	case K_NAME:
		if (!bundle__name_ok(sv(v), sl(v), BUNDLE_MAX_NAME))
			merr(c, v, "bad bundle name '%.*s': 1 to %d letters, digits, '.', '_' or "
			     "'-', starting with a letter or digit", (int)(sl(v) > 200 ? 200 : sl(v)),
			     sv(v), BUNDLE_MAX_NAME);
		else
			m->name = mdup(c, v);
		break;
	case K_VERSION:
		m->version_line = (unsigned)v->start_mark.line + 1;
		m->version_col = (unsigned)v->start_mark.column + 1;
		if (!plain(v) || !parse_dec(sv(v), sl(v), &n) || n < 1)
			merr(c, v, "bundle version '%s' must be a positive integer (no quotes, "
			     "sign or leading zeros)", sv(v));
		else
			m->version = n;
		break;
	case K_SCHEMA:
		m->schema_line = (unsigned)v->start_mark.line + 1;
		m->schema_col = (unsigned)v->start_mark.column + 1;
		if (!plain(v) || !parse_dec(sv(v), sl(v), &n) || n < 1 || n > INT_MAX)
			merr(c, v, "schema version '%s' must be a positive integer", sv(v));
		else
			m->schema = (int)n;
		break;
	case K_MIN_SENSOR: {
		long ver[3];

		m->sensor_line = (unsigned)v->start_mark.line + 1;
		m->sensor_col = (unsigned)v->start_mark.column + 1;
		if (strlen(sv(v)) != sl(v) || !parse_version(sv(v), ver))
			merr(c, v, "minimum sensor version '%s' must be MAJOR.MINOR.PATCH",
			     sv(v));
		else
			m->min_sensor = mdup(c, v);
		break;
	}
	case K_FILES:
		read_files(c, m, v);
		break;
	case K_EXPIRES:
		m->expires_line = (unsigned)v->start_mark.line + 1;
		m->expires_col = (unsigned)v->start_mark.column + 1;
		if (bundle__parse_time(sv(v), sl(v), &m->expires))
			merr(c, v, "expiry '%.*s' must be an RFC 3339 UTC time, "
			     "YYYY-MM-DDTHH:MM:SSZ", (int)(sl(v) > 64 ? 64 : sl(v)), sv(v));
		break;
	}
}

static void read_root(struct mctx *c, struct bundle_manifest *m, yaml_node_t *root)
{
	yaml_node_t *seen[K__COUNT] = { 0 };

	if (root->type != YAML_MAPPING_NODE) {
		merr(c, root, "a bundle manifest is a mapping (format, name, version, schema, "
		     "min_sensor, files)");
		return;
	}
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
	     p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
		int key = -1;

		if (!k || !v)
			continue;
		if (k->type == YAML_SCALAR_NODE)
			for (int i = 0; i < K__COUNT; i++)
				if (sl(k) == strlen(manifest_keys[i]) &&
				    !memcmp(sv(k), manifest_keys[i], sl(k)))
					key = i;
		if (key < 0) {
			merr(c, k, "unknown key '%s' in a bundle manifest (known: format, name, "
			     "version, schema, min_sensor, files, expires)",
			     k->type == YAML_SCALAR_NODE ? sv(k) : "?");
			continue;
		}
		if (seen[key]) {
			merr(c, k, "key '%s' given twice (first at line %u)", manifest_keys[key],
			     (unsigned)seen[key]->start_mark.line + 1);
			continue;
		}
		seen[key] = k;
		read_key(c, m, key, v);
	}
	for (int i = 0; i < K__REQUIRED; i++)
		if (!seen[i])
			merr(c, root, "missing key '%s' in the bundle manifest", manifest_keys[i]);
}

void bundle_manifest__free(struct bundle_manifest *m)
{
	if (!m)
		return;
	free(m->name);
	free(m->min_sensor);
	for (size_t i = 0; i < m->n_files; i++)
		free(m->files[i].path);
	free(m->files);
	memset(m, 0, sizeof(*m));
}

/* Read the manifest's bytes (path is dir/BUNDLE_MANIFEST); the reasons
 * for a failure in d. */
static int read_manifest_bytes(const char *path, char **buf, size_t *len, struct diag *d)
{
	int err = bundle__read_file(path, BUNDLE_MAX_MANIFEST, buf, len);

	if (err == -EFBIG)
		diag__add(d, DIAG_ERROR, path, 0, 0, NULL, "manifest is larger than the limit of %d "
			  "bytes", BUNDLE_MAX_MANIFEST);
	else if (err == -EMLINK || err == -EINVAL)
		diag__add(d, DIAG_ERROR, path, 0, 0, NULL, "manifest is not a regular file");
	else if (err)
		diag__add(d, DIAG_ERROR, path, 0, 0, NULL, "cannot read manifest: %s",
			  strerror(-err));
	return err;
}

int bundle_manifest__read(struct bundle_manifest *m, const char *dir, struct diag *d)
{
	char *path = join(dir, BUNDLE_MANIFEST), *buf = NULL;
	size_t len;
	int err;

	memset(m, 0, sizeof(*m));
	if (!path) {
		diag__add(d, DIAG_ERROR, dir, 0, 0, NULL, "out of memory");
		return -ENOMEM;
	}
	err = read_manifest_bytes(path, &buf, &len, d);
	if (!err)
		err = bundle_manifest__parse(m, path, buf, len, d);
	free(buf);
	free(path);
	return err;
}

int bundle_manifest__parse(struct bundle_manifest *m, const char *path, const char *buf,
			   size_t len, struct diag *d)
{
	struct mctx c = { .d = d, .file = path };
	yaml_parser_t parser;
	yaml_document_t doc;
	bool parser_ok = false, doc_ok = false;
	int err = 0;

	memset(m, 0, sizeof(*m));
	if (len > BUNDLE_MAX_MANIFEST) {
		diag__add(d, DIAG_ERROR, path, 0, 0, NULL, "manifest is larger than the limit of %d "
			  "bytes", BUNDLE_MAX_MANIFEST);
		return -EFBIG;
	}
	if (!yaml_parser_initialize(&parser)) {
		err = -ENOMEM;
		diag__add(d, DIAG_ERROR, path, 0, 0, NULL, "out of memory");
		goto cleanup;
	}
	parser_ok = true;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		diag__add(d, DIAG_ERROR, path, (unsigned)parser.problem_mark.line + 1,
			  (unsigned)parser.problem_mark.column + 1, NULL, "bad YAML: %s%s%s",
			  parser.problem ? parser.problem : "parse error",
			  parser.context ? " " : "", parser.context ? parser.context : "");
		err = -EINVAL;
		goto cleanup;
	}
	doc_ok = true;
	c.doc = &doc;
	if (!yaml_document_get_root_node(&doc)) {
		diag__add(d, DIAG_ERROR, path, 0, 0, NULL, "manifest is empty");
		err = -EINVAL;
		goto cleanup;
	}
	read_root(&c, m, yaml_document_get_root_node(&doc));
	yaml_document_delete(&doc);
	doc_ok = false;
	/* exactly one document */
	if (!yaml_parser_load(&parser, &doc)) {
		diag__add(d, DIAG_ERROR, path, (unsigned)parser.problem_mark.line + 1,
			  (unsigned)parser.problem_mark.column + 1, NULL, "bad YAML: %s",
			  parser.problem ? parser.problem : "parse error");
		c.errors++;
	} else {
		doc_ok = true;
		if (yaml_document_get_root_node(&doc))
			merr(&c, yaml_document_get_root_node(&doc),
			     "a manifest is one YAML document; a second one starts here");
	}
	err = c.errors ? -EINVAL : 0;
cleanup:
	if (doc_ok)
		yaml_document_delete(&doc);
	if (parser_ok)
		yaml_parser_delete(&parser);
	return err;
}

int bundle_manifest__check_sensor(const struct bundle_manifest *m, const char *manifest_path,
				  struct diag *d)
{
	int cmp = 0, err = 0;

	if (m->schema != RW_SCHEMA_VERSION) {
		diag__add(d, DIAG_ERROR, manifest_path, m->schema_line, m->schema_col, NULL,
			  "bundle '%s' targets event schema %d; this sensor supplies schema %d",
			  m->name ? m->name : "?", m->schema, RW_SCHEMA_VERSION);
		err = -EINVAL;
	}
	if (!m->min_sensor || bundle__version_cmp(m->min_sensor, RW_SENSOR_VERSION, &cmp) ||
	    cmp > 0) {
		diag__add(d, DIAG_ERROR, manifest_path, m->sensor_line, m->sensor_col, NULL,
			  "bundle '%s' needs sensor version %s or newer; this sensor is %s",
			  m->name ? m->name : "?", m->min_sensor ? m->min_sensor : "?",
			  RW_SENSOR_VERSION);
		err = -EINVAL;
	}
	return err;
}

/* ---- loading ---- */

void content_info__free(struct content_info *ci)
{
	if (!ci)
		return;
	free((char *)ci->path);
	free((char *)ci->name);
	free((char *)ci->min_sensor);
	free((char *)ci->key_id);
	memset(ci, 0, sizeof(*ci));
}

static int cmp_eref_path(const void *a, const void *b)
{
	return strcmp(((const struct eref *)a)->e->path, ((const struct eref *)b)->e->path);
}

/* Mark the listed entries found by the walk; report the others. */
static int match_walk(const struct bundle_manifest *m, const char *dir, const struct flist *fl,
		      struct diag *d, const char *mpath)
{
	struct eref *idx = malloc((m->n_files ? m->n_files : 1) * sizeof(*idx));
	int err = 0;

	if (!idx) {
		diag__add(d, DIAG_ERROR, dir, 0, 0, NULL, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->n_files; i++)
		idx[i].e = &m->files[i];
	qsort(idx, m->n_files, sizeof(*idx), cmp_eref_path);
	for (size_t i = 0; i < fl->n; i++) {
		struct bundle_entry key = { .path = fl->v[i] };
		struct eref k = { &key }, *hit;

		hit = bsearch(&k, idx, m->n_files, sizeof(*idx), cmp_eref_path);
		if (hit) {
			((struct bundle_entry *)hit->e)->seen = true;
			continue;
		}
		{
			char *full = join(dir, fl->v[i]);

			diag__add(d, DIAG_ERROR, full ? full : dir, 0, 0, NULL,
				  "file is not listed in the bundle manifest %s (refusing a "
				  "bundle with unlisted files)", mpath);
			free(full);
		}
		err = -EINVAL;
	}
	free(idx);
	return err;
}

/* Read, verify and (for rule files) parse one listed file. */
static void load_entry(struct sigma_loader *ld, const char *dir, const char *mpath,
		       const struct bundle_entry *e, struct content_info *info)
{
	bool rule = is_rule_file(e->path);
	char *full = join(dir, e->path), *buf = NULL;
	uint8_t sha[32];
	char got[65], want[65];
	size_t len;
	int err;

	if (!full) {
		diag__add(ld->diag, DIAG_ERROR, dir, 0, 0, NULL, "out of memory");
		return;
	}
	err = bundle__read_file(full, rule ? SIGMA_MAX_FILE_SIZE : BUNDLE_MAX_FILE_SIZE, &buf,
				&len);
	if (err == -EFBIG) {
		diag__add(ld->diag, DIAG_ERROR, full, 0, 0, NULL, "file is larger than the limit "
			  "of %d bytes", rule ? SIGMA_MAX_FILE_SIZE : BUNDLE_MAX_FILE_SIZE);
		goto cleanup;
	}
	if (err) {
		diag__add(ld->diag, DIAG_ERROR, full, 0, 0, NULL, "cannot read: %s",
			  err == -EMLINK ? "a symbolic link" : err == -EINVAL ?
			  "not a regular file" : strerror(-err));
		goto cleanup;
	}
	crypto_hash_sha256(sha, (const unsigned char *)buf, len);
	if (sodium_memcmp(sha, e->sha256, sizeof(sha)) != 0) {
		hex(sha, sizeof(sha), got);
		hex(e->sha256, sizeof(e->sha256), want);
		diag__add(ld->diag, DIAG_ERROR, full, 0, 0, NULL,
			  "sha256 %s does not match the manifest (%s:%u:%u lists %s); the file "
			  "is %s", got, mpath, e->line, e->col, want, rule ? "not parsed" :
			  "refused");
		goto cleanup;
	}
	if (rule && ld->n_rules <= SIGMA_MAX_RULES) {
		info->rule_files++;
		ld->n_files++;
		sigma__load_buffer(ld, full, buf, len);
	}
cleanup:
	free(buf);
	free(full);
}

/* The policy's signature requirement: the manifest bytes are verified
 * before anything parses them. 0 or -errno (reported). */
static int check_signature(struct sigma_loader *ld, const struct sign_trust *trust,
			   const char *mpath, const char *dir, const char *mbuf, size_t mlen,
			   struct content_info *info)
{
	char *spath = join(dir, BUNDLE_SIGNATURE), *sbuf = NULL;
	const struct sign_key *signer = NULL;
	size_t slen = 0;
	int err;

	if (!spath) {
		diag__add(ld->diag, DIAG_ERROR, dir, 0, 0, NULL, "out of memory");
		return -ENOMEM;
	}
	err = bundle__read_file(spath, SIGN_MAX_FILE, &sbuf, &slen);
	if (err && err != -ENOENT) {
		diag__add(ld->diag, DIAG_ERROR, spath, 0, 0, NULL, "cannot read the signature: %s; "
			  "refused, nothing in the bundle is parsed", err == -EMLINK ?
			  "a symbolic link" : err == -EINVAL ? "not a regular file" : err == -EFBIG ?
			  "larger than a signature file" : strerror(-err));
		goto cleanup;
	}
	err = sign__verify(trust, mpath, mbuf, mlen, spath, err ? NULL : sbuf, slen, &signer,
			   ld->diag);
	if (!err) {
		info->key_id = strdup(signer->id);
		if (!info->key_id) {
			diag__add(ld->diag, DIAG_ERROR, dir, 0, 0, NULL, "out of memory");
			err = -ENOMEM;
		}
	}
cleanup:
	free(sbuf);
	free(spath);
	return err;
}

/* Expiry and anti-rollback, before any file of the bundle is read. */
static int check_policy(struct sigma_loader *ld, const struct bundle_policy *pol,
			const struct bundle_manifest *m, const char *mpath, struct content_info *info)
{
	int64_t now = pol && pol->now ? pol->now : (int64_t)time(NULL), hi = 0;
	bool lkg = pol && pol->last_known_good;
	char when[32];
	int err = 0, e;

	if (m->expires && now >= m->expires) {
		info->expired = true;
		bundle__format_time(m->expires, when, sizeof(when));
		if (!lkg) {
			diag__add(ld->diag, DIAG_ERROR, mpath, m->expires_line, m->expires_col, NULL,
				  "bundle '%s' expired at %s: refused for activation (running "
				  "content stays; publish a newer bundle)", m->name, when);
			err = -EKEYEXPIRED;
		}
	}
	if (!pol || !pol->versions_dir)
		return err;
	e = content_version__highest(pol->versions_dir, m->name, &hi);
	if (e) {
		diag__add(ld->diag, DIAG_ERROR, pol->versions_dir, 0, 0, NULL, e == -EBADMSG ?
			  "anti-rollback state " CONTENT_VERSIONS_FILE " is damaged: refusing to "
			  "guess which versions are older (restore it, or remove it to accept "
			  "any version again)%s" : "cannot read anti-rollback state "
			  CONTENT_VERSIONS_FILE ": %s", e == -EBADMSG ? "" : strerror(-e));
		return e;
	}
	info->highest_version = hi;
	if (m->version < hi && !lkg) {
		diag__add(ld->diag, DIAG_ERROR, mpath, m->version_line, m->version_col, NULL,
			  "bundle '%s' version %lld is older than version %lld, the highest "
			  "accepted (anti-rollback): refused", m->name, (long long)m->version,
			  (long long)hi);
		err = -ESTALE;
	}
	return err;
}

int bundle__load(struct sigma_loader *ld, const char *dir, const struct bundle_policy *pol,
		 struct content_info *info)
{
	struct bundle_manifest m = { 0 };
	struct flist fl = { 0 };
	size_t errors_before = ld->diag->n_errors, mlen = 0;
	char *mpath = join(dir, BUNDLE_MANIFEST), *mbuf = NULL;
	int err;

	memset(info, 0, sizeof(*info));
	if (!mpath || !(info->path = strdup(dir))) {
		diag__add(ld->diag, DIAG_ERROR, dir, 0, 0, NULL, "out of memory");
		free(mpath);
		return -ENOMEM;
	}
	if (sodium_init() < 0) {
		diag__add(ld->diag, DIAG_ERROR, dir, 0, 0, NULL, "cannot initialise libsodium");
		free(mpath);
		return -ENOSYS;
	}
	/* the manifest is read once: the bytes whose signature is checked
	 * are the bytes parsed */
	if (read_manifest_bytes(mpath, &mbuf, &mlen, ld->diag))
		goto cleanup;
	if (pol && pol->trust && pol->trust->required &&
	    check_signature(ld, pol->trust, mpath, dir, mbuf, mlen, info))
		goto cleanup;
	err = bundle_manifest__parse(&m, mpath, mbuf, mlen, ld->diag);
	info->name = m.name ? strdup(m.name) : NULL;
	info->min_sensor = m.min_sensor ? strdup(m.min_sensor) : NULL;
	info->version = m.version;
	info->schema = m.schema;
	info->files = m.n_files;
	info->expires = m.expires;
	/* content for another schema or a newer sensor is not even parsed:
	 * its fields would be misread, which is how 19 July 2024 happened */
	if (err || bundle_manifest__check_sensor(&m, mpath, ld->diag))
		goto cleanup;
	if (check_policy(ld, pol, &m, mpath, info))
		goto cleanup;
	walk(dir, NULL, 0, false, &fl, ld->diag);
	match_walk(&m, dir, &fl, ld->diag, mpath);
	for (size_t i = 0; i < m.n_files; i++) {
		const struct bundle_entry *e = &m.files[i];

		if (!e->seen) {
			diag__add(ld->diag, DIAG_ERROR, mpath, e->line, e->col, NULL,
				  "listed file '%s' is missing from the bundle", e->path);
			continue;
		}
		load_entry(ld, dir, mpath, e, info);
	}
cleanup:
	flist__free(&fl);
	bundle_manifest__free(&m);
	free(mbuf);
	free(mpath);
	return ld->diag->n_errors != errors_before ? -EINVAL : 0;
}

/* ---- writing ---- */

struct obuf {
	char *b;
	size_t n, cap;
	bool oom;
};

static int obuf_write(void *ctx, unsigned char *data, size_t size)
{
	struct obuf *o = ctx;

	if (o->cap - o->n < size) {
		size_t cap = o->cap ? o->cap : 4096;
		char *p;

		while (cap - o->n < size)
			cap *= 2;
		p = realloc(o->b, cap);
		if (!p) {
			o->oom = true;
			return 0;
		}
		o->b = p;
		o->cap = cap;
	}
	memcpy(o->b + o->n, data, size);
	o->n += size;
	return 1;
}

static bool emit_scalar(yaml_emitter_t *em, const char *s, yaml_scalar_style_t style)
{
	yaml_event_t ev;

	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
					  style))
		return false;
	return yaml_emitter_emit(em, &ev);
}

static bool emit_simple(yaml_emitter_t *em, int kind)
{
	yaml_event_t ev;
	int ok;

	switch (kind) {
	case 0: ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING); break;
	case 1: ok = yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1); break;
	case 2: ok = yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
							 YAML_BLOCK_MAPPING_STYLE); break;
	case 3: ok = yaml_mapping_end_event_initialize(&ev); break;
	case 4: ok = yaml_document_end_event_initialize(&ev, 1); break;
	default: ok = yaml_stream_end_event_initialize(&ev); break;
	}
	return ok && yaml_emitter_emit(em, &ev);
}

/* The manifest text for these files and hashes (hex), into o. */
static int emit_manifest(struct obuf *o, const struct bundle_write *w, const struct flist *fl,
			 char (*hexes)[65])
{
	static const char head[] =
		"# ringward content bundle manifest, written by `ringward content manifest`.\n"
		"# Every file of the bundle with its sha256: a file not listed here, or whose\n"
		"# hash differs, makes the whole bundle refuse to load.\n";
	yaml_emitter_t em;
	char num[32], schema[16], exp[32];
	bool ok;

	if (!obuf_write(o, (unsigned char *)head, sizeof(head) - 1))
		return -ENOMEM;
	if (!yaml_emitter_initialize(&em))
		return -ENOMEM;
	yaml_emitter_set_output(&em, obuf_write, o);
	yaml_emitter_set_unicode(&em, 1);
	yaml_emitter_set_width(&em, -1);
	snprintf(num, sizeof(num), "%lld", (long long)w->version);
	snprintf(schema, sizeof(schema), "%d", w->schema ? w->schema : RW_SCHEMA_VERSION);
	ok = emit_simple(&em, 0) && emit_simple(&em, 1) && emit_simple(&em, 2) &&
	     emit_scalar(&em, "format", YAML_PLAIN_SCALAR_STYLE) &&
	     emit_scalar(&em, "1", YAML_PLAIN_SCALAR_STYLE) &&
	     emit_scalar(&em, "name", YAML_PLAIN_SCALAR_STYLE) &&
	     emit_scalar(&em, w->name, YAML_PLAIN_SCALAR_STYLE) &&
	     emit_scalar(&em, "version", YAML_PLAIN_SCALAR_STYLE) &&
	     emit_scalar(&em, num, YAML_PLAIN_SCALAR_STYLE) &&
	     emit_scalar(&em, "schema", YAML_PLAIN_SCALAR_STYLE) &&
	     emit_scalar(&em, schema, YAML_PLAIN_SCALAR_STYLE) &&
	     emit_scalar(&em, "min_sensor", YAML_PLAIN_SCALAR_STYLE) &&
	     emit_scalar(&em, w->min_sensor ? w->min_sensor : RW_SENSOR_VERSION,
			 YAML_PLAIN_SCALAR_STYLE);
	if (ok && w->expires) {
		bundle__format_time(w->expires, exp, sizeof(exp));
		ok = emit_scalar(&em, "expires", YAML_PLAIN_SCALAR_STYLE) &&
		     emit_scalar(&em, exp, YAML_PLAIN_SCALAR_STYLE);
	}
	ok = ok && emit_scalar(&em, "files", YAML_PLAIN_SCALAR_STYLE) && emit_simple(&em, 2);
	/* paths double-quoted: the emitter escapes what YAML needs */
	for (size_t i = 0; ok && i < fl->n; i++)
		ok = emit_scalar(&em, fl->v[i], YAML_DOUBLE_QUOTED_SCALAR_STYLE) &&
		     emit_scalar(&em, hexes[i], YAML_PLAIN_SCALAR_STYLE);
	ok = ok && emit_simple(&em, 3) && emit_simple(&em, 3) && emit_simple(&em, 4) &&
	     emit_simple(&em, 5) && yaml_emitter_flush(&em);
	yaml_emitter_delete(&em);
	if (o->oom)
		return -ENOMEM;
	return ok ? 0 : -EINVAL;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int err = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd))
		err = -errno;
	close(fd);
	return err;
}

int bundle__write_file_atomic(const char *dir, const char *name, const char *buf, size_t len,
			      unsigned mode, struct diag *d)
{
	char *tmp = NULL, *dst = join(dir, name);
	int fd = -1, err = 0;

	if (!dst || asprintf(&tmp, "%s/.%s.XXXXXX", dir, name) < 0) {
		tmp = NULL;
		err = -ENOMEM;
		goto cleanup;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		err = -errno;
		free(tmp);
		tmp = NULL;
		goto cleanup;
	}
	err = bundle__write_all(fd, buf, len);
	if (err)
		goto cleanup;
	if (fchmod(fd, (mode_t)mode) || fsync(fd)) {
		err = -errno;
		goto cleanup;	/* closed there */
	}
	err = close(fd) ? -errno : 0;
	fd = -1;
	if (err)
		goto cleanup;
	if (rename(tmp, dst)) {
		err = -errno;
		goto cleanup;
	}
	free(tmp);
	tmp = NULL;
	err = fsync_dir(dir);
cleanup:
	if (err)
		diag__add(d, DIAG_ERROR, dst ? dst : dir, 0, 0, NULL, "cannot write: %s",
			  strerror(-err));
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	free(dst);
	return err;
}

int bundle__write_manifest(const char *dir, const struct bundle_write *w, size_t *n_files,
			   struct diag *d)
{
	struct flist fl = { 0 };
	struct obuf o = { 0 };
	char (*hexes)[65] = NULL;
	size_t errors_before = d->n_errors;
	int err = 0, cmp;
	struct stat st;

	if (n_files)
		*n_files = 0;
	if (!w->name || !bundle__name_ok(w->name, strlen(w->name), BUNDLE_MAX_NAME)) {
		diag__add(d, DIAG_ERROR, NULL, 0, 0, NULL, "bad bundle name '%s': 1 to %d letters, "
			  "digits, '.', '_' or '-', starting with a letter or digit",
			  w->name ? w->name : "", BUNDLE_MAX_NAME);
		return -EINVAL;
	}
	if (w->expires < 0 || w->expires > 253402300799LL) {	/* 9999-12-31T23:59:59Z */
		diag__add(d, DIAG_ERROR, NULL, 0, 0, NULL, "bad expiry time");
		return -EINVAL;
	}
	if (w->version < 1 || w->version > 999999999999999999LL) {
		diag__add(d, DIAG_ERROR, NULL, 0, 0, NULL, "bundle version must be a positive "
			  "integer");
		return -EINVAL;
	}
	if (w->schema < 0 || (w->min_sensor &&
			      bundle__version_cmp(w->min_sensor, w->min_sensor, &cmp))) {
		diag__add(d, DIAG_ERROR, NULL, 0, 0, NULL, "bad schema or minimum sensor version "
			  "(MAJOR.MINOR.PATCH)");
		return -EINVAL;
	}
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		diag__add(d, DIAG_ERROR, dir, 0, 0, NULL, "not a directory");
		return -ENOTDIR;
	}
	if (sodium_init() < 0)
		return -ENOSYS;
	/* versions only go up: a bundle rewritten under the same version would
	 * be two different contents with one name */
	if (bundle__is_bundle(dir) && !w->force) {
		struct bundle_manifest old;
		struct diag quiet;

		diag__init(&quiet);
		if (bundle_manifest__read(&old, dir, &quiet) == 0 && old.version >= w->version) {
			diag__add(d, DIAG_ERROR, dir, 0, 0, NULL, "version %lld is not above the "
				  "current manifest's version %lld (versions only go up; --force "
				  "to override)", (long long)w->version, (long long)old.version);
			err = -EEXIST;
		}
		bundle_manifest__free(&old);
		diag__free(&quiet);
		if (err)
			return err;
	}
	walk(dir, NULL, 0, true, &fl, d);
	if (d->n_errors != errors_before) {
		err = -EINVAL;
		goto cleanup;
	}
	hexes = calloc(fl.n ? fl.n : 1, sizeof(*hexes));
	if (!hexes) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < fl.n; i++) {
		char *full = join(dir, fl.v[i]), *buf = NULL;
		uint8_t sha[32];
		size_t len;
		const char *why;
		int e;

		if (!full) {
			err = -ENOMEM;
			goto cleanup;
		}
		why = bad_path(fl.v[i], strlen(fl.v[i]));
		e = why ? -EINVAL : bundle__read_file(full, BUNDLE_MAX_FILE_SIZE, &buf, &len);
		if (e) {
			diag__add(d, DIAG_ERROR, full, 0, 0, NULL, "cannot add to the bundle: %s",
				  why ? why : e == -EFBIG ? "larger than the limit" : strerror(-e));
			err = e;
		} else {
			crypto_hash_sha256(sha, (const unsigned char *)buf, len);
			hex(sha, sizeof(sha), hexes[i]);
		}
		free(buf);
		free(full);
	}
	if (err)
		goto cleanup;
	err = emit_manifest(&o, w, &fl, hexes);
	if (err) {
		diag__add(d, DIAG_ERROR, dir, 0, 0, NULL, "cannot write the manifest: %s",
			  err == -ENOMEM ? "out of memory" : "a file name is not valid UTF-8");
		goto cleanup;
	}
	err = bundle__write_file_atomic(dir, BUNDLE_MANIFEST, o.b, o.n, 0644, d);
	if (!err && n_files)
		*n_files = fl.n;
	if (!err) {
		/* the old signature covers the old manifest: it could only
		 * ever fail now, so it goes, and the bundle is signed again */
		char *sig = join(dir, BUNDLE_SIGNATURE);

		if (sig && unlink(sig) == 0)
			diag__add(d, DIAG_NOTE, sig, 0, 0, NULL, "removed: it signed the previous "
				  "manifest (sign the bundle again)");
		free(sig);
	}
cleanup:
	if (err == -ENOMEM)
		diag__add(d, DIAG_ERROR, dir, 0, 0, NULL, "out of memory");
	free(o.b);
	free(hexes);
	flist__free(&fl);
	return err ? err : d->n_errors != errors_before ? -EINVAL : 0;
}
