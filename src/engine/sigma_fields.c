#include "engine/sigma_fields.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* One bit per category in sigma_cat__mask_for_action(). */
_Static_assert(SC__COUNT <= 32, "category masks are 32 bits");

const char *const sigma_cat_names[SC__COUNT] = {
#define SIGMA_CATEGORY(cat, name) [SC_##cat] = name,
#include "ringward/sigma_fields.def"
};

/* RW_F_##ecs makes a field mapped here but absent from schema.def a
 * compile error; SC_##cat does the same for an undeclared category. */
const struct sigma_field sigma_fields[] = {
#define SIGMA_FIELD(cat, name, ecs, conv) { SC_##cat, name, RW_F_##ecs, SCONV_##conv },
#include "ringward/sigma_fields.def"
};
const size_t sigma_n_fields = sizeof(sigma_fields) / sizeof(sigma_fields[0]);

const struct sigma_action sigma_actions[] = {
#define SIGMA_ACTION(cat, action) { SC_##cat, action },
#include "ringward/sigma_fields.def"
};
const size_t sigma_n_actions = sizeof(sigma_actions) / sizeof(sigma_actions[0]);

int sigma_cat__lookup(const char *name)
{
	for (int i = 0; i < SC__COUNT; i++)
		if (strcmp(sigma_cat_names[i], name) == 0)
			return i;
	return -1;
}

int sigma_field__lookup(enum sigma_cat cat, const char *name, size_t len)
{
	for (size_t i = 0; i < sigma_n_fields; i++)
		if (sigma_fields[i].cat == cat && strlen(sigma_fields[i].name) == len &&
		    memcmp(sigma_fields[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

int sigma_field__lookup_nocase(enum sigma_cat cat, const char *name, size_t len)
{
	for (size_t i = 0; i < sigma_n_fields; i++)
		if (sigma_fields[i].cat == cat && strlen(sigma_fields[i].name) == len &&
		    strncasecmp(sigma_fields[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

uint32_t sigma_cat__mask_for_action(const char *action, size_t len)
{
	uint32_t mask = 0;

	for (size_t i = 0; i < sigma_n_actions; i++)
		if (strlen(sigma_actions[i].action) == len &&
		    memcmp(sigma_actions[i].action, action, len) == 0)
			mask |= 1u << sigma_actions[i].cat;
	return mask;
}

void sigma_cat__field_list(enum sigma_cat cat, char *buf, size_t size)
{
	size_t used = 0;

	if (!size)
		return;
	buf[0] = 0;
	for (size_t i = 0; i < sigma_n_fields; i++) {
		size_t need;

		if (sigma_fields[i].cat != cat)
			continue;
		/* whole names only: stop before one that does not fit */
		need = (used ? 2 : 0) + strlen(sigma_fields[i].name);
		if (need >= size - used)
			return;
		snprintf(buf + used, size - used, "%s%s", used ? ", " : "", sigma_fields[i].name);
		used += need;
	}
}
