/*
 * ringward quarantine list [--dir DIR] [--format text|json]
 * ringward quarantine restore ID [--dir DIR]
 * ringward quarantine add PATH [--rule ID] [--dir DIR]
 *
 * The files `action: quarantine` took away (core/quarantine.h): list
 * them, put one back exactly as it was, or quarantine one by hand.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "core/quarantine.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ringward quarantine list [--dir DIR] [--format text|json]\n"
		"       ringward quarantine restore ID [--dir DIR]\n"
		"       ringward quarantine add PATH [--rule ID] [--dir DIR]\n"
		"\n"
		"list: the quarantined files: id, when, sha256, rule and original path.\n"
		"restore: put file ID back at its original path with its content, owner,\n"
		"group, mode and times; refuses to overwrite anything at that path.\n"
		"add: quarantine the regular file PATH (absolute) by hand.\n"
		"  --dir DIR   the quarantine directory (default " QUARANTINE_DIR ")\n"
		"\n"
		"Exit status: 0 success, 1 failure, 2 usage error.\n");
}

/* Options after the subcommand's positional argument(s). */
struct qopts {
	const char *dir, *rule, *format;
	const char *arg;	/* the positional argument, or NULL */
};

static int parse(int argc, char **argv, bool want_arg, struct qopts *o)
{
	memset(o, 0, sizeof(*o));
	o->format = "text";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		}
		if ((!strcmp(a, "--dir") || !strcmp(a, "--rule") || !strcmp(a, "--format")) &&
		    i + 1 < argc) {
			const char **slot = a[2] == 'd' ? &o->dir : a[2] == 'r' ? &o->rule :
				&o->format;

			*slot = argv[++i];
			continue;
		}
		if (a[0] == '-' || !want_arg || o->arg) {
			usage(stderr);
			return 2;
		}
		o->arg = a;
	}
	if (want_arg != (o->arg != NULL) ||
	    (strcmp(o->format, "text") && strcmp(o->format, "json"))) {
		usage(stderr);
		return 2;
	}
	return -1;	/* go on */
}

static void when(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int cmd_list(const struct qopts *o)
{
	struct quarantine_entry *v;
	size_t n;
	int err = quarantine__list(o->dir, &v, &n);

	if (err) {
		fprintf(stderr, "ringward quarantine: cannot list %s: %s\n",
			o->dir ? o->dir : QUARANTINE_DIR, strerror(-err));
		return 1;
	}
	if (!strcmp(o->format, "json")) {
		printf("[");
		for (size_t i = 0; i < n; i++) {
			char *j = quarantine_entry__json(&v[i]);

			printf("%s%s", i ? ",\n" : "\n", j ? j : "null");
			free(j);
		}
		printf("%s]\n", n ? "\n" : "");
	} else {
		for (size_t i = 0; i < n; i++) {
			char t[32];

			when(v[i].quarantined_at, t, sizeof(t));
			printf("%s  %s  sha256:%.16s  %04o %u:%u  rule %s  %s%s\n", v[i].id, t,
			       v[i].sha256, (unsigned)v[i].mode, (unsigned)v[i].uid,
			       (unsigned)v[i].gid, v[i].rule_id ? v[i].rule_id : "-", v[i].path,
			       v[i].data_present ? "" : "  (incomplete: no data)");
		}
		printf("%zu file%s in quarantine\n", n, n == 1 ? "" : "s");
	}
	quarantine_entries__free(v, n);
	return 0;
}

static int cmd_restore(const struct qopts *o)
{
	struct quarantine_entry e;
	int err = quarantine__restore(o->dir, o->arg, &e);

	if (err) {
		struct quarantine_entry r;

		if (err == -EEXIST && quarantine__read(o->dir, o->arg, &r) == 0) {
			fprintf(stderr, "ringward quarantine: cannot restore %s: %s exists "
				"(refusing to overwrite it)\n", o->arg, r.path);
			quarantine_entry__free(&r);
		} else {
			fprintf(stderr, "ringward quarantine: cannot restore %s: %s\n", o->arg,
				err == -ENOENT ? "no such quarantined file" : err == -EBADMSG ?
				"the quarantined copy does not match its recorded sha256" :
				strerror(-err));
		}
		return 1;
	}
	printf("restored %s to %s (sha256 %s, owner %u:%u, mode %04o)\n", e.id, e.path, e.sha256,
	       (unsigned)e.uid, (unsigned)e.gid, (unsigned)e.mode);
	quarantine_entry__free(&e);
	return 0;
}

static int cmd_add(const struct qopts *o)
{
	char id[QUARANTINE_ID_SIZE];
	int err = quarantine__file(o->dir, o->arg, o->rule, id);

	if (err) {
		fprintf(stderr, "ringward quarantine: cannot quarantine %s: %s\n", o->arg,
			err == -EINVAL ? "not an absolute path to a regular file" :
			err == -EAGAIN ? "it changed while being quarantined" :
			err == -EPERM ? "the quarantine directory is not private to this user" :
			strerror(-err));
		return 1;
	}
	printf("quarantined %s as %s\n", o->arg, id);
	return 0;
}

int cmd_quarantine(int argc, char **argv)
{
	struct qopts o;
	int r;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "list")) {
		r = parse(argc - 1, argv + 1, false, &o);
		return r >= 0 ? r : cmd_list(&o);
	}
	if (!strcmp(argv[1], "restore")) {
		r = parse(argc - 1, argv + 1, true, &o);
		return r >= 0 ? r : cmd_restore(&o);
	}
	if (!strcmp(argv[1], "add")) {
		r = parse(argc - 1, argv + 1, true, &o);
		return r >= 0 ? r : cmd_add(&o);
	}
	fprintf(stderr, "ringward quarantine: unknown subcommand '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
