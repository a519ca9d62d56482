/*
 * The Sigma field schema (include/ringward/sigma_fields.def) as C tables:
 * which Sigma logsource categories the sensor supplies, which event.action
 * values belong to each, and which Sigma field names each supplies, mapped
 * to ECS field ids of schema.def.
 *
 * All tables are static and read-only; nothing here allocates.
 */
#ifndef RINGWARD_SIGMA_FIELDS_H
#define RINGWARD_SIGMA_FIELDS_H

#include <stddef.h>
#include <stdint.h>

#include "ringward/schema.h"

enum sigma_cat {
#define SIGMA_CATEGORY(cat, name) SC_##cat,
#include "ringward/sigma_fields.def"
	SC__COUNT
};

/* How a Sigma value is derived from its ECS field (see sigma_fields.def). */
enum sigma_conv {
	SCONV_ASIS,
	SCONV_INITIATED,
	SCONV_PIPE_EVENT,
	SCONV_RENAME_TARGET,
};

struct sigma_field {
	enum sigma_cat cat;
	const char *name;	/* Sigma field name, case-sensitive */
	enum rw_field ecs;	/* the ECS field it is read from */
	enum sigma_conv conv;
};

struct sigma_action {
	enum sigma_cat cat;
	const char *action;	/* an event.action value */
};

extern const char *const sigma_cat_names[SC__COUNT];
extern const struct sigma_field sigma_fields[];
extern const size_t sigma_n_fields;
extern const struct sigma_action sigma_actions[];
extern const size_t sigma_n_actions;

/* Category id for a Sigma category name, or -1. */
int sigma_cat__lookup(const char *name);

/* Index into sigma_fields[] of the field called name in category cat, or
 * -1. Field names are case-sensitive, as in Sigma. */
int sigma_field__lookup(enum sigma_cat cat, const char *name, size_t len);

/* Index of a field whose name differs from name only in case, or -1 (for
 * "did you mean" hints). */
int sigma_field__lookup_nocase(enum sigma_cat cat, const char *name, size_t len);

/* Bit mask (1 << cat) of the categories an event.action value belongs to;
 * 0 when none. */
uint32_t sigma_cat__mask_for_action(const char *action, size_t len);

/* Comma-separated list of the field names supplied for cat, written into
 * buf (truncated to size). */
void sigma_cat__field_list(enum sigma_cat cat, char *buf, size_t size);

#endif
