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

#include <stdint.h>
#include <sys/types.h>

#include "common/event.h"

struct proc_table;

struct proc_table_stats {
	uint64_t entries, evictions, misses, proc_reads;
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
 * not know is read from /proc once (counted as a miss). */
void proc_table__enrich(struct proc_table *pt, struct rw_event *ev);

/* Fill ringward.target.process.{name,executable} for ringward.target.process.pid. */
void proc_table__enrich_target(struct proc_table *pt, struct rw_event *ev);

/* Expire exited entries older than the grace period; called every second. */
void proc_table__expire(struct proc_table *pt, uint64_t now_ns);

void proc_table__stats(const struct proc_table *pt, struct proc_table_stats *st);

/* uid -> user name ("" when unknown); cached, /etc/passwd via getpwuid_r. */
const char *proc_table__user_name(struct proc_table *pt, uint32_t uid);

#endif
