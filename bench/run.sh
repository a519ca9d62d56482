#!/bin/sh
# Host overhead of the running sensor, side by side with auditd.
#
# For each workload (bench/workload.c), BENCH_ROUNDS rounds; each round runs
# the workload with no sensor (base), under `ringward run --events --output
# FILE`, and under auditd with equivalent rules, in an order that rotates
# every round so that drift hits every mode alike. Per workload it prints
# the median on/off ratio of each tool, ringward's completeness (events
# seen for the workload / operations done, worst round), the drops the
# sensor reported, and its peak RSS (VmHWM).
#
# Run it alone on the machine (make bench). Knobs (environment):
#   BENCH_ROUNDS=5  BENCH_WORKLOADS="exec churn connect mixed"
#   BENCH_MODES="base ringward fanotify auditd"   (fanotify: the kernel's
#                           cost of the sensor's file hook alone, bench/fanfloor.c)
#   BENCH_EXEC_N=4000 BENCH_CHURN_N=150000 BENCH_CONNECT_N=20000 BENCH_MIXED_N=500000
#   BENCH_DIR=/dev/shm      where the workloads' files go (a fresh dir inside;
#                           /dev/shm when it is a tmpfs, else /tmp)
#   BENCH_SETTLE=0.5        seconds between the workload's end and stopping the sensor
#   BENCH_RINGWARD_ARGS=    extra arguments for `ringward run`
#   BENCH_FANFLOOR_ARGS=    "REPORT MASK" for bench/fanfloor.c instead of the sensor's
#   RINGWARD=build/ringward
set -u
cd "$(dirname "$0")/.." || exit 1

BUILD=${BUILD:-build}
RINGWARD=${RINGWARD:-$BUILD/ringward}
ROUNDS=${BENCH_ROUNDS:-5}
WORKLOADS=${BENCH_WORKLOADS:-exec churn connect mixed}
MODES=${BENCH_MODES:-base ringward fanotify auditd}
EXEC_N=${BENCH_EXEC_N:-4000}
CHURN_N=${BENCH_CHURN_N:-150000}
CONNECT_N=${BENCH_CONNECT_N:-20000}
MIXED_N=${BENCH_MIXED_N:-500000}
SETTLE=${BENCH_SETTLE:-0.5}
RW_ARGS=${BENCH_RINGWARD_ARGS:-}
FLOOR_ARGS=${BENCH_FANFLOOR_ARGS:-}
OUT=$BUILD/bench
AUDIT_KEY=ringward-bench

mkdir -p "$OUT" || exit 1
# The workloads' files go to a tmpfs by default (as in ../shared/MISSION.md):
# the work is then the CPU's, and a few percent of overhead is measurable;
# on this VM's ext4 /tmp the disk alone moved churn's baseline 4.4-6.8 s
# within one run. BENCH_DIR=/tmp measures on disk.
if [ -z "${BENCH_DIR:-}" ]; then
	BENCH_DIR=/tmp
	[ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] && [ -w /dev/shm ] && BENCH_DIR=/dev/shm
fi
WORK=$(mktemp -d "$BENCH_DIR/ringward-bench.XXXXXX") || exit 1
# the sensor's --output goes to disk, as a deployment's log would
SINK=$(mktemp -d /tmp/ringward-bench-out.XXXXXX) || exit 1
RESULTS=$OUT/rounds.tsv
: >"$RESULTS"
SENSOR_PID=
FLOOR_PID=
AUDITD_STARTED=
AUDIT_RULES=

say() { printf '%s\n' "$*"; }

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
	if [ -n "$FLOOR_PID" ]; then
		kill -TERM "$FLOOR_PID" 2>/dev/null
		wait "$FLOOR_PID" 2>/dev/null
	fi
	if [ -n "$SENSOR_PID" ]; then
		kill -TERM "$SENSOR_PID" 2>/dev/null
		wait "$SENSOR_PID" 2>/dev/null
		SENSOR_PID=
	fi
	audit_off
	rm -rf "$WORK" "$SINK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- build the workload and the event counter ------------------------------
CC=${CC:-cc}
command -v "$CC" >/dev/null 2>&1 || CC=clang
if ! $CC -O2 -Wall -Wextra -Werror -o "$OUT/workload" bench/workload.c; then
	say "bench: cannot build bench/workload.c"; exit 1
fi
if ! $CC -O2 -Wall -Wextra -Werror -Isrc -o "$OUT/fanfloor" bench/fanfloor.c; then
	say "bench: cannot build bench/fanfloor.c"; exit 1
fi
if ! $CC -O2 -Wall -Wextra -Werror -o "$OUT/evcount" bench/evcount.c -ljson-c; then
	say "bench: cannot build bench/evcount.c (json-c: libjson-c-dev)"; exit 1
fi

# ---- which modes can run here ------------------------------------------------
RW_WHY=
AUDIT_WHY=
is_root() { [ "$(id -u)" = 0 ]; }

case " $MODES " in *" ringward "*)
	if ! is_root; then RW_WHY="not root (eBPF and fanotify need root)"
	elif [ ! -x "$RINGWARD" ]; then RW_WHY="$RINGWARD not built (make)"
	fi ;;
*) RW_WHY="not requested (BENCH_MODES)" ;;
esac

audit_probe() {
	if ! is_root; then AUDIT_WHY="not root"; return; fi
	if ! command -v auditctl >/dev/null 2>&1 || ! command -v auditd >/dev/null 2>&1; then
		say "bench: installing the auditd Debian package (the comparison peer)"
		if ! { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			auditd || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends auditd; }; } \
			>"$OUT/apt-auditd.log" 2>&1; then
			AUDIT_WHY="apt-get install auditd failed: $(tail -n 1 "$OUT/apt-auditd.log")"
			return
		fi
	fi
	# the kernel must have audit (CONFIG_AUDIT) and let us use it
	if ! auditctl -s >"$OUT/auditctl-s.log" 2>&1; then
		AUDIT_WHY="auditctl -s failed: $(head -n 1 "$OUT/auditctl-s.log")"
		return
	fi
	if grep -q '^enabled 2' "$OUT/auditctl-s.log"; then
		AUDIT_WHY="audit configuration is locked (enabled 2): rules cannot be changed"
	fi
}
case " $MODES " in *" auditd "*) audit_probe ;; *) AUDIT_WHY="not requested (BENCH_MODES)" ;; esac

[ -n "$RW_WHY" ] && say "bench: ringward mode skipped: $RW_WHY"
[ -n "$AUDIT_WHY" ] && say "bench: auditd mode skipped: $AUDIT_WHY"

# ---- auditd on/off -------------------------------------------------------------
auditd_running() { pidof auditd >/dev/null 2>&1; }

# Start auditd (unless it already runs) and load rules equivalent to what
# ringward watches in this workload: execve, writes/attribute changes
# under the workload's dir, connect. Returns non-zero, with AUDIT_WHY set,
# when it cannot.
audit_on() {	# $1 = dir
	if ! auditd_running; then
		if ! auditd >"$OUT/auditd-start.log" 2>&1; then
			AUDIT_WHY="auditd did not start: $(head -n 1 "$OUT/auditd-start.log")"
			return 1
		fi
		i=0
		while ! auditd_running && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		if ! auditd_running; then
			AUDIT_WHY="auditd exited at start: $(tail -n 1 /var/log/audit/audit.log 2>/dev/null)"
			return 1
		fi
		# the daemon we started, by its id (it forks: the pid file says)
		AUDITD_STARTED=$(cat /run/auditd.pid 2>/dev/null || cat /var/run/auditd.pid 2>/dev/null)
		if [ -z "$AUDITD_STARTED" ]; then
			AUDIT_WHY="auditd started but wrote no pid file (/run/auditd.pid)"
			return 1
		fi
	fi
	AUDIT_RULES=1
	if ! { auditctl -a always,exit -F arch=b64 -S execve -k $AUDIT_KEY &&
	       auditctl -a always,exit -F arch=b64 -S connect -k $AUDIT_KEY &&
	       auditctl -w "$1" -p wa -k $AUDIT_KEY; } >"$OUT/auditctl-rules.log" 2>&1; then
		AUDIT_WHY="auditctl could not add rules: $(head -n 1 "$OUT/auditctl-rules.log")"
		return 1
	fi
	return 0
}

audit_off() {
	if [ -n "$AUDIT_RULES" ]; then
		# delete only our rules (by key), whatever else the host has
		auditctl -D -k $AUDIT_KEY >/dev/null 2>&1
		AUDIT_RULES=
	fi
	if [ -n "$AUDITD_STARTED" ]; then
		kill -TERM "$AUDITD_STARTED" 2>/dev/null
		i=0
		while [ -d "/proc/$AUDITD_STARTED" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		AUDITD_STARTED=
	fi
}

# ---- one run -------------------------------------------------------------------
# Sets W_PID W_OPS W_CONNECTS W_NS from the workload's line.
run_workload() {	# $1 = workload, $2 = dir
	case $1 in
	exec) line=$("$OUT/workload" exec "$EXEC_N") ;;
	churn) line=$("$OUT/workload" churn "$CHURN_N" "$2") ;;
	connect) line=$("$OUT/workload" connect "$CONNECT_N") ;;
	mixed) line=$("$OUT/workload" mixed "$MIXED_N" "$2") ;;
	*) say "bench: unknown workload $1"; return 1 ;;
	esac || return 1
	W_PID=; W_OPS=; W_CONNECTS=0; W_NS=
	for kv in $line; do
		case $kv in
		pid=*) W_PID=${kv#pid=} ;;
		ops=*) W_OPS=${kv#ops=} ;;
		connects=*) W_CONNECTS=${kv#connects=} ;;
		elapsed_ns=*) W_NS=${kv#elapsed_ns=} ;;
		esac
	done
	[ -n "$W_PID" ] && [ -n "$W_OPS" ] && [ -n "$W_NS" ]
}

# Start the sensor and wait (up to 60 s) for its sensor-started record.
sensor_start() {	# $1 = output file, $2 = stderr file
	# shellcheck disable=SC2086
	"$RINGWARD" run --events --output "$1" $RW_ARGS 2>"$2" &
	SENSOR_PID=$!
	i=0
	while [ $i -lt 600 ]; do
		grep -q '"sensor-started"' "$1" 2>/dev/null && return 0
		kill -0 "$SENSOR_PID" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	say "bench: ringward did not start: $(tail -n 3 "$2" | tr '\n' ' ')"
	kill -TERM "$SENSOR_PID" 2>/dev/null
	wait "$SENSOR_PID" 2>/dev/null
	SENSOR_PID=
	return 1
}

# Peak RSS (VmHWM, KiB), then SIGTERM and wait (30 s, then SIGKILL: a
# sensor that does not stop is a finding, reported as rc=killed); sets
# S_HWM and S_RC.
sensor_stop() {
	S_HWM=$(awk '/^VmHWM:/ { print $2 }' "/proc/$SENSOR_PID/status" 2>/dev/null)
	kill -TERM "$SENSOR_PID" 2>/dev/null
	i=0
	while [ $i -lt 300 ] && [ -d "/proc/$SENSOR_PID" ] &&
	      ! grep -q '^State:.*Z' "/proc/$SENSOR_PID/status" 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	if [ $i -ge 300 ]; then
		say "bench: ringward did not stop within 30 s of SIGTERM; killing it"
		kill -KILL "$SENSOR_PID" 2>/dev/null
		wait "$SENSOR_PID" 2>/dev/null
		S_RC=killed
	else
		wait "$SENSOR_PID"
		S_RC=$?
	fi
	SENSOR_PID=
}

# Completeness of one ringward round, in percent, from evcount's line.
completeness() {	# $1 = workload, $2 = ops, $3 = connects, $4 = evcount line
	echo "$4" | awk -v w="$1" -v ops="$2" -v conn="$3" '{
		for (i = 1; i <= NF; i++) { split($i, kv, "="); c[kv[1]] = kv[2] }
		if (w == "exec") { seen = c["exec"]; want = ops }
		else if (w == "churn") {
			seen = c["create"]
			if (c["modify"] < seen) seen = c["modify"]
			if (c["rename"] < seen) seen = c["rename"]
			if (c["delete"] < seen) seen = c["delete"]
			want = ops
		} else if (w == "connect") { seen = c["connect"]; want = ops }
		else { seen = c["connect"]; want = conn }
		if (want == 0) print "n/a"; else printf "%.1f\n", 100 * seen / want
	}'
}

run_mode() {	# $1 = workload, $2 = round, $3 = mode
	dir=$WORK/$1-$2-$3
	mkdir -p "$dir"
	case $3 in
	base)
		run_workload "$1" "$dir" || { say "bench: $1 failed"; return 1; }
		extra=- ;;
	ringward)
		[ -n "$RW_WHY" ] && return 0
		out=$SINK/ringward-$1-$2.json
		sensor_start "$out" "$OUT/ringward-$1-$2.err" || return 0
		run_workload "$1" "$dir" || { say "bench: $1 failed"; sensor_stop; return 1; }
		sleep "$SETTLE"
		sensor_stop
		counts=$("$OUT/evcount" "$out" "$W_PID" "$dir")
		comp=$(completeness "$1" "$W_OPS" "$W_CONNECTS" "$counts")
		# which stage lost what: the non-zero drops.* counters of the
		# sensor-stopped record, before the output is removed
		stages=$(grep '"sensor-stopped"' "$out" | grep -o '"drops\.[a-z_.]*":[1-9][0-9]*' |
			 tr -d '"' | tr '\n' ',' | sed 's/,$//')
		extra="hwm_kib=${S_HWM:-0} rc=$S_RC completeness=$comp $counts${stages:+ lost=$stages}"
		rm -f "$out" ;;
	fanotify)
		is_root || return 0
		# shellcheck disable=SC2086  # two numbers, split on purpose
		"$OUT/fanfloor" "$dir" $FLOOR_ARGS >"$WORK/fanfloor.out" 2>"$OUT/fanfloor.err" &
		FLOOR_PID=$!
		i=0
		while ! grep -q ready "$WORK/fanfloor.out" 2>/dev/null && [ $i -lt 100 ]; do
			kill -0 "$FLOOR_PID" 2>/dev/null || break
			sleep 0.05
			i=$((i + 1))
		done
		if ! grep -q ready "$WORK/fanfloor.out" 2>/dev/null; then
			say "bench: fanotify mode skipped: $(cat "$OUT/fanfloor.err")"
			kill -TERM "$FLOOR_PID" 2>/dev/null
			wait "$FLOOR_PID" 2>/dev/null
			FLOOR_PID=
			return 0
		fi
		run_workload "$1" "$dir" || { say "bench: $1 failed"; kill -TERM "$FLOOR_PID"; return 1; }
		kill -TERM "$FLOOR_PID" 2>/dev/null
		wait "$FLOOR_PID" 2>/dev/null
		FLOOR_PID=
		extra=$(tail -n 1 "$WORK/fanfloor.out") ;;
	auditd)
		[ -n "$AUDIT_WHY" ] && return 0
		if ! audit_on "$dir"; then
			say "bench: auditd mode skipped from now on: $AUDIT_WHY"
			audit_off
			return 0
		fi
		run_workload "$1" "$dir" || { say "bench: $1 failed"; audit_off; return 1; }
		audit_off
		extra=- ;;
	esac
	rm -rf "$dir"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$W_NS" "$W_OPS" "$W_CONNECTS" "$extra" \
		>>"$RESULTS"
	say "  $1 round $2 $3: $((W_NS / 1000000)) ms ops=$W_OPS $extra"
}

# ---- the rounds ----------------------------------------------------------------
say "bench: rounds=$ROUNDS workloads=[$WORKLOADS] exec=$EXEC_N churn=$CHURN_N" \
    "connect=$CONNECT_N mixed=$MIXED_N dir=$WORK cpus=$(nproc) kernel=$(uname -r)"
for w in $WORKLOADS; do
	r=1
	while [ $r -le "$ROUNDS" ]; do
		# rotate the order: round 1 base,ringward,auditd; round 2
		# ringward,auditd,base; ...
		# shellcheck disable=SC2086  # a list, split on purpose
		set -- $MODES
		k=$(( (r - 1) % $# ))
		while [ $k -gt 0 ]; do m=$1; shift; set -- "$@" "$m"; k=$((k - 1)); done
		for m in "$@"; do
			run_mode "$w" "$r" "$m" || exit 1
		done
		r=$((r + 1))
	done
done

# ---- the table -------------------------------------------------------------------
median() { sort -g | awk '{ a[NR] = $1 } END {
	if (NR == 0) { print "n/a"; exit }
	if (NR % 2) printf "%.3f\n", a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# on/off ratio of each round where both ran
ratios() {	# $1 = workload, $2 = mode
	awk -F '\t' -v w="$1" -v m="$2" '
		$1 == w && $3 == "base" { base[$2] = $4 }
		$1 == w && $3 == m { on[$2] = $4 }
		END { for (r in on) if (r in base && base[r] > 0) print on[r] / base[r] }' "$RESULTS"
}

field_of() {	# $1 = workload, $2 = key: the values of key=... in ringward rounds
	awk -F '\t' -v w="$1" -v k="$2" '$1 == w && $3 == "ringward" {
		n = split($7, f, " "); for (i = 1; i <= n; i++) if (index(f[i], k "=") == 1) print substr(f[i], length(k) + 2) }' "$RESULTS"
}

say ""
say "ringward benchmark: median on/off ratio over $ROUNDS rounds (1.00 = no overhead)"
printf '%-8s %9s %9s %9s %9s %9s %13s %7s %9s\n' workload ops base_ms ringward fanotify auditd \
	completeness drops rss_MiB
for w in $WORKLOADS; do
	ops=$(awk -F '\t' -v w="$w" '$1 == w && $3 == "base" { print $5; exit }' "$RESULTS")
	base_ms=$(awk -F '\t' -v w="$w" '$1 == w && $3 == "base" { print $4 / 1e6 }' "$RESULTS" | median)
	rw=$(ratios "$w" ringward | median)
	fa=$(ratios "$w" fanotify | median)
	au=$(ratios "$w" auditd | median)
	# worst round's completeness, total drops, peak RSS
	comp=$(field_of "$w" completeness | sort -g | head -n 1)
	drops=$(field_of "$w" drops | awk '{ s += $1 } END { if (NR) print s; else print "n/a" }')
	rss=$(field_of "$w" hwm_kib | sort -g | tail -n 1)
	[ -n "$rss" ] && rss=$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')
	[ -n "$comp" ] && [ "$comp" != n/a ] && comp="$comp%"
	printf '%-8s %9s %9s %9s %9s %9s %13s %7s %9s\n' "$w" "${ops:-n/a}" "$base_ms" "$rw" "$fa" "$au" \
		"${comp:-n/a}" "$drops" "${rss:-n/a}"
done
[ -n "$RW_WHY" ] && say "ringward: not measured: $RW_WHY"
[ -n "$AUDIT_WHY" ] && say "auditd: not measured: $AUDIT_WHY"
say "fanotify: the kernel's own cost of the sensor's file hook (same group flags and mask, one"
say "filesystem mark, drained every 5 ms, nothing done with the events): the floor under ringward."
say "completeness: events in ringward's output for the workload (exec: exec events whose parent is"
say "the workload; churn: the fewest of create/modify/rename/delete under its dir; connect/mixed:"
say "its connect events) / operations done, worst round. Per-round data: $RESULTS"
exit 0
