#!/bin/bash
# Wall time of `podman run --rm IMG true` and `ctr run --rm IMG ID true` with berth,
# runc and crun, interleaved round by round; prints the medians.
#
# Usage (as root, after ./setup.sh and one run of the e2e tests, which build the OCI
# image under target/): integration-tests/bench-clients.sh [ROUNDS]
# On a hybrid cgroup host crun needs the cgroup2 hierarchy free of controllers (see
# ../shared/bench/README.md: mount hugetlb as v1).
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
W=/tmp/cb; rm -rf $W; mkdir -p $W; cd $W
BERTH=${BERTH:-$top/target/release/berth}
tar -C "$top/target/berth-it-oci-v1" --exclude=.complete -cf img.tar .
cat > containers.conf <<EOC
[containers]
netns = "none"
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$W/events.log"
runtime_supports_json = ["berth", "crun", "runc"]
EOC
export CONTAINERS_CONF=$W/containers.conf
P="podman --root $W/storage --runroot /tmp/cbr --storage-driver overlay"
$P load -i img.tar >/dev/null; $P tag localhost/latest:latest localhost/berth-it:latest
cat > cd.toml <<EOC
version = 2
root = "$W/cd-root"
state = "$W/cd-state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$W/cd.sock"
EOC
containerd --config cd.toml > cd.log 2>&1 & CDPID=$!
sleep 2
C="ctr --address $W/cd.sock -n bench"
$C images import --base-name berth-it img.tar >/dev/null
IMG=$($C images ls -q | head -1)
declare -A rt=([berth]=$BERTH [runc]=/usr/sbin/runc [crun]=/usr/bin/crun)
for r in berth runc crun; do :> $W/podman.$r; :> $W/ctr.$r; done
N=${1:-15}
for i in $(seq $N); do
  for r in berth runc crun; do
    s=$(date +%s%N); $P --runtime ${rt[$r]} run --rm --pull never localhost/berth-it:latest true >/dev/null 2>&1 || echo "podman $r failed" >&2; e=$(date +%s%N); echo $(( (e-s)/1000 )) >> $W/podman.$r
    s=$(date +%s%N); $C run --rm --runc-binary ${rt[$r]} --runc-root $W/rr-$r $IMG c$i-$r true >/dev/null 2>&1 || echo "ctr $r failed" >&2; e=$(date +%s%N); echo $(( (e-s)/1000 )) >> $W/ctr.$r
  done
done
med() { sort -n $1 | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]/1000}'; }
printf "%-22s %10s %10s %10s\n" "" berth runc crun
for k in podman ctr; do printf "%-22s %9.1fms %9.1fms %9.1fms\n" "$k run --rm true" $(med $W/$k.berth) $(med $W/$k.runc) $(med $W/$k.crun); done
kill $CDPID; sleep 1; $P rm -fa >/dev/null 2>&1; $P system reset -f >/dev/null 2>&1; umount -R -l /tmp/cbr 2>/dev/null; rm -rf /tmp/cbr
