#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Rails for real: two "hosts" (network namespaces, each held by a sleeping
# process: nothing is named or mounted, nothing outlives the test) joined by
# two veth pairs, each shaped with tc tbf to 2 Gbit/s in both directions; a
# tern-dataplane in each listens on both addresses (--transport
# tcp,listen=...,listen2=...), so a peer reaches it over two rails.
#   test_rails.sh [--case NAME] [--flap-seconds N] TERN_DATAPLANE DP_CLIENT TERN_PERF
# Cases: striping (both links >= 1.8x one, tern-perf --verify, same run),
# failover (a link down mid-run: no batch fails, every byte verified; back:
# the rail rejoins), both_down (every batch fails before its deadline; back:
# new batches succeed), flap (a link down/up every 2 s for --flap-seconds,
# 20 by default: nothing lost, pools back to full). Needs root, iproute2
# with tbf, reserved 2M hugepages. Prints the figures doc/performance.md
# quotes ("rails: ..." lines).
set -u
only=
flap_s=20
while [ $# -gt 0 ]; do
	case "$1" in
	--case) only=$2; shift 2 ;;
	--flap-seconds) flap_s=$2; shift 2 ;;
	*) break ;;
	esac
done
dataplane=${1:?tern-dataplane path}
client=${2:?dp_client path}
perf=${3:?tern-perf path}
# shellcheck source=../integration_lib.sh
source "$(dirname "$0")/../integration_lib.sh" "tern_rails_$$" 256

rate=${RAILS_RATE:-2gbit}
declare -A base=([a]=0x200000000000 [b]=0x280000000000)
eal() { echo "-l 0-1 --no-pci --base-virtaddr ${base[$1]} --file-prefix $prefix$1 --log-level lib.eal:warning"; }
client_eal() { echo "--proc-type=secondary -l 0 --no-pci --file-prefix $prefix$1 --log-level lib.eal:warning"; }
declare -A dp_pid
ha=
hb=

# Two namespaces, links 1 (10.97.1.0/24) and 2 (10.97.2.0/24), both shaped.
hosts_up() {
	unshare --net sleep 900 &
	ha=$!
	unshare --net sleep 900 &
	hb=$!
	pids+=("$ha" "$hb")
	sleep 0.3
	local l
	for l in 1 2; do
		ip link add "ra$l$$" netns "$ha" type veth peer name "rb$l$$" netns "$hb" || return 1
		na ip addr add "10.97.$l.1/24" dev "ra$l$$" || return 1
		nb ip addr add "10.97.$l.2/24" dev "rb$l$$" || return 1
		na ip link set "ra$l$$" up && nb ip link set "rb$l$$" up || return 1
		na tc qdisc add dev "ra$l$$" root tbf rate "$rate" burst 256kb latency 20ms || return 1
		nb tc qdisc add dev "rb$l$$" root tbf rate "$rate" burst 256kb latency 20ms || return 1
	done
	na ip link set lo up && nb ip link set lo up
}
na() { nsenter --net="/proc/$ha/ns/net" "$@"; }
nb() { nsenter --net="/proc/$hb/ns/net" "$@"; }
# link N up|down, on a's end.
link() { na ip link set "ra$1$$" "$2"; }

# start NODE ARGS...: dataplane of node NODE in its namespace; waits for "ready".
start() {
	local node=$1 h=$ha
	shift
	[ "$node" = b ] && h=$hb
	# shellcheck disable=SC2046
	nsenter --net="/proc/$h/ns/net" "$dataplane" $(eal "$node") -- --node "$node" --segment kv:256M --idle yield --shm off "$@" \
		>"$work/dp$node.log" 2>&1 &
	dp_pid[$node]=$!
	pids+=("$!")
	for _ in $(seq 1 100); do
		grep -q "ready:" "$work/dp$node.log" && return 0
		kill -0 "${dp_pid[$node]}" 2>/dev/null || break
		sleep 0.1
	done
	echo "dataplane $node did not start:"
	cat "$work/dp$node.log"
	return 1
}

stop() {
	local p=${dp_pid[$1]}
	kill -TERM "$p" 2>/dev/null
	for _ in $(seq 1 100); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	wait "$p"
	local rc=$?
	[ "$rc" -eq 0 ] || { echo "dataplane $1 exit status $rc"; tail -20 "$work/dp$1.log"; return 1; }
}

# Both dataplanes, each listening on its two addresses.
pair_up() {
	start a --transport tcp,listen=10.97.1.1:7000,listen2=10.97.2.1:7000 \
		--directory p2p://10.97.1.1:7101 --peer b=p2p://10.97.1.2:7102 "$@" || return 1
	start b --transport tcp,listen=10.97.1.2:7000,listen2=10.97.2.2:7000 \
		--directory p2p://10.97.1.2:7102 --peer a=p2p://10.97.1.1:7101 "$@"
}

# telemetry NODE COMMAND: the command's JSON value (the namespace does not
# matter: the socket is a Unix one, by file prefix).
telemetry() {
	echo "$2" | dpdk-telemetry.py -f "$prefix$1" 2>&1 | python3 -c '
import json, sys
text = sys.stdin.read()
cmd = sys.argv[1].split(",")[0]
start = text.index("{\"" + cmd + "\"")
print(json.dumps(json.loads(text[start:text.rindex("}") + 1])[cmd]))' "$2"
}

# rails NODE PEER: "ADDR STATE BYTES ERRORS FAILURES SHARE" per rail of PEER.
rails() {
	telemetry "$1" /tern/peers | python3 -c '
import json, sys
d = json.load(sys.stdin)
for i, n in enumerate(d["rail_node"]):
    if n == sys.argv[1]:
        print(d["rail"][i], d["rail_state"][i], d["rail_bytes"][i], d["rail_errors"][i],
              d["rail_failures"][i], d["rail_share_pct"][i])' "$2"
}

# wait_rails NODE PEER STATE SECONDS: every rail of PEER in STATE within SECONDS.
wait_rails() {
	local i
	for i in $(seq 1 $(($4 * 10))); do
		if [ "$(rails "$1" "$2" | awk -v s="$3" '$2 != s' | wc -l)" -eq 0 ] &&
			[ "$(rails "$1" "$2" | wc -l)" -ge 2 ]; then
			echo "rails: $2's rails $3 after $((i * 100)) ms"
			return 0
		fi
		sleep 0.1
	done
	echo "rails of $2 not all $3 within $4 s:"
	rails "$1" "$2"
	return 1
}

# wait_rail NODE PEER RAIL STATE SECONDS: that rail of PEER in STATE within SECONDS.
wait_rail() {
	local i
	for i in $(seq 1 $(($5 * 10))); do
		if rails "$1" "$2" | grep -q "^$3 $4 "; then
			echo "rails: rail $3 $4 after $((i * 100)) ms"
			return 0
		fi
		sleep 0.1
	done
	echo "rail $3 of $2 not $4 within $5 s:"
	rails "$1" "$2"
	return 1
}

# perf NODE ARGS...: tern-perf against a dataplane, JSON on stdout.
perf() {
	local node=$1
	shift
	# shellcheck disable=SC2046
	"$perf" $(client_eal "$node") -- --target dataplane --no-baseline --quiet --json "$@"
}
gbps() { python3 -c 'import json, sys; print(json.load(sys.stdin)["results"][0]["gbps"])'; }

# A writer that verifies every byte it wrote by reading it back.
dp() {
	local node=$1
	shift
	# shellcheck disable=SC2046
	"$client" $(client_eal "$node") -- "$@"
}

# tcp counters of a dataplane, from its log at exit, or telemetry.
tcp_stat() { telemetry "$1" /tern/stats | python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], 0))' "$2"; }

hosts_down() {
	[ -n "$ha" ] && kill "$ha" "$hb" 2>/dev/null
	[ -n "$ha" ] && wait "$ha" "$hb" 2>/dev/null
	ha=
	hb=
}

# One batch stream over both links >= 1.8x one link, measured in one run:
# first with link 2 down (one rail), then with both.
striping() {
	local one two ok=0
	{
		hosts_up && pair_up &&
			dp a --segment b/kv --bytes 4M --iterations 2 &&
			wait_rails a b up 5 &&
			link 2 down && dp a --segment b/kv --bytes 8M --iterations 4 &&
			wait_rail a b 10.97.2.2:7000 paused 5 &&
			one=$(perf a --segment b/kv --block-size 1M --inflight 16 --duration 3 --verify | gbps) &&
			link 2 up && wait_rails a b up 10 &&
			two=$(perf a --segment b/kv --block-size 1M --inflight 16 --duration 3 --verify | gbps) &&
			echo "rails: striping: one link $one GB/s, both $two GB/s, ratio $(python3 -c "print(round($two / $one, 2))")" &&
			rails a b &&
			python3 -c "import sys; sys.exit(0 if $two >= 1.8 * $one else 1)" &&
			stop a && stop b && ok=1
	} || true
	hosts_down
	[ "$ok" -eq 1 ]
}

# The figures of every case, passed or not.
after_case() { grep '^rails:' "$work/case.log" | sed 's/^/    /'; }

if [ -n "$only" ]; then
	run_case "$only" "$only"
	summary
	exit
fi
echo "[==========] tern rails: two links between two hosts, striping and failover"
run_case striping striping
summary
