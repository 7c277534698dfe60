#!/usr/bin/env bash
# bench/tune_gain.sh: what 'convgen tune' gains over the target model's own
# schedule, per shape, op and compiler, on this machine.  For each shape of the
# list below and each of gcc and clang, runs 'convgen tune' (CFLAGS -O3
# -march=native) and prints, per op, the model's own time, the chosen
# candidate's time and their ratio: microseconds per call, the fastest of 7
# samples taken in turns (tune's own timing).  Writes bench/results/tune.md.
# Usage: bench/tune_gain.sh [CONVGEN]   (default build-perf/convgen)
set -euo pipefail
cd "$(dirname "$0")/.."
convgen=${1:-build-perf/convgen}
[ -x "$convgen" ] || { echo "tune_gain: $convgen not built (run scripts/bench first)" >&2; exit 1; }
shapes=(
  "1ch 64x64 k3|--input 64x64 --kernel 3x3"
  "1ch 256x256 k3|--input 256x256 --kernel 3x3"
  "1ch 64x64 k7|--input 64x64 --kernel 7x7"
  "N8 16->32 32x32 k3 p1|--batch 8 --in-channels 16 --out-channels 32 --input 32x32 --kernel 3x3 --padding 1"
  "dw 32ch 56x56 k3 p1|--in-channels 32 --out-channels 32 --groups 32 --input 56x56 --kernel 3x3 --padding 1"
  "16->32 64x64 k3 s2 p1|--in-channels 16 --out-channels 32 --input 64x64 --kernel 3x3 --stride 2 --padding 1"
)
ops=(forward grad_weight grad_input grad_bias)
out=bench/results/tune.md
mkdir -p bench/results
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
{
  echo "CPU: ${cpu:-unknown}, target $("$convgen" generate --input 3x3 --kernel 1x1 --ops grad_bias -o "$tmp/t" >/dev/null && sed -n 's/.*_TARGET "\(.*\)"/\1/p' "$tmp/t/conv.h"). \`convgen tune\` per compiler with CFLAGS='-O3 -march=native'; microseconds per call (the fastest of 7 samples taken in turns); gain = model's own / chosen."
  echo
  echo "| shape | compiler | op | model's own (us) | tuned (us) | gain | choice |"
  echo "|---|---|---|---:|---:|---:|---|"
  for entry in "${shapes[@]}"; do
    label=${entry%%|*}
    opts=${entry#*|}
    for cc in gcc clang; do
      # shellcheck disable=SC2086
      CC=$cc CFLAGS="-O3 -march=native" "$convgen" tune $opts > "$tmp/rec"
      header=$(grep -m1 '^#   candidate' "$tmp/rec")
      own=$(grep -m1 "^#   the model's own" "$tmp/rec")
      for op in "${ops[@]}"; do
        col=$(awk -v op="$op" '{for (i = 3; i <= NF; i++) if ($i == op) print i - 2}' <<<"$header")
        own_t=$(awk -v c="$col" '{print $(NF - 4 + c)}' <<<"$own" | tr -d '*')
        best=$(grep '^#   ' "$tmp/rec" | grep -v 'candidate' | awk -v c="$col" '{v = $(NF - 4 + c); if (v ~ /\*$/) {sub(/\*$/, "", v); print v, $2}}')
        best_t=${best%% *}
        choice=${best#* }
        [ "$choice" = "the" ] && choice="the model's own"
        gain=$(awk -v a="$own_t" -v b="$best_t" 'BEGIN {printf "%.2fx", a / b}')
        echo "| $label | $cc | $op | $own_t | $best_t | $gain | $choice |"
      done
    done
  done
} > "$out"
cat "$out"
