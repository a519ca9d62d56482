/*
 * The Sigma field schema (include/ringward/sigma_fields.def): every mapped
 * ECS field exists in schema.def (a missing one is already a build error:
 * RW_F_<ID> would be undeclared) and has a type the matcher reads; names
 * are unique per category; every category has events, and every event
 * action it names is one the sensor counts (counters.def), so a category
 * cannot silently never fire.
 */
#include <stdio.h>
#include <string.h>

#include "testlib.h"

#include "engine/sigma_fields.h"

/* The actions the sensor emits, from counters.def ("events.<action>"). */
static const char *const counter_names[] = {
#define X(id, name) name,
#include "ringward/counters.def"
#undef X
};

static bool sensor_counts_action(const char *action)
{
	char want[64];

	snprintf(want, sizeof(want), "events.%s", action);
	for (size_t i = 0; i < sizeof(counter_names) / sizeof(counter_names[0]); i++)
		if (!strcmp(counter_names[i], want))
			return true;
	return false;
}

static void test_fields_map_to_schema(void **state)
{
	assert_true(sigma_n_fields > 40);
	for (size_t i = 0; i < sigma_n_fields; i++) {
		const struct sigma_field *f = &sigma_fields[i];
		enum rw_ftype t;

		assert_true((unsigned)f->cat < SC__COUNT);
		assert_true((unsigned)f->ecs < RW_F__COUNT);
		assert_non_null(rw_schema[f->ecs].name);
		t = rw_schema[f->ecs].type;
		/* RAW and TIME values are never matched by Sigma */
		if (t != RW_T_STR && t != RW_T_INT && t != RW_T_BOOL && t != RW_T_STRV &&
		    t != RW_T_STRA)
			fail_msg("%s/%s maps to %s of an unmatchable type", sigma_cat_names[f->cat],
				 f->name, rw_schema[f->ecs].name);
		/* derived values are read from event.action; RENAME_TARGET
		 * from file.path, or file.target_path for a rename */
		if (f->conv == SCONV_RENAME_TARGET)
			assert_int_equal(f->ecs, RW_F_FILE_PATH);
		else if (f->conv != SCONV_ASIS)
			assert_int_equal(f->ecs, RW_F_EVENT_ACTION);
		/* unique per category */
		for (size_t j = 0; j < i; j++)
			if (sigma_fields[j].cat == f->cat && !strcmp(sigma_fields[j].name, f->name))
				fail_msg("%s/%s twice", sigma_cat_names[f->cat], f->name);
	}
}

static void test_known_mappings(void **state)
{
	static const struct {
		const char *cat, *field, *ecs;
	} want[] = {
		{ "process_creation", "Image", "process.executable" },
		{ "process_creation", "CommandLine", "process.command_line" },
		{ "process_creation", "ParentImage", "process.parent.executable" },
		{ "process_creation", "ParentCommandLine", "process.parent.command_line" },
		{ "process_creation", "User", "user.name" },
		{ "process_creation", "CurrentDirectory", "process.working_directory" },
		{ "process_creation", "LogonId", "ringward.process.login_uid" },
		{ "process_creation", "ProcessId", "process.pid" },
		{ "process_creation", "ParentProcessId", "process.parent.pid" },
		{ "file_event", "TargetFilename", "file.path" },
		{ "pipe_created", "PipeName", "file.path" },
		{ "network_connection", "Initiated", "event.action" },
		{ "network_connection", "DestinationIp", "destination.ip" },
		{ "network_connection", "DestinationPort", "destination.port" },
		{ "network_connection", "DestinationHostname", "destination.domain" },
		{ "network_connection", "SourceIp", "source.ip" },
		{ "network_connection", "SourcePort", "source.port" },
	};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int c = sigma_cat__lookup(want[i].cat);
		int f;

		assert_true(c >= 0);
		f = sigma_field__lookup(c, want[i].field, strlen(want[i].field));
		if (f < 0)
			fail_msg("%s/%s not supplied", want[i].cat, want[i].field);
		assert_string_equal(rw_schema[sigma_fields[f].ecs].name, want[i].ecs);
	}
	/* not supplied, on purpose */
	assert_int_equal(sigma_field__lookup(SC_PROCESS_CREATION, "OriginalFileName", 16), -1);
	assert_int_equal(sigma_field__lookup(SC_PROCESS_CREATION, "Hashes", 6), -1);
	assert_int_equal(sigma_field__lookup(SC_PROCESS_CREATION, "image", 5), -1);
	assert_int_equal(sigma_field__lookup_nocase(SC_PROCESS_CREATION, "image", 5),
			 sigma_field__lookup(SC_PROCESS_CREATION, "Image", 5));
	assert_int_equal(sigma_cat__lookup("file_change"), -1);
	assert_int_equal(sigma_cat__lookup("registry_set"), -1);
}

static void test_actions(void **state)
{
	for (int c = 0; c < SC__COUNT; c++) {
		size_t n = 0;

		for (size_t i = 0; i < sigma_n_actions; i++)
			if (sigma_actions[i].cat == (enum sigma_cat)c)
				n++;
		if (!n)
			fail_msg("category %s has no events", sigma_cat_names[c]);
	}
	for (size_t i = 0; i < sigma_n_actions; i++)
		if (!sensor_counts_action(sigma_actions[i].action))
			fail_msg("action '%s' of %s is not one the sensor emits (counters.def)",
				 sigma_actions[i].action, sigma_cat_names[sigma_actions[i].cat]);
	assert_int_equal(sigma_cat__mask_for_action("exec", 4), 1u << SC_PROCESS_CREATION);
	assert_int_equal(sigma_cat__mask_for_action("memfd-exec", 10), 1u << SC_PROCESS_CREATION);
	assert_int_equal(sigma_cat__mask_for_action("rename", 6),
			 (1u << SC_FILE_EVENT) | (1u << SC_FILE_RENAME));
	assert_int_equal(sigma_cat__mask_for_action("connect", 7), 1u << SC_NETWORK_CONNECTION);
	assert_int_equal(sigma_cat__mask_for_action("pipe-create", 11), 1u << SC_PIPE_CREATED);
	assert_int_equal(sigma_cat__mask_for_action("fork", 4), 0);
	assert_int_equal(sigma_cat__mask_for_action("exe", 3), 0);
}

static void test_field_list(void **state)
{
	char buf[512], small[12];

	sigma_cat__field_list(SC_DNS_QUERY, buf, sizeof(buf));
	assert_string_equal(buf, "QueryName, QueryResults");
	sigma_cat__field_list(SC_DNS_QUERY, small, sizeof(small));
	assert_string_equal(small, "QueryName");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields_map_to_schema),
		cmocka_unit_test(test_known_mappings),
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_field_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
