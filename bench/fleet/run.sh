#!/bin/sh
# The fleet replay (bench/fleet/README.md): 19 July 2024 on 8.5 million hosts,
# all at once and with ringward's default rings. Writes the table to
# bench/fleet/results.md and the chart to bench/fleet.png, prints both the
# table and the PASS/FAIL lines of the targets, and the wall time.
#
# make fleet builds $BUILD/fleetsim and runs this. Knobs (environment):
#   FLEET_HOSTS=8500000  FLEET_SEED=1  FLEET_ARGS=   (more fleetsim options)
# Exit: fleetsim's (0 all targets hold, 3 a target failed, 1 error).
set -u
cd "$(dirname "$0")/../.." || exit 1

BUILD=${BUILD:-build}
SIM=$BUILD/fleetsim
HOSTS=${FLEET_HOSTS:-8500000}
SEED=${FLEET_SEED:-1}
ARGS=${FLEET_ARGS:-}

if [ ! -x "$SIM" ]; then
	echo "fleet: $SIM not built (make $SIM; it needs libpng-dev)" >&2
	exit 1
fi
start=$(date +%s.%N)
# shellcheck disable=SC2086  # ARGS: a list of options, split on purpose
"$SIM" --hosts "$HOSTS" --seed "$SEED" --md bench/fleet/results.md --png bench/fleet.png $ARGS
rc=$?
end=$(date +%s.%N)
echo "fleet: wall time $(echo "$start $end" | awk '{ printf "%.1f", $2 - $1 }') s" \
	"(fleetsim, ${HOSTS} hosts, 3 policies, 1 thread); rc=$rc"
[ $rc = 0 ] && echo "fleet: wrote bench/fleet/results.md and bench/fleet.png"
exit $rc
