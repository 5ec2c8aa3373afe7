#!/usr/bin/env bash
# The libFuzzer targets of tests/fuzz: builds them (the "fuzz" preset: clang-14, ASan + UBSan,
# in build/fuzz) and runs each for FUZZ_SECONDS (60 by default) from a copy of its seed corpus
# tests/fuzz/corpus/<target>/, so nothing is written into tests/. Prints the executions of each
# target (libFuzzer's "Done N runs") and exits non-zero when one finds a crash, undefined
# behaviour, a leak, a hang or a broken property, naming the input it saved.
#
#   bash scripts/fuzz.sh                          # about a minute per target (what CI runs)
#   FUZZ_SECONDS=3600 bash scripts/fuzz.sh        # an hour per target, five hours in all
#   FUZZ_TARGETS="fuzz_push fuzz_pull" bash scripts/fuzz.sh   # some targets only
#
# Each run starts from the seeds again, in build/fuzz/runs/<target>/ (corpus/, findings/, log).
# A saved input is replayed with: build/fuzz/tests/fuzz/<target> <file>
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
read -r -a targets <<<"${FUZZ_TARGETS:-fuzz_json_parse fuzz_push fuzz_pull fuzz_enroll fuzz_validation}"
runs_dir=build/fuzz/runs

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)"

failed=()
for target in "${targets[@]}"; do
  work=$runs_dir/$target
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/findings"
  cp tests/fuzz/corpus/"$target"/* "$work/corpus/"
  echo "fuzz: $target for ${seconds} s..."
  # -timeout: an input that takes more than 10 s is a hang; -rss_limit_mb: 1 GB is a finding.
  if build/fuzz/tests/fuzz/"$target" -max_total_time="$seconds" -rss_limit_mb=1024 -timeout=10 \
      -print_final_stats=1 -artifact_prefix="$work/findings/" "$work/corpus" >"$work/log" 2>&1; then
    runs=$(grep -o 'Done [0-9]* runs' "$work/log" | tail -n 1 | grep -o '[0-9]*' || true)
    echo "fuzz: $target: ${runs:-?} runs in ${seconds} s without a finding"
  else
    failed+=("$target")
    echo "fuzz: $target: FINDING (log: $work/log); the end of its log:" >&2
    tail -n 60 "$work/log" >&2
    for input in "$work"/findings/*; do
      [ -e "$input" ] || continue
      echo "fuzz: $target: saved input $input (replay: build/fuzz/tests/fuzz/$target $input), base64:" >&2
      head -c 4096 "$input" | base64 -w 0 >&2
      echo >&2
    done
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]}" >&2
  exit 1
fi
