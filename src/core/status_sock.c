/*
 * The status socket: server side in the sensor, client side for
 * `ringward status` (see status_sock.h).
 */
#include "core/status_sock.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "common/clock.h"

struct client {
	int fd;
	struct strbuf out;
	size_t sent;
	uint64_t deadline_ns;
};

struct status_sock {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	status_fill_fn fill;
	void *ctx;
	struct client cl[STATUS_MAX_CLIENTS];
};

static int addr_of(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

/* Is a sensor answering at path? */
static bool live(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	ok = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	close(fd);
	return ok;
}

struct status_sock *status_sock__open(const char *path, status_fill_fn fill, void *ctx)
{
	struct status_sock *ss = calloc(1, sizeof(*ss));
	struct sockaddr_un sa;
	char dir[PATH_MAX];
	mode_t old;
	int err;

	if (!ss) {
		errno = ENOMEM;
		return NULL;
	}
	ss->fd = -1;
	for (int i = 0; i < STATUS_MAX_CLIENTS; i++)
		ss->cl[i].fd = -1;
	ss->fill = fill;
	ss->ctx = ctx;
	err = addr_of(path, &sa);
	if (err)
		goto fail;
	snprintf(ss->path, sizeof(ss->path), "%s", path);
	snprintf(dir, sizeof(dir), "%s", path);
	if (mkdir(dirname(dir), 0700) < 0 && errno != EEXIST) {
		err = -errno;
		goto fail;
	}
	if (live(&sa)) {
		err = -EADDRINUSE;
		goto fail;
	}
	unlink(path);	/* stale: its sensor is gone */
	ss->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ss->fd < 0) {
		err = -errno;
		goto fail;
	}
	/* mode 0600 from the start: no window in which others could connect */
	old = umask(077);
	err = bind(ss->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	umask(old);
	if (!err && chmod(path, 0600) < 0)
		err = -errno;
	if (!err && listen(ss->fd, STATUS_MAX_CLIENTS) < 0)
		err = -errno;
	if (err) {
		unlink(path);
		goto fail;
	}
	return ss;
fail:
	if (ss->fd >= 0)
		close(ss->fd);
	ss->path[0] = 0;
	free(ss);
	errno = -err;
	return NULL;
}

static void client_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	strbuf__free(&c->out);
	c->sent = 0;
}

/* false when nobody is waiting (the loop stops asking) */
static bool accept_one(struct status_sock *ss)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct client *c = NULL;
	int fd = accept4(ss->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return false;
	for (int i = 0; i < STATUS_MAX_CLIENTS && !c; i++)
		if (ss->cl[i].fd < 0)
			c = &ss->cl[i];
	/* root, or whoever runs the sensor; nobody else, even if the mode
	 * of the socket were changed */
	if (!c || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		close(fd);
		return true;	/* refused; others may be waiting */
	}
	c->fd = fd;
	c->sent = 0;
	strbuf__reset(&c->out);
	ss->fill(ss->ctx, &c->out);
	strbuf__append(&c->out, "\n", 1);
	c->deadline_ns = rw_clock_ns(CLOCK_MONOTONIC) + STATUS_CLIENT_MS * 1000000ULL;
	return true;
}

int status_sock__fd(const struct status_sock *ss)
{
	return ss ? ss->fd : -1;
}

void status_sock__accept(struct status_sock *ss)
{
	if (!ss)
		return;
	for (int i = 0; i < STATUS_MAX_CLIENTS && accept_one(ss); i++)
		;
	status_sock__tick(ss);	/* the answer goes out now, not at the next tick */
}

void status_sock__tick(struct status_sock *ss)
{
	uint64_t now;
	bool any = false;

	if (!ss)
		return;
	for (int i = 0; i < STATUS_MAX_CLIENTS; i++)
		any |= ss->cl[i].fd >= 0;
	if (!any)
		return;	/* idle: no syscall */
	now = rw_clock_ns(CLOCK_MONOTONIC);
	for (int i = 0; i < STATUS_MAX_CLIENTS; i++) {
		struct client *c = &ss->cl[i];
		ssize_t n;

		if (c->fd < 0)
			continue;
		if (c->out.oom || now > c->deadline_ns) {
			client_close(c);
			continue;
		}
		n = send(c->fd, c->out.buf + c->sent, c->out.len - c->sent,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0)
			c->sent += (size_t)n;
		if ((n < 0 && errno != EAGAIN && errno != EINTR) || c->sent == c->out.len)
			client_close(c);
	}
}

void status_sock__close(struct status_sock *ss)
{
	if (!ss)
		return;
	for (int i = 0; i < STATUS_MAX_CLIENTS; i++)
		client_close(&ss->cl[i]);
	if (ss->fd >= 0)
		close(ss->fd);
	if (ss->path[0])
		unlink(ss->path);
	free(ss);
}

/* ---- client ---- */

static int fetch(const char *path, struct strbuf *sb)
{
	struct sockaddr_un sa;
	int fd, err = addr_of(path, &sa);
	uint64_t deadline = rw_clock_ns(CLOCK_MONOTONIC) + 5000000000ULL;

	if (err)
		return err;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		goto cleanup;
	}
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		char buf[65536];
		ssize_t n;

		if (rw_clock_ns(CLOCK_MONOTONIC) > deadline) {
			err = -ETIMEDOUT;
			break;
		}
		if (poll(&p, 1, 500) <= 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		if (n == 0)
			break;
		strbuf__append(sb, buf, (size_t)n);
	}
	if (!err && (sb->oom || !sb->len))
		err = -EIO;
cleanup:
	close(fd);
	return err;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

static int64_t jint(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

static bool jbool(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

static json_object *jget(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static void print_rule(json_object *r)
{
	if (!r || json_object_is_type(r, json_type_null))
		return;
	printf(", rule %s (%s)", jstr(r, "id")[0] ? jstr(r, "id") : "-", jstr(r, "name"));
}

static void print_text(json_object *st)
{
	json_object *sensor = jget(st, "sensor"), *health = jget(st, "health");
	json_object *engine = jget(st, "engine"), *content = jget(st, "content");
	json_object *sb, *a, *hooks = jget(st, "hooks"), *counters = jget(st, "counters");
	size_t n_on = 0;

	printf("ringward %s (event schema %lld), pid %lld, up %lld s%s\n", jstr(sensor, "version"),
	       (long long)jint(sensor, "schema"), (long long)jint(sensor, "pid"),
	       (long long)jint(sensor, "uptime_s"),
	       jbool(sensor, "safe_mode") ? ", SAFE MODE (content off)" : "");
	printf("health: %s\n", jstr(health, "verdict"));
	a = jget(health, "reasons");
	for (size_t i = 0; a && i < json_object_array_length(a); i++)
		printf("  - %s\n", json_object_get_string(json_object_array_get_idx(a, i)));
	if (engine && !json_object_is_type(engine, json_type_null)) {
		printf("engine: %s, pid %lld, up %lld s, phase %s, %lld start(s), %lld restart(s)\n",
		       jstr(engine, "state"), (long long)jint(engine, "pid"),
		       (long long)jint(engine, "uptime_s"), jstr(engine, "phase"),
		       (long long)jint(engine, "starts"), (long long)jint(engine, "restarts"));
		sb = jget(engine, "sandbox");
		printf("  sandbox: capabilities %s, no_new_privs %s, seccomp %s, landlock %s",
		       jbool(sb, "capabilities_dropped") ? "dropped" : "KEPT",
		       jbool(sb, "no_new_privs") ? "on" : "off", jbool(sb, "seccomp") ? "on" : "off",
		       jbool(sb, "landlock") ? "on" : "off");
		if (jbool(sb, "landlock"))
			printf(" (ABI %lld)", (long long)jint(sb, "landlock_abi"));
		printf("%s%s\n", jstr(sb, "notes")[0] ? "; " : "", jstr(sb, "notes"));
		a = jget(engine, "failures");
		for (size_t i = 0; a && i < json_object_array_length(a); i++) {
			json_object *f = json_object_array_get_idx(a, i);

			printf("  failed %s: %s%s%s while %s, content %s", jstr(f, "at"),
			       jstr(f, "cause"), jstr(f, "signal")[0] ? " " : "", jstr(f, "signal"),
			       jstr(f, "phase"), jstr(f, "content"));
			print_rule(jget(f, "rule"));
			printf("\n");
		}
	}
	if (content && !json_object_is_type(content, json_type_null)) {
		json_object *act = jget(content, "active"), *lkg = jget(content, "last_known_good");

		if (act && !json_object_is_type(act, json_type_null))
			printf("content: %s%s%s%s from %s, %lld rules\n", jstr(act, "version"),
			       jstr(act, "label")[0] ? " (" : "", jstr(act, "label"),
			       jstr(act, "label")[0] ? ")" : "", jstr(act, "source"),
			       (long long)jint(act, "rules"));
		else
			printf("content: none active%s%s\n", jstr(content, "off_reason")[0] ? ": " : "",
			       jstr(content, "off_reason"));
		if (lkg && !json_object_is_type(lkg, json_type_null))
			printf("  last-known-good: %s%s%s%s\n", jstr(lkg, "version"),
			       jstr(lkg, "label")[0] ? " (" : "", jstr(lkg, "label"),
			       jstr(lkg, "label")[0] ? ")" : "");
		a = jget(content, "bad");
		for (size_t i = 0; a && i < json_object_array_length(a); i++) {
			json_object *b = json_object_array_get_idx(a, i);

			printf("  marked bad: %s at %s (%s", jstr(b, "version"), jstr(b, "marked_at"),
			       jstr(b, "cause"));
			print_rule(jget(b, "rule"));
			printf(")\n");
		}
	}
	for (size_t i = 0; hooks && i < json_object_array_length(hooks); i++)
		n_on += jbool(json_object_array_get_idx(hooks, i), "in_force");
	printf("hooks: %zu in force", n_on);
	for (size_t i = 0; hooks && i < json_object_array_length(hooks); i++) {
		json_object *h = json_object_array_get_idx(hooks, i);

		if (!jbool(h, "in_force"))
			printf("\n  not in force: %s: %s", jstr(h, "name"), jstr(h, "why"));
	}
	printf("\ncounters (non-zero):");
	json_object_object_foreach(counters, key, val) {
		if (json_object_get_int64(val))
			printf("\n  %-40s %lld", key, (long long)json_object_get_int64(val));
	}
	printf("\n");
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *path = STATUS_SOCK_PATH;
	struct strbuf sb = { 0 };
	bool text = false;
	json_object *st;
	int opt, err;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 's': path = optarg; break;
		case 'f':
			if (strcmp(optarg, "text") == 0)
				text = true;
			else if (strcmp(optarg, "json") != 0) {
				fprintf(stderr, "ringward status: --format is json or text\n");
				return 2;
			}
			break;
		case 'h':
			printf("usage: ringward status [--socket PATH] [--format json|text]\n"
			       "Ask the running sensor for its status over its unix socket\n"
			       "(default " STATUS_SOCK_PATH ", mode 0600: root only): versions,\n"
			       "pids, uptime, hooks in force, engine restarts and their causes,\n"
			       "content active / last-known-good / marked bad, counters, and a\n"
			       "health verdict (ok, degraded, failing) with its reasons.\n");
			return 0;
		default:
			return 2;
		}
	}
	err = fetch(path, &sb);
	if (err) {
		fprintf(stderr, "ringward status: %s: %s (is the sensor running?)\n", path,
			strerror(-err));
		strbuf__free(&sb);
		return 1;
	}
	if (!text) {
		fwrite(sb.buf, 1, sb.len, stdout);
		strbuf__free(&sb);
		return 0;
	}
	strbuf__append(&sb, "", 1);
	st = sb.oom ? NULL : json_tokener_parse(sb.buf);
	if (!st) {
		fprintf(stderr, "ringward status: the sensor's answer is not JSON\n");
		strbuf__free(&sb);
		return 1;
	}
	print_text(st);
	json_object_put(st);
	strbuf__free(&sb);
	return 0;
}
