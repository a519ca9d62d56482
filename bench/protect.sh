#!/bin/sh
# Protect mode: the latency an exec gains (issue 5), per exec, median and
# p99, with a cached verdict (the same file again) and a cold one (a new
# inode each time: the engine is asked), against detect mode and against
# no sensor, in the same run, modes alternated within each round so that
# drift hits all of them. Target: p99 added <= 100 us with a cached verdict.
#
# The content is the default rules plus one block rule on process_creation
# (so that exec permission events are in force); the rule never matches.
# Run it alone on the machine, as root.
#
# Knobs (environment): PROTECT_RUNS=2000 PROTECT_ROUNDS=3
set -u
cd "$(dirname "$0")/.." || exit 1

BUILD=${BUILD:-build}
RUNS=${PROTECT_RUNS:-2000}
ROUNDS=${PROTECT_ROUNDS:-3}
make -s "$BUILD/ringward" || exit 1
mkdir -p "$BUILD/bench" || exit 1
cc -O2 -Wall -Wextra -Werror -o "$BUILD/bench/protect_lat" bench/protect_lat.c || exit 1
LAT=$BUILD/bench/protect_lat

T=$(mktemp -d /tmp/ringward-bench-protect.XXXXXX) || exit 1
SPID=
cleanup() {
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT INT TERM
mkdir -p "$T/rules" || exit 1
cat > "$T/rules/block.yml" <<'RULE'
title: ringward bench block rule (never matches)
id: 0a7c1d2e-0000-4000-8000-0000000000be
status: test
author: ringward bench
level: high
logsource:
    product: linux
    category: process_creation
detection:
    sel:
        Image|endswith: '/rw-bench-never-runs'
    condition: sel
ringward:
    action: block
RULE
cp /bin/true "$T/true" || exit 1

start_sensor() {	# $1: detect | protect
	"$BUILD/ringward" run --mode "$1" --content content/rules --content "$T/rules" \
		--state-dir "$T/state-$1" --status-socket "$T/status.sock" \
		--output /dev/null 2>"$T/sensor.err" &
	SPID=$!
	i=0
	# ready: the status socket answers with content loaded
	while [ $i -lt 200 ]; do
		if "$BUILD/ringward" status --socket "$T/status.sock" 2>/dev/null |
		   grep -q '"rules":[1-9]'; then
			sleep 1
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	echo "protect.sh: the sensor did not come up:" >&2
	cat "$T/sensor.err" >&2
	return 1
}

stop_sensor() {
	kill "$SPID" && wait "$SPID" 2>/dev/null
	SPID=
}

measure() {	# $1: mode, $2: round -> lines "mode cached|cold median p99"
	rm -rf "$T/cold" && mkdir -p "$T/cold" || return 1
	c=$("$LAT" --runs "$RUNS" --file "$T/true") || return 1
	k=$("$LAT" --runs "$RUNS" --cold-dir "$T/cold" --make-cold /bin/true) || return 1
	echo "$1 cached $c" >> "$T/results"
	echo "$1 cold $k" >> "$T/results"
	printf '  round %d  %-8s cached median %8s us p99 %8s us   cold median %8s us p99 %8s us\n' \
		"$2" "$1" $c $k
}

: > "$T/results"
r=1
while [ $r -le "$ROUNDS" ]; do
	for mode in none detect protect; do
		if [ "$mode" != none ]; then
			start_sensor "$mode" || exit 1
		fi
		measure "$mode" "$r" || exit 1
		[ "$mode" != none ] && stop_sensor
	done
	r=$((r + 1))
done

echo
echo "median over $ROUNDS rounds of $RUNS execs each (us); added = mode - none"
awk '
{ k = $1 " " $2; n[k]++; med[k, n[k]] = $3; p99[k, n[k]] = $4 }
function mid(a, k, m,   i, j, t, v) {
	for (i = 1; i <= m; i++) v[i] = a[k, i]
	for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
	return v[int((m + 1) / 2)]
}
END {
	printf "%-8s %-6s %10s %10s %12s %12s\n", "mode", "verdict", "median", "p99", "added med", "added p99"
	split("none detect protect", modes, " ")
	split("cached cold", kinds, " ")
	for (i = 1; i <= 3; i++) for (j = 1; j <= 2; j++) {
		k = modes[i] " " kinds[j]; b = "none " kinds[j]
		m = mid(med, k, n[k]); p = mid(p99, k, n[k])
		bm = mid(med, b, n[b]); bp = mid(p99, b, n[b])
		printf "%-8s %-6s %10.1f %10.1f %+12.1f %+12.1f\n", modes[i], kinds[j], m, p, m - bm, p - bp
	}
}' "$T/results"
