#!/usr/bin/env bash
# Whole-process speed and memory of the linter on generated trees, with public tools only.
#
#   bash bench/run.sh [SIZES...]      # default: 1000 10000 (add 100000 for the large tree)
#
# For each size: a deterministic tree (bench/generate.py), then the median of 5 runs of the
# release binary with 1 and 2 threads (wall s, files/s, MB/s, peak RSS from /usr/bin/time -v),
# beside reading the same files with cat. Figures vary with the machine: compare ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("${@:-1000 10000}")
[ $# -eq 0 ] && sizes=(1000 10000)
cargo build --release --quiet
bin=target/release/kube-migrate-lint
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

measure() { # label, files, bytes, command...
  local label=$1 files=$2 bytes=$3; shift 3
  local walls=() rss=()
  "$@" >/dev/null 2>&1 || true # warm-up (page cache)
  for _ in 1 2 3 4 5; do
    /usr/bin/time -f "%e %M" -o "$work/t" "$@" >/dev/null 2>&1 || true
    read -r w m < "$work/t"
    walls+=("$w"); rss+=("$m")
  done
  local wall peak
  wall=$(printf '%s\n' "${walls[@]}" | median)
  peak=$(printf '%s\n' "${rss[@]}" | median)
  awk -v l="$label" -v w="$wall" -v f="$files" -v b="$bytes" -v p="$peak" 'BEGIN {
    ws = (w > 0 ? w : 0.001);
    printf "  %-22s %8.3f s %10.0f files/s %8.1f MB/s %8.1f MB peak\n", l, w, f / ws, b / 1e6 / ws, p / 1024 }'
}

for n in "${sizes[@]}"; do
  tree="$work/tree-$n"
  python3 bench/generate.py "$tree" "$n"
  files=$(find "$tree" -type f | wc -l)
  bytes=$(find "$tree" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
  echo "$files files, $((bytes / 1000000)) MB:"
  measure "cat (reading only)" "$files" "$bytes" sh -c "find '$tree' -type f -print0 | xargs -0 cat"
  measure "lint, 1 thread" "$files" "$bytes" "$bin" "$tree" --format json --threads 1 --no-config
  measure "lint, 2 threads" "$files" "$bytes" "$bin" "$tree" --format json --threads 2 --no-config
done
