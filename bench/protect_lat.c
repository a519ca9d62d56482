/*
 * Exec latency, one number per exec: fork, execve, waitpid of a tiny
 * binary, timed from before fork to after the child is reaped.
 *
 *   protect_lat --runs N --file PATH        the same file N times (cached)
 *   protect_lat --runs N --cold-dir DIR [--make-cold SRC]
 *                                            DIR/b0 .. DIR/b<N-1>, each once
 *                                            (a new inode: a cold verdict);
 *                                            --make-cold copies SRC there first
 *
 * Prints "median_us p99_us" (microseconds, to 0.1). bench/protect.sh runs
 * it with no sensor, in detect mode and in protect mode, alternating.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* n copies of src into dir (not timed). */
static int make_copies(const char *src, const char *dir, int n)
{
	static char buf[1 << 20];
	ssize_t len;
	int fd = open(src, O_RDONLY);

	if (fd < 0)
		return -1;
	len = read(fd, buf, sizeof(buf));
	close(fd);
	if (len <= 0)
		return -1;
	for (int i = 0; i < n; i++) {
		char path[4096];
		int out;

		snprintf(path, sizeof(path), "%s/b%d", dir, i);
		out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
		if (out < 0 || write(out, buf, (size_t)len) != len || close(out) < 0)
			return -1;
	}
	return 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "runs", required_argument, NULL, 'n' },
		{ "file", required_argument, NULL, 'f' },
		{ "cold-dir", required_argument, NULL, 'c' },
		{ "make-cold", required_argument, NULL, 'm' },
		{ 0 }
	};
	const char *file = NULL, *cold = NULL, *src = NULL;
	int runs = 1000, opt;
	double *lat;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'n': runs = atoi(optarg); break;
		case 'f': file = optarg; break;
		case 'c': cold = optarg; break;
		case 'm': src = optarg; break;
		default: return 2;
		}
	}
	if (runs <= 0 || (!file && !cold)) {
		fprintf(stderr, "usage: protect_lat --runs N (--file PATH | --cold-dir DIR)\n");
		return 2;
	}
	if (cold && src && make_copies(src, cold, runs)) {
		perror("protect_lat: copies");
		return 1;
	}
	lat = calloc((size_t)runs, sizeof(*lat));
	if (!lat)
		return 1;
	for (int i = 0; i < runs; i++) {
		char path[4096];
		double t0;
		pid_t pid;
		int st;

		if (cold)
			snprintf(path, sizeof(path), "%s/b%d", cold, i);
		else
			snprintf(path, sizeof(path), "%s", file);
		t0 = now_us();
		pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0) {
			execl(path, path, (char *)NULL);
			_exit(127);
		}
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "protect_lat: %s did not run (status %d)\n", path, st);
			return 1;
		}
		lat[i] = now_us() - t0;
	}
	qsort(lat, (size_t)runs, sizeof(*lat), cmp);
	printf("%.1f %.1f\n", lat[runs / 2], lat[(size_t)((double)runs * 0.99)]);
	free(lat);
	return 0;
}
