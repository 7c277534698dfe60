#!/usr/bin/env bash
# bench/verify_times.sh: the scale numbers, measured, not guessed.
#  1. size of the generated .c and its 'gcc -O2' compile time for two large layers;
#  2. wall time of a full 'convgen verify' (median of 3 runs, one core) for the
#     layers the issue names.
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
echo "| verify | target | wall time (median of 3, one core) |"
echo "|---|---|---|"
while IFS='|' read -r opts target; do
  t=()
  for r in 1 2 3; do t+=("$(seconds "${pin[@]}" "$cg" verify $opts)"); done
  printf '| `%s` | %s | %.2f s |\n' "$opts" "$target" "$(median3 "${t[@]}")"
done <<EOF2
--input 28x28 --kernel 3x3|< 0.5 s
--input 64x64 --kernel 3x3 --exhaustive|< 4 s
$multi|< 10 s
$big|< 10 s
EOF2
