/*
 * The host's essential executables (common/protected.h): what a fail-closed
 * default never denies and no rule may act on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/protected.h"

static void test_essential(void **st)
{
	(void)st;
	assert_true(protected__essential_exe("/usr/sbin/sshd"));
	assert_true(protected__essential_exe("/usr/lib/openssh/sftp-server"));
	assert_true(protected__essential_exe("/usr/bin/apt-get"));
	assert_true(protected__essential_exe("/usr/lib/systemd/systemd-journald"));
	assert_true(protected__essential_exe("/sbin/init"));
	assert_true(protected__essential_exe("/usr/local/sbin/ringward"));
	assert_true(protected__essential_exe("/lib64/ld-linux-x86-64.so.2"));
	assert_true(protected__essential_exe("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"));
	assert_true(protected__essential_exe("/lib/ld-linux-riscv64-lp64d.so.1"));	/* by glob */
}

static void test_not_essential(void **st)
{
	(void)st;
	assert_false(protected__essential_exe("/usr/bin/nc"));
	assert_false(protected__essential_exe("/tmp/sshd"));
	assert_false(protected__essential_exe("/usr/lib/systemdX/evil"));	/* not the tree */
	assert_false(protected__essential_exe("/usr/sbin/sshd2"));
	assert_false(protected__essential_exe("/tmp/lib/ld-linux.so"));
	assert_false(protected__essential_exe(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_essential),
		cmocka_unit_test(test_not_essential),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
