/*
 * Kill by pidfd (core/response.h) on real processes, our own children:
 * one process; a process group of three (the test is their subreaper, so
 * it reaps the grandchildren too); a start time that does not match (the
 * pid now names another process) kills nothing; pid 1, ourselves and our
 * own group are refused; a pid that is gone is -ESRCH.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

#include "core/response.h"

static pid_t kids[8];
static int n_kids;

static int setup(void **st)
{
	n_kids = 0;
	return prctl(PR_SET_CHILD_SUBREAPER, 1) ? -1 : 0;
}

/* Whatever is left of our children, killed and reaped even on failure. */
static int teardown(void **st)
{
	for (int i = 0; i < n_kids; i++)
		if (kids[i] > 0)
			kill(kids[i], SIGKILL);
	for (int i = 0; i < n_kids; i++)
		if (kids[i] > 0)
			waitpid(kids[i], NULL, 0);
	return 0;
}

/* A child that waits in pause(); when group, in a new process group with
 * two children of its own, whose pids it reports through the pipe once
 * both exist. */
static pid_t spawn(bool group, pid_t grand[2])
{
	int fds[2];
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		if (group) {
			pid_t g[2];

			setpgid(0, 0);
			for (int i = 0; i < 2; i++) {
				g[i] = fork();
				if (g[i] == 0) {
					for (;;)
						pause();
				}
			}
			if (write(fds[1], g, sizeof(g)) != sizeof(g))
				_exit(1);
		} else {
			if (write(fds[1], "r", 1) != 1)
				_exit(1);
		}
		for (;;)
			pause();
	}
	close(fds[1]);
	kids[n_kids++] = pid;
	if (group) {
		assert_int_equal(read(fds[0], grand, 2 * sizeof(pid_t)), 2 * sizeof(pid_t));
		kids[n_kids++] = grand[0];
		kids[n_kids++] = grand[1];
	} else {
		char c;

		assert_int_equal(read(fds[0], &c, 1), 1);
	}
	close(fds[0]);
	return pid;
}

static void assert_killed(pid_t pid)
{
	int status = 0;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	for (int i = 0; i < n_kids; i++)
		if (kids[i] == pid)
			kids[i] = 0;
}

static void test_kill_one(void **st)
{
	pid_t pid = spawn(false, NULL);

	assert_int_equal(response__kill(pid, false), 0);
	assert_killed(pid);
}

static void test_kill_group(void **st)
{
	pid_t g[2], pid = spawn(true, g);
	unsigned killed = 0;

	assert_int_equal(response__kill_checked(pid, 0, true, &killed), 0);
	assert_int_equal(killed, 3);
	assert_killed(pid);
	/* reparented to us, the subreaper */
	assert_killed(g[0]);
	assert_killed(g[1]);
}

static void test_wrong_start_time_kills_nothing(void **st)
{
	pid_t pid = spawn(false, NULL), pgid = 0;
	uint64_t start = 0;
	unsigned killed = 7;

	assert_int_equal(response__proc_start(pid, &start, &pgid), 0);
	assert_true(start > 0);
	assert_int_equal(pgid, getpgrp());	/* it stayed in our group */
	/* as if the pid had been reused by a later process */
	assert_int_equal(response__kill_checked(pid, start + 1, false, &killed), -ESRCH);
	assert_int_equal(killed, 0);
	assert_int_equal(kill(pid, 0), 0);	/* still alive */
	assert_int_equal(waitpid(pid, NULL, WNOHANG), 0);
	/* the process the event named */
	assert_int_equal(response__kill_checked(pid, start, false, &killed), 0);
	assert_int_equal(killed, 1);
	assert_killed(pid);
}

static void test_refusals(void **st)
{
	pid_t pid = spawn(false, NULL), gone;
	int status;

	assert_int_equal(response__kill(1, false), -EPERM);
	assert_int_equal(response__kill(0, false), -EPERM);
	assert_int_equal(response__kill(-5, false), -EPERM);
	assert_int_equal(response__kill(getpid(), false), -EPERM);
	/* pid is in our process group: the group kill would hit us */
	assert_int_equal(response__kill(pid, true), -EPERM);
	assert_int_equal(kill(pid, 0), 0);
	assert_int_equal(response__kill(pid, false), 0);
	assert_killed(pid);
	/* gone and reaped */
	gone = fork();
	if (gone == 0)
		_exit(0);
	assert_int_equal(waitpid(gone, &status, 0), gone);
	assert_int_equal(response__kill(gone, false), -ESRCH);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_kill_one),
		T(test_kill_group),
		T(test_wrong_start_time_kills_nothing),
		T(test_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
