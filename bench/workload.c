/*
 * Benchmark workloads: the host activity whose slowdown the sensor is
 * measured by (bench/run.sh). Each prints one line:
 *
 *   workload=<name> pid=<pid> ops=<n> [connects=<n>] elapsed_ns=<ns>
 *
 * ops counts the operations done (each loop iteration that completed);
 * elapsed_ns is the loop alone (CLOCK_MONOTONIC), without start-up.
 *
 *   exec N          fork + exec /bin/true, wait, N times
 *   churn N DIR     create, write 4 KiB, close, rename, unlink, N times
 *   connect N       TCP connect to a closed 127.0.0.1 port (refused), N times
 *   mixed N DIR     stat/open/read/close of a file, N times, plus a refused
 *                   connect every 100 iterations
 *
 * Any unexpected failure stops the workload with exit status 1: a benchmark
 * that silently did less work would report a false speed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "workload: %s: %s\n", what, strerror(errno));
	exit(1);
}

static long parse_n(const char *s)
{
	char *end;
	long n = strtol(s, &end, 10);

	if (*end || n < 0) {
		fprintf(stderr, "workload: bad count '%s'\n", s);
		exit(2);
	}
	return n;
}

static long do_exec(long n)
{
	static char *const argv[] = { "true", NULL };
	static char *const envp[] = { NULL };
	long i;

	for (i = 0; i < n; i++) {
		int st;
		pid_t p = fork();

		if (p < 0)
			die("fork");
		if (p == 0) {
			execve("/bin/true", argv, envp);
			_exit(127);
		}
		if (waitpid(p, &st, 0) < 0)
			die("waitpid");
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "workload: /bin/true failed (status %d)\n", st);
			exit(1);
		}
	}
	return i;
}

static long do_churn(long n, const char *dir)
{
	char a[4096], b[4096], buf[4096];
	long i;

	memset(buf, 'w', sizeof(buf));
	for (i = 0; i < n; i++) {
		int fd;

		snprintf(a, sizeof(a), "%s/f%ld", dir, i);
		snprintf(b, sizeof(b), "%s/g%ld", dir, i);
		fd = open(a, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			die(a);
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			die("write");
		if (close(fd) < 0)
			die("close");
		if (rename(a, b) < 0)
			die("rename");
		if (unlink(b) < 0)
			die("unlink");
	}
	return i;
}

/* A loopback port nobody listens on: bind an ephemeral one, close it. */
static struct sockaddr_in closed_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		die("socket");
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(s, (struct sockaddr *)&sa, &len) < 0)
		die("bind");
	close(s);
	return sa;
}

static void refused_connect(const struct sockaddr_in *sa)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		die("socket");
	if (connect(s, (const struct sockaddr *)sa, sizeof(*sa)) == 0) {
		fprintf(stderr, "workload: port %u unexpectedly accepted\n", ntohs(sa->sin_port));
		exit(1);
	}
	if (errno != ECONNREFUSED)
		die("connect");
	close(s);
}

static long do_connect(long n)
{
	struct sockaddr_in sa = closed_port();
	long i;

	for (i = 0; i < n; i++)
		refused_connect(&sa);
	return i;
}

static long do_mixed(long n, const char *dir, long *connects)
{
	struct sockaddr_in sa = closed_port();
	char path[4096], buf[4096];
	struct stat st;
	long i;
	int fd;

	snprintf(path, sizeof(path), "%s/mixed.dat", dir);
	memset(buf, 'm', sizeof(buf));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) || close(fd) < 0)
		die(path);
	*connects = 0;
	for (i = 0; i < n; i++) {
		if (stat(path, &st) < 0)
			die("stat");
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die("open");
		if (read(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			die("read");
		close(fd);
		if (i % 100 == 99) {
			refused_connect(&sa);
			(*connects)++;
		}
	}
	unlink(path);
	return i;
}

static void usage(void)
{
	fprintf(stderr, "usage: workload exec N | churn N DIR | connect N | mixed N DIR\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned long long t0, t1;
	long ops, connects = -1;

	if (argc < 3)
		usage();
	t0 = now_ns();
	if (strcmp(argv[1], "exec") == 0 && argc == 3)
		ops = do_exec(parse_n(argv[2]));
	else if (strcmp(argv[1], "churn") == 0 && argc == 4)
		ops = do_churn(parse_n(argv[2]), argv[3]);
	else if (strcmp(argv[1], "connect") == 0 && argc == 3)
		ops = do_connect(parse_n(argv[2]));
	else if (strcmp(argv[1], "mixed") == 0 && argc == 4)
		ops = do_mixed(parse_n(argv[2]), argv[3], &connects);
	else
		usage();
	t1 = now_ns();
	printf("workload=%s pid=%d ops=%ld", argv[1], (int)getpid(), ops);
	if (connects >= 0)
		printf(" connects=%ld", connects);
	printf(" elapsed_ns=%llu\n", t1 - t0);
	return 0;
}
