#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Two (or three) tern-dataplanes on this host, finding each other through a
# directory (p2p, a real etcd, a real Redis) and moving data through the shm
# and tcp transports; peer death; hostile bytes at every port they open.
#   test_peers.sh [--case NAME] TERN_DATAPLANE DP_CLIENT TERN_PERF
# (--case runs one case: how the etcd and Redis cases run themselves under
# tests/directory/with_server.sh.) Needs root, reserved 2M hugepages, etcd and redis-server (tern-quickstart.sh
# deps). Every process, server and runtime file it creates goes on exit.
set -u
only=
if [ "${1:-}" = --case ]; then
	only=$2
	shift 2
fi
dataplane=${1:?tern-dataplane path}
client=${2:?dp_client path}
perf=${3:?tern-perf path}
# shellcheck source=../integration_lib.sh
source "$(dirname "$0")/../integration_lib.sh" "tern_peer_$$" 256

# Each dataplane gets its own EAL base address (secondaries map it there) and
# yields idle CPUs: three pollers share two CPUs here.
declare -A base=([a]=0x200000000000 [b]=0x280000000000 [c]=0x300000000000)
eal() { echo "-l 0-1 --no-pci --base-virtaddr ${base[$1]} --file-prefix $prefix$1 --log-level lib.eal:warning"; }
client_eal() { echo "--proc-type=secondary -l 0 --no-pci --file-prefix $prefix$1 --log-level lib.eal:warning"; }
declare -A dp_pid

# start NODE ARGS...: dataplane of node NODE (a, b or c), waits for "ready".
start() {
	local node=$1
	shift
	# shellcheck disable=SC2046
	${DP_WRAP:-} "$dataplane" $(eal "$node") -- --node "$node" --segment kv:32M --idle yield "$@" \
		>"$work/dp$node.log" 2>&1 &
	dp_pid[$node]=$!
	pids+=("$!")
	wait_ready "${dp_pid[$node]}" "$work/dp$node.log"
}

# stop NODE: SIGTERM, exit 0 within 10 s.
stop() {
	local p=${dp_pid[$1]}
	kill -TERM "$p" 2>/dev/null
	for _ in $(seq 1 100); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	wait "$p"
	local rc=$?
	[ "$rc" -eq 0 ] || { echo "dataplane $1 exit status $rc"; cat "$work/dp$1.log"; return 1; }
}

# tcp_port NODE: the port its tcp transport listens on.
tcp_port() { sed -n 's/^tern-dataplane: tcp: listening on .* port \([0-9]*\)$/\1/p' "$work/dp$1.log"; }

# telemetry NODE COMMAND: the command's JSON value, via DPDK's own client.
telemetry() {
	echo "$2" | dpdk-telemetry.py -f "$prefix$1" 2>&1 | python3 -c '
import json, sys
text = sys.stdin.read()
cmd = sys.argv[1].split(",")[0]
start = text.index("{\"" + cmd + "\"")
print(json.dumps(json.loads(text[start:text.rindex("}") + 1])[cmd]))' "$2"
}

# peer_field NODE PEER FIELD: one column of /tern/peers for PEER.
peer_field() {
	telemetry "$1" /tern/peers | python3 -c '
import json, sys
d = json.load(sys.stdin)
i = d["node"].index(sys.argv[1])
print(d[sys.argv[2]][i])' "$2" "$3"
}

# has_shm NODE: the shm transport is usable in that dataplane.
has_shm() { telemetry "$1" /tern/info | grep -q '"transports_usable": \[[^]]*"shm"'; }

# dp NODE ARGS...: a dp_client attached to NODE's dataplane.
dp() {
	local node=$1
	shift
	# shellcheck disable=SC2046
	"$client" $(client_eal "$node") -- "$@"
}

# After every case: the dataplanes' last words if it failed, then none left.
failed_seen=0
after_case() {
	local n
	if [ "$failed" -gt "$failed_seen" ]; then
		for n in a b c; do
			[ -f "$work/dp$n.log" ] && { echo "    --- dataplane $n:"; tail -n 15 "$work/dp$n.log" | sed 's/^/    /'; }
		done
	fi
	failed_seen=$failed
	for n in "${dp_pid[@]}"; do kill -9 "$n" 2>/dev/null; done
	wait 2>/dev/null
	dp_pid=()
	rm -f "$work"/dp?.log
}

# pair ARGS...: dataplanes a and b, each serving p2p and told the other's
# port, both with ARGS.
pair() {
	local pa pb
	pa=$(free_port)
	pb=$(free_port)
	start a "$@" --directory "p2p://127.0.0.1:$pa" --peer "b=p2p://127.0.0.1:$pb" &&
		start b "$@" --directory "p2p://127.0.0.1:$pb" --peer "a=p2p://127.0.0.1:$pa"
}

# Both ways, several clients at once, batches mixing local and remote
# targets, tern-perf verified; then /tern/peers accounts for it.
# transfers_between NODE_A NODE_B EXPECTED_TRANSPORT
transfers_between() {
	local t=$3 c1 c2 c3
	dp a --segment b/kv --offset 0 --bytes 3M --iterations 5 &
	c1=$!
	dp a --segment kv --mix b/kv --offset $((4 << 20)) --bytes 4M --iterations 5 &
	c2=$!
	dp b --segment a/kv --offset $((16 << 20)) --bytes 1M --iterations 5 &
	c3=$!
	wait $c1 || { echo "client a->b failed"; return 1; }
	wait $c2 || { echo "mixed client a->(a, b) failed"; return 1; }
	wait $c3 || { echo "client b->a failed"; return 1; }
	# shellcheck disable=SC2046
	"$perf" $(client_eal a) -- --target dataplane --segment b/kv --block-size 4K,1M \
		--clients 2 --duration 0.3 --warmup 0 --verify --quiet >"$work/perf.out" 2>&1 ||
		{ cat "$work/perf.out"; return 1; }
	[ "$(grep -c verified "$work/perf.out")" -eq 2 ] || { cat "$work/perf.out"; return 1; }
	[ "$(peer_field a b transport)" = "$t" ] || { telemetry a /tern/peers; return 1; }
	[ "$(peer_field a b state)" = up ] || { telemetry a /tern/peers; return 1; }
	[ "$(peer_field a b bytes)" -gt $((40 << 20)) ] || { telemetry a /tern/peers; return 1; }
	[ "$(peer_field a b failed_requests)" -eq 0 ] || { telemetry a /tern/peers; return 1; }
	[ "$(peer_field b a transport)" = "$t" ] || { telemetry b /tern/peers; return 1; }
	# Remote segments are listed with their transport.
	telemetry a /tern/segments | grep -q '"b:kv"' || { telemetry a /tern/segments; return 1; }
}

p2p_tcp_moves_data_both_ways() {
	pair --shm off --listen 127.0.0.1:0 || return 1
	transfers_between a b tcp || return 1
	stop a && stop b
}

p2p_shm_moves_data_both_ways() {
	# No --listen: shm is the only way, and it must be chosen.
	pair || return 1
	has_shm a || { echo "shm transport not usable"; telemetry a /tern/info; return 1; }
	transfers_between a b shm || return 1
	stop a && stop b
}

strategy_prefers_shm_and_a_pin_moves_the_peer_to_tcp() {
	pair --listen 127.0.0.1:0 || return 1
	dp a --segment b/kv --bytes 1M --iterations 2 || return 1
	[ "$(peer_field a b transport)" = shm ] || { telemetry a /tern/peers; return 1; }
	telemetry a /tern/peers/set,b=tcp | grep -q '"status": "ok"' || return 1
	[ "$(peer_field a b pinned)" = tcp ] || return 1
	dp a --segment b/kv --bytes 1M --iterations 2 || return 1
	[ "$(peer_field a b transport)" = tcp ] || { telemetry a /tern/peers; return 1; }
	telemetry a /tern/peers/set,b=nosuch | grep -q "no such transport" || return 1
	telemetry a "/tern/peers/set,b c=tcp" | grep -q "NODE=TRANSPORT" || return 1
	telemetry a /tern/peers/set,b=auto | grep -q '"status": "ok"' || return 1
	dp a --segment b/kv --bytes 1M --iterations 2 || return 1
	[ "$(peer_field a b transport)" = shm ] || { telemetry a /tern/peers; return 1; }
	# An unknown node or segment is a clear error, not a hang.
	dp a --segment b/nosuch --bytes 1M 2>&1 | grep -q "No such file" || return 1
	dp a --segment zz/kv --bytes 1M 2>&1 | grep -q "No route to host" || return 1
	stop a && stop b
}

# Peer death mid-transfer: the client on a fails well before its 5 s
# deadline, a keeps working with c, and b's imports are retired.
killed_peer_fails_its_futures_only() {
	local pa pb pc t0 t1 cl
	pa=$(free_port)
	pb=$(free_port)
	pc=$(free_port)
	start a --shm "$1" --listen 127.0.0.1:0 --directory "p2p://127.0.0.1:$pa" \
		--peer "b=p2p://127.0.0.1:$pb" --peer "c=p2p://127.0.0.1:$pc" || return 1
	start b --shm "$1" --listen 127.0.0.1:0 --directory "p2p://127.0.0.1:$pb" || return 1
	start c --shm "$1" --listen 127.0.0.1:0 --directory "p2p://127.0.0.1:$pc" || return 1
	dp a --segment b/kv --bytes 2M --forever >"$work/forever.out" 2>&1 &
	cl=$!
	for _ in $(seq 1 100); do
		grep -q transferring "$work/forever.out" && break
		sleep 0.1
	done
	grep -q transferring "$work/forever.out" || { cat "$work/forever.out"; return 1; }
	t0=$(date +%s%N)
	kill -9 "${dp_pid[b]}"
	wait "$cl"
	local rc=$?
	t1=$(date +%s%N)
	[ "$rc" -eq 1 ] || { echo "client exit $rc, expected 1"; cat "$work/forever.out"; return 1; }
	[ $(((t1 - t0) / 1000000)) -lt 4000 ] ||
		{ echo "client failed after $(((t1 - t0) / 1000000)) ms"; return 1; }
	cat "$work/forever.out"
	# a keeps working, with itself and with c.
	dp a --segment c/kv --bytes 2M --iterations 3 || return 1
	dp a --segment kv --mix c/kv --bytes 2M --iterations 3 || return 1
	for _ in $(seq 1 50); do
		[ "$(peer_field a b state)" = stale ] && break
		sleep 0.1
	done
	[ "$(peer_field a b state)" = stale ] || { telemetry a /tern/peers; return 1; }
	[ "$(peer_field a c state)" = up ] || { telemetry a /tern/peers; return 1; }
	stop a && stop c
}

killed_peer_fails_its_futures_only_tcp() { killed_peer_fails_its_futures_only off; }
killed_peer_fails_its_futures_only_shm() { killed_peer_fails_its_futures_only on; }

# The directory is a real etcd: descriptors under a lease, readable with
# etcdctl; a killed dataplane's lease expires and its imports go stale.
etcd_directory() {
	local uri="etcd://$TERN_TEST_ENDPOINT/tern-test-$$"
	start a --listen 127.0.0.1:0 --directory "$uri" || return 1
	start b --listen 127.0.0.1:0 --directory "$uri" || return 1
	ETCDCTL_API=3 etcdctl --endpoints "http://$TERN_TEST_ENDPOINT" get --prefix "/tern-test-$$" \
		--print-value-only >"$work/etcd.out" || return 1
	python3 -c '
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
nodes = sorted(d["node"] for d in docs)
assert nodes == ["a", "b"], nodes
for d in docs:
    assert d["segment"] == "kv" and d["length"] == 32 << 20, d
    assert "tcp" in d["transports"], d
' "$work/etcd.out" || { cat "$work/etcd.out"; return 1; }
	transfers_between a b "$(has_shm a && echo shm || echo tcp)" || return 1
	kill -9 "${dp_pid[b]}"
	# Lease of 10 s, checked every second.
	for _ in $(seq 1 200); do
		[ "$(peer_field a b state)" = stale ] && break
		sleep 0.1
	done
	[ "$(peer_field a b state)" = stale ] || { telemetry a /tern/peers; return 1; }
	dp a --segment b/kv --bytes 1M 2>&1 | grep -q "No such file" || return 1
	stop a
}

redis_directory() {
	local uri="redis://$TERN_TEST_ENDPOINT/tern-test-$$"
	start a --shm off --listen 127.0.0.1:0 --directory "$uri" || return 1
	start b --shm off --listen 127.0.0.1:0 --directory "$uri" || return 1
	redis-cli -u "redis://$TERN_TEST_ENDPOINT" --scan --pattern "tern-test-$$*" >"$work/keys" || return 1
	[ "$(wc -l <"$work/keys")" -eq 2 ] || { cat "$work/keys"; return 1; }
	redis-cli -u "redis://$TERN_TEST_ENDPOINT" get "$(grep /b/ "$work/keys" | head -1)" |
		grep -q '"node":"b"' || return 1
	dp a --segment b/kv --bytes 3M --iterations 3 || return 1
	[ "$(peer_field a b transport)" = tcp ] || { telemetry a /tern/peers; return 1; }
	stop b
	# A withdrawn descriptor: b's clean stop deleted its keys.
	for _ in $(seq 1 50); do
		[ "$(peer_field a b state)" = stale ] && break
		sleep 0.1
	done
	[ "$(peer_field a b state)" = stale ] || { telemetry a /tern/peers; return 1; }
	stop a
}

# Garbage, truncated and hostile bytes at the tcp port, the p2p control port
# and the shm socket: the dataplane survives, keeps serving, and the data a
# client wrote before is intact afterwards.
hostile_bytes_hurt_nothing() {
	pair --listen 127.0.0.1:0 || return 1
	dp a --segment b/kv --bytes 1M --iterations 2 || return 1
	pb=$(sed -n 's/^tern-dataplane: directory: serving descriptors on p2p port //p' "$work/dpb.log")
	python3 - "$(tcp_port b)" "$pb" "/var/run/dpdk/${prefix}b/tern_shm.sock" <<'EOF' || return 1
import os, socket, struct, sys
tcp_port, p2p_port, shm_path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
payloads = [
    b"", b"\x00", b"GET / HTTP/1.0\r\n\r\n", os.urandom(7), os.urandom(64), os.urandom(70000),
    b"\xff" * 4096, struct.pack("<IIII", 0x7465726e, 1, 0xffffffff, 0xffffffff) + b"\x00" * 48,
    struct.pack(">I", 0xffffffff) + b"{}", struct.pack(">I", 5) + b"{\"x\":",
]
def blast(make):
    for p in payloads:
        try:
            s = make()
            s.settimeout(1.0)
            s.sendall(p)
            try:
                s.shutdown(socket.SHUT_WR)
                s.recv(65536)
            except OSError:
                pass
            s.close()
        except OSError:
            pass
blast(lambda: socket.create_connection(("127.0.0.1", tcp_port)))
blast(lambda: socket.create_connection(("127.0.0.1", p2p_port)))
if os.path.exists(shm_path):
    def unix():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(shm_path)
        return s
    blast(unix)
EOF
	kill -0 "${dp_pid[b]}" || { echo "b died"; return 1; }
	dp a --segment b/kv --bytes 2M --iterations 3 || return 1
	telemetry a /tern/peers/set,b=tcp | grep -q '"status": "ok"' || return 1
	dp a --segment b/kv --bytes 2M --iterations 3 || return 1
	dp b --segment kv --bytes 2M --iterations 3 || return 1
	stop a && stop b
}

# Two "hosts": network namespaces joined by a veth pair (10.99.0.0/24 exists
# only inside them), one dataplane in each, tcp between them (--shm off: on
# one kernel shm would otherwise win, see the strategy). Each namespace is
# held by a sleeping process (unshare --net), not named with "ip netns add",
# so nothing is mounted and nothing outlives the test.
netns_veth_tcp() {
	local ha hb ok=0
	unshare --net sleep 300 &
	ha=$!
	unshare --net sleep 300 &
	hb=$!
	pids+=("$ha" "$hb")
	sleep 0.3
	local na="nsenter --net=/proc/$ha/ns/net" nb="nsenter --net=/proc/$hb/ns/net"
	{
		ip link add "va$$" netns "$ha" type veth peer name "vb$$" netns "$hb" &&
			$na ip addr add 10.99.0.1/24 dev "va$$" && $nb ip addr add 10.99.0.2/24 dev "vb$$" &&
			$na ip link set "va$$" up && $nb ip link set "vb$$" up &&
			$na ip link set lo up && $nb ip link set lo up &&
			DP_WRAP=$na start a --shm off --listen 10.99.0.1:7000 \
				--directory p2p://10.99.0.1:7101 --peer b=p2p://10.99.0.2:7102 &&
			DP_WRAP=$nb start b --shm off --listen 10.99.0.2:7000 \
				--directory p2p://10.99.0.2:7102 --peer a=p2p://10.99.0.1:7101 &&
			dp a --segment b/kv --bytes 3M --iterations 5 &&
			dp b --segment kv --mix a/kv --bytes 2M --iterations 5 &&
			[ "$(peer_field a b transport)" = tcp ] &&
			telemetry a /tern/segments | grep -q '"b:kv"' &&
			stop a && stop b && ok=1
	} || true
	kill "$ha" "$hb" 2>/dev/null
	wait "$ha" "$hb" 2>/dev/null
	[ "$ok" -eq 1 ]
}

if [ -n "$only" ]; then
	run_case "$only" "$only"
	summary
	exit
fi
echo "[==========] tern peers: two dataplanes, directory, shm and tcp"
run_case p2p_tcp_moves_data_both_ways p2p_tcp_moves_data_both_ways
run_case p2p_shm_moves_data_both_ways p2p_shm_moves_data_both_ways
run_case strategy_prefers_shm_and_a_pin_moves_the_peer_to_tcp strategy_prefers_shm_and_a_pin_moves_the_peer_to_tcp
run_case killed_peer_fails_its_futures_only_tcp killed_peer_fails_its_futures_only_tcp
run_case killed_peer_fails_its_futures_only_shm killed_peer_fails_its_futures_only_shm
run_case hostile_bytes_hurt_nothing hostile_bytes_hurt_nothing
run_case netns_veth_tcp netns_veth_tcp
with_server=$(dirname "$0")/../directory/with_server.sh
for backend in etcd redis; do
	run_case "${backend}_directory" "$with_server" "$backend" "$0" --case "${backend}_directory" \
		"$dataplane" "$client" "$perf"
done
summary
