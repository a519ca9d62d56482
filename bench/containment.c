/*
 * bench/containment: what an engine crash costs, measured on the real
 * supervisor, shared-memory ring and engine process (build/ringward
 * engine), without the kernel sources: synthetic exec events are fed at a
 * fixed rate exactly as the sensor feeds them (supervisor__feed on the
 * hot path, supervisor__tick every 5 ms), one rule matches every event,
 * and the engine is killed with SIGKILL K times during the load.
 *
 * It prints:
 *   - time from each kill to evaluation resumed (the first event evaluated
 *     by the next engine), in ms: every kill, then the worst;
 *   - events fed, events evaluated (each once: every event carries its own
 *     sequence number back in its alert), events lost (fed and never
 *     evaluated), ring-full drops, duplicate alerts suppressed.
 *
 * usage: containment [--engine PATH] [--rate N] [--seconds S] [--kills K]
 *                    [--ring-mb N]
 * Defaults: build/ringward, 100000 events/s, 3 s, 3 kills, 64 MiB.
 * Run it as root, as the sensor runs (the engine drops root's capabilities
 * and bounding set in its sandbox).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/supervisor.h"

#define TICK_NS		5000000ULL
#define POLL_NS		250000ULL	/* resume detection resolution */
#define MAX_KILLS	32

struct bench {
	uint8_t *seen;		/* per sequence number: alert received */
	uint64_t cap, n_seen, dups, other;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { (time_t)(t / 1000000000ULL), (long)(t % 1000000000ULL) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void on_write(void *ctx, struct rw_event *rec)
{
	struct bench *b = ctx;
	size_t n;
	const char *kind = rw_event__str(rec, RW_F_EVENT_KIND, &n);
	int64_t seq;

	if (!kind || n != 5 || memcmp(kind, "alert", 5)) {
		b->other++;
		return;
	}
	/* the alert carries the event's fields; our sequence is in pid */
	seq = rw_event__int(rec, RW_F_PROC_PID, -1);
	if (seq < 0 || (uint64_t)seq >= b->cap)
		return;
	if (b->seen[seq])
		b->dups++;
	else
		b->n_seen++;
	b->seen[seq] = 1;
}

static void make_event(struct rw_event *ev, uint64_t seq)
{
	char cmd[96];

	rw_event__reset(ev);
	snprintf(cmd, sizeof(cmd), "bench-target --n %llu", (unsigned long long)seq);
	rw_event__set_time(ev, RW_F_TIMESTAMP, 1);
	rw_event__set_cstr(ev, RW_F_EVENT_KIND, "event");
	rw_event__set_cstr(ev, RW_F_EVENT_ACTION, "exec");
	rw_event__set_int(ev, RW_F_EVENT_SEQUENCE, (int64_t)seq);
	rw_event__set_int(ev, RW_F_PROC_PID, (int64_t)seq);
	rw_event__set_cstr(ev, RW_F_PROC_NAME, "bench-target");
	rw_event__set_cstr(ev, RW_F_PROC_EXECUTABLE, "/usr/bin/bench-target");
	rw_event__set_cstr(ev, RW_F_PROC_COMMAND_LINE, cmd);
	rw_event__set_cstr(ev, RW_F_PROC_CWD, "/tmp");
	rw_event__set_cstr(ev, RW_F_PROC_UID, "0");
	rw_event__set_cstr(ev, RW_F_PROC_USER, "root");
	rw_event__set_int(ev, RW_F_PARENT_PID, 1);
	rw_event__set_cstr(ev, RW_F_PARENT_EXECUTABLE, "/usr/bin/bash");
	rw_event__set_cstr(ev, RW_F_HOST_HOSTNAME, "bench");
}

static const char rule[] =
	"title: bench every exec\n"
	"id: 0b0b0b0b-0000-4000-8000-000000000001\n"
	"status: test\n"
	"level: low\n"
	"logsource:\n    category: process_creation\n    product: linux\n"
	"detection:\n    selection:\n        Image|endswith: '/bench-target'\n"
	"    condition: selection\n";

static int setup_dirs(char *dir, char *content, char *state)
{
	FILE *f;
	char path[512];

	if (!mkdtemp(dir))
		return -errno;
	snprintf(content, 256, "%s/content", dir);
	snprintf(state, 256, "%s/state", dir);
	if (mkdir(content, 0700) < 0)
		return -errno;
	snprintf(path, sizeof(path), "%s/bench.yml", content);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fputs(rule, f);
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "engine", required_argument, NULL, 'e' },
		{ "rate", required_argument, NULL, 'r' },
		{ "seconds", required_argument, NULL, 's' },
		{ "kills", required_argument, NULL, 'k' },
		{ "ring-mb", required_argument, NULL, 'm' },
		{ 0 }
	};
	char dir[256] = "/tmp/ringward-bench-containment.XXXXXX", content[256], state[256];
	const char *engine = "build/ringward", *paths[1];
	unsigned long rate = 100000, seconds = 3, kills = 3, ring_mb = 64;
	struct bench b = { 0 };
	struct supervisor_opts o = { 0 };
	struct supervisor_host host = { &b, on_write };
	struct supervisor *sv;
	struct rw_event *ev = rw_event__new();
	uint64_t c[RW_C__COUNT], fed = 0, t0, t_end, next_tick, resume_us[MAX_KILLS];
	uint64_t kill_at[MAX_KILLS], killed_ns = 0, events_at_kill = 0, worst = 0;
	pid_t killed_pid = 0;
	unsigned n_kills = 0, n_resumed = 0;
	int opt, rc = 1;
	char cmd[600];

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'e': engine = optarg; break;
		case 'r': rate = strtoul(optarg, NULL, 10); break;
		case 's': seconds = strtoul(optarg, NULL, 10); break;
		case 'k': kills = strtoul(optarg, NULL, 10); break;
		case 'm': ring_mb = strtoul(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "usage: containment [--engine PATH] [--rate N] "
				"[--seconds S] [--kills K] [--ring-mb N]\n");
			return 2;
		}
	}
	if (kills > MAX_KILLS)
		kills = MAX_KILLS;
	if (!ev || setup_dirs(dir, content, state)) {
		perror("containment");
		return 1;
	}
	b.cap = rate * seconds + 16;
	b.seen = calloc(b.cap, 1);
	if (!b.seen)
		return 1;
	paths[0] = content;
	o.engine_exe = engine;
	o.state_dir = state;
	o.content = paths;
	o.n_content = 1;
	o.ring_bytes = (size_t)ring_mb << 20;
	o.window_s = 3600;	/* the kills are not the content's fault: no rollback */
	o.failures = 1000;
	sv = supervisor__new(&o, &host);
	if (!sv) {
		perror("containment: supervisor");
		goto cleanup;
	}
	/* wait for the engine to have loaded the rule */
	for (int i = 0; i < 2000 && !supervisor__active(sv)[0]; i++) {
		supervisor__tick(sv);
		sleep_until(now_ns() + TICK_NS);
	}
	if (!supervisor__active(sv)[0]) {
		fprintf(stderr, "containment: the engine did not load its content\n");
		goto cleanup;
	}

	t0 = now_ns();
	t_end = t0 + seconds * 1000000000ULL;
	for (unsigned i = 0; i < kills; i++)
		kill_at[i] = t0 + (i + 1) * (t_end - t0) / (kills + 1);
	next_tick = t0;
	while (now_ns() < t_end || killed_pid) {
		uint64_t now = now_ns();

		if (now >= next_tick) {
			/* one tick's worth of events, then the tick, as the sensor */
			uint64_t due = now < t_end ? (now - t0) * rate / 1000000000ULL : fed;

			while (fed < due && fed < b.cap - 1) {
				make_event(ev, fed);
				supervisor__feed(sv, ev);
				fed++;
			}
			supervisor__tick(sv);
			next_tick += TICK_NS;
		}
		supervisor__counters(sv, c);
		if (!killed_pid && n_kills < kills && now >= kill_at[n_kills] &&
		    supervisor__engine_pid(sv) > 0) {
			killed_pid = supervisor__engine_pid(sv);
			events_at_kill = c[RW_C_ENGINE_EVENTS];
			killed_ns = now_ns();
			kill(killed_pid, SIGKILL);
			n_kills++;
		} else if (killed_pid && supervisor__engine_pid(sv) > 0 &&
			   supervisor__engine_pid(sv) != killed_pid &&
			   c[RW_C_ENGINE_EVENTS] > events_at_kill) {
			resume_us[n_resumed] = (now_ns() - killed_ns) / 1000;	/* us */
			if (resume_us[n_resumed] > worst)
				worst = resume_us[n_resumed];
			n_resumed++;
			killed_pid = 0;
		} else if (killed_pid) {
			/* the dead engine's count is frozen until it is reaped */
			if (!supervisor__engine_pid(sv))
				events_at_kill = c[RW_C_ENGINE_EVENTS];
		}
		sleep_until(now_ns() + POLL_NS);
	}
	/* let the engine finish what is queued */
	for (int i = 0; i < 2000 && b.n_seen < fed; i++) {
		supervisor__tick(sv);
		sleep_until(now_ns() + TICK_NS);
	}
	supervisor__counters(sv, c);
	printf("containment: %lu events/s for %lu s, %u kill -9 of the engine\n", rate, seconds,
	       n_kills);
	printf("  crash to evaluation resumed (ms):");
	for (unsigned i = 0; i < n_resumed; i++)
		printf(" %.1f", (double)resume_us[i] / 1000.0);
	printf("  worst %.1f (target <= 100)\n", (double)worst / 1000.0);
	printf("  events fed %llu, evaluated %llu, lost %llu (target 0); ring full %llu, "
	       "duplicate alerts suppressed %llu, engine starts %llu\n",
	       (unsigned long long)fed, (unsigned long long)b.n_seen,
	       (unsigned long long)(fed - b.n_seen),
	       (unsigned long long)c[RW_C_DROP_ENGINE_RING_FULL],
	       (unsigned long long)c[RW_C_ENGINE_DUP_ALERTS],
	       (unsigned long long)c[RW_C_ENGINE_STARTS]);
	rc = fed == b.n_seen ? 0 : 3;
	supervisor__stop(sv, 2000);
cleanup:
	supervisor__free(sv);
	free(b.seen);
	free(ev);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "containment: could not remove %s\n", dir);
	return rc;
}
