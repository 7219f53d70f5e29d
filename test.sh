#!/usr/bin/env bash
# The whole test suite: build everything, then the unit tests, then the
# integration tests (which drive target/debug/berth over real bundles and need
# root; a test the host can't support skips itself and says why).
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
echo "==> cargo test -p integration-tests (integration tests)"
cargo test -p integration-tests --no-fail-fast "$@" || status=$?

n="$(grep -c . "$skipped" || true)"
if [ "$n" -gt 0 ]; then
    echo "==> $n integration test(s) skipped:"
    cat "$skipped"
else
    echo "==> no integration test skipped"
fi
if [ "$status" -ne 0 ]; then
    echo "==> FAILED (cargo test exited with $status)" >&2
fi
exit "$status"
