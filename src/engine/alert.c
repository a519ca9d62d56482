#include "engine/alert.h"

#include <errno.h>
#include <string.h>

static void keep(int *err, int e)
{
	if (e && !*err)
		*err = e;
}

int alert__build(struct rw_event *out, const struct rw_event *ev, const struct rule_info *rule)
{
	int err = 0;

	rw_event__reset(out);
	for (int f = 0; f < RW_F__COUNT; f++)
		keep(&err, rw_event__copy_field(out, ev, f));
	keep(&err, rw_event__set_cstr(out, RW_F_EVENT_KIND, "alert"));
	if (rule->severity)
		keep(&err, rw_event__set_int(out, RW_F_EVENT_SEVERITY, rule->severity));
	if (rule->id)
		keep(&err, rw_event__set_cstr(out, RW_F_RULE_ID, rule->id));
	keep(&err, rw_event__set_cstr(out, RW_F_RULE_NAME, rule->title));
	if (rule->description)
		keep(&err, rw_event__set_cstr(out, RW_F_RULE_DESCRIPTION, rule->description));
	if (rule->author)
		keep(&err, rw_event__add_strv(out, RW_F_RULE_AUTHOR, rule->author,
					      strlen(rule->author)));
	out->strv_open = -1;
	/* the event's own tags (none today) are replaced by the rule's */
	rw_event__unset(out, RW_F_TAGS);
	for (size_t i = 0; i < rule->n_tags; i++)
		keep(&err, rw_event__add_strv(out, RW_F_TAGS, rule->tags[i], strlen(rule->tags[i])));
	out->strv_open = -1;
	if (rule->level)
		keep(&err, rw_event__set_cstr(out, RW_F_RW_RULE_LEVEL, rule->level));
	keep(&err, rw_event__set_cstr(out, RW_F_RW_RULE_ACTION, rule->action));
	if (rule->kill_group)
		keep(&err, rw_event__set_bool(out, RW_F_RW_RULE_KILL_GROUP, true));
	return err == -ENOSPC ? -ENOSPC : err;
}
