#!/usr/bin/env bash
# bench/verify_times.sh: the scale numbers, measured, not guessed.
#  1. size of the generated .c and its 'gcc -O2' compile time for two large layers;
#  2. wall time of a full 'convgen verify', pinned to one core (median of 3
#     runs; one run for the two 64-channel layers) and on all the processors
#     (the memory checks run beside the others), and its peak memory.
# Usage: bench/verify_times.sh [path/to/convgen]   (default build/convgen)
set -euo pipefail
cd "$(dirname "$0")/.."
cg=${1:-build/convgen}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pin=()
command -v taskset >/dev/null && pin=(taskset -c 0)

median3() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
seconds() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); awk -v s="$s" -v e="$e" 'BEGIN { print e - s }'; }

multi="--batch 8 --in-channels 16 --out-channels 32 --input 32x32 --kernel 3x3 --padding 1"
big="--input 1024x1024 --kernel 3x3"

echo "| layer | NAME.c size | gcc -O2 compile (median of 3) |"
echo "|---|---|---|"
for opts in "$multi" "$big"; do
  "$cg" generate $opts -o "$tmp/g" >/dev/null
  size=$(wc -c < "$tmp/g/conv.c")
  t=()
  for r in 1 2 3; do t+=("$(seconds gcc -O2 -c "$tmp/g/conv.c" -o "$tmp/g/conv.o")"); done
  printf '| `%s` | %.1f KiB | %.2f s |\n' "$opts" "$(awk -v b="$size" 'BEGIN { print b / 1024 }')" "$(median3 "${t[@]}")"
done
echo
# peak: the largest resident set of verify or any of its processes, in MB
peak() { /usr/bin/time -f '%M' -o "$tmp/rss" "$@" >/dev/null; awk '{ printf "%.0f", $1 / 1024 }' "$tmp/rss"; }

echo "| verify | target | one core (median of 3) | all $(nproc) processors | peak memory |"
echo "|---|---|---|---|---|"
while IFS='|' read -r opts target runs; do
  t=()
  for r in $(seq "$runs"); do t+=("$(seconds "${pin[@]}" "$cg" verify $opts)"); done
  one=$(if [ "$runs" = 3 ]; then median3 "${t[@]}"; else echo "${t[0]}"; fi)
  all=$(seconds "$cg" verify $opts)
  printf '| `%s` | %s | %.1f s%s | %.1f s | %s MB |\n' "$opts" "$target" "$one" \
    "$([ "$runs" = 3 ] || echo ' (one run)')" "$all" "$(peak "$cg" verify $opts)"
done <<EOF2
--input 28x28 --kernel 3x3|< 0.5 s|3
--input 64x64 --kernel 3x3 --exhaustive|< 4 s|3
$multi|< 10 s|3
$big|< 10 s|3
--input 128x128 --kernel 3x3 --padding 1 --in-channels 64 --out-channels 64||1
--input 512x512 --kernel 3x3 --padding 1 --in-channels 64 --out-channels 64|< 120 s, < 512 MB|1
EOF2
