/*
 * Nanoseconds of a clock (CLOCK_MONOTONIC, CLOCK_REALTIME, ...) as one
 * unsigned 64-bit count: the project's one clock helper.
 */
#ifndef RINGWARD_CLOCK_H
#define RINGWARD_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t rw_clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

#endif
