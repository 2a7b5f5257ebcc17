#!/bin/sh
# Runs every test of "make check" and ends with one summary line,
# "N passed, N failed".  Unit tests are cmocka programs, fuzz targets run
# briefly over their committed corpus, static checks (tests/static/:
# the library's layering) and integration tests are TAP scripts.
set -u
BUILD=${BUILD:-build}
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
export BUILD

passed=0
failed=0
skipped=0
failures=""
out=$(mktemp -d /tmp/xlmig-check.XXXXXX)
trap 'rm -rf "$out"' EXIT INT TERM

note() { printf '%s\n' "$*"; }

for t in "$BUILD"/tests/unit/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    if "$t" >"$out/$name.log" 2>&1; then
        n=$(grep -c '^\[       OK \]' "$out/$name.log")
        passed=$((passed + n))
        note "unit  $name: $n passed"
    else
        n=$(grep -c '^\[       OK \]' "$out/$name.log")
        f=$(grep -c '^\[  FAILED  \] test_\|^\[  ERROR   \]' "$out/$name.log")
        [ "$f" -gt 0 ] || f=1
        passed=$((passed + n))
        failed=$((failed + f))
        failures="$failures unit/$name"
        note "unit  $name: FAILED"
        sed 's/^/    /' "$out/$name.log" | grep -v '^    \[ *\(OK\|RUN\)' | tail -20
    fi
done

for f in "$FUZZ_BUILD"/fuzz_*; do
    [ -x "$f" ] || continue
    name=$(basename "$f")
    corpus=tests/fuzz/corpus/${name#fuzz_}
    mkdir -p "$out/$name"
    if "$f" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=4096 \
        -artifact_prefix="$out/$name-" "$out/$name" "$corpus" \
        >"$out/$name.log" 2>&1; then
        runs=$(grep -o 'Done [0-9]* runs' "$out/$name.log" | tail -1)
        passed=$((passed + 1))
        note "fuzz  $name: ok ($runs in ${FUZZ_SECONDS}s)"
    else
        failed=$((failed + 1))
        failures="$failures fuzz/$name"
        note "fuzz  $name: FAILED"
        tail -30 "$out/$name.log" | sed 's/^/    /'
        ls "$out/$name"-* 2>/dev/null | sed 's/^/    crash input: /'
    fi
done

for t in tests/static/*.sh tests/integration/*.sh; do
    name=$(basename "$t" .sh)
    [ "$name" = lib ] && continue
    t0=$(date +%s)
    sh "$t" >"$out/$name.log" 2>&1
    status=$?
    secs=$(($(date +%s) - t0))
    ok=$(grep -c '^ok ' "$out/$name.log")
    nok=$(grep -c '^not ok ' "$out/$name.log")
    skip=$(grep -c '^skip ' "$out/$name.log")
    passed=$((passed + ok))
    failed=$((failed + nok))
    skipped=$((skipped + skip))
    if [ "$status" -ne 0 ] && [ "$nok" -eq 0 ]; then
        failed=$((failed + 1))
        nok=1
    fi
    kind=integ
    case $t in tests/static/*) kind=static ;; esac
    note "$kind $name: $ok passed, $nok failed, $skip skipped ($secs s)"
    if [ "$nok" -gt 0 ]; then
        failures="$failures integration/$name"
        grep -n -B8 '^not ok ' "$out/$name.log" | sed 's/^/    /'
        echo "    ... the log's end:"
        sed 's/^/    /' "$out/$name.log" | tail -40
    else
        grep '^#' "$out/$name.log" | sed 's/^/    /'
    fi
done

[ -n "$failures" ] && note "failed:$failures"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
