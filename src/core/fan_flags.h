/*
 * What the filesystem-wide fanotify group asks of the kernel. One
 * definition for the sensor (fan_source.c) and for the benchmark that
 * measures what the kernel's side of exactly this costs, with no sensor
 * behind it (bench/fanfloor.c).
 */
#ifndef RINGWARD_FAN_FLAGS_H
#define RINGWARD_FAN_FLAGS_H

#include <sys/fanotify.h>

/* Debian 12's headers have every constant used here; these guards only
 * matter on older headers. Values from include/uapi/linux/fanotify.h. */
#ifndef FAN_REPORT_TARGET_FID
#define FAN_REPORT_TARGET_FID		0x00001000	/* Linux 5.17 */
#endif
#ifndef FAN_RENAME
#define FAN_RENAME			0x10000000	/* Linux 5.17 */
#endif

/* directory handle + name, the object's own handle; 5.17 adds the
 * target's handle for dirent events (and FAN_RENAME) */
#define RW_FAN_REPORT		(FAN_REPORT_DFID_NAME | FAN_REPORT_FID | FAN_REPORT_TARGET_FID)
#define RW_FAN_REPORT_5_9	(FAN_REPORT_DFID_NAME | FAN_REPORT_FID)

/* every FAN_MARK_FILESYSTEM mark: names come and go ... */
#define RW_FAN_DIRENT_MASK	(FAN_CREATE | FAN_DELETE | FAN_ONDIR)
#define RW_FAN_RENAME_MASK	FAN_RENAME			/* with RW_FAN_REPORT */
#define RW_FAN_MOVED_MASK	(FAN_MOVED_FROM | FAN_MOVED_TO)	/* with RW_FAN_REPORT_5_9 */
/* ... and, with the "file" group, contents and attributes change */
#define RW_FAN_FILE_MASK	(FAN_CLOSE_WRITE | FAN_ATTRIB)

#endif
