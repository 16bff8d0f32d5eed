#!/bin/sh
# Instructions per in-memory call (callgrind; load-independent): see bench/instructions.ts.
set -e
cd "$(dirname "$0")/.."
npx esbuild bench/instructions.ts --bundle --platform=node --format=esm --packages=external --outfile=bench/.instructions.mjs --log-level=warning
N1=${N1:-50000}
N2=${N2:-150000}
count() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null node bench/.instructions.mjs "$1" "$2" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
per() { a=$(count "$1" "$N1"); b=$(count "$1" "$N2"); echo $(( (b - a) / (N2 - N1) )); }
base=$(per baseline)
echo "baseline: $base instructions/call"
for v in ${VARIANTS:-client policy cockatiel}; do
  p=$(per "$v")
  echo "$v: $p instructions/call, overhead $((p - base))"
done
