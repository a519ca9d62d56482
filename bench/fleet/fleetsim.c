/*
 * fleetsim: the fleet replay of 19 July 2024 (bench/fleet/README.md).
 *
 * Runs the three policies of fleet_model.h over the fleet, prints the
 * table (Markdown) and the target checks of ringward's default rings
 * (PASS/FAIL lines), and writes the table and a PNG chart of the hosts
 * without detection over time.
 *
 *   fleetsim [--hosts N] [--seed N] [--salt S] [--crash-fraction F]
 *            [--no-lkg-fraction F] [--reboot-race F] [--md FILE] [--png FILE]
 *
 * Exit: 0 when every target holds, 3 when one fails, 1 on errors.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fleet_model.h"
#include "plot.h"

#define NPOL	FLEET__N_POLICIES

/* ---- formatting ------------------------------------------------------------- */

/* 8500000 -> "8,500,000" into buf. */
static const char *fmt_n(char *buf, size_t len, double v)
{
	char tmp[32];
	int n, i, j = 0, lead;

	if (!isfinite(v)) {
		snprintf(buf, len, "never");
		return buf;
	}
	n = snprintf(tmp, sizeof(tmp), "%.0f", v);
	lead = n % 3 ? n % 3 : 3;
	for (i = 0; i < n && j + 2 < (int)len; i++) {
		if (i && i >= lead && (i - lead) % 3 == 0 && tmp[i - 1] != '-')
			buf[j++] = ',';
		buf[j++] = tmp[i];
	}
	buf[j] = 0;
	return buf;
}

/* A duration, readably: 0.84 s, 6 min 30 s, 1 h 18 min, 2 d 4 h. */
static const char *fmt_dur(char *buf, size_t len, double s)
{
	if (!isfinite(s))
		snprintf(buf, len, "never");
	else if (s < 60)
		snprintf(buf, len, "%.2f s", s);
	else if (s < 3600)
		snprintf(buf, len, "%d min %02d s", (int)(s / 60), (int)fmod(s, 60));
	else if (s < 86400)
		snprintf(buf, len, "%d h %02d min", (int)(s / 3600), (int)fmod(s / 60, 60));
	else
		snprintf(buf, len, "%d d %02d h", (int)(s / 86400), (int)fmod(s / 3600, 24));
	return buf;
}

/* Output to stdout and, when open, the Markdown file. */
static FILE *g_md;

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (g_md) {
		va_start(ap, fmt);
		vfprintf(g_md, fmt, ap);
		va_end(ap);
	}
}

/* ---- the table -------------------------------------------------------------- */

#define B 48
/* A cell of the table: policy r's value of one row, into b[l]. */
typedef void (*cell_fn)(const struct fleet_params *p, const struct fleet_result *r,
			char *b, size_t l);
#define CELL(name)							\
	static void name(const struct fleet_params *p, const struct fleet_result *r, \
			 char *b, size_t l)

CELL(c_online)
{
	fmt_n(b, l, r->online_t0);
}

CELL(c_received)
{
	fmt_n(b, l, r->received);
}

CELL(c_by_ring)
{
	char x[B], y[B], z[B];

	if (r->policy != FLEET_RINGS) {
		snprintf(b, l, "(no rings)");
		return;
	}
	snprintf(b, l, "%s / %s / %s", fmt_n(x, B, r->received_ring[FLEET_CANARY]),
		 fmt_n(y, B, r->received_ring[FLEET_EARLY]),
		 fmt_n(z, B, r->received_ring[FLEET_BROAD]));
}

CELL(c_ring_sizes)
{
	char x[B], y[B], z[B];

	if (r->policy != FLEET_RINGS) {
		snprintf(b, l, "(no rings)");
		return;
	}
	snprintf(b, l, "%s / %s / %s", fmt_n(x, B, r->ring_hosts[FLEET_CANARY]),
		 fmt_n(y, B, r->ring_hosts[FLEET_EARLY]), fmt_n(z, B, r->ring_hosts[FLEET_BROAD]));
}

CELL(c_crashed)
{
	fmt_n(b, l, r->crashed);
}

CELL(c_down)
{
	fmt_n(b, l, r->down_hosts);
}

CELL(c_hours)
{
	if (r->down_host_hours < 100)
		snprintf(b, l, "%.2f", r->down_host_hours);
	else
		fmt_n(b, l, r->down_host_hours);
}

CELL(c_p50)
{
	fmt_dur(b, l, r->down_p50_s);
}

CELL(c_p99)
{
	fmt_dur(b, l, r->down_p99_s);
}

CELL(c_max)
{
	fmt_dur(b, l, r->down_max_s);
}

CELL(c_horizon)
{
	fmt_n(b, l, r->down_at_horizon);
}

CELL(c_local)
{
	if (r->policy == FLEET_ALL_DRIVER)
		snprintf(b, l, "0 (no local rollback)");
	else
		fmt_n(b, l, r->local_rollbacks);
}

CELL(c_over)
{
	fmt_n(b, l, r->over_bound);
}

CELL(c_halt)
{
	char x[B], y[B];

	if (r->halt_s < 0)
		snprintf(b, l, "no halt");
	else if (r->policy == FLEET_RINGS)
		snprintf(b, l, "halt decided %s, published %s", fmt_dur(x, B, r->halt_s),
			 fmt_dur(y, B, r->halt_published_s));
	else
		snprintf(b, l, "manual revert %s", fmt_dur(x, B, r->halt_published_s));
}

CELL(c_evidence)
{
	char w[B], x[B], y[B], z[B];

	if (r->policy != FLEET_RINGS || r->halt_s < 0) {
		snprintf(b, l, "-");
		return;
	}
	snprintf(b, l, "new: %s of %s failed; old: %s of %s", fmt_n(w, B, r->halt_new_failed),
		 fmt_n(x, B, r->halt_new_hosts), fmt_n(y, B, r->halt_old_failed),
		 fmt_n(z, B, r->halt_old_hosts));
}

CELL(c_peak)
{
	char x[B], y[B];

	snprintf(b, l, "%s (at %s)", fmt_n(x, B, r->peak_down), fmt_dur(y, B, r->peak_down_at_s));
}

CELL(c_refused)
{
	if (r->policy == FLEET_ALL_DRIVER)
		snprintf(b, l, "n/a (no TUF)");
	else
		fmt_n(b, l, r->clock_refused);
}

CELL(c_stamped)
{
	fmt_n(b, l, r->stamped_before_release);
}

static const struct row {
	const char *name;
	cell_fn fn;
} rows[] = {
	{ "hosts online at T0 (04:09 UTC)", c_online },
	{ "hosts that received the bad version", c_received },
	{ "... by ring: canary / early / broad", c_by_ring },
	{ "ring sizes: canary / early / broad", c_ring_sizes },
	{ "hosts whose engine crash-looped", c_crashed },
	{ "hosts left without detection", c_down },
	{ "host-hours without detection", c_hours },
	{ "without detection per host: p50", c_p50 },
	{ "without detection per host: p99", c_p99 },
	{ "without detection per host: max", c_max },
	{ "still without detection when the run ends", c_horizon },
	{ "back by local rollback (last-known-good)", c_local },
	{ "down longer than own restart + rollback", c_over },
	{ "time until the halt (from T0)", c_halt },
	{ "gate evidence at the halt", c_evidence },
	{ "most hosts without detection at once", c_peak },
	{ "clock ahead past metadata expiry: took nothing", c_refused },
	{ "failure records stamped before T0 (host clock)", c_stamped },
};

static void print_table(const struct fleet_params *p, const struct fleet_result *r)
{
	char buf[160];
	size_t i;
	int k;

	out("| | %s | %s | %s |\n|---|---:|---:|---:|\n", fleet__policy_name(FLEET_ALL_DRIVER),
	    fleet__policy_name(FLEET_ALL_RINGWARD), fleet__policy_name(FLEET_RINGS));
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		out("| %s |", rows[i].name);
		for (k = 0; k < NPOL; k++) {
			rows[i].fn(p, &r[k], buf, sizeof(buf));
			out(" %s |", buf);
		}
		out("\n");
	}
}

static void print_over_time(const struct fleet_result *r)
{
	static const double at[] = { 60, 300, 900, 3600, 6 * 3600, 86400, 3 * 86400,
				     7 * 86400, 21 * 86400 };
	char t[B], d[B], x[B], y[B];
	size_t i;
	int k;

	out("\nHosts without detection at that moment, and hosts back on good content of "
	    "those that received the bad version so far:\n\n| after T0 |");
	for (k = 0; k < NPOL; k++)
		out(" %s: without detection | back on good |",
		    k == FLEET_ALL_DRIVER ? "driver, all at once" :
		    k == FLEET_ALL_RINGWARD ? "ringward, all at once" : "ringward rings");
	out("\n|---|");
	for (k = 0; k < NPOL; k++)
		out("---:|---:|");
	out("\n");
	for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		out("| %s |", fmt_dur(t, B, at[i]));
		for (k = 0; k < NPOL; k++)
			out(" %s | %s / %s |", fmt_n(d, B, fleet_result__down_at(&r[k], at[i])),
			    fmt_n(x, B, fleet_result__back_by(&r[k], at[i])),
			    fmt_n(y, B, fleet_result__recv_by(&r[k], at[i])));
		out("\n");
	}
}

/* The targets of ringward's default rings; returns the failures. */
static int print_targets(const struct fleet_params *p, const struct fleet_result *r)
{
	const struct fleet_result *g = &r[FLEET_RINGS];
	char x[B], y[B], z[B];
	int fails = 0;
	bool ok;

	out("\nTargets with ringward's default rings:\n\n```\n");
	ok = g->received_ring[FLEET_EARLY] == 0 && g->received_ring[FLEET_BROAD] == 0 &&
	     g->ring_start_s[FLEET_EARLY] < 0;
	fails += !ok;
	out("%s  the bad version never leaves the canary ring: early %s, broad %s hosts "
	    "received it\n",
	    ok ? "PASS" : "FAIL", fmt_n(x, B, g->received_ring[FLEET_EARLY]),
	    fmt_n(y, B, g->received_ring[FLEET_BROAD]));
	ok = g->halt_s >= 0 && g->halt_published_s <= p->bake_s[FLEET_CANARY];
	fails += !ok;
	out("%s  the halt lands within one bake period: published %s after T0, canary bake %s\n",
	    ok ? "PASS" : "FAIL", g->halt_s < 0 ? "never" : fmt_dur(x, B, g->halt_published_s),
	    fmt_dur(y, B, p->bake_s[FLEET_CANARY]));
	ok = g->over_bound == 0 && g->down_at_horizon == 0;
	fails += !ok;
	out("%s  no host without detection longer than its engine restart + rollback: %s of %s "
	    "over (max %s)\n", ok ? "PASS" : "FAIL", fmt_n(x, B, g->over_bound),
	    fmt_n(y, B, g->down_hosts), fmt_dur(z, B, g->down_max_s));
	out("```\n");
	return fails;
}

/* ---- the chart -------------------------------------------------------------- */

#define W	1400
#define H	920
#define PX0	150	/* plot area */
#define PX1	1370
#define PY0	80
#define PY1	660
#define TMIN	10.0
#define TMAX	(21 * 86400.0)
#define YMIN	-0.5	/* log10 hosts */
#define YMAX	7.0

static const uint32_t colour[NPOL] = { 0xd62728, 0xff8c00, 0x1f5fbf };
static const char *const legend[NPOL] = {
	"all at once, driver-style sensor (19 July 2024): the host crashes until repaired by hand",
	"all at once, ringward sensor: the supervisor rolls back to last-known-good",
	"ringward default rings (canary 1%, early 10%, broad): the controller halts in canary",
};

static int x_of(double t)
{
	double f = (log10(t) - log10(TMIN)) / (log10(TMAX) - log10(TMIN));

	return PX0 + (int)lround(f * (PX1 - PX0));
}

static double t_of(int x)
{
	return pow(10, log10(TMIN) + (double)(x - PX0) / (PX1 - PX0) * (log10(TMAX) - log10(TMIN)));
}

static int y_of(double v)
{
	double l = v > 0 ? log10(v) : YMIN;

	if (l < YMIN)
		l = YMIN;
	return PY1 - (int)lround((l - YMIN) / (YMAX - YMIN) * (PY1 - PY0));
}

/* Mean hosts without detection over the seconds one pixel column spans. */
static double column_mean(const struct fleet_result *r, int x)
{
	double a = t_of(x), b = t_of(x + 1), s = 0;
	uint32_t i, i0 = (uint32_t)a, i1 = (uint32_t)ceil(b);

	if (i1 > r->n_sec)
		i1 = r->n_sec;
	if (i1 <= i0 + 1)
		return fleet_result__down_at(r, a);
	for (i = i0; i < i1; i++)
		s += r->down[i];
	return s / (i1 - i0);
}

/* A dashed vertical line at t, labelled on its right (left: on its left). */
static void vmarker(struct plot *pl, double t, uint32_t rgb, const char *label, bool left)
{
	int x = x_of(t);

	plot__line(pl, x, PY0, x, PY1, 2, 6, rgb);
	plot__text(pl, left ? x - 8 - plot__text_w(2, label) : x + 8, PY0 + 8, 2, rgb, label);
}

static int write_chart(const char *path, const struct fleet_params *p, const struct fleet_result *r)
{
	static const struct { double t; const char *s; } xt[] = {
		{ 10, "10 s" }, { 60, "1 min" }, { 600, "10 min" }, { 3600, "1 h" },
		{ 6 * 3600, "6 h" }, { 86400, "1 d" }, { 7 * 86400, "7 d" }, { 21 * 86400, "21 d" },
	};
	static const char *const yl[] = { "1", "10", "100", "1k", "10k", "100k", "1M", "10M" };
	struct plot *pl = plot__new(W, H);
	char title[160], n[B], buf[200], d[B];
	int i, k, x, y, prev_y, lx, ly;
	double v;
	int err;

	if (!pl)
		return -errno;
	snprintf(title, sizeof(title), "19 July 2024 replayed on %s hosts: hosts without detection",
		 fmt_n(n, B, p->hosts));
	plot__text(pl, (W - plot__text_w(3, title)) / 2, 18, 3, 0x000000, title);

	/* grid and axes */
	for (i = 0; i < (int)(sizeof(xt) / sizeof(xt[0])); i++) {
		x = x_of(xt[i].t);
		plot__line(pl, x, PY0, x, PY1, 1, 0, 0xdddddd);
		plot__line(pl, x, PY1, x, PY1 + 6, 2, 0, 0x000000);
		plot__text(pl, x - plot__text_w(2, xt[i].s) / 2, PY1 + 12, 2, 0x000000, xt[i].s);
	}
	for (i = 0; i <= 7; i++) {
		y = y_of(pow(10, i));
		plot__line(pl, PX0, y, PX1, y, 1, 0, 0xdddddd);
		plot__line(pl, PX0 - 6, y, PX0, y, 2, 0, 0x000000);
		plot__text(pl, PX0 - 12 - plot__text_w(2, yl[i]), y - 7, 2, 0x000000, yl[i]);
	}
	plot__text(pl, PX0 - 12 - plot__text_w(2, "0"), PY1 - 7, 2, 0x000000, "0");
	plot__line(pl, PX0, PY1, PX1, PY1, 2, 0, 0x000000);
	plot__line(pl, PX0, PY0, PX0, PY1, 2, 0, 0x000000);
	snprintf(buf, sizeof(buf),
		 "time after the bad content's release (T0 = 04:09 UTC), log scale");
	plot__text(pl, (PX0 + PX1 - plot__text_w(2, buf)) / 2, PY1 + 40, 2, 0x000000, buf);
	plot__text(pl, 12, PY0 - 30, 2, 0x000000,
		   "hosts without detection (mean per pixel column, log)");

	/* when content stopped going out */
	vmarker(pl, r[FLEET_ALL_DRIVER].halt_published_s, 0x888888, "vendor revert 05:27 UTC",
		false);
	if (r[FLEET_RINGS].halt_s >= 0) {
		snprintf(buf, sizeof(buf), "ringward halt +%s",
			 fmt_dur(d, B, r[FLEET_RINGS].halt_published_s));
		vmarker(pl, r[FLEET_RINGS].halt_published_s, colour[FLEET_RINGS], buf, true);
	}

	/* the series, later ones on top */
	for (k = 0; k < NPOL; k++) {
		prev_y = -1;
		for (x = PX0; x < PX1; x++) {
			v = column_mean(&r[k], x);
			y = y_of(v);
			if (prev_y >= 0)
				plot__line(pl, x - 1, prev_y, x, y, 3, 0, colour[k]);
			prev_y = y;
		}
	}

	/* legend, under the plot: no curve is ever hidden behind it */
	lx = PX0;
	ly = PY1 + 78;
	plot__frame(pl, lx - 10, ly - 10, PX1, ly + NPOL * 46 + 2, 0x888888);
	for (k = 0; k < NPOL; k++) {
		y = ly + k * 46;
		plot__line(pl, lx + 2, y + 7, lx + 42, y + 7, 4, 0, colour[k]);
		plot__text(pl, lx + 54, y, 2, 0x000000, legend[k]);
		snprintf(buf, sizeof(buf),
			 "%s hosts without detection, %s host-hours, max %s per host",
			 fmt_n(n, B, r[k].down_hosts), r[k].down_host_hours < 100 ?
			 (snprintf(title, sizeof(title), "%.1f", r[k].down_host_hours), title) :
			 fmt_n(title, sizeof(title), r[k].down_host_hours),
			 fmt_dur(d, B, r[k].down_max_s));
		plot__text(pl, lx + 54, y + 20, 2, 0x444444, buf);
	}

	snprintf(buf, sizeof(buf), "make fleet: build/fleetsim --hosts %u --seed %llu; "
		 "the model: bench/fleet/README.md", p->hosts, (unsigned long long)p->seed);
	plot__text(pl, W - 12 - plot__text_w(1, buf) * 1, H - 14, 1, 0x666666, buf);
	err = plot__write_png(pl, path);
	plot__free(pl);
	return err;
}

/* ---- main ------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f, "usage: fleetsim [--hosts N] [--seed N] [--salt S] [--crash-fraction F]\n"
		   "                [--no-lkg-fraction F] [--reboot-race F]\n"
		   "                [--md FILE] [--png FILE]\n");
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "hosts", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ "salt", required_argument, NULL, 'S' },
		{ "crash-fraction", required_argument, NULL, 'c' },
		{ "no-lkg-fraction", required_argument, NULL, 'L' },
		{ "reboot-race", required_argument, NULL, 'r' },
		{ "md", required_argument, NULL, 'm' },
		{ "png", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct fleet_result r[NPOL];
	struct fleet_params p;
	const char *md = NULL, *png = NULL;
	char n[B];
	double t0, t1;
	int c, k, err, fails, ran = 0, rc = 1;

	fleet_params__default(&p);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': p.hosts = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 's': p.seed = strtoull(optarg, NULL, 10); break;
		case 'S': p.salt = optarg; break;
		case 'c': p.crash_fraction = strtod(optarg, NULL); break;
		case 'L': p.no_lkg_fraction = strtod(optarg, NULL); break;
		case 'r': p.reboot_race_fraction = strtod(optarg, NULL); break;
		case 'm': md = optarg; break;
		case 'p': png = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}
	if (md && !(g_md = fopen(md, "w"))) {
		fprintf(stderr, "fleetsim: %s: %s\n", md, strerror(errno));
		return 1;
	}

	t0 = now_s();
	for (k = 0; k < NPOL; k++, ran++) {
		err = fleet__run(&p, (enum fleet_policy)k, &r[k]);
		if (err) {
			fprintf(stderr, "fleetsim: %s: %s\n", fleet__policy_name(k),
				strerror(-err));
			goto cleanup;
		}
	}
	t1 = now_s();

	out("# Fleet replay: 19 July 2024 on %s hosts\n\n", fmt_n(n, B, p.hosts));
	out("`fleetsim --hosts %u --seed %llu --salt %s --crash-fraction %g --no-lkg-fraction %g "
	    "--reboot-race %g`; T0 = 2024-07-19 04:09 UTC, the release of a content version that "
	    "crashes the engine on %g%% of hosts. The model and every number in it: "
	    "bench/fleet/README.md.\n\n", p.hosts, (unsigned long long)p.seed, p.salt,
	    p.crash_fraction, p.no_lkg_fraction, p.reboot_race_fraction, 100 * p.crash_fraction);
	print_table(&p, r);
	print_over_time(r);
	fails = print_targets(&p, r);
	/* the run time goes to stdout only: results.md stays the same run to run */
	printf("\nsimulated %u hosts x %d policies in %.1f s (wall)\n", p.hosts, NPOL, t1 - t0);

	if (png) {
		err = write_chart(png, &p, r);
		if (err) {
			fprintf(stderr, "fleetsim: %s: %s\n", png, strerror(-err));
			goto cleanup;
		}
	}
	rc = fails ? 3 : 0;
cleanup:
	for (k = 0; k < ran; k++)
		fleet_result__free(&r[k]);
	if (g_md && fclose(g_md) && rc != 1) {
		fprintf(stderr, "fleetsim: %s: %s\n", md, strerror(errno));
		rc = 1;
	}
	return rc;
}
