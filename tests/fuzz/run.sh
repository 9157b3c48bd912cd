#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs one libFuzzer harness: replays every seed of its corpus, then fuzzes for a fixed time.
#   run.sh HARNESS WORKDIR SECONDS DICT|- CORPUS_DIR...
# FUZZ_SECONDS in the environment overrides SECONDS (`make fuzz` runs each for longer). New
# inputs go to WORKDIR/corpus (kept between runs, never into the tree); a crash's input to
# WORKDIR/artifacts, and the log says how to reproduce it and add it to the seed corpus.
set -euo pipefail

bin=$1 work=$2 seconds=${FUZZ_SECONDS:-$3} dict=$4
shift 4
name=$(basename "$bin")
mkdir -p "$work/corpus" "$work/artifacts"
args=(-max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -max_len=65536
      -print_final_stats=1 -artifact_prefix="$work/artifacts/")
[[ $dict != - ]] && args+=(-dict="$dict")

src=$(cd "$(dirname "$0")" && pwd)
# Inputs that once crashed this harness, kept as regression seeds.
regressions=$src/corpus/regressions/$name
corpora=()
for d in "$@" "$regressions"; do
        [[ -d $d ]] && corpora+=("$d")
done

rm -f "$work"/artifacts/*
set +e
"$bin" "${args[@]}" "$work/corpus" "${corpora[@]}" 2>"$work/log"
rc=$?
set -e
# The summary lines: how many inputs ran and how fast.
grep -E '^(INFO: seed corpus|Done [0-9]+ runs|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)' "$work/log" || true
if [[ $rc -ne 0 ]]; then
        tail -n 80 "$work/log"
        for a in "$work"/artifacts/*; do
                [[ -e $a ]] || continue
                sum=$(sha1sum "$a" | cut -c1-16)
                kind=$(basename "$a" | cut -d- -f1)
                cat <<MSG

fuzz: $name found a bug ($kind); the input is $a
  reproduce:   $bin $a
  after fixing it, keep the input as a regression seed (replayed by every run):
    mkdir -p $regressions && cp $a $regressions/$kind-$sum
MSG
        done
        echo "fuzz: $name FAILED (exit $rc); full log: $work/log" >&2
        exit 1
fi
echo "fuzz: $name: no crash in ${seconds}s"
