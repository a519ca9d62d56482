#include "core/output_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <grp.h>

#define WRITER_UID	65534	/* nobody: owns nothing the writer could touch */
#define PIPE_BYTES	(1 << 20)

/* The writer: stdin is the pipe, stdout the destination. After seccomp
 * strict mode only read(), write() and exit() exist, so this calls the
 * kernel directly: libc wrappers (and a sanitizer's interceptors of them)
 * may make other syscalls, which strict mode answers with SIGKILL. */
/* Not marked noreturn: sanitizers instrument calls to noreturn functions
 * with a stack check that makes a syscall (sigaltstack). */
static void writer_main(void)
{
	static char buf[PIPE_BYTES];	/* a whole pipe per read: fewest syscalls */

	for (;;) {
		ssize_t n = syscall(SYS_read, 0, buf, sizeof(buf)), off = 0;

		if (n <= 0)
			break;	/* EOF: the core closed the pipe */
		while (off < n) {
			ssize_t w = syscall(SYS_write, 1, buf + off, (size_t)(n - off));

			if (w <= 0)
				break;	/* the destination failed: drop this chunk */
			off += w;
		}
	}
	syscall(SYS_exit, 0);	/* exit_group is not allowed in strict mode */
	for (;;)
		;
}

static void writer_child(int pipe_r, int dest_fd)
{
	sigset_t all;

	/* stdin = the pipe, stdout = the destination, stderr kept; nothing
	 * else of the core's (BPF, fanotify, sockets) stays open */
	if (dup2(pipe_r, 0) < 0 || dup2(dest_fd, 1) < 0)
		_exit(1);
	if (syscall(SYS_close_range, 3, ~0U, 0) < 0)
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	if (setgroups(0, NULL) < 0 || setresgid(WRITER_UID, WRITER_UID, WRITER_UID) < 0 ||
	    setresuid(WRITER_UID, WRITER_UID, WRITER_UID) < 0)
		_exit(1);	/* root's capabilities go with the uid change */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		_exit(1);
	/* straight to the kernel, like everything after it */
	if (syscall(SYS_prctl, PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0) < 0)
		_exit(1);
	writer_main();
}

int output_proc__start(struct output_proc *o, int dest_fd)
{
	int p[2];
	pid_t pid;

	o->dest_fd = dest_fd;
	o->pipe_w = -1;
	o->pid = 0;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	fcntl(p[1], F_SETPIPE_SZ, PIPE_BYTES);	/* best effort */
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(p[0]);
		close(p[1]);
		return err;
	}
	if (pid == 0) {
		close(p[1]);
		writer_child(p[0], dest_fd);
	}
	close(p[0]);
	o->pipe_w = p[1];
	o->pid = pid;
	o->starts++;
	return 0;
}

static void reap(struct output_proc *o, unsigned max_ms)
{
	struct timespec ts = { 0, 2000000 };

	for (unsigned waited = 0; o->pid > 0; waited += 2) {
		if (waitpid(o->pid, NULL, WNOHANG) == o->pid)
			break;
		if (waited >= max_ms) {
			kill(o->pid, SIGKILL);
			waitpid(o->pid, NULL, 0);
			break;
		}
		nanosleep(&ts, NULL);
	}
	o->pid = 0;
}

int output_proc__restart(struct output_proc *o)
{
	if (o->pipe_w >= 0)
		close(o->pipe_w);
	o->pipe_w = -1;
	reap(o, 100);
	return output_proc__start(o, o->dest_fd);
}

void output_proc__stop(struct output_proc *o, unsigned max_ms)
{
	if (o->pipe_w >= 0)
		close(o->pipe_w);
	o->pipe_w = -1;
	reap(o, max_ms);
}
