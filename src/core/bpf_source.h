/*
 * The eBPF source: process exec/fork/exit, TCP connect/accept, signals to
 * the sensor, and (opt-in, group "tamper-syscalls") ptrace/bpf/memfd/set*id
 * syscalls, from the programs in bpf/, through one ring buffer.
 *
 * Every program is a hook that degrades on its own: at start each object is
 * loaded whole; when the kernel refuses it, each hook is loaded alone to
 * find which ones it refuses, and the rest are loaded and attached. Each
 * hook is reported with sensor__hook() ("bpf:sched_process_exec", ...).
 * Hooks of a group the operator disabled are not loaded at all.
 *
 * The ring is drained on the sensor's 5 ms tick (the kernel side submits
 * without waking us unless the ring is more than half full). Every record
 * is validated (type and size) before use; a bad one is counted in
 * drops.user.ring_malformed. Kernel-side losses are per-CPU counters,
 * copied into the sensor's counters before every report.
 *
 * Loads of BPF programs by others are found by enumerating program ids
 * every second (group "tamper"): a new id that is not ours becomes a
 * "bpf-load" event. Programs present at start are the baseline.
 *
 * Errors: 0 or a negative errno. bpf_source__start returns NULL (errno
 * set) only when nothing at all could be set up; a partial set of hooks is
 * a success, reported hook by hook.
 */
#ifndef RINGWARD_BPF_SOURCE_H
#define RINGWARD_BPF_SOURCE_H

#include <sys/types.h>

struct sensor;
struct bpf_source;

/* Load, attach and register with the sensor's loop. Owned by the caller;
 * release with bpf_source__stop(). */
struct bpf_source *bpf_source__start(struct sensor *s);

/* Detach every hook, drain what the ring still holds, free. NULL-safe. */
void bpf_source__stop(struct bpf_source *b);

/* Report signals generated for process pid (tgid). -ENOENT when the
 * signal hook is not loaded, -ENOSPC when the map is full. */
int bpf_source__protect_pid(struct bpf_source *b, pid_t pid);
/* Stop reporting them (the process is gone). */
int bpf_source__unprotect_pid(struct bpf_source *b, pid_t pid);

#endif
