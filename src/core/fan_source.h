/*
 * Files and named pipes from fanotify.
 *
 * Why fanotify and not syscall tracepoints: attaching any syscall
 * tracepoint puts every syscall of every process on the slow path (5-10%
 * measured here); fanotify costs only the operations it reports.
 *
 * One notification group reports directory file handles and names
 * (FAN_REPORT_DFID_NAME, plus the target's own handle where the kernel
 * allows), with the kernel's default bounded queue: a stalled sensor never
 * eats kernel memory, and a queue overflow is counted
 * (drops.fanotify.queue_overflow), never silent. Every real filesystem in
 * /proc/self/mountinfo gets a FAN_MARK_FILESYSTEM mark for create, delete,
 * rename, close-after-write and attribute changes; each mark is a hook
 * ("fanotify:<mountpoint>") that degrades alone; filesystems mounted
 * later are marked within a second, unmounted ones reported as gone.
 * Not marked: pseudo filesystems (proc, sysfs, cgroup, ...), read-only
 * image filesystems (squashfs, iso9660, erofs) and overlay (its writes
 * are seen on its upper filesystem). Writes to /dev/null and the like
 * are ignored in the kernel (ignore marks on those inodes). The queue is
 * drained on the sensor's 5 ms tick (one wakeup per batch, not per event).
 *
 * Events: create, modify (closed after write), delete, rename (file.path
 * old, file.target_path new), chmod (also chown/utime: mode, uid, gid),
 * pipe-create and pipe-open (ringward.fifo.role reader/writer/read-write).
 * Paths are absolute: a directory handle is opened on its filesystem and
 * its path read back, and cached (invalidated when a directory is renamed
 * or deleted). fanotify is asynchronous: a path is the directory's path
 * when the event is read, so a directory renamed within the same few
 * milliseconds shows its new name; a path that cannot be resolved any
 * more is written without file.path and counted
 * (drops.fanotify.path_unresolved).
 *
 * The kernel merges events on one object from one process while they
 * wait in the queue (create + close-after-write, even mkdir + rmdir);
 * each action in a merged event is still written, in the order they must
 * have happened.
 *
 * Named pipes: each FIFO created (or found at start under /tmp, /var/tmp,
 * /dev/shm, /run) gets its own inode mark for opens and closes, so only
 * FIFO opens are reported, not every open on the host. A FIFO opened
 * before its mark is in place (within a tick of its creation) is not seen.
 * The role of an open comes from the opener's fd flags in /proc; when the
 * opener is gone already, from its close (a close after writing: writer).
 *
 * Kernels 5.9-5.16 (no FAN_RENAME, no target handles): renames are paired
 * from FAN_MOVED_FROM/TO, and a directory or FIFO that is gone before its
 * events are read is reported with less (no path, no FIFO type).
 *
 * Errors: 0 or a negative errno; constructors return NULL and set errno.
 */
#ifndef RINGWARD_FAN_SOURCE_H
#define RINGWARD_FAN_SOURCE_H

struct sensor;
struct fan_source;

/* Set up the group and marks for the enabled groups ("file", "fifo") and
 * register the tick drain. NULL (errno set) when fanotify is unavailable;
 * the reason is reported as a hook not in force. */
struct fan_source *fan_source__start(struct sensor *s);
/* Remove every mark and free. NULL-safe. */
void fan_source__stop(struct fan_source *f);

#endif
