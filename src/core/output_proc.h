/*
 * The output writer: a process with no privileges that copies the records
 * the core has formatted from a pipe to the destination (stdout or
 * --output FILE). The core keeps its capabilities for the kernel hooks; what
 * touches the output does not: the writer drops to uid/gid 65534, sets
 * no_new_privs and enters seccomp strict mode (read, write and exit only)
 * before it reads a byte.
 *
 * If it dies, the core's write fails (EPIPE; SIGPIPE is ignored), the
 * records in that write are counted as lost, and a new writer is started
 * on the same destination.
 *
 * Errors: 0 or -errno.
 */
#ifndef RINGWARD_OUTPUT_PROC_H
#define RINGWARD_OUTPUT_PROC_H

#include <stdint.h>
#include <sys/types.h>

struct output_proc {
	int dest_fd;	/* the destination, kept by the core to restart the writer */
	int pipe_w;	/* the core writes records here (-1 when none) */
	pid_t pid;	/* the writer (0 when none) */
	uint64_t starts;
};

/* Start a writer on dest_fd (which stays open in the core). Signals the
 * core blocks stay blocked in the writer, so a terminal's Ctrl-C does not
 * cut the output short: it ends when the core closes the pipe. */
int output_proc__start(struct output_proc *o, int dest_fd);
/* Reap a dead writer and start another (after a failed write). */
int output_proc__restart(struct output_proc *o);
/* Close the pipe and wait (at most max_ms) for the writer to finish
 * writing what it holds; then it is killed. */
void output_proc__stop(struct output_proc *o, unsigned max_ms);

#endif
