#!/usr/bin/env bash
# Run berth's fuzz targets with libFuzzer (cargo fuzz), each for SECONDS (default 600),
# starting from the corpora kept in fuzz/corpus/. Exits non-zero if a target crashes;
# the crashing input lands in fuzz/artifacts/<target>/.
#   fuzz/run.sh [SECONDS] [TARGET...]      targets: protocol mount_options cli config
#   FUZZ_GROW=1 fuzz/run.sh 600            also add the new inputs to fuzz/corpus/
# Works on a stable toolchain: cargo fuzz's nightly flags are unlocked with
# RUSTC_BOOTSTRAP and no sanitizer is used (the code under test is safe Rust; the
# fuzzers look for panics, failed asserts and hangs).
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-600}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(protocol mount_options cli config)
command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2; exit 1; }
export RUSTC_BOOTSTRAP=1
buildlog="$(mktemp)"
if ! cargo fuzz build -s none >"$buildlog" 2>&1; then
    cat "$buildlog" >&2
    echo "fuzz: cargo fuzz build failed" >&2
    exit 1
fi
rm -f "$buildlog"
fail=0
for t in "${targets[@]}"; do
    if [ "${FUZZ_GROW:-0}" = 1 ]; then
        dirs=("corpus/$t")
    else
        scratch="$(mktemp -d)"
        dirs=("$scratch" "corpus/$t")
    fi
    log="$(mktemp)"
    if cargo fuzz run -s none "$t" "${dirs[@]}" -- -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo '?')
        echo "fuzz $t: ${secs}s, $runs inputs, coverage $cov, no crash"
    else
        echo "fuzz $t: FAILED" >&2
        tail -40 "$log" >&2
        fail=1
    fi
    rm -f "$log"
    [ -z "${scratch:-}" ] || rm -rf "$scratch"
    scratch=""
done
exit $fail
