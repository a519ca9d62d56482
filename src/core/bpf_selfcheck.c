/*
 * Self-check of the sensor's own BPF programs (see bpf_selfcheck.h).
 *
 * Everything is looked up by id, never through the sensor's own fds: an
 * fd the sensor holds keeps its object alive and says nothing about what
 * the kernel runs, and an fd number closed behind our back may name
 * something else by now. Ids are never reused while the kernel is up
 * (cyclic allocation), so "this id exists" is a sound question.
 */
#include "core/bpf_selfcheck.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "core/sensor.h"

#define RULE		"ringward-tamper"
#define NAME_LEN	64
#define TAG_HEX		(2 * BPF_TAG_SIZE + 1)
#define REASON_LEN	512

enum verdict {
	V_OK,
	V_UNKNOWN,		/* could not look (EPERM, ENOMEM): no verdict this time */
	V_LINK_DETACHED,
	V_PROG_REPLACED,
	V_PROG_MISSING,
};

struct watched {
	char hook[NAME_LEN];		/* as reported with sensor__hook */
	char name[NAME_LEN];		/* libbpf's name: the kernel keeps 15 bytes */
	struct bpf_link *link;		/* the source's */
	__u32 prog_id, link_id, prog_type;
	__u8 tag[BPF_TAG_SIZE];
	enum verdict state;		/* as last alerted */
};

struct bpf_selfcheck {
	struct sensor *s;
	struct watched *w;
	size_t n, cap;
};

/* What the kernel says now about a program or a link, for the reason. */
struct seen {
	__u32 link_prog_id;		/* the program the link runs now */
	char other_name[BPF_OBJ_NAME_LEN];	/* that program's name, when it is not ours */
	__u8 other_tag[BPF_TAG_SIZE];
	bool other_known;
	__u8 tag[BPF_TAG_SIZE];		/* our program id's tag now */
};

static void tag_hex(char out[TAG_HEX], const __u8 tag[BPF_TAG_SIZE])
{
	for (int i = 0; i < BPF_TAG_SIZE; i++)
		snprintf(out + 2 * i, 3, "%02x", tag[i]);
}

/* Info of program id into *info; 0, -ENOENT when the id is gone, or another -errno. */
static int prog_info_by_id(__u32 id, struct bpf_prog_info *info)
{
	__u32 len = sizeof(*info);
	int fd = bpf_prog_get_fd_by_id(id), err = 0;

	if (fd < 0)
		return -errno;
	memset(info, 0, sizeof(*info));
	if (bpf_obj_get_info_by_fd(fd, info, &len))
		err = -errno;
	close(fd);
	return err;
}

static int link_info_by_id(__u32 id, struct bpf_link_info *info)
{
	__u32 len = sizeof(*info);
	int fd = bpf_link_get_fd_by_id(id), err = 0;

	if (fd < 0)
		return -errno;
	memset(info, 0, sizeof(*info));
	if (bpf_obj_get_info_by_fd(fd, info, &len))
		err = -errno;
	close(fd);
	return err;
}

struct bpf_selfcheck *bpf_selfcheck__new(struct sensor *s)
{
	struct bpf_selfcheck *c = calloc(1, sizeof(*c));

	if (c)
		c->s = s;
	return c;
}

int bpf_selfcheck__add(struct bpf_selfcheck *c, const char *hook, struct bpf_program *prog,
		       struct bpf_link *link)
{
	struct bpf_prog_info pi;
	struct bpf_link_info li;
	__u32 plen = sizeof(pi), llen = sizeof(li);
	struct watched *w;

	if (!c)
		return 0;
	if (!hook || !prog || !link || bpf_program__fd(prog) < 0 || bpf_link__fd(link) < 0)
		return -EINVAL;
	memset(&pi, 0, sizeof(pi));
	memset(&li, 0, sizeof(li));
	if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &pi, &plen) ||
	    bpf_obj_get_info_by_fd(bpf_link__fd(link), &li, &llen))
		return -errno;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 32;
		struct watched *n = realloc(c->w, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		c->w = n;
		c->cap = cap;
	}
	w = &c->w[c->n++];
	memset(w, 0, sizeof(*w));
	snprintf(w->hook, sizeof(w->hook), "%s", hook);
	snprintf(w->name, sizeof(w->name), "%s", bpf_program__name(prog));
	w->link = link;
	w->prog_id = pi.id;
	w->prog_type = pi.type;
	memcpy(w->tag, pi.tag, sizeof(w->tag));
	w->link_id = li.id;
	w->state = V_OK;
	return 0;
}

size_t bpf_selfcheck__count(const struct bpf_selfcheck *c)
{
	return c ? c->n : 0;
}

/* Ask the kernel about w; what it says beyond the verdict goes to *seen. */
static enum verdict check_one(const struct watched *w, struct seen *seen)
{
	struct bpf_prog_info pi;
	struct bpf_link_info li;
	bool link_gone = false;
	int err;

	memset(seen, 0, sizeof(*seen));
	err = link_info_by_id(w->link_id, &li);
	if (err == -ENOENT)
		link_gone = true;
	else if (err)
		return V_UNKNOWN;
	else if (li.prog_id != w->prog_id) {
		/* the link now runs someone else's program (BPF_LINK_UPDATE) */
		seen->link_prog_id = li.prog_id;
		if (prog_info_by_id(li.prog_id, &pi) == 0) {
			memcpy(seen->other_name, pi.name, sizeof(seen->other_name));
			memcpy(seen->other_tag, pi.tag, sizeof(seen->other_tag));
			seen->other_known = true;
		}
		return V_PROG_REPLACED;
	}

	err = prog_info_by_id(w->prog_id, &pi);
	if (err == -ENOENT)
		return V_PROG_MISSING;
	if (err)
		return V_UNKNOWN;
	memcpy(seen->tag, pi.tag, sizeof(seen->tag));
	if (memcmp(pi.tag, w->tag, sizeof(w->tag)) != 0)
		return V_PROG_REPLACED;
	return link_gone ? V_LINK_DETACHED : V_OK;
}

static const char *verdict_action(enum verdict v)
{
	switch (v) {
	case V_LINK_DETACHED: return "sensor-bpf-link-detached";
	case V_PROG_REPLACED: return "sensor-bpf-program-replaced";
	case V_PROG_MISSING: return "sensor-bpf-program-missing";
	default: return NULL;
	}
}

static void reason_of(const struct watched *w, enum verdict v, const struct seen *seen,
		      char *out, size_t len)
{
	char tag[TAG_HEX], other[TAG_HEX];

	tag_hex(tag, w->tag);
	switch (v) {
	case V_LINK_DETACHED:
		snprintf(out, len, "the sensor's BPF program %s (id %u, tag %s) is no longer "
			 "attached: its link %u is gone, so hook %s no longer reports events",
			 w->name, w->prog_id, tag, w->link_id, w->hook);
		break;
	case V_PROG_MISSING:
		snprintf(out, len, "the sensor's BPF program %s (id %u, tag %s) no longer exists "
			 "in the kernel (its link %u is gone too), so hook %s no longer reports "
			 "events", w->name, w->prog_id, tag, w->link_id, w->hook);
		break;
	case V_PROG_REPLACED:
		if (seen->link_prog_id && seen->other_known) {
			tag_hex(other, seen->other_tag);
			snprintf(out, len, "link %u of hook %s now runs BPF program %.*s (id %u, "
				 "tag %s) instead of the sensor's program %s (id %u, tag %s)",
				 w->link_id, w->hook, BPF_OBJ_NAME_LEN, seen->other_name,
				 seen->link_prog_id, other, w->name, w->prog_id, tag);
		} else if (seen->link_prog_id) {
			snprintf(out, len, "link %u of hook %s now runs BPF program id %u instead "
				 "of the sensor's program %s (id %u, tag %s)", w->link_id,
				 w->hook, seen->link_prog_id, w->name, w->prog_id, tag);
		} else {
			tag_hex(other, seen->tag);
			snprintf(out, len, "the sensor's BPF program %s (id %u) has tag %s, not "
				 "the tag %s it was loaded with, so hook %s runs other code",
				 w->name, w->prog_id, other, tag, w->hook);
		}
		break;
	default:
		snprintf(out, len, "the sensor's BPF program %s is in an unknown state", w->name);
		break;
	}
}

static void set_prog_type(struct rw_event *ev, __u32 type)
{
	const char *name = libbpf_bpf_prog_type_str((enum bpf_prog_type)type);
	char buf[32];

	if (!name) {
		snprintf(buf, sizeof(buf), "%u", type);
		name = buf;
	}
	rw_event__set_cstr(ev, RW_F_RW_BPF_PROG_TYPE, name);
}

/* One ringward-tamper alert about w; the program fields are the sensor's
 * own program (what went missing), the reason says what took its place. */
static void alert(struct bpf_selfcheck *c, const struct watched *w, enum verdict v,
		  const char *reason)
{
	struct rw_event *ev = sensor__scratch(c->s);
	char tag[TAG_HEX];

	tag_hex(tag, w->tag);
	rw_event__set_cstr(ev, RW_F_EVENT_KIND, "alert");
	rw_event__set_cstr(ev, RW_F_EVENT_CATEGORY, "host");
	rw_event__set_cstr(ev, RW_F_EVENT_TYPE, "change");
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, verdict_action(v));
	rw_event__set_cstr(ev, RW_F_EVENT_MODULE, "ringward");
	rw_event__set_cstr(ev, RW_F_EVENT_REASON, reason);
	rw_event__set_int(ev, RW_F_EVENT_SEVERITY, 4);
	/* the process that lost its hook */
	rw_event__set_int(ev, RW_F_PROC_PID, sensor__self(c->s));
	rw_event__set_cstr(ev, RW_F_RULE_ID, RULE);
	rw_event__set_cstr(ev, RW_F_RULE_NAME, RULE);
	rw_event__set_cstr(ev, RW_F_RULE_DESCRIPTION,
			   "One of the sensor's own BPF programs was detached, removed or "
			   "replaced: the sensor is blind to what that hook reported.");
	rw_event__set_cstr(ev, RW_F_RW_RULE_LEVEL, "high");
	rw_event__set_int(ev, RW_F_RW_BPF_PROG_ID, w->prog_id);
	rw_event__set_cstr(ev, RW_F_RW_BPF_PROG_NAME, w->name);
	rw_event__set_cstr(ev, RW_F_RW_BPF_PROG_TAG, tag);
	set_prog_type(ev, w->prog_type);
	/* the core's own alert: written with or without --events, not
	 * evaluated by the engine */
	sensor__write(c->s, ev);
}

/*
 * The link's fd was closed behind the sensor's back when it no longer
 * holds the link: its number may name another object by now, which the
 * source must not close when it stops.
 */
static void forget_fd_if_gone(struct watched *w)
{
	struct bpf_link_info li;
	__u32 len = sizeof(li);
	int fd = bpf_link__fd(w->link);

	memset(&li, 0, sizeof(li));
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &li, &len) || li.id != w->link_id)
		bpf_link__disconnect(w->link);
}

int bpf_selfcheck__run(struct bpf_selfcheck *c)
{
	char reason[REASON_LEN];
	struct seen seen;
	int incidents = 0;

	if (!c)
		return 0;
	for (size_t i = 0; i < c->n; i++) {
		struct watched *w = &c->w[i];
		enum verdict v = check_one(w, &seen);

		if (v == V_UNKNOWN || v == w->state)
			continue;
		w->state = v;
		if (v == V_OK)
			continue;	/* ids are not reused: only a lookup that failed oddly */
		if (v == V_LINK_DETACHED || v == V_PROG_MISSING)
			forget_fd_if_gone(w);
		reason_of(w, v, &seen, reason, sizeof(reason));
		sensor__hook(c->s, w->hook, false, reason);
		alert(c, w, v, reason);
		incidents++;
	}
	return incidents;
}

void bpf_selfcheck__free(struct bpf_selfcheck *c)
{
	if (!c)
		return;
	free(c->w);
	free(c);
}
