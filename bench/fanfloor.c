/*
 * fanfloor DIR [REPORT MASK]: the kernel's own cost of the sensor's file hook, with no
 * sensor behind it. One fanotify group with the sensor's flags
 * (src/core/fan_flags.h), one FAN_MARK_FILESYSTEM mark on DIR's
 * filesystem with the sensor's mask, drained every 5 ms like the sensor's
 * tick, the events discarded. What a workload loses to this is what any
 * fanotify-based sensor reporting these events loses, before it does
 * anything with them; bench/run.sh runs it as the mode "fanotify".
 *
 * REPORT and MASK (numbers, 0x... for hex) replace the sensor's group flags
 * and mark mask, to measure what each part costs (bench/README.md).
 *
 * Prints "ready" on stdout once the mark is in place; on SIGTERM/SIGINT
 * prints "events=N overflows=N" and exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/fan_flags.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	static char buf[64 * 1024];
	const struct timespec tick = { 0, 5000000 };
	unsigned long long events = 0, overflows = 0;
	unsigned int report = RW_FAN_REPORT;
	unsigned long long mask = RW_FAN_DIRENT_MASK | RW_FAN_RENAME_MASK | RW_FAN_FILE_MASK;
	struct sigaction sa = { .sa_handler = on_signal };
	int fd;

	if (argc != 2 && argc != 4) {
		fprintf(stderr, "usage: fanfloor DIR [REPORT MASK]\n");
		return 2;
	}
	if (argc == 4) {
		report = (unsigned int)strtoul(argv[2], NULL, 0);
		mask = strtoull(argv[3], NULL, 0);
	}
	fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | report,
			   O_RDONLY | O_CLOEXEC | O_LARGEFILE);
	if (fd < 0 && argc == 2) {	/* before 5.17: the sensor's fallback */
		report = RW_FAN_REPORT_5_9;
		mask = RW_FAN_DIRENT_MASK | RW_FAN_MOVED_MASK | RW_FAN_FILE_MASK;
		fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | report,
				   O_RDONLY | O_CLOEXEC | O_LARGEFILE);
	}
	if (fd < 0) {
		fprintf(stderr, "fanfloor: fanotify_init: %s\n", strerror(errno));
		return 1;
	}
	if (fanotify_mark(fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, mask, AT_FDCWD, argv[1]) < 0) {
		fprintf(stderr, "fanfloor: fanotify_mark %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		ssize_t n;

		while ((n = read(fd, buf, sizeof(buf))) > 0) {
			struct fanotify_event_metadata *m = (struct fanotify_event_metadata *)buf;

			for (; FAN_EVENT_OK(m, n); m = FAN_EVENT_NEXT(m, n)) {
				events++;
				overflows += (m->mask & FAN_Q_OVERFLOW) != 0;
				if (m->fd >= 0)
					close(m->fd);
			}
		}
		nanosleep(&tick, NULL);
	}
	printf("events=%llu overflows=%llu\n", events, overflows);
	return 0;
}
