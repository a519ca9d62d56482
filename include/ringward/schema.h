/* The event schema: field ids and types, generated from schema.def. */
#ifndef RINGWARD_SCHEMA_H
#define RINGWARD_SCHEMA_H

/* Version of the set of fields this sensor supplies. Content (issue 3)
 * declares the schema version it targets. */
#define RW_SCHEMA_VERSION 2
#define RW_SENSOR_VERSION "0.1.0"

enum rw_ftype {
	RW_T_STR, RW_T_INT, RW_T_BOOL, RW_T_TIME, RW_T_STRV, RW_T_STRA, RW_T_RAW,
};

enum rw_field {
#define X(id, name, type) RW_F_##id,
#include "ringward/schema.def"
#undef X
	RW_F__COUNT
};

struct rw_field_desc {
	const char *name;	/* ECS dotted name */
	enum rw_ftype type;
};

extern const struct rw_field_desc rw_schema[RW_F__COUNT];

/* Field id for an ECS dotted name, or -1. */
int rw_schema__lookup(const char *name);

#endif
