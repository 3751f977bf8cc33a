#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The store end to end with a real tern-dataplane (hugepages) and client
# processes attached to it; its capacity is the dataplane's segment kv.
#   test_store_dataplane.sh TERN_DATAPLANE STORE_CLIENT
# Cases: the embedded metadata (put/get/remove/list, 256 MiB into 64 MiB);
# a putter killed mid-put with its records in Redis (nothing visible, the
# capacity usable again by the next client). Needs root, 2M hugepages,
# redis-server.
set -u
dataplane=${1:?tern-dataplane path}
client=${2:?store_client path}
# shellcheck source=../integration_lib.sh
source "$(dirname "$0")/../integration_lib.sh" "tern_st_$$" 96

eal() { echo "-l 0-1 --no-pci --base-virtaddr 0x200000000000 --file-prefix $prefix --log-level lib.eal:warning"; }
client_eal() { echo "--proc-type=secondary -l 0 --no-pci --file-prefix $prefix --log-level lib.eal:warning"; }

start_dataplane() {
	# shellcheck disable=SC2046
	"$dataplane" $(eal) -- --segment kv:64M --node st >"$work/dp.log" 2>&1 &
	dp_pid=$!
	pids+=("$dp_pid")
	for _ in $(seq 1 100); do
		grep -q "ready:" "$work/dp.log" && return 0
		kill -0 "$dp_pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "dataplane did not start:"
	cat "$work/dp.log"
	return 1
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

command -v redis-server >/dev/null || { echo "redis-server missing (usertools/tern-quickstart.sh deps)"; exit 1; }
start_dataplane || exit 1
run_case store_embedded_dataplane case_embedded
run_case store_putter_killed_mid_put case_putter_killed
kill -TERM "$dp_pid"
wait "$dp_pid"
rc=$?
[ "$rc" -eq 0 ] || { echo "dataplane exit status $rc"; failed=$((failed + 1)); }
summary
