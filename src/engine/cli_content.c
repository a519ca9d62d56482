/*
 * ringward content manifest DIR --name NAME --version N [options]
 * ringward content info PATH...
 * ringward content lkg [--state-dir DIR]
 * ringward content keygen --out PREFIX
 * ringward content sign BUNDLE --key PREFIX.key [--append]
 * ringward content verify BUNDLE --trusted PUB...
 *
 * Content bundles (engine/bundle.h): `manifest` writes the manifest that
 * makes a directory a bundle, then loads the bundle with the sensor's own
 * loader to show it is valid; `info` loads content and says what it is
 * (which bundles, at which versions, or unversioned local content); `lkg`
 * does the same for the last-known-good copy (engine/content_store.h).
 * `keygen`, `sign` and `verify` are the Ed25519 signing of bundles
 * (engine/content_sign.h); `verify` loads the bundle exactly as a sensor
 * with those trusted keys would.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "engine/bundle.h"
#include "engine/content_sign.h"
#include "engine/content_store.h"
#include "engine/ruleset.h"
#include "ringward/schema.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ringward content manifest DIR --name NAME --version N [options]\n"
		"       ringward content info PATH...\n"
		"       ringward content lkg [--state-dir DIR]\n"
		"       ringward content keygen --out PREFIX\n"
		"       ringward content sign BUNDLE --key PREFIX.key [--append]\n"
		"       ringward content verify BUNDLE --trusted PUB [PUB...]\n"
		"\n"
		"manifest: write DIR/" BUNDLE_MANIFEST ", listing every file under DIR with\n"
		"its sha256, which makes DIR a content bundle; then load the bundle exactly as\n"
		"the sensor does and report any problem as file:line:col: error: message.\n"
		"  --name NAME          bundle name (letters, digits, '.', '_', '-')\n"
		"  --version N          bundle version, an integer above the current one\n"
		"  --schema N           event schema the content targets (default %d)\n"
		"  --min-sensor X.Y.Z   oldest sensor that may run it (default %s)\n"
		"  --force              allow a version not above the current manifest's\n"
		"  --expires TIME       expiry, RFC 3339 UTC (2026-01-31T00:00:00Z): after it the\n"
		"                       sensor refuses to activate the bundle (and alerts on it\n"
		"                       while it runs)\n"
		"  --valid-days N       expiry N days from now\n"
		"A manifest rewritten invalidates the signature of the old one: sign again.\n"
		"\n"
		"info: load PATH (bundles, rule directories or files) and print the bundles\n"
		"and their versions, or that the content is unversioned local content.\n"
		"\n"
		"lkg: the same for the last-known-good copy of the content that last loaded,\n"
		"kept by the running sensor in DIR/content/lkg (DIR default " CONTENT_STORE_DIR ").\n"
		"\n"
		"keygen: a new Ed25519 key pair, PREFIX.key (secret, mode 0600; keep it off the\n"
		"hosts) and PREFIX.pub (goes into " RW_TRUSTED_DIR "/ on the hosts). Never\n"
		"overwrites a key.\n"
		"\n"
		"sign: check that BUNDLE loads, then write BUNDLE/" BUNDLE_SIGNATURE ", a detached\n"
		"signature over the exact bytes of its manifest. --append keeps the signatures\n"
		"of other keys already there (while keys rotate).\n"
		"\n"
		"verify: load BUNDLE as a sensor trusting only the given public keys (files or\n"
		"directories of *.pub) does: signature first, then every file's hash, then the\n"
		"rules.\n"
		"\n"
		"Exit status: 0 success, 1 content refused, 2 usage error.\n",
		RW_SCHEMA_VERSION, RW_SENSOR_VERSION);
}

static bool parse_long(const char *s, long long min, long long max, long long *out)
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

/* Load paths; print diagnostics; returns the set or NULL. */
static struct ruleset *load_report(const char *const paths[], int n)
{
	struct ruleset *rs;
	struct diag d;

	diag__init(&d);
	rs = ruleset__load(paths, n, &d);
	diag__print(&d, stdout);
	if (!rs)
		printf("%zu error%s: the content does not load\n", d.n_errors,
		       d.n_errors == 1 ? "" : "s");
	diag__free(&d);
	return rs;
}

static void print_info(const struct ruleset *rs)
{
	size_t nb = ruleset__bundles(rs);
	char when[32];

	for (size_t i = 0; i < nb; i++) {
		const struct content_info *ci = ruleset__content_info(rs, i);

		printf("bundle %s version %lld (schema %d, sensor >= %s): %zu files, %zu rule "
		       "files, in %s\n", ci->name, (long long)ci->version, ci->schema,
		       ci->min_sensor, ci->files, ci->rule_files, ci->path);
		if (ci->key_id)
			printf("  signed by trusted key %s\n", ci->key_id);
		if (ci->expires) {
			bundle__format_time(ci->expires, when, sizeof(when));
			printf("  %s %s\n", ci->expired ? "expired at" : "expires", when);
		}
	}
	if (!nb)
		printf("unversioned local content\n");
	printf("ok: %zu rules in %zu files\n", ruleset__count(rs), ruleset__files(rs));
}

static int cmd_manifest(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "version", required_argument, NULL, 'v' },
		{ "schema", required_argument, NULL, 's' },
		{ "min-sensor", required_argument, NULL, 'm' },
		{ "force", no_argument, NULL, 'f' },
		{ "expires", required_argument, NULL, 'e' },
		{ "valid-days", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct bundle_write w = { 0 };
	struct ruleset *rs;
	struct diag d;
	long long v;
	size_t n_files = 0;
	int c, err;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			w.name = optarg;
			break;
		case 'v':
			if (!parse_long(optarg, 1, 999999999999999999LL, &v)) {
				fprintf(stderr, "ringward content: --version takes a positive "
					"integer\n");
				return 2;
			}
			w.version = v;
			break;
		case 's':
			if (!parse_long(optarg, 1, 1000000, &v)) {
				fprintf(stderr, "ringward content: --schema takes a positive "
					"integer\n");
				return 2;
			}
			w.schema = (int)v;
			break;
		case 'm':
			w.min_sensor = optarg;
			break;
		case 'f':
			w.force = true;
			break;
		case 'e':
			if (bundle__parse_time(optarg, strlen(optarg), &w.expires)) {
				fprintf(stderr, "ringward content: --expires takes an RFC 3339 UTC "
					"time, YYYY-MM-DDTHH:MM:SSZ\n");
				return 2;
			}
			break;
		case 'd':
			if (!parse_long(optarg, 1, 36500, &v)) {
				fprintf(stderr, "ringward content: --valid-days takes 1 to 36500\n");
				return 2;
			}
			w.expires = (int64_t)time(NULL) + v * 86400;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1 || !w.name || !w.version) {
		fprintf(stderr, "ringward content manifest: DIR, --name and --version are "
			"required\n");
		usage(stderr);
		return 2;
	}
	diag__init(&d);
	err = bundle__write_manifest(argv[optind], &w, &n_files, &d);
	diag__print(&d, stdout);
	diag__free(&d);
	if (err)
		return 1;
	printf("wrote %s/%s: bundle %s version %lld, %zu files\n", argv[optind],
	       BUNDLE_MANIFEST, w.name, (long long)w.version, n_files);
	rs = load_report((const char *const *)argv + optind, 1);
	if (!rs)
		return 1;
	print_info(rs);
	ruleset__free(rs);
	return 0;
}

static int cmd_info(int argc, char **argv)
{
	struct ruleset *rs;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	rs = load_report((const char *const *)argv + 1, argc - 1);
	if (!rs)
		return 1;
	print_info(rs);
	ruleset__free(rs);
	return 0;
}

static int cmd_lkg(int argc, char **argv)
{
	const char *state = NULL, *lkg;
	char buf[4096], store[4096];
	struct ruleset *rs;

	if (argc == 3 && !strcmp(argv[1], "--state-dir")) {
		state = argv[2];
	} else if (argc != 1) {
		usage(stderr);
		return 2;
	}
	/* the running sensor keeps its store in <state-dir>/content
	 * (src/core/supervisor.c: the one directory its engine may write) */
	snprintf(store, sizeof(store), "%s/content", state ? state : CONTENT_STORE_DIR);
	lkg = content_store__lkg_dir(store, buf, sizeof(buf));
	if (!lkg) {
		printf("no last-known-good content in %s\n", store);
		return 1;
	}
	printf("last-known-good content: %s\n", lkg);
	rs = load_report(&lkg, 1);
	if (!rs)
		return 1;
	print_info(rs);
	ruleset__free(rs);
	return 0;
}

static int cmd_keygen(int argc, char **argv)
{
	char id[SIGN_KEY_ID_LEN + 1];
	struct diag d;
	int err;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (argc != 3 || strcmp(argv[1], "--out")) {
		fprintf(stderr, "usage: ringward content keygen --out PREFIX\n");
		return 2;
	}
	diag__init(&d);
	err = sign__keygen(argv[2], id, &d);
	diag__print(&d, stdout);
	diag__free(&d);
	if (err)
		return 1;
	printf("wrote %s.key (secret, mode 0600) and %s.pub: key id %s\n", argv[2], argv[2], id);
	return 0;
}

static int cmd_sign(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "append", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *key = NULL;
	char id[SIGN_KEY_ID_LEN + 1];
	bool append = false;
	struct ruleset *rs;
	struct diag d;
	int c, err;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': key = optarg; break;
		case 'a': append = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1 || !key) {
		fprintf(stderr, "usage: ringward content sign BUNDLE --key PREFIX.key [--append]\n");
		return 2;
	}
	if (!bundle__is_bundle(argv[optind])) {
		printf("%s: error: not a bundle (no %s: make one with `ringward content "
		       "manifest`)\n", argv[optind], BUNDLE_MANIFEST);
		return 1;
	}
	/* never sign what would not load: a signature vouches for content */
	rs = load_report((const char *const *)argv + optind, 1);
	if (!rs) {
		printf("not signed\n");
		return 1;
	}
	ruleset__free(rs);
	diag__init(&d);
	err = sign__bundle(argv[optind], key, append, id, &d);
	diag__print(&d, stdout);
	diag__free(&d);
	if (err)
		return 1;
	printf("signed %s/%s with key %s: wrote %s/%s\n", argv[optind], BUNDLE_MANIFEST, id,
	       argv[optind], BUNDLE_SIGNATURE);
	return 0;
}

static int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "trusted", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *trusted[64];
	struct ruleset_opts ro = { .trusted_keys = trusted };
	const struct content_info *ci;
	struct ruleset *rs;
	struct diag d;
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (ro.n_trusted_keys == 64) {
				fprintf(stderr, "ringward content verify: at most 64 --trusted\n");
				return 2;
			}
			trusted[ro.n_trusted_keys++] = optarg;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	/* `--trusted a.pub b.pub`: the words after BUNDLE are keys too */
	for (int i = optind + 1; i < argc && ro.n_trusted_keys < 64; i++)
		trusted[ro.n_trusted_keys++] = argv[i];
	if (optind >= argc || !ro.n_trusted_keys || argc - optind - 1 > 64) {
		fprintf(stderr, "usage: ringward content verify BUNDLE --trusted PUB "
			"[PUB...]\n");
		return 2;
	}
	diag__init(&d);
	rs = ruleset__load_opts((const char *const *)argv + optind, 1, &ro, &d);
	diag__print(&d, stdout);
	diag__free(&d);
	if (!rs) {
		printf("refused: %s does not verify\n", argv[optind]);
		return 1;
	}
	ci = ruleset__content_info(rs, 0);
	if (ci)
		printf("ok: bundle %s version %lld, signed by trusted key %s; %zu rules in %zu "
		       "files\n", ci->name, (long long)ci->version, ci->key_id ? ci->key_id : "?",
		       ruleset__count(rs), ruleset__files(rs));
	ruleset__free(rs);
	return ci ? 0 : 1;
}

int cmd_content(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "manifest"))
		return cmd_manifest(argc - 1, argv + 1);
	if (!strcmp(argv[1], "info"))
		return cmd_info(argc - 1, argv + 1);
	if (!strcmp(argv[1], "lkg"))
		return cmd_lkg(argc - 1, argv + 1);
	if (!strcmp(argv[1], "keygen"))
		return cmd_keygen(argc - 1, argv + 1);
	if (!strcmp(argv[1], "sign"))
		return cmd_sign(argc - 1, argv + 1);
	if (!strcmp(argv[1], "verify"))
		return cmd_verify(argc - 1, argv + 1);
	fprintf(stderr, "ringward content: unknown subcommand '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
