#!/usr/bin/env bash
# The cgroup v2 tier of the test suite: the integration tests, run inside a
# throwaway QEMU VM whose only cgroup hierarchy is cgroup v2 (run-in-v2vm.sh),
# against the same target/debug/berth the host tiers test.
#
#   v2vm/run-tests.sh [--skip-file FILE] [NAME...] [-- TEST-ARGS...]
#
#   NAME       test binaries to run (integration-tests/tests/NAME.rs); default
#              all of them, the cgroup-heavy ones first
#   TEST-ARGS  passed to every test binary (a name filter, --exact, --nocapture)
#   --skip-file FILE   where skipped tests (and a skip of the whole tier) are
#              recorded; default <workspace>/target/integration-skipped.txt
#
# On the host it builds berth and the test binaries (cargo, into
# <workspace>/target: the VM shares only the workspace, at the same path, so
# CARGO_TARGET_DIR is not honoured here) and the harness's probe and rootfs
# template, so nothing is compiled in the VM. Then it boots the VM once and runs
# v2vm/tests-in-guest.sh there, which runs the test binaries one after the other.
#
# Environment:
#   V2VM_TEST_THREADS    --test-threads for each binary (default 2)
#   V2VM_BINARY_TIMEOUT  seconds allowed per test binary (default 300)
#   V2VM_TIMEOUT         seconds allowed for the whole VM (default 900)
#   BERTH_IT_TIME_SCALE  factor for the harness's own time limits in the VM,
#                        where process start is 10-50x slower (default 4)
#   BERTH_RUNTIME        runtime under test, as for the host tiers (it must be
#                        visible in the guest: any host path is, read-only)
#   and run-in-v2vm.sh's settings (V2VM_MEM, V2VM_SMP, V2VM_CACHE, ...).
#
# Exit status: 0 all passed; 1 a test failed (or the VM broke down mid-run);
# 77 skipped, because this machine cannot run the VM (not root, no qemu and no
# apt to install it, no kernel package, the VM does not boot): the reason is
# printed and appended to the skip file.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
ws=$(dirname "$here")
cd "$ws"

target=$ws/target
skip_file=$target/integration-skipped.txt
names=()
test_args=()
while [ $# -gt 0 ]; do
	case $1 in
	--skip-file) skip_file=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	--) shift; test_args=("$@"); break ;;
	-*) echo "run-tests.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	*) names+=("$1"); shift ;;
	esac
done

tier_start=$(date +%s)
elapsed() { echo $(($(date +%s) - tier_start)); }

skip() {
	echo "==> cgroup v2 tier SKIPPED: $*" >&2
	{ mkdir -p "$(dirname "$skip_file")" && echo "SKIPPED cgroup-v2 tier (v2vm/run-tests.sh): $*" >>"$skip_file"; } 2>/dev/null ||
		echo "run-tests.sh: cannot record the skip in $skip_file" >&2
	exit 77
}

if ! command -v cargo >/dev/null && [ -f "$HOME/.cargo/env" ]; then
	# shellcheck disable=SC1091
	. "$HOME/.cargo/env"
fi

# ---------------------------------------------------------------- can the VM run?
[ "$(id -u)" = 0 ] || skip "not root (qemu's 9p shares, the VM cache and the containers need root)"
[ "$(uname -m)" = x86_64 ] || skip "not an x86_64 host ($(uname -m)); the VM boots Debian's amd64 kernel"

run=$target/v2vm
rm -rf "$run"
mkdir -p "$run"

# qemu (installed with apt if missing), the kernel and busybox (apt-get
# download), cached in /tmp; a no-op when the cache is there.
echo "==> v2vm: preparing the VM (qemu, kernel, initramfs; cached in ${V2VM_CACHE:-/tmp/berth-v2vm-cache})"
if ! "$here/run-in-v2vm.sh" --prepare >"$run/prepare.log" 2>&1; then
	cat "$run/prepare.log" >&2
	reason=$(grep -E '^run-in-v2vm: ' "$run/prepare.log" | tail -n1 | sed 's/^run-in-v2vm: //' || true)
	skip "cannot set up the VM: ${reason:-see the output above}"
fi
sed 's/^/    /' "$run/prepare.log"

# ---------------------------------------------------------------- build on the host
export CARGO_TARGET_DIR=$target
echo "==> cargo build -p berth"
cargo build -p berth
echo "==> cargo test -p integration-tests --no-run"
cargo test -p integration-tests --no-run --message-format=json >"$run/artifacts.json"

# The executables of the test targets, by name, and of the lib's unit tests.
declare -A bin_of=()
lib_tests=
while IFS= read -r line; do
	exe=$(sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' <<<"$line")
	src=$(sed -n 's/.*"src_path":"\([^"]*\)".*/\1/p' <<<"$line")
	case $src in
	*/integration-tests/tests/*.rs) bin_of[$(basename "$src" .rs)]=$exe ;;
	*/integration-tests/src/lib.rs) lib_tests=$exe ;;
	esac
done < <(grep '"reason":"compiler-artifact".*"executable":"/' "$run/artifacts.json")
[ -n "$lib_tests" ] && [ ${#bin_of[@]} -gt 0 ] || {
	echo "run-tests.sh: no test executables in cargo's output ($run/artifacts.json)" >&2
	exit 1
}

if [ ${#names[@]} -eq 0 ]; then
	# Everything, those that exercise cgroups most first.
	for n in cgroups lifecycle cleanup resources namespaces rootfs_mounts process hooks devices bad_input; do
		[ -n "${bin_of[$n]+x}" ] && names+=("$n")
	done
	# The real clients' end-to-end tests (e2e_*) run on the host only: each starts a
	# daemon, which under TCG emulation costs minutes; name them to run them here.
	while IFS= read -r n; do
		case " ${names[*]} " in *" $n "*) ;; *) names+=("$n") ;; esac
	done < <(printf '%s\n' "${!bin_of[@]}" | grep -v '^e2e_' | sort)
fi
specs=()
for n in "${names[@]}"; do
	[ -n "${bin_of[$n]+x}" ] || { echo "run-tests.sh: no test binary $n (have: ${!bin_of[*]})" >&2; exit 2; }
	specs+=("integration-tests/tests/$n.rs=${bin_of[$n]}")
done

# The probe and the rootfs template: the harness builds them lazily under
# <target>; doing it here keeps rustc out of the (emulated) VM.
echo "==> building the probe and the rootfs template"
if ! "$lib_tests" --exact artifacts::tests::probe_and_rootfs_template_are_built >"$run/artifacts.log" 2>&1 ||
	! grep -q '1 passed' "$run/artifacts.log"; then
	cat "$run/artifacts.log" >&2
	echo "run-tests.sh: building the probe and the rootfs template failed" >&2
	exit 1
fi

# ---------------------------------------------------------------- the VM
threads=${V2VM_TEST_THREADS:-2}
per_bin=${V2VM_BINARY_TIMEOUT:-300}
envs=(-e BERTH_IT_TIER=cgroup-v2-vm -e "BERTH_IT_SKIP_FILE=$run/skipped.txt"
	-e "BERTH_IT_TIME_SCALE=${BERTH_IT_TIME_SCALE:-4}"
	-e "V2VM_TEST_THREADS=$threads" -e "V2VM_BINARY_TIMEOUT=$per_bin")
if [ -n "${BERTH_RUNTIME:-}" ]; then
	envs+=(-e "BERTH_RUNTIME=$BERTH_RUNTIME")
fi
echo "==> v2vm: ${#specs[@]} test binaries in a cgroup-v2-only VM (--test-threads=$threads, ${per_bin}s each at most)"
vm_start=$(date +%s)
set +e
"$here/run-in-v2vm.sh" -q "${envs[@]}" "$ws" -- "$here/tests-in-guest.sh" "${specs[@]}" -- \
	"${test_args[@]+"${test_args[@]}"}" 2>&1 | tee "$run/output.txt"
rc=${PIPESTATUS[0]}
set -e
vm_secs=$(($(date +%s) - vm_start))

if [ "$rc" = 125 ] && ! grep -q '^v2vm-tier: guest up' "$run/output.txt"; then
	skip "the VM did not boot (run-in-v2vm.sh exited 125; see $run/output.txt)"
fi

# ---------------------------------------------------------------- summary
read -r passed failed ignored results < <(awk '
	/^test result: / {
		n++
		for (i = 1; i <= NF; i++) {
			if ($(i + 1) ~ /^passed;?$/) p += $i
			if ($(i + 1) ~ /^failed;?$/) f += $i
			if ($(i + 1) ~ /^ignored;?$/) g += $i
		}
	}
	END { print p + 0, f + 0, g + 0, n + 0 }' "$run/output.txt")
skipped=0
if [ -s "$run/skipped.txt" ]; then
	skipped=$(grep -c . "$run/skipped.txt")
	if [ "$(realpath -m "$skip_file")" != "$(realpath -m "$run/skipped.txt")" ]; then
		cat "$run/skipped.txt" >>"$skip_file"
	fi
fi
failed_tests=$(grep -E '^test .* \.\.\. FAILED$' "$run/output.txt" | sed 's/^test \(.*\) \.\.\. FAILED$/\1/' | tr '\n' ' ' || true)

echo "==> cgroup v2 tier: $passed passed ($skipped of them skipped themselves), $failed failed, $ignored ignored;" \
	"$results of ${#specs[@]} test binaries reported; VM ${vm_secs}s, tier $(elapsed)s"
status=0
if [ "$rc" = 124 ]; then
	echo "==> cgroup v2 tier: the VM hit its time limit (V2VM_TIMEOUT=${V2VM_TIMEOUT:-900}s)" >&2
	status=1
elif [ "$rc" = 3 ]; then
	echo "==> cgroup v2 tier: the guest was not cgroup-v2-only (harness problem)" >&2
	status=1
elif [ "$rc" != 0 ] || [ "$failed" -gt 0 ] || [ "$results" -lt "${#specs[@]}" ]; then
	status=1
fi
if [ "$status" != 0 ]; then
	echo "==> cgroup v2 tier FAILED (VM exit status $rc)${failed_tests:+; failed: $failed_tests}" >&2
fi
exit "$status"
