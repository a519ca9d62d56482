/*
 * DNS answers from the packet-socket source, end to end: a tiny DNS
 * responder (a child process) on 127.0.0.99:53 and [::1]:53 answers real
 * UDP queries; the sensor must write one dns-answer event per answer, and
 * a TCP connect to an address it resolved must carry destination.domain
 * (the name the process asked for, also through a CNAME chain).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#define WAIT_MS 10000
#define SERVER4 "127.0.0.99"
#define NAME_A "ringward-test.example"
#define ADDR_A "127.0.0.98"
#define NAME_CNAME "www.ringward-test.example"
#define NAME_EDGE "edge.ringward-test.example"
#define ADDR_CNAME "127.0.0.97"
/* asked for only by the connecting child: nothing else put them in the cache */
#define NAME_DIAL "dial.ringward-test.example"
#define ADDR_DIAL "127.0.0.96"
#define NAME_DIAL_CNAME "cdn.ringward-test.example"
#define NAME_DIAL_EDGE "edge2.ringward-test.example"
#define ADDR_DIAL_CNAME "127.0.0.95"
#define NAME_V6 "v6.ringward-test.example"
#define ADDR_V6 "2001:db8::98"

static struct rwt_sensor sensor;
static bool sensor_up;
static pid_t responder;



/* ---- the responder ------------------------------------------------------ */

struct msg {
	uint8_t b[512];
	size_t n;
};

static void put(struct msg *m, const void *p, size_t n)
{
	if (m->n + n <= sizeof(m->b)) {
		memcpy(m->b + m->n, p, n);
		m->n += n;
	}
}

static void put16(struct msg *m, unsigned v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put(m, b, 2);
}

static void put_name(struct msg *m, const char *dotted)
{
	while (*dotted) {
		const char *dot = strchr(dotted, '.');
		size_t l = dot ? (size_t)(dot - dotted) : strlen(dotted);
		uint8_t lb = (uint8_t)l;

		put(m, &lb, 1);
		put(m, dotted, l);
		dotted += l + (dot ? 1 : 0);
	}
	put(m, "", 1);
}

/* owner (a compression pointer), type, class IN, TTL 300, rdata */
static void put_rr(struct msg *m, unsigned owner, unsigned type, const void *rd, size_t n)
{
	put16(m, 0xc000 | owner);
	put16(m, type);
	put16(m, 1);
	put16(m, 0);
	put16(m, 300);
	put16(m, (unsigned)n);
	put(m, rd, n);
}

/* Answer one query in q (n bytes) into r. Returns false to stay silent. */
static bool answer(const uint8_t *q, size_t n, struct msg *r)
{
	char name[256] = "";
	size_t off = 12, o = 0;
	unsigned qtype, an = 0;
	uint8_t a[16];

	if (n < 12)
		return false;
	while (off < n && q[off] && q[off] < 64 && off + 1 + q[off] < n && o + q[off] + 2 < sizeof(name)) {
		if (o)
			name[o++] = '.';
		memcpy(name + o, q + off + 1, q[off]);
		o += q[off];
		off += 1 + q[off];
	}
	name[o] = 0;
	if (off + 5 > n || q[off] != 0)
		return false;
	off++;
	qtype = (unsigned)(q[off] << 8 | q[off + 1]);
	off += 4;

	r->n = 0;
	put(r, q, 2);				/* id */
	put16(r, 0x8180);
	put16(r, 1);
	put16(r, 0);				/* answer count, set below */
	put16(r, 0);
	put16(r, 0);
	put(r, q + 12, off - 12);		/* the question */
	if ((strcmp(name, NAME_A) == 0 || strcmp(name, NAME_DIAL) == 0) && qtype == 1) {
		inet_pton(AF_INET, strcmp(name, NAME_A) == 0 ? ADDR_A : ADDR_DIAL, a);
		put_rr(r, 12, 1, a, 4);
		an = 1;
	} else if ((strcmp(name, NAME_CNAME) == 0 || strcmp(name, NAME_DIAL_CNAME) == 0) &&
		   qtype == 1) {
		bool dial = strcmp(name, NAME_DIAL_CNAME) == 0;
		struct msg t = { .n = 0 };
		unsigned target = (unsigned)r->n + 12;	/* where the CNAME's rdata starts */

		put_name(&t, dial ? NAME_DIAL_EDGE : NAME_EDGE);
		put_rr(r, 12, 5, t.b, t.n);
		inet_pton(AF_INET, dial ? ADDR_DIAL_CNAME : ADDR_CNAME, a);
		put_rr(r, target, 1, a, 4);
		an = 2;
	} else if (strcmp(name, NAME_V6) == 0 && qtype == 28) {
		inet_pton(AF_INET6, ADDR_V6, a);
		put_rr(r, 12, 28, a, 16);
		an = 1;
	} else {
		r->b[3] = 0x83;			/* NXDOMAIN */
	}
	r->b[7] = (uint8_t)an;
	return true;
}

static int bind_udp(int af, const char *ip)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int fd = socket(af, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (af == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(53);
		inet_pton(AF_INET, ip, &s4->sin_addr);
		len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(53);
		inet_pton(AF_INET6, ip, &s6->sin6_addr);
		len = sizeof(*s6);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Fork the responder; it dies with us. Returns 0 when both sockets are
 * bound (the child reports through a pipe). */
static int responder_start(void)
{
	int p[2];
	char ok = 0;

	if (pipe(p) < 0)
		return -1;
	responder = fork();
	if (responder < 0)
		return -1;
	if (responder == 0) {
		struct pollfd pf[2];
		struct msg r;
		uint8_t q[512];

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(p[0]);
		pf[0] = (struct pollfd){ .fd = bind_udp(AF_INET, SERVER4), .events = POLLIN };
		pf[1] = (struct pollfd){ .fd = bind_udp(AF_INET6, "::1"), .events = POLLIN };
		ok = pf[0].fd >= 0 && pf[1].fd >= 0;
		if (write(p[1], &ok, 1) != 1 || !ok)
			_exit(1);
		close(p[1]);
		for (;;) {
			if (poll(pf, 2, -1) < 0)
				continue;
			for (int i = 0; i < 2; i++) {
				struct sockaddr_storage from;
				socklen_t fl = sizeof(from);
				ssize_t n;

				if (!(pf[i].revents & POLLIN))
					continue;
				n = recvfrom(pf[i].fd, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
				if (n > 0 && answer(q, (size_t)n, &r))
					sendto(pf[i].fd, r.b, r.n, 0, (struct sockaddr *)&from, fl);
			}
		}
	}
	close(p[1]);
	if (read(p[0], &ok, 1) != 1)
		ok = 0;
	close(p[0]);
	return ok ? 0 : -1;
}

/* ---- the client --------------------------------------------------------- */

/*
 * Ask server (af) for name/qtype over a connected UDP socket and wait for
 * the reply. Returns the reply's rcode (or -1), and the client port.
 */
static int query(int af, const char *name, unsigned qtype, int *client_port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	struct timeval tv = { 5, 0 };
	struct msg q = { .n = 0 };
	uint8_t r[512];
	ssize_t n;
	int fd = socket(af, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = -1;

	if (fd < 0)
		return -1;
	if (af == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(53);
		inet_pton(AF_INET, SERVER4, &s4->sin_addr);
		len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(53);
		s6->sin6_addr = in6addr_loopback;
		len = sizeof(*s6);
	}
	put16(&q, (unsigned)getpid() & 0xffff);
	put16(&q, 0x0100);
	put16(&q, 1);
	put16(&q, 0);
	put16(&q, 0);
	put16(&q, 0);
	put_name(&q, name);
	put16(&q, qtype);
	put16(&q, 1);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&ss, len) < 0 || send(fd, q.b, q.n, 0) != (ssize_t)q.n)
		goto out;
	n = recv(fd, r, sizeof(r), 0);
	if (n < 12 || r[0] != q.b[0] || r[1] != q.b[1])
		goto out;
	rc = r[3] & 0xf;
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0 && client_port)
		*client_port = ntohs(af == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
						   : ((struct sockaddr_in6 *)&ss)->sin6_port);
out:
	close(fd);
	return rc;
}

static bool match_answer(json_object *rec, void *arg)
{
	const char *a = rwt_str(rec, "event.action"), *q = rwt_str(rec, "dns.question.name");

	return a && strcmp(a, "dns-answer") == 0 && q && strcmp(q, arg) == 0;
}

static json_object *wait_answer(const char *name)
{
	json_object *rec = rwt_wait_for(&sensor, match_answer, (void *)name, WAIT_MS);

	if (!rec)
		fail_msg("no dns-answer event for %s", name);
	return rec;
}

static void check_answer(json_object *rec, const char *name, const char *ip, const char *type,
			 const char *client, int client_port, const char *server)
{
	json_object *ips = rwt_get(rec, "dns.resolved_ip");

	rwt_expect_str(rec, "event.kind", "event");
	rwt_expect_str(rec, "event.category", "network");
	rwt_expect_str(rec, "event.type", "info");
	rwt_expect_str(rec, "dns.question.name", name);
	assert_non_null(ips);
	assert_true(json_object_is_type(ips, json_type_array));
	assert_int_equal(json_object_array_length(ips), 1);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(ips, 0)), ip);
	rwt_expect_str(rec, "network.transport", "udp");
	rwt_expect_str(rec, "network.type", type);
	rwt_expect_str(rec, "source.ip", client);
	if (client_port)
		assert_int_equal(rwt_int(rec, "source.port", -1), client_port);
	else
		assert_true(rwt_int(rec, "source.port", -1) > 0);
	rwt_expect_str(rec, "destination.ip", server);
	assert_int_equal(rwt_int(rec, "destination.port", -1), 53);
}

static int group_setup(void **state)
{
	static const char *const args[] = { "--hooks", "dns,network,process", NULL };

	if (rwt_kernel_skip_reason())
		return 0;
	if (responder_start() < 0)
		return -1;
	if (rwt_sensor_start(&sensor, args) == 0)
		sensor_up = true;
	return 0;
}

static int group_teardown(void **state)
{
	int rc = 0;

	if (responder > 0) {
		kill(responder, SIGKILL);
		waitpid(responder, NULL, 0);
	}
	if (sensor_up) {
		int st = rwt_sensor_stop(&sensor);

		/* it must have lived through the tests and stopped cleanly */
		if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "sensor ended with status 0x%x (RW_KEEP_OUTPUT=1 keeps %s)\n", st,
				sensor.err_path);
			rc = -1;
		}
		rwt_sensor_free(&sensor);
	}
	return rc;
}

static bool hook_in_force(const char *name)
{
	json_object *hooks = rwt_get(sensor.recs[0], "ringward.sensor.hooks");

	for (size_t i = 0; hooks && i < json_object_array_length(hooks); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(hooks, i)), name) == 0)
			return true;
	return false;
}

/* ---- the tests ---------------------------------------------------------- */

static void test_hook_reported(void **state)
{
	RWT_SKIP_UNLESS_UP(sensor_up);
	rwt_expect_str(sensor.recs[0], "event.action", "sensor-started");
	assert_true(hook_in_force("packet:dns-udp-53"));
}

static void test_answer_ipv4(void **state)
{
	int port = 0;

	RWT_SKIP_UNLESS_UP(sensor_up);
	assert_int_equal(query(AF_INET, NAME_A, 1, &port), 0);
	check_answer(wait_answer(NAME_A), NAME_A, ADDR_A, "ipv4", "127.0.0.1", port, SERVER4);
}

static void test_answer_cname_chain(void **state)
{
	int port = 0;

	RWT_SKIP_UNLESS_UP(sensor_up);
	assert_int_equal(query(AF_INET, NAME_CNAME, 1, &port), 0);
	check_answer(wait_answer(NAME_CNAME), NAME_CNAME, ADDR_CNAME, "ipv4", "127.0.0.1", port,
		     SERVER4);
}

static void test_answer_ipv6(void **state)
{
	int port = 0;

	RWT_SKIP_UNLESS_UP(sensor_up);
	assert_int_equal(query(AF_INET6, NAME_V6, 28, &port), 0);
	check_answer(wait_answer(NAME_V6), NAME_V6, ADDR_V6, "ipv6", "::1", port, "::1");
}

/* NXDOMAIN names nothing: no event. The answer after it is the barrier. */
static void test_nxdomain_not_reported(void **state)
{
	RWT_SKIP_UNLESS_UP(sensor_up);
	assert_int_equal(query(AF_INET, "nothing.ringward-test.example", 1, NULL), 3);
	assert_int_equal(query(AF_INET, NAME_A, 1, NULL), 0);
	wait_answer(NAME_A);
	assert_int_equal(rwt_count(&sensor, match_answer, "nothing.ringward-test.example"), 0);
}

/* A child resolves a name and connects to the address at once, as a real
 * program does: the connect event carries the name it asked for. The
 * answer and the connect reach the sensor within the same few
 * milliseconds, and the connect may be read first. */
static pid_t resolve_and_connect(const char *name, const char *ip, int port)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		int fd;

		if (query(AF_INET, name, 1, NULL) != 0)
			_exit(1);
		inet_pton(AF_INET, ip, &a.sin_addr);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			_exit(2);
		close(fd);
		_exit(0);
	}
	return pid;
}

static int listen_at(const char *ip, int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	inet_pton(AF_INET, ip, &a.sin_addr);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

struct conn_want {
	pid_t pid;
	const char *ip;
	int port;
};

static bool match_connect(json_object *rec, void *arg)
{
	struct conn_want *w = arg;
	const char *a = rwt_str(rec, "event.action"), *ip = rwt_str(rec, "destination.ip");

	return a && strcmp(a, "connect") == 0 && rwt_int(rec, "process.pid", -1) == w->pid &&
	       ip && strcmp(ip, w->ip) == 0 && rwt_int(rec, "destination.port", -1) == w->port;
}

static void connect_carries(const char *name, const char *ip)
{
	struct conn_want w;
	json_object *rec;
	int lfd, port, st;
	pid_t pid;

	lfd = listen_at(ip, &port);
	pid = resolve_and_connect(name, ip, port);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	close(lfd);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	w = (struct conn_want){ pid, ip, port };
	rec = rwt_wait_for(&sensor, match_connect, &w, WAIT_MS);
	if (!rec)
		fail_msg("no connect event from pid %d to %s:%d", pid, ip, port);
	rwt_expect_str(rec, "destination.domain", name);
	rwt_expect_str(rec, "network.transport", "tcp");
}

static void test_connect_carries_domain(void **state)
{
	RWT_SKIP_UNLESS_UP(sensor_up);
	if (!hook_in_force("bpf:inet_sock_set_state")) {
		printf("skipped: no connect events here (bpf:inet_sock_set_state not in force)\n");
		skip();
	}
	connect_carries(NAME_DIAL, ADDR_DIAL);
	/* the child's port is its own: any */
	check_answer(wait_answer(NAME_DIAL), NAME_DIAL, ADDR_DIAL, "ipv4", "127.0.0.1", 0, SERVER4);
}

static void test_connect_carries_domain_through_cname(void **state)
{
	RWT_SKIP_UNLESS_UP(sensor_up);
	if (!hook_in_force("bpf:inet_sock_set_state")) {
		printf("skipped: no connect events here (bpf:inet_sock_set_state not in force)\n");
		skip();
	}
	connect_carries(NAME_DIAL_CNAME, ADDR_DIAL_CNAME);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hook_reported),
		cmocka_unit_test(test_answer_ipv4),
		cmocka_unit_test(test_answer_cname_chain),
		cmocka_unit_test(test_answer_ipv6),
		cmocka_unit_test(test_nxdomain_not_reported),
		cmocka_unit_test(test_connect_carries_domain),
		cmocka_unit_test(test_connect_carries_domain_through_cname),
	};

	return cmocka_run_group_tests_name("dns", tests, group_setup, group_teardown);
}
