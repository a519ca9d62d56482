/*
 * Staged content delivery end to end (issue 6): a real nginx (Debian's
 * package) serves a real repository made with `ringward repo` on
 * 127.0.0.1; the real sensor follows it with `run --update-url`: its
 * unprivileged updater polls over HTTP, verifies the TUF chain and the
 * rollout document, stages bundles, and the sensor loads them and alerts
 * with them on real execs.
 *
 * In order, on one sensor and one repository:
 *   1. bundle version 1 published, this host in the first ring: staged,
 *      loaded, its rule alerts;
 *   2. version 2 published: the sensor moves to it;
 *   3. version 2 halted in a new rollout document: revoked, the sensor is
 *      back on version 1, which alerts (and version 2's own rule not);
 *   4. attacks, each refused with its precise message in an update-failed
 *      record while the running content keeps alerting: a target changed
 *      after signing, timestamp metadata replayed from an older publish,
 *      an expired timestamp (freeze), an old snapshot mixed with new
 *      metadata, an endless response for timestamp.json, a root rotation
 *      signed by too few root keys, and the repository down;
 *   5. promotion by the controller: version 4 released to a canary ring
 *      this host is not in; the host stays; `ringward rollout` reads the
 *      canaries' health reports, promotes version 4 to the next ring and
 *      publishes; the host takes it;
 *   6. the kill switch: version 5 (both rules) released with rule 2 in the
 *      kill switch: the host runs version 5 and rule 2 never alerts.
 *
 * Waits are on records, never on the clock. The one timing the test needs
 * is the sensor's own: a version becomes last-known-good after running
 * --lkg-after seconds, so version 2 is halted well within that time after
 * it loads (the halt reaches the host at its next poll, a second later).
 *
 * nginx: from Debian's packages (scripts/install-deps.sh installs
 * nginx-light); when it is missing the test installs it, and skips with
 * the reason when that fails. It runs as a child of the test, with its own
 * configuration and prefix in the test's directory.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "testlib.h"

#include "engine/bundle.h"
#include "update/rollout.h"
#include "update/tuf.h"

#define WAIT_MS		20000
#define BUNDLE		"rw-test-upd"
#define RULE1_ID	"0a7c1d2e-0000-4000-8000-0000000006a1"
#define RULE2_ID	"0a7c1d2e-0000-4000-8000-0000000006a2"
#define MARKER1		"rw-update-marker-6a1"
#define MARKER2		"rw-update-marker-6a2"
#define LKG_AFTER	"8"	/* seconds: see the top */
#define HALT_REASON	"engine restarts in canary: 41 hosts"

/* the group's state: set up once, torn down whatever happens */
static char *dir, *repo, *keys, *nginx_conf, *nginx_prefix, *endless_flag;
static const char *nginx_bin;
static char skip_why[256];
static struct rwt_sensor sensor;
static bool sensor_up;
static pid_t nginx_pid, stream_pid;
static int port, stream_port;
/* https: nginx also serves the repository over TLS on tls_port, with a
 * certificate from a CA made for the test (tls_dir/ca.pem); other.pem is a
 * CA that did not sign it. 0 when openssl could not make them. */
static int tls_port;
static char *tls_dir;
static char salt[64];
static unsigned canary_bp;
static int rollout_version;
static char *first_ts;		/* timestamp.json of the first publish */
static size_t first_ts_len;
static int64_t first_ts_version;

/* ---- small helpers ---- */

static char *cat(const char *a, const char *b)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", a, b) > 0);
	return p;
}

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static char *slurp(const char *path, size_t *len)
{
	char *buf = NULL;

	assert_int_equal(bundle__read_file(path, 64 << 20, &buf, len), 0);
	return buf;
}

static void put_bytes(const char *path, const void *buf, size_t len)
{
	char tmp[1024];
	FILE *f;

	/* replaced whole, by rename, as a publisher would: nginx never
	 * serves half a file */
	snprintf(tmp, sizeof(tmp), "%s.rwtest-tmp", path);
	f = fopen(tmp, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, path), 0);
}

/* Run a shell command line; its output into out (may be NULL); the exit
 * status as from system(). */
static int run(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int run(char *out, size_t size, const char *fmt, ...)
{
	char cmd[4096], sink[4096];
	size_t used = 0;
	va_list ap;
	FILE *p;

	if (!out) {
		out = sink;
		size = sizeof(sink);
	}
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	out[0] = 0;
	while (used + 1 < size) {
		size_t n = fread(out + used, 1, size - 1 - used, p);

		if (!n)
			break;
		used += n;
	}
	out[used] = 0;
	return pclose(p);
}

/* `ringward ARGS` must succeed. */
static void rw(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void rw(const char *fmt, ...)
{
	char args[3072], out[8192];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	st = run(out, sizeof(out), "%s/ringward %s 2>&1", rwt_build_dir(), args);
	if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
		fail_msg("`ringward %s` failed (status %d):\n%s", args, st, out);
}

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), p;

	assert_true(s >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
	p = ntohs(a.sin_port);
	close(s);
	return p;
}

static bool port_answers(int p)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)p) };
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(s, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(s);
	return ok;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- nginx ---- */

static const char *find_nginx(void)
{
	static const char *const where[] = { "/usr/sbin/nginx", "/usr/bin/nginx",
					     "/usr/local/sbin/nginx", NULL };

	for (int i = 0; where[i]; i++)
		if (access(where[i], X_OK) == 0)
			return where[i];
	return NULL;
}

/* nginx from Debian's packages, installed now when missing. */
static const char *ensure_nginx(void)
{
	const char *n = find_nginx();

	if (n)
		return n;
	fprintf(stderr, "test_update: nginx is missing; installing nginx-light\n");
	if (access("scripts/install-deps.sh", R_OK) == 0)
		run(NULL, 0, "sh scripts/install-deps.sh >/dev/null 2>&1");
	n = find_nginx();
	if (!n)
		run(NULL, 0, "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
		    "--no-install-recommends nginx-light >/dev/null 2>&1");
	return find_nginx();
}

static void write_nginx_conf(void)
{
	char text[6144], tls[1024] = "";

	if (tls_port)
		snprintf(tls, sizeof(tls),
			 "    server {\n"
			 "        listen 127.0.0.1:%d ssl;\n"
			 "        ssl_certificate %s/server.pem;\n"
			 "        ssl_certificate_key %s/server.key;\n"
			 "        root %s;\n"
			 "    }\n", tls_port, tls_dir, tls_dir, repo);

	snprintf(text, sizeof(text),
		 "worker_processes 1;\n"
		 "master_process off;\n"	/* one process: the child we kill */
		 "error_log %s/error.log;\n"
		 "events { worker_connections 128; }\n"
		 "http {\n"
		 "    access_log %s/access.log;\n"
		 "    client_body_temp_path %s/body;\n"
		 "    proxy_temp_path %s/proxy;\n"
		 "    fastcgi_temp_path %s/fastcgi;\n"
		 "    uwsgi_temp_path %s/uwsgi;\n"
		 "    scgi_temp_path %s/scgi;\n"
		 "    default_type application/octet-stream;\n"
		 "    server {\n"
		 "        listen 127.0.0.1:%d;\n"
		 "        root %s;\n"
		 "        location = /timestamp.json {\n"
		 "            proxy_buffering off;\n"
		 "            if (-f %s) { proxy_pass http://127.0.0.1:%d; }\n"
		 "        }\n"
		 "    }\n"
		 "%s"
		 "}\n",
		 nginx_prefix, nginx_prefix, nginx_prefix, nginx_prefix, nginx_prefix,
		 nginx_prefix, nginx_prefix, port, repo, endless_flag, stream_port, tls);
	put(nginx_conf, text);
}

/* nginx on a free port, or on same_port (the sensor knows the URL). */
static int start_nginx_on(int same_port)
{
	for (int attempt = 0; attempt < 3; attempt++) {
		char g[600];

		port = same_port ? same_port : free_port();
		if (tls_port && !same_port)
			tls_port = free_port();
		write_nginx_conf();
		snprintf(g, sizeof(g), "daemon off; pid %s/nginx.pid;", nginx_prefix);
		nginx_pid = fork();
		assert_true(nginx_pid >= 0);
		if (nginx_pid == 0) {
			char *log = cat(nginx_prefix, "stderr.log");
			int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
			}
			execl(nginx_bin, "nginx", "-c", nginx_conf, "-p", nginx_prefix, "-g", g,
			      (char *)NULL);
			_exit(127);
		}
		rwt_kid_add(nginx_pid);
		for (int waited = 0; waited < 10000; waited += 20) {
			int st;

			if (port_answers(port))
				return 0;
			if (waitpid(nginx_pid, &st, WNOHANG) == nginx_pid) {
				rwt_kid_forget(nginx_pid);
				nginx_pid = 0;
				break;	/* the port was taken meanwhile: another */
			}
			sleep_ms(20);
		}
		if (nginx_pid > 0) {
			kill(nginx_pid, SIGKILL);
			rwt_kid_wait(nginx_pid);
			nginx_pid = 0;
		}
	}
	return -1;
}

static int start_nginx(void)
{
	return start_nginx_on(0);
}

/* ---- a server that answers every request with an endless body ---- */

static void stream_forever(int c)
{
	static const char head[] = "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{";
	char req[4096], buf[8192];
	ssize_t n;

	n = read(c, req, sizeof(req));	/* the request: whatever it is */
	(void)n;
	if (write(c, head, sizeof(head) - 1) < 0)
		return;
	memset(buf, ' ', sizeof(buf));
	while (write(c, buf, sizeof(buf)) > 0)
		;
}

static void start_streamer(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(s >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s, 16), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
	stream_port = ntohs(a.sin_port);
	stream_pid = fork();
	assert_true(stream_pid >= 0);
	if (stream_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGPIPE, SIG_IGN);
		for (;;) {
			int c = accept(s, NULL, NULL);

			if (c < 0)
				continue;
			if (fork() == 0) {
				prctl(PR_SET_PDEATHSIG, SIGKILL);
				stream_forever(c);
				_exit(0);
			}
			close(c);
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
		}
	}
	close(s);
	rwt_kid_add(stream_pid);
}

/* ---- bundles and the repository ---- */

static void rule_file(const char *bdir, const char *file, const char *id, const char *marker)
{
	char text[1024], *p = cat(bdir, file);

	snprintf(text, sizeof(text),
		 "title: ringward update test rule %s\n"
		 "id: %s\n"
		 "status: test\n"
		 "description: exec of /bin/true with the marker argument\n"
		 "author: ringward tests\n"
		 "level: high\n"
		 "logsource:\n"
		 "    category: process_creation\n"
		 "    product: linux\n"
		 "detection:\n"
		 "    selection:\n"
		 "        Image|endswith: '/true'\n"
		 "        CommandLine|contains: '%s'\n"
		 "    condition: selection\n", marker, id, marker);
	put(p, text);
	free(p);
}

/* A signed bundle of version v (versions 2 and 5 add the rule of MARKER2),
 * added to the repository (staged, not yet published). */
static void add_bundle(int v)
{
	char name[32], *b;

	snprintf(name, sizeof(name), "bundle%d", v);
	b = cat(dir, name);
	assert_int_equal(mkdir(b, 0755), 0);
	rule_file(b, "rule1.yml", RULE1_ID, MARKER1);
	if (v == 2 || v >= 5)
		rule_file(b, "rule2.yml", RULE2_ID, MARKER2);
	rw("content manifest %s --name " BUNDLE " --version %d --valid-days 30", b, v);
	rw("content sign %s --key %s/ops.key", b, dir);
	rw("repo add %s %s", repo, b);
	free(b);
}

/* Publish a rollout document: releases 1..n_releases in the first ring
 * (reached long ago), halted names one halted (0: none); with extra
 * publish options. */
static void publish(int n_releases, int halted, const char *opts)
{
	char text[4096], rel[2048] = "", *path = cat(dir, "rollout.json");
	size_t used = 0;

	for (int v = 1; v <= n_releases; v++)
		used += (size_t)snprintf(rel + used, sizeof(rel) - used,
				 "%s\n    {\"version\": %d, \"target\": \"" BUNDLE "-%d.rwb\", %s"
				 "\"rings\": {\"canary\": \"2024-01-01T00:00:00Z\"}}", v > 1 ? "," : "",
				 v, v, v == halted ? "\"halted\": \"" HALT_REASON "\", " : "");
	snprintf(text, sizeof(text),
		 "{\"_type\": \"rollout\", \"version\": %d, \"salt\": \"%s\",\n"
		 " \"rings\": [{\"name\": \"canary\", \"hosts_bp\": %u, \"bake_seconds\": 3600},\n"
		 "           {\"name\": \"broad\", \"hosts_bp\": %u}],\n"
		 " \"releases\": [%s]}\n", ++rollout_version, salt, canary_bp, 10000 - canary_bp,
		 rel);
	put(path, text);
	rw("repo publish %s --rollout %s %s", repo, path, opts ? opts : "");
	free(path);
}

/* The version of the served role file (timestamp.json, N.snapshot.json). */
static int64_t served_version(const char *file, int64_t *expires)
{
	struct tuf_envelope env;
	struct tuf_timestamp ts;
	struct tuf_err e;
	size_t len;
	char *p = cat(repo, file), *buf = slurp(p, &len);
	int64_t v;

	assert_int_equal(tuf_envelope__parse(&env, file, (uint8_t *)buf, len, &e), 0);
	assert_int_equal(tuf_timestamp__parse(&ts, file, &env, &e), 0);
	v = ts.version;
	if (expires)
		*expires = ts.expires;
	tuf_envelope__free(&env);
	free(buf);
	free(p);
	return v;
}

/* ---- records ---- */

struct want {
	const char *action;
	const char *field, *value;	/* a string field, or NULL */
	const char *ifield;		/* an integer field, or NULL */
	int64_t ivalue;
	const char *has[4];		/* substrings of event.reason */
	int64_t after;			/* event.sequence above this */
};

static bool matches(json_object *rec, void *arg)
{
	const struct want *w = arg;
	const char *a = rwt_str(rec, "event.action"), *reason;

	if (!a || strcmp(a, w->action) || rwt_int(rec, "event.sequence", 0) <= w->after)
		return false;
	if (w->field && (!rwt_str(rec, w->field) || strcmp(rwt_str(rec, w->field), w->value)))
		return false;
	if (w->ifield && rwt_int(rec, w->ifield, INT64_MIN) != w->ivalue)
		return false;
	reason = rwt_str(rec, "event.reason");
	for (int i = 0; i < 4 && w->has[i]; i++)
		if (!reason || !strstr(reason, w->has[i]))
			return false;
	return true;
}

static json_object *wait_want(struct want *w)
{
	json_object *r = rwt_wait_for(&sensor, matches, w, WAIT_MS);

	if (!r) {
		/* what the sensor did say about updates, for the failure */
		for (size_t i = 0; i < sensor.n_recs; i++) {
			const char *a = rwt_str(sensor.recs[i], "event.action");

			json_object *errs = rwt_get(sensor.recs[i], "ringward.content.errors");

			if (a && (!strncmp(a, "update-", 7) || !strncmp(a, "content-", 8)))
				fprintf(stderr, "  seen: %s %s: %s%s%s\n", a,
					rwt_str(sensor.recs[i], "ringward.content.label") ?
					rwt_str(sensor.recs[i], "ringward.content.label") : "",
					rwt_str(sensor.recs[i], "event.reason") ?
					rwt_str(sensor.recs[i], "event.reason") : "",
					errs ? " " : "",
					errs ? json_object_to_json_string(errs) : "");
		}
		fail_msg("no %s record%s%s within %d ms", w->action, w->has[0] ? " with " : "",
			 w->has[0] ? w->has[0] : "", WAIT_MS);
	}
	return r;
}

/* The last event.sequence read so far. */
static int64_t last_seq(void)
{
	rwt_sensor_poll(&sensor);
	return sensor.n_recs ? rwt_int(sensor.recs[sensor.n_recs - 1], "event.sequence", 0) : 0;
}

static json_object *wait_failed(const char *a, const char *b, const char *c, int64_t after)
{
	struct want w = { .action = "update-failed", .has = { a, b, c }, .after = after };

	return wait_want(&w);
}

static json_object *wait_loaded(int version, int64_t after)
{
	char label[64];
	struct want w = { .action = "content-loaded", .field = "ringward.content.label",
			  .value = label, .after = after };

	snprintf(label, sizeof(label), BUNDLE "@%d", version);
	return wait_want(&w);
}

/* A successful check after seq: the updater trusts the repository again. */
static void wait_checked(int64_t after)
{
	struct want w = { .action = "update-checked", .after = after };

	wait_want(&w);
}

/* ---- execs and alerts ---- */

static void run_true(const char *marker)
{
	pid_t pid = fork();
	int st;

	assert_true(pid >= 0);
	if (pid == 0) {
		execl("/bin/true", "true", marker, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static bool is_alert(json_object *rec, void *arg)
{
	const char *kind = rwt_str(rec, "event.kind");
	const char *id = rwt_str(rec, "rule.id");

	return kind && !strcmp(kind, "alert") && id && !strcmp(id, (const char *)arg);
}

/* Exec the marker of rule id and wait for one more alert of that rule. */
static void expect_alert(const char *marker, const char *id)
{
	size_t before;

	rwt_sensor_poll(&sensor);
	before = rwt_count(&sensor, is_alert, (void *)id);
	run_true(marker);
	for (int waited = 0; waited <= WAIT_MS; waited += 50) {
		rwt_sensor_poll(&sensor);
		if (rwt_count(&sensor, is_alert, (void *)id) > before)
			return;
		sleep_ms(50);
	}
	fail_msg("no alert of rule %s for the exec of %s", id, marker);
}

/* The running content alerts: the marker of rule 1 (in every version). */
static void content_still_runs(void)
{
	expect_alert(MARKER1, RULE1_ID);
}

/* ---- group set-up ---- */

static bool skipping(void)
{
	if (skip_why[0]) {
		printf("%s\n", skip_why);
		return true;
	}
	return false;
}

static int group_teardown(void **st)
{
	(void)st;
	if (sensor_up)
		rwt_sensor_stop(&sensor);
	rwt_sensor_free(&sensor);
	sensor_up = false;
	rwt_kids_reap();	/* nginx, the streamer */
	if (dir)
		rwt_rmtree(dir);
	free(dir);
	free(repo);
	free(keys);
	free(nginx_conf);
	free(nginx_prefix);
	free(endless_flag);
	free(first_ts);
	first_ts = NULL;
	dir = NULL;
	return 0;
}

/* A CA, a certificate it signs for 127.0.0.1, and an unrelated CA, with
 * Debian's openssl; tls_port stays 0 (the https test says why) when that
 * fails. */
static void make_tls(void)
{
	char out[4096];
	int st;

	tls_dir = cat(dir, "tls");
	if (mkdir(tls_dir, 0700))
		return;
	st = run(out, sizeof(out),
		 "cd %s && printf 'subjectAltName=IP:127.0.0.1\\n' >san.ext && "
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		 "-keyout ca.key -out ca.pem -days 2 -subj /CN=ringward-test-ca && "
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		 "-keyout other.key -out other.pem -days 2 -subj /CN=ringward-other-ca && "
		 "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		 "-keyout server.key -out server.csr -subj /CN=127.0.0.1 && "
		 "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
		 "-out server.pem -days 2 -extfile san.ext 2>&1", tls_dir);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		tls_port = -1;	/* chosen with the http port */
	else
		fprintf(stderr, "test_update: no TLS material (openssl): %s\n", out);
}

static int group_setup(void **st)
{
	const char *why = rwt_kernel_skip_reason();
	char root1[600], pub[600], state[600], sock[600], url[128];
	const char *args[32];
	const char *host;
	json_object *r;
	int n = 0;
	unsigned b;

	(void)st;
	if (why) {
		snprintf(skip_why, sizeof(skip_why), "%s", why);
		return 0;
	}
	nginx_bin = ensure_nginx();
	if (!nginx_bin) {
		snprintf(skip_why, sizeof(skip_why), "skipped: nginx is not installed and "
			 "`apt-get install nginx-light` failed (no package repository reachable?)");
		return 0;
	}
	if (sodium_init() < 0)
		goto fail;
	dir = rwt_mkdtemp("update");
	if (!dir)
		goto fail;
	repo = cat(dir, "repo");
	keys = cat(dir, "repo.keys");
	nginx_prefix = cat(dir, "nginx");
	nginx_conf = cat(nginx_prefix, "nginx.conf");
	endless_flag = cat(dir, "endless.flag");
	assert_int_equal(mkdir(nginx_prefix, 0700), 0);
	make_tls();

	rw("content keygen --out %s/ops", dir);
	rw("repo init %s --keys 3 --threshold 2", repo);
	start_streamer();
	if (start_nginx()) {
		snprintf(skip_why, sizeof(skip_why), "skipped: nginx did not start (see %s)",
			 nginx_prefix);
		fprintf(stderr, "test_update: nginx did not start\n");
		goto fail;
	}

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	snprintf(root1, sizeof(root1), "%s/1.root.json", repo);
	snprintf(pub, sizeof(pub), "%s/ops.pub", dir);
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(sock, sizeof(sock), "%s/status.sock", dir);
	args[n++] = "--update-url";
	args[n++] = url;
	args[n++] = "--update-root";
	args[n++] = root1;
	args[n++] = "--update-interval";
	args[n++] = "1";
	args[n++] = "--trusted-keys";
	args[n++] = pub;
	args[n++] = "--hooks";
	args[n++] = "process";
	args[n++] = "--state-dir";
	args[n++] = state;
	args[n++] = "--status-socket";
	args[n++] = sock;
	args[n++] = "--lkg-after";
	args[n++] = LKG_AFTER;
	args[n] = NULL;
	if (rwt_sensor_start(&sensor, args)) {
		fprintf(stderr, "test_update: the sensor did not start\n");
		goto fail;
	}
	sensor_up = true;

	/* the host's ring follows from its id: a salt and a first ring that
	 * take this host, whatever its id */
	r = rwt_wait_for(&sensor, rwt_match_action, &(struct rwt_match){ "sensor-started", 0 },
			 WAIT_MS);
	host = r ? rwt_str(r, "host.id") : NULL;
	if (!host || !*host) {
		fprintf(stderr, "test_update: no host.id in sensor-started\n");
		goto fail;
	}
	for (int i = 0;; i++) {
		snprintf(salt, sizeof(salt), "rw-test-salt-%d", i);
		b = rollout__bucket(host, salt);
		if (b >= 1 && b < 9999)	/* and a canary ring without it: test 5 */
			break;
	}
	canary_bp = b + 1;
	return 0;
fail:
	/* cmocka runs no group teardown after a failed set-up */
	group_teardown(st);
	return -1;
}

/* ---- 1-3: publish, move, halt ---- */

static void test_publish_v1(void **st)
{
	struct want w = { .action = "update-checked", .ifield = "ringward.update.repository_version",
			  .ivalue = 1, .has = { "the repository publishes no rollout document" } };
	json_object *r;
	char want_dir[700];

	(void)st;
	if (skipping()) {
		skip();
		return;
	}
	/* the repository as `repo init` leaves it: nothing to stage */
	r = wait_want(&w);
	rwt_expect_str(r, "event.kind", "state");
	rwt_expect_str(r, "event.outcome", "success");

	add_bundle(1);
	publish(1, 0, NULL);
	{
		char *ts = cat(repo, "timestamp.json");

		first_ts = slurp(ts, &first_ts_len);
		first_ts_version = served_version("timestamp.json", NULL);
		free(ts);
	}
	w = (struct want){ .action = "update-staged", .field = "ringward.update.bundle",
			   .value = BUNDLE, .ifield = "ringward.update.version", .ivalue = 1 };
	r = wait_want(&w);
	rwt_expect_str(r, "event.reason", BUNDLE " version 1 verified and staged: activating");
	rwt_expect_str(r, "ringward.update.ring", "canary");
	snprintf(want_dir, sizeof(want_dir), "%s/state/update/updater.content/" BUNDLE "-1", dir);
	rwt_expect_str(r, "ringward.update.staged_dir", want_dir);
	assert_true(rwt_int(r, "ringward.update.pid", 0) > 0);
	r = wait_loaded(1, 0);
	content_still_runs();

	w = (struct want){ .action = "update-checked", .field = "ringward.update.ring",
			   .value = "canary", .ifield = "ringward.update.version", .ivalue = 1 };
	r = wait_want(&w);
	assert_int_equal(rwt_int(r, "ringward.update.repository_version", 0), 2);
	/* version 1 becomes the last-known-good before version 2 comes */
	w = (struct want){ .action = "content-lkg-saved",
			   .after = rwt_int(wait_loaded(1, 0), "event.sequence", 0) };
	assert_non_null(wait_want(&w));
}

/* The updater that just did that runs confined (updater_sandbox.h): the
 * record says how, and the kernel agrees. */
static void test_updater_sandboxed(void **st)
{
	struct want w = { .action = "updater-sandbox", .has = { "seccomp deny-list" } };
	json_object *r;
	const char *why;
	char path[64], line[256], tcp[64];
	FILE *f;
	int seccomp_mode = -1;
	pid_t pid;

	(void)st;
	if (skipping()) {
		skip();
		return;
	}
	r = wait_want(&w);
	rwt_expect_str(r, "event.outcome", "success");
	why = rwt_str(r, "event.reason");
	pid = (pid_t)rwt_int(r, "ringward.update.pid", 0);
	assert_true(pid > 0);
	/* landlock where this kernel has it; with ABI 4+ TCP only to the
	 * repository (and DNS) */
	if (strstr(why, "landlock ABI ") && atoi(strstr(why, "landlock ABI ") + 13) >= 4) {
		snprintf(tcp, sizeof(tcp), "TCP connect to ports %d and 53 only", port);
		if (!strstr(why, tcp))
			fail_msg("updater-sandbox: want \"%s\" in \"%s\"", tcp, why);
	}
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Seccomp:", 8))
			seccomp_mode = atoi(line + 8);
	fclose(f);
	assert_int_equal(seccomp_mode, 2);	/* SECCOMP_MODE_FILTER */
}

/* One `ringward updater` run by hand against url, trusting the CA file ca
 * (NULL: the system's); the first poll result it writes (checked, failed
 * or stage), within 30 s, into line. */
static void updater_once(const char *url, const char *ca, char *line, size_t len)
{
	char state[700], *root = cat(repo, "1.root.json");
	int in[2], out[2], src[4], n = 0;
	size_t used = 0;
	pid_t pid;

	line[0] = 0;
	snprintf(state, sizeof(state), "%s/tls-updater.XXXXXX", dir);
	assert_non_null(mkdtemp(state));
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	src[0] = in[0];
	src[1] = out[1];
	src[2] = open(root, O_RDONLY | O_CLOEXEC);
	src[3] = ca ? open(ca, O_RDONLY | O_CLOEXEC) : -1;
	assert_true(src[2] >= 0 && (!ca || src[3] >= 0));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char exe[600];

		/* above the targets first, so that no dup2 overwrites a source */
		for (int i = 0; i < 4; i++)
			if (src[i] >= 0)
				src[i] = fcntl(src[i], F_DUPFD, 50);
		for (int i = 0; i < 4; i++)
			if (src[i] >= 0 && dup2(src[i], 10 + i) < 0)
				_exit(126);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		snprintf(exe, sizeof(exe), "%s/ringward", rwt_build_dir());
		if (ca)
			execl(exe, "ringward", "updater", "--url", url, "--state", state,
			      "--host-id", "rwtest-tls", "--in-fd", "10", "--out-fd", "11",
			      "--root-fd", "12", "--ca-fd", "13", "--interval", "1", (char *)NULL);
		else
			execl(exe, "ringward", "updater", "--url", url, "--state", state,
			      "--host-id", "rwtest-tls", "--in-fd", "10", "--out-fd", "11",
			      "--root-fd", "12", "--interval", "1", (char *)NULL);
		_exit(127);
	}
	rwt_kid_add(pid);
	close(in[0]);
	close(out[1]);
	close(src[2]);
	if (src[3] >= 0)
		close(src[3]);
	for (int waited = 0; waited < 30000 && n >= 0; waited += 100) {
		struct pollfd p = { .fd = out[0], .events = POLLIN };
		char *nl;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = (int)read(out[0], line + used, len - 1 - used);
		if (n <= 0)
			break;
		used += (size_t)n;
		line[used] = 0;
		while ((nl = strchr(line, '\n'))) {
			if (!strncmp(line, "checked ", 8) || !strncmp(line, "failed ", 7) ||
			    !strncmp(line, "stage ", 6)) {
				*nl = 0;
				n = -1;	/* done */
				break;
			}
			memmove(line, nl + 1, strlen(nl + 1) + 1);
			used = strlen(line);
		}
		if (used + 1 >= len)
			break;
	}
	kill(pid, SIGKILL);
	rwt_kid_wait(pid);
	close(in[1]);
	close(out[0]);
	run(NULL, 0, "rm -rf %s", state);
	free(root);
}

/* The same repository over https, from nginx with a certificate of a CA
 * made for the test: the updater verifies the whole TUF chain through
 * TLS with --ca-fd, and refuses the server when it trusts another CA. */
static void test_https_end_to_end(void **st)
{
	char url[128], line[2048], *ca, *other;

	(void)st;
	if (skipping()) {
		skip();
		return;
	}
	if (tls_port <= 0) {
		print_message("skipped: openssl could not make the test's certificates\n");
		skip();
		return;
	}
	ca = cat(tls_dir, "ca.pem");
	other = cat(tls_dir, "other.pem");
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/", tls_port);
	updater_once(url, ca, line, sizeof(line));
	if (strncmp(line, "checked ", 8) && strncmp(line, "stage ", 6))
		fail_msg("https with the right CA: want \"checked ...\", got \"%s\"", line);
	updater_once(url, other, line, sizeof(line));
	if (strncmp(line, "failed ", 7) || !strstr(line, "https://127.0.0.1"))
		fail_msg("https with another CA: want \"failed GET https://...\", got \"%s\"", line);
	print_message("refused: %s\n", line);
	free(ca);
	free(other);
}

static void test_move_to_v2(void **st)
{
	struct want w = { .action = "update-staged", .ifield = "ringward.update.version",
			  .ivalue = 2 };

	(void)st;
	if (skipping()) {
		skip();
		return;
	}
	add_bundle(2);
	publish(2, 0, NULL);
	assert_non_null(wait_want(&w));
	wait_loaded(2, 0);
	/* version 2's own rule alerts: version 2 runs */
	expect_alert(MARKER2, RULE2_ID);
}

static void test_halt_v2(void **st)
{
	struct want w = { .action = "update-revoked", .ifield = "ringward.update.version",
			  .ivalue = 2, .has = { "version 2 is halted in rollout.json", HALT_REASON } };
	json_object *r;
	int64_t seq;
	size_t n2;

	(void)st;
	if (skipping()) {
		skip();
		return;
	}
	seq = last_seq();
	publish(2, 2, NULL);
	w.after = seq;
	r = wait_want(&w);
	rwt_expect_str(r, "ringward.update.bundle", BUNDLE);
	rwt_expect_str(r, "event.outcome", "success");
	/* back on version 1 */
	wait_loaded(1, rwt_int(r, "event.sequence", 0));
	content_still_runs();
	/* and version 2's rule is gone: its exec, then one that alerts; the
	 * engine takes them in order */
	rwt_sensor_poll(&sensor);
	n2 = rwt_count(&sensor, is_alert, (void *)RULE2_ID);
	run_true(MARKER2);
	content_still_runs();
	assert_int_equal(rwt_count(&sensor, is_alert, (void *)RULE2_ID), n2);
}

/* ---- 4: attacks ---- */

static void test_target_changed_after_signing(void **st)
{
	char name[200] = "", hex[65], *path = NULL, *buf;
	uint8_t h[32];
	size_t len;
	int64_t seq;
	DIR *d;
	struct dirent *de;
	char *tdir;

	(void)st;
	if (skipping()) {
		skip();
		return;
	}
	/* version 3 on the server but in no release yet */
	add_bundle(3);
	publish(2, 2, NULL);
	tdir = cat(repo, "targets");
	d = opendir(tdir);
	assert_non_null(d);
	while ((de = readdir(d)))
		if (strstr(de->d_name, "." BUNDLE "-3.rwb"))
			snprintf(name, sizeof(name), "%s", de->d_name);
	closedir(d);
	assert_true(name[0]);
	path = cat(tdir, name);
	/* one byte of it changed on the server, the length kept */
	buf = slurp(path, &len);
	buf[len - 2] ^= 0x20;
	put_bytes(path, buf, len);
	crypto_hash_sha256(h, (uint8_t *)buf, len);
	tuf__hex(h, 32, hex);
	seq = last_seq();
	publish(3, 2, NULL);	/* now version 3 is released */
	{
		char a[400], b[300];

		snprintf(a, sizeof(a), "targets/%s: sha256 %s differs from %.64s listed in ", name,
			 hex, name);
		snprintf(b, sizeof(b), ".targets.json (target changed after signing)");
		wait_failed(a, b, NULL, seq);
	}
	content_still_runs();
	/* the genuine file back: version 3 arrives */
	buf[len - 2] ^= 0x20;
	put_bytes(path, buf, len);
	wait_loaded(3, seq);
	content_still_runs();
	free(buf);
	free(path);
	free(tdir);
}

/* Timestamp metadata from the first publish, served again: the updater
 * trusts a newer one since (it staged version 3 from it). */
static void test_replayed_timestamp(void **st)
{
	char *ts = cat(repo, "timestamp.json"), *cur, want[200];
	size_t cl;
	int64_t seq, cur_v;

	(void)st;
	if (skipping()) {
		skip();
		return;
	}
	assert_non_null(first_ts);
	cur = slurp(ts, &cl);
	cur_v = served_version("timestamp.json", NULL);
	assert_true(cur_v > first_ts_version);
	seq = last_seq();
	put_bytes(ts, first_ts, first_ts_len);
	snprintf(want, sizeof(want), "timestamp.json: version %" PRId64 " is older than trusted "
		 "version %" PRId64 " (rollback)", first_ts_version, cur_v);
	wait_failed(want, NULL, NULL, seq);
	content_still_runs();
	/* the genuine one back: checks succeed again */
	seq = last_seq();
	put_bytes(ts, cur, cl);
	wait_checked(seq);
	free(cur);
	free(ts);
}

/* A timestamp that expires a second after signing, and nobody signs a
 * new one: a frozen repository. */
static void test_expired_timestamp(void **st)
{
	char want[200], at[32];
	int64_t seq, expires;

	(void)st;
	if (skipping()) {
		skip();
		return;
	}
	seq = last_seq();
	rw("repo timestamp %s --expires timestamp=1s", repo);
	served_version("timestamp.json", &expires);
	bundle__format_time(expires, at, sizeof(at));
	snprintf(want, sizeof(want), "timestamp.json: expired at %s, now is ", at);
	wait_failed(want, "(freeze attack, or the repository stopped signing)", NULL, seq);
	content_still_runs();
	seq = last_seq();
	rw("repo timestamp %s", repo);
	wait_checked(seq);
}

/* A new publish whose snapshot is replaced by the old snapshot's bytes:
 * the timestamp names one snapshot, the server gives another. */
static void test_mix_and_match(void **st)
{
	char *b = cat(dir, "repo-b"), *bk = cat(dir, "repo-b.keys"), snap[64], old_snap[64];
	char want[400], *new_b, *old_b, *p, *q;
	size_t nl, ol;
	int64_t v, seq;
	uint8_t h[32];
	char gh[65], wh[65];

	(void)st;
	if (skipping()) {
		skip();
		return;
	}
	/* publish in a copy, then serve its files in an order of our own */
	assert_int_equal(run(NULL, 0, "cp -a %s %s && cp -a %s %s", repo, b, keys, bk), 0);
	rw("repo publish %s", b);
	v = served_version("timestamp.json", NULL);
	{
		char *bts = cat(b, "timestamp.json"), *t;
		size_t tl;
		struct tuf_envelope env;
		struct tuf_timestamp tm;
		struct tuf_err e;

		t = slurp(bts, &tl);
		assert_int_equal(tuf_envelope__parse(&env, "timestamp.json", (uint8_t *)t, tl, &e), 0);
		assert_int_equal(tuf_timestamp__parse(&tm, "timestamp.json", &env, &e), 0);
		tuf_envelope__free(&env);
		free(t);
		free(bts);
		snprintf(snap, sizeof(snap), "%" PRId64 ".snapshot.json", tm.snapshot.version);
		snprintf(old_snap, sizeof(old_snap), "%" PRId64 ".snapshot.json",
			 tm.snapshot.version - 1);
		assert_true(tm.version > v);
	}
	/* the new targets, the OLD snapshot under the new snapshot's name,
	 * then the new timestamp */
	{
		char tname[64];
		struct tuf_envelope env;
		struct tuf_snapshot sn;
		struct tuf_err e;

		p = cat(b, snap);
		new_b = slurp(p, &nl);
		assert_int_equal(tuf_envelope__parse(&env, snap, (uint8_t *)new_b, nl, &e), 0);
		assert_int_equal(tuf_snapshot__parse(&sn, snap, &env, &e), 0);
		tuf_envelope__free(&env);
		free(new_b);
		free(p);
		snprintf(tname, sizeof(tname), "%" PRId64 ".targets.json", sn.targets.version);
		p = cat(b, tname);
		q = cat(repo, tname);
		new_b = slurp(p, &nl);
		put_bytes(q, new_b, nl);
		free(new_b);
		free(p);
		free(q);
	}
	p = cat(b, snap);
	new_b = slurp(p, &nl);
	free(p);
	p = cat(repo, old_snap);
	old_b = slurp(p, &ol);
	free(p);
	q = cat(repo, snap);
	put_bytes(q, old_b, ol);
	seq = last_seq();
	{
		char *bts = cat(b, "timestamp.json"), *t, *rts = cat(repo, "timestamp.json");
		size_t tl;

		t = slurp(bts, &tl);
		put_bytes(rts, t, tl);
		free(t);
		free(bts);
		free(rts);
	}
	if (ol != nl) {
		snprintf(want, sizeof(want), "%s: %zu bytes, but timestamp.json lists %zu "
			 "(mix-and-match or tampering)", snap, ol, nl);
	} else {
		crypto_hash_sha256(h, (uint8_t *)old_b, ol);
		tuf__hex(h, 32, gh);
		crypto_hash_sha256(h, (uint8_t *)new_b, nl);
		tuf__hex(h, 32, wh);
		snprintf(want, sizeof(want), "%s: sha256 %s differs from %s listed in "
			 "timestamp.json (mix-and-match or tampering)", snap, gh, wh);
	}
	wait_failed(want, NULL, NULL, seq);
	content_still_runs();
	/* the genuine snapshot: the repository is whole again */
	seq = last_seq();
	put_bytes(q, new_b, nl);
	wait_checked(seq);
	free(q);
	free(new_b);
	free(old_b);
	free(b);
	free(bk);
}

/* timestamp.json answered by a server that never stops sending. */
static void test_endless_response(void **st)
{
	int64_t seq;

	(void)st;
	if (skipping()) {
		skip();
		return;
	}
	seq = last_seq();
	put(endless_flag, "on\n");
	wait_failed("timestamp.json: larger than 16384 bytes, the cap for timestamp.json "
		    "(endless or oversized data)", NULL, NULL, seq);
	content_still_runs();
	seq = last_seq();
	assert_int_equal(unlink(endless_flag), 0);
	wait_checked(seq);
}

/* Root version 2 signed by one of the three root keys; threshold 2. */
static void test_root_rotation_too_few_keys(void **st)
{
	char *r1 = cat(repo, "1.root.json"), *r2 = cat(repo, "2.root.json"), *rk = cat(keys, "root");
	char *buf, *text, *kp = NULL;
	struct tuf_envelope env;
	struct tuf_signer s;
	const struct tuf_signer *sv[1] = { &s };
	struct tuf_err e;
	json_object *body;
	struct dirent *de;
	size_t len, tl;
	int64_t seq;
	DIR *d;

	(void)st;
	if (skipping()) {
		skip();
		return;
	}
	d = opendir(rk);
	assert_non_null(d);
	while ((de = readdir(d)) && !kp)
		if (strstr(de->d_name, ".key"))
			kp = cat(rk, de->d_name);
	closedir(d);
	assert_non_null(kp);
	assert_int_equal(tuf_signer__read(&s, kp, &e), 0);
	buf = slurp(r1, &len);
	assert_int_equal(tuf_envelope__parse(&env, "1.root.json", (uint8_t *)buf, len, &e), 0);
	body = json_object_get(env.body);
	tuf_envelope__free(&env);
	json_object_object_add(body, "version", json_object_new_int64(2));
	assert_int_equal(tuf__sign(body, sv, 1, &text, &tl, &e), 0);
	json_object_put(body);
	tuf_signer__wipe(&s);
	seq = last_seq();
	put_bytes(r2, text, tl);
	wait_failed("2.root.json: 1 valid signature by root keys of trusted root version 1, below "
		    "the threshold of 2 (a root rotation must be signed by a threshold of the old "
		    "root keys and a threshold of the new)", NULL, NULL, seq);
	content_still_runs();
	seq = last_seq();
	assert_int_equal(unlink(r2), 0);
	wait_checked(seq);
	free(text);
	free(buf);
	free(kp);
	free(r1);
	free(r2);
	free(rk);
}

/* The repository goes away: the content stays. */
static void test_repository_down(void **st)
{
	char want[200];
	int64_t seq;

	(void)st;
	if (skipping()) {
		skip();
		return;
	}
	seq = last_seq();
	assert_int_equal(kill(nginx_pid, SIGKILL), 0);
	rwt_kid_wait(nginx_pid);
	nginx_pid = 0;
	snprintf(want, sizeof(want), "(GET http://127.0.0.1:%d/2.root.json: ", port);
	wait_failed("2.root.json: fetch failed: Connection refused", want, NULL, seq);
	content_still_runs();
	/* what runs is still version 3: nothing was loaded since */
	{
		struct want w = { .action = "content-loaded", .after = seq };

		rwt_sensor_poll(&sensor);
		assert_int_equal(rwt_count(&sensor, matches, &w), 0);
	}
}

/* ---- 5: promotion by the controller ---- */

static void iso_time(char *buf, size_t size, time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* One content-health record, as the sensor writes them. */
static void health_line(FILE *f, const char *host, int version, time_t activated, time_t at)
{
	char ta[32], tat[32];

	iso_time(ta, sizeof(ta), activated);
	iso_time(tat, sizeof(tat), at);
	fprintf(f, "{\"@timestamp\":\"%s\",\"event\":{\"kind\":\"metric\","
		"\"action\":\"content-health\"},\"host\":{\"id\":\"%s\"},\"ringward\":{"
		"\"content\":{\"version\":\"sha256:test-%d\",\"label\":\"" BUNDLE "@%d\","
		"\"source\":\"configured\"},\"health\":{\"activated\":\"%s\","
		"\"engine_restarts\":0,\"engine_failures\":0,\"rule_errors\":0,\"drops\":0,"
		"\"events\":5000,\"eval_ns_per_event\":1500,\"rollbacks\":0}}}\n",
		tat, host, version, version, ta);
}

static void test_promotion_by_controller(void **st)
{
	static char out[65536];
	char text[4096], canary_at[32], hid[64];
	char *path = cat(dir, "rollout-promo.json"), *reports = cat(dir, "health.jsonl");
	time_t now = time(NULL);
	unsigned host_b = canary_bp - 1;	/* this host's bucket: canary_bp = b + 1 */
	int canaries = 0, olds = 0;
	struct want w;
	int64_t seq;
	FILE *f;

	(void)st;
	if (skipping()) {
		skip();
		return;
	}
	if (!nginx_pid)	/* test 4 took the repository down: back, same URL */
		assert_int_equal(start_nginx_on(port), 0);
	add_bundle(4);
	/* canary: buckets below this host's, so not this host; version 4 has
	 * been there for two minutes (its one-minute bake is over) */
	iso_time(canary_at, sizeof(canary_at), now - 120);
	snprintf(text, sizeof(text),
		 "{\"_type\": \"rollout\", \"version\": %d, \"salt\": \"%s\",\n"
		 " \"rings\": [{\"name\": \"canary\", \"hosts_bp\": %u, \"bake_seconds\": 60,\n"
		 "             \"gates\": {\"max_engine_restarts\": 0, \"max_rule_errors\": 0,\n"
		 "                       \"max_drop_ppm\": 1000, \"max_cpu_permille\": 50,\n"
		 "                       \"min_hosts\": 3}},\n"
		 "           {\"name\": \"broad\", \"hosts_bp\": %u}],\n"
		 " \"releases\": [\n"
		 "  {\"version\": 3, \"target\": \"" BUNDLE "-3.rwb\",\n"
		 "   \"rings\": {\"canary\": \"2024-01-01T00:00:00Z\", \"broad\": \"2024-01-02T00:00:00Z\"}},\n"
		 "  {\"version\": 4, \"target\": \"" BUNDLE "-4.rwb\",\n"
		 "   \"rings\": {\"canary\": \"%s\"}}]}\n",
		 ++rollout_version, salt, host_b, 10000 - host_b, canary_at);
	put(path, text);
	seq = last_seq();
	rw("repo publish %s --rollout %s", repo, path);
	/* the host is in broad: it keeps version 3 */
	w = (struct want){ .action = "update-checked", .field = "ringward.update.ring",
			   .value = "broad", .ifield = "ringward.update.version", .ivalue = 3,
			   .after = seq };
	assert_non_null(wait_want(&w));

	/* the fleet's reports: five canaries healthy on version 4, five
	 * hosts still on version 3, over the same minutes */
	f = fopen(reports, "w");
	assert_non_null(f);
	for (int i = 0; canaries < 5 || olds < 5; i++) {
		snprintf(hid, sizeof(hid), "fleet-host-%d", i);
		if (rollout__bucket(hid, salt) < host_b && canaries < 5) {
			health_line(f, hid, 4, now - 100, now - 60);
			health_line(f, hid, 4, now - 100, now - 5);
			canaries++;
		} else if (rollout__bucket(hid, salt) >= host_b && olds < 5) {
			health_line(f, hid, 3, now - 7200, now - 60);
			health_line(f, hid, 3, now - 7200, now - 5);
			olds++;
		}
		assert_true(i < 10000000);
	}
	assert_int_equal(fclose(f), 0);

	seq = last_seq();
	{
		int rc = run(out, sizeof(out), "%s/ringward rollout --repo %s --reports %s 2>&1",
			     rwt_build_dir(), repo, reports);

		if (rc || !strstr(out, "\"promote\""))
			fprintf(stderr, "ringward rollout said (status %d):\n%s\n", rc, out);
		assert_int_equal(rc, 0);
		assert_non_null(strstr(out, "\"promote\""));
		rollout_version++;	/* the controller published the next version */
	}
	/* the host takes version 4 at its next poll */
	w = (struct want){ .action = "update-staged", .ifield = "ringward.update.version",
			   .ivalue = 4, .after = seq };
	assert_non_null(wait_want(&w));
	wait_loaded(4, seq);
	content_still_runs();
	free(path);
	free(reports);
}

/* ---- 6: the kill switch for one rule ---- */

static bool loaded_with_killed(json_object *rec, void *arg)
{
	const char *a = rwt_str(rec, "event.action"), *l = rwt_str(rec, "ringward.content.label");
	json_object *k = rwt_get(rec, "ringward.content.killed_rules");

	if (!a || strcmp(a, "content-loaded") || !l || strcmp(l, BUNDLE "@5") || !k ||
	    rwt_int(rec, "event.sequence", 0) <= *(int64_t *)arg)
		return false;
	for (size_t i = 0; i < json_object_array_length(k); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(k, i)), RULE2_ID))
			return true;
	return false;
}

static void test_kill_switch_rule(void **st)
{
	char text[4096], *path = cat(dir, "rollout-kill.json");
	unsigned host_b = canary_bp - 1;
	struct want w;
	int64_t seq;
	size_t n2;

	(void)st;
	if (skipping()) {
		skip();
		return;
	}
	add_bundle(5);
	snprintf(text, sizeof(text),
		 "{\"_type\": \"rollout\", \"version\": %d, \"salt\": \"%s\",\n"
		 " \"rings\": [{\"name\": \"canary\", \"hosts_bp\": %u, \"bake_seconds\": 60},\n"
		 "           {\"name\": \"broad\", \"hosts_bp\": %u}],\n"
		 " \"releases\": [\n"
		 "  {\"version\": 4, \"target\": \"" BUNDLE "-4.rwb\",\n"
		 "   \"rings\": {\"canary\": \"2024-01-01T00:00:00Z\", \"broad\": \"2024-01-02T00:00:00Z\"}},\n"
		 "  {\"version\": 5, \"target\": \"" BUNDLE "-5.rwb\",\n"
		 "   \"rings\": {\"canary\": \"2024-02-01T00:00:00Z\", \"broad\": \"2024-02-02T00:00:00Z\"}}],\n"
		 " \"kill_switch\": {\"rules\": [\"" RULE2_ID "\"]}}\n",
		 ++rollout_version, salt, host_b, 10000 - host_b);
	put(path, text);
	seq = last_seq();
	rw("repo publish %s --rollout %s", repo, path);
	w = (struct want){ .action = "update-kill-switch", .has = { RULE2_ID }, .after = seq };
	assert_non_null(wait_want(&w));
	/* version 5 runs, with rule 2 disabled in it */
	assert_non_null(rwt_wait_for(&sensor, loaded_with_killed, &seq, WAIT_MS));
	rwt_sensor_poll(&sensor);
	n2 = rwt_count(&sensor, is_alert, (void *)RULE2_ID);
	run_true(MARKER2);
	content_still_runs();	/* rule 1 alerts: the engine took both execs */
	assert_int_equal(rwt_count(&sensor, is_alert, (void *)RULE2_ID), n2);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_publish_v1),
		cmocka_unit_test(test_updater_sandboxed),
		cmocka_unit_test(test_https_end_to_end),
		cmocka_unit_test(test_move_to_v2),
		cmocka_unit_test(test_halt_v2),
		cmocka_unit_test(test_target_changed_after_signing),
		cmocka_unit_test(test_replayed_timestamp),
		cmocka_unit_test(test_expired_timestamp),
		cmocka_unit_test(test_mix_and_match),
		cmocka_unit_test(test_endless_response),
		cmocka_unit_test(test_root_rotation_too_few_keys),
		cmocka_unit_test(test_repository_down),
		cmocka_unit_test(test_promotion_by_controller),
		cmocka_unit_test(test_kill_switch_rule),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
