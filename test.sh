#!/usr/bin/env bash
# The whole test suite: build everything, then the unit tests, then the
# integration tests (which drive target/debug/berth over real bundles and need
# root; a test the host can't support skips itself and says why), then the
# cgroup v2 tier: the integration tests again, inside a throwaway QEMU VM whose
# only cgroup hierarchy is cgroup v2 (v2vm/run-tests.sh; 3-5 minutes; it
# skips itself, saying why, where the VM cannot run; BERTH_V2VM=0 turns it off).
#
# Usage: ./test.sh [extra `cargo test` arguments, e.g. -- --test-threads=1]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if ! command -v cargo >/dev/null && [ -f "$HOME/.cargo/env" ]; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi

# The integration tests append one line per skipped test here.
target="${CARGO_TARGET_DIR:-target}"
skipped="$target/integration-skipped.txt"
mkdir -p "$target"
: >"$skipped"

if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: not root: the integration tests that need root will fail or skip" >&2
fi

echo "==> cargo build --workspace --all-targets"
cargo build --workspace --all-targets

# Unit tests (and doc tests) first, then the integration tests; both always run
# (--no-fail-fast: one failing test binary doesn't hide the others' results).
status=0
echo "==> cargo test --workspace --exclude integration-tests (unit tests)"
cargo test --workspace --exclude integration-tests --no-fail-fast "$@" || status=$?
# The fuzz smoke: each cargo fuzz target (fuzz/fuzz_targets/) for a few seconds from
# the corpora kept in fuzz/corpus/ (BERTH_FUZZ_SECS each, default 15; 0 turns it off).
fuzz_secs="${BERTH_FUZZ_SECS:-15}"
if [ "$fuzz_secs" = 0 ]; then
    echo "SKIPPED fuzz smoke (fuzz/run.sh): turned off with BERTH_FUZZ_SECS=0" | tee -a "$skipped" >&2
elif ! command -v cargo-fuzz >/dev/null; then
    echo "SKIPPED fuzz smoke (fuzz/run.sh): cargo-fuzz is not installed (cargo install cargo-fuzz --locked)" | tee -a "$skipped" >&2
else
    echo "==> fuzz/run.sh $fuzz_secs (fuzz smoke: every target, ${fuzz_secs}s each)"
    ./fuzz/run.sh "$fuzz_secs" || status=$?
fi

echo "==> cargo test -p integration-tests (integration tests)"
itlog="$target/integration-tests.log"
set +e
cargo test -p integration-tests --no-fail-fast "$@" 2>&1 | tee "$itlog"
it=${PIPESTATUS[0]}
set -e
[ "$it" -eq 0 ] || status=$it
# What the hostile-image and hostile-condition suites covered (issue 7), by name.
echo "==> covered on this host: CVE cases (tests/cve.rs and the CVE tests elsewhere) and reliability cases"
grep -E '^test (cve_[a-z0-9_]+|[a-z0-9_]*(cve|symlink|inheritable)[a-z0-9_]*|.*racing.*|.*killed.*|.*concurrent.*|.*512k.*|.*cycles.*|embed.*) \.\.\. ' "$itlog" | sed 's/^test /    /' || true
grep -E '^embed: ' "$itlog" | sed 's/^/    /' || true

if [ "${BERTH_V2VM:-1}" = 0 ]; then
    echo "SKIPPED cgroup-v2 tier (v2vm/run-tests.sh): turned off with BERTH_V2VM=0" | tee -a "$skipped" >&2
else
    echo "==> v2vm/run-tests.sh (cgroup v2 tier: the integration tests in a cgroup-v2-only VM)"
    v2=0
    ./v2vm/run-tests.sh --skip-file "$(realpath -m "$skipped")" || v2=$?
    # 77: skipped (recorded in $skipped).
    if [ "$v2" -ne 0 ] && [ "$v2" -ne 77 ]; then
        status=$v2
    fi
fi

n="$(grep -c . "$skipped" || true)"
if [ "$n" -gt 0 ]; then
    echo "==> $n integration test(s) skipped:"
    cat "$skipped"
else
    echo "==> no integration test skipped"
fi
if [ "$status" -ne 0 ]; then
    echo "==> FAILED (exit status $status)" >&2
fi
exit "$status"
