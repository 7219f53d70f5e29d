#!/usr/bin/env bash
# First run: install the packages berth's build and tests use, build a release
# berth, make the sample bundles' root filesystems and run the hello bundle.
#
# Usage: ./setup.sh          (as root: running containers needs it)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# Keep in sync with .ci/run (libc6-dev: gcc only recommends it, and linking needs it).
packages=(busybox-static runc crun libseccomp-dev pkg-config time gcc libc6-dev)
# The end-to-end tests' clients (./test.sh skips them, saying why, where missing).
packages+=(containerd umoci podman conmon catatonit docker.io skopeo)

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        echo "setup.sh: need root to run: $*" >&2
        exit 1
    fi
}

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "==> installing ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
fi

if ! command -v cargo >/dev/null && [ -f "$HOME/.cargo/env" ]; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi
if ! command -v cargo >/dev/null; then
    echo "setup.sh: cargo not found; install a Rust toolchain (1.85 or later), e.g. with rustup" >&2
    exit 1
fi

# ./test.sh's fuzz smoke runs the cargo fuzz targets (fuzz/run.sh).
if ! command -v cargo-fuzz >/dev/null; then
    echo "==> cargo install cargo-fuzz --locked"
    cargo install cargo-fuzz --locked
fi

# A static berth (glibc's crt-static): no dynamic loader at each start, and about a
# megabyte less resident memory per invocation. `cargo rustc` applies the flag to the
# final link only (proc-macro crates can't be built with crt-static).
echo "==> cargo rustc --release -p berth -- -C target-feature=+crt-static"
cargo rustc --release -p berth --bin berth -- -C target-feature=+crt-static

echo "==> bundles/setup.sh"
bundles/setup.sh

id="hello-$$"
echo "==> target/release/berth run --bundle bundles/hello $id"
as_root target/release/berth run --bundle bundles/hello "$id"
