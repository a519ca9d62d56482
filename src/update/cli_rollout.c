/*
 * ringward rollout --repo DIR [--reports FILE|DIR|-]... [--now TIME] [--dry-run] [--log FILE]
 *
 * The controller of staged rollouts (update/controller.h): reads the
 * fleet's health reports, decides for each release in flight whether to
 * promote, hold or halt it, writes the decisions into the repository's
 * rollout document and publishes it signed (update/repo.h, the path of
 * `ringward repo publish --rollout`). Every decision is one JSON line with
 * its evidence, on stdout and appended to --log.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "engine/bundle.h"
#include "engine/diag.h"
#include "update/controller.h"
#include "update/repo.h"
#include "update/rollout.h"

#define MAX_SOURCES	64
#define MAX_SKIP_LOGGED	1000	/* malformed lines logged one by one per run */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ringward rollout --repo DIR [--reports FILE|DIR|-]... [--now TIME]\n"
		"                        [--dry-run] [--log FILE] [--keys-dir KEYS]\n"
		"                        [--expires ROLE=DURATION]...\n"
		"\n"
		"The controller of staged rollouts. Reads the sensors' health reports (JSON\n"
		"lines: content-health records and ringward-content-rollback alerts) and, for\n"
		"every release of the repository's rollout document still on its way through\n"
		"the rings, compares the hosts of each ring it reached against the hosts still\n"
		"on older releases over the same period, then:\n"
		"  promote  bake over, gates passed, enough hosts reported: the next ring starts\n"
		"  hold     bake not over, too few reports, or nothing to do yet\n"
		"  halt     engine failures, rule errors, drop rate or evaluation cost beyond\n"
		"           the ring's gates: the release is halted, and hosts on it go back to\n"
		"           the newest good release below it (or their last-known-good)\n"
		"Promotions and halts are written into a new version of the rollout document,\n"
		"published signed with the repository's online keys. Every decision is logged\n"
		"as one JSON line with its evidence.\n"
		"\n"
		"  --repo DIR           the repository (its private directory: DIR.keys)\n"
		"  --keys-dir KEYS      the private directory, when not DIR.keys\n"
		"  --reports SRC        a file of JSON lines, a directory (its *.jsonl and *.json\n"
		"                       files, in name order) or - for stdin; repeat for more;\n"
		"                       default: stdin\n"
		"  --now TIME           decide as at TIME (RFC 3339; default: the clock); reports\n"
		"                       after it are ignored\n"
		"  --dry-run            decide and log, change and publish nothing\n"
		"  --log FILE           append the log lines to FILE too\n"
		"  --expires ROLE=DURATION   expiry of ROLE's new metadata (as `repo publish`)\n"
		"  -h, --help           this help\n"
		"\n"
		"Exit status: 0 decided (and published, when anything changed), 1 error,\n"
		"2 usage error.\n");
}

enum { OPT_REPO = 1000, OPT_KEYS_DIR, OPT_REPORTS, OPT_NOW, OPT_DRY_RUN, OPT_LOG, OPT_EXPIRES };

struct args {
	struct repo_opts ro;
	const char *sources[MAX_SOURCES];
	size_t n_sources;
	const char *log;
	bool dry_run;
	int64_t now;
};

/* Where log lines go: stdout, and the --log file. */
struct out {
	FILE *log;
	bool failed;
	uint64_t skipped_logged;
};

static void emit(struct out *o, json_object *j)
{
	const char *s;

	if (!j) {
		o->failed = true;
		return;
	}
	s = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
					   JSON_C_TO_STRING_NOSLASHESCAPE);
	if (printf("%s\n", s) < 0)
		o->failed = true;
	if (o->log && (fprintf(o->log, "%s\n", s) < 0 || fflush(o->log)))
		o->failed = true;
	json_object_put(j);
}

static json_object *line_obj(int64_t now, const char *action)
{
	json_object *j = json_object_new_object();
	char t[32];

	if (!j)
		return NULL;
	bundle__format_time(now, t, sizeof(t));
	json_object_object_add(j, "@timestamp", json_object_new_string(t));
	json_object_object_add(j, "action", json_object_new_string(action));
	return j;
}

static int parse_expires(struct repo_opts *ro, const char *s)
{
	const char *eq = strchr(s, '=');

	if (!eq)
		return -EINVAL;
	for (int r = 0; r < TUF_N_ROLES; r++) {
		const char *n = tuf_role__name((enum tuf_role)r);

		if (strlen(n) == (size_t)(eq - s) && !strncmp(s, n, (size_t)(eq - s)))
			return repo__parse_duration(eq + 1, &ro->expires[r]);
	}
	return -EINVAL;
}

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "repo", required_argument, NULL, OPT_REPO },
		{ "keys-dir", required_argument, NULL, OPT_KEYS_DIR },
		{ "reports", required_argument, NULL, OPT_REPORTS },
		{ "now", required_argument, NULL, OPT_NOW },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "log", required_argument, NULL, OPT_LOG },
		{ "expires", required_argument, NULL, OPT_EXPIRES },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(a, 0, sizeof(*a));
	optind = 0;	/* callable more than once in one process (tests) */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case OPT_REPO:
			a->ro.dir = optarg;
			break;
		case OPT_KEYS_DIR:
			a->ro.keys_dir = optarg;
			break;
		case OPT_REPORTS:
			if (a->n_sources == MAX_SOURCES) {
				fprintf(stderr, "ringward rollout: at most %d --reports\n", MAX_SOURCES);
				return 2;
			}
			a->sources[a->n_sources++] = optarg;
			break;
		case OPT_NOW:
			if (controller__parse_time(optarg, strlen(optarg), &a->now) || a->now <= 0) {
				fprintf(stderr, "ringward rollout: --now %s: not a time like "
					"2030-01-01T00:00:00Z\n", optarg);
				return 2;
			}
			break;
		case OPT_DRY_RUN:
			a->dry_run = true;
			break;
		case OPT_LOG:
			a->log = optarg;
			break;
		case OPT_EXPIRES:
			if (parse_expires(&a->ro, optarg)) {
				fprintf(stderr, "ringward rollout: --expires %s: want ROLE=DURATION (root, "
					"targets, snapshot, timestamp; 90d, 12h, 30m, 2w, seconds)\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "ringward rollout: unknown or incomplete option '%s'\n",
				argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ringward rollout: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!a->ro.dir) {
		fprintf(stderr, "ringward rollout: --repo DIR is required\n");
		usage(stderr);
		return 2;
	}
	if (!a->n_sources)
		a->sources[a->n_sources++] = "-";
	if (!a->now)
		a->now = (int64_t)time(NULL);
	a->ro.now = a->now;
	return -1;
}

/* One line of f into buf (at most cap bytes kept; *long_line when more
 * were there). The length, or -1 at the end of the file. */
static ssize_t read_line(FILE *f, char *buf, size_t cap, bool *long_line)
{
	size_t n = 0;
	int ch;

	*long_line = false;
	while ((ch = getc_unlocked(f)) != EOF) {
		if (ch == '\n')
			return (ssize_t)n;
		if (n < cap)
			buf[n++] = (char)ch;
		else
			*long_line = true;
	}
	return n || *long_line ? (ssize_t)n : -1;
}

static int read_stream(struct controller *c, struct out *o, int64_t now, FILE *f,
		       const char *name, char *buf)
{
	char err[256];
	uint64_t lineno = 0;
	bool long_line;
	ssize_t n;

	while ((n = read_line(f, buf, CTL_MAX_LINE + 1, &long_line)) >= 0) {
		int r = controller__ingest(c, buf, (size_t)n, err, sizeof(err));

		lineno++;
		if (r == -ENOMEM)
			return r;
		if (r != -EINVAL)
			continue;
		if (o->skipped_logged++ < MAX_SKIP_LOGGED) {
			json_object *j = line_obj(now, "skip");
			char *msg = NULL;

			if (j) {
				json_object_object_add(j, "file", json_object_new_string(name));
				json_object_object_add(j, "line", json_object_new_int64((int64_t)lineno));
				if (asprintf(&msg, "%s:%llu: %s", name, (unsigned long long)lineno, err) > 0)
					json_object_object_add(j, "message", json_object_new_string(msg));
				free(msg);
			}
			emit(o, j);
		}
	}
	if (ferror(f)) {
		fprintf(stderr, "ringward rollout: %s: read error\n", name);
		return -EIO;
	}
	return 0;
}

static int read_file(struct controller *c, struct out *o, int64_t now, const char *path,
		     char *buf)
{
	FILE *f = fopen(path, "re");
	int err;

	if (!f) {
		err = -errno;
		fprintf(stderr, "ringward rollout: %s: %s\n", path, strerror(errno));
		return err;
	}
	err = read_stream(c, o, now, f, path, buf);
	fclose(f);
	return err;
}

static bool report_name(const char *n)
{
	size_t l = strlen(n);

	return n[0] != '.' && ((l > 6 && !strcmp(n + l - 6, ".jsonl")) ||
			       (l > 5 && !strcmp(n + l - 5, ".json")));
}

static int read_dir(struct controller *c, struct out *o, int64_t now, const char *dir,
		    char *buf)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort), err = 0;

	if (n < 0) {
		err = -errno;
		fprintf(stderr, "ringward rollout: %s: %s\n", dir, strerror(errno));
		return err;
	}
	for (int i = 0; i < n; i++) {
		char *p = NULL;
		struct stat st;

		if (!err && report_name(names[i]->d_name)) {
			if (asprintf(&p, "%s/%s", dir, names[i]->d_name) < 0)
				err = -ENOMEM;
			else if (!stat(p, &st) && S_ISREG(st.st_mode))
				err = read_file(c, o, now, p, buf);
		}
		free(p);
		free(names[i]);
	}
	free(names);
	return err;
}

static int read_sources(struct controller *c, struct out *o, const struct args *a)
{
	char *buf = malloc(CTL_MAX_LINE + 1);
	int err = 0;

	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < a->n_sources && !err; i++) {
		struct stat st;

		if (!strcmp(a->sources[i], "-"))
			err = read_stream(c, o, a->now, stdin, "<stdin>", buf);
		else if (!stat(a->sources[i], &st) && S_ISDIR(st.st_mode))
			err = read_dir(c, o, a->now, a->sources[i], buf);
		else
			err = read_file(c, o, a->now, a->sources[i], buf);
	}
	free(buf);
	return err;
}

static void print_diag(const struct diag *d)
{
	diag__print(d, stderr);
}

/* The rollout document the repository publishes now. */
static int load_doc(const struct args *a, struct rollout_doc *doc)
{
	struct tuf_err e;
	struct diag d;
	uint8_t *buf = NULL;
	size_t len = 0;
	int err;

	memset(doc, 0, sizeof(*doc));
	diag__init(&d);
	err = repo__read_target(&a->ro, ROLLOUT_TARGET, &buf, &len, &d);
	if (err) {
		print_diag(&d);
		/* the repository is there but lists no rollout document */
		if (err == -ENOENT && d.n && strstr(d.v[d.n - 1].text, "no published target"))
			fprintf(stderr, "ringward rollout: %s publishes no rollout document: publish "
				"one first with `ringward repo publish %s --rollout FILE`\n", a->ro.dir,
				a->ro.dir);
		goto cleanup;
	}
	err = rollout__parse(doc, ROLLOUT_TARGET, (const char *)buf, len, &e);
	if (err)
		fprintf(stderr, "ringward rollout: the published %s\n", e.msg);
cleanup:
	diag__free(&d);
	free(buf);
	return err;
}

/* Write doc into a private temporary file beside the keys and publish it
 * the way `ringward repo publish --rollout` does. */
static int publish(const struct args *a, const struct rollout_doc *doc, struct out *o)
{
	char *text = NULL, *tmp = NULL;
	size_t len = 0, dl = strlen(a->ro.dir);
	struct diag d;
	int fd = -1, err;

	diag__init(&d);
	err = rollout__write(doc, &text, &len);
	if (err)
		goto cleanup;
	/* DIR.keys the way the repository names it: DIR without trailing '/' */
	while (dl > 1 && a->ro.dir[dl - 1] == '/')
		dl--;
	if ((a->ro.keys_dir ? asprintf(&tmp, "%s/.rollout-XXXXXX.json", a->ro.keys_dir) :
	     asprintf(&tmp, "%.*s%s/.rollout-XXXXXX.json", (int)dl, a->ro.dir,
		      REPO_KEYS_SUFFIX)) < 0) {
		tmp = NULL;
		err = -ENOMEM;
		goto cleanup;
	}
	fd = mkstemps(tmp, 5);
	if (fd < 0) {
		err = -errno;
		fprintf(stderr, "ringward rollout: %s: %s\n", tmp, strerror(errno));
		free(tmp);
		tmp = NULL;
		goto cleanup;
	}
	if (write(fd, text, len) != (ssize_t)len) {
		err = -EIO;
		fprintf(stderr, "ringward rollout: %s: cannot write\n", tmp);
		goto cleanup;
	}
	close(fd);
	fd = -1;
	err = repo__publish(&a->ro, tmp, &d);
	print_diag(&d);
	if (err) {
		json_object *j = line_obj(a->now, "publish-failed");

		if (j && d.n) {
			char line[1024];

			diag__format(&d.v[d.n - 1], line, sizeof(line));
			json_object_object_add(j, "message", json_object_new_string(line));
		}
		if (j)
			json_object_object_add(j, "rollout_version", json_object_new_int64(doc->version));
		emit(o, j);
	}
cleanup:
	if (err == -ENOMEM)
		fprintf(stderr, "ringward rollout: out of memory\n");
	if (fd >= 0)
		close(fd);
	if (tmp)
		unlink(tmp);
	free(tmp);
	free(text);
	diag__free(&d);
	return err;
}

static json_object *counts_json(const struct ctl_counts *k)
{
	json_object *j = json_object_new_object();

	if (!j)
		return NULL;
	json_object_object_add(j, "lines", json_object_new_int64((int64_t)k->lines));
	json_object_object_add(j, "health", json_object_new_int64((int64_t)k->health));
	json_object_object_add(j, "rollbacks", json_object_new_int64((int64_t)k->rollbacks));
	json_object_object_add(j, "unmapped", json_object_new_int64((int64_t)k->unmapped));
	json_object_object_add(j, "future", json_object_new_int64((int64_t)k->future));
	json_object_object_add(j, "ignored", json_object_new_int64((int64_t)k->ignored));
	json_object_object_add(j, "malformed", json_object_new_int64((int64_t)k->malformed));
	return j;
}

int cmd_rollout(int argc, char **argv)
{
	struct rollout_doc doc = { 0 };
	struct controller *c = NULL;
	struct ctl_decision *dec = NULL;
	struct out o = { 0 };
	size_t n_dec = 0, n_act[3] = { 0 };
	struct args a;
	int64_t from;
	bool changed = false, published = false;
	json_object *j;
	int rc, err;

	rc = parse_args(argc, argv, &a);
	if (rc >= 0)
		return rc;
	rc = 1;
	if (a.log) {
		o.log = fopen(a.log, "ae");
		if (!o.log) {
			fprintf(stderr, "ringward rollout: --log %s: %s\n", a.log, strerror(errno));
			return 1;
		}
	}
	if (load_doc(&a, &doc))
		goto cleanup;
	from = doc.version;
	c = controller__new(&doc, a.now);
	if (!c) {
		fprintf(stderr, "ringward rollout: %s\n", errno == E2BIG ?
			"too many releases in flight at once to evaluate" : strerror(errno));
		goto cleanup;
	}
	if (read_sources(c, &o, &a))
		goto cleanup;
	err = controller__decide(c, &dec, &n_dec);
	if (err)
		goto cleanup;
	for (size_t i = 0; i < n_dec; i++) {
		n_act[dec[i].action]++;
		emit(&o, controller__decision_json(c, &dec[i]));
	}
	if (!a.dry_run) {
		err = controller__apply(&doc, dec, n_dec, a.now, &changed);
		if (err)
			goto cleanup;
		if (changed) {
			if (publish(&a, &doc, &o))
				goto cleanup;
			published = true;
			j = line_obj(a.now, "published");
			if (j) {
				json_object *h = json_object_new_array(), *p = json_object_new_array();

				for (size_t i = 0; i < n_dec; i++) {
					if (dec[i].action == CTL_HALT && h)
						json_object_array_add(h, json_object_new_int64(dec[i].version));
					if (dec[i].action == CTL_PROMOTE && p) {
						json_object *x = json_object_new_object();

						if (!x)
							continue;
						json_object_object_add(x, "version",
								       json_object_new_int64(dec[i].version));
						json_object_object_add(x, "ring", json_object_new_string(
							doc.rings[dec[i].next_ring].name));
						json_object_array_add(p, x);
					}
				}
				json_object_object_add(j, "repo", json_object_new_string(a.ro.dir));
				json_object_object_add(j, "rollout_version", json_object_new_int64(doc.version));
				json_object_object_add(j, "previous_version", json_object_new_int64(from));
				json_object_object_add(j, "halted", h);
				json_object_object_add(j, "promoted", p);
			}
			emit(&o, j);
		}
	}
	j = line_obj(a.now, "summary");
	if (j) {
		json_object *dj = json_object_new_object();

		if (dj) {
			for (int i = 0; i < 3; i++)
				json_object_object_add(dj, ctl_action__name((enum ctl_action)i),
						       json_object_new_int64((int64_t)n_act[i]));
		}
		json_object_object_add(j, "reports", counts_json(controller__counts(c)));
		json_object_object_add(j, "fleet", controller__census_json(c));
		json_object_object_add(j, "decisions", dj);
		json_object_object_add(j, "rollout_version", json_object_new_int64(doc.version));
		json_object_object_add(j, "published", json_object_new_boolean(published));
		json_object_object_add(j, "dry_run", json_object_new_boolean(a.dry_run));
	}
	emit(&o, j);
	rc = o.failed ? 1 : 0;
	if (o.failed)
		fprintf(stderr, "ringward rollout: could not write every log line\n");
cleanup:
	fflush(stdout);
	if (o.log)
		fclose(o.log);
	free(dec);
	controller__free(c);
	rollout__free(&doc);
	return rc;
}
