/*
 * Kill by pidfd (core/response.h).
 */
#include "core/response.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define GROUP_PASSES	4	/* rescans for members forked meanwhile */

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int pidfd_signal(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* Fields of /proc/<pid>/stat: state (3), process group (5), start (22). */
static int proc_stat(pid_t pid, uint64_t *start_ticks, pid_t *pgid, char *state)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	long long grp = 0;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = 0;
	/* the name may hold spaces and parentheses: fields follow the last ')' */
	p = strrchr(buf, ')');
	if (!p)
		return -EINVAL;
	p++;
	for (field = 3; *p && field <= 22; field++) {
		while (*p == ' ')
			p++;
		if (field == 3 && state)
			*state = *p;
		if (field == 5)
			grp = strtoll(p, NULL, 10);
		if (field == 22)
			start = strtoull(p, NULL, 10);
		while (*p && *p != ' ')
			p++;
	}
	if (field <= 22)
		return -EINVAL;
	if (start_ticks)
		*start_ticks = start;
	if (pgid)
		*pgid = (pid_t)grp;
	return 0;
}

int response__proc_start(pid_t pid, uint64_t *start_ticks, pid_t *pgid)
{
	return proc_stat(pid, start_ticks, pgid, NULL);
}

/* A pidfd on pid, checked: still alive after its /proc entry was read, so
 * what was read is the process the pidfd holds. start 0: not compared.
 * Returns the pidfd or -errno. */
static int open_checked(pid_t pid, uint64_t start, pid_t *pgid, char *state)
{
	uint64_t got;
	int fd = pidfd_open_(pid), err;

	if (fd < 0)
		return -errno;
	err = proc_stat(pid, &got, pgid, state);
	if (!err && pidfd_signal(fd, 0))
		err = -errno;	/* gone: what was read may be another process */
	if (!err && start && got != start)
		err = -ESRCH;	/* the pid now names another process */
	if (err) {
		close(fd);
		return err == -EPERM ? -EPERM : -ESRCH;
	}
	return fd;
}

struct pidset {
	pid_t v[4096];
	size_t n;
};

static bool pidset__has(const struct pidset *s, pid_t p)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i] == p)
			return true;
	return false;
}

/* SIGKILL every process of group pgid except this one and those in done
 * (added as they are signalled); how many. Zombies are skipped: they are
 * dead already and keep their group until reaped. */
static unsigned kill_group(pid_t pgid, struct pidset *done)
{
	unsigned killed = 0;

	for (int pass = 0; pass < GROUP_PASSES; pass++) {
		unsigned found = 0;
		struct dirent *de;
		DIR *d = opendir("/proc");

		if (!d)
			break;
		while ((de = readdir(d))) {
			pid_t q, g = 0;
			char st = 0;
			int fd;

			if (!isdigit((unsigned char)de->d_name[0]))
				continue;
			q = (pid_t)atoi(de->d_name);
			if (q <= 1 || q == getpid() || pidset__has(done, q))
				continue;
			fd = open_checked(q, 0, &g, &st);
			if (fd < 0)
				continue;
			if (g == pgid && st != 'Z' && pidfd_signal(fd, SIGKILL) == 0) {
				killed++;
				found++;
				if (done->n < sizeof(done->v) / sizeof(done->v[0]))
					done->v[done->n++] = q;
			}
			close(fd);
		}
		closedir(d);
		if (!found)
			break;	/* nothing left (killed ones are zombies now) */
	}
	return killed;
}

int response__kill_checked(pid_t pid, uint64_t start_ticks, bool group, unsigned *killed)
{
	pid_t pgid = 0;
	unsigned n = 0;
	int fd;

	if (killed)
		*killed = 0;
	if (pid <= 1 || pid == getpid())
		return -EPERM;
	fd = open_checked(pid, start_ticks, &pgid, NULL);
	if (fd < 0)
		return fd;
	if (group && (pgid <= 1 || pgid == getpgrp())) {
		close(fd);
		return -EPERM;	/* the sensor's own group, or init's */
	}
	/* the process itself first: it cannot fork more members after */
	if (pidfd_signal(fd, SIGKILL)) {
		int err = -errno;

		close(fd);
		return err;
	}
	n = 1;
	close(fd);
	if (group) {
		struct pidset *done = calloc(1, sizeof(*done));

		if (!done) {
			if (killed)
				*killed = n;	/* the process itself is killed */
			return -ENOMEM;
		}
		done->v[done->n++] = pid;
		n += kill_group(pgid, done);
		free(done);
	}
	if (killed)
		*killed = n;
	return 0;
}

int response__kill(pid_t pid, bool group)
{
	return response__kill_checked(pid, 0, group, NULL);
}
