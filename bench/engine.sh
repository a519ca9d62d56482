#!/bin/sh
# The detection engine's throughput: the compiled matcher and the naive
# one-rule-at-a-time evaluator over the same events in the same run
# (bench/engine_bench.c says what it generates and measures).
#
#   sh bench/engine.sh [engine_bench options] [PATH...]
#
# Builds build/libringward.a (make) and build/bench/engine_bench, then runs
# it on one core. Knobs (environment): BENCH_ENGINE_EVENTS (1000000),
# BENCH_ENGINE_CPU (0; empty: not pinned). Run it alone on the machine:
# the numbers move with other load.
set -u
cd "$(dirname "$0")/.." || exit 1

BUILD=${BUILD:-build}
EVENTS=${BENCH_ENGINE_EVENTS:-1000000}
CPU=${BENCH_ENGINE_CPU-0}
LIBS=$(make -s print-libs)	# the same as the sensor links

make -s "$BUILD/libringward.a" || { echo "bench/engine: make failed"; exit 1; }
mkdir -p "$BUILD/bench" || exit 1
if ! clang -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter \
	-Wno-missing-field-initializers -D_GNU_SOURCE -Iinclude -Isrc -I"$BUILD" -o "$BUILD/bench/engine_bench" \
	bench/engine_bench.c "$BUILD/libringward.a" $LIBS; then
	echo "bench/engine: cannot build bench/engine_bench.c"; exit 1
fi
set -- --events "$EVENTS" "$@"
[ -n "$CPU" ] && set -- --cpu "$CPU" "$@"
exec "$BUILD/bench/engine_bench" "$@"
