/*
 * Process lifecycle: exec, fork/clone, exit, on the scheduler's raw
 * tracepoints (no syscall tracepoint: those tax every syscall on the host).
 *
 * exec: the executable's absolute path comes from bprm->file (kernel
 * structures, always resident) and the working directory from task->fs,
 * both by a bounded dentry walk; argv from the new image's stack
 * (mm->arg_start..arg_end), which the kernel has just written and so is
 * paged in.
 */
#include "common.bpf.h"

#define SIGNAL_GROUP_EXIT	0x00000004	/* include/linux/sched/signal.h */

/* Scratch for building paths right to left: components are written ending
 * at RW_PATH_MAX; the second half is slack so that a masked offset plus a
 * masked length can never leave the buffer (what the verifier checks). */
struct rw_scratch {
	char buf[2 * RW_PATH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rw_scratch);
} scratch SEC(".maps");

/* The exec record is built here, then only its used part goes to the ring
 * (bpf_ringbuf_output), so records are sized by their content. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rw_rec_exec);
} exec_rec SEC(".maps");

/* Kernels from before dentry->d_name was renamed __d_name */
struct dentry___old {
	struct qstr d_name;
} __attribute__((preserve_access_index));

static __always_inline void rw_dname(struct dentry *d, const unsigned char **name, __u32 *len)
{
	if (bpf_core_field_exists(struct dentry, __d_name)) {
		*name = BPF_CORE_READ(d, __d_name.name);
		*len = BPF_CORE_READ(d, __d_name.len);
	} else {
		struct dentry___old *o = (void *)d;

		*name = BPF_CORE_READ(o, d_name.name);
		*len = BPF_CORE_READ(o, d_name.len);
	}
}

#define PATH_MASK	(RW_PATH_MAX - 1)
#define NAME_MASK	(RW_NAME_MAX - 1)

struct rw_walk {
	struct dentry *dentry;
	struct mount *mnt;
	__u32 pos;		/* first byte written so far (RW_PATH_MAX: none) */
	__u32 trunc;
	__u32 done;
};

/* One level of the walk: a bpf_loop callback, so the verifier checks it
 * once instead of once per level. Returns 1 to stop. */
static long rw_walk_step(__u32 i, void *arg)
{
	struct rw_walk *w = arg;
	struct dentry *dentry = w->dentry, *mnt_root, *parent;
	struct mount *mnt = w->mnt;
	const unsigned char *name;
	struct rw_scratch *sc;
	__u32 key = 0, len, pos;
	bool last;

	if (!dentry)
		goto done;
	mnt_root = BPF_CORE_READ(mnt, mnt.mnt_root);
	parent = BPF_CORE_READ(dentry, d_parent);
	if (dentry == mnt_root) {
		struct mount *up = BPF_CORE_READ(mnt, mnt_parent);

		if (up == mnt || !up)
			goto done;	/* root of the mount namespace */
		w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = up;
		return 0;
	}
	/* A root that is not its mount's root: a pseudo file (memfd, made by
	 * d_alloc_pseudo) or a disconnected dentry. Its own name is the last
	 * component, as /proc/<pid>/exe shows it ("/memfd:x (deleted)"). */
	last = dentry == parent;
	sc = bpf_map_lookup_elem(&scratch, &key);
	if (!sc)
		goto done;
	rw_dname(dentry, &name, &len);
	if (len > NAME_MASK)
		len = NAME_MASK;
	pos = w->pos;
	if (len + 1 >= pos) {
		w->trunc = 1;	/* would not fit: keep the tail we have */
		goto done;
	}
	pos = (pos - len - 1) & PATH_MASK;
	sc->buf[pos] = '/';
	if (bpf_probe_read_kernel(&sc->buf[(pos + 1) & PATH_MASK], len & NAME_MASK, name)) {
		rw_drop(RW_DROP_READ_FAIL);
		w->trunc = 1;
		goto done;
	}
	w->pos = pos;
	w->dentry = parent;
	if (last)
		goto done;
	return 0;
done:
	w->done = 1;
	return 1;
}

/*
 * Write the absolute path of (dentry, vfsmnt) into the scratch buffer,
 * right-aligned so that it ends just before buf[RW_PATH_MAX]. Takes at most
 * RW_PATH_DEPTH steps (a component, a mount crossing, and the final check
 * that the root is reached, one step each) and stops at the root of the
 * mount namespace. Returns the offset of the first byte
 * (1..RW_PATH_MAX-1); *trunc is set when the path was cut (too deep or too
 * long: the path then holds the deepest components reached).
 */
static __always_inline __u32 rw_path_walk(struct dentry *dentry, struct vfsmount *vfsmnt,
					  char *buf, __u32 *trunc)
{
	struct rw_walk w = {
		.dentry = dentry,
		/* container_of with a relocated offset: struct mount is
		 * internal and its layout changes between kernels */
		.mnt = (struct mount *)((char *)vfsmnt - bpf_core_field_offset(struct mount, mnt)),
		.pos = RW_PATH_MAX,
	};

	if (bpf_loop(RW_PATH_DEPTH, rw_walk_step, &w, 0) < 0)
		rw_drop(RW_DROP_READ_FAIL);
	*trunc = w.trunc || !w.done;
	if (w.pos >= RW_PATH_MAX || w.pos == 0) {
		w.pos = RW_PATH_MAX - 1;	/* the root itself, or nothing usable */
		buf[w.pos] = '/';
	}
	return w.pos;
}

/* Copy the path at buf[pos..RW_PATH_MAX) into dst; returns its length. */
static __always_inline __u16 rw_path_copy(char *dst, const char *buf, __u32 pos)
{
	__u32 len;

	pos &= PATH_MASK;
	len = RW_PATH_MAX - pos;
	if (len > RW_PATH_MAX - 1)
		len = RW_PATH_MAX - 1;
	if (bpf_probe_read_kernel(dst, len, &buf[pos])) {
		rw_drop(RW_DROP_READ_FAIL);
		return 0;
	}
	return (__u16)len;
}

static __always_inline bool rw_is_memfd(struct dentry *d)
{
	const unsigned char *name;
	char pfx[6] = {};
	__u32 len;

	rw_dname(d, &name, &len);
	if (len < sizeof(pfx) || bpf_probe_read_kernel(pfx, sizeof(pfx), name))
		return false;
	return pfx[0] == 'm' && pfx[1] == 'e' && pfx[2] == 'm' && pfx[3] == 'f' &&
	       pfx[4] == 'd' && pfx[5] == ':';
}

/* d_unlinked(): unhashed and not a root */
static __always_inline bool rw_is_unlinked(struct dentry *d)
{
	return BPF_CORE_READ(d, d_hash.pprev) == NULL && BPF_CORE_READ(d, d_parent) != d;
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(sched_process_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct rw_scratch *sc;
	struct rw_rec_exec *r;
	struct tty_struct *tty;
	struct mm_struct *mm;
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	unsigned long astart, aend;
	__u64 n;
	__u32 key = 0, pos, trunc, off;
	__u64 size;

	if (rw_is_self(bpf_get_current_pid_tgid() >> 32))
		return 0;
	sc = bpf_map_lookup_elem(&scratch, &key);
	r = bpf_map_lookup_elem(&exec_rec, &key);
	if (!sc || !r)
		return 0;
	rw_fill_hdr(&r->h, RW_REC_EXEC, sizeof(*r));
	r->old_pid = old_pid;
	r->sid = BPF_CORE_READ(p, signal, pids[PIDTYPE_SID], numbers[0].nr);
	r->tty_major = 0;
	r->tty_minor = 0;
	tty = BPF_CORE_READ(p, signal, tty);
	if (tty) {
		r->tty_major = BPF_CORE_READ(tty, driver, major);
		r->tty_minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);
	}
	r->loginuid = (__u32)-1;
	if (bpf_core_field_exists(p->loginuid))
		r->loginuid = BPF_CORE_READ(p, loginuid.val);
	r->flags = 0;
	r->start_boot_ns = BPF_CORE_READ(p, start_boottime);
	r->argc = BPF_CORE_READ(bprm, argc);

	/* the executable */
	dentry = BPF_CORE_READ(bprm, file, f_path.dentry);
	vfsmnt = BPF_CORE_READ(bprm, file, f_path.mnt);
	r->exe_len = 0;
	if (dentry && vfsmnt) {
		pos = rw_path_walk(dentry, vfsmnt, sc->buf, &trunc);
		r->exe_len = rw_path_copy(r->data, sc->buf, pos);
		if (trunc) {
			r->flags |= RW_EXEC_F_EXE_TRUNC;
			rw_drop(RW_DROP_PATH_TRUNC);
		}
		if (rw_is_memfd(dentry))
			r->flags |= RW_EXEC_F_MEMFD;
		if (rw_is_unlinked(dentry))
			r->flags |= RW_EXEC_F_DELETED;
	} else {
		rw_drop(RW_DROP_READ_FAIL);
	}

	/* the working directory */
	dentry = BPF_CORE_READ(p, fs, pwd.dentry);
	vfsmnt = BPF_CORE_READ(p, fs, pwd.mnt);
	r->cwd_len = 0;
	if (dentry && vfsmnt) {
		pos = rw_path_walk(dentry, vfsmnt, sc->buf, &trunc);
		/* exe_len < RW_PATH_MAX: the mask only tells the verifier so */
		r->cwd_len = rw_path_copy(&r->data[r->exe_len & (RW_PATH_MAX - 1)], sc->buf, pos);
		if (trunc) {
			r->flags |= RW_EXEC_F_CWD_TRUNC;
			rw_drop(RW_DROP_PATH_TRUNC);
		}
	} else {
		rw_drop(RW_DROP_READ_FAIL);
	}

	/* argv, NUL-separated, as the new image's stack holds it */
	mm = BPF_CORE_READ(p, mm);
	astart = BPF_CORE_READ(mm, arg_start);
	aend = BPF_CORE_READ(mm, arg_end);
	n = aend > astart ? aend - astart : 0;
	if (n > RW_ARGS_MAX) {
		n = RW_ARGS_MAX;
		r->flags |= RW_EXEC_F_ARGS_TRUNC;
		rw_drop(RW_DROP_ARGS_TRUNC);
	}
	off = (r->exe_len + r->cwd_len) & (2 * RW_PATH_MAX - 1);
	if (n && bpf_probe_read_user(&r->data[off], n, (const void *)astart)) {
		rw_drop(RW_DROP_READ_FAIL);
		n = 0;
	}
	r->args_len = n;

	size = RW_EXEC_HDR_SIZE + off + n;
	if (size > sizeof(*r))
		size = sizeof(*r);	/* cannot happen; bounds the size for the verifier */
	r->h.size = size;
	if (bpf_ringbuf_output(&events, r, size, rw_wakeup_flags()))
		rw_drop(RW_DROP_RINGBUF_FULL);
	return 0;
}

SEC("raw_tp/sched_process_fork")
int BPF_PROG(sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	struct rw_rec_fork *r;
	__u32 ptgid = BPF_CORE_READ(parent, tgid);

	if (rw_is_self(bpf_get_current_pid_tgid() >> 32))
		return 0;
	r = rw_reserve(sizeof(*r));
	if (!r)
		return 0;
	rw_fill_hdr(&r->h, RW_REC_FORK, sizeof(*r));
	r->child_pid = BPF_CORE_READ(child, tgid);
	r->child_tid = BPF_CORE_READ(child, pid);
	r->is_thread = r->child_pid == ptgid;
	r->_pad = 0;
	rw_submit(r);
	return 0;
}

/* Threads of one process that die together can each find the live count
 * at zero (it drops before the tracepoint fires, and not under a lock we
 * can see): the first to claim the process here reports its exit. Keyed
 * by the signal_struct and tgid, so a reused pointer with a new tgid is a
 * new key; LRU so old claims age out. */
struct exit_key {
	__u64 sig;
	__u32 tgid;
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct exit_key);
	__type(value, __u8);
} exit_claimed SEC(".maps");

SEC("raw_tp/sched_process_exit")
int BPF_PROG(sched_process_exit, struct task_struct *p)
{
	struct signal_struct *sig = BPF_CORE_READ(p, signal);
	struct rw_rec_exit *r;
	int code;

	/* a thread ending while others live is not a process exit; the
	 * group's live count was dropped before this tracepoint fires */
	if (BPF_CORE_READ(sig, live.counter) != 0)
		return 0;
	if (rw_is_self(bpf_get_current_pid_tgid() >> 32))
		return 0;
	{
		struct exit_key k = { .sig = (__u64)sig, .tgid = bpf_get_current_pid_tgid() >> 32 };
		__u8 one = 1;

		long err = bpf_map_update_elem(&exit_claimed, &k, &one, BPF_NOEXIST);

		if (err == -17 /* EEXIST */)
			return 0;	/* another thread of it already reported */
		if (err)
			rw_drop(RW_DROP_MAP_FULL);	/* report it anyway, maybe twice */
	}
	if (BPF_CORE_READ(sig, flags) & SIGNAL_GROUP_EXIT)
		code = BPF_CORE_READ(sig, group_exit_code);
	else
		code = BPF_CORE_READ(p, exit_code);
	r = rw_reserve(sizeof(*r));
	if (!r)
		return 0;
	rw_fill_hdr(&r->h, RW_REC_EXIT, sizeof(*r));
	r->exit_code = code;
	r->_pad = 0;
	rw_submit(r);
	return 0;
}
