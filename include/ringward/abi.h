/*
 * The kernel/user ABI: the fixed-layout records the eBPF programs write into
 * the ring buffer, and the maps user space reads. Included by bpf/ (with
 * vmlinux.h types) and by src/ (with <linux/types.h>).
 *
 * Rules for this file:
 *  - fixed layout only: no pointers, explicit sizes, naturally aligned;
 *  - every record starts with struct rw_rec_hdr; hdr.type says which;
 *  - variable-size data (paths, argv) is bounded by the constants below and
 *    its true length is carried, so user space never trusts a NUL;
 *  - bump RW_ABI_VERSION on any change.
 */
#ifndef RINGWARD_ABI_H
#define RINGWARD_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define RW_ABI_VERSION 2

#define RW_PATH_MAX	4096	/* bytes of a path copied from the kernel */
#define RW_ARGS_MAX	4096	/* bytes of argv copied (NUL-separated) */
#define RW_COMM_LEN	16
#define RW_NAME_MAX	256	/* one path component / memfd name */
#define RW_PATH_DEPTH	48	/* dentry levels walked for a path */

enum rw_rec_type {
	RW_REC_EXEC = 1,
	RW_REC_FORK,
	RW_REC_EXIT,
	RW_REC_CONNECT,		/* TCP active open finished (established or failed) */
	RW_REC_ACCEPT,		/* TCP passive open established */
	RW_REC_LISTEN,		/* a socket entered LISTEN (process context) */
	RW_REC_SIGNAL,		/* a signal generated for a protected process */
	RW_REC_PTRACE,
	RW_REC_BPF,		/* bpf(BPF_PROG_LOAD) by another process */
	RW_REC_MEMFD,		/* memfd_create */
	RW_REC_SETID,		/* setuid/setgid family */
	RW_REC__MAX,
};

/* Where events are lost, per cause; indexes of the "drops" per-CPU array. */
enum rw_drop_cause {
	RW_DROP_RINGBUF_FULL = 0,	/* bpf_ringbuf_reserve failed */
	RW_DROP_MAP_FULL,		/* a tracking map had no room */
	RW_DROP_READ_FAIL,		/* a kernel/user read failed: event sent, field empty */
	RW_DROP_PATH_TRUNC,		/* a path deeper than RW_PATH_DEPTH: sent truncated */
	RW_DROP_ARGS_TRUNC,		/* argv longer than RW_ARGS_MAX: sent truncated */
	RW_DROP__MAX,
};

struct rw_rec_hdr {
	__u32 type;		/* enum rw_rec_type */
	__u32 size;		/* bytes of the whole record */
	__u64 ts_ns;		/* bpf_ktime_get_boot_ns() */
	__u32 pid;		/* tgid of the current task */
	__u32 tid;		/* pid (thread id) of the current task */
	__u32 ppid;		/* tgid of the real parent */
	__u32 uid, euid, gid, egid;
	__u32 _pad;
	__u64 cgroup_id;
	char comm[RW_COMM_LEN];
};

struct rw_rec_exec {
	struct rw_rec_hdr h;
	__u32 old_pid;		/* tid before exec (a non-leader thread exec'd) */
	__u32 sid;		/* session id (tgid of the session leader) */
	__u32 tty_major, tty_minor;	/* 0/0 when no controlling tty */
	__u32 loginuid;		/* audit login uid, (u32)-1 when unset */
	__u32 flags;		/* RW_EXEC_F_* */
	__u64 start_boot_ns;	/* task start (boot clock) */
	__u16 exe_len;		/* bytes of the executable's absolute path */
	__u16 cwd_len;		/* bytes of the absolute working directory */
	__u16 args_len;		/* bytes of argv (NUL-separated, may be cut) */
	__u16 argc;		/* number of argv strings the process has */
	/* Packed, no NULs added: exe, then cwd, then args. Only the used part
	 * is sent: h.size == offsetof(data) + exe_len + cwd_len + args_len,
	 * so a typical exec costs a few hundred bytes of ring, not 12 KiB. */
	char data[2 * RW_PATH_MAX + RW_ARGS_MAX];
};
#define RW_EXEC_HDR_SIZE __builtin_offsetof(struct rw_rec_exec, data)
#define RW_EXEC_F_MEMFD		0x1	/* executed file is a memfd (fileless) */
#define RW_EXEC_F_DELETED	0x2	/* executed file was unlinked */
#define RW_EXEC_F_ARGS_TRUNC	0x4
#define RW_EXEC_F_EXE_TRUNC	0x8
#define RW_EXEC_F_CWD_TRUNC	0x10

struct rw_rec_fork {
	struct rw_rec_hdr h;	/* the parent (current) */
	__u32 child_pid;	/* child tgid */
	__u32 child_tid;
	__u32 is_thread;	/* CLONE_THREAD: child shares the parent's tgid */
	__u32 _pad;
};

struct rw_rec_exit {
	struct rw_rec_hdr h;
	__s32 exit_code;	/* wait(2) status: (code << 8) | signal */
	__u32 _pad;
};

/* TCP endpoints; addresses in network byte order, IPv4 in the first 4
 * bytes. Ports in host byte order. */
struct rw_rec_sock {
	struct rw_rec_hdr h;	/* CONNECT: the process that called connect();
				 * ACCEPT: softirq context, user space finds the
				 * listener; LISTEN: the process calling listen() */
	__u16 family;		/* AF_INET / AF_INET6 */
	__u16 sport, dport;
	__u16 _pad;
	__s32 newstate;		/* TCP state the socket moved to */
	__u32 _pad2;
	__u8 saddr[16];
	__u8 daddr[16];
};

struct rw_rec_signal {
	struct rw_rec_hdr h;	/* the sender */
	__u32 target_pid;	/* tgid of the receiver */
	__u32 target_tid;
	__s32 sig;
	__s32 result;		/* TRACE_SIGNAL_* */
};

struct rw_rec_ptrace {
	struct rw_rec_hdr h;
	__s64 request;
	__u32 target_pid;
	__u32 _pad;
};

struct rw_rec_bpf {
	struct rw_rec_hdr h;
	__s32 cmd;
	__s32 result;		/* prog fd or -errno */
	__u32 prog_type;
	__u32 _pad;
	char prog_name[RW_COMM_LEN];
};

struct rw_rec_memfd {
	struct rw_rec_hdr h;
	__u32 flags;
	__u32 name_len;
	char name[RW_NAME_MAX];
};

struct rw_rec_setid {
	struct rw_rec_hdr h;
	__s32 syscall_nr;	/* which of the set*id calls */
	__s32 result;		/* RW_SETID_SYSCALL: the call's; _CAP: the capability check's */
	__s64 a0, a1, a2;	/* its uid/gid arguments, -1 = unchanged */
	__u32 via;		/* RW_SETID_* */
	__u32 pad;
};

enum {
	RW_SETID_SYSCALL = 0,	/* syscall tracepoints (tamper-syscalls): every call */
	RW_SETID_CAP = 1,	/* the CAP_SETUID/CAP_SETGID check inside the call */
};

/* Load-time knobs (const volatile in the BPF object). */
struct rw_bpf_config {
	__u32 self_tgid;	/* the sensor: its own activity is not reported */
	__u32 setid_by_syscalls;	/* set*id come from tamper-syscalls: the
					 * capability hook stays quiet */
};

#endif
