/*
 * The host's essential executables (common/protected.h).
 */
#include "common/protected.h"

#include <fnmatch.h>
#include <string.h>

const char *const protected_sensor_exe[] = {
	"/usr/local/sbin/ringward", "/usr/sbin/ringward", "/usr/bin/ringward", NULL,
};
const char *const protected_init_exe[] = {
	"/sbin/init", "/usr/sbin/init", "/bin/systemctl", "/usr/bin/systemctl", NULL,
};
const char *const protected_init_tree[] = { "/lib/systemd", "/usr/lib/systemd", NULL };
const char *const protected_pm_exe[] = {
	"/usr/bin/dpkg", "/bin/dpkg", "/usr/bin/dpkg-deb", "/usr/bin/dpkg-query",
	"/usr/bin/dpkg-divert", "/usr/sbin/dpkg-divert", "/usr/bin/dpkg-split",
	"/usr/bin/dpkg-trigger", "/usr/bin/apt", "/bin/apt", "/usr/bin/apt-get",
	"/bin/apt-get", NULL,
};
const char *const protected_pm_tree[] = { "/usr/lib/apt", "/usr/lib/dpkg", NULL };
const char *const protected_ssh_exe[] = { "/usr/sbin/sshd", "/sbin/sshd", NULL };
const char *const protected_ssh_tree[] = { "/usr/lib/openssh", NULL };
const char *const protected_loader_exe[] = {
	"/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
	"/usr/lib64/ld-linux-x86-64.so.2",
	"/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
	"/lib/ld-linux-aarch64.so.1", "/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1",
	"/usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1", "/lib/ld-linux.so.2",
	"/lib32/ld-linux.so.2", "/lib/ld-linux-armhf.so.3", NULL,
};
const char *const protected_loader_glob[] = {
	"/lib*/ld-linux*", "/usr/lib*/ld-linux*", "/lib*/*/ld-linux*", "/usr/lib*/*/ld-linux*",
	NULL,
};

static bool in_list(const char *const *v, const char *path)
{
	for (; *v; v++)
		if (!strcmp(*v, path))
			return true;
	return false;
}

static bool in_tree(const char *const *v, const char *path)
{
	for (; *v; v++) {
		size_t n = strlen(*v);

		if (!strncmp(*v, path, n) && path[n] == '/')
			return true;
	}
	return false;
}

bool protected__essential_exe(const char *path)
{
	if (in_list(protected_sensor_exe, path) || in_list(protected_init_exe, path) ||
	    in_list(protected_pm_exe, path) || in_list(protected_ssh_exe, path) ||
	    in_list(protected_loader_exe, path) || in_tree(protected_init_tree, path) ||
	    in_tree(protected_pm_tree, path) || in_tree(protected_ssh_tree, path))
		return true;
	for (const char *const *g = protected_loader_glob; *g; g++)
		if (fnmatch(*g, path, FNM_PATHNAME) == 0)
			return true;
	return false;
}
