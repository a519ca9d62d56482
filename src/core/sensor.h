/*
 * The sensor's run loop and the services it gives to event sources.
 *
 * A source (eBPF ring, fanotify, DNS packet socket, ...) registers its fds
 * with sensor__watch_fd() and, for each kernel event, fills a struct
 * rw_event and hands it to sensor__emit(), which enriches it (process
 * table, host), counts it and writes it. Sources report their hooks with
 * sensor__hook() so the started record and status say what is in force.
 *
 * Errors: 0 or a negative errno.
 */
#ifndef RINGWARD_SENSOR_H
#define RINGWARD_SENSOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/event.h"

struct proc_table;

enum rw_counter {
#define X(id, name) RW_C_##id,
#include "ringward/counters.def"
#undef X
	RW_C__COUNT
};
extern const char *const rw_counter_names[RW_C__COUNT];

struct sensor;

typedef void (*sensor_fd_cb)(struct sensor *s, int fd, uint32_t epoll_events, void *ctx);

/* Call cb whenever fd is readable. */
int sensor__watch_fd(struct sensor *s, int fd, sensor_fd_cb cb, void *ctx);

/* Enrich, count and write one event. The event is the caller's and may be
 * reused after return. Event fields the source set are kept; process,
 * parent, user, container and host fields it lacks are filled in. */
void sensor__emit(struct sensor *s, struct rw_event *ev);

/* A reusable scratch event for sources (one per sensor; sources run on one
 * thread, so one at a time). */
struct rw_event *sensor__scratch(struct sensor *s);

/* Counters: user-space counters bump with sensor__count; sources whose
 * counts live elsewhere (BPF per-CPU maps) overwrite with sensor__count_set
 * before a report. */
void sensor__count(struct sensor *s, enum rw_counter c, uint64_t n);
void sensor__count_set(struct sensor *s, enum rw_counter c, uint64_t v);

/* Report a hook: name like "bpf:sched_process_exec" or "fanotify:/",
 * in_force or not, and why not. */
void sensor__hook(struct sensor *s, const char *name, bool in_force, const char *why);

/* The process table, for sources that update it (exec/fork/exit). */
struct proc_table *sensor__procs(struct sensor *s);

/* Pid of the sensor itself (its own activity is not reported). */
pid_t sensor__self(struct sensor *s);

/* Is this hook group enabled by the operator (--hooks)? group names:
 * process, file, fifo, network, dns, tamper, tamper-syscalls */
bool sensor__group_enabled(struct sensor *s, const char *group);

/* Called by sources periodically (every ~5 ms tick) to drain batched
 * input; registered with sensor__on_tick. */
typedef void (*sensor_tick_cb)(struct sensor *s, void *ctx);
int sensor__on_tick(struct sensor *s, sensor_tick_cb cb, void *ctx);
/* Remove every fd watch and callback registered with ctx. */
void sensor__forget(struct sensor *s, void *ctx);
/* Write a record the core built (an alert of its own): host fields and
 * sequence added; not evaluated by the engine. */
void sensor__write(struct sensor *s, struct rw_event *rec);
/* Called before every metric/stopped report so sources can refresh counters. */
int sensor__on_report(struct sensor *s, sensor_tick_cb cb, void *ctx);

/* Wall-clock ns for a CLOCK_BOOTTIME ns stamp from the kernel. */
uint64_t sensor__boot_to_real(struct sensor *s, uint64_t boot_ns);

#endif
