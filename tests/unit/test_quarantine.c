/*
 * Quarantine (core/quarantine.h) on real files: a file with a known owner,
 * mode and times (nanoseconds) is quarantined, listed and restored, and
 * comes back byte for byte with its owner, group, mode and times; the same
 * across filesystems (/dev/shm is a tmpfs here, /tmp is not); restore
 * refuses to overwrite; a damaged copy is not restored; non-regular files
 * and a quarantine directory that is not private are refused; the CLI.
 * Owners other than our own need root: as another user the owner checks
 * use the user's own ids.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"

#include "cli.h"
#include "core/quarantine.h"

static char *top, *qdir, *shm;

static const unsigned char content[] = "#!/bin/sh\necho payload\n\0\1\2\377binary tail";

static int setup(void **st)
{
	top = rwt_mkdtemp("quarantine");
	shm = NULL;
	if (!top || asprintf(&qdir, "%s/q", top) < 0)
		return -1;
	return sodium_init() < 0 ? -1 : 0;
}

static int teardown(void **st)
{
	if (shm) {
		char cmd[512];

		/* only our own directory under /dev/shm */
		if (!strncmp(shm, "/dev/shm/ringward-test-", 23)) {
			snprintf(cmd, sizeof(cmd), "rm -rf '%s'", shm);
			if (system(cmd))
				fprintf(stderr, "cannot remove %s\n", shm);
		}
		free(shm);
	}
	rwt_rmtree(top);
	free(top);
	free(qdir);
	return 0;
}

static uid_t test_uid(void)
{
	return geteuid() == 0 ? 1234 : geteuid();
}

static gid_t test_gid(void)
{
	return geteuid() == 0 ? 5678 : getegid();
}

static const struct timespec times[2] = {
	{ 1000000000, 123456789 },	/* atime */
	{ 1100000000, 987654321 },	/* mtime */
};

/* A file at dir/name with content, mode 0750, the test owner, the times. */
static char *make_victim(const char *dir, const char *name)
{
	char *p;
	int fd;

	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, sizeof(content)), (ssize_t)sizeof(content));
	assert_int_equal(fchown(fd, test_uid(), test_gid()), 0);
	assert_int_equal(fchmod(fd, 0750), 0);
	assert_int_equal(futimens(fd, times), 0);
	close(fd);
	return p;
}

static void sha_hex(const void *b, size_t n, char out[65])
{
	unsigned char h[32];

	crypto_hash_sha256(h, b, n);
	sodium_bin2hex(out, 65, h, sizeof(h));
}

/* The file at p is the victim as made: bytes, owner, mode, times. */
static void assert_intact(const char *p)
{
	unsigned char buf[sizeof(content) + 16];
	struct stat st;
	int fd;
	ssize_t n;

	/* metadata before reading: a read may move the access time */
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_uid, test_uid());
	assert_int_equal(st.st_gid, test_gid());
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(st.st_atim.tv_sec, times[0].tv_sec);
	assert_int_equal(st.st_atim.tv_nsec, times[0].tv_nsec);
	assert_int_equal(st.st_mtim.tv_sec, times[1].tv_sec);
	assert_int_equal(st.st_mtim.tv_nsec, times[1].tv_nsec);
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	assert_int_equal(n, (ssize_t)sizeof(content));
	assert_memory_equal(buf, content, sizeof(content));
}

static char *qfile(const char *id, const char *ext)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s.%s", qdir, id, ext) > 0);
	return p;
}

/* The quarantined state: gone from path, data stripped of exec bits,
 * sidecar with every field. */
static void assert_quarantined(const char *path, const char *id, const char *rule)
{
	char sha[65], *data = qfile(id, "data");
	struct quarantine_entry e;
	struct stat st;

	assert_int_equal(strlen(id), QUARANTINE_ID_LEN);
	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(stat(qdir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(data, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);	/* 0750 without execute */
	assert_int_equal(st.st_uid, test_uid());
	assert_int_equal(st.st_mtim.tv_sec, times[1].tv_sec);
	assert_int_equal(st.st_mtim.tv_nsec, times[1].tv_nsec);
	sha_hex(content, sizeof(content), sha);
	assert_int_equal(quarantine__read(qdir, id, &e), 0);
	assert_string_equal(e.id, id);
	assert_string_equal(e.path, path);
	assert_string_equal(e.sha256, sha);
	assert_int_equal(e.size, sizeof(content));
	assert_int_equal(e.uid, test_uid());
	assert_int_equal(e.gid, test_gid());
	assert_int_equal(e.mode, 0750);
	assert_int_equal(e.atime_sec, times[0].tv_sec);
	assert_int_equal(e.atime_nsec, times[0].tv_nsec);
	assert_int_equal(e.mtime_sec, times[1].tv_sec);
	assert_int_equal(e.mtime_nsec, times[1].tv_nsec);
	if (rule)
		assert_string_equal(e.rule_id, rule);
	else
		assert_null(e.rule_id);
	assert_true(e.quarantined_at >= time(NULL) - 3600);
	assert_true(e.data_present);
	quarantine_entry__free(&e);
	free(data);
}

static void test_round_trip(void **st)
{
	char *path = make_victim(top, "dropper.sh"), id[QUARANTINE_ID_SIZE];
	char *json, *text;
	struct quarantine_entry *v, r;
	size_t n;
	FILE *f;
	long len;

	assert_int_equal(quarantine__file(qdir, path, "rw-test-rule", id), 0);
	assert_quarantined(path, id, "rw-test-rule");
	/* the sidecar is JSON a person can read */
	json = qfile(id, "json");
	f = fopen(json, "r");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	text = calloc(1, (size_t)len + 1);
	assert_int_equal(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	assert_non_null(strstr(text, "\"mode\":\"0750\""));
	assert_non_null(strstr(text, "\"rule_id\":\"rw-test-rule\""));
	free(text);

	assert_int_equal(quarantine__list(qdir, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].id, id);
	assert_string_equal(v[0].path, path);
	quarantine_entries__free(v, n);

	assert_int_equal(quarantine__restore(qdir, id, &r), 0);
	assert_string_equal(r.path, path);
	quarantine_entry__free(&r);
	assert_intact(path);
	assert_int_equal(access(json, F_OK), -1);
	assert_int_equal(quarantine__list(qdir, &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
	assert_int_equal(quarantine__restore(qdir, id, NULL), -ENOENT);
	free(json);
	free(path);
}

static void test_across_filesystems(void **st)
{
	struct stat a, b;
	char *path, id[QUARANTINE_ID_SIZE];

	if (stat("/dev/shm", &a) || stat("/tmp", &b) || a.st_dev == b.st_dev)
		skip();	/* no second filesystem to cross to */
	shm = strdup("/dev/shm/ringward-test-q.XXXXXX");
	assert_non_null(mkdtemp(shm));
	path = make_victim(shm, "payload.elf");
	assert_int_equal(quarantine__file(qdir, path, NULL, id), 0);
	assert_quarantined(path, id, NULL);
	assert_int_equal(quarantine__restore(qdir, id, NULL), 0);
	assert_intact(path);
	/* no temporary file left beside it */
	{
		char cmd[512];

		snprintf(cmd, sizeof(cmd), "ls -a %s | grep -q ringward-restore", shm);
		assert_int_not_equal(system(cmd), 0);
	}
	free(path);
}

static void test_restore_refuses_to_overwrite(void **st)
{
	char *path = make_victim(top, "x.bin"), id[QUARANTINE_ID_SIZE];
	struct quarantine_entry *v;
	size_t n;
	FILE *f;
	char buf[32] = "";

	assert_int_equal(quarantine__file(qdir, path, NULL, id), 0);
	f = fopen(path, "w");
	fputs("someone else's file", f);
	fclose(f);
	assert_int_equal(quarantine__restore(qdir, id, NULL), -EEXIST);
	f = fopen(path, "r");
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "someone else's file");
	assert_int_equal(quarantine__list(qdir, &v, &n), 0);
	assert_int_equal(n, 1);
	quarantine_entries__free(v, n);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(quarantine__restore(qdir, id, NULL), 0);
	assert_intact(path);
	free(path);
}

static void test_damaged_copy_not_restored(void **st)
{
	char *path = make_victim(top, "y.bin"), id[QUARANTINE_ID_SIZE], *data;
	FILE *f;

	assert_int_equal(quarantine__file(qdir, path, NULL, id), 0);
	data = qfile(id, "data");
	f = fopen(data, "a");
	fputc('!', f);
	fclose(f);
	assert_int_equal(quarantine__restore(qdir, id, NULL), -EBADMSG);
	assert_int_equal(access(path, F_OK), -1);
	free(data);
	free(path);
}

static void test_refuses_what_is_not_a_file(void **st)
{
	char *link, *fifo, *d, *target = make_victim(top, "t.bin"), id[QUARANTINE_ID_SIZE];

	assert_true(asprintf(&link, "%s/link", top) > 0);
	assert_true(asprintf(&fifo, "%s/fifo", top) > 0);
	assert_true(asprintf(&d, "%s/dir", top) > 0);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(mkdir(d, 0700), 0);
	assert_int_equal(quarantine__file(qdir, link, NULL, id), -EINVAL);
	assert_int_equal(quarantine__file(qdir, fifo, NULL, id), -EINVAL);
	assert_int_equal(quarantine__file(qdir, d, NULL, id), -EINVAL);
	assert_int_equal(quarantine__file(qdir, "relative/path", NULL, id), -EINVAL);
	assert_int_equal(quarantine__file(qdir, "/tmp/ringward-test-no-such-file", NULL, id),
			 -ENOENT);
	/* all still where they were, nothing quarantined */
	assert_int_equal(access(link, F_OK), 0);
	assert_int_equal(access(fifo, F_OK), 0);
	assert_int_equal(access(target, F_OK), 0);
	assert_int_equal(quarantine__restore(qdir, "../../etc/passwd", NULL), -ENOENT);
	free(link);
	free(fifo);
	free(d);
	free(target);
}

static void test_quarantine_dir_must_be_private(void **st)
{
	char *path = make_victim(top, "z.bin"), *elsewhere, id[QUARANTINE_ID_SIZE];

	/* a symbolic link as the quarantine directory */
	assert_true(asprintf(&elsewhere, "%s/elsewhere", top) > 0);
	assert_int_equal(mkdir(elsewhere, 0700), 0);
	assert_int_equal(symlink(elsewhere, qdir), 0);
	assert_int_equal(quarantine__file(qdir, path, NULL, id), -EPERM);
	assert_int_equal(unlink(qdir), 0);
	/* a directory open to others is closed */
	assert_int_equal(mkdir(qdir, 0755), 0);
	assert_int_equal(chmod(qdir, 0777), 0);
	assert_int_equal(quarantine__file(qdir, path, NULL, id), 0);
	{
		struct stat s;

		assert_int_equal(stat(qdir, &s), 0);
		assert_int_equal(s.st_mode & 07777, 0700);
	}
	/* one owned by someone else is not used */
	if (geteuid() == 0) {
		char *p2 = make_victim(top, "w.bin");

		assert_int_equal(chown(qdir, 4321, 4321), 0);
		assert_int_equal(quarantine__file(qdir, p2, NULL, id), -EPERM);
		assert_int_equal(access(p2, F_OK), 0);
		free(p2);
	}
	free(elsewhere);
	free(path);
}

struct run {
	int rc;
	char *out, *err;
};

static char *slurp(const char *p)
{
	FILE *f = fopen(p, "r");
	char *b;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return b;
}

static struct run run_q(const char *const argv[])
{
	char outp[] = "/tmp/ringward-test-q-out.XXXXXX", errp[] = "/tmp/ringward-test-q-err.XXXXXX";
	int o = mkstemp(outp), e = mkstemp(errp), so = dup(1), se = dup(2), argc = 0;
	char *args[16];
	struct run r;

	for (; argv[argc]; argc++)
		args[argc] = strdup(argv[argc]);
	args[argc] = NULL;
	fflush(stdout);
	fflush(stderr);
	dup2(o, 1);
	dup2(e, 2);
	r.rc = cmd_quarantine(argc, args);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(o);
	close(e);
	close(so);
	close(se);
	for (int i = 0; i < argc; i++)
		free(args[i]);
	r.out = slurp(outp);
	r.err = slurp(errp);
	unlink(outp);
	unlink(errp);
	return r;
}

static void test_cli(void **st)
{
	char *path = make_victim(top, "cli.bin"), id[QUARANTINE_ID_SIZE], *want, sha[65];
	const char *add[] = { "quarantine", "add", path, "--rule", "r-1", "--dir", qdir, NULL };
	const char *list[] = { "quarantine", "list", "--dir", qdir, NULL };
	const char *restore[] = { "quarantine", "restore", id, "--dir", qdir, NULL };
	struct quarantine_entry *v;
	struct run r;
	size_t n;
	char t[32];
	time_t tt;

	r = run_q(add);
	assert_int_equal(r.rc, 0);
	assert_int_equal(sscanf(r.out, "quarantined %*s as %16s", id), 1);
	assert_true(asprintf(&want, "quarantined %s as %s\n", path, id) > 0);
	assert_string_equal(r.out, want);
	free(want);
	free(r.out);
	free(r.err);

	assert_int_equal(quarantine__list(qdir, &v, &n), 0);
	assert_int_equal(n, 1);
	tt = (time_t)v[0].quarantined_at;
	strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", gmtime(&tt));
	quarantine_entries__free(v, n);
	sha_hex(content, sizeof(content), sha);
	r = run_q(list);
	assert_int_equal(r.rc, 0);
	assert_true(asprintf(&want, "%s  %s  sha256:%.16s  0750 %u:%u  rule r-1  %s\n1 file in "
			     "quarantine\n", id, t, sha, (unsigned)test_uid(), (unsigned)test_gid(),
			     path) > 0);
	assert_string_equal(r.out, want);
	free(want);
	free(r.out);
	free(r.err);

	r = run_q(restore);
	assert_int_equal(r.rc, 0);
	assert_true(asprintf(&want, "restored %s to %s (sha256 %s, owner %u:%u, mode 0750)\n", id,
			     path, sha, (unsigned)test_uid(), (unsigned)test_gid()) > 0);
	assert_string_equal(r.out, want);
	free(want);
	free(r.out);
	free(r.err);
	assert_intact(path);

	r = run_q(restore);
	assert_int_equal(r.rc, 1);
	assert_true(asprintf(&want, "ringward quarantine: cannot restore %s: no such quarantined "
			     "file\n", id) > 0);
	assert_string_equal(r.err, want);
	free(want);
	free(r.out);
	free(r.err);
	free(path);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_round_trip),
		T(test_across_filesystems),
		T(test_restore_refuses_to_overwrite),
		T(test_damaged_copy_not_restored),
		T(test_refuses_what_is_not_a_file),
		T(test_quarantine_dir_must_be_private),
		T(test_cli),
	};

	if (geteuid() != 0)
		fprintf(stderr, "# not root: owners are the test user's own\n");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
