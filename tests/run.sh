#!/bin/sh
# Run every test program and print one closing line CI can read:
#   N passed, N failed, N skipped
# Unit tests (ASan+UBSan builds) run everywhere; kernel tests need root and
# say "skipped: <why>" otherwise; each fuzzer replays its corpus.
BUILD=${BUILD:-build}
ONLY=${RW_ONLY:-}
pass=0; fail=0; skip=0; failed=""
log=$(mktemp /tmp/ringward-testlog.XXXXXX)
trap 'rm -f "$log"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run_cmocka() {	# $1 = test program
	name=$(basename "$1")
	echo "== $name"
	CMOCKA_MESSAGE_OUTPUT=TAP "$1" >"$log" 2>&1
	rc=$?
	cat "$log"
	# cmocka 1.1 writes a skipped test as "not ok N # SKIP name"
	p=$(grep -c '^ok ' "$log" | tr -d ' ')
	s=$(grep -c '^\(not \)\{0,1\}ok [0-9]* *# *SKIP' "$log" | tr -d ' ')
	f=$(grep -c '^not ok ' "$log" | tr -d ' ')
	f=$((f - s))
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		# crashed or failed outside a test (sanitizer, setup): count it
		f=1
	fi
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
	[ "$f" != 0 ] && failed="$failed $name"
}

if [ -z "$ONLY" ] || [ "$ONLY" = unit ]; then
	for t in "$BUILD"/tests/unit/test_*; do [ -x "$t" ] && run_cmocka "$t"; done
fi
if [ -z "$ONLY" ] || [ "$ONLY" = kernel ]; then
	for t in "$BUILD"/tests/kernel/test_*; do [ -x "$t" ] && run_cmocka "$t"; done
fi
if [ -z "$ONLY" ] || [ "$ONLY" = fuzz ]; then
	for f in "$BUILD"/fuzz/fuzz_*; do
		[ -x "$f" ] || continue
		n=$(basename "$f")
		[ -d "fuzz/corpus/$n" ] || continue
		echo "== corpus replay: $n"
		if "$f" -runs=0 "fuzz/corpus/$n" >"$log" 2>&1; then
			echo "ok - $n corpus ($(ls "fuzz/corpus/$n" | wc -l) inputs)"; pass=$((pass + 1))
		else
			cat "$log"; echo "not ok - $n corpus"; fail=$((fail + 1)); failed="$failed $n"
		fi
	done
fi
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
