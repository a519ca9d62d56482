/*
 * The updater process and its core side (src/core/update_proc.c,
 * src/update/updater.c) without the rest of the sensor: this test plays
 * the sensor's run loop (the sensor__* services update_proc uses, defined
 * here), update_proc starts the real updater process (this very binary,
 * re-executed as `updater`, like /proc/self/exe is ringward in the
 * sensor), which polls a real repository (made with the publisher's
 * library calls) over real HTTP from a small static file server on
 * 127.0.0.1 run by this test.
 *
 * Checks: the updater runs as uid/gid 65534 with no capabilities and
 * no_new_privs in a 0700 state directory of its own, although its parent
 * is a 0700 root directory it cannot search; it verifies and stages the
 * bundle the rollout document gives this host; the core copies it into a
 * directory of its own and activates the copy; update-checked and
 * update-staged records carry ring, versions and paths; a halt in the
 * rollout document revokes the running version once; a killed updater is
 * reported and restarted; stop ends it.
 *
 * Needs root (the updater drops from root to 65534); skipped otherwise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"

#include "cli.h"
#include "core/sensor.h"
#include "core/update_proc.h"
#include "engine/bundle.h"
#include "engine/content_sign.h"
#include "update/repo.h"
#include "update/rollout.h"

#define HOST_ID		"0123456789abcdef0123456789abcdef"
#define BUNDLE		"rw-upd"
#define WAIT_MS		20000

/* ---- the sensor, as far as update_proc uses it ---- */

#define MAX_RECS 256

struct rec {
	char action[32], reason[2048], ring[64], bundle[64], dir[512];
	int64_t version, repo_version, pid, starts;
};

struct sensor {
	int ep;
	struct { int fd; sensor_fd_cb cb; void *ctx; } w[4];
	int n_w;
	struct { sensor_tick_cb cb; void *ctx; } t[4];
	int n_t;
	uint64_t counters[RW_C__COUNT];
	struct rec recs[MAX_RECS];
	int n_recs;
};

static struct sensor fake;

int sensor__watch_fd(struct sensor *s, int fd, sensor_fd_cb cb, void *ctx)
{
	struct epoll_event ee = { .events = EPOLLIN };

	assert_true(s->n_w < 4);
	ee.data.u32 = (uint32_t)s->n_w;
	assert_int_equal(epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ee), 0);
	s->w[s->n_w].fd = fd;
	s->w[s->n_w].cb = cb;
	s->w[s->n_w++].ctx = ctx;
	return 0;
}

int sensor__on_tick(struct sensor *s, sensor_tick_cb cb, void *ctx)
{
	assert_true(s->n_t < 4);
	s->t[s->n_t].cb = cb;
	s->t[s->n_t++].ctx = ctx;
	return 0;
}

void sensor__forget(struct sensor *s, void *ctx)
{
	for (int i = 0; i < s->n_w; i++)
		if (s->w[i].ctx == ctx && s->w[i].cb) {
			epoll_ctl(s->ep, EPOLL_CTL_DEL, s->w[i].fd, NULL);
			s->w[i].cb = NULL;
		}
	for (int i = 0; i < s->n_t; i++)
		if (s->t[i].ctx == ctx)
			s->t[i].cb = NULL;
}

static void copy_str(char *dst, size_t size, const struct rw_event *ev, enum rw_field f)
{
	size_t n = 0;
	const char *v = rw_event__str(ev, f, &n);

	snprintf(dst, size, "%.*s", v ? (int)n : 0, v ? v : "");
}

void sensor__write(struct sensor *s, struct rw_event *ev)
{
	struct rec *r;

	assert_true(s->n_recs < MAX_RECS);
	r = &s->recs[s->n_recs++];
	copy_str(r->action, sizeof(r->action), ev, RW_F_EVENT_ACTION);
	copy_str(r->reason, sizeof(r->reason), ev, RW_F_EVENT_REASON);
	copy_str(r->ring, sizeof(r->ring), ev, RW_F_RW_UPDATE_RING);
	copy_str(r->bundle, sizeof(r->bundle), ev, RW_F_RW_UPDATE_BUNDLE);
	copy_str(r->dir, sizeof(r->dir), ev, RW_F_RW_UPDATE_DIR);
	r->version = rw_event__int(ev, RW_F_RW_UPDATE_VERSION, -1);
	r->repo_version = rw_event__int(ev, RW_F_RW_UPDATE_REPO_VERSION, -1);
	r->pid = rw_event__int(ev, RW_F_RW_UPDATE_PID, -1);
	r->starts = rw_event__int(ev, RW_F_RW_UPDATE_STARTS, -1);
	if (getenv("RW_TEST_VERBOSE"))
		fprintf(stderr, "record %s: %s\n", r->action, r->reason);
}

void sensor__count(struct sensor *s, enum rw_counter c, uint64_t n)
{
	s->counters[c] += n;
}

pid_t sensor__self(struct sensor *s)
{
	(void)s;
	return getpid();
}

/* One turn of the run loop: fds, then ticks (every 5 ms, as the sensor). */
static void loop_once(struct sensor *s)
{
	struct epoll_event ev[4];
	int n = epoll_wait(s->ep, ev, 4, 5);

	for (int i = 0; i < n; i++) {
		int k = (int)ev[i].data.u32;

		if (s->w[k].cb)
			s->w[k].cb(s, s->w[k].fd, ev[i].events, s->w[k].ctx);
	}
	for (int i = 0; i < s->n_t; i++)
		if (s->t[i].cb)
			s->t[i].cb(s, s->t[i].ctx);
}

/* ---- what the core's callbacks saw ---- */

static struct {
	int n_activate, n_revoke;
	char dir[512], name[64], why[1024];
	int64_t version;
} host_seen;

static void h_activate(void *ctx, const char *dir, const char *name, int64_t version)
{
	(void)ctx;
	host_seen.n_activate++;
	snprintf(host_seen.dir, sizeof(host_seen.dir), "%s", dir);
	snprintf(host_seen.name, sizeof(host_seen.name), "%s", name);
	host_seen.version = version;
}

static void h_revoke(void *ctx, const char *name, int64_t version, const char *why)
{
	(void)ctx;
	host_seen.n_revoke++;
	snprintf(host_seen.name, sizeof(host_seen.name), "%s", name);
	snprintf(host_seen.why, sizeof(host_seen.why), "%s", why);
	host_seen.version = version;
}

/* ---- a static file server ---- */

static char *top, *repo_dir, *keys_dir, *state_dir, *bundle1, *rollout_path;
static int port;
static bool can_run;
static struct update_proc *up;
static char salt[64];
static unsigned canary_bp;

static void put(int fd, const char *s, size_t n)
{
	size_t off = 0;

	while (off < n) {
		ssize_t w = write(fd, s + off, n - off);

		if (w <= 0)
			return;
		off += (size_t)w;
	}
}

static void serve_file(int c, const char *root)
{
	char req[2048], path[512], full[1024], head[256], *body = NULL;
	size_t n = 0, len = 0;

	while (n < sizeof(req) - 1) {
		ssize_t r = read(c, req + n, sizeof(req) - 1 - n);

		if (r <= 0)
			return;
		n += (size_t)r;
		req[n] = 0;
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	if (sscanf(req, "GET /%511s HTTP/1.1", path) == 1 && !strstr(path, "..")) {
		snprintf(full, sizeof(full), "%s/%s", root, path);
		body = (bundle__read_file(full, 64 << 20, &body, &len) == 0) ? body : NULL;
	}
	if (body) {
		snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n", len);
		put(c, head, strlen(head));
		put(c, body, len);
		free(body);
	} else {
		snprintf(head, sizeof(head), "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
			 "Connection: close\r\n\r\n");
		put(c, head, strlen(head));
	}
}

static void start_server(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pid_t pid;

	assert_true(s >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s, 16), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
	port = ntohs(a.sin_port);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		signal(SIGPIPE, SIG_IGN);
		for (;;) {
			struct timeval tv = { 2, 0 };
			int c = accept(s, NULL, NULL);

			if (c < 0)
				continue;
			setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			serve_file(c, repo_dir);
			close(c);
		}
	}
	close(s);
	rwt_kid_add(pid);
}

/* ---- the repository ---- */

static char *cat(const char *a, const char *b)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", a, b) > 0);
	return p;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void ok(int err, struct diag *d)
{
	if (err) {
		char line[1024];

		for (size_t i = 0; i < d->n; i++) {
			diag__format(&d->v[i], line, sizeof(line));
			fprintf(stderr, "%s\n", line);
		}
		fail_msg("repository operation failed: %d", err);
	}
	diag__free(d);
	diag__init(d);
}

/* Publish a rollout document listing version 1 (halted when halt). */
static void publish_rollout(int doc_version, const char *halt)
{
	struct repo_opts o = { .dir = repo_dir };
	char text[2048], h[256] = "";
	struct diag d;

	if (halt)
		snprintf(h, sizeof(h), "\"halted\": \"%s\", ", halt);
	snprintf(text, sizeof(text),
		 "{\"_type\": \"rollout\", \"version\": %d, \"salt\": \"%s\",\n"
		 " \"rings\": [{\"name\": \"canary\", \"hosts_bp\": %u, \"bake_seconds\": 60},\n"
		 "           {\"name\": \"broad\", \"hosts_bp\": %u}],\n"
		 " \"releases\": [{\"version\": 1, \"target\": \"" BUNDLE "-1.rwb\", %s"
		 "\"rings\": {\"canary\": \"2024-01-01T00:00:00Z\"}}]}\n",
		 doc_version, salt, canary_bp, 10000 - canary_bp, h);
	write_text(rollout_path, text);
	diag__init(&d);
	ok(repo__publish(&o, rollout_path, &d), &d);
	diag__free(&d);
}

static int group_setup(void **st)
{
	struct repo_init_opts io = { .n_root_keys = 1, .threshold = 1 };
	struct bundle_write bw = { .name = BUNDLE, .version = 1 };
	struct repo_opts o;
	char id[SIGN_KEY_ID_LEN + 1], *prefix, *key;
	struct diag d;
	unsigned b;

	(void)st;
	if (geteuid() != 0) {
		printf("skipped: the updater drops from root to uid 65534; run as root\n");
		return 0;
	}
	if (sodium_init() < 0)
		return -1;
	/* 0700, root's: the updater below it cannot search it */
	top = rwt_mkdtemp("updproc");
	repo_dir = cat(top, "repo");
	keys_dir = cat(top, "repo.keys");
	state_dir = cat(top, "state/update");
	bundle1 = cat(top, "bundle1");
	rollout_path = cat(top, "rollout.json");
	prefix = cat(top, "content");
	key = cat(top, "content.key");
	diag__init(&d);
	ok(sign__keygen(prefix, id, &d), &d);
	assert_int_equal(mkdir(bundle1, 0755), 0);
	{
		char *rule = cat(bundle1, "rule.yml");

		write_text(rule, "title: update test\nid: 0a7c1d2e-0000-4000-8000-00000000abcd\n"
			   "status: test\nlogsource:\n    category: process_creation\n"
			   "    product: linux\ndetection:\n    sel:\n"
			   "        Image|endswith: '/true'\n    condition: sel\nlevel: high\n");
		free(rule);
	}
	ok(bundle__write_manifest(bundle1, &bw, NULL, &d), &d);
	ok(sign__bundle(bundle1, key, false, NULL, &d), &d);
	o = (struct repo_opts){ .dir = repo_dir };
	ok(repo__init(&o, &io, &d), &d);
	ok(repo__add(&o, bundle1, NULL, 0, &d), &d);
	diag__free(&d);
	/* a salt that puts this host in the canary ring, and a canary ring
	 * just big enough for it */
	for (int i = 0;; i++) {
		snprintf(salt, sizeof(salt), "test-salt-%d", i);
		b = rollout__bucket(HOST_ID, salt);
		if (b < 9999)
			break;
	}
	canary_bp = b + 1;
	publish_rollout(1, NULL);
	start_server();
	free(prefix);
	free(key);
	fake.ep = epoll_create1(EPOLL_CLOEXEC);
	assert_true(fake.ep >= 0);
	can_run = true;
	return 0;
}

static int group_teardown(void **st)
{
	(void)st;
	update_proc__stop(up);
	up = NULL;
	rwt_kids_reap();
	if (top)
		rwt_rmtree(top);
	free(top);
	free(repo_dir);
	free(keys_dir);
	free(state_dir);
	free(bundle1);
	free(rollout_path);
	if (fake.ep > 0)
		close(fake.ep);
	return 0;
}

static const struct rec *find_rec(const char *action, int from)
{
	for (int i = from; i < fake.n_recs; i++)
		if (!strcmp(fake.recs[i].action, action))
			return &fake.recs[i];
	return NULL;
}

/* Run the loop until a record of action appears (from index from). */
static const struct rec *wait_rec(const char *action, int from)
{
	const struct rec *r = NULL;
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		r = find_rec(action, from);
		if (r)
			return r;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > WAIT_MS)
			break;
		loop_once(&fake);
	}
	for (int i = 0; i < fake.n_recs; i++)
		fprintf(stderr, "record %d: %s: %s\n", i, fake.recs[i].action, fake.recs[i].reason);
	fail_msg("no %s record within %d ms", action, WAIT_MS);
	return NULL;
}

/* "Uid:\t65534\t65534..." style lines of /proc/PID/status */
static void expect_status_line(pid_t pid, const char *key, const char *want)
{
	char path[64], line[256];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key))) {
			size_t n = strcspn(line, "\n");

			/* trailing blanks vary between kernels */
			while (n > strlen(key) && (line[n - 1] == ' ' || line[n - 1] == '\t'))
				n--;
			line[n] = 0;
			if (strcmp(line + strlen(key), want))
				fail_msg("%s of the updater: \"%s\", want \"%s\"", key,
					 line + strlen(key), want);
			found = true;
		}
	fclose(f);
	assert_true(found);
}

static void test_stage_and_activate(void **st)
{
	struct update_opts o = { .root = NULL, .host_id = HOST_ID, .interval_s = 1, .timeout_s = 5 };
	struct update_host h = { .activate = h_activate, .revoke = h_revoke };
	char url[64], *root1, want[600], *copy_rule, *orig_rule, *a, *b;
	const struct rec *r;
	size_t la, lb;
	struct stat sb;

	(void)st;
	if (!can_run) {
		skip();
		return;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	root1 = cat(repo_dir, "1.root.json");
	o.url = url;
	o.root = root1;
	o.state_dir = state_dir;
	up = update_proc__start(&fake, &o, &h);
	assert_non_null(up);
	free(root1);

	r = wait_rec("update-staged", 0);
	assert_string_equal(r->bundle, BUNDLE);
	assert_int_equal(r->version, 1);
	snprintf(want, sizeof(want), "%s.content/" BUNDLE "-1", state_dir);
	assert_string_equal(r->dir, want);
	assert_string_equal(r->reason, BUNDLE " version 1 verified and staged: activating");
	assert_int_equal(r->starts, 1);
	/* the updater as it runs: nobody, no capability, no_new_privs */
	assert_true(r->pid > 0);
	expect_status_line((pid_t)r->pid, "Uid:", "\t65534\t65534\t65534\t65534");
	expect_status_line((pid_t)r->pid, "Gid:", "\t65534\t65534\t65534\t65534");
	expect_status_line((pid_t)r->pid, "CapEff:", "\t0000000000000000");
	expect_status_line((pid_t)r->pid, "CapPrm:", "\t0000000000000000");
	expect_status_line((pid_t)r->pid, "NoNewPrivs:", "\t1");
	expect_status_line((pid_t)r->pid, "Groups:", "");

	/* the core activated its own copy, the very files of the bundle */
	assert_int_equal(host_seen.n_activate, 1);
	assert_string_equal(host_seen.dir, want);
	assert_string_equal(host_seen.name, BUNDLE);
	assert_int_equal(host_seen.version, 1);
	assert_int_equal(lstat(want, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(sb.st_uid, 0);
	copy_rule = cat(want, "rule.yml");
	orig_rule = cat(bundle1, "rule.yml");
	assert_int_equal(bundle__read_file(copy_rule, 1 << 20, &a, &la), 0);
	assert_int_equal(bundle__read_file(orig_rule, 1 << 20, &b, &lb), 0);
	assert_int_equal(la, lb);
	assert_memory_equal(a, b, la);
	free(a);
	free(b);
	free(copy_rule);
	free(orig_rule);
	/* the state directory: the updater's own, nobody else's */
	assert_int_equal(lstat(state_dir, &sb), 0);
	assert_int_equal(sb.st_uid, 65534);
	assert_int_equal(sb.st_gid, 65534);
	assert_int_equal(sb.st_mode & 07777, 0700);
	{
		char *staged = cat(state_dir, "staged/" BUNDLE "-1/rule.yml");

		assert_int_equal(lstat(staged, &sb), 0);
		assert_int_equal(sb.st_uid, 65534);
		free(staged);
	}

	r = wait_rec("update-checked", 0);
	assert_string_equal(r->ring, "canary");
	assert_int_equal(r->repo_version, 2);
	assert_int_equal(r->version, 1);
	assert_string_equal(update_proc__ring(up), "canary");
	assert_int_equal(fake.counters[RW_C_UPDATE_STARTS], 1);
	assert_int_equal(fake.counters[RW_C_UPDATE_MSG_IGNORED], 0);
}

static void test_halt_revokes_once(void **st)
{
	const struct rec *r;
	int from = fake.n_recs;

	(void)st;
	if (!can_run || !up) {
		skip();
		return;
	}
	/* the sensor says version 1 runs; then the operator halts it */
	update_proc__running(up, BUNDLE, 1);
	publish_rollout(2, "engine restarts in canary: 41 hosts");
	r = wait_rec("update-revoked", from);
	assert_string_equal(r->bundle, BUNDLE);
	assert_int_equal(r->version, 1);
	assert_string_equal(r->reason, "version 1 is halted in rollout.json version 2: engine "
			    "restarts in canary: 41 hosts");
	assert_int_equal(host_seen.n_revoke, 1);
	assert_int_equal(host_seen.version, 1);
	assert_string_equal(host_seen.why, r->reason);
	/* further polls say so, but revoke nothing more */
	r = wait_rec("update-checked", (int)(r - fake.recs));
	assert_non_null(strstr(r->reason, "revoked, the sensor goes back to its last-known-good"));
	for (int i = 0; i < 300; i++)
		loop_once(&fake);
	assert_int_equal(host_seen.n_revoke, 1);
	/* what the sensor says after its rollback: nothing of that bundle
	 * runs, and this host rolled back from version 1 */
	update_proc__rolled_back(up, BUNDLE, 1);
	update_proc__running(up, NULL, 0);
}

static void test_killed_updater_restarts(void **st)
{
	const struct rec *r;
	int from = fake.n_recs;
	int64_t pid = -1;
	char want[200];

	(void)st;
	if (!can_run || !up) {
		skip();
		return;
	}
	for (int i = fake.n_recs - 1; i >= 0 && pid < 0; i--)
		pid = fake.recs[i].pid;
	assert_true(pid > 0);
	assert_int_equal(kill((pid_t)pid, SIGKILL), 0);
	r = wait_rec("update-failed", from);
	snprintf(want, sizeof(want), "the updater process %d exited (killed by signal 9 (Killed))",
		 (int)pid);
	if (strncmp(r->reason, want, strlen(want)))
		fail_msg("reason \"%s\" does not start with \"%s\"", r->reason, want);
	assert_non_null(strstr(r->reason, "restarting in 1000 ms; the running content stays"));
	/* the next one polls again: its first check is reported */
	r = wait_rec("update-checked", (int)(r - fake.recs) + 1);
	assert_int_equal(r->starts, 2);
	assert_true(r->pid > 0 && r->pid != pid);
	assert_int_equal(fake.counters[RW_C_UPDATE_STARTS], 2);
	/* it was told what runs and what rolled back: no second revoke */
	assert_int_equal(host_seen.n_revoke, 1);
}

static void test_stop(void **st)
{
	int64_t pid = -1;

	(void)st;
	if (!can_run || !up) {
		skip();
		return;
	}
	for (int i = fake.n_recs - 1; i >= 0 && pid < 0; i--)
		pid = fake.recs[i].pid;
	update_proc__stop(up);
	up = NULL;
	assert_int_equal(kill((pid_t)pid, 0), -1);
	assert_int_equal(errno, ESRCH);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stage_and_activate),
		cmocka_unit_test(test_halt_revokes_once),
		cmocka_unit_test(test_killed_updater_restarts),
		cmocka_unit_test(test_stop),
	};

	/* update_proc runs /proc/self/exe as `updater`: here, this binary */
	if (argc > 1 && !strcmp(argv[1], "updater"))
		return cmd_updater(argc - 1, argv + 1);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
