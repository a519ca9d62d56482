/*
 * The updater's sandbox, entered once libcurl is set up and before the
 * first byte from the network is read. The updater already runs as uid
 * 65534 with no capabilities and no_new_privs (src/core/update_proc.c);
 * this takes away what a process that parses hostile input from the
 * network could still use against the host:
 *
 *   - seccomp (libseccomp), a deny-list: default allow, because the
 *     updater's syscalls are libcurl's, the TLS library's and the name
 *     resolver's (NSS modules, threads) and vary with the host's
 *     configuration; denied, killing the process (SIGSYS, which the core
 *     reports and restarts with backoff): exec, ptrace and other process'
 *     memory, bpf, perf events, io_uring, userfaultfd, keys, modules,
 *     kexec, mounts and namespaces (unshare, setns, clone with namespace
 *     flags), reboot, swap, clocks, raw I/O ports, handles by inode;
 *     clone3 fails with ENOSYS (its flags cannot be inspected; libc falls
 *     back to clone); sockets other than unix, IPv4, IPv6 and netlink
 *     fail with EAFNOSUPPORT (packet sockets, AF_ALG, ...);
 *   - landlock, where the kernel has it: every file readable, writable
 *     only beneath the updater's state directory (its working directory),
 *     nothing executable; with ABI 4+, TCP connect only to the
 *     repository's port and to 53 (DNS over TCP), none when a proxy is
 *     configured in the environment (its port is not ours to guess: then
 *     TCP is left open and the record says so); no signals to processes
 *     outside (ABI 6+).
 *
 * Errors: 0 or -errno (seccomp could not be loaded: the updater must not
 * go on); landlock absent or failing is not an error (an updater that
 * never starts would keep the host on old content). What is in force,
 * and what is not and why, is in `desc`.
 */
#ifndef RINGWARD_UPDATER_SANDBOX_H
#define RINGWARD_UPDATER_SANDBOX_H

#include <stddef.h>

int updater_sandbox__enter(const char *url, char *desc, size_t len);

#endif
