/*
 * Signals aimed at the sensor's own processes (signal:signal_generate, a
 * raw tracepoint that costs nothing to syscalls). Only targets whose tgid
 * user space put in "protected" are reported, and only signals a process
 * sent: kernel-generated ones (timer expiry, child notifications, faults)
 * are generated in whatever context happens to run, so "current" would
 * name the wrong sender.
 */
#include "common.bpf.h"

#define SI_TIMER	-2	/* include/uapi/asm-generic/siginfo.h */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);	/* tgid */
	__type(value, __u32);	/* unused */
} protected SEC(".maps");

SEC("raw_tp/signal_generate")
int BPF_PROG(signal_generate, int sig, struct kernel_siginfo *info, struct task_struct *t,
	     int group, int result)
{
	struct rw_rec_signal *r;
	__u32 tgid = BPF_CORE_READ(t, tgid);

	if (!bpf_map_lookup_elem(&protected, &tgid))
		return 0;
	if (rw_is_self(bpf_get_current_pid_tgid() >> 32))
		return 0;
	/* SEND_SIG_NOINFO (0) and SEND_SIG_PRIV (1) are not pointers; PRIV
	 * means the kernel sent it */
	if ((unsigned long)info == 1)
		return 0;
	if ((unsigned long)info > 1) {
		int code = BPF_CORE_READ(info, si_code);

		if (code > 0 || code == SI_TIMER)
			return 0;	/* SI_KERNEL, CLD_*, faults; timers */
	}
	r = rw_reserve(sizeof(*r));
	if (!r)
		return 0;
	rw_fill_hdr(&r->h, RW_REC_SIGNAL, sizeof(*r));
	r->target_pid = tgid;
	r->target_tid = BPF_CORE_READ(t, pid);
	r->sig = sig;
	r->result = result;
	rw_submit(r);
	return 0;
}
