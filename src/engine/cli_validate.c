/*
 * ringward validate [--json] [--placeholders FILE] PATH...
 *
 * Runs the sensor's own loader and compiler over PATH (files, or
 * directories searched recursively) with the same limits, and reports
 * every problem as `file:line:col: error: ...`. Exit 0 when all is valid,
 * 1 otherwise, 2 on a usage error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine/ruleset.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ringward validate [--json] [--placeholders FILE] PATH...\n"
		"\n"
		"Load and compile Sigma rules exactly as the sensor does (same code, same\n"
		"limits) and report every problem as file:line:col: error: message.\n"
		"PATH is a rule file or a directory searched recursively for *.yml/*.yaml.\n"
		"\n"
		"  --json               one JSON object on stdout: valid, rules, files, errors[]\n"
		"  --placeholders FILE  YAML mapping name: [values] for the |expand modifier\n"
		"  -h, --help           this help\n"
		"\n"
		"Exit status: 0 all valid, 1 errors found, 2 usage error.\n");
}

int cmd_validate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "placeholders", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct ruleset_opts ro = { 0 };
	struct ruleset *rs;
	struct diag d;
	bool json = false;
	int c, rc;

	optind = 0;	/* GNU: full reinitialisation, so a second call parses afresh */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'p':
			ro.placeholders_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "ringward validate: no PATH given\n");
		usage(stderr);
		return 2;
	}
	diag__init(&d);
	rs = ruleset__load_opts((const char *const *)argv + optind, argc - optind, &ro, &d);
	rc = rs && d.n_errors == 0 ? 0 : 1;
	if (json) {
		char *errs = diag__json(&d);

		printf("{\"valid\":%s,\"rules\":%zu,\"files\":%zu,\"error_count\":%zu,"
		       "\"errors\":%s}\n", rc ? "false" : "true", ruleset__count(rs),
		       ruleset__files(rs), d.n_errors, errs ? errs : "[]");
		free(errs);
	} else {
		diag__print(&d, stdout);
		if (rc == 0)
			printf("ok: %zu rules in %zu files\n", ruleset__count(rs), ruleset__files(rs));
		else
			printf("%zu error%s\n", d.n_errors, d.n_errors == 1 ? "" : "s");
	}
	ruleset__free(rs);
	diag__free(&d);
	return rc;
}
