#!/usr/bin/env bash
# Build the rootfs/ of every sample bundle under bundles/ from Debian's static
# busybox: /bin/busybox plus one symlink per applet, the usual mount points,
# and a minimal /etc. Safe to run again (it only fills in what is missing or
# out of date). Installs busybox-static with apt if no static busybox is found.
#
# Usage: bundles/setup.sh            (from anywhere)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        echo "bundles/setup.sh: need root to run: $*" >&2
        exit 1
    fi
}

# A busybox that can run inside a rootfs with no libraries: statically linked.
is_static() {
    [ -x "$1" ] || return 1
    local out
    out="$(LC_ALL=C ldd "$1" 2>&1 || true)"
    case "$out" in
        *"not a dynamic executable"* | *"statically linked"*) return 0 ;;
        *) return 1 ;;
    esac
}

find_busybox() {
    local b
    for b in /usr/bin/busybox /bin/busybox; do
        if is_static "$b"; then
            echo "$b"
            return 0
        fi
    done
    return 1
}

if ! busybox="$(find_busybox)"; then
    echo "bundles/setup.sh: installing busybox-static" >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y busybox-static </dev/null
    busybox="$(find_busybox)" || {
        echo "bundles/setup.sh: no static busybox at /usr/bin/busybox or /bin/busybox" >&2
        exit 1
    }
fi

mapfile -t applets < <("$busybox" --list)
[ "${#applets[@]}" -gt 0 ] || { echo "bundles/setup.sh: $busybox --list printed nothing" >&2; exit 1; }

make_rootfs() {
    local rootfs="$1" hostname="$2"
    mkdir -p "$rootfs"/{bin,proc,sys,dev,etc,root,tmp}
    chmod 0755 "$rootfs" "$rootfs"/{bin,proc,sys,dev,etc}
    chmod 0700 "$rootfs/root"
    chmod 1777 "$rootfs/tmp"

    if ! cmp -s "$busybox" "$rootfs/bin/busybox"; then
        # Copy to a temporary name first: the old binary may be running.
        install -m 0755 "$busybox" "$rootfs/bin/.busybox.new"
        mv -f "$rootfs/bin/.busybox.new" "$rootfs/bin/busybox"
    fi
    local applet
    for applet in "${applets[@]}"; do
        [ "$applet" = busybox ] && continue
        [ -L "$rootfs/bin/$applet" ] || ln -sfn busybox "$rootfs/bin/$applet"
    done

    printf '%s\n' \
        'root:x:0:0:root:/root:/bin/sh' \
        'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$rootfs/etc/passwd"
    printf '%s\n' \
        'root:x:0:' \
        'nogroup:x:65534:' >"$rootfs/etc/group"
    printf '%s\n' "$hostname" >"$rootfs/etc/hostname"
    chmod 0644 "$rootfs/etc/passwd" "$rootfs/etc/group" "$rootfs/etc/hostname"
}

# The hostname from config.json, without needing jq.
bundle_hostname() {
    local name
    name="$(sed -n 's/^[[:space:]]*"hostname":[[:space:]]*"\([^"]*\)".*/\1/p' "$1" | head -n1)"
    echo "${name:-berth}"
}

count=0
for config in "$here"/*/config.json; do
    [ -e "$config" ] || continue
    bundle="$(dirname "$config")"
    make_rootfs "$bundle/rootfs" "$(bundle_hostname "$config")"
    echo "bundles/setup.sh: $(basename "$bundle")/rootfs ready"
    count=$((count + 1))
done
if [ "$count" -eq 0 ]; then
    echo "bundles/setup.sh: no bundle (dir with config.json) under $here" >&2
    exit 1
fi
