#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz, one after the other, each for
# SECONDS on a scratch copy of its seed corpus (tests/fuzz/corpus/NAME; the
# repository's corpus never grows). A crash, leak, UB report, timeout or
# over-budget allocation is saved under BUILD_DIR/fuzz/artifacts/NAME/;
# the script goes on with the other targets and fails at the end if any
# target failed. Logs: BUILD_DIR/fuzz/logs/NAME.log.
#
#   tools/fuzz/run.sh BUILD_DIR SECONDS [NAME...]    (NAME: envelope, ...)
#
# FUZZ_FLAGS adds libFuzzer flags, e.g. FUZZ_FLAGS="-fork=1
# -ignore_crashes=1" to go on after a crash and collect more of them.
set -uo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 BUILD_DIR SECONDS [NAME...]" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
seconds=$2
shift 2
root=$(cd "$(dirname "$0")/../.." && pwd)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(envelope topology libsvm idx trace model docword word_topic brown)
fi

# Memory: 2 GiB at most for the process and for any one allocation, more
# than the largest budget docs/input-limits.md allows an input of max_len
# bytes. Time: a unit of 60 s on a few KiB is a hang.
common=(-rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=60
  -max_len=8192 -print_final_stats=1 -detect_leaks=1)
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# The targets write their inputs to files: on tmpfs when there is one.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
  export TMPDIR=/dev/shm
fi
mkdir -p "$build/fuzz/logs"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/metronome-fuzz-corpus-XXXXXX")
trap 'rm -rf "$scratch"' EXIT

failed=()
printf '%-12s %8s %10s %8s %8s %8s  %s\n' target seconds execs exec/s cov ft \
  result
for name in "${targets[@]}"; do
  bin="$build/bin/fuzz_$name"
  seeds="$root/tests/fuzz/corpus/$name"
  if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
    echo "$name: no $bin or no $seeds" >&2
    failed+=("$name")
    continue
  fi
  corpus="$scratch/$name"
  artifacts="$build/fuzz/artifacts/$name"
  log="$build/fuzz/logs/$name.log"
  mkdir -p "$corpus" "$artifacts"
  cp -r "$seeds/." "$corpus/"
  dict=()
  [ -f "$root/tests/fuzz/$name.dict" ] &&
    dict=(-dict="$root/tests/fuzz/$name.dict")
  start=$(date +%s)
  # shellcheck disable=SC2086 # FUZZ_FLAGS holds several flags
  (cd "$scratch" && "$bin" "${common[@]}" "${dict[@]}" ${FUZZ_FLAGS:-} \
    -max_total_time="$seconds" -artifact_prefix="$artifacts/" \
    "$corpus") >"$log" 2>&1
  rc=$?
  elapsed=$(($(date +%s) - start))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  result=ok
  if [ $rc -ne 0 ]; then
    result="FAILED (exit $rc): see $log"
    failed+=("$name")
  fi
  printf '%-12s %8s %10s %8s %8s %8s  %s\n' "$name" "$elapsed" "${execs:--}" \
    "${rate:--}" "${cov:--}" "${ft:--}" "$result"
  if [ $rc -ne 0 ]; then
    grep -E 'ERROR: |runtime error:|SUMMARY: |^message |Test unit written' \
      "$log" | head -8 | sed 's/^/    /'
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found problems in: ${failed[*]}" >&2
  echo "reproduce: $build/bin/fuzz_NAME ARTIFACT" >&2
  exit 1
fi
