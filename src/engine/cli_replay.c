/*
 * ringward replay --content PATH [--content PATH]... EVENTS.jsonl
 *
 * Evaluates recorded events (the JSON lines `ringward run --events` writes)
 * against content loaded by the sensor's own loader, and prints one ECS
 * alert record per matching rule and event, so that detections are
 * testable without a kernel.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common/ecs_in.h"
#include "common/ecs_out.h"
#include "engine/alert.h"
#include "engine/ruleset.h"

#define REPLAY_MAX_CONTENT 64
#define REPLAY_MAX_LINE (16 * 1024 * 1024)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ringward replay --content PATH [--content PATH]... [options] EVENTS.jsonl\n"
		"\n"
		"Evaluate recorded events (JSON lines from `ringward run --events`; '-' reads\n"
		"stdin) against Sigma content and print one ECS alert record per match.\n"
		"\n"
		"  --content PATH       rule file or directory (repeatable; at least one)\n"
		"  --placeholders FILE  YAML mapping name: [values] for the |expand modifier\n"
		"  --format json|text   alert output format (default json)\n"
		"  -h, --help           this help\n"
		"\n"
		"A summary goes to stderr. Exit status: 0 when every line was read, 1 when\n"
		"the content failed to load or a line could not be read, 2 usage error.\n");
}

struct replay {
	struct rw_event *alert;
	struct strbuf out;
	bool text;
	size_t n_alerts;
	size_t n_truncated;
};

static int on_match(const struct rule_info *rule, const struct rw_event *ev, void *ctx)
{
	struct replay *rp = ctx;

	if (alert__build(rp->alert, ev, rule) == -ENOSPC)
		rp->n_truncated++;
	strbuf__reset(&rp->out);
	if (rp->text)
		ecs__write_text(&rp->out, rp->alert);
	else
		ecs__write_json(&rp->out, rp->alert);
	if (rp->out.oom)
		return -ENOMEM;
	fwrite(rp->out.buf, 1, rp->out.len, stdout);
	rp->n_alerts++;
	return 0;
}

int cmd_replay(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "content", required_argument, NULL, 'c' },
		{ "placeholders", required_argument, NULL, 'p' },
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *content[REPLAY_MAX_CONTENT];
	struct ruleset_opts ro = { 0 };
	struct ruleset *rs = NULL;
	struct replay rp = { 0 };
	struct rw_event *ev = NULL;
	struct ecs_in_stats st = { 0 };
	struct diag d;
	const char *path;
	FILE *in = NULL;
	char *line = NULL;
	size_t cap = 0, lineno = 0, n_events = 0, n_bad = 0;
	ssize_t len;
	int n_content = 0, c, rc = 1;

	diag__init(&d);
	optind = 0;	/* GNU: full reinitialisation, so a second call parses afresh */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (n_content == REPLAY_MAX_CONTENT) {
				fprintf(stderr, "ringward replay: more than %d --content\n",
					REPLAY_MAX_CONTENT);
				return 2;
			}
			content[n_content++] = optarg;
			break;
		case 'p':
			ro.placeholders_path = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "json") && strcmp(optarg, "text")) {
				fprintf(stderr, "ringward replay: --format is json or text\n");
				return 2;
			}
			rp.text = !strcmp(optarg, "text");
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!n_content || optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	path = argv[optind];
	rs = ruleset__load_opts(content, n_content, &ro, &d);
	if (!rs) {
		diag__print(&d, stderr);
		fprintf(stderr, "ringward replay: content did not load\n");
		goto cleanup;
	}
	in = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!in) {
		fprintf(stderr, "ringward replay: %s: %s\n", path, strerror(errno));
		goto cleanup;
	}
	ev = rw_event__new();
	rp.alert = rw_event__new();
	if (!ev || !rp.alert) {
		fprintf(stderr, "ringward replay: out of memory\n");
		goto cleanup;
	}
	rc = 0;
	while ((len = getline(&line, &cap, in)) >= 0) {
		int err, m;

		lineno++;
		if (len == 0 || (len == 1 && line[0] == '\n'))
			continue;
		if (len > REPLAY_MAX_LINE) {
			fprintf(stderr, "%s:%zu: error: line longer than %d bytes\n", path, lineno,
				REPLAY_MAX_LINE);
			n_bad++;
			continue;
		}
		rw_event__reset(ev);
		err = ecs__read_json(ev, line, (size_t)len, &st);
		if (err == -EINVAL || err == -ENOMEM) {
			fprintf(stderr, "%s:%zu: error: not a JSON object\n", path, lineno);
			n_bad++;
			continue;
		}
		n_events++;
		m = ruleset__match(rs, ev, on_match, &rp);
		if (m < 0) {
			fprintf(stderr, "%s:%zu: error: matching failed: %s\n", path, lineno,
				strerror(-m));
			rc = 1;
			break;
		}
	}
	fflush(stdout);
	{
		struct ruleset_stats rst;

		ruleset__stats(rs, &rst);
		fprintf(stderr, "replay: %zu events, %zu alerts, %zu unreadable lines, %llu unknown "
			"fields, %llu values of the wrong type, %llu rules disabled\n", n_events,
			rp.n_alerts, n_bad, (unsigned long long)st.unknown_fields,
			(unsigned long long)st.bad_types, (unsigned long long)rst.disabled_oob);
	}
	if (n_bad)
		rc = 1;
cleanup:
	if (in && in != stdin)
		fclose(in);
	free(line);
	free(ev);
	free(rp.alert);
	strbuf__free(&rp.out);
	ruleset__free(rs);
	diag__free(&d);
	return rc;
}
