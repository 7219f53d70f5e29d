#!/usr/bin/env bash
# Runs inside the cgroup v2 VM, started by v2vm/run-tests.sh (see there):
# checks that the guest really has cgroup v2 only, then runs each integration
# test binary the way `cargo test` does, printing cargo's "Running" lines.
#
#   tests-in-guest.sh SRC=BINARY... [-- TEST-ARGS...]
#
# SRC is the test's source (tests/cgroups.rs), BINARY the test executable.
# Environment: V2VM_TEST_THREADS (default 2), V2VM_BINARY_TIMEOUT (seconds
# per test binary, default 300).
# Exit status: 0 when every binary passed, 1 when one failed or timed out,
# 3 when the guest is not cgroup-v2-only (a harness problem, not a test result).
set -u

threads=${V2VM_TEST_THREADS:-2}
limit=${V2VM_BINARY_TIMEOUT:-300}
bins=()
while [ $# -gt 0 ]; do
	if [ "$1" = -- ]; then
		shift
		break
	fi
	bins+=("$1")
	shift
done
test_args=("$@")

# run-tests.sh looks for this line to tell "the VM never booted" from a failure.
echo "v2vm-tier: guest up: kernel $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MiB"

# cgroup2 at /sys/fs/cgroup, and no cgroup v1 hierarchy anywhere.
if [ ! -f /sys/fs/cgroup/cgroup.controllers ] || grep -q ' - cgroup ' /proc/self/mountinfo; then
	echo "v2vm-tier: the guest is not cgroup-v2-only:" >&2
	grep cgroup /proc/self/mountinfo >&2
	exit 3
fi
echo "v2vm-tier: /sys/fs/cgroup is cgroup2 only; controllers enabled at the root: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
echo "v2vm-tier: this process is in cgroup $(cat /proc/self/cgroup)"

status=0
for spec in "${bins[@]}"; do
	src=${spec%%=*}
	exe=${spec#*=}
	echo "     Running $src (${exe#"$PWD"/})"
	timeout -k 10 "$limit" "$exe" --test-threads="$threads" "${test_args[@]+"${test_args[@]}"}"
	rc=$?
	case $rc in
	0) ;;
	124 | 137) echo "v2vm-tier: $src: timed out after ${limit}s (V2VM_BINARY_TIMEOUT)"; status=1 ;;
	101) status=1 ;;
	*) echo "v2vm-tier: $src: exited with status $rc"; status=1 ;;
	esac
done
exit "$status"
