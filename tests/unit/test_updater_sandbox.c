/*
 * The updater's sandbox (src/update/updater_sandbox.h), entered for real
 * in forked children: what it denies is denied by the kernel, and what
 * the updater needs (its state directory, the repository's port, plain
 * sockets) still works. Needs seccomp; landlock parts run where the
 * kernel has landlock (TCP rules: ABI 4+), and say so when skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "update/updater_sandbox.h"

static char state_dir[] = "/tmp/rw-upd-sandbox.XXXXXX";
static char outside_dir[] = "/tmp/rw-upd-outside.XXXXXX";
static int listen_ok = -1, listen_other = -1;
static int port_ok, port_other;

static int listener(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s, 8), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return s;
}

static long landlock_abi(void)
{
	return syscall(SYS_landlock_create_ruleset, NULL, 0, 1 /* VERSION */);
}

static int setup(void **st)
{
	(void)st;
	if (!mkdtemp(state_dir) || !mkdtemp(outside_dir))
		return -1;
	listen_ok = listener(&port_ok);
	listen_other = listener(&port_other);
	return 0;
}

static int teardown(void **st)
{
	char p[128];

	(void)st;
	snprintf(p, sizeof(p), "%s/made-here", state_dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/made-outside", outside_dir);
	unlink(p);
	rmdir(state_dir);
	rmdir(outside_dir);
	close(listen_ok);
	close(listen_other);
	return 0;
}

/* Run fn in a child that entered the sandbox as the updater does (working
 * directory = state, no_new_privs); its wait status. */
static int in_sandbox_proxy(int (*fn)(void), const char *proxy)
{
	pid_t pid = fork();
	int st = 0;

	assert_true(pid >= 0);
	if (pid == 0) {
		char url[64], desc[512];

		snprintf(url, sizeof(url), "http://127.0.0.1:%d/repo/", port_ok);
		if (proxy)
			setenv("http_proxy", proxy, 1);
		if (chdir(state_dir) || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		    updater_sandbox__enter(url, desc, sizeof(desc)))
			_exit(100);
		_exit(fn());	/* _exit: no leak check at exit (it would ptrace) */
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static int in_sandbox(int (*fn)(void))
{
	return in_sandbox_proxy(fn, NULL);
}

static int try_exec(void)
{
	char *argv[] = { "/bin/true", NULL };

	execv(argv[0], argv);
	return 1;	/* not reached: killed */
}

static int try_unshare(void)
{
	unshare(CLONE_NEWUSER);
	return 1;
}

static int sockets(void)
{
	int s;

	errno = 0;
	if (socket(AF_PACKET, SOCK_RAW, 0) >= 0 || errno != EAFNOSUPPORT)
		return 1;
	if (socket(38 /* AF_ALG */, SOCK_SEQPACKET, 0) >= 0 || errno != EAFNOSUPPORT)
		return 2;
	if (socket(31 /* AF_BLUETOOTH */, SOCK_STREAM, 0) >= 0 || errno != EAFNOSUPPORT)
		return 3;
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		return 4;
	close(s);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0)
		return 5;
	close(s);
	return 0;
}

static int files(void)
{
	char p[128];
	int fd;

	fd = open("made-here", O_WRONLY | O_CREAT | O_EXCL, 0600);	/* the state dir */
	if (fd < 0)
		return 1;
	close(fd);
	fd = open("/etc/passwd", O_RDONLY);	/* reading anywhere */
	if (fd < 0)
		return 2;
	close(fd);
	snprintf(p, sizeof(p), "%s/made-outside", outside_dir);
	errno = 0;
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd >= 0 || errno != EACCES)
		return 3;
	return 0;
}

static int tcp_to(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int s = socket(AF_INET, SOCK_STREAM, 0), r;

	if (s < 0)
		return -errno;
	r = connect(s, (struct sockaddr *)&a, sizeof(a)) ? -errno : 0;
	close(s);
	return r;
}

static int tcp(void)
{
	if (tcp_to(port_ok) != 0)
		return 1;	/* the repository's port */
	if (tcp_to(port_other) != -EACCES)
		return 2;	/* anything else */
	return 0;
}

/* through a proxy the repository's port says nothing: TCP is left open */
static int tcp_via_proxy(void)
{
	return tcp_to(port_other) == 0 ? 0 : 1;
}

static void test_exec_kills(void **st)
{
	int s = in_sandbox(try_exec);

	(void)st;
	assert_true(WIFSIGNALED(s));
	assert_int_equal(WTERMSIG(s), SIGSYS);
}

static void test_namespaces_kill(void **st)
{
	int s = in_sandbox(try_unshare);

	(void)st;
	assert_true(WIFSIGNALED(s));
	assert_int_equal(WTERMSIG(s), SIGSYS);
}

static void test_socket_families(void **st)
{
	int s = in_sandbox(sockets);

	(void)st;
	assert_true(WIFEXITED(s));
	assert_int_equal(WEXITSTATUS(s), 0);
}

static void test_files(void **st)
{
	int s;

	(void)st;
	if (landlock_abi() < 1) {
		print_message("skipped: no landlock on this kernel\n");
		skip();
	}
	s = in_sandbox(files);
	assert_true(WIFEXITED(s));
	assert_int_equal(WEXITSTATUS(s), 0);
}

static void test_tcp_ports(void **st)
{
	int s;

	(void)st;
	if (landlock_abi() < 4) {
		print_message("skipped: landlock ABI < 4 (no TCP rules) on this kernel\n");
		skip();
	}
	s = in_sandbox(tcp);
	assert_true(WIFEXITED(s));
	assert_int_equal(WEXITSTATUS(s), 0);
}

static void test_tcp_open_with_proxy(void **st)
{
	int s;

	(void)st;
	if (landlock_abi() < 4) {
		print_message("skipped: landlock ABI < 4 (no TCP rules) on this kernel\n");
		skip();
	}
	s = in_sandbox_proxy(tcp_via_proxy, "http://127.0.0.1:3128/");
	assert_true(WIFEXITED(s));
	assert_int_equal(WEXITSTATUS(s), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec_kills),
		cmocka_unit_test(test_namespaces_kill),
		cmocka_unit_test(test_socket_families),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_tcp_ports),
		cmocka_unit_test(test_tcp_open_with_proxy),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
