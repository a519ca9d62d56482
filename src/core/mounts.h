/*
 * The mounts of our namespace, from /proc/self/mountinfo: what the
 * fanotify sources mark filesystem by filesystem.
 */
#ifndef RINGWARD_MOUNTS_H
#define RINGWARD_MOUNTS_H

#include <stdbool.h>
#include <sys/types.h>

struct mnt {
	dev_t dev;
	bool root;		/* mounts the filesystem's root */
	char fstype[64];
	char *path;		/* from malloc() */
};

/* Every mount in our namespace, in mountinfo order: their number, or
 * -errno. Free each path, then the array. */
int mounts__read(struct mnt **out);
/* A filesystem type with no files worth watching or no file handles. */
bool mounts__skip_fstype(const char *t);

#endif
