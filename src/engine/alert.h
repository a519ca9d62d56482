/*
 * Alert records: the event that matched, as it was, plus what the rule
 * says (ECS rule.*, tags, event.severity) and event.kind "alert". The
 * rule's author is always kept (Detection Rule License 1.1).
 *
 * Errors: 0, or -ENOSPC when the event's arena could not hold everything
 * (values truncated and counted in out->n_truncated).
 */
#ifndef RINGWARD_ALERT_H
#define RINGWARD_ALERT_H

#include "common/event.h"
#include "engine/ruleset.h"

/* Fill out (reset here) from ev and the rule that matched it. */
int alert__build(struct rw_event *out, const struct rw_event *ev, const struct rule_info *rule);

#endif
