#!/usr/bin/env bash
# run-in-v2vm.sh - run a command inside a throwaway QEMU VM whose only cgroup
# hierarchy is cgroup v2 (unified), with all controllers enabled at the root.
# berth's cgroup v2 test tier (v2vm/run-tests.sh) runs the integration tests
# with it; see v2vm/README.md. (Adapted from a standalone v2vm harness.)
#
#   run-in-v2vm.sh [options] DIR [--] COMMAND [ARG...]
#
# The guest sees the host's root filesystem read-only with a throwaway tmpfs
# overlay on top (so host binaries, dynamically linked ones included, run
# as they are), and DIR read-write at the same absolute path, where COMMAND
# starts. COMMAND runs as root, in the root cgroup, with stdin from /dev/null.
# Its output is streamed to this script's stdout; the script exits with its
# exit code (124 on timeout, 125 when the VM failed before reporting one).
#
# Options (environment variable in brackets):
#   -m MiB     guest memory (V2VM_MEM, default 2048)
#   -c N       guest CPUs (V2VM_SMP, default 2)
#   -t SECS    wall-clock limit for the whole VM (V2VM_TIMEOUT, default 900)
#   -a ACCEL   kvm | tcg | auto (V2VM_ACCEL, default auto: kvm only if
#              /dev/kvm is usable and the CPU shows vmx/svm)
#   -k MODS    extra guest kernel modules to load, comma or space separated
#              (V2VM_MODULES), e.g. -k veth,bridge,br_netfilter
#   -e VAR=VAL set an environment variable for COMMAND (repeatable)
#   -r         mount DIR read-only in the guest
#   -q         do not print the [v2vm] banner lines from the guest
#   -v         verbose: kernel messages, shell traces, timings (V2VM_VERBOSE=1)
#   --prepare  only build the cache (kernel + initramfs), then exit
#   --rebuild  throw away the cache first
# Other settings: V2VM_CACHE (default /tmp/berth-v2vm-cache); V2VM_KERNEL_PKG
# (default linux-image-amd64, Debian's; must have 9p modules, so not the
# -cloud flavour); V2VM_WORK_CACHE (9p cache mode for DIR: loose, the default,
# keeps pages across execs; mmap or none if the host changes DIR during a run);
# V2VM_APPEND (extra kernel command line); V2VM_CPU (TCG CPU model, default max).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${V2VM_CACHE:-/tmp/berth-v2vm-cache}
MEM=${V2VM_MEM:-2048}
SMP=${V2VM_SMP:-2}
TIMEOUT=${V2VM_TIMEOUT:-900}
ACCEL=${V2VM_ACCEL:-auto}
MODULES=${V2VM_MODULES:-}
VERBOSE=${V2VM_VERBOSE:-0}
QUIET=0
WORK_RO=0
KERNEL_PKG=${V2VM_KERNEL_PKG:-linux-image-amd64}
ENVS=()
PREPARE_ONLY=0
REBUILD=0

log() { echo "[v2vm] $*" >&2; }
die() { echo "run-in-v2vm: $*" >&2; exit 125; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit "${1:-125}"; }

while [ $# -gt 0 ]; do
	case "$1" in
	-m) MEM=$2; shift 2 ;;
	-c) SMP=$2; shift 2 ;;
	-t) TIMEOUT=$2; shift 2 ;;
	-a) ACCEL=$2; shift 2 ;;
	-k) MODULES="$MODULES ${2//,/ }"; shift 2 ;;
	-e) ENVS+=("$2"); shift 2 ;;
	-r) WORK_RO=1; shift ;;
	-q) QUIET=1; shift ;;
	-v) VERBOSE=1; shift ;;
	--prepare) PREPARE_ONLY=1; shift ;;
	--rebuild) REBUILD=1; shift ;;
	-h|--help) usage 0 ;;
	--) shift; break ;;
	-*) die "unknown option $1 (see --help)" ;;
	*) break ;;
	esac
done

# ---------------------------------------------------------------- host tools
need_root_apt() {
	[ "$(id -u)" = 0 ] || die "need root to apt-get install $*"
	command -v apt-get >/dev/null || die "no apt-get; install $* by hand"
}

ensure_qemu() {
	command -v qemu-system-x86_64 >/dev/null && return
	need_root_apt qemu-system-x86
	log "installing qemu-system-x86 ..."
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends qemu-system-x86 >&2 ||
		{ apt-get update >&2 && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y --no-install-recommends qemu-system-x86 >&2; } ||
		die "cannot install qemu-system-x86"
}

# apt-get download PKG... into the current directory (apt lists refreshed once if needed).
apt_download() {
	command -v apt-get >/dev/null || die "no apt-get to download $*"
	apt-get -q -o APT::Sandbox::User=root download "$@" >&2 ||
		{ apt-get update >&2 && apt-get -q -o APT::Sandbox::User=root download "$@" >&2; } ||
		die "apt-get download $* failed"
}

# ---------------------------------------------------------------- the cache
# $CACHE/kernel/      dpkg -x of the Debian kernel package (+ busybox depmod)
# $CACHE/vmlinux      uncompressed kernel (PVH boot, ~2.5 s faster under TCG)
# $CACHE/kver         kernel release string
# $CACHE/busybox      static busybox from busybox-static
# $CACHE/initrd-<hash>.cpio  base initramfs (busybox, guest/init, 9p modules)
INITRD_MODS="virtio_pci 9pnet_virtio 9p overlay virtio-rng"
INITRD_LAYOUT=2

build_kernel() {
	local tmp=$1 pkg deb vmlinuz off
	# Resolve a meta package (linux-image-amd64) to the versioned image package.
	pkg=$(apt-cache depends --no-recommends --no-suggests "$KERNEL_PKG" 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ {print $2}' | head -n1 || true)
	[ -n "$pkg" ] || pkg=$KERNEL_PKG
	log "downloading $pkg ..."
	(cd "$tmp" && apt_download "$pkg")
	deb=$(ls "$tmp"/linux-image-*.deb | head -n1)
	dpkg -x "$deb" "$tmp/kernel"
	KVER=$(ls "$tmp/kernel/lib/modules" | head -n1)
	[ -n "$KVER" ] || die "no modules in $deb"
	# Drop hardware drivers a VM never needs (~200 MB of the ~390 MB).
	(cd "$tmp/kernel/lib/modules/$KVER/kernel" &&
		rm -rf sound drivers/gpu drivers/media drivers/net/wireless drivers/net/ethernet \
			drivers/infiniband drivers/iio drivers/usb drivers/staging drivers/bluetooth \
			net/bluetooth net/wireless net/mac80211)
	"$tmp/busybox" depmod -b "$tmp/kernel" "$KVER" || die "depmod failed"
	# With kmod on the host, add its binary indexes too (for kmod's modprobe).
	if command -v depmod >/dev/null && depmod --version 2>/dev/null | grep -q kmod; then
		depmod -b "$tmp/kernel" "$KVER" || true
	fi
	vmlinuz=$tmp/kernel/boot/vmlinuz-$KVER
	# Uncompressed ELF vmlinux boots via PVH (skips xz decompression under TCG).
	off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | head -n1 | cut -d: -f1 || true)
	if [ -n "$off" ] && command -v xz >/dev/null; then
		tail -c +$((off + 1)) "$vmlinuz" | xz -dc 2>/dev/null > "$tmp/vmlinux" || true
	fi
	if [ "$(head -c4 "$tmp/vmlinux" 2>/dev/null | od -An -tx1 | tr -d ' ')" != 7f454c46 ]; then
		log "could not extract vmlinux; booting the compressed bzImage"
		cp "$vmlinuz" "$tmp/vmlinux"
	fi
	echo "$KVER" > "$tmp/kver"
}

build_busybox() {
	local tmp=$1
	log "downloading busybox-static ..."
	mkdir -p "$tmp/bb"
	(cd "$tmp/bb" && apt_download busybox-static)
	dpkg -x "$tmp"/bb/busybox-static_*.deb "$tmp/bb/x"
	cp "$tmp/bb/x/bin/busybox" "$tmp/busybox"
	rm -rf "$tmp/bb"
}

# Modules (relative paths) needed by the given module names, deps included.
mod_closure() {
	local dep=$1; shift
	awk -v want="$*" '
	function norm(s) { gsub(/-/, "_", s); return s }
	function base(p,  b) { b = p; sub(/.*\//, "", b); sub(/\.ko(\.[a-z]+)?$/, "", b); return norm(b) }
	BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) need[norm(w[i])] = 1 }
	{ sub(/:$/, "", $1); key = base($1); path[key] = $1; line[key] = $0 }
	END {
		changed = 1
		while (changed) {
			changed = 0
			for (m in need) {
				if (!(m in line)) { print "missing module " m > "/dev/stderr"; delete need[m]; continue }
				k = split(line[m], f, /[: ]+/)
				for (i = 2; i <= k; i++) if (f[i] != "" && !(base(f[i]) in need)) { need[base(f[i])] = 1; changed = 1 }
			}
		}
		for (m in need) print path[m]
	}' "$dep"
}

build_initrd() {
	local out=$1 st
	st=$(mktemp -d "$CACHE/.initrd.XXXXXX")
	mkdir -p "$st"/{bin,dev,proc,sys,tmp,root,etc}
	cp "$CACHE/busybox" "$st/bin/busybox"
	# /v2vm/bin: busybox with relative applet links, copied to the guest's /.v2vm/bin.
	mkdir -p "$st/v2vm/bin"
	cp "$CACHE/busybox" "$st/v2vm/bin/busybox"
	local a
	for a in $("$CACHE/busybox" --list); do
		[ "$a" = busybox ] || ln -s busybox "$st/v2vm/bin/$a"
	done
	cp "$HERE/guest/init" "$st/init"
	chmod 755 "$st/init" "$st/bin/busybox"
	mknod -m 600 "$st/dev/console" c 5 1 2>/dev/null || true
	local md="$CACHE/kernel/lib/modules/$KVER" p
	for p in $(mod_closure "$md/modules.dep" $INITRD_MODS); do
		mkdir -p "$st/lib/modules/$KVER/$(dirname "$p")"
		cp "$md/$p" "$st/lib/modules/$KVER/$p"
	done
	"$CACHE/busybox" depmod -b "$st" "$KVER"
	(cd "$st" && find . | "$CACHE/busybox" cpio -o -H newc 2>/dev/null) > "$out.tmp"
	mv "$out.tmp" "$out"
	rm -rf "$st"
}

ensure_cache() {
	mkdir -p "$CACHE"
	exec 9>"$CACHE/.lock"
	flock 9
	if [ "$REBUILD" = 1 ]; then
		rm -rf "$CACHE/kernel" "$CACHE/vmlinux" "$CACHE/kver" "$CACHE/busybox" "$CACHE"/initrd-*.cpio
	fi
	if [ ! -s "$CACHE/busybox" ]; then
		local tmp; tmp=$(mktemp -d "$CACHE/.bb.XXXXXX")
		build_busybox "$tmp"
		mv "$tmp/busybox" "$CACHE/busybox"
		rm -rf "$tmp"
	fi
	if [ ! -s "$CACHE/kver" ] || [ ! -s "$CACHE/vmlinux" ] || [ ! -d "$CACHE/kernel" ]; then
		local tmp; tmp=$(mktemp -d "$CACHE/.kernel.XXXXXX")
		cp "$CACHE/busybox" "$tmp/busybox"
		build_kernel "$tmp"
		rm -rf "$CACHE/kernel"
		mv "$tmp/kernel" "$CACHE/kernel"
		mv "$tmp/vmlinux" "$CACHE/vmlinux"
		mv "$tmp/kver" "$CACHE/kver"
		rm -rf "$tmp"
	fi
	KVER=$(cat "$CACHE/kver")
	local h
	# Bump INITRD_LAYOUT when build_initrd changes; guest/init is hashed in.
	h=$( { cat "$HERE/guest/init"; echo "$KVER $INITRD_MODS $INITRD_LAYOUT"; } | sha256sum | cut -c1-12)
	INITRD=$CACHE/initrd-$KVER-$h.cpio
	if [ ! -s "$INITRD" ]; then
		log "building initramfs ..."
		rm -f "$CACHE"/initrd-*.cpio
		build_initrd "$INITRD"
	fi
	flock -u 9
	exec 9>&-
}

# ---------------------------------------------------------------- main
ensure_qemu
ensure_cache
if [ "$PREPARE_ONLY" = 1 ]; then
	log "cache ready: $CACHE (kernel $KVER, $(basename "$INITRD"))"
	exit 0
fi

[ $# -ge 2 ] || usage 125
WORKDIR=$(cd "$1" && pwd -P) || die "no such directory: $1"
shift
[ "$WORKDIR" != / ] || die "DIR must not be /"

case "$ACCEL" in
auto)
	if [ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then ACCEL=kvm; else ACCEL=tcg; fi ;;
kvm|tcg) ;;
*) die "bad accel: $ACCEL" ;;
esac
if [ "$ACCEL" = kvm ]; then
	ACCEL_ARGS=(-accel kvm -cpu host)
else
	ACCEL_ARGS=(-accel tcg,thread=multi -cpu "${V2VM_CPU:-max}")
fi

CTL=$(mktemp -d /tmp/v2vm-run.XXXXXX)
cleanup() { rm -rf "$CTL"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

q() { printf '%q' "$1"; }
{
	echo "V2VM_WORKDIR=$(q "$WORKDIR")"
	echo "V2VM_MODDIR=$(q "$CACHE/kernel/lib/modules/$KVER")"
	echo "V2VM_MODULES=$(q "$MODULES")"
	echo "V2VM_WORK_RO=$WORK_RO"
	echo "V2VM_WORK_CACHE=$(q "${V2VM_WORK_CACHE:-loose}")"
	echo "V2VM_VERBOSE=$VERBOSE"
	echo "V2VM_QUIET=$QUIET"
} > "$CTL/config"
cp "$HERE/guest/stage2" "$CTL/stage2"
{
	echo "cd $(q "$WORKDIR") || exit 125"
	# The guest sees the host's files, so the host's PATH and tool homes apply.
	echo "export PATH=$(q "${PATH}:/.v2vm/bin")"
	for v in HOME LANG LC_ALL CARGO_HOME RUSTUP_HOME RUSTUP_TOOLCHAIN RUST_BACKTRACE RUST_LOG CARGO_TARGET_DIR; do
		[ -n "${!v+x}" ] && echo "export $v=$(q "${!v}")"
	done
	for e in "${ENVS[@]+"${ENVS[@]}"}"; do echo "export $(q "$e")"; done
	printf 'exec'; printf ' %q' "$@"; echo
} > "$CTL/cmd"

APPEND="console=ttyS0 panic=-1 rdinit=/init ${V2VM_APPEND:-}"
if [ "$VERBOSE" = 1 ]; then APPEND="$APPEND loglevel=7"; else APPEND="$APPEND quiet loglevel=3"; fi

QEMU=(qemu-system-x86_64 "${ACCEL_ARGS[@]}" -M pc -m "$MEM" -smp "$SMP"
	-nodefaults -no-user-config -display none -no-reboot
	-kernel "$CACHE/vmlinux" -initrd "$INITRD" -append "$APPEND"
	-chardev stdio,id=con,signal=off -serial chardev:con
	-fsdev local,id=fsroot,path=/,security_model=none,readonly=on,multidevs=remap
	-device virtio-9p-pci,fsdev=fsroot,mount_tag=hostroot
	-fsdev local,id=fswork,path="$WORKDIR",security_model=none,multidevs=remap
	-device virtio-9p-pci,fsdev=fswork,mount_tag=work
	-fsdev local,id=fsctl,path="$CTL",security_model=none
	-device virtio-9p-pci,fsdev=fsctl,mount_tag=v2vmctl
	-device virtio-rng-pci)

[ "$VERBOSE" = 1 ] && log "accel=$ACCEL kernel=$KVER: ${QEMU[*]}"
start=$(date +%s.%N)
set +e
timeout -k 10 "$TIMEOUT" "${QEMU[@]}" < /dev/null |
	sed -u -e 's/\r$//' -e '/^\[ *[0-9.]*\] reboot: Power down$/d'
st=("${PIPESTATUS[@]}")
set -e
end=$(date +%s.%N)
[ "$VERBOSE" = 1 ] && log "qemu exited ${st[0]} after $(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.2f", b-a}') s"

if [ -s "$CTL/rc" ]; then
	exit "$(cat "$CTL/rc")"
fi
if [ "${st[0]}" = 124 ] || [ "${st[0]}" = 137 ]; then
	log "timed out after ${TIMEOUT}s"
	exit 124
fi
log "VM ended (qemu status ${st[0]}) without an exit code from the command"
exit 125
