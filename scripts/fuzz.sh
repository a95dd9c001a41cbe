#!/usr/bin/env bash
# Fuzzes sigil's parsers of attacker-controlled data (fuzz/, cargo-fuzz).
#
#   scripts/fuzz.sh smoke [TARGET...]          build, then each target for a fixed
#                                              number of runs from its seeds (CI)
#   scripts/fuzz.sh long [SECONDS] [TARGET...] each target for SECONDS (default
#                                              600), stats into fuzz/logs/
#   scripts/fuzz.sh list                       the targets
#
# Targets run one after the other, one process each (libFuzzer's in-process
# mode: one core, like -jobs=1 -workers=1 without the forked child). A crash,
# leak, timeout or out-of-memory fails the run; the input is kept in
# fuzz/artifacts/<target>/ (replay: cargo +nightly fuzz run <target> <file>).
# smoke grows a throwaway corpus; long grows fuzz/corpus/<target>/ across runs.
# Both are git-ignored; the committed seeds are fuzz/seeds/<target>/, and the
# inputs of past findings fuzz/regressions/<target>/ (run first in both modes).
#
# Environment:
#   SIGIL_FUZZ_SANITIZER       address (default) or none
#   SIGIL_FUZZ_SMOKE_RUNS      executions per target in smoke (default 2000)
#   SIGIL_FUZZ_AGREEMENT_ONLY  1: bundle_differential checks only that sigil and
#                              sigstore-rust agree when both accept a bundle,
#                              not that sigstore-rust accepts all sigil does
set -euo pipefail

ALL_TARGETS=(bundle dsse intoto simplesigning oci policy keys bundle_differential predicates admission notation)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FUZZ="$ROOT/fuzz"
SANITIZER=${SIGIL_FUZZ_SANITIZER:-address}
SMOKE_RUNS=${SIGIL_FUZZ_SMOKE_RUNS:-2000}

usage() {
    sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

seeds_of() {
    case $1 in
        bundle_differential) echo "seeds/bundle" ;;
        *) echo "seeds/$1" ;;
    esac
}

dict_of() {
    case $1 in
        policy) echo "dict/policy.dict" ;;
        *) echo "dict/json.dict" ;;
    esac
}

check_targets() {
    local t known
    for t in "$@"; do
        known=no
        for k in "${ALL_TARGETS[@]}"; do [[ $t == "$k" ]] && known=yes; done
        [[ $known == yes ]] || { echo "fuzz.sh: unknown target $t (try: scripts/fuzz.sh list)" >&2; exit 2; }
    done
}

setup() {
    if ! cargo +nightly --version >/dev/null 2>&1; then
        echo "fuzz.sh: needs a nightly toolchain (rustup toolchain install nightly)" >&2
        exit 2
    fi
    if ! command -v cargo-fuzz >/dev/null 2>&1; then
        echo "fuzz.sh: installing cargo-fuzz" >&2
        cargo install cargo-fuzz --locked
    fi
    cd "$FUZZ"
    echo "fuzz.sh: building all targets (sanitizer $SANITIZER)" >&2
    cargo +nightly fuzz build --sanitizer "$SANITIZER"
}

# run TARGET LOG CORPUS LIBFUZZER-FLAGS...: one libFuzzer run, output to LOG.
run() {
    local target=$1 log=$2 corpus=$3
    shift 3
    mkdir -p "$corpus" "artifacts/$target"
    # The first corpus folder is where new inputs go; the seeds (and the
    # inputs of past findings, regressions/<target>/) are only read.
    local inputs=("$(seeds_of "$target")")
    [[ -d regressions/$target ]] && inputs+=("regressions/$target")
    cargo +nightly fuzz run --sanitizer "$SANITIZER" "$target" "$corpus" "${inputs[@]}" -- \
        -dict="$(dict_of "$target")" -artifact_prefix="artifacts/$target/" \
        -print_final_stats=1 -timeout=20 -rss_limit_mb=2048 "$@" >"$log" 2>&1
}

# report_failure LOG: what failed, without the input's byte dump.
report_failure() {
    grep -E -A4 "panicked at|^==[0-9]+==ERROR|^SUMMARY|ERROR: libFuzzer|^Error:" "$1" | grep -v "^Output of\|^\s*\[" | head -n 40 >&2 || true
}

# summary TARGET LOG STATUS SECONDS: one line of figures from a run's log.
summary() {
    local target=$1 log=$2 status=$3 secs=$4 execs eps units rss found
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    units=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
    found=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    printf '%-20s %-5s %6ss  runs %-10s exec/s %-7s new units %-6s peak RSS %s MB%s\n' \
        "$target" "$status" "$secs" "${execs:-?}" "${eps:-?}" "${units:-?}" "${rss:-?}" \
        "${found:+  FOUND: fuzz/$found}"
}

smoke() {
    local targets=("$@") failed=0 t log start status
    SCRATCH=$(mktemp -d)
    trap 'rm -rf "$SCRATCH"' EXIT
    for t in "${targets[@]}"; do
        log="$SCRATCH/$t.log"
        start=$SECONDS
        # -seed fixes the mutation sequence, so a CI failure replays.
        if run "$t" "$log" "$SCRATCH/corpus-$t" -runs="$SMOKE_RUNS" -seed=1; then
            status=ok
        else
            status=FAIL
            failed=1
            report_failure "$log"
        fi
        summary "$t" "$log" "$status" $((SECONDS - start))
    done
    return $failed
}

long() {
    local secs=$1
    shift
    local targets=("$@") failed=0 stamp dir t log start status
    stamp=$(date -u +%Y%m%dT%H%M%SZ)
    dir="$FUZZ/logs/$stamp"
    mkdir -p "$dir"
    {
        echo "# scripts/fuzz.sh long $secs, $(date -u +%FT%TZ), sanitizer $SANITIZER"
        echo "# commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)'), $(nproc) cores"
        echo "# $(cargo +nightly --version)"
    } >"$dir/summary.txt"
    for t in "${targets[@]}"; do
        log="$dir/$t.log"
        start=$SECONDS
        if run "$t" "$log" "corpus/$t" -max_total_time="$secs"; then
            status=ok
        else
            status=FAIL
            failed=1
            report_failure "$log"
        fi
        summary "$t" "$log" "$status" $((SECONDS - start)) | tee -a "$dir/summary.txt"
    done
    echo "fuzz.sh: logs in ${dir#"$ROOT/"}/ (summary.txt has the figures)" >&2
    return $failed
}

mode=${1:-}
[[ $# -gt 0 ]] && shift
case $mode in
    smoke)
        targets=("$@")
        [[ ${#targets[@]} -gt 0 ]] || targets=("${ALL_TARGETS[@]}")
        check_targets "${targets[@]}"
        setup
        smoke "${targets[@]}"
        ;;
    long)
        secs=600
        if [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then
            secs=$1
            shift
        fi
        targets=("$@")
        [[ ${#targets[@]} -gt 0 ]] || targets=("${ALL_TARGETS[@]}")
        check_targets "${targets[@]}"
        setup
        long "$secs" "${targets[@]}"
        ;;
    list) printf '%s\n' "${ALL_TARGETS[@]}" ;;
    *) usage ;;
esac
