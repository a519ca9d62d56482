/*
 * The mounts of our namespace (core/mounts.h).
 */
#include "core/mounts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

/* Filesystems with no files worth watching, or no file handles. overlay:
 * its writes reach its upper filesystem, which is marked (marking both
 * would report each write twice, once with a path we cannot resolve).
 * squashfs/iso9660/erofs: read-only by nature. */
static const char *const skip_fstypes[] = {
	"proc", "sysfs", "cgroup", "cgroup2", "devpts", "tracefs", "debugfs", "bpf",
	"securityfs", "pstore", "mqueue", "configfs", "fusectl", "autofs", "nsfs",
	"binfmt_misc", "hugetlbfs", "efivarfs", "rpc_pipefs", "selinuxfs", "overlay",
	"squashfs", "iso9660", "erofs", "nfsd", "ramfs",
};

bool mounts__skip_fstype(const char *t)
{
	for (size_t i = 0; i < sizeof(skip_fstypes) / sizeof(skip_fstypes[0]); i++)
		if (strcmp(t, skip_fstypes[i]) == 0)
			return true;
	return false;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = 0;
}


/* Every mount in our namespace, in mountinfo order. Caller frees. */
int mounts__read(struct mnt **out)
{
	FILE *fp = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	struct mnt *v = NULL;
	int n = 0, max = 0;

	if (!fp)
		return -errno;
	while (getline(&line, &cap, fp) > 0) {
		unsigned maj, min;
		char *root, *path, *sep, *fstype, *save = NULL;
		struct mnt *nv;

		if (sscanf(line, "%*u %*u %u:%u", &maj, &min) != 2)
			continue;
		sep = strstr(line, " - ");
		if (!sep)
			continue;
		*sep = 0;
		fstype = strtok_r(sep + 3, " ", &save);
		if (!fstype)
			continue;
		strtok_r(line, " ", &save);	/* id */
		strtok_r(NULL, " ", &save);	/* parent */
		strtok_r(NULL, " ", &save);	/* maj:min */
		root = strtok_r(NULL, " ", &save);
		path = strtok_r(NULL, " ", &save);
		if (!root || !path)
			continue;
		if (n == max) {
			max = max ? max * 2 : 64;
			nv = realloc(v, (size_t)max * sizeof(*v));
			if (!nv)
				break;
			v = nv;
		}
		unescape(path);
		v[n].dev = makedev(maj, min);
		v[n].root = strcmp(root, "/") == 0;
		snprintf(v[n].fstype, sizeof(v[n].fstype), "%s", fstype);
		v[n].path = strdup(path);
		if (v[n].path)
			n++;
	}
	free(line);
	fclose(fp);
	*out = v;
	return n;
}
