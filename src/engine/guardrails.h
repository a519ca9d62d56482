/*
 * Guardrails: the validator refuses a rule that could block, kill or
 * quarantine what keeps the host alive and the sensor honest (McAfee 2010
 * quarantined svchost.exe; Sophos 2012 deleted its own updater).
 *
 * Protected, in classes (the first one a rule could hit is named):
 *   the sensor itself        its binary (/usr/local/sbin/ringward, the running one)
 *   its configuration        /etc/ringward/... (content, trusted keys)
 *   its state                /var/lib/ringward/..., /run/ringward/...
 *   its content              the content paths being loaded, and any path the
 *                            caller adds (protected_paths)
 *   init/systemd             /sbin/init, /usr/sbin/init, systemctl, /lib/systemd/...,
 *                            /usr/lib/systemd/...
 *   the package manager      dpkg (and dpkg-deb, -query, -divert, -split,
 *                            -trigger), apt, apt-get; /usr/lib/apt/..., /var/lib/dpkg/...
 *   sshd                     /usr/sbin/sshd, /sbin/sshd, /usr/lib/openssh/...
 *   the dynamic loader       /lib*\/ld-linux*, /usr/lib*\/ld-linux*, as found on
 *                            this host (and their real paths) plus the usual names
 *   package files            every file listed in /var/lib/dpkg/info/PKG.list
 *                            (directories excepted)
 *
 * What each action could hit, and so which classes are checked:
 *   kill                   the process that matched: Image, against the classes
 *                          that are processes (sensor, init/systemd, package
 *                          manager, sshd, loader)
 *   block (exec)           the executable: Image, the same classes. Blocking the
 *                          exec of an ordinary package binary (nc, socat) is what
 *                          block is for, so package files are not checked here.
 *   block (open: a file    the file: TargetFilename (PipeName), every class (what
 *   category)              an open denies a process is that file: a rule on
 *                          Image: dpkg with any file is refused for the files)
 *   quarantine             the file: TargetFilename in file categories, else
 *                          Image; every class, package files included
 *
 * The analysis: the rule's condition is evaluated in three-valued logic
 * (no / maybe / yes) with the examined field set to a protected target and
 * every other field unknown ("maybe": a benign event may carry anything
 * there). A concrete target (a binary, a package file) is matched with the
 * sensor's own pattern matcher. A directory tree T is decided per pattern
 * kind: equal, prefix, contains, wildcards (an automaton run over T's
 * path), each "no" only when no path under T can match; suffixes and
 * regular expressions are "maybe". AND, OR, NOT, 1 of, all of follow
 * Kleene's rules, so "no" comes out only when no event with that target
 * can match, and anything else is "could hit": a rule must constrain the
 * field to exclude the protected targets (Image|endswith: '/nc' does; a
 * rule on CommandLine alone does not).
 *
 * Limits (each errs towards refusing): relations between fields are not
 * used; "maybe" for suffixes and regexes on trees; the package list is
 * read when the check runs (a package installed later is not known to
 * rules already loaded); when the package lists cannot be read (other than
 * missing: a host without dpkg), the trees /usr, /bin, /sbin, /lib*, /etc
 * and /boot stand in for them, with a warning.
 *
 * A rule is allowed anyway when it says 'allow_protected: true' AND it
 * came from a bundle signed by a trusted key. Otherwise it is rejected (an
 * error: the content does not load), or, with downgrade, loaded as
 * alert-only with a warning.
 *
 * Errors: 0 or -errno.
 */
#ifndef RINGWARD_GUARDRAILS_H
#define RINGWARD_GUARDRAILS_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/diag.h"

#define GUARD_DPKG_INFO_DIR	"/var/lib/dpkg/info"

struct rule;

struct guard_opts {
	bool downgrade;			/* load as alert instead of rejecting */
	const char *dpkg_info_dir;	/* NULL: GUARD_DPKG_INFO_DIR; "": no package list */
	const char *const *protected_paths;	/* more trees (the content paths) */
	size_t n_protected_paths;
};

/*
 * Check every rule of rules[0..n) whose action is block, kill or
 * quarantine. from_signed[i] (may be NULL: none): rule i came from a bundle
 * signed by a trusted key. A rule refused is an error in d; one
 * downgraded is a warning, its action set to alert and downgraded[i]
 * (may be NULL) set. Returns the number of rules refused or downgraded,
 * or -ENOMEM.
 */
int guardrails__check(struct rule *const *rules, size_t n, const bool *from_signed,
		      bool *downgraded, const struct guard_opts *o, struct diag *d);

/*
 * Read the host's protected targets now (binaries, the executables under
 * /usr/lib/systemd and the like, the package lists: o's dpkg_info_dir) and
 * use them for every later check instead of reading them each time. The
 * engine calls it before it enters its sandbox, which would hide them, so
 * that the engine refuses exactly what `ringward validate` refuses.
 * Warnings (package lists unreadable) in d. 0 or -ENOMEM.
 */
int guardrails__prepare(const struct guard_opts *o, struct diag *d);
/* Drop the prepared targets (checks read the host again). */
void guardrails__forget(void);

#endif
