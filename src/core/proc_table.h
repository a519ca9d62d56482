/*
 * The process table: what the sensor knows about every live process, so
 * that each event can carry its process and parent. Built from a /proc scan
 * at start (processes older than the sensor have ancestry) and kept by the
 * exec/fork/exit events.
 *
 * Bounded: at most max_entries processes; when full, exited processes go
 * first, then the least recently used (counted as evictions). An exited
 * process is kept for a grace period so that late events (fanotify is
 * asynchronous) still find it.
 *
 * Errors: 0 or -errno; constructors return NULL and set errno.
 */
#ifndef RINGWARD_PROC_TABLE_H
#define RINGWARD_PROC_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/event.h"

struct proc_table;

/* entries: processes tracked now; evictions: entries dropped to stay in
 * bounds (not counting expiry after exit); misses: lookups of a pid not in
 * the table; proc_reads: /proc/<pid> directories read (the start scan and
 * one per miss); bytes: memory held by entries and their strings. */
struct proc_table_stats {
	uint64_t entries, evictions, misses, proc_reads;
	uint64_t bytes;
};

/* max_entries: hard cap on processes tracked. */
struct proc_table *proc_table__new(size_t max_entries);
void proc_table__free(struct proc_table *pt);

/* Scan /proc (or another procfs root, for tests) and add every process. */
int proc_table__scan(struct proc_table *pt, const char *proc_root);

/* Updates from events. ev is an exec event whose process.* fields
 * (pid, executable, args, command_line, working_directory, user ids,
 * parent pid, start, cgroup) were set by the source. */
void proc_table__exec(struct proc_table *pt, const struct rw_event *ev);
void proc_table__fork(struct proc_table *pt, pid_t parent, pid_t child, uint64_t ts_ns);
void proc_table__exit(struct proc_table *pt, pid_t pid, uint64_t ts_ns);

/* Fill the fields ev lacks from the table, for process.pid (and its
 * parent): process.{name,executable,args,args_count,command_line,
 * working_directory,start,user.id,user.name,...}, process.parent.*,
 * user.id, user.name, container.id, ringward.cgroup.*. A pid the table does
 * not know is read from /proc once (counted as a miss); one that cannot be
 * read is remembered as unknown for the grace period, so a burst of late
 * events from a vanished process costs one read. process.parent.pid comes
 * from the table when the event has none. Work: two hash lookups, the
 * copies into the event's arena, at most two /proc reads. */
void proc_table__enrich(struct proc_table *pt, struct rw_event *ev);

/* Fill ringward.target.process.{name,executable} for ringward.target.process.pid. */
void proc_table__enrich_target(struct proc_table *pt, struct rw_event *ev);

/* Expire exited entries older than the grace period; called every second. */
void proc_table__expire(struct proc_table *pt, uint64_t now_ns);

void proc_table__stats(const struct proc_table *pt, struct proc_table_stats *st);

/* uid -> user name ("" when unknown); cached, /etc/passwd via getpwuid_r.
 * The string is owned by the table and valid until the next call. */
const char *proc_table__user_name(struct proc_table *pt, uint32_t uid);

/* Wall-clock ns of boot, used to turn /proc start times (clock ticks since
 * boot) into process.start. Default: CLOCK_REALTIME - CLOCK_BOOTTIME at
 * proc_table__new, the base the sensor uses for kernel timestamps. */
void proc_table__set_boot_time(struct proc_table *pt, int64_t boot_real_ns);

/* Bytes the table may hold (entries and their strings; default 12 MiB),
 * a bound besides max_entries; shrinking evicts at once. Each string is
 * also bounded: exe/cwd RW_PATH_MAX, args RW_ARGS_MAX, cgroup path 1 KiB. */
void proc_table__set_byte_budget(struct proc_table *pt, size_t bytes);

/* Is pid in the table (alive or exited)? Not a use: LRU order unchanged,
 * never reads /proc. For tests and diagnostics. */
bool proc_table__known(const struct proc_table *pt, pid_t pid);

#endif
