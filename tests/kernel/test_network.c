/*
 * TCP connect and accept from the eBPF source, end to end: real sockets on
 * 127.0.0.1 and ::1, a child that connects (so that the connecting and the
 * listening process differ), a refused connect, and a listener that existed
 * before the sensor started (attributed by the start-time /proc scan).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#define WAIT_MS 10000

static struct rwt_sensor sensor;
static bool sensor_up;
static int early_listener = -1;	/* listening before the sensor started */
static int early_port;


/* A listening socket on the loopback address of family af; *port set. */
static int listen_on(int af, int *port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int fd = socket(af, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (af == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		len = sizeof(*a);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 8) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(af == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
				    : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

static int group_setup(void **state)
{
	if (rwt_kernel_skip_reason())
		return 0;
	early_listener = listen_on(AF_INET, &early_port);
	if (early_listener < 0)
		return -1;
	if (rwt_sensor_start(&sensor, NULL) == 0)
		sensor_up = true;
	return 0;
}

static int group_teardown(void **state)
{
	rwt_kids_reap();
	if (early_listener >= 0)
		close(early_listener);
	if (sensor_up) {
		rwt_sensor_stop(&sensor);
		rwt_sensor_free(&sensor);
	}
	return 0;
}

static int test_teardown(void **state)
{
	rwt_kids_reap();
	return 0;
}

/*
 * In a child: a socket bound to the loopback address of family af (so
 * that its port is known before connect), connected to port. Writes
 * "<local port> <errno>\n" to the pipe and exits.
 */
static pid_t connect_child(int af, int port, int *local_port, int *err)
{
	int p[2];
	pid_t pid;
	char buf[64] = { 0 };

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sockaddr_storage ss = { 0 }, to = { 0 };
		socklen_t len;
		int fd = socket(af, SOCK_STREAM, 0), lp = 0, e = 0;

		if (af == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)&ss, *t = (struct sockaddr_in *)&to;

			a->sin_family = t->sin_family = AF_INET;
			a->sin_addr.s_addr = t->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			t->sin_port = htons((uint16_t)port);
			len = sizeof(*a);
		} else {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss, *t = (struct sockaddr_in6 *)&to;

			a->sin6_family = t->sin6_family = AF_INET6;
			a->sin6_addr = t->sin6_addr = in6addr_loopback;
			t->sin6_port = htons((uint16_t)port);
			len = sizeof(*a);
		}
		if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0 ||
		    getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
			_exit(1);
		lp = ntohs(af == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					 : ((struct sockaddr_in6 *)&ss)->sin6_port);
		if (connect(fd, (struct sockaddr *)&to, len) < 0)
			e = errno;
		dprintf(p[1], "%d %d\n", lp, e);
		_exit(0);
	}
	rwt_kid_add(pid);
	close(p[1]);
	assert_true(read(p[0], buf, sizeof(buf) - 1) > 0);
	close(p[0]);
	assert_int_equal(sscanf(buf, "%d %d", local_port, err), 2);
	rwt_kid_wait(pid);
	return pid;
}

struct want_sock {
	const char *action;
	int sport, dport;
};

static bool match_sock(json_object *rec, void *arg)
{
	const struct want_sock *w = arg;
	const char *a = rwt_str(rec, "event.action");

	return a && strcmp(a, w->action) == 0 &&
	       rwt_int(rec, "source.port", -1) == w->sport &&
	       rwt_int(rec, "destination.port", -1) == w->dport;
}

static json_object *wait_sock(const char *action, int sport, int dport)
{
	struct want_sock w = { action, sport, dport };
	json_object *rec = rwt_wait_for(&sensor, match_sock, &w, WAIT_MS);

	if (!rec)
		fail_msg("no %s event %d -> %d", action, sport, dport);
	return rec;
}

static void assert_str_at(json_object *rec, const char *key, const char *want)
{
	const char *got = rwt_str(rec, key);

	if (!got || strcmp(got, want) != 0)
		fail_msg("%s: want \"%s\", got \"%s\"", key, want, got ? got : "(absent)");
}

static void check_pair(int af, const char *ip, const char *type)
{
	json_object *c, *a;
	int lport, cport, err, s, conn;
	pid_t child;

	s = listen_on(af, &lport);
	assert_true(s >= 0);
	child = connect_child(af, lport, &cport, &err);
	assert_int_equal(err, 0);
	conn = accept(s, NULL, NULL);
	assert_true(conn >= 0);

	/* connect: the child's, from its port to ours */
	c = wait_sock("connect", cport, lport);
	assert_str_at(c, "event.kind", "event");
	assert_str_at(c, "event.category", "network");
	assert_str_at(c, "event.type", "start");
	assert_str_at(c, "event.outcome", "success");
	assert_int_equal(rwt_int(c, "process.pid", -1), child);
	assert_int_equal(rwt_int(c, "process.thread.id", -1), child);
	assert_int_equal(rwt_int(c, "process.parent.pid", -1), getpid());
	assert_str_at(c, "source.ip", ip);
	assert_str_at(c, "destination.ip", ip);
	assert_str_at(c, "network.transport", "tcp");
	assert_str_at(c, "network.type", type);
	assert_str_at(c, "network.direction", "egress");

	/* accept: ours (the listener), from the child's port to ours */
	a = wait_sock("accept", cport, lport);
	assert_str_at(a, "event.category", "network");
	assert_str_at(a, "event.type", "start");
	assert_str_at(a, "event.outcome", "success");
	assert_int_equal(rwt_int(a, "process.pid", -1), getpid());
	assert_str_at(a, "source.ip", ip);
	assert_str_at(a, "destination.ip", ip);
	assert_str_at(a, "network.transport", "tcp");
	assert_str_at(a, "network.type", type);
	assert_str_at(a, "network.direction", "ingress");
	close(conn);
	close(s);
}

static void test_connect_accept_ipv4(void **state)
{
	RWT_SKIP_UNLESS_UP(sensor_up);
	check_pair(AF_INET, "127.0.0.1", "ipv4");
}

static void test_connect_accept_ipv6(void **state)
{
	RWT_SKIP_UNLESS_UP(sensor_up);
	check_pair(AF_INET6, "::1", "ipv6");
}

static void check_refused(int af, const char *ip)
{
	json_object *c;
	int port, cport, err, s;
	pid_t child;

	/* a port that was just free: bound, never listened on, closed */
	s = listen_on(af, &port);
	assert_true(s >= 0);
	close(s);
	child = connect_child(af, port, &cport, &err);
	assert_int_equal(err, ECONNREFUSED);

	c = wait_sock("connect", cport, port);
	assert_str_at(c, "event.outcome", "failure");
	assert_int_equal(rwt_int(c, "process.pid", -1), child);
	assert_str_at(c, "source.ip", ip);
	assert_str_at(c, "destination.ip", ip);
	assert_str_at(c, "network.direction", "egress");
	{
		struct want_sock w = { "accept", cport, port };

		assert_int_equal(rwt_count(&sensor, match_sock, &w), 0);
	}
}

static void test_connect_refused_ipv4(void **state)
{
	RWT_SKIP_UNLESS_UP(sensor_up);
	check_refused(AF_INET, "127.0.0.1");
}

static void test_connect_refused_ipv6(void **state)
{
	RWT_SKIP_UNLESS_UP(sensor_up);
	check_refused(AF_INET6, "::1");
}

/* The listener predates the sensor: found by the start-time /proc scan. */
static void test_accept_old_listener(void **state)
{
	json_object *a;
	int cport, err, conn;

	RWT_SKIP_UNLESS_UP(sensor_up);
	connect_child(AF_INET, early_port, &cport, &err);
	assert_int_equal(err, 0);
	conn = accept(early_listener, NULL, NULL);
	assert_true(conn >= 0);
	a = wait_sock("accept", cport, early_port);
	assert_int_equal(rwt_int(a, "process.pid", -1), getpid());
	close(conn);
}

/* An IPv6 socket talking to an IPv4 peer (v4-mapped) is written as IPv4. */
static void test_v4mapped_is_ipv4(void **state)
{
	struct sockaddr_in6 to = { 0 };
	json_object *c;
	struct sockaddr_in6 me;
	socklen_t len = sizeof(me);
	int s, fd, port, conn, off = 0;

	RWT_SKIP_UNLESS_UP(sensor_up);
	s = listen_on(AF_INET, &port);
	assert_true(s >= 0);
	fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)), 0);
	to.sin6_family = AF_INET6;
	to.sin6_port = htons((uint16_t)port);
	assert_int_equal(inet_pton(AF_INET6, "::ffff:127.0.0.1", &to.sin6_addr), 1);
	assert_int_equal(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&me, &len), 0);
	conn = accept(s, NULL, NULL);
	assert_true(conn >= 0);

	c = wait_sock("connect", ntohs(me.sin6_port), port);
	assert_int_equal(rwt_int(c, "process.pid", -1), getpid());
	assert_str_at(c, "source.ip", "127.0.0.1");
	assert_str_at(c, "destination.ip", "127.0.0.1");
	assert_str_at(c, "network.type", "ipv4");
	close(conn);
	close(fd);
	close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_connect_accept_ipv4, test_teardown),
		cmocka_unit_test_teardown(test_connect_accept_ipv6, test_teardown),
		cmocka_unit_test_teardown(test_connect_refused_ipv4, test_teardown),
		cmocka_unit_test_teardown(test_connect_refused_ipv6, test_teardown),
		cmocka_unit_test_teardown(test_accept_old_listener, test_teardown),
		cmocka_unit_test_teardown(test_v4mapped_is_ipv4, test_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
