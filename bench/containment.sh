#!/bin/sh
# Fault containment: what an engine crash costs (bench/containment.c).
#
#   - time from an engine crash (kill -9) to evaluation resumed by the next
#     engine (target <= 100 ms);
#   - events lost across kill -9 of the engine during a sustained load of
#     synthetic events (target 0).
#
# The helper links the sensor's own library and drives the real supervisor,
# shared-memory ring and engine process (build/ringward engine) exactly as
# the sensor does; only the kernel sources are replaced by a generator, so
# that the rate is exact. Run it alone on the machine, as root.
#
# Knobs (environment): CONTAINMENT_RATE=100000 CONTAINMENT_SECONDS=3
#   CONTAINMENT_KILLS=3 CONTAINMENT_ROUNDS=3 CONTAINMENT_RING_MB=8
set -u
cd "$(dirname "$0")/.." || exit 1

BUILD=${BUILD:-build}
RATE=${CONTAINMENT_RATE:-100000}
SECONDS_=${CONTAINMENT_SECONDS:-3}
KILLS=${CONTAINMENT_KILLS:-3}
ROUNDS=${CONTAINMENT_ROUNDS:-3}
RING_MB=${CONTAINMENT_RING_MB:-8}	# the sensor's default

make -s "$BUILD/ringward" "$BUILD/libringward.a" || exit 1
mkdir -p "$BUILD/bench" || exit 1
HELPER=$BUILD/bench/containment
if [ ! -x "$HELPER" ] || [ bench/containment.c -nt "$HELPER" ] ||
   [ "$BUILD/libringward.a" -nt "$HELPER" ]; then
	clang -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter \
		-Wno-missing-field-initializers -D_GNU_SOURCE -Iinclude -Isrc -I"$BUILD" \
		-o "$HELPER" bench/containment.c "$BUILD/libringward.a" \
		-lbpf -lelf -lz -ljson-c -lpthread -lyaml -lpcre2-8 -lhs -lsodium -lseccomp ||
		exit 1
fi

rc=0
i=1
while [ "$i" -le "$ROUNDS" ]; do
	echo "== round $i of $ROUNDS"
	"$HELPER" --engine "$BUILD/ringward" --rate "$RATE" --seconds "$SECONDS_" \
		--kills "$KILLS" --ring-mb "$RING_MB" || rc=1
	i=$((i + 1))
done
exit $rc
