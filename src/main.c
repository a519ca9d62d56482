/* build/ringward: one binary, one subcommand per job. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ringward/schema.h"

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *what;
} cmds[] = {
	{ "run", cmd_run, "run the sensor in the foreground (root)" },
	{ "status", cmd_status, "print the running sensor's status" },
	{ "reload", cmd_reload, "reload the running sensor's content" },
	{ "validate", cmd_validate, "check detection content with the sensor's own loader" },
	{ "replay", cmd_replay, "evaluate recorded events against content" },
	{ "content", cmd_content, "make, sign and inspect content bundles" },
	{ "quarantine", cmd_quarantine, "list or restore quarantined files" },
	{ "repo", cmd_repo, "publish a signed content repository (TUF)" },
	{ "rollout", cmd_rollout, "promote, hold or halt staged rollouts from health reports" },
	{ "engine", cmd_engine, "(internal) the detection engine process the sensor starts" },
	{ "updater", cmd_updater, "(internal) the content updater process the sensor starts" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ringward COMMAND [options]   (ringward COMMAND --help for more)\n\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].what);
	fprintf(f, "  %-10s %s\n", "version", "print versions");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
		printf("ringward %s (event schema %d)\n", RW_SENSOR_VERSION, RW_SCHEMA_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "ringward: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
