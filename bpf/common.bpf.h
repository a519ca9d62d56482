/*
 * Shared by every ringward BPF object: the ring, the drop counters, the
 * load-time configuration and the record header.
 *
 * Each object (process, net, tamper, tamper_sys) declares the same "events"
 * ring and "drops" array; user space creates both once and hands the same
 * fds to every object (bpf_map__reuse_fd) before load, so all programs write
 * into one ring and one set of counters, and each object can still be loaded
 * (and refused) on its own.
 *
 * Rules for code here: copy fixed-layout data only, parse nothing, check
 * every helper's result, and on failure count the cause in "drops" and
 * return 0. Never make the host wait.
 */
#ifndef RINGWARD_COMMON_BPF_H
#define RINGWARD_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "ringward/abi.h"

/* The real size is chosen by user space, which creates the map. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RW_DROP__MAX);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

/* Set by user space before load. */
const volatile struct rw_bpf_config rw_cfg = {};
/* Ring fill level (bytes) above which a submit wakes the reader; below it
 * the reader drains on its 5 ms tick and no record pays for a wakeup. */
const volatile __u64 rw_wakeup_bytes = 8 << 20;

char LICENSE[] SEC("license") = "GPL";

static __always_inline void rw_drop(enum rw_drop_cause cause)
{
	__u32 key = cause;
	__u64 *n = bpf_map_lookup_elem(&drops, &key);

	/* atomic: a softirq program may interrupt one on the same CPU */
	if (n)
		__sync_fetch_and_add(n, 1);
}

/* Reserve a record in the ring, or count the loss and return NULL. */
static __always_inline void *rw_reserve(__u64 size)
{
	void *rec = bpf_ringbuf_reserve(&events, size, 0);

	if (!rec)
		rw_drop(RW_DROP_RINGBUF_FULL);
	return rec;
}

/* No wakeup per record: the reader drains on its tick, unless the ring is
 * filling up. */
static __always_inline __u64 rw_wakeup_flags(void)
{
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > rw_wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

static __always_inline void rw_submit(void *rec)
{
	bpf_ringbuf_submit(rec, rw_wakeup_flags());
}

static __always_inline bool rw_is_self(__u32 tgid)
{
	return rw_cfg.self_tgid && tgid == rw_cfg.self_tgid;
}

/* Header for a record about the current task. */
static __always_inline void rw_fill_hdr(struct rw_rec_hdr *h, __u32 type, __u32 size)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	const struct cred *cred = BPF_CORE_READ(t, real_cred);
	__u64 id = bpf_get_current_pid_tgid();

	h->type = type;
	h->size = size;
	h->ts_ns = bpf_ktime_get_boot_ns();
	h->pid = id >> 32;
	h->tid = (__u32)id;
	h->ppid = BPF_CORE_READ(t, real_parent, tgid);
	h->uid = BPF_CORE_READ(cred, uid.val);
	h->euid = BPF_CORE_READ(cred, euid.val);
	h->gid = BPF_CORE_READ(cred, gid.val);
	h->egid = BPF_CORE_READ(cred, egid.val);
	h->_pad = 0;
	h->cgroup_id = bpf_get_current_cgroup_id();
	if (bpf_get_current_comm(h->comm, sizeof(h->comm)))
		h->comm[0] = 0;
}

/* Header for a record with no process behind it (softirq context). */
static __always_inline void rw_fill_hdr_noproc(struct rw_rec_hdr *h, __u32 type, __u32 size)
{
	__builtin_memset(h, 0, sizeof(*h));
	h->type = type;
	h->size = size;
	h->ts_ns = bpf_ktime_get_boot_ns();
}

#endif
