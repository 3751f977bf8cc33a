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
bg=()

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
	wait_ready "${dp_pid[$node]}" "$work/dp$node.log"
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
              d["rail_reposted"][i], d["rail_failures"][i], d["rail_share_pct"][i])' "$2"
}

# wait_rails NODE PEER STATE SECONDS: every rail of PEER in STATE within SECONDS.
wait_rails() {
	local t0 now
	t0=$(date +%s%N)
	now=$t0
	while [ $((now - t0)) -lt $(($4 * 1000000000)) ]; do
		rails "$1" "$2" >"$work/rails.now"
		if [ "$(awk -v s="$3" '$2 != s' "$work/rails.now" | wc -l)" -eq 0 ] &&
			[ "$(wc -l <"$work/rails.now")" -ge 2 ]; then
			echo "rails: $2's rails $3 after $((($(date +%s%N) - t0) / 1000000)) ms"
			return 0
		fi
		sleep 0.1
		now=$(date +%s%N)
	done
	echo "rails of $2 not all $3 within $4 s:"
	rails "$1" "$2"
	return 1
}

# wait_rail NODE PEER RAIL STATE SECONDS: that rail of PEER in STATE within SECONDS.
wait_rail() {
	local t0 now
	t0=$(date +%s%N)
	now=$t0
	while [ $((now - t0)) -lt $(($5 * 1000000000)) ]; do
		if rails "$1" "$2" | grep -Eq "^$3 ($4) "; then
			echo "rails: rail $3 $4 after $((($(date +%s%N) - t0) / 1000000)) ms (telemetry polled)"
			return 0
		fi
		sleep 0.1
		now=$(date +%s%N)
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

# stat NODE FIELD: one field of /tern/stats.
stat() { telemetry "$1" /tern/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"; }
# rail_sum NODE PEER COLUMN: a column of rails() (3 bytes, 4 errors, 5 reposted, 6 failures) summed.
rail_sum() { rails "$1" "$2" | awk -v c="$3" '{ s += $c } END { print s + 0 }'; }
# rail_col NODE PEER RAIL COLUMN
rail_col() { rails "$1" "$2" | awk -v r="$3" -v c="$4" '$1 == r { print $c }'; }
# fds NODE: open file descriptors of its dataplane.
fds() { ls "/proc/${dp_pid[$1]}/fd" | wc -l; }
# pools_full NODE: every future back in the pool.
pools_full() {
	telemetry "$1" /tern/stats | python3 -c '
import json, sys
s = json.load(sys.stdin)
print("rails: pool %d of %d available" % (s["pool_available"], s["pool_total"]))
sys.exit(0 if s["pool_available"] == s["pool_total"] and s["pool_total"] > 0 else 1)'
}

hosts_down() {
	local n p
	for p in "${bg[@]}"; do # a failed case's clients and link flapper
		kill -9 "$p" 2>/dev/null
	done
	bg=()
	for n in a b; do # what a failed case left running
		if [ -n "${dp_pid[$n]:-}" ] && kill -0 "${dp_pid[$n]}" 2>/dev/null; then
			kill -9 "${dp_pid[$n]}"
			wait "${dp_pid[$n]}" 2>/dev/null
			rm -rf "/var/run/dpdk/$prefix$n"
		fi
	done
	[ -n "$ha" ] && kill "$ha" "$hb" 2>/dev/null
	[ -n "$ha" ] && wait "$ha" "$hb" 2>/dev/null
	ha=
	hb=
}

# one_link: link 2 down and its rail seen paused, then tern-perf; both_links:
# link 2 up and its rail back, then tern-perf. GB/s on stdout.
one_link() {
	link 2 down && dp a --segment b/kv --bytes 8388608 --iterations 4 >&2 &&
		wait_rail a b 10.97.2.2:7000 "paused|probing" 15 >&2 &&
		perf a --segment b/kv --block-size 1M --inflight 16 --duration 3 --verify | gbps
}
both_links() {
	link 2 up && wait_rails a b up 10 >&2 &&
		perf a --segment b/kv --block-size 1M --inflight 16 --duration 3 --verify | gbps
}
best() { python3 -c "import sys; print(max(float(x) for x in sys.argv[1:]))" "$@"; }

# One batch stream over both links >= 1.8x one link, measured in one run:
# one link, both, one, both again (the machine is shared: the best of each).
striping() {
	local one two o1 o2 t1 t2 ok=0
	{
		hosts_up && pair_up &&
			dp a --segment b/kv --bytes 4194304 --iterations 2 &&
			wait_rails a b up 5 &&
			o1=$(one_link) && t1=$(both_links) && o2=$(one_link) && t2=$(both_links) &&
			echo "rails: striping: one link $o1, $o2 GB/s; both $t1, $t2 GB/s" &&
			one=$(best "$o1" "$o2") && two=$(best "$t1" "$t2") &&
			echo "rails: striping: one link $one GB/s, both $two GB/s, ratio $(python3 -c "print(round($two / $one, 2))")" &&
			rails a b &&
			python3 "$(dirname "$0")/../../usertools/tern-top" -f "${prefix}a" --once -i 0.5 \
				>"$work/top.txt" && cat "$work/top.txt" &&
			grep -q "^b  *10.97.1.2:7000  *up " "$work/top.txt" &&
			grep -q "^b  *10.97.2.2:7000  *up " "$work/top.txt" &&
			python3 -c "import sys; sys.exit(0 if $two >= 1.8 * $one else 1)" &&
			stop a && stop b && ok=1
	} || true
	hosts_down
	[ "$ok" -eq 1 ]
}

# The figures of every case, passed or not.
after_case() { grep '^rails:' "$work/case.log" | sed 's/^/    /'; }

# Link 1 down at b's end in the middle of a run (tern-perf, 16 batches of
# 1 MiB in flight, plus a client writing and reading back every byte): no
# batch fails; the rail is paused, its slices go on link 2; back up, the
# rail rejoins and takes traffic again.
failover() {
	local ok=0 pp dpp e0 t0 inflight back rejoin_bytes t1
	{
		hosts_up && pair_up &&
			dp a --segment b/kv --bytes 4194304 --iterations 2 && wait_rails a b up 5 &&
			e0=$(($(stat a errors) + $(stat a timeouts))) &&
			{ perf a --segment b/kv --block-size 1M --inflight 16 --duration 10 --warmup 0 \
				--verify >"$work/fo.json" 2>"$work/fo.err" & pp=$!; bg+=("$pp"); } &&
			{ dp a --segment b/kv --offset 134217728 --bytes 16777216 --iterations 200 \
				>"$work/fo_dp.log" 2>&1 & dpp=$!; bg+=("$dpp"); } &&
			sleep 3 &&
			inflight=$(($(stat a owned_inflight) + $(stat a sq_depth))) &&
			kill -0 "$dpp" && nb ip link set "rb1$$" down &&
			echo "rails: failover: link 1 cut at b with $inflight batches submitted and unresolved on a" &&
			wait_rail a b 10.97.1.2:7000 "paused|probing" 15 && sleep 2 &&
			back=$(grep -c "rail to 10.97.1.2:7000 is back" "$work/dpa.log" || true) &&
			nb ip link set "rb1$$" up && t0=$(date +%s%N) &&
			for _ in $(seq 1 100); do
				[ "$(grep -c "rail to 10.97.1.2:7000 is back" "$work/dpa.log")" -gt "$back" ] && break
				sleep 0.1
			done &&
			echo "rails: failover: rail rejoined (log line) $((($(date +%s%N) - t0) / 1000000)) ms after the link came back" &&
			wait_rail a b 10.97.1.2:7000 up 10 &&
			rejoin_bytes=$(rail_col a b 10.97.1.2:7000 3) &&
			wait "$pp" && wait "$dpp" &&
			t1=$(rail_col a b 10.97.1.2:7000 3) &&
			echo "rails: failover: tern-perf $(gbps <"$work/fo.json") GB/s over the run, verified; dp_client: $(tail -1 "$work/fo_dp.log")" &&
			echo "rails: failover: re-posted $(rail_sum a b 5) slices, failed batches $(($(stat a errors) + $(stat a timeouts) - e0)), rail 1 failures $(rail_col a b 10.97.1.2:7000 6)" &&
			rails a b &&
			[ "$(($(stat a errors) + $(stat a timeouts)))" -eq "$e0" ] &&
			[ "$t1" -gt "$rejoin_bytes" ] && [ "$(rail_sum a b 5)" -gt 0 ] &&
			pools_full a && stop a && stop b && ok=1
	} || { cat "$work/fo.err" "$work/fo_dp.log" 2>/dev/null; }
	hosts_down
	[ "$ok" -eq 1 ]
}

# Both links down (at a's end): every batch fails with an error, none by its
# deadline (5 s); both back: the rails rejoin and new batches succeed, with
# the same dataplanes.
both_down() {
	local ok=0 pp e0 t0 errs touts
	{
		hosts_up && pair_up &&
			dp a --segment b/kv --bytes 4194304 --iterations 2 && wait_rails a b up 5 &&
			e0=$(stat a errors) && t0=$(stat a timeouts) &&
			{ perf a --segment b/kv --block-size 1M --inflight 16 --duration 6 --warmup 0 \
				>"$work/bd.json" 2>"$work/bd.err" & pp=$!; bg+=("$pp"); } &&
			sleep 2 && link 1 down && link 2 down &&
			! wait "$pp" &&
			errs=$(($(stat a errors) - e0)) && touts=$(($(stat a timeouts) - t0)) &&
			echo "rails: both down: $errs batches failed with an error, $touts by their deadline; tern-perf: $(grep -m1 'batches failed' "$work/bd.err")" &&
			[ "$errs" -gt 0 ] && [ "$touts" -eq 0 ] &&
			link 1 up && link 2 up && wait_rails a b up 10 &&
			dp a --segment b/kv --bytes 16777216 --iterations 3 &&
			pools_full a && stop a && stop b && ok=1
	} || { cat "$work/bd.err" 2>/dev/null; }
	hosts_down
	[ "$ok" -eq 1 ]
}

# Link 1 down and up every 2 s for $flap_s s under load: no batch fails,
# every byte verified, the futures all back in the pool, no descriptor leaked.
flap() {
	local ok=0 pp fp e0 f0 f1 i n=0 bad=0
	{
		hosts_up && pair_up &&
			dp a --segment b/kv --bytes 4194304 --iterations 2 && wait_rails a b up 5 &&
			e0=$(($(stat a errors) + $(stat a timeouts))) && f0=$(fds a) &&
			{ perf a --segment b/kv --block-size 1M --inflight 16 --duration $((flap_s + 2)) \
				--warmup 0 --verify >"$work/fl.json" 2>"$work/fl.err" & pp=$!; bg+=("$pp"); } &&
			{ (
				for i in $(seq 1 $((flap_s / 2))); do
					link 1 down
					sleep 1
					link 1 up
					sleep 1
				done
			) & fp=$!; bg+=("$fp"); } &&
			for i in $(seq 1 $((flap_s * 2))); do
				kill -0 "$pp" 2>/dev/null || break
				n=$((n + 1))
				dp a --segment b/kv --offset 134217728 --bytes 8388608 --iterations 2 >/dev/null 2>&1 || bad=$((bad + 1))
			done
		wait "$pp" && wait "$fp" &&
			echo "rails: flap: ${flap_s} s, link 1 down/up every 2 s: tern-perf $(gbps <"$work/fl.json") GB/s, verified; $n verifying clients, $bad failed" &&
			echo "rails: flap: re-posted $(rail_sum a b 5) slices, rail 1 failures $(rail_col a b 10.97.1.2:7000 6), failed batches $(($(stat a errors) + $(stat a timeouts) - e0))" &&
			[ "$bad" -eq 0 ] && [ "$(($(stat a errors) + $(stat a timeouts)))" -eq "$e0" ] &&
			wait_rails a b up 10 && pools_full a &&
			f1=$(fds a) && echo "rails: flap: dataplane a had $f0 descriptors before, $f1 after" &&
			[ "$f1" -le $((f0 + 8)) ] &&
			stop a && stop b && ok=1
	} || { cat "$work/fl.err" 2>/dev/null; }
	hosts_down
	[ "$ok" -eq 1 ]
}

if [ -n "$only" ]; then
	run_case "$only" "$only"
	summary
	exit
fi
echo "[==========] tern rails: two links between two hosts, striping and failover"
run_case striping striping
run_case failover failover
run_case both_down both_down
run_case flap flap
summary
