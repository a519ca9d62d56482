/*
 * Guardrails on rules that act (engine/guardrails.h): three-valued
 * evaluation of each acting rule against each protected target.
 */
#include "engine/guardrails.h"

#include "common/protected.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <glob.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/sigma.h"
#include "engine/sigma_match.h"

/* Kleene's three values, ordered so that AND is min and OR is max. */
enum { TV_NO = 0, TV_MAYBE = 1, TV_YES = 2 };

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Which classes an examined field is checked against. */
enum { SCOPE_PROCESS = 1, SCOPE_FILE = 2 };

struct gclass {
	const char *what;	/* "sshd" */
	unsigned scope;		/* SCOPE_PROCESS: processes (and their files);
				 * SCOPE_FILE: files only */
	char **exact;		/* from malloc(), strings too */
	size_t n_exact;
	char **trees;		/* directory trees (no trailing '/') */
	size_t n_trees;
	/* package files: sorted, directories dropped */
	const char **pkg_paths;	/* into pkg_bufs */
	const char **pkg_names;
	size_t n_pkg;
	char **pkg_bufs;	/* from malloc(): the list files' text */
	size_t n_bufs;
};

/* The host's protected targets: every class but the content's. */
struct gset {
	struct gclass cls[16];
	size_t n_cls;
	bool have_pkg;		/* the package class was built */
};
#define HOST_BEFORE_CONTENT	3	/* sensor, configuration, state */

/* What a check examines, in the order classes are named. */
struct gctx {
	const struct gclass *order[20];
	size_t n;
	struct match_scratch *ms;
};

/* guardrails__prepare()'s set, or NULL. */
static struct gset *prepared;

/* The target being examined. */
struct subject {
	uint16_t ecs;		/* the field set to the target */
	bool tree;		/* s is a directory tree root */
	const char *s, *ls;	/* as is, and lower-cased */
	size_t n;
};

/* ---- building the classes ---- */

static int sv_add(char ***v, size_t *n, const char *s)
{
	char **nv;

	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*v)[i], s))
			return 0;
	nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n] = strdup(s);
	if (!nv[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

/* s and, when it resolves elsewhere, its real path (Image is the resolved
 * executable, so a link's target is what a rule sees). */
static int add_exact(struct gclass *c, const char *s)
{
	char real[PATH_MAX];
	int err = sv_add(&c->exact, &c->n_exact, s);

	if (!err && realpath(s, real) && strcmp(real, s))
		err = sv_add(&c->exact, &c->n_exact, real);
	return err;
}

static int add_tree(struct gclass *c, const char *s)
{
	char real[PATH_MAX], buf[PATH_MAX];
	size_t n = strlen(s);
	int err;

	if (n >= sizeof(buf))
		return 0;
	memcpy(buf, s, n + 1);
	while (n > 1 && buf[n - 1] == '/')
		buf[--n] = 0;
	err = sv_add(&c->trees, &c->n_trees, buf);
	if (!err && realpath(buf, real) && strcmp(real, buf))
		err = sv_add(&c->trees, &c->n_trees, real);
	return err;
}

/* The executables under root, as concrete targets: a process is one of
 * them (what is not there cannot run; a later package update may add
 * one, which rules loaded before do not see). Bounded. */
static struct gclass *walk_class;
static int walk_err;

static int exec_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag == FTW_F && S_ISREG(st->st_mode) && (st->st_mode & 0111)) {
		if (walk_class->n_exact >= 4096)
			return 1;
		walk_err = add_exact(walk_class, path);
		if (walk_err)
			return 1;
	}
	return 0;
}

static int add_exec_tree(struct gclass *c, const char *root)
{
	walk_class = c;
	walk_err = 0;
	nftw(root, exec_cb, 16, FTW_PHYS);
	walk_class = NULL;
	return walk_err;
}

static struct gclass *new_class(struct gset *g, const char *what, unsigned scope)
{
	struct gclass *c = &g->cls[g->n_cls++];

	memset(c, 0, sizeof(*c));
	c->what = what;
	c->scope = scope;
	return c;
}

/* exact: concrete targets; trees: for a class of processes, the
 * executables in them; for a class of files, the whole trees. */
static int add_all(struct gclass *c, const char *const *exact, const char *const *trees)
{
	int err = 0;

	for (; exact && *exact && !err; exact++)
		err = add_exact(c, *exact);
	for (; trees && *trees && !err; trees++)
		err = c->scope == SCOPE_PROCESS ? add_exec_tree(c, *trees) : add_tree(c, *trees);
	return err;
}

static int add_loaders(struct gclass *c)
{
	int err = add_all(c, protected_loader_exe, NULL);

	for (size_t i = 0; !err && protected_loader_glob[i]; i++) {
		glob_t gl;

		if (glob(protected_loader_glob[i], GLOB_NOSORT, NULL, &gl) == 0)
			for (size_t k = 0; !err && k < gl.gl_pathc; k++)
				err = add_exact(c, gl.gl_pathv[k]);
		globfree(&gl);
	}
	return err;
}

struct pkgent {
	const char *path, *pkg;
};

static int cmp_pkgent(const void *a, const void *b)
{
	return strcmp(((const struct pkgent *)a)->path, ((const struct pkgent *)b)->path);
}

/* Top-level directories that are links into /usr (merged /usr): a file
 * dpkg lists as /bin/ls runs as /usr/bin/ls, the path Image carries. */
static const char *const merged_dirs[] = { "/bin", "/sbin", "/lib", "/lib32", "/lib64",
					   "/libx32" };
#define N_MERGED (sizeof(merged_dirs) / sizeof(merged_dirs[0]))

static void find_merged(bool merged[N_MERGED])
{
	for (size_t i = 0; i < N_MERGED; i++) {
		char t[64];
		ssize_t n = readlink(merged_dirs[i], t, sizeof(t) - 1);

		merged[i] = false;
		if (n > 0) {
			t[n] = 0;
			/* "usr/bin" or "/usr/bin" for /bin */
			merged[i] = (!strncmp(t, "usr/", 4) && !strcmp(t + 4, merged_dirs[i] + 1)) ||
				    (!strncmp(t, "/usr/", 5) && !strcmp(t + 5, merged_dirs[i] + 1));
		}
	}
}

static int pkg_push(struct pkgent **v, size_t *n, size_t *cap, const char *path,
		    const char *pkg)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 4096;
		struct pkgent *nv = realloc(*v, ncap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = ncap;
	}
	(*v)[(*n)++] = (struct pkgent){ path, pkg };
	return 0;
}

/* Keep s (from malloc()) with the class, to be freed with it. */
static int keep_buf(struct gclass *c, char *s)
{
	char **nb = realloc(c->pkg_bufs, (c->n_bufs + 1) * sizeof(*nb));

	if (!nb) {
		free(s);
		return -ENOMEM;
	}
	c->pkg_bufs = nb;
	c->pkg_bufs[c->n_bufs++] = s;
	return 0;
}

/* path under a merged top-level directory: its /usr twin, or NULL. */
static char *usr_twin(const char *path, const bool merged[N_MERGED])
{
	for (size_t i = 0; i < N_MERGED; i++) {
		size_t l = strlen(merged_dirs[i]);
		char *t;

		if (merged[i] && !strncmp(path, merged_dirs[i], l) && path[l] == '/')
			return asprintf(&t, "/usr%s", path) < 0 ? NULL : t;
	}
	return NULL;
}

/* Read one PKG.list into the class; its text is kept (paths point in). */
static int read_list(struct gclass *c, const char *dir, const char *name, struct pkgent **v,
		     size_t *n, size_t *cap, const bool merged[N_MERGED])
{
	char *path = NULL, *buf = NULL, **nb, *p;
	size_t len = strlen(name) - 5;	/* ".list" */
	FILE *f;
	long size;
	int err = 0;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return -ENOMEM;
	f = fopen(path, "re");
	free(path);
	if (!f)
		return 0;	/* gone meanwhile: nothing to protect */
	if (fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) ||
	    size > 64 * 1024 * 1024) {
		fclose(f);
		return 0;
	}
	/* the package name, then the list's text, in one buffer */
	buf = malloc(len + 1 + (size_t)size + 1);
	nb = realloc(c->pkg_bufs, (c->n_bufs + 1) * sizeof(*nb));
	if (!buf || !nb) {
		free(buf);
		fclose(f);
		if (nb)
			c->pkg_bufs = nb;
		return -ENOMEM;
	}
	c->pkg_bufs = nb;
	c->pkg_bufs[c->n_bufs++] = buf;
	memcpy(buf, name, len);
	buf[len] = 0;
	if (strchr(buf, ':'))
		*strchr(buf, ':') = 0;	/* "libc6:amd64" names package libc6 */
	p = buf + len + 1;
	size = (long)fread(p, 1, (size_t)size, f);
	p[size] = 0;
	fclose(f);
	for (char *line = p, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = 0;
		if (line[0] == '/' && strcmp(line, "/.")) {
			char *twin = usr_twin(line, merged);

			err = pkg_push(v, n, cap, line, buf);
			if (!err && twin) {
				err = keep_buf(c, twin);
				if (!err)
					err = pkg_push(v, n, cap, twin, buf);
			}
			if (err)
				return err;
		}
		if (!nl)
			break;
	}
	return err;
}

/* Is sorted[i] a directory: does any path start with it and a '/'? */
static bool is_dir_entry(const struct pkgent *v, size_t n, size_t i)
{
	size_t plen = strlen(v[i].path), lo = i + 1, hi = n;

	/* first entry >= path + "/" (every entry from i+1 on is > path) */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strncmp(v[mid].path, v[i].path, plen);

		if (c < 0 || (c == 0 && (unsigned char)v[mid].path[plen] < '/'))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && !strncmp(v[lo].path, v[i].path, plen) && v[lo].path[plen] == '/';
}

/* Files owned by installed packages, from dpkg's lists. */
static int add_packages(struct gclass *c, const struct guard_opts *o, struct diag *d)
{
	static const char *const fallback[] = {
		"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/boot",
		NULL,
	};
	const char *dir = o && o->dpkg_info_dir ? o->dpkg_info_dir : GUARD_DPKG_INFO_DIR;
	struct dirent **ents = NULL;
	struct pkgent *v = NULL;
	size_t n = 0, cap = 0, kept = 0;
	bool merged[N_MERGED];
	int ne, err = 0;

	if (!dir[0])
		return 0;
	find_merged(merged);
	ne = scandir(dir, &ents, NULL, alphasort);
	if (ne < 0) {
		if (errno == ENOENT)
			return 0;	/* no dpkg on this host */
		diag__add(d, DIAG_WARNING, dir, 0, 0, NULL, "cannot read the package file lists "
			  "(%s): guardrails protect /usr, /bin, /sbin, /lib*, /etc and /boot in "
			  "their stead", strerror(errno));
		return add_all(c, NULL, fallback);
	}
	for (int i = 0; i < ne; i++) {
		size_t l = strlen(ents[i]->d_name);

		if (!err && ents[i]->d_name[0] != '.' && l > 5 &&
		    !strcmp(ents[i]->d_name + l - 5, ".list"))
			err = read_list(c, dir, ents[i]->d_name, &v, &n, &cap, merged);
		free(ents[i]);
	}
	free(ents);
	if (err)
		goto cleanup;
	qsort(v, n, sizeof(*v), cmp_pkgent);
	c->pkg_paths = malloc((n ? n : 1) * sizeof(*c->pkg_paths));
	c->pkg_names = malloc((n ? n : 1) * sizeof(*c->pkg_names));
	if (!c->pkg_paths || !c->pkg_names) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		if (i && !strcmp(v[i].path, v[i - 1].path))
			continue;	/* shared directories, diversions */
		if (is_dir_entry(v, n, i))
			continue;
		c->pkg_paths[kept] = v[i].path;
		c->pkg_names[kept++] = v[i].pkg;
	}
	c->n_pkg = kept;
cleanup:
	free(v);
	return err;
}

static void gclass__free(struct gclass *c)
{
	for (size_t i = 0; i < c->n_exact; i++)
		free(c->exact[i]);
	free(c->exact);
	for (size_t i = 0; i < c->n_trees; i++)
		free(c->trees[i]);
	free(c->trees);
	for (size_t i = 0; i < c->n_bufs; i++)
		free(c->pkg_bufs[i]);
	free(c->pkg_bufs);
	free(c->pkg_paths);
	free(c->pkg_names);
}

static int build_host(struct gset *g, const struct guard_opts *o, struct diag *d,
		      bool need_files)
{
	static const char *const config[] = { "/etc/ringward", NULL };
	static const char *const state[] = { "/var/lib/ringward", "/run/ringward", NULL };
	static const char *const pmdb[] = { "/var/lib/dpkg", "/var/lib/apt", NULL };
	struct gclass *c;
	char self[PATH_MAX];
	ssize_t sn;
	int err;

	c = new_class(g, "the sensor itself", SCOPE_PROCESS);
	err = add_all(c, protected_sensor_exe, NULL);
	sn = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (!err && sn > 0) {
		self[sn] = 0;
		err = add_exact(c, self);
	}
	if (!err)
		err = add_all(new_class(g, "the sensor's configuration, content and keys",
					SCOPE_FILE), NULL, config);
	if (!err)
		err = add_all(new_class(g, "the sensor's state", SCOPE_FILE), NULL, state);
	/* HOST_BEFORE_CONTENT classes so far */
	if (!err)
		err = add_all(new_class(g, "init/systemd", SCOPE_PROCESS), protected_init_exe,
			      protected_init_tree);
	if (!err)
		err = add_all(new_class(g, "the package manager", SCOPE_PROCESS), protected_pm_exe,
			      protected_pm_tree);
	if (!err)
		err = add_all(new_class(g, "the package manager's database", SCOPE_FILE), NULL,
			      pmdb);
	if (!err)
		err = add_all(new_class(g, "sshd", SCOPE_PROCESS), protected_ssh_exe, protected_ssh_tree);
	if (!err)
		err = add_loaders(new_class(g, "the dynamic loader", SCOPE_PROCESS));
	if (!err && need_files) {
		c = new_class(g, "files owned by installed packages", SCOPE_FILE);
		err = add_packages(c, o, d);
		g->have_pkg = true;
	}
	return err;
}

/* The content being loaded (and what the caller adds): files or trees. */
static int build_content(struct gclass *c, const struct guard_opts *o)
{
	int err = 0;

	memset(c, 0, sizeof(*c));
	c->what = "the sensor's content";
	c->scope = SCOPE_FILE;
	for (size_t i = 0; !err && o && i < o->n_protected_paths; i++) {
		struct stat st;
		const char *pp = o->protected_paths[i];

		err = stat(pp, &st) == 0 && !S_ISDIR(st.st_mode) ? add_exact(c, pp) :
								   add_tree(c, pp);
	}
	return err;
}

static void gset__free(struct gset *g)
{
	for (size_t k = 0; g && k < g->n_cls; k++)
		gclass__free(&g->cls[k]);
}

void guardrails__forget(void)
{
	gset__free(prepared);
	free(prepared);
	prepared = NULL;
}

int guardrails__prepare(const struct guard_opts *o, struct diag *d)
{
	struct gset *g = calloc(1, sizeof(*g));
	int err;

	if (!g)
		return -ENOMEM;
	err = build_host(g, o, d, true);
	if (err) {
		gset__free(g);
		free(g);
		return err;
	}
	guardrails__forget();
	prepared = g;
	return 0;
}

/* ---- three-valued evaluation ---- */

/* Can glob p (its marks; '?' taken as '*', so multi-byte characters never
 * make it miss) match a path of tree root t (t, or t + "/" + anything)? */
static bool glob_meets_tree(const struct pattern *p, const char *t, size_t tn)
{
	size_t pn = p->len;
	uint8_t *cur = calloc(pn + 1, 1), *nxt = calloc(pn + 1, 1);
	bool any = false;

	if (!cur || !nxt) {
		free(cur);
		free(nxt);
		return true;	/* cannot tell: could */
	}
	cur[0] = 1;
	for (size_t k = 0; k <= tn + 1; k++) {
		/* closure: a star matches nothing too */
		for (size_t i = 0; i < pn; i++)
			if (cur[i] && p->wild[i] != PW_LIT)
				cur[i + 1] = 1;
		if (k == tn && cur[pn]) {
			any = true;	/* the root itself */
			break;
		}
		if (k == tn + 1) {
			for (size_t i = 0; i <= pn; i++)
				any |= cur[i];	/* the rest of the glob can match
						 * some continuation */
			break;
		}
		memset(nxt, 0, pn + 1);
		for (size_t i = 0; i < pn; i++) {
			char ch = k < tn ? t[k] : '/';

			if (!cur[i])
				continue;
			if (p->wild[i] != PW_LIT)
				nxt[i] = nxt[i + 1] = 1;
			else if ((char)p->s[i] == ch)
				nxt[i + 1] = 1;
		}
		memcpy(cur, nxt, pn + 1);
	}
	free(cur);
	free(nxt);
	return any;
}

/* One pattern against every path of a tree. */
static int tv_tree(const struct pattern *p, const struct subject *sub)
{
	const char *t = p->cased ? sub->s : sub->ls;
	size_t tn = sub->n, len = p->len;

	switch (p->kind) {
	case PK_ANY:
		return TV_YES;
	case PK_EXISTS:
		return p->num ? TV_YES : TV_NO;
	case PK_NULL:
		return TV_NO;
	case PK_EQ:
		if (len == tn && !memcmp(p->s, t, tn))
			return TV_MAYBE;
		return len > tn && !memcmp(p->s, t, tn) && p->s[tn] == '/' ? TV_MAYBE : TV_NO;
	case PK_PREFIX:
		if (len <= tn && !memcmp(t, p->s, len))
			return TV_YES;
		return len > tn && !memcmp(p->s, t, tn) && p->s[tn] == '/' ? TV_MAYBE : TV_NO;
	case PK_CONTAINS:
		return len == 0 || (len <= tn && memmem(t, tn, p->s, len)) ? TV_YES : TV_MAYBE;
	case PK_GLOB:
		return glob_meets_tree(p, t, tn) ? TV_MAYBE : TV_NO;
	case PK_CIDR:
	case PK_NUM_EQ:
	case PK_LT:
	case PK_LTE:
	case PK_GT:
	case PK_GTE:
		return TV_NO;	/* a path is neither an address nor a number */
	default:		/* suffixes, regexes, field references */
		return TV_MAYBE;
	}
}

/* One pattern against one concrete path, by the sensor's own matcher. */
static int tv_exact(const struct pattern *p, const struct subject *sub, struct match_scratch *ms)
{
	struct fview fv = { .present = true, .s = sub->s, .ls = sub->ls, .n = sub->n };

	switch (p->kind) {
	case PK_REF_EQ:
	case PK_REF_PREFIX:
	case PK_REF_SUFFIX:
	case PK_REF_CONTAINS:
		return TV_MAYBE;	/* the other field is unknown */
	case PK_RE:
		if (!ms || !ms->hs)
			return TV_MAYBE;
		break;
	default:
		break;
	}
	return sigma_pat__match(p, &fv, ms) > 0 ? TV_YES : TV_NO;
}

static int tv_item(const struct rule *r, const struct item *it, const struct subject *sub,
		   struct match_scratch *ms)
{
	int raw = it->all ? TV_YES : TV_NO;

	/* RENAME_TARGET reads the same path or the path it is renamed to:
	 * both are the file a file action acts on */
	if (it->ecs != sub->ecs ||
	    (it->conv != SCONV_ASIS && it->conv != SCONV_RENAME_TARGET))
		return TV_MAYBE;	/* another field: anything */
	if (it->first_group > r->n_groups || it->n_groups > r->n_groups - it->first_group)
		return TV_MAYBE;
	for (uint32_t g = 0; g < it->n_groups; g++) {
		const struct group *gr = &r->groups[it->first_group + g];
		int gv = TV_NO;

		if (gr->first_pat > r->n_pats || gr->n_pats > r->n_pats - gr->first_pat)
			return TV_MAYBE;
		for (uint32_t k = 0; k < gr->n_pats && gv != TV_YES; k++) {
			const struct pattern *p = &r->pats[gr->first_pat + k];

			gv = MAX(gv, sub->tree ? tv_tree(p, sub) : tv_exact(p, sub, ms));
		}
		raw = it->all ? MIN(raw, gv) : MAX(raw, gv);
	}
	/* |neq: the field is present (a target always is) and does not match */
	return it->neg ? TV_YES - raw : raw;
}

static int tv_search(const struct rule *r, uint32_t si, const struct subject *sub,
		     struct match_scratch *ms)
{
	const struct search *s;
	int sv = TV_NO;

	if (si >= r->n_searches)
		return TV_MAYBE;
	s = &r->searches[si];
	if (s->first_map > r->n_maps || s->n_maps > r->n_maps - s->first_map)
		return TV_MAYBE;
	for (uint32_t m = 0; m < s->n_maps && sv != TV_YES; m++) {
		const struct smap *mp = &r->maps[s->first_map + m];
		int mv = TV_YES;

		if (mp->first_item > r->n_items || mp->n_items > r->n_items - mp->first_item)
			return TV_MAYBE;
		for (uint32_t i = 0; i < mp->n_items && mv != TV_NO; i++)
			mv = MIN(mv, tv_item(r, &r->items[mp->first_item + i], sub, ms));
		sv = MAX(sv, mv);
	}
	return sv;
}

static int tv_node(const struct rule *r, uint32_t ni, const struct subject *sub,
		   struct match_scratch *ms, int depth)
{
	const struct cnode *nd;
	int v;

	if (ni >= r->n_nodes || depth > 4 * SIGMA_MAX_SEARCHES)
		return TV_MAYBE;
	nd = &r->nodes[ni];
	switch (nd->kind) {
	case CN_SEARCH:
		return tv_search(r, nd->a, sub, ms);
	case CN_NOT:
		return TV_YES - tv_node(r, nd->a, sub, ms, depth + 1);
	case CN_AND:
		v = tv_node(r, nd->a, sub, ms, depth + 1);
		return v == TV_NO ? v : MIN(v, tv_node(r, nd->b, sub, ms, depth + 1));
	case CN_OR:
		v = tv_node(r, nd->a, sub, ms, depth + 1);
		return v == TV_YES ? v : MAX(v, tv_node(r, nd->b, sub, ms, depth + 1));
	case CN_ONE_OF:
	case CN_ALL_OF:
		if (nd->a > r->n_refs || nd->b > r->n_refs - nd->a)
			return TV_MAYBE;
		v = nd->kind == CN_ALL_OF ? TV_YES : TV_NO;
		for (uint32_t i = 0; i < nd->b; i++) {
			int s = tv_search(r, r->refs[nd->a + i], sub, ms);

			v = nd->kind == CN_ALL_OF ? MIN(v, s) : MAX(v, s);
		}
		return v;
	default:
		return TV_MAYBE;
	}
}

/* The rule's value with field ecs set to path (a tree root when tree). */
static int tv_rule(const struct rule *r, uint16_t ecs, const char *path, bool tree,
		   struct match_scratch *ms)
{
	char low[PATH_MAX];
	size_t n = strlen(path);
	struct subject sub = { .ecs = ecs, .tree = tree, .s = path, .ls = low, .n = n };

	if (n >= sizeof(low))
		return TV_MAYBE;
	for (size_t i = 0; i <= n; i++)
		low[i] = (path[i] >= 'A' && path[i] <= 'Z') ? (char)(path[i] + 32) : path[i];
	return tv_node(r, r->root, &sub, ms, 0);
}

/* ---- the check ---- */

struct hit {
	const struct gclass *c;
	char example[PATH_MAX + 64];
	int value;
};

/* Does r, with field ecs, hit a target of class c? The first hit into h. */
static bool class_hit(const struct rule *r, uint16_t ecs, const struct gclass *c,
		      struct match_scratch *ms, struct hit *h)
{
	int v;

	for (size_t i = 0; i < c->n_exact; i++)
		if ((v = tv_rule(r, ecs, c->exact[i], false, ms)) != TV_NO) {
			snprintf(h->example, sizeof(h->example), "%s", c->exact[i]);
			goto found;
		}
	for (size_t i = 0; i < c->n_trees; i++)
		if ((v = tv_rule(r, ecs, c->trees[i], true, ms)) != TV_NO) {
			snprintf(h->example, sizeof(h->example), "%s/...", c->trees[i]);
			goto found;
		}
	for (size_t i = 0; i < c->n_pkg; i++)
		if ((v = tv_rule(r, ecs, c->pkg_paths[i], false, ms)) != TV_NO) {
			snprintf(h->example, sizeof(h->example), "%s, from package %s",
				 c->pkg_paths[i], c->pkg_names[i]);
			goto found;
		}
	return false;
found:
	h->c = c;
	h->value = v;
	return true;
}

/* The Sigma name of field ecs in r's category ("Image"). */
static const char *field_name(const struct rule *r, uint16_t ecs)
{
	for (size_t i = 0; i < sigma_n_fields; i++)
		if (sigma_fields[i].cat == r->cat && sigma_fields[i].ecs == ecs)
			return sigma_fields[i].name;
	return "?";
}

static bool cat_has(enum sigma_cat cat, enum rw_field ecs)
{
	for (size_t i = 0; i < sigma_n_fields; i++)
		if (sigma_fields[i].cat == cat && sigma_fields[i].ecs == ecs)
			return true;
	return false;
}

static const char *const action_names[] = { "alert", "block", "kill", "quarantine" };

/* The first protected target r could hit, or false. */
static bool rule_hit(struct gctx *g, const struct rule *r, struct hit *h, uint16_t *field,
		     const char **verb)
{
	struct { uint16_t ecs; unsigned scope; const char *verb; } ex[2];
	bool file_cat = cat_has(r->cat, RW_F_FILE_PATH);
	size_t n = 0;

	switch (r->action) {
	case RA_KILL:
		ex[n++] = (typeof(ex[0])){ RW_F_PROC_EXECUTABLE, SCOPE_PROCESS, "kill" };
		break;
	case RA_BLOCK:
		/* an open is denied on the file: what it denies a process is
		 * that file, so the file is what is examined */
		if (file_cat)
			ex[n++] = (typeof(ex[0])){ RW_F_FILE_PATH, SCOPE_PROCESS | SCOPE_FILE,
						   "block opening" };
		else
			ex[n++] = (typeof(ex[0])){ RW_F_PROC_EXECUTABLE, SCOPE_PROCESS, "block" };
		break;
	case RA_QUARANTINE:
		ex[n++] = (typeof(ex[0])){ file_cat ? RW_F_FILE_PATH : RW_F_PROC_EXECUTABLE,
					   SCOPE_PROCESS | SCOPE_FILE, "quarantine" };
		break;
	default:
		return false;
	}
	for (size_t e = 0; e < n; e++)
		for (size_t k = 0; k < g->n; k++)
			if ((g->order[k]->scope & ex[e].scope) &&
			    class_hit(r, ex[e].ecs, g->order[k], g->ms, h)) {
				*field = ex[e].ecs;
				*verb = ex[e].verb;
				return true;
			}
	return false;
}

/* A scratch able to run every regex of the acting rules; NULL when that
 * fails (regexes are then "maybe"). */
static struct match_scratch *scratch_for(struct rule *const *rules, size_t n)
{
	struct match_scratch *ms = match_scratch__new();

	for (size_t i = 0; ms && i < n; i++) {
		if (rules[i]->action == RA_ALERT)
			continue;
		for (uint32_t p = 0; p < rules[i]->n_pats; p++)
			if (rules[i]->pats[p].re && match_scratch__prepare(ms, rules[i]->pats[p].re)) {
				match_scratch__free(ms);
				return NULL;
			}
	}
	return ms;
}

int guardrails__check(struct rule *const *rules, size_t n, const bool *from_signed,
		      bool *downgraded, const struct guard_opts *o, struct diag *d)
{
	struct gctx g = { 0 };
	struct gset local = { 0 }, *host = prepared;
	struct gclass content = { 0 };
	bool acting = false, files = false;
	int err, count = 0;

	for (size_t i = 0; i < n; i++) {
		acting |= rules[i]->action != RA_ALERT;
		files |= rules[i]->action == RA_QUARANTINE ||
			 (rules[i]->action == RA_BLOCK && cat_has(rules[i]->cat, RW_F_FILE_PATH));
	}
	if (!acting)
		return 0;
	if (!host) {
		host = &local;
		err = build_host(host, o, d, files);
		if (err)
			goto cleanup;
	}
	err = build_content(&content, o);
	if (err)
		goto cleanup;
	for (size_t k = 0; k < host->n_cls; k++) {
		if (k == HOST_BEFORE_CONTENT && content.n_exact + content.n_trees)
			g.order[g.n++] = &content;
		g.order[g.n++] = &host->cls[k];
	}
	g.ms = scratch_for(rules, n);
	for (size_t i = 0; i < n; i++) {
		struct rule *r = rules[i];
		bool sig = from_signed && from_signed[i];
		const char *verb = NULL, *fname;
		uint16_t field = 0;
		struct hit h;
		unsigned line = r->action_line ? r->action_line : r->line;
		unsigned col = r->action_line ? r->action_col : r->col;
		char why[PATH_MAX + 512];

		if (r->action == RA_ALERT || !rule_hit(&g, r, &h, &field, &verb))
			continue;
		if (r->allow_protected && sig)
			continue;	/* said so explicitly, and signed */
		fname = field_name(r, field);
		if (h.value == TV_YES)
			snprintf(why, sizeof(why), "it could %s %s (%s): the rule matches it on %s",
				 verb, h.c->what, h.example, fname);
		else
			snprintf(why, sizeof(why), "it could %s %s (%s): the rule does not "
				 "constrain %s to exclude it", verb, h.c->what, h.example, fname);
		count++;
		if (o && o->downgrade) {
			diag__add(d, DIAG_WARNING, r->file, line, col, r->id, "'action: %s' downgraded "
				  "to alert by a guardrail: %s", action_names[r->action], why);
			r->action = RA_ALERT;
			if (downgraded)
				downgraded[i] = true;
			continue;
		}
		diag__add(d, DIAG_ERROR, r->file, line, col, r->id, "'action: %s' refused by a "
			  "guardrail: %s (%s)", action_names[r->action], why, r->allow_protected ?
			  "'allow_protected: true' is honoured only in a bundle signed by a trusted "
			  "key" : "to allow it, say 'allow_protected: true' in a bundle signed by a "
			  "trusted key");
	}
cleanup:
	match_scratch__free(g.ms);
	gclass__free(&content);
	gset__free(&local);
	return err ? err : count;
}
