#!/usr/bin/env bash
# sign-blob and verify-bundle per call, on files of a few sizes (issue 13's
# "sign-blob per call"). Needs a release build: cargo build --release -p sigil
#   scripts/bench-sign-blob.sh [SIGIL_BINARY] [CALLS]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/sigil}
calls=${2:-20}
[[ -x $bin ]] || { echo "no $bin: run cargo build --release -p sigil first" >&2; exit 2; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
export SIGIL_PASSWORD=bench
"$bin" key generate --output-key-prefix "$dir/k" >/dev/null
printf '%-10s %12s %14s\n' size sign-blob verify-bundle
for size in 1K 1M 100M; do
  head -c "$size" /dev/urandom > "$dir/blob" 2>/dev/null || dd if=/dev/urandom of="$dir/blob" bs="$size" count=1 status=none
  start=$(date +%s%N)
  for _ in $(seq "$calls"); do "$bin" sign-blob "$dir/blob" --key "$dir/k.key" --bundle "$dir/b.json" >/dev/null; done
  signed=$(( ($(date +%s%N) - start) / calls / 1000 ))
  start=$(date +%s%N)
  for _ in $(seq "$calls"); do "$bin" verify-bundle --bundle "$dir/b.json" --key "$dir/k.pub" "$dir/blob" >/dev/null; done
  verified=$(( ($(date +%s%N) - start) / calls / 1000 ))
  printf '%-10s %9d us %11d us\n' "$size" "$signed" "$verified"
done
