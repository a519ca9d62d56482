/*
 * libFuzzer harness: the controller's report reader (update/controller.h).
 * Health reports come from the fleet's telemetry pipeline: anything a host
 * (or whoever writes into that pipeline) sends. Each input is split into
 * lines and fed to one controller for a fixed rollout document; then the
 * controller decides, applies its decisions to a copy of the document,
 * and writes the decisions and the census as JSON. Every line must be
 * taken, ignored or refused with a message; nothing may crash or leak.
 * Seeds: fuzz/corpus/fuzz_controller/ (health records, rollback alerts,
 * malformed lines).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "update/controller.h"
#include "update/rollout.h"

static const char doc_text[] =
	"{\"_type\": \"rollout\", \"version\": 3, \"salt\": \"fuzz-salt\",\n"
	" \"rings\": [{\"name\": \"canary\", \"hosts_bp\": 100, \"bake_seconds\": 3600,\n"
	"             \"gates\": {\"max_engine_restarts\": 0, \"max_rule_errors\": 0,\n"
	"                       \"max_drop_ppm\": 1000, \"max_cpu_permille\": 50,\n"
	"                       \"min_hosts\": 2}},\n"
	"           {\"name\": \"early\", \"hosts_bp\": 1000, \"bake_seconds\": 3600},\n"
	"           {\"name\": \"broad\", \"hosts_bp\": 8900}],\n"
	" \"releases\": [\n"
	"  {\"version\": 12, \"target\": \"ringward-default-12.rwb\",\n"
	"   \"rings\": {\"canary\": \"2026-01-01T00:00:00Z\", \"early\": \"2026-01-02T00:00:00Z\",\n"
	"             \"broad\": \"2026-01-03T00:00:00Z\"}},\n"
	"  {\"version\": 13, \"target\": \"ringward-default-13.rwb\",\n"
	"   \"rings\": {\"canary\": \"2026-11-26T08:00:00Z\"}}]}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rollout_doc doc;
	static int parsed;
	struct rollout_doc copy;
	struct ctl_decision *d = NULL;
	struct controller *c;
	struct tuf_err e;
	char err[512];
	size_t n = 0, start = 0;
	bool changed = false;

	if (!parsed) {
		if (rollout__parse(&doc, "rollout.json", doc_text, strlen(doc_text), &e))
			abort();	/* the harness's own document must parse */
		parsed = 1;
	}
	c = controller__new(&doc, 1795687200);	/* 2026-11-26T10:00:00Z */
	if (!c)
		return 0;
	for (size_t i = 0; i <= size; i++) {
		if (i < size && data[i] != '\n')
			continue;
		err[0] = 0;
		if (controller__ingest(c, (const char *)data + start, i - start, err,
				       sizeof(err)) == -EINVAL && !err[0])
			abort();	/* a refusal always says why */
		start = i + 1;
	}
	if (controller__decide(c, &d, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			json_object_put(controller__decision_json(c, &d[i]));
		json_object_put(controller__census_json(c));
		memset(&copy, 0, sizeof(copy));
		if (rollout__parse(&copy, "rollout.json", doc_text, strlen(doc_text), &e) == 0) {
			controller__apply(&copy, d, n, 1795687200, &changed);
			if (changed && copy.version != doc.version + 1)
				abort();	/* a change is a new version */
		}
		rollout__free(&copy);
		free(d);
	}
	controller__free(c);
	return 0;
}
