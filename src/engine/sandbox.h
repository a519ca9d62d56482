/*
 * The engine's sandbox, entered once, before any content is opened:
 *
 *   - resource limits: address space (RLIMIT_AS), open files, no core
 *     dumps (a crash ends at once and leaks no content), file size;
 *   - not dumpable (no ptrace by other processes of the same uid);
 *   - every capability dropped: bounding set, ambient set, then effective,
 *     permitted and inheritable; securebits locked so that uid 0 regains
 *     nothing (NOROOT, NO_SETUID_FIXUP, KEEP_CAPS off, all locked);
 *   - no_new_privs;
 *   - landlock, where the kernel has it: read-only access beneath the
 *     content paths, read-write beneath the last-known-good store, nothing
 *     else on any filesystem; no TCP bind/connect (ABI 4+); no signals to
 *     and no abstract unix sockets of processes outside the sandbox
 *     (ABI 6+), which is what keeps a uid-0 engine from signalling the
 *     core;
 *   - a seccomp allow-list (libseccomp) of the syscalls the engine needs,
 *     default action: kill the process (a violation is a visible crash,
 *     SIGSYS, which the core reports like any other). No process creation,
 *     no exec, no network, no ptrace, no new executable memory, signals to
 *     itself only.
 *
 * The engine stays uid 0 without capabilities, so that root-owned content
 * with mode 0600 stays readable; landlock and seccomp, not the uid, are
 * what confine it (see README, "Fault containment").
 *
 * Errors: 0 or -errno; the reason is in the report's why.
 */
#ifndef RINGWARD_SANDBOX_H
#define RINGWARD_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sandbox_opts {
	const char *const *ro_paths;	/* read-only beneath (content, placeholders) */
	size_t n_ro;
	const char *const *rw_paths;	/* read-write beneath (the LKG store) */
	size_t n_rw;
	uint64_t as_bytes;		/* RLIMIT_AS; 0: leave it */
	unsigned nofile;		/* RLIMIT_NOFILE; 0: leave it */
	uint64_t fsize_bytes;		/* RLIMIT_FSIZE; 0: leave it */
	/* landlock ABI 4+: the TCP ports connect() may reach (none: no TCP
	 * connect at all, no bind either way), unless tcp_open */
	const uint16_t *tcp_connect;
	size_t n_tcp_connect;
	bool tcp_open;			/* TCP left alone */
	bool abstract_unix;		/* leave abstract unix sockets unscoped */
};

struct sandbox_report {
	unsigned in_force;	/* SANDBOX_* (core/shm_ring.h) */
	int landlock_abi;	/* 0: no landlock */
	char why[256];		/* what is not in force, and why; "" when all is */
};

/* Enter the sandbox. Capabilities, no_new_privs, seccomp and the limits
 * are required (-errno when one fails: the caller must not go on to load
 * content); landlock is used when the kernel has it (else noted in why). */
int sandbox__enter(const struct sandbox_opts *o, struct sandbox_report *r);

/* Landlock alone (for the updater, which has its own seccomp filter):
 * ro_paths readable, rw_paths writable, nothing executable, TCP as
 * tcp_connect says, no signals out of the sandbox. Needs no_new_privs or
 * CAP_SYS_ADMIN. 0 also when the kernel has no landlock (said in why). */
int sandbox__landlock(const struct sandbox_opts *o, struct sandbox_report *r);

#endif
