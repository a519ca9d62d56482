/*
 * Responses on processes: kill, by pidfd, so that a pid reused by another
 * process between the decision and the signal is never signalled.
 *
 * A pid alone names whatever process holds that number now. The process
 * a rule matched is named by its pid AND its start time (field 22 of
 * /proc/<pid>/stat, clock ticks after boot, as the process table keeps
 * it): the kill opens a pidfd on the pid, reads the start time, checks
 * through the pidfd that the process is still alive (so what was read was
 * that process), compares, and only then signals through the same pidfd.
 *
 * Never killed: pid 1, the sensor itself (this process), and, for a
 * group kill, a group the sensor belongs to (-EPERM).
 *
 * Errors: 0 or -errno.
 */
#ifndef RINGWARD_RESPONSE_H
#define RINGWARD_RESPONSE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* SIGKILL pid, and with group every process of its process group. The
 * pid is taken as it is now (no start time check). -ESRCH: no such
 * process. */
int response__kill(pid_t pid, bool group);

/*
 * The same for the process pid that started at start_ticks (0: do not
 * check): -ESRCH when pid is gone or now another process. *killed (may
 * be NULL) gets the number of processes signalled.
 */
int response__kill_checked(pid_t pid, uint64_t start_ticks, bool group, unsigned *killed);

/* The start time of pid (field 22 of /proc/<pid>/stat) and its process
 * group, read through /proc: 0 or -errno. */
int response__proc_start(pid_t pid, uint64_t *start_ticks, pid_t *pgid);

#endif
