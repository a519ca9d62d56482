/*
 * `ringward updater` (internal): the content updater process the sensor
 * starts (src/core/update_proc.c), unprivileged (uid/gid 65534, no
 * capabilities, no_new_privs), in its own state directory.
 *
 * Every poll (--interval, with +-10 % jitter so that a fleet does not
 * poll in step):
 *   1. refresh the TUF chain over HTTP(S) (update/tuf.h, update/http_fetch.h):
 *      roots, timestamp, snapshot, targets, each verified;
 *   2. fetch and verify the target rollout.json and choose this host's
 *      version (rollout__select: ring, policy, windows, halts, kill
 *      switch, and the versions this host rolled back from);
 *   3. when the current version must not run (halted or killed), say
 *      "revoke" once: the core goes back through its last-known-good;
 *   4. when a newer version is chosen, fetch the bundle archive (length
 *      and sha256 from the targets metadata, under a size cap), check that
 *      the target's signed custom metadata names that bundle and version,
 *      unpack it into STATE/staged/NAME-VERSION (a fresh directory), check
 *      the unpacked manifest names the same, and say "stage".
 * Any refusal is one "failed REASON" message with the precise reason, and
 * the next poll starts over: the running content is never touched from
 * here. Messages are in src/core/update_proc.h.
 *
 * Files (STATE, made and owned for this process by the core):
 *   STATE/bootstrap-root.json  the operator's root, copied from --root-fd
 *                              at every start (used when tuf/ has none)
 *   STATE/ca.pem               the operator's CA bundle, from --ca-fd
 *   STATE/tuf/                 the TUF client's trusted metadata
 *   STATE/staged/NAME-VERSION/ the bundle last staged (earlier ones are
 *                              removed before a new one is unpacked: the
 *                              core copies a staged bundle at once)
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <curl/curl.h>

#include "cli.h"
#include "common/clock.h"
#include "engine/bundle.h"
#include "engine/diag.h"
#include "update/archive.h"
#include "update/http_fetch.h"
#include "update/rollout.h"
#include "update/tuf.h"
#include "update/updater_sandbox.h"

#define UPD_MSG_MAX		2048	/* bytes of one message line */
#define UPD_MAX_BAD		64	/* rolled-back versions remembered */
#define UPD_MAX_CA		(4 * 1024 * 1024)
#define UPD_DEFAULT_INTERVAL	300
#define UPD_DEFAULT_MAX		(64ULL * 1024 * 1024)

struct bad_version {
	char name[BUNDLE_MAX_NAME + 1];
	int64_t version;
};

#define UPD_KILLED_MAX	3072	/* a kill-rules line: well under the core's line cap */

struct updater {
	const char *url, *state, *host_id, *group;
	unsigned interval_s, timeout_s;
	uint64_t max_bytes;
	int in_fd, out_fd;
	bool have_ca;
	char tuf_dir[PATH_MAX], staged_dir[PATH_MAX], root_path[PATH_MAX], ca_path[PATH_MAX];
	struct http_fetch *http;
	struct tuf_client *tuf;

	/* what the core says runs, and what this host rolled back from */
	char run_name[BUNDLE_MAX_NAME + 1];
	int64_t run_version;
	struct bad_version bad[UPD_MAX_BAD];
	size_t n_bad;

	/* what this process did: each at most once per version */
	char staged_name[BUNDLE_MAX_NAME + 1];
	int64_t staged_version;
	char revoked_name[BUNDLE_MAX_NAME + 1];
	int64_t revoked_version;
	char killed_sent[UPD_KILLED_MAX];	/* the last kill-rules line, "" none yet */

	char in[4096];
	size_t in_len;
	bool in_skip;		/* discarding an over-long line */
};

/* ---- messages to the core ---- */

/* One line; control bytes (a reason may quote hostile bytes) become
 * spaces so that one message stays one line. Blocking: the core reads
 * promptly, and if it is gone the write fails (EPIPE: SIGPIPE ignored). */
static void say(struct updater *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct updater *u, const char *fmt, ...)
{
	char line[UPD_MSG_MAX];
	size_t n, off = 0;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (r < 0)
		return;
	n = strlen(line);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = ' ';
	line[n++] = '\n';
	while (off < n) {
		ssize_t w = write(u->out_fd, line + off, n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		off += (size_t)w;
	}
}

/* "failed REASON", with the transfer's own detail (curl's message, the
 * HTTP status) when the refusal was a failed fetch. */
static void say_failed(struct updater *u, int err, const char *msg)
{
	int ferr = u->http ? http_fetch__last_err(u->http) : 0;
	const char *detail = u->http ? http_fetch__error(u->http) : "";

	if (err && ferr == err && err != -EFBIG && err != -ENOENT && detail[0])
		say(u, "failed %s (%s)", msg, detail);
	else
		say(u, "failed %s", msg);
}

/* ---- messages from the core ---- */

static bool valid_bundle_name(const char *s)
{
	return bundle__name_ok(s, strlen(s), BUNDLE_MAX_NAME);
}

static bool is_bad(const struct updater *u, const char *name, int64_t v)
{
	for (size_t i = 0; i < u->n_bad; i++)
		if (u->bad[i].version == v && !strcmp(u->bad[i].name, name))
			return true;
	return false;
}

static void add_bad(struct updater *u, const char *name, int64_t v)
{
	if (is_bad(u, name, v))
		return;
	if (u->n_bad == UPD_MAX_BAD) {
		/* the oldest entry goes: the newest matter */
		memmove(u->bad, u->bad + 1, sizeof(u->bad[0]) * (UPD_MAX_BAD - 1));
		u->n_bad--;
	}
	snprintf(u->bad[u->n_bad].name, sizeof(u->bad[0].name), "%s", name);
	u->bad[u->n_bad++].version = v;
}

/* "running NAME VERSION" ("- 0": none), "rolled-back NAME VERSION". */
static void core_line(struct updater *u, char *line)
{
	char verb[16], name[BUNDLE_MAX_NAME + 2];
	long long v;
	char tail;

	if (sscanf(line, "%15s %129s %lld %c", verb, name, &v, &tail) != 3 || v < 0)
		return;
	if (!strcmp(verb, "running")) {
		if (!strcmp(name, "-") || !valid_bundle_name(name)) {
			u->run_name[0] = 0;
			u->run_version = 0;
		} else {
			snprintf(u->run_name, sizeof(u->run_name), "%s", name);
			u->run_version = v;
		}
	} else if (!strcmp(verb, "rolled-back") && valid_bundle_name(name) && v > 0) {
		add_bad(u, name, v);
	}
}

/* Read what the core wrote; false when the core is gone (EOF). */
static bool read_core(struct updater *u)
{
	for (;;) {
		ssize_t n = read(u->in_fd, u->in + u->in_len, sizeof(u->in) - 1 - u->in_len);
		char *start, *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN;
		if (n == 0)
			return false;
		u->in_len += (size_t)n;
		u->in[u->in_len] = 0;
		start = u->in;
		while ((nl = memchr(start, '\n', u->in_len - (size_t)(start - u->in)))) {
			*nl = 0;
			if (!u->in_skip)
				core_line(u, start);
			u->in_skip = false;
			start = nl + 1;
		}
		u->in_len -= (size_t)(start - u->in);
		memmove(u->in, start, u->in_len);
		if (u->in_len == sizeof(u->in) - 1) {
			u->in_skip = true;	/* no line is this long: drop it */
			u->in_len = 0;
		}
		if ((size_t)n < sizeof(u->in) / 2)
			return true;
	}
}

/* ---- staging ---- */

/* Remove every entry of STATE/staged (earlier stages: the core copied
 * each when it was said). */
static void clear_staged(struct updater *u)
{
	DIR *d = opendir(u->staged_dir);
	struct dirent *de;
	char p[PATH_MAX];

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(p, sizeof(p), "%s/%s", u->staged_dir, de->d_name) < (int)sizeof(p))
			archive__remove_tree(p);
	}
	closedir(d);
}

/* The unpacked manifest must name the bundle and version the signed
 * targets metadata and the rollout document name. */
static int check_manifest(const char *dir, const char *shown, const char *name,
			  int64_t version, char *why, size_t size)
{
	struct bundle_manifest m = { 0 };
	struct diag d;
	int err;

	diag__init(&d);
	err = bundle_manifest__read(&m, dir, &d);
	if (err) {
		if (d.n)
			diag__format(&d.v[0], why, size);
		else
			snprintf(why, size, "%s: the manifest does not read", shown);
	} else if (strcmp(m.name, name) || m.version != version) {
		snprintf(why, size, "%s/" BUNDLE_MANIFEST ": bundle %s version %lld, but the signed "
			 "targets metadata lists %s version %lld (refused)", shown, m.name,
			 (long long)m.version, name, (long long)version);
		err = -EBADMSG;
	}
	bundle_manifest__free(&m);
	diag__free(&d);
	return err;
}

/* Fetch, verify and unpack target t as name/version; the directory (as
 * the core names it) into out. A failure is said here. */
static int stage(struct updater *u, const struct tuf_target *t, const char *name,
		 int64_t version, char *out, size_t out_size)
{
	char dir[PATH_MAX], shown[PATH_MAX * 2], why[TUF_ERR_LEN + 64];
	struct tuf_err e;
	uint8_t *buf = NULL;
	size_t len = 0;
	int err;

	if ((uint64_t)t->length > u->max_bytes) {
		say(u, "failed %s: %" PRId64 " bytes, above the updater's cap of %" PRIu64
		    " bytes (refused)", t->name, t->length, u->max_bytes);
		return -EFBIG;
	}
	err = tuf_client__fetch_target(u->tuf, t->name, &buf, &len, &e);
	if (err) {
		say_failed(u, err, e.msg);
		return err;
	}
	clear_staged(u);
	snprintf(dir, sizeof(dir), "%s/%s-%" PRId64, u->staged_dir, name, version);
	snprintf(shown, sizeof(shown), "%s/%s", u->state, dir);
	err = archive__unpack(buf, len, dir, &e);
	free(buf);
	if (err) {
		say(u, "failed %s: %s", t->name, e.msg);
		return err;
	}
	err = check_manifest(dir, shown, name, version, why, sizeof(why));
	if (err) {
		archive__remove_tree(dir);
		say(u, "failed %s", why);
		return err;
	}
	snprintf(u->staged_name, sizeof(u->staged_name), "%s", name);
	u->staged_version = version;
	snprintf(out, out_size, "%s", shown);
	return 0;
}

/* ---- one poll ---- */

/* Is version v of the document's bundle not to run anywhere (halted,
 * killed)? The reason into why. */
static bool must_not_run(const struct rollout_doc *doc, int64_t v, char *why, size_t size)
{
	if (rollout__version_killed(doc, v)) {
		snprintf(why, size, "version %" PRId64 " is killed by the kill switch of rollout.json "
			 "version %" PRId64, v, doc->version);
		return true;
	}
	for (size_t i = 0; i < doc->n_releases; i++)
		if (doc->releases[i].version == v && doc->releases[i].halted) {
			snprintf(why, size, "version %" PRId64 " is halted in rollout.json version %"
				 PRId64 ": %s", v, doc->version, doc->releases[i].halted);
			return true;
		}
	return false;
}

/* The bundle the document deploys: the bundle of its newest release's
 * target, which the signed targets metadata names. */
static const struct tuf_target *doc_bundle(struct updater *u, const struct rollout_doc *doc)
{
	const struct tuf_targets *ts = tuf_client__targets(u->tuf);

	if (!doc->n_releases || !ts)
		return NULL;
	return tuf_targets__find(ts, doc->releases[doc->n_releases - 1].target);
}

/* The kill switch's rules, to the core when they change (and once at the
 * first document): the core disables them in every set it loads. */
static void tell_killed_rules(struct updater *u, const struct rollout_doc *doc)
{
	char line[UPD_KILLED_MAX];
	size_t used, n = 0;

	for (size_t i = 0; i < doc->n_killed_rules; i++)
		if (strlen(doc->killed_rules[i]) <= 64 && valid_bundle_name(doc->killed_rules[i]))
			n++;
	used = (size_t)snprintf(line, sizeof(line), "kill-rules %zu", n);
	for (size_t i = 0; i < doc->n_killed_rules; i++) {
		if (strlen(doc->killed_rules[i]) > 64 || !valid_bundle_name(doc->killed_rules[i]))
			continue;
		if (used + strlen(doc->killed_rules[i]) + 2 >= sizeof(line)) {
			say(u, "failed rollout.json: the kill switch lists more rules than one "
			    "message holds; none of them sent");
			return;
		}
		used += (size_t)snprintf(line + used, sizeof(line) - used, " %s",
					 doc->killed_rules[i]);
	}
	if (!strcmp(line, u->killed_sent))
		return;
	say(u, "%s", line);
	snprintf(u->killed_sent, sizeof(u->killed_sent), "%s", line);
}

static void decide(struct updater *u, const struct rollout_doc *doc, int64_t repo_v)
{
	const struct tuf_targets *ts = tuf_client__targets(u->tuf);
	const struct tuf_target *bt = doc_bundle(u, doc), *t;
	struct rollout_health health = { 0 };
	struct rollout_choice ch;
	int64_t bad[UPD_MAX_BAD];
	char why[512], dir[PATH_MAX * 2];
	const char *name;
	int err;

	tell_killed_rules(u, doc);
	if (!doc->n_releases) {
		say(u, "checked %" PRId64 " - 0 rollout.json version %" PRId64 " lists no release",
		    repo_v, doc->version);
		return;
	}
	if (!bt || !bt->bundle || !valid_bundle_name(bt->bundle)) {
		say(u, "failed rollout.json: release %" PRId64 " names target %s, which the trusted "
		    "targets metadata (%" PRId64 ".targets.json) %s", doc->releases[doc->n_releases
		    - 1].version, doc->releases[doc->n_releases - 1].target, repo_v,
		    !bt ? "does not list" : "does not describe as a content bundle");
		return;
	}
	name = bt->bundle;
	if (u->run_version > 0 && !strcmp(u->run_name, name))
		health.current = u->run_version;
	for (size_t i = 0; i < u->n_bad; i++)
		if (!strcmp(u->bad[i].name, name))
			bad[health.n_bad++] = u->bad[i].version;
	health.bad = bad;
	err = rollout__select(doc, u->host_id, u->group, time(NULL), &health, &ch);
	if (err) {
		say(u, "failed rollout.json: no choice for this host (%s)", strerror(-err));
		return;
	}

	/* the running version must not run: a newer candidate replaces it
	 * (below); with none, say so once, and the core rolls back */
	if (health.current && must_not_run(doc, health.current, why, sizeof(why)) &&
	    !(ch.change && ch.version > health.current && ch.target)) {
		if (u->revoked_version != health.current || strcmp(u->revoked_name, name)) {
			snprintf(u->revoked_name, sizeof(u->revoked_name), "%s", name);
			u->revoked_version = health.current;
			add_bad(u, name, health.current);
			say(u, "revoke %s %" PRId64 " %s", name, health.current, why);
		}
		say(u, "checked %" PRId64 " %s %" PRId64 " %s: revoked, the sensor goes back to its "
		    "last-known-good content", repo_v, ch.ring_name, ch.version, why);
		return;
	}
	if (!ch.change || ch.version <= 0 || !ch.target) {
		say(u, "checked %" PRId64 " %s %" PRId64 " %s", repo_v, ch.ring_name, ch.version,
		    ch.reason);
		return;
	}
	if (health.current && ch.version < health.current) {
		say(u, "checked %" PRId64 " %s %" PRId64 " %s; not staged: version %" PRId64
		    " is below the running version %" PRId64 ", and content goes back only "
		    "through the last-known-good", repo_v, ch.ring_name, ch.version, ch.reason,
		    ch.version, health.current);
		return;
	}
	if (u->staged_version == ch.version && !strcmp(u->staged_name, name)) {
		say(u, "checked %" PRId64 " %s %" PRId64 " %s; staged, not (yet) running", repo_v,
		    ch.ring_name, ch.version, ch.reason);
		return;
	}
	t = tuf_targets__find(ts, ch.target);
	if (!t) {
		say(u, "failed rollout.json: release %" PRId64 " names target %s, which the trusted "
		    "targets metadata (%" PRId64 ".targets.json) does not list", ch.version,
		    ch.target, repo_v);
		return;
	}
	if (!t->bundle || strcmp(t->bundle, name) || t->bundle_version != ch.version) {
		say(u, "failed %s: the targets metadata describes it as %s version %" PRId64
		    ", but rollout.json lists it as %s version %" PRId64 " (refused)", t->name,
		    t->bundle ? t->bundle : "not a bundle", t->bundle ? t->bundle_version : 0, name,
		    ch.version);
		return;
	}
	/* the check first: the core's staged record then names the ring */
	if (stage(u, t, name, ch.version, dir, sizeof(dir)) == 0) {
		say(u, "checked %" PRId64 " %s %" PRId64 " %s; staged", repo_v, ch.ring_name,
		    ch.version, ch.reason);
		say(u, "stage %s %" PRId64 " %s", name, ch.version, dir);
	}
}

static void poll_once(struct updater *u)
{
	struct tuf_err e = { { 0 } };
	struct rollout_doc doc;
	const struct tuf_target *t;
	uint8_t *buf = NULL;
	size_t len = 0;
	int64_t repo_v;
	int err;

	if (!u->tuf) {
		struct tuf_client_opts o = {
			.state_dir = u->tuf_dir,
			.bootstrap_root = u->root_path,
			.fetch = http_fetch__get,
			.fetch_ctx = u->http,
		};

		u->tuf = tuf_client__new(&o, &e);
		if (!u->tuf) {
			say(u, "failed %s", e.msg[0] ? e.msg : "no trusted root");
			return;
		}
	}
	err = tuf_client__refresh(u->tuf, &e);
	if (err) {
		say_failed(u, err, e.msg);
		return;
	}
	repo_v = tuf_client__version(u->tuf, TUF_TARGETS);
	t = tuf_targets__find(tuf_client__targets(u->tuf), ROLLOUT_TARGET);
	if (!t) {
		say(u, "checked %" PRId64 " - 0 the repository publishes no rollout document "
		    "(" ROLLOUT_TARGET "): nothing to stage", repo_v);
		return;
	}
	if (t->length > ROLLOUT_MAX_LEN) {
		say(u, "failed " ROLLOUT_TARGET ": %" PRId64 " bytes, above its cap of %d (refused)",
		    t->length, ROLLOUT_MAX_LEN);
		return;
	}
	err = tuf_client__fetch_target(u->tuf, ROLLOUT_TARGET, &buf, &len, &e);
	if (err) {
		say_failed(u, err, e.msg);
		return;
	}
	err = rollout__parse(&doc, ROLLOUT_TARGET, (const char *)buf, len, &e);
	free(buf);
	if (err)
		say(u, "failed %s", e.msg);
	else
		decide(u, &doc, repo_v);
	rollout__free(&doc);
}

/* ---- set-up ---- */

static int read_fd(int fd, size_t max, uint8_t **buf, size_t *len)
{
	size_t cap = 4096, n = 0;
	uint8_t *b = malloc(cap);

	if (!b)
		return -ENOMEM;
	for (;;) {
		ssize_t r;

		if (n == cap) {
			uint8_t *nb;

			if (cap > max) {
				free(b);
				return -EFBIG;
			}
			nb = realloc(b, cap * 2);
			if (!nb) {
				free(b);
				return -ENOMEM;
			}
			b = nb;
			cap *= 2;
		}
		r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = -errno;

			free(b);
			return err;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > max) {
		free(b);
		return -EFBIG;
	}
	*buf = b;
	*len = n;
	return 0;
}

/* The operator's file handed over as an open fd (the core opened it: this
 * process may not be able to) into STATE/name. */
static int take_fd(struct updater *u, int fd, size_t max, const char *name)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int err = read_fd(fd, max, &buf, &len);

	close(fd);
	if (!err)
		err = tuf__write_atomic(".", name, buf, len, 0600);
	free(buf);
	if (err)
		say(u, "failed %s/%s: %s", u->state, name, strerror(-err));
	return err;
}

/* Work in STATE by relative paths: its parent (the sensor's state
 * directory, 0700 root) is not ours to search, so the core makes STATE
 * the working directory before it drops privileges. Run by hand, chdir
 * works. */
static int enter_state(struct updater *u)
{
	struct stat st;

	if (chdir(u->state) == 0)
		return 0;
	if (errno == EACCES && stat(".", &st) == 0 && S_ISDIR(st.st_mode) &&
	    st.st_uid == geteuid() && (st.st_mode & 0777) == 0700)
		return 0;
	say(u, "failed %s: %s (the updater works in its state directory)", u->state,
	    strerror(errno));
	return -1;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: ringward updater --url URL --state DIR --host-id ID --in-fd N --out-fd N\n"
"                        --root-fd N [--ca-fd N] [--group G] [--interval S]\n"
"                        [--timeout S] [--max-bytes N]\n"
"Internal: the content updater process `ringward run --update-url` starts,\n"
"unprivileged. It polls the TUF repository at URL, verifies it, and stages the\n"
"bundle this host's rollout ring and group should run under DIR/staged, telling\n"
"the sensor over --out-fd (messages: src/core/update_proc.h).\n");
}

static int opt_num(const char *name, const char *v, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || end == v || *end || n > max || v[0] == '-') {
		fprintf(stderr, "ringward updater: bad value for --%s: '%s'\n", name, v);
		return -EINVAL;
	}
	*out = n;
	return 0;
}

/* interval +- 10 %, so that hosts started together drift apart */
static uint64_t next_delay_ms(const struct updater *u)
{
	uint64_t base = (uint64_t)u->interval_s * 1000, r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint64_t)rw_clock_ns(CLOCK_MONOTONIC) / 1000000;
	return base - base / 10 + (base ? r % (base / 5 + 1) : 0);
}

int cmd_updater(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "state", required_argument, NULL, 's' },
		{ "host-id", required_argument, NULL, 'H' },
		{ "group", required_argument, NULL, 'g' },
		{ "in-fd", required_argument, NULL, 'i' },
		{ "out-fd", required_argument, NULL, 'o' },
		{ "root-fd", required_argument, NULL, 'r' },
		{ "ca-fd", required_argument, NULL, 'c' },
		{ "interval", required_argument, NULL, 'I' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "max-bytes", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct updater u = { .in_fd = -1, .out_fd = -1, .interval_s = UPD_DEFAULT_INTERVAL,
			     .max_bytes = UPD_DEFAULT_MAX };
	uint64_t v, next;
	int root_fd = -1, ca_fd = -1, c, rc = 1;

	/* exec'd from the core's fd of its binary: named after the fd otherwise */
	prctl(PR_SET_NAME, "ringward-update", 0, 0, 0);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'u': u.url = optarg; break;
		case 's': u.state = optarg; break;
		case 'H': u.host_id = optarg; break;
		case 'g': u.group = optarg; break;
		case 'i': if (opt_num("in-fd", optarg, INT_MAX, &v)) return 2; u.in_fd = (int)v; break;
		case 'o': if (opt_num("out-fd", optarg, INT_MAX, &v)) return 2; u.out_fd = (int)v; break;
		case 'r': if (opt_num("root-fd", optarg, INT_MAX, &v)) return 2; root_fd = (int)v; break;
		case 'c': if (opt_num("ca-fd", optarg, INT_MAX, &v)) return 2; ca_fd = (int)v; break;
		case 'I':
			if (opt_num("interval", optarg, 7 * 86400, &v) || !v)
				return 2;
			u.interval_s = (unsigned)v;
			break;
		case 'T':
			if (opt_num("timeout", optarg, 3600, &v) || !v)
				return 2;
			u.timeout_s = (unsigned)v;
			break;
		case 'm':
			if (opt_num("max-bytes", optarg, (uint64_t)TUF_MAX_TARGET_LEN, &v) || !v)
				return 2;
			u.max_bytes = v;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!u.url || !u.state || !u.host_id || u.in_fd < 0 || u.out_fd < 0 || root_fd < 0) {
		usage(stderr);
		return 2;
	}
	/* a core that went away is a failed write, not a signal */
	signal(SIGPIPE, SIG_IGN);
	fcntl(u.in_fd, F_SETFL, O_NONBLOCK);
	if (enter_state(&u))
		return 1;
	snprintf(u.tuf_dir, sizeof(u.tuf_dir), "tuf");
	snprintf(u.staged_dir, sizeof(u.staged_dir), "staged");
	snprintf(u.root_path, sizeof(u.root_path), "bootstrap-root.json");
	snprintf(u.ca_path, sizeof(u.ca_path), "ca.pem");
	if (mkdir(u.staged_dir, 0700) && errno != EEXIST) {
		say(&u, "failed %s/%s: %s", u.state, u.staged_dir, strerror(errno));
		return 1;
	}
	if (take_fd(&u, root_fd, TUF_MAX_ROOT_LEN, "bootstrap-root.json"))
		return 1;
	if (ca_fd >= 0) {
		if (take_fd(&u, ca_fd, UPD_MAX_CA, "ca.pem"))
			return 1;
		u.have_ca = true;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		say(&u, "failed libcurl would not start");
		return 1;
	}
	{
		struct http_fetch_opts ho = { .base_url = u.url,
					      .ca_file = u.have_ca ? u.ca_path : NULL,
					      .timeout_s = u.timeout_s };

		u.http = http_fetch__new(&ho);
		if (!u.http) {
			say(&u, "failed --update-url %s: %s", u.url, errno == EINVAL ?
			    "not an http:// or https:// URL with a host" : strerror(errno));
			goto cleanup;
		}
	}
	/* before the first byte from the network (updater_sandbox.h) */
	{
		char desc[512];
		int err = updater_sandbox__enter(u.url, desc, sizeof(desc));

		if (err) {
			say(&u, "failed sandbox: %s", desc);
			goto cleanup;
		}
		say(&u, "sandbox %s", desc);
	}

	next = rw_clock_ns(CLOCK_MONOTONIC) / 1000000;
	for (;;) {
		struct pollfd p = { .fd = u.in_fd, .events = POLLIN };
		uint64_t now = rw_clock_ns(CLOCK_MONOTONIC) / 1000000;
		int n, wait_ms = next > now ? (int)(next - now > INT_MAX ? INT_MAX : next - now) : 0;

		n = poll(&p, 1, wait_ms);
		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) && !read_core(&u)) {
			rc = 0;	/* the core closed its end: it stops, so do we */
			break;
		}
		if (rw_clock_ns(CLOCK_MONOTONIC) / 1000000 >= next) {
			poll_once(&u);
			next = rw_clock_ns(CLOCK_MONOTONIC) / 1000000 + next_delay_ms(&u);
		}
	}
cleanup:
	tuf_client__free(u.tuf);
	http_fetch__free(u.http);
	curl_global_cleanup();
	return rc;
}
