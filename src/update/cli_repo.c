/*
 * ringward repo init DIR --keys N --threshold T [options]
 * ringward repo add DIR BUNDLE_DIR
 * ringward repo publish DIR [--rollout FILE]
 * ringward repo timestamp DIR
 * ringward repo rotate-root DIR [--new-keys N] [--threshold T] [--rotate ROLE]...
 * ringward repo check DIR BUNDLE_DIR
 * ringward repo verify DIR --root ROOT.json [--state DIR] [--target NAME]...
 * ringward repo select ROLLOUT.json --host ID [--group G] [--at TIME] [--current V]
 *
 * The publisher of a content repository (update/repo.h) and two views of
 * what a host would make of it: `verify` runs the client's verification
 * (update/tuf.h) over the directory, `select` the rollout choice
 * (update/rollout.h) for one host.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "engine/bundle.h"
#include "ringward/schema.h"
#include "update/archive.h"
#include "update/repo.h"
#include "update/rollout.h"
#include "update/tuf.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ringward repo init DIR --keys N --threshold T [options]\n"
		"       ringward repo add DIR BUNDLE_DIR [--keys-dir KEYS]\n"
		"       ringward repo publish DIR [--rollout FILE] [--expires ROLE=DURATION]...\n"
		"       ringward repo timestamp DIR [--expires timestamp=DURATION]\n"
		"       ringward repo rotate-root DIR [--new-keys N] [--threshold T] [--rotate ROLE]...\n"
		"       ringward repo check DIR BUNDLE_DIR\n"
		"       ringward repo verify DIR --root ROOT.json [--state DIR] [--target NAME]...\n"
		"       ringward repo select ROLLOUT.json --host ID [--group G] [--at TIME]\n"
		"                            [--current V] [--bad V]...\n"
		"\n"
		"A repository of signed content in the roles of The Update Framework (root,\n"
		"targets, snapshot, timestamp; Ed25519; consistent snapshots), served as static\n"
		"files from DIR. Keys, configuration and staging live in KEYS (default DIR.keys,\n"
		"never inside DIR).\n"
		"\n"
		"init: new repository: N root keys (offline keys: move KEYS/root away after\n"
		"init, give them back with --root-keys), threshold T of them to sign a root;\n"
		"one online key each for targets, snapshot, timestamp; root version 1 and an\n"
		"empty first publish. Install DIR/1.root.json on the hosts as trusted root.\n"
		"  --fleet-schema N[:CMD ARG...]   an event schema version in the fleet and the\n"
		"                       command validating for it (split on spaces, run with\n"
		"                       the bundle directory last); this binary's schema (%d)\n"
		"                       needs none. Repeat for each; default: %d only.\n"
		"  --trusted PUB        bundles must be signed by this key (file or directory)\n"
		"\n"
		"add: pack BUNDLE_DIR (a bundle made by `ringward content manifest`, signed by\n"
		"`content sign`) as target NAME-VERSION.rwb, validate it for every fleet schema,\n"
		"and stage it. Nothing is visible to hosts before `publish`.\n"
		"\n"
		"publish: validate the staged bundles again and sign new targets, snapshot and\n"
		"timestamp metadata; timestamp.json is replaced last, atomically.\n"
		"  --rollout FILE       publish this rollout document as target rollout.json\n"
		"\n"
		"timestamp: sign a new timestamp only (run it more often than it expires).\n"
		"\n"
		"rotate-root: root version N+1, signed by a threshold of the old and of the new\n"
		"root keys. --new-keys N: N fresh root keys replace the old; --rotate ROLE\n"
		"(targets, snapshot, timestamp): a fresh online key for ROLE, and publish again.\n"
		"\n"
		"check: run the fleet's validators on a bundle directory, stage nothing.\n"
		"\n"
		"verify: what a host trusting ROOT.json would accept from DIR: the whole TUF\n"
		"chain, then each --target's length and sha256. --state keeps the trusted\n"
		"metadata between runs (rollback protection), default a temporary directory.\n"
		"\n"
		"select: the content version the rollout document gives host ID in group G at\n"
		"TIME (RFC 3339 UTC; default now), running version --current, having rolled back\n"
		"from each --bad.\n"
		"\n"
		"Common options:\n"
		"  --keys-dir KEYS      the private directory (default DIR.keys)\n"
		"  --root-keys DIR      root keys (default KEYS/root)\n"
		"  --expires ROLE=DURATION   expiry of ROLE (root, targets, snapshot, timestamp)\n"
		"                       from signing: 90d, 12h, 30m, 2w or seconds\n"
		"  -h, --help           this help\n"
		"\n"
		"Exit status: 0 success, 1 refused, 2 usage error.\n",
		RW_SCHEMA_VERSION, RW_SCHEMA_VERSION);
}

enum {
	OPT_KEYS = 1000, OPT_THRESHOLD, OPT_KEYS_DIR, OPT_ROOT_KEYS, OPT_EXPIRES, OPT_SCHEMA,
	OPT_TRUSTED, OPT_ROLLOUT, OPT_NEW_KEYS, OPT_ROTATE, OPT_ROOT, OPT_STATE, OPT_TARGET,
	OPT_HOST, OPT_GROUP, OPT_AT, OPT_CURRENT, OPT_BAD,
};

#define MAX_LIST 64

struct args {
	struct repo_opts ro;
	long long keys, threshold, new_keys;
	struct repo_schema schemas[REPO_MAX_SCHEMAS];
	size_t n_schemas;
	const char *trusted[MAX_LIST];
	size_t n_trusted;
	const char *rollout, *root, *state, *host, *group;
	const char *targets[MAX_LIST];
	size_t n_targets;
	bool rotate[TUF_N_ROLES];
	int64_t at, current;
	int64_t bad[MAX_LIST];
	size_t n_bad;
	const char *pos[4];
	size_t n_pos;
};

static bool parse_ll(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static int role_of(const char *s, size_t n)
{
	for (int i = 0; i < TUF_N_ROLES; i++)
		if (strlen(tuf_role__name((enum tuf_role)i)) == n &&
		    !strncmp(s, tuf_role__name((enum tuf_role)i), n))
			return i;
	return -1;
}

static bool parse_expires(struct args *a, const char *s)
{
	const char *eq = strchr(s, '=');
	int64_t secs;
	int role;

	if (!eq || (role = role_of(s, (size_t)(eq - s))) < 0 ||
	    repo__parse_duration(eq + 1, &secs))
		return false;
	a->ro.expires[role] = secs;
	return true;
}

/* "N" or "N:CMD ARG ..." (split on spaces). */
static bool parse_schema(struct args *a, char *s)
{
	struct repo_schema *rs;
	char *colon = strchr(s, ':'), *save = NULL;
	long long v;
	size_t n = 0;

	if (a->n_schemas >= REPO_MAX_SCHEMAS)
		return false;
	if (colon)
		*colon = '\0';
	if (!parse_ll(s, 0, 1000000, &v))
		return false;
	rs = &a->schemas[a->n_schemas];
	rs->schema = (int)v;
	if (colon) {
		rs->argv = calloc(65, sizeof(char *));
		if (!rs->argv)
			return false;
		for (char *w = strtok_r(colon + 1, " ", &save); w && n < 64;
		     w = strtok_r(NULL, " ", &save))
			rs->argv[n++] = w;
		if (n == 0) {
			free(rs->argv);
			rs->argv = NULL;
			return false;
		}
	}
	a->n_schemas++;
	return true;
}

static int parse_args(struct args *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "keys", required_argument, NULL, OPT_KEYS },
		{ "threshold", required_argument, NULL, OPT_THRESHOLD },
		{ "keys-dir", required_argument, NULL, OPT_KEYS_DIR },
		{ "root-keys", required_argument, NULL, OPT_ROOT_KEYS },
		{ "expires", required_argument, NULL, OPT_EXPIRES },
		{ "fleet-schema", required_argument, NULL, OPT_SCHEMA },
		{ "trusted", required_argument, NULL, OPT_TRUSTED },
		{ "rollout", required_argument, NULL, OPT_ROLLOUT },
		{ "new-keys", required_argument, NULL, OPT_NEW_KEYS },
		{ "rotate", required_argument, NULL, OPT_ROTATE },
		{ "root", required_argument, NULL, OPT_ROOT },
		{ "state", required_argument, NULL, OPT_STATE },
		{ "target", required_argument, NULL, OPT_TARGET },
		{ "host", required_argument, NULL, OPT_HOST },
		{ "group", required_argument, NULL, OPT_GROUP },
		{ "at", required_argument, NULL, OPT_AT },
		{ "current", required_argument, NULL, OPT_CURRENT },
		{ "bad", required_argument, NULL, OPT_BAD },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	long long v;
	int c, role;

	optind = 0;	/* GNU: full reinitialisation, so a second call parses afresh */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_KEYS:
			if (!parse_ll(optarg, 1, REPO_MAX_ROOT_KEYS, &a->keys))
				goto bad;
			break;
		case OPT_THRESHOLD:
			if (!parse_ll(optarg, 1, REPO_MAX_ROOT_KEYS, &a->threshold))
				goto bad;
			break;
		case OPT_NEW_KEYS:
			if (!parse_ll(optarg, 1, REPO_MAX_ROOT_KEYS, &a->new_keys))
				goto bad;
			break;
		case OPT_KEYS_DIR:
			a->ro.keys_dir = optarg;
			break;
		case OPT_ROOT_KEYS:
			a->ro.root_keys_dir = optarg;
			break;
		case OPT_EXPIRES:
			if (!parse_expires(a, optarg))
				goto bad;
			break;
		case OPT_SCHEMA:
			if (!parse_schema(a, optarg))
				goto bad;
			break;
		case OPT_TRUSTED:
			if (a->n_trusted >= MAX_LIST)
				goto bad;
			a->trusted[a->n_trusted++] = optarg;
			break;
		case OPT_ROLLOUT:
			a->rollout = optarg;
			break;
		case OPT_ROTATE:
			role = role_of(optarg, strlen(optarg));
			if (role <= TUF_ROOT)
				goto bad;
			a->rotate[role] = true;
			break;
		case OPT_ROOT:
			a->root = optarg;
			break;
		case OPT_STATE:
			a->state = optarg;
			break;
		case OPT_TARGET:
			if (a->n_targets >= MAX_LIST)
				goto bad;
			a->targets[a->n_targets++] = optarg;
			break;
		case OPT_HOST:
			a->host = optarg;
			break;
		case OPT_GROUP:
			a->group = optarg;
			break;
		case OPT_AT:
			if (bundle__parse_time(optarg, strlen(optarg), &a->at))
				goto bad;
			break;
		case OPT_CURRENT:
			if (!parse_ll(optarg, 0, INT64_MAX / 2, &v))
				goto bad;
			a->current = v;
			break;
		case OPT_BAD:
			if (a->n_bad >= MAX_LIST || !parse_ll(optarg, 1, INT64_MAX / 2, &v))
				goto bad;
			a->bad[a->n_bad++] = v;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return 2;
		}
	}
	for (int i = optind; i < argc; i++) {
		if (a->n_pos >= 4) {
			fprintf(stderr, "ringward repo: too many arguments\n");
			return 2;
		}
		a->pos[a->n_pos++] = argv[i];
	}
	return 0;
bad:
	for (size_t i = 0; opts[i].name; i++)
		if (opts[i].val == c)
			fprintf(stderr, "ringward repo: bad value for --%s: '%s'\n", opts[i].name,
				optarg);
	return 2;
}

static int finish(struct diag *d, int err)
{
	diag__print(d, err ? stderr : stdout);
	diag__free(d);
	return err ? 1 : 0;
}

static bool need_pos(const struct args *a, size_t n, const char *what)
{
	if (a->n_pos == n)
		return true;
	fprintf(stderr, "ringward repo: expected %s\n", what);
	return false;
}

static int do_verify(struct args *a)
{
	char tmpl[] = "/tmp/ringward-repo-verify.XXXXXX";
	struct tuf_client_opts co = { 0 };
	const struct tuf_targets *t;
	struct tuf_client *c;
	struct tuf_err e;
	int err, rc = 1;

	if (!a->root) {
		fprintf(stderr, "ringward repo verify: --root ROOT.json is required (the root the "
			"hosts trust)\n");
		return 2;
	}
	co.state_dir = a->state;
	if (!co.state_dir) {
		if (!mkdtemp(tmpl)) {
			perror("mkdtemp");
			return 1;
		}
		co.state_dir = tmpl;
	}
	co.bootstrap_root = a->root;
	co.fetch = tuf__fetch_dir;
	co.fetch_ctx = (void *)a->pos[0];
	co.now = a->at;
	c = tuf_client__new(&co, &e);
	if (!c) {
		fprintf(stderr, "ringward repo verify: %s\n", e.msg);
		goto cleanup;
	}
	err = tuf_client__refresh(c, &e);
	if (err) {
		fprintf(stderr, "ringward repo verify: refused: %s\n", e.msg);
		goto cleanup;
	}
	printf("root version %lld, timestamp version %lld, snapshot version %lld, targets "
	       "version %lld\n", (long long)tuf_client__version(c, TUF_ROOT),
	       (long long)tuf_client__version(c, TUF_TIMESTAMP),
	       (long long)tuf_client__version(c, TUF_SNAPSHOT),
	       (long long)tuf_client__version(c, TUF_TARGETS));
	t = tuf_client__targets(c);
	for (size_t i = 0; t && i < t->n; i++)
		printf("  %s  %lld bytes%s%s\n", t->v[i].name, (long long)t->v[i].length,
		       t->v[i].custom ? "  " : "", t->v[i].custom ? t->v[i].custom : "");
	rc = 0;
	for (size_t i = 0; i < a->n_targets; i++) {
		uint8_t *buf = NULL;
		size_t len;

		err = tuf_client__fetch_target(c, a->targets[i], &buf, &len, &e);
		if (!err && strlen(a->targets[i]) > strlen(ARCHIVE_SUFFIX) &&
		    !strcmp(a->targets[i] + strlen(a->targets[i]) - strlen(ARCHIVE_SUFFIX),
			    ARCHIVE_SUFFIX))
			err = archive__walk(buf, len, NULL, NULL, &e);
		if (err) {
			fprintf(stderr, "ringward repo verify: refused: %s\n", e.msg);
			rc = 1;
		} else {
			printf("%s: ok (%zu bytes, length and sha256 as signed)\n", a->targets[i], len);
		}
		free(buf);
	}
cleanup:
	tuf_client__free(c);
	if (!a->state)
		archive__remove_tree(tmpl);
	return rc;
}

static int do_select(struct args *a)
{
	struct rollout_health h = { .current = a->current, .bad = a->bad, .n_bad = a->n_bad };
	struct rollout_choice ch;
	struct rollout_doc doc;
	struct tuf_err e;
	char *buf = NULL;
	size_t len;
	int err;

	if (!a->host) {
		fprintf(stderr, "ringward repo select: --host ID is required\n");
		return 2;
	}
	err = bundle__read_file(a->pos[0], ROLLOUT_MAX_LEN, &buf, &len);
	if (err) {
		fprintf(stderr, "%s: cannot read: %s\n", a->pos[0], strerror(-err));
		return 1;
	}
	err = rollout__parse(&doc, a->pos[0], buf, len, &e);
	free(buf);
	if (err) {
		fprintf(stderr, "%s\n", e.msg);
		rollout__free(&doc);
		return 1;
	}
	rollout__select(&doc, a->host, a->group, a->at ? a->at : (int64_t)time(NULL), &h, &ch);
	printf("host %s: ring %s (bucket %u of 10000), version %lld%s%s%s: %s\n", a->host,
	       ch.ring_name, rollout__bucket(a->host, doc.salt), (long long)ch.version,
	       ch.target ? " (" : "", ch.target ? ch.target : "", ch.target ? ")" : "", ch.reason);
	rollout__free(&doc);
	return 0;
}

int cmd_repo(int argc, char **argv)
{
	struct args a = { 0 };
	struct diag d;
	const char *sub;
	int err, rc;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	sub = argv[1];
	rc = parse_args(&a, argc - 1, argv + 1);
	if (rc) {
		rc = rc == 1 ? 0 : rc;
		goto out;
	}
	diag__init(&d);
	a.ro.dir = a.n_pos ? a.pos[0] : NULL;
	if (!strcmp(sub, "init")) {
		struct repo_init_opts io = {
			.n_root_keys = (unsigned)a.keys,
			.threshold = (unsigned)a.threshold,
			.schemas = a.n_schemas ? a.schemas : NULL,
			.n_schemas = a.n_schemas,
			.trusted_keys = a.trusted,
			.n_trusted_keys = a.n_trusted,
		};

		if (!need_pos(&a, 1, "init DIR") || !a.keys || !a.threshold) {
			if (a.n_pos == 1)
				fprintf(stderr, "ringward repo init: --keys N and --threshold T are "
					"required\n");
			rc = 2;
			diag__free(&d);
			goto out;
		}
		err = repo__init(&a.ro, &io, &d);
	} else if (!strcmp(sub, "add") || !strcmp(sub, "check")) {
		char target[TUF_MAX_NAME + 1];

		if (!need_pos(&a, 2, "DIR BUNDLE_DIR")) {
			rc = 2;
			diag__free(&d);
			goto out;
		}
		if (!strcmp(sub, "add")) {
			err = repo__add(&a.ro, a.pos[1], target, sizeof(target), &d);
		} else {
			err = repo__validate_bundle(&a.ro, a.pos[1], NULL, &d);
			if (!err)
				diag__add(&d, DIAG_NOTE, a.pos[1], 0, 0, NULL, "valid for every "
					  "schema of the fleet");
		}
	} else if (!strcmp(sub, "publish")) {
		if (!need_pos(&a, 1, "publish DIR")) {
			rc = 2;
			diag__free(&d);
			goto out;
		}
		err = repo__publish(&a.ro, a.rollout, &d);
	} else if (!strcmp(sub, "timestamp")) {
		if (!need_pos(&a, 1, "timestamp DIR")) {
			rc = 2;
			diag__free(&d);
			goto out;
		}
		err = repo__timestamp(&a.ro, &d);
	} else if (!strcmp(sub, "rotate-root")) {
		struct repo_rotate_opts ro = {
			.n_new_keys = (unsigned)a.new_keys,
			.threshold = (unsigned)a.threshold,
		};

		memcpy(ro.rotate, a.rotate, sizeof(ro.rotate));
		if (!need_pos(&a, 1, "rotate-root DIR")) {
			rc = 2;
			diag__free(&d);
			goto out;
		}
		err = repo__rotate_root(&a.ro, &ro, &d);
	} else if (!strcmp(sub, "verify") || !strcmp(sub, "select")) {
		diag__free(&d);
		if (!need_pos(&a, 1, strcmp(sub, "verify") ? "select ROLLOUT.json" :
			      "verify DIR")) {
			rc = 2;
			goto out;
		}
		rc = strcmp(sub, "verify") ? do_select(&a) : do_verify(&a);
		goto out;
	} else {
		fprintf(stderr, "ringward repo: unknown subcommand '%s'\n", sub);
		usage(stderr);
		diag__free(&d);
		rc = 2;
		goto out;
	}
	rc = finish(&d, err);
out:
	for (size_t i = 0; i < a.n_schemas; i++)
		free(a.schemas[i].argv);	/* the words are argv's */
	return rc;
}
