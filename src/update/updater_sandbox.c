/* The updater's sandbox: see updater_sandbox.h. */
#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "core/shm_ring.h"
#include "engine/sandbox.h"
#include "update/updater_sandbox.h"

#if defined(__SANITIZE_ADDRESS__)
#define UPD_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UPD_ASAN 1
#endif
#endif

/* Never needed to fetch and verify metadata and bundles over HTTP(S). */
static const char *const denied[] = {
#ifndef UPD_ASAN	/* LeakSanitizer ptraces the process at exit */
	"ptrace",
#endif
	"execve", "execveat", "process_vm_readv", "process_vm_writev",
	"pidfd_getfd", "kcmp", "bpf", "perf_event_open", "userfaultfd",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"keyctl", "add_key", "request_key",
	"init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
	"mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen",
	"fsconfig", "fsmount", "fspick", "mount_setattr", "unshare", "setns",
	"swapon", "swapoff", "reboot", "acct", "quotactl", "syslog", "vhangup",
	"settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
	"iopl", "ioperm", "personality", "uselib",
	"open_by_handle_at", "name_to_handle_at", "fanotify_init",
};

static const unsigned long ns_flags[] = {
	CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER,
	CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWTIME,
};

static const int families[] = { AF_UNIX, AF_INET, AF_INET6, AF_NETLINK };

static int deny_list(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int err = 0;

	if (!ctx)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]) && !err; i++) {
		int nr = seccomp_syscall_resolve_name(denied[i]);

		if (nr != __NR_SCMP_ERROR)	/* not on this architecture */
			err = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, nr, 0);
	}
	for (size_t i = 0; i < sizeof(ns_flags) / sizeof(ns_flags[0]) && !err; i++)
		err = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(clone), 1,
				       SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]));
	if (!err)
		err = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	/* socket(): families other than the allowed fail. One comparison per
	 * argument and rule: the values between the allowed ones one by one,
	 * everything above the last in one rule (high bits set: above too). */
	for (size_t i = 0, lo = 0; i < sizeof(families) / sizeof(families[0]) && !err; i++) {
		for (int f = (int)lo; f < families[i] && !err; f++)
			err = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
					       SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)f));
		lo = (size_t)families[i] + 1;
	}
	if (!err)
		err = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
				       SCMP_A0(SCMP_CMP_GT, (scmp_datum_t)AF_NETLINK));
	if (!err)
		err = seccomp_load(ctx);
	seccomp_release(ctx);
	return err;
}

static bool proxy_configured(void)
{
	static const char *const vars[] = {
		"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
	};

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		if (getenv(vars[i]) && *getenv(vars[i]))
			return true;
	return false;
}

/* The repository's TCP port (the scheme's default when the URL has none). */
static int url_port(const char *url)
{
	CURLU *h = curl_url();
	char *port = NULL;
	int p = -1;

	if (h && !curl_url_set(h, CURLUPART_URL, url, 0) &&
	    !curl_url_get(h, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) && port)
		p = atoi(port);
	curl_free(port);
	curl_url_cleanup(h);
	return p > 0 && p < 65536 ? p : -1;
}

int updater_sandbox__enter(const char *url, char *desc, size_t len)
{
	static const char *const ro[] = { "/" };
	static const char *const rw[] = { "." };	/* the state directory */
	struct sandbox_report r;
	struct sandbox_opts o = { .ro_paths = ro, .n_ro = 1, .rw_paths = rw, .n_rw = 1,
				  .abstract_unix = true };
	uint16_t ports[2];
	char tcp[96];
	int port = url_port(url), err;
	bool proxy = proxy_configured();

	err = deny_list();
	if (err) {
		snprintf(desc, len, "seccomp: %s", strerror(-err));
		return err;
	}
	memset(&r, 0, sizeof(r));
	if (!proxy && port > 0) {
		ports[0] = (uint16_t)port;
		ports[1] = 53;
		o.tcp_connect = ports;
		o.n_tcp_connect = 2;
	} else {
		o.tcp_open = true;	/* where to, we cannot tell */
	}
	/* landlock failing (not only absent) leaves the updater with seccomp
	 * and its uid: said, not fatal, as an updater that never starts would
	 * leave the host on old content for good */
	err = sandbox__landlock(&o, &r);
	if (err || !(r.in_force & SANDBOX_LANDLOCK)) {
		snprintf(desc, len, "seccomp deny-list; %s", r.why);
		return 0;
	}
	if (r.landlock_abi < 4)
		snprintf(tcp, sizeof(tcp), "TCP not restricted (landlock ABI < 4)");
	else if (proxy)
		snprintf(tcp, sizeof(tcp), "TCP not restricted (a proxy is configured)");
	else if (port < 0)
		snprintf(tcp, sizeof(tcp), "TCP not restricted (no port in the URL)");
	else
		snprintf(tcp, sizeof(tcp), "TCP connect to ports %d and 53 only", port);
	snprintf(desc, len, "seccomp deny-list; landlock ABI %d: files read-only outside the state "
		 "directory, nothing executable; %s%s%s", r.landlock_abi, tcp, r.why[0] ? "; " : "",
		 r.why);
	return 0;
}
