#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The store end to end with a real tern-dataplane (hugepages) and client
# processes attached to it; its capacity is the dataplane's segment kv.
#   test_store_dataplane.sh TERN_DATAPLANE STORE_CLIENT
# Cases: the embedded metadata (put/get/remove/list, 256 MiB into 64 MiB);
# a putter killed mid-put with its records in Redis (nothing visible, the
# capacity usable again by the next client); two clients sharing a segment
# the dataplane owns (--store-capacity: reserve/commit/free over rte_mp);
# a putter killed mid-put there (the owner frees its reservation when the
# lease expires, seen in /tern/store_owner); three dataplanes a, b, c (tcp
# between them), replicas = 2 across them from a client of a, b killed:
# gets fall back to the other replica with no error, an object only b held
# fails clearly. Needs root, 2M hugepages, redis-server, dpdk-telemetry.py.
set -u
dataplane=${1:?tern-dataplane path}
client=${2:?store_client path}
# shellcheck source=../integration_lib.sh
source "$(dirname "$0")/../integration_lib.sh" "tern_st_$$" 256

eal() { echo "-l 0-1 --no-pci --base-virtaddr 0x200000000000 --file-prefix $prefix --log-level lib.eal:warning"; }
client_eal() { echo "--proc-type=secondary -l 0 --no-pci --file-prefix $prefix --log-level lib.eal:warning"; }

start_dataplane() {
	# shellcheck disable=SC2046
	"$dataplane" $(eal) -- --segment kv:64M --segment st:64M --store-capacity st --node st \
		>"$work/dp.log" 2>&1 &
	dp_pid=$!
	pids+=("$dp_pid")
	wait_ready "$dp_pid" "$work/dp.log"
}

case_embedded() {
	# shellcheck disable=SC2046
	timeout -k 5 120 "$client" $(client_eal) -- basic
}

case_putter_killed() {
	local port out
	port=$(free_port)
	redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$work" \
		>"$work/redis.log" 2>&1 &
	local rpid=$!
	pids+=("$rpid")
	for _ in $(seq 1 100); do
		redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break
		sleep 0.1
	done
	local meta="redis://127.0.0.1:$port/st"
	# shellcheck disable=SC2046
	"$client" $(client_eal) -- hang big "$meta" >"$work/hang.out" 2>&1 &
	local hpid=$!
	pids+=("$hpid")
	for _ in $(seq 1 100); do
		grep -q reserved "$work/hang.out" && break
		kill -0 "$hpid" 2>/dev/null || { cat "$work/hang.out"; return 1; }
		sleep 0.1
	done
	grep -q reserved "$work/hang.out" || { echo "the putter never reserved"; return 1; }
	kill -9 "$hpid"
	wait "$hpid" 2>/dev/null
	# Nothing of it in the metadata: no record, no partial object.
	out=$(redis-cli -p "$port" --scan --pattern 'st/*')
	[ -z "$out" ] || { echo "keys left in Redis: $out"; return 1; }
	# The next client (once the dataplane reclaimed the dead one's slot)
	# sees nothing and uses the capacity.
	for _ in $(seq 1 50); do
		# shellcheck disable=SC2046
		timeout -k 5 60 "$client" $(client_eal) -- absent big "$meta" >"$work/absent.out" 2>&1
		local rc=$?
		[ "$rc" -eq 3 ] || break # 3: attach refused while the slot is reclaimed
		sleep 0.2
	done
	cat "$work/absent.out"
	grep -q "absent ok" "$work/absent.out"
	local ok=$?
	kill "$rpid"
	wait "$rpid" 2>/dev/null
	return $ok
}

# owner_field FIELD [FILE_PREFIX]: /tern/store_owner's FIELD, through dpdk-telemetry.py.
owner_field() {
	echo /tern/store_owner | dpdk-telemetry.py -f "${2:-$prefix}" 2>/dev/null | python3 -c '
import json, sys
text = sys.stdin.read()
doc = json.loads(text[text.index("{\"/tern/store_owner"):text.rindex("}") + 1])
print(doc["/tern/store_owner"][sys.argv[1]])' "$1"
}

start_redis() {
	redis_port=$(free_port)
	redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --dir "$work" \
		>"$work/redis.log" 2>&1 &
	redis_pid=$!
	pids+=("$redis_pid")
	for _ in $(seq 1 100); do
		redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && return 0
		sleep 0.1
	done
	return 1
}

case_owner_shared() {
	local meta="redis://127.0.0.1:$redis_port/sh"
	mkdir -p "$work/barrier"
	# shellcheck disable=SC2046
	STORE_CLIENT_BARRIER=$work/barrier timeout -k 5 60 "$client" $(client_eal) -- shared A "$meta" >"$work/a.out" 2>&1 &
	local a=$!
	# shellcheck disable=SC2046
	STORE_CLIENT_BARRIER=$work/barrier timeout -k 5 60 "$client" $(client_eal) -- shared B "$meta" >"$work/b.out" 2>&1 &
	local b=$!
	wait "$a"
	local ra=$?
	wait "$b"
	local rb=$?
	cat "$work/a.out" "$work/b.out"
	[ "$ra" -eq 0 ] && [ "$rb" -eq 0 ] || return 1
	# One key put by both processes: exactly one won.
	[ "$(cat "$work/a.out" "$work/b.out" | grep -c '^race: won$')" -eq 1 ] || return 1
	[ "$(cat "$work/a.out" "$work/b.out" | grep -c '^race: lost$')" -eq 1 ] || return 1
	[ "$(owner_field used)" -eq 0 ] || { echo "owner still holds $(owner_field used) bytes"; return 1; }
	[ "$(owner_field committed)" -eq 0 ]
}

case_owner_lease() {
	local meta="redis://127.0.0.1:$redis_port/ol" expired0
	expired0=$(owner_field lease_expired)
	# shellcheck disable=SC2046
	"$client" $(client_eal) -- ownhang big "$meta" >"$work/oh.out" 2>&1 &
	local hpid=$!
	pids+=("$hpid")
	for _ in $(seq 1 100); do
		grep -q reserved "$work/oh.out" && break
		kill -0 "$hpid" 2>/dev/null || { cat "$work/oh.out"; return 1; }
		sleep 0.1
	done
	kill -9 "$hpid"
	wait "$hpid" 2>/dev/null
	# Held after the kill: reserved 1, or already freed by its 5 s lease
	# (dpdk-telemetry.py alone took 7-10 s on a loaded machine): then
	# lease_expired says so.
	local held
	held=$(owner_field reserved)
	[ "$held" -eq 1 ] || [ "$(owner_field lease_expired)" -eq $((expired0 + 1)) ] ||
		{ echo "no reservation held after the kill (reserved $held)"; return 1; }
	[ -z "$(redis-cli -p "$redis_port" --scan --pattern 'ol/*')" ] || { echo "a record in Redis"; return 1; }
	for _ in $(seq 1 100); do # the lease is 5 s; the dataplane sweeps every control period
		[ "$(owner_field reserved)" -eq 0 ] && break
		sleep 0.1
	done
	[ "$(owner_field reserved)" -eq 0 ] || { echo "reservation not freed after its lease"; return 1; }
	[ "$(owner_field used)" -eq 0 ] || return 1
	[ "$(owner_field lease_expired)" -eq $((expired0 + 1)) ]
}

# A putter killed mid-put whose objects were placed in an arena of the
# owner's (doc/store.md, *Arenas*): 4 objects committed (one-way), 2
# WRITTEN, not committed. After the kill the arena is held (reserved 1) or
# already expired; once its 5 s lease ends the owner keeps exactly the 4
# committed pieces (committed + 4, used + 4 MiB), everything else of the
# arena is given back, and Redis has the 4 records, not the 2.
case_owner_arena_lease() {
	local meta="redis://127.0.0.1:$redis_port/oa" expired0 committed0 used0
	expired0=$(owner_field lease_expired)
	committed0=$(owner_field committed)
	used0=$(owner_field used)
	# shellcheck disable=SC2046
	"$client" $(client_eal) -- ownarena ar "$meta" >"$work/oa.out" 2>&1 &
	local hpid=$!
	pids+=("$hpid")
	for _ in $(seq 1 100); do
		grep -q reserved "$work/oa.out" && break
		kill -0 "$hpid" 2>/dev/null || { cat "$work/oa.out"; return 1; }
		sleep 0.1
	done
	kill -9 "$hpid"
	wait "$hpid" 2>/dev/null
	grep -q reserved "$work/oa.out" || { cat "$work/oa.out"; return 1; }
	local held
	held=$(owner_field reserved)
	[ "$held" -eq 1 ] || [ "$(owner_field lease_expired)" -eq $((expired0 + 1)) ] ||
		{ echo "no arena held after the kill (reserved $held)"; return 1; }
	local recs
	recs=$(redis-cli -p "$redis_port" --scan --pattern 'oa/~kv/*' | sort | tr '\n' ' ')
	[ "$recs" = "oa/~kv/ar/0 oa/~kv/ar/1 oa/~kv/ar/2 oa/~kv/ar/3 " ] ||
		{ echo "records in Redis: $recs"; return 1; }
	for _ in $(seq 1 100); do # the lease is 5 s; the dataplane sweeps every control period
		[ "$(owner_field reserved)" -eq 0 ] && break
		sleep 0.1
	done
	echo "after the lease: reserved $(owner_field reserved) committed $(owner_field committed) used $(owner_field used) (before: committed $committed0 used $used0)"
	[ "$(owner_field reserved)" -eq 0 ] || { echo "arena not freed after its lease"; return 1; }
	[ "$(owner_field committed)" -eq $((committed0 + 4)) ] || return 1
	[ "$(owner_field used)" -eq $((used0 + 4 * 1048576)) ] || return 1
	[ "$(owner_field lease_expired)" -eq $((expired0 + 1)) ]
}

# --store-capacity naming no --segment: refused at start, nothing left running.
case_refused() {
	"$dataplane" -l 0-1 --no-pci --file-prefix "${prefix}r" --log-level lib.eal:warning -- \
		--segment kv:4M --store-capacity nope >"$work/refused.out" 2>&1
	local rc=$?
	[ "$rc" -ne 0 ] || { echo "exit 0"; return 1; }
	grep -q "store-capacity nope: no such --segment" "$work/refused.out" ||
		{ cat "$work/refused.out"; return 1; }
}

# Two more dataplanes, a and b, that reach each other over tcp only.
start_peer() { # start_peer NODE BASE PORT_SELF [--peer OTHER=URI...]
	local node=$1 base=$2 port=$3
	shift 3
	"$dataplane" -l 0-1 --no-pci --base-virtaddr "$base" --file-prefix "${prefix}$node" \
		--log-level lib.eal:warning -- --node "$node" --segment kv:32M --idle yield --shm off \
		--listen 127.0.0.1:0 --directory "p2p://127.0.0.1:$port" "$@" \
		>"$work/dp$node.log" 2>&1 &
	peer_pid[$node]=$!
	pids+=("$!")
	wait_ready "${peer_pid[$node]}" "$work/dp$node.log"
}
declare -A peer_pid

case_replica_holder_killed() {
	local pa pb pc c rc
	pa=$(free_port)
	pb=$(free_port)
	pc=$(free_port)
	start_peer a 0x300000000000 "$pa" --peer "b=p2p://127.0.0.1:$pb" \
		--peer "c=p2p://127.0.0.1:$pc" || return 1
	start_peer b 0x380000000000 "$pb" --peer "a=p2p://127.0.0.1:$pa" || return 1
	start_peer c 0x400000000000 "$pc" --peer "a=p2p://127.0.0.1:$pa" || return 1
	rm -f "$work/go"
	"$client" --proc-type=secondary -l 0 --no-pci --file-prefix "${prefix}a" \
		--log-level lib.eal:warning -- fallback b,c "$work/go" >"$work/fb.out" 2>&1 &
	c=$!
	pids+=("$c")
	for _ in $(seq 1 200); do
		grep -q stored "$work/fb.out" && break
		kill -0 "$c" 2>/dev/null || break
		sleep 0.1
	done
	grep -q stored "$work/fb.out" || { cat "$work/fb.out"; return 1; }
	kill -9 "${peer_pid[b]}"
	wait "${peer_pid[b]}" 2>/dev/null
	touch "$work/go"
	wait "$c"
	rc=$?
	cat "$work/fb.out"
	kill -TERM "${peer_pid[a]}" "${peer_pid[c]}"
	wait "${peer_pid[a]}" "${peer_pid[c]}" 2>/dev/null
	[ "$rc" -eq 0 ] && grep -q "fallback ok" "$work/fb.out"
}

# Peers b and c own their segment st (--store-capacity st); a client of a
# places replicas there, reserving and committing at b's and c's owners over
# their p2p channels (records in Redis). A second store reads them under
# read references at the owners, and gets -ENOENT once they are removed.
# The owners' /tern/store_owner shows the extents while the objects live,
# the read references, and nothing once the client removed them.
case_remote_owners() {
	local pa pb pc c rc cb cc rb
	pa=$(free_port)
	pb=$(free_port)
	pc=$(free_port)
	start_peer a 0x300000000000 "$pa" --peer "b=p2p://127.0.0.1:$pb" \
		--peer "c=p2p://127.0.0.1:$pc" || return 1
	start_peer b 0x380000000000 "$pb" --segment st:32M --store-capacity st \
		--peer "a=p2p://127.0.0.1:$pa" || return 1
	start_peer c 0x400000000000 "$pc" --segment st:32M --store-capacity st \
		--peer "a=p2p://127.0.0.1:$pa" --peer "b=p2p://127.0.0.1:$pb" || return 1
	rm -f "$work/go"
	"$client" --proc-type=secondary -l 0 --no-pci --file-prefix "${prefix}a" \
		--log-level lib.eal:warning -- remote "$pb,$pc,$redis_port" "$work/go" >"$work/ro.out" 2>&1 &
	c=$!
	pids+=("$c")
	for _ in $(seq 1 200); do
		grep -q stored "$work/ro.out" && break
		kill -0 "$c" 2>/dev/null || break
		sleep 0.1
	done
	grep -q stored "$work/ro.out" || { cat "$work/ro.out"; return 1; }
	cb=$(owner_field committed "${prefix}b")
	cc=$(owner_field committed "${prefix}c")
	rb=$(owner_field reserved "${prefix}b")
	# A reader on another node: a client of c reads them from b's owner.
	timeout -k 5 60 "$client" --proc-type=secondary -l 0 --no-pci --file-prefix "${prefix}c" \
		--log-level lib.eal:warning -- rread "$pb,$redis_port" present >"$work/rr.out" 2>&1 ||
		{ cat "$work/rr.out"; touch "$work/go"; return 1; }
	cat "$work/rr.out"
	refs=$(owner_field read_refs "${prefix}b")
	echo "owner b: committed $cb reserved $rb read_refs $refs; owner c: committed $cc"
	touch "$work/go"
	wait "$c"
	rc=$?
	cat "$work/ro.out"
	# Node 0 (b) holds one replica of each of the 8 objects; the second
	# replica is on c or on a's own kv.
	[ "$rc" -eq 0 ] && [ "$cb" = 8 ] && [ "$rb" = 0 ] && [ "$cc" -le 8 ] && [ "$refs" -ge 16 ] || {
		echo "expected b committed 8, reserved 0, read_refs >= 16, c committed <= 8"
		rc=1
	}
	cb=$(owner_field committed "${prefix}b")
	cc=$(owner_field committed "${prefix}c")
	echo "after remove: owner b committed $cb used $(owner_field used "${prefix}b"); c committed $cc"
	[ "$cb" = 0 ] && [ "$cc" = 0 ] && [ "$(owner_field used "${prefix}b")" = 0 ] || rc=1
	# Removed: the other node's reader finds none of them.
	timeout -k 5 60 "$client" --proc-type=secondary -l 0 --no-pci --file-prefix "${prefix}c" \
		--log-level lib.eal:warning -- rread "$pb,$redis_port" absent >"$work/rr.out" 2>&1 || rc=1
	cat "$work/rr.out"
	race_pb=$pb # the next case races on these three dataplanes, then stops them
	[ "$rc" -eq 0 ]
}

# Remove and eviction racing remote reads, on the dataplanes of
# store_remote_owners (b owns st, 32 MiB): a client of a places 2 MiB
# objects on b's st (over b's p2p channel), removing and putting them again
# and filling st until it evicts, for 6 s; a client of c reads them
# meanwhile under read references at b, every byte checked. b must have
# deferred at least one FREE under a reader (frees_deferred), no reference
# may expire unreleased, and b ends empty. Then the three are stopped.
case_remove_race() {
	local pb=$race_pb w rc rr fd0 fd exp0 exp
	[ -n "$pb" ] || { echo "store_remote_owners did not finish: no dataplanes to race on"; return 1; }
	fd0=$(owner_field frees_deferred "${prefix}b")
	exp0=$(owner_field read_refs_expired "${prefix}b")
	timeout -k 5 90 "$client" --proc-type=secondary -l 0 --no-pci --file-prefix "${prefix}a" \
		--log-level lib.eal:warning -- racew "$pb,$redis_port" 6 >"$work/racew.out" 2>&1 &
	w=$!
	pids+=("$w")
	for _ in $(seq 1 300); do
		grep -q ready "$work/racew.out" && break
		kill -0 "$w" 2>/dev/null || break
		sleep 0.1
	done
	grep -q ready "$work/racew.out" || { cat "$work/racew.out"; return 1; }
	timeout -k 5 60 "$client" --proc-type=secondary -l 0 --no-pci --file-prefix "${prefix}c" \
		--log-level lib.eal:warning -- racer "$pb,$redis_port" 5 >"$work/racer.out" 2>&1
	rr=$?
	wait "$w"
	rc=$?
	cat "$work/racew.out" "$work/racer.out"
	fd=$(($(owner_field frees_deferred "${prefix}b") - fd0))
	exp=$(($(owner_field read_refs_expired "${prefix}b") - exp0))
	echo "owner b: frees_deferred +$fd read_refs_expired +$exp" \
		"committed $(owner_field committed "${prefix}b") used $(owner_field used "${prefix}b")"
	[ "$rc" -eq 0 ] && [ "$rr" -eq 0 ] && [ "$fd" -ge 1 ] && [ "$exp" = 0 ] &&
		[ "$(owner_field committed "${prefix}b")" = 0 ] &&
		[ "$(owner_field used "${prefix}b")" = 0 ] || rc=1
	kill -TERM "${peer_pid[a]}" "${peer_pid[b]}" "${peer_pid[c]}"
	wait "${peer_pid[a]}" "${peer_pid[b]}" "${peer_pid[c]}" 2>/dev/null
	[ "$rc" -eq 0 ]
}

# A client's keys listed through its dataplane (/tern/client_store_keys):
# the client list, every page, a prefix, tern-top --store --client, and
# malformed parameters refused with a reason.
tel_query() { # tel_query COMMAND: its JSON answer's value
	echo "$1" | dpdk-telemetry.py -f "$prefix" 2>/dev/null | python3 -c '
import json, sys
text = sys.stdin.read()
cmd = sys.argv[1].split(",")[0]
doc = json.loads(text[text.index("{\"" + cmd):text.rindex("}") + 1])
print(json.dumps(doc[cmd]))' "$1"
}

case_client_keys() {
	local c out
	rm -f "$work/kgo"
	# shellcheck disable=SC2046
	timeout -k 5 170 "$client" $(client_eal) -- keys 100 "$work/kgo" >"$work/keys.out" 2>&1 &
	c=$!
	pids+=("$c")
	for _ in $(seq 1 200); do
		grep -q listing "$work/keys.out" && break
		kill -0 "$c" 2>/dev/null || break
		sleep 0.1
	done
	grep -q listing "$work/keys.out" || { cat "$work/keys.out"; return 1; }
	local w=$c # the timeout; c: the client process itself
	c=$(sed -n 's/^listing pid \([0-9]*\)$/\1/p' "$work/keys.out")
	out=$(tel_query /tern/client_store_keys) || return 1
	echo "clients: $out"
	python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert int(sys.argv[2]) in d["pid"], d
assert d["name"][d["pid"].index(int(sys.argv[2]))] == "lister", d
assert d["malformed"] == 0, d' "$out" "$c" || { touch "$work/kgo"; return 1; }
	# Every page, 64 then 36 keys.
	local cursor=0 all="" page
	for _ in 1 2 3; do
		page=$(tel_query "/tern/client_store_keys,$c,$cursor,64") || break
		all="$all$page"$'\n'
		cursor=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["next"])' "$page")
		[ "$cursor" = -1 ] && break
	done
	python3 -c '
import json, sys
rows = {}
for line in sys.argv[1].splitlines():
    p = json.loads(line)
    assert p["name"] == "lister" and p["pid"] == int(sys.argv[2]), p
    assert p["count"] == len(p["key"]) and p["truncated"] == 0, p
    for k, s, v, r in zip(p["key"], p["size"], p["version"], p["replicas"]):
        assert k not in rows, k
        rows[k] = (s, v, r)
want = {"k/%03d" % i: 1000 + i for i in range(100)}
assert sorted(rows) == sorted(want), sorted(rows)
for k, (s, v, r) in rows.items():
    assert s == want[k] and v >= 1 and r.startswith("0:"), (k, s, v, r)
print("pages: %d keys, sizes and replicas right" % len(rows))' "$all" "$c" ||
		{ touch "$work/kgo"; return 1; }
	page=$(tel_query "/tern/client_store_keys,$c,0,64,k/05") || return 1
	python3 -c '
import json, sys
p = json.loads(sys.argv[1])
assert sorted(p["key"]) == ["k/%03d" % i for i in range(50, 60)] and p["next"] == -1, p
print("prefix k/05: %d keys" % p["count"])' "$page" || { touch "$work/kgo"; return 1; }
	# tern-top shows them.
	"$(dirname "$0")/../../usertools/tern-top" -f "$prefix" --store --client "$c" --once \
		--keys 10 --prefix k/09 >"$work/top.out" 2>&1 || { cat "$work/top.out"; touch "$work/kgo"; return 1; }
	cat "$work/top.out"
	grep -q "k/095" "$work/top.out" && grep -q lister "$work/top.out" ||
		{ touch "$work/kgo"; return 1; }
	# Refused, each with a reason: bad pids, bad pages, a pid that is no
	# client (one telemetry connection for all).
	python3 - "/var/run/dpdk/$prefix/dpdk_telemetry.v2" "$c" <<'PY' || { touch "$work/kgo"; return 1; }
import json, socket, sys
c = sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(sys.argv[1])
s.recv(16384)
for bad in ["x", "0", "01", "-3", "12a", c + ",", c + ",x", c + ",0,0", c + ",0,65",
            c + ",99999999999", c + ",0,5,a\tb", "99999999999", "1"]:
    s.send(("/tern/client_store_keys," + bad).encode())
    d = json.loads(s.recv(16384).decode())["/tern/client_store_keys"]
    assert "error" in d and len(d["error"]) > 10 and "key" not in d, (bad, d)
PY
	echo "13 malformed or unknown requests refused"
	touch "$work/kgo"
	wait "$w" || { echo "the client failed:"; cat "$work/keys.out"; return 1; }
	# Gone with its store: the list no longer names it.
	out=$(tel_query /tern/client_store_keys) || return 1
	python3 -c '
import json, sys
assert int(sys.argv[2]) not in json.loads(sys.argv[1])["pid"]' "$out" "$c" ||
		{ echo "still listed after it left: $out"; return 1; }
}

command -v dpdk-telemetry.py >/dev/null || { echo "dpdk-telemetry.py missing (Debian package dpdk)"; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server missing (usertools/tern-quickstart.sh deps)"; exit 1; }
run_case store_capacity_refused case_refused
start_dataplane || exit 1
run_case store_embedded_dataplane case_embedded
run_case store_putter_killed_mid_put case_putter_killed
start_redis || { echo "redis-server did not start"; exit 1; }
run_case store_owner_two_clients case_owner_shared
run_case store_client_keys case_client_keys
run_case store_owner_putter_killed_lease case_owner_lease
run_case store_owner_arena_putter_killed case_owner_arena_lease
run_case store_replica_holder_killed case_replica_holder_killed
race_pb=
run_case store_remote_owners case_remote_owners
run_case store_remove_race case_remove_race
kill -TERM "$dp_pid"
wait "$dp_pid"
rc=$?
[ "$rc" -eq 0 ] || { echo "dataplane exit status $rc"; failed=$((failed + 1)); }
summary
