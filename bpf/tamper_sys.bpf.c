/*
 * Hook group "tamper-syscalls": ptrace attach, bpf(BPF_PROG_LOAD),
 * memfd_create and the set*id family, on syscall tracepoints.
 *
 * Opt-in: attaching any syscall tracepoint puts every syscall of every
 * process on the slow path (about 5-10% on syscall-heavy work), even though
 * these programs only run for their own syscall.
 *
 * Calls whose result matters are reported at sys_exit; their arguments are
 * kept from sys_enter in a per-thread map. User memory (the bpf attr, the
 * memfd name) is read at sys_exit, after the kernel itself has copied it,
 * so it is paged in.
 */
#include "common.bpf.h"

#define PTRACE_ATTACH	16
#define PTRACE_SEIZE	0x4206

/* Layout of syscalls:sys_enter_* / sys_exit_* (see their format files):
 * every argument widened to 8 bytes. */
struct rw_sys_enter {
	__u64 common;
	__s32 nr;
	__u32 _pad;
	__u64 args[6];
};

struct rw_sys_exit {
	__u64 common;
	__s32 nr;
	__u32 _pad;
	__s64 ret;
};

enum { PEND_BPF = 1, PEND_MEMFD, PEND_SETID };

struct rw_pending {
	__u32 kind;
	__s32 nr;
	__u64 a[3];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);	/* tid */
	__type(value, struct rw_pending);
} pending SEC(".maps");

static __always_inline bool rw_skip_self(void)
{
	return rw_is_self(bpf_get_current_pid_tgid() >> 32);
}

static __always_inline void rw_pend(__u32 kind, __s32 nr, __u64 a0, __u64 a1, __u64 a2)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct rw_pending p = { .kind = kind, .nr = nr, .a = { a0, a1, a2 } };

	if (bpf_map_update_elem(&pending, &tid, &p, BPF_ANY))
		rw_drop(RW_DROP_MAP_FULL);
}

/* Take this thread's pending arguments if they are of this kind. */
static __always_inline bool rw_unpend(__u32 kind, struct rw_pending *out)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct rw_pending *p = bpf_map_lookup_elem(&pending, &tid);

	if (!p)
		return false;
	*out = *p;
	bpf_map_delete_elem(&pending, &tid);
	return out->kind == kind;
}

SEC("tp/syscalls/sys_enter_ptrace")
int sys_enter_ptrace(struct rw_sys_enter *ctx)
{
	struct rw_rec_ptrace *r;
	__s64 req = ctx->args[0];

	if (req != PTRACE_ATTACH && req != PTRACE_SEIZE)
		return 0;
	if (rw_skip_self())
		return 0;
	r = rw_reserve(sizeof(*r));
	if (!r)
		return 0;
	rw_fill_hdr(&r->h, RW_REC_PTRACE, sizeof(*r));
	r->request = req;
	r->target_pid = (__u32)ctx->args[1];
	r->_pad = 0;
	rw_submit(r);
	return 0;
}

SEC("tp/syscalls/sys_enter_bpf")
int sys_enter_bpf(struct rw_sys_enter *ctx)
{
	if ((int)ctx->args[0] != BPF_PROG_LOAD || rw_skip_self())
		return 0;
	rw_pend(PEND_BPF, ctx->nr, ctx->args[0], ctx->args[1], ctx->args[2]);
	return 0;
}

SEC("tp/syscalls/sys_exit_bpf")
int sys_exit_bpf(struct rw_sys_exit *ctx)
{
	const __u64 name_off = __builtin_offsetof(union bpf_attr, prog_name);
	struct rw_rec_bpf *r;
	struct rw_pending p;
	const char *uattr;

	if (!rw_unpend(PEND_BPF, &p))
		return 0;
	uattr = (const char *)p.a[1];
	r = rw_reserve(sizeof(*r));
	if (!r)
		return 0;
	rw_fill_hdr(&r->h, RW_REC_BPF, sizeof(*r));
	r->cmd = (__s32)p.a[0];
	r->result = (__s32)ctx->ret;
	r->_pad = 0;
	if (bpf_probe_read_user(&r->prog_type, sizeof(r->prog_type), uattr)) {
		rw_drop(RW_DROP_READ_FAIL);
		r->prog_type = 0;
	}
	__builtin_memset(r->prog_name, 0, sizeof(r->prog_name));
	/* a caller built against an older attr may not pass a name */
	if (p.a[2] >= name_off + sizeof(r->prog_name) &&
	    bpf_probe_read_user(r->prog_name, sizeof(r->prog_name), uattr + name_off)) {
		rw_drop(RW_DROP_READ_FAIL);
		__builtin_memset(r->prog_name, 0, sizeof(r->prog_name));
	}
	rw_submit(r);
	return 0;
}

SEC("tp/syscalls/sys_enter_memfd_create")
int sys_enter_memfd_create(struct rw_sys_enter *ctx)
{
	if (rw_skip_self())
		return 0;
	rw_pend(PEND_MEMFD, ctx->nr, ctx->args[0], ctx->args[1], 0);
	return 0;
}

SEC("tp/syscalls/sys_exit_memfd_create")
int sys_exit_memfd_create(struct rw_sys_exit *ctx)
{
	struct rw_rec_memfd *r;
	struct rw_pending p;
	long n;

	if (!rw_unpend(PEND_MEMFD, &p) || ctx->ret < 0)
		return 0;
	r = rw_reserve(sizeof(*r));
	if (!r)
		return 0;
	rw_fill_hdr(&r->h, RW_REC_MEMFD, sizeof(*r));
	r->flags = (__u32)p.a[1];
	n = bpf_probe_read_user_str(r->name, sizeof(r->name), (const void *)p.a[0]);
	if (n <= 0) {
		rw_drop(RW_DROP_READ_FAIL);
		n = 1;
	}
	r->name_len = n - 1;	/* without the NUL */
	rw_submit(r);
	return 0;
}

/* set*id: uid_t/gid_t arguments, where (id_t)-1 means "unchanged". Only
 * the arguments the call has are read: the kernel refuses to attach a
 * program that reads past the end of a tracepoint's record (EACCES). */
static __always_inline __s64 rw_id_arg(struct rw_sys_enter *ctx, int i, int nargs)
{
	if (i >= nargs)
		return -1;
	return (__s64)(__s32)ctx->args[i];
}

static __always_inline int rw_setid_enter(struct rw_sys_enter *ctx, int nargs)
{
	if (rw_skip_self())
		return 0;
	rw_pend(PEND_SETID, ctx->nr, rw_id_arg(ctx, 0, nargs), rw_id_arg(ctx, 1, nargs),
		rw_id_arg(ctx, 2, nargs));
	return 0;
}

static __always_inline int rw_setid_exit(struct rw_sys_exit *ctx)
{
	struct rw_rec_setid *r;
	struct rw_pending p;

	if (!rw_unpend(PEND_SETID, &p))
		return 0;
	r = rw_reserve(sizeof(*r));
	if (!r)
		return 0;
	rw_fill_hdr(&r->h, RW_REC_SETID, sizeof(*r));
	r->syscall_nr = p.nr;
	r->result = (__s32)ctx->ret;
	r->a0 = (__s64)p.a[0];
	r->a1 = (__s64)p.a[1];
	r->a2 = (__s64)p.a[2];
	r->via = RW_SETID_SYSCALL;
	r->pad = 0;
	rw_submit(r);
	return 0;
}

#define RW_SETID(name, nargs)							\
	SEC("tp/syscalls/sys_enter_" #name)					\
	int sys_enter_##name(struct rw_sys_enter *ctx) { return rw_setid_enter(ctx, nargs); } \
	SEC("tp/syscalls/sys_exit_" #name)					\
	int sys_exit_##name(struct rw_sys_exit *ctx) { return rw_setid_exit(ctx); }

RW_SETID(setuid, 1)
RW_SETID(setgid, 1)
RW_SETID(setreuid, 2)
RW_SETID(setregid, 2)
RW_SETID(setresuid, 3)
RW_SETID(setresgid, 3)
RW_SETID(setfsuid, 1)
RW_SETID(setfsgid, 1)
