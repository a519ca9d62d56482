/*
 * The engine's sandbox (see sandbox.h). Order matters: limits and
 * securebits while we still hold the capabilities they need, then
 * no_new_privs (landlock and seccomp need it without CAP_SYS_ADMIN), then
 * landlock (it opens the paths it grants), then the capability sets, and
 * seccomp last, once nothing outside the allow-list is needed any more.
 */
#include "engine/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <linux/securebits.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "core/shm_ring.h"

/* Landlock rights and attributes newer than the installed uapi header. */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE	(1ULL << 14)	/* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV	(1ULL << 15)	/* ABI 5 */
#endif
#define RW_LL_NET_BIND_TCP		(1ULL << 0)	/* ABI 4 */
#define RW_LL_NET_CONNECT_TCP		(1ULL << 1)
#define RW_LL_SCOPE_ABSTRACT_UNIX	(1ULL << 0)	/* ABI 6 */
#define RW_LL_SCOPE_SIGNAL		(1ULL << 1)
#define RW_LL_RULE_NET_PORT		2		/* ABI 4 */

struct rw_landlock_net_port {	/* struct landlock_net_port_attr */
	uint64_t allowed_access;
	uint64_t port;
} __attribute__((packed));

/* struct landlock_ruleset_attr as of ABI 6; older kernels get a prefix. */
struct rw_landlock_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

#if defined(__SANITIZE_ADDRESS__)
#define RW_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RW_ASAN 1
#endif
#endif

static void why_add(struct sandbox_report *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void why_add(struct sandbox_report *r, const char *fmt, ...)
{
	size_t used = strlen(r->why);
	va_list ap;

	if (used && used < sizeof(r->why) - 2) {
		strcpy(r->why + used, "; ");
		used += 2;
	}
	va_start(ap, fmt);
	vsnprintf(r->why + used, sizeof(r->why) - used, fmt, ap);
	va_end(ap);
}

static int set_limit(int res, uint64_t v)
{
	struct rlimit rl = { v, v };

	return setrlimit(res, &rl) < 0 ? -errno : 0;
}

static int limits(const struct sandbox_opts *o, struct sandbox_report *r)
{
	int err = 0;

	/* no core dumps: a crash ends at once (core_pattern may pipe to a
	 * slow handler) and content in memory is not written out */
	err = set_limit(RLIMIT_CORE, 0);
	if (!err && o->nofile)
		err = set_limit(RLIMIT_NOFILE, o->nofile);
	if (!err && o->fsize_bytes)
		err = set_limit(RLIMIT_FSIZE, o->fsize_bytes);
	/* not enforced for uid 0 by the kernel; seccomp refuses fork anyway */
	if (!err)
		err = set_limit(RLIMIT_NPROC, 0);
#ifndef RW_ASAN
	/* ASan reserves terabytes of shadow address space: no limit there
	 * (the core's RSS check still applies) */
	if (!err && o->as_bytes)
		err = set_limit(RLIMIT_AS, o->as_bytes);
#endif
	if (err) {
		why_add(r, "setrlimit: %s", strerror(-err));
		return err;
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		why_add(r, "PR_SET_DUMPABLE: %s", strerror(errno));
		return -errno;
	}
	r->in_force |= SANDBOX_RLIMITS;
	return 0;
}

/* The bounding and ambient sets, and securebits; needs CAP_SETPCAP, so
 * before the capability sets are cleared. */
static int drop_bounding(struct sandbox_report *r)
{
	int err;

	for (int cap = 0; cap <= 63; cap++) {
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0)
			break;	/* past the kernel's last capability */
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) {
			err = -errno;
			why_add(r, "PR_CAPBSET_DROP %d: %s", cap, strerror(errno));
			return err;
		}
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
		err = -errno;
		why_add(r, "PR_CAP_AMBIENT_CLEAR_ALL: %s", strerror(errno));
		return err;
	}
	/* uid 0 gains nothing from exec or setuid, for good */
	if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED |
		  SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |
		  SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
		  SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED, 0, 0, 0) < 0 && errno != EPERM) {
		err = -errno;
		why_add(r, "PR_SET_SECUREBITS: %s", strerror(errno));
		return err;
	}
	return 0;
}

static int drop_caps(struct sandbox_report *r)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capset, &h, d) < 0) {
		why_add(r, "capset: %s", strerror(errno));
		return -errno;
	}
	/* check: nothing is left in any set */
	memset(d, 0xff, sizeof(d));
	if (syscall(SYS_capget, &h, d) < 0 || d[0].effective || d[1].effective ||
	    d[0].permitted || d[1].permitted || d[0].inheritable || d[1].inheritable) {
		why_add(r, "capabilities remain after capset");
		return -EPERM;
	}
	r->in_force |= SANDBOX_CAPS;
	return 0;
}

static int ll_add(int ruleset, const char *path, uint64_t want, uint64_t handled,
		  struct sandbox_report *r)
{
	struct landlock_path_beneath_attr pb = { 0 };
	struct stat st;
	int fd = open(path, O_PATH | O_CLOEXEC), err = 0;

	if (fd < 0) {
		if (errno == ENOENT)
			return 0;	/* nothing there to grant */
		why_add(r, "landlock: %s: %s", path, strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto cleanup;
	}
	if (!S_ISDIR(st.st_mode))	/* a file takes file rights only */
		want &= LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
			LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV;
	pb.allowed_access = want & handled;
	pb.parent_fd = fd;
	if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0) {
		err = -errno;
		why_add(r, "landlock_add_rule %s: %s", path, strerror(errno));
	}
cleanup:
	close(fd);
	return err;
}

/* Landlock where the kernel has it; its absence is noted, not fatal. */
int sandbox__landlock(const struct sandbox_opts *o, struct sandbox_report *r)
{
	struct rw_landlock_attr attr = { 0 };
	size_t attr_size = sizeof(attr.handled_access_fs);
	uint64_t ro = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
	uint64_t rw = ro | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |
		      LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_DIR |
		      LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SYM |
		      LANDLOCK_ACCESS_FS_REFER | LANDLOCK_ACCESS_FS_TRUNCATE;
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	int ruleset, err = 0;

	if (abi < 1) {
		why_add(r, "landlock unavailable (%s)", abi < 0 ? strerror(errno) : "ABI 0");
		return 0;
	}
	attr.handled_access_fs = ((LANDLOCK_ACCESS_FS_REFER << 1) - 1) &
				 ~LANDLOCK_ACCESS_FS_REFER;	/* ABI 1 */
	if (abi >= 2)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	if (abi >= 4) {
		if (!o->tcp_open)
			attr.handled_access_net = RW_LL_NET_BIND_TCP | RW_LL_NET_CONNECT_TCP;
		attr_size = offsetof(struct rw_landlock_attr, scoped);
	}
	if (abi >= 6) {
		attr.scoped = RW_LL_SCOPE_SIGNAL;
		if (!o->abstract_unix)
			attr.scoped |= RW_LL_SCOPE_ABSTRACT_UNIX;
		attr_size = sizeof(attr);
	}
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
	if (ruleset < 0) {
		why_add(r, "landlock_create_ruleset: %s", strerror(errno));
		return 0;
	}
	for (size_t i = 0; i < o->n_ro && !err; i++)
		err = ll_add(ruleset, o->ro_paths[i], ro, attr.handled_access_fs, r);
	for (size_t i = 0; i < o->n_rw && !err; i++)
		err = ll_add(ruleset, o->rw_paths[i], rw, attr.handled_access_fs, r);
	for (size_t i = 0; i < o->n_tcp_connect && !err && attr.handled_access_net; i++) {
		struct rw_landlock_net_port np = { .allowed_access = RW_LL_NET_CONNECT_TCP,
						   .port = o->tcp_connect[i] };

		if (syscall(SYS_landlock_add_rule, ruleset, RW_LL_RULE_NET_PORT, &np, 0) < 0) {
			err = -errno;
			why_add(r, "landlock_add_rule tcp port %u: %s", o->tcp_connect[i],
				strerror(errno));
		}
	}
	if (!err && syscall(SYS_landlock_restrict_self, ruleset, 0) < 0) {
		err = -errno;
		why_add(r, "landlock_restrict_self: %s", strerror(errno));
	}
	close(ruleset);
	if (!err) {
		r->in_force |= SANDBOX_LANDLOCK;
		r->landlock_abi = (int)abi;
		if (abi < 6)
			why_add(r, "landlock ABI %ld: no signal scoping", abi);
	}
	return err;
}

/* The syscalls the engine makes after the sandbox is up: reading and
 * compiling content, evaluating, saving the LKG copy, and the memory
 * allocator. Found with strace over the tests; anything else kills it. */
static const int allowed[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(writev), SCMP_SYS(pread64),
	SCMP_SYS(lseek), SCMP_SYS(close), SCMP_SYS(fstat), SCMP_SYS(newfstatat),
	SCMP_SYS(statx), SCMP_SYS(lstat), SCMP_SYS(stat), SCMP_SYS(openat), SCMP_SYS(open),
	SCMP_SYS(getdents64), SCMP_SYS(readlink), SCMP_SYS(readlinkat), SCMP_SYS(faccessat),
	SCMP_SYS(faccessat2), SCMP_SYS(access), SCMP_SYS(getcwd), SCMP_SYS(fcntl),
	SCMP_SYS(flock), SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(rename),
	SCMP_SYS(renameat), SCMP_SYS(renameat2), SCMP_SYS(unlink), SCMP_SYS(unlinkat),
	SCMP_SYS(mkdir), SCMP_SYS(mkdirat), SCMP_SYS(rmdir), SCMP_SYS(symlink),
	SCMP_SYS(symlinkat), SCMP_SYS(fchmod), SCMP_SYS(fchmodat), SCMP_SYS(umask),
	SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(brk), SCMP_SYS(madvise),
	SCMP_SYS(futex), SCMP_SYS(clock_gettime), SCMP_SYS(clock_nanosleep),
	SCMP_SYS(nanosleep), SCMP_SYS(gettimeofday), SCMP_SYS(poll), SCMP_SYS(ppoll),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigaction),
	SCMP_SYS(sigaltstack), SCMP_SYS(restart_syscall), SCMP_SYS(exit),
	SCMP_SYS(exit_group), SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getppid),
	SCMP_SYS(getrandom), SCMP_SYS(sched_yield), SCMP_SYS(getrlimit),
	SCMP_SYS(prlimit64), SCMP_SYS(uname), SCMP_SYS(sched_getaffinity),
	SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid), SCMP_SYS(getegid),
	SCMP_SYS(sysinfo),
};

static int seccomp(struct sandbox_report *r)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	pid_t self = getpid();
	int err = 0;

	if (!ctx) {
		why_add(r, "seccomp_init failed");
		return -ENOMEM;
	}
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]) && !err; i++)
		if (allowed[i] >= 0)	/* __NR_SCMP_ERROR: not on this arch */
			err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
	/* memory, but never executable memory */
	if (!err)
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				       SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (!err)
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
				       SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	/* signals to itself only (abort, raise) */
	if (!err)
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
				       SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self));
	if (!err)
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
				       SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self));
	/* isatty() on stderr, nothing else of ioctl */
	if (!err)
		err = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				       SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)TCGETS));
	if (!err)
		err = seccomp_load(ctx);
	seccomp_release(ctx);
	if (err) {
		why_add(r, "seccomp: %s", strerror(-err));
		return err;
	}
	r->in_force |= SANDBOX_SECCOMP;
	return 0;
}

int sandbox__enter(const struct sandbox_opts *o, struct sandbox_report *r)
{
	int err;

	memset(r, 0, sizeof(*r));
	err = limits(o, r);
	if (!err)
		err = drop_bounding(r);
	if (!err && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		err = -errno;
		why_add(r, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	}
	if (!err) {
		r->in_force |= SANDBOX_NNP;
		err = sandbox__landlock(o, r);
	}
	if (!err)
		err = drop_caps(r);
	if (!err)
		err = seccomp(r);
	return err;
}
