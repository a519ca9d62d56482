/*
 * The updater's HTTP fetch (src/update/http_fetch.c) against a real HTTP
 * server on 127.0.0.1 (a child process of this test, speaking HTTP/1.1 on
 * a real TCP socket): each answer a repository, a network or a hostile
 * middlebox can give maps to the errno the TUF client expects, and no
 * response costs more than its cap however long it is.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "testlib.h"
#include "update/http_fetch.h"

static pid_t server;
static int port;
static int hits_fd[2] = { -1, -1 };	/* the server writes one byte per request */

static void put(int fd, const char *s)
{
	size_t n = strlen(s), off = 0;

	while (off < n) {
		ssize_t w = write(fd, s + off, n - off);

		if (w <= 0)
			return;
		off += (size_t)w;
	}
}

/* Write forever (until the client goes away), as fast as it reads. */
static void endless(int fd, bool chunked)
{
	char buf[4096], head[32];

	memset(buf, ' ', sizeof(buf));
	snprintf(head, sizeof(head), "%zx\r\n", sizeof(buf));
	for (;;) {
		if (chunked && write(fd, head, strlen(head)) <= 0)
			return;
		if (write(fd, buf, sizeof(buf)) <= 0)
			return;
		if (chunked && write(fd, "\r\n", 2) <= 0)
			return;
	}
}

static void serve_one(int c)
{
	char req[2048], path[512];
	size_t n = 0;

	/* the request head, up to the blank line */
	while (n < sizeof(req) - 1) {
		ssize_t r = read(c, req + n, sizeof(req) - 1 - n);

		if (r <= 0)
			return;
		n += (size_t)r;
		req[n] = 0;
		if (req[0] == 0x16)
			break;	/* a TLS ClientHello: answered in plain HTTP below */
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	if (write(hits_fd[1], "x", 1) < 0)
		return;
	if (sscanf(req, "GET %511s HTTP/1.1", path) != 1) {
		put(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
		return;
	}
	if (!strcmp(path, "/repo/ok.json")) {
		put(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
	} else if (!strcmp(path, "/repo/empty")) {
		put(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	} else if (!strcmp(path, "/repo/targets/abc.x-1.rwb")) {
		put(c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc");
	} else if (!strcmp(path, "/repo/missing")) {
		put(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found");
	} else if (!strcmp(path, "/repo/gone")) {
		put(c, "HTTP/1.1 410 Gone\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	} else if (!strcmp(path, "/repo/error")) {
		put(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	} else if (!strcmp(path, "/repo/redirect")) {
		char h[256];

		snprintf(h, sizeof(h), "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:%d/repo/"
			 "ok.json\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", port);
		put(c, h);
	} else if (!strcmp(path, "/repo/big")) {
		/* says how long it is: refused before the body */
		put(c, "HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\nConnection: close\r\n\r\n");
		endless(c, false);
	} else if (!strcmp(path, "/repo/endless")) {
		/* no length: the body ends when the connection does, never */
		put(c, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
		endless(c, false);
	} else if (!strcmp(path, "/repo/endless-chunked")) {
		put(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
		endless(c, true);
	} else if (!strcmp(path, "/repo/trickle")) {
		/* one byte every 300 ms: under any low-speed limit */
		struct timespec ts = { 0, 300 * 1000000L };

		put(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n");
		for (int i = 0; i < 1000; i++) {
			if (write(c, "x", 1) <= 0)
				return;
			nanosleep(&ts, NULL);
		}
	} else {
		put(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	}
}

static int listen_on(int *out_port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(s >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s, 16), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
	*out_port = ntohs(a.sin_port);
	return s;
}

static int group_setup(void **st)
{
	int s;

	(void)st;
	assert_int_equal(curl_global_init(CURL_GLOBAL_DEFAULT), 0);
	assert_int_equal(pipe(hits_fd), 0);
	s = listen_on(&port);
	server = fork();
	assert_true(server >= 0);
	if (server == 0) {
		signal(SIGPIPE, SIG_IGN);
		close(hits_fd[0]);
		for (;;) {
			struct timeval tv = { 2, 0 };
			int c = accept(s, NULL, NULL);

			if (c < 0)
				continue;
			/* a client that stops talking does not stop the server */
			setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			serve_one(c);
			close(c);
		}
	}
	close(s);
	close(hits_fd[1]);
	fcntl(hits_fd[0], F_SETFL, O_NONBLOCK);
	rwt_kid_add(server);
	return 0;
}

static int group_teardown(void **st)
{
	(void)st;
	rwt_kids_reap();
	close(hits_fd[0]);
	curl_global_cleanup();
	return 0;
}

static struct http_fetch *new_fetch(const char *base_fmt, unsigned timeout_s)
{
	struct http_fetch_opts o = { .timeout_s = timeout_s };
	char base[128];
	struct http_fetch *h;

	snprintf(base, sizeof(base), base_fmt, port);
	o.base_url = base;
	h = http_fetch__new(&o);
	assert_non_null(h);
	return h;
}

/* Requests the server saw since the last call (it writes its byte before
 * it answers, so every request answered is counted by now). */
static int hits(void)
{
	char b[64];
	int n = 0;
	ssize_t r;

	while ((r = read(hits_fd[0], b, sizeof(b))) > 0)
		n += (int)r;
	return n;
}

static void expect_get(struct http_fetch *h, const char *name, size_t max, int want_err,
		       const char *want_body, const char *want_detail)
{
	uint8_t *buf = (uint8_t *)"not touched";
	size_t len = 12345;
	int err = http_fetch__get(h, name, max, &buf, &len);

	if (err != want_err)
		fail_msg("%s: expected %d, got %d (%s)", name, want_err, err, http_fetch__error(h));
	assert_int_equal(http_fetch__last_err(h), want_err);
	if (want_err) {
		assert_null(buf);
		assert_int_equal(len, 0);
	} else {
		assert_non_null(buf);
		assert_int_equal(len, strlen(want_body));
		assert_memory_equal(buf, want_body, len);
		assert_string_equal(http_fetch__error(h), "");
		free(buf);
	}
	if (want_detail && !strstr(http_fetch__error(h), want_detail))
		fail_msg("%s: detail \"%s\" lacks \"%s\"", name, http_fetch__error(h), want_detail);
}

static void test_ok_and_missing(void **st)
{
	struct http_fetch *h = new_fetch("http://127.0.0.1:%d/repo", 10);	/* '/' added */
	char detail[160];

	(void)st;
	hits();
	expect_get(h, "ok.json", 1000, 0, "hello", NULL);
	/* exactly the cap is within it */
	expect_get(h, "ok.json", 5, 0, "hello", NULL);
	expect_get(h, "empty", 10, 0, "", NULL);
	expect_get(h, "targets/abc.x-1.rwb", 10, 0, "abc", NULL);
	/* 404 and 410: the file does not exist (the end of the root chain) */
	expect_get(h, "missing", 1000, -ENOENT, NULL, NULL);
	expect_get(h, "gone", 1000, -ENOENT, NULL, NULL);
	snprintf(detail, sizeof(detail), "GET http://127.0.0.1:%d/repo/error: HTTP 503", port);
	expect_get(h, "error", 1000, -EIO, NULL, detail);
	/* redirects are not followed: the repository is one base URL */
	snprintf(detail, sizeof(detail), "GET http://127.0.0.1:%d/repo/redirect: HTTP 302 "
		 "(redirects are not followed)", port);
	expect_get(h, "redirect", 1000, -EIO, NULL, detail);
	assert_int_equal(hits(), 8);
	http_fetch__free(h);
}

static void test_caps(void **st)
{
	struct http_fetch *h = new_fetch("http://127.0.0.1:%d/repo/", 10);
	char detail[160];

	(void)st;
	/* one byte over */
	snprintf(detail, sizeof(detail), "GET http://127.0.0.1:%d/repo/ok.json: more than 4 "
		 "bytes (the cap)", port);
	expect_get(h, "ok.json", 4, -EFBIG, NULL, detail);
	/* a Content-Length above the cap, a body without length, an endless
	 * chunked body: each stops at the cap */
	expect_get(h, "big", 16384, -EFBIG, NULL, NULL);
	expect_get(h, "endless", 16384, -EFBIG, NULL, NULL);
	expect_get(h, "endless-chunked", 16384, -EFBIG, NULL, NULL);
	/* the same handle works after an abort */
	expect_get(h, "ok.json", 100, 0, "hello", NULL);
	http_fetch__free(h);
}

static void test_trickle_times_out(void **st)
{
	struct http_fetch *h = new_fetch("http://127.0.0.1:%d/repo/", 2);

	(void)st;
	/* 1000 bytes at 3 per second would take minutes: cut at the timeout */
	expect_get(h, "trickle", 100000, -ETIMEDOUT, NULL, "GET ");
	http_fetch__free(h);
}

static void test_refused_and_tls(void **st)
{
	int s, dead_port;
	struct http_fetch *h;
	char base[128], detail[160];

	(void)st;
	/* a port nobody listens on any more */
	s = listen_on(&dead_port);
	close(s);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d/", dead_port);
	h = new_fetch(base, 5);
	snprintf(detail, sizeof(detail), "GET http://127.0.0.1:%d/timestamp.json: ", dead_port);
	expect_get(h, "timestamp.json", 100, -ECONNREFUSED, NULL, detail);
	http_fetch__free(h);

	/* https to a server that does not speak TLS: the handshake fails */
	h = new_fetch("https://127.0.0.1:%d/repo/", 5);
	expect_get(h, "ok.json", 100, -EPROTO, NULL, NULL);
	http_fetch__free(h);
}

static void test_refuses_bad_names_and_urls(void **st)
{
	static const char *const names[] = {
		"../x", "a/../b", "/etc/passwd", "a b", "", "a//b", "x?y=1", "x#y", "%2e%2e/x",
		"a\nb", NULL
	};
	static const char *const urls[] = {
		"ftp://127.0.0.1/", "file:///etc/", "http://", "https:///x", "127.0.0.1/",
		"http://a b/", "http://a\r\nX: y/", NULL
	};
	struct http_fetch *h = new_fetch("http://127.0.0.1:%d/repo/", 5);

	(void)st;
	hits();
	for (int i = 0; names[i]; i++)
		expect_get(h, names[i], 100, -EINVAL, NULL, "not a repository file name");
	assert_int_equal(hits(), 0);	/* none reached the network */
	http_fetch__free(h);
	for (int i = 0; urls[i]; i++) {
		struct http_fetch_opts o = { .base_url = urls[i] };

		errno = 0;
		assert_null(http_fetch__new(&o));
		assert_int_equal(errno, EINVAL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok_and_missing),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_trickle_times_out),
		cmocka_unit_test(test_refused_and_tls),
		cmocka_unit_test(test_refuses_bad_names_and_urls),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
