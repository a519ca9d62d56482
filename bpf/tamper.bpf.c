/*
 * Two hooks that cost syscalls nothing (raw tracepoints outside the
 * syscall path):
 *
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

/*
 * set*id by a process that needs CAP_SETUID/CAP_SETGID for it (a root
 * process changing identity, or an unprivileged one trying to become
 * another user): capability:cap_capable fires inside the call, and the
 * syscall it is in and its arguments are read from the task's saved
 * registers. Calls that need no capability (back to one's own real or
 * saved id) pass unseen; tamper-syscalls sees every call. The result is
 * the capability check's: the change follows when it is 0.
 */
#define RW_CAP_SETGID	6	/* include/uapi/linux/capability.h */
#define RW_CAP_SETUID	7
#define RW_TS_COMPAT	0x0002	/* arch/x86/include/asm/thread_info.h */

static __always_inline bool rw_is_setid_nr(long nr)
{
	/* x86_64 numbers (the sensor's target): setuid 105, setgid 106,
	 * setreuid 113, setregid 114, setresuid 117, setresgid 119,
	 * setfsuid 122, setfsgid 123 */
	return nr == 105 || nr == 106 || nr == 113 || nr == 114 || nr == 117 || nr == 119 ||
	       nr == 122 || nr == 123;
}

SEC("raw_tp/cap_capable")
int BPF_PROG(cap_capable, const struct cred *cred, struct user_namespace *target_ns,
	     const struct user_namespace *capable_ns, int cap, int ret)
{
	struct rw_rec_setid *r;
	struct task_struct *task;
	struct pt_regs *regs;
	long nr;

	if (cap != RW_CAP_SETUID && cap != RW_CAP_SETGID)
		return 0;
	if (rw_cfg.setid_by_syscalls || rw_is_self(bpf_get_current_pid_tgid() >> 32))
		return 0;
#ifdef __TARGET_ARCH_x86	/* the numbers and registers below are x86_64's */
	task = bpf_get_current_task_btf();
	/* a 32-bit process numbers its syscalls otherwise: not ours to read */
	if (BPF_CORE_READ(task, thread_info.status) & RW_TS_COMPAT)
		return 0;
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	nr = BPF_CORE_READ(regs, orig_ax);
	if (!rw_is_setid_nr(nr))
		return 0;
	r = rw_reserve(sizeof(*r));
	if (!r)
		return 0;
	rw_fill_hdr(&r->h, RW_REC_SETID, sizeof(*r));
	r->syscall_nr = (__s32)nr;
	r->result = ret;
	/* uid_t/gid_t arguments; those a call does not have read as -1 */
	r->a0 = (__s64)(__s32)BPF_CORE_READ(regs, di);
	r->a1 = nr == 105 || nr == 106 || nr == 122 || nr == 123 ? -1 :
		(__s64)(__s32)BPF_CORE_READ(regs, si);
	r->a2 = nr == 117 || nr == 119 ? (__s64)(__s32)BPF_CORE_READ(regs, dx) : -1;
	r->via = RW_SETID_CAP;
	r->pad = 0;
	rw_submit(r);
#endif
	return 0;
}
