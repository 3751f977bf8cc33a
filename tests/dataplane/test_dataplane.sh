#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Integration tests of tern-dataplane with real hugepages and client processes
# (DPDK secondary processes). Usage: test_dataplane.sh TERN_DATAPLANE DP_CLIENT
# Needs root and reserved 2M hugepages (usertools/tern-quickstart.sh hugepages).
# Every process and runtime file it creates is removed on exit, pass or fail.
set -u
dataplane=${1:?tern-dataplane path}
client=${2:?dp_client path}
perf=${3:?tern-perf path}
# shellcheck source=../integration_lib.sh
source "$(dirname "$0")/../integration_lib.sh" "tern_dpt_$$" 64

# A fixed base address: secondaries (ASan builds especially) then find the
# primary's address range free more reliably than at a random one.
eal() { echo "-l 0-1 --no-pci --base-virtaddr 0x200000000000 --file-prefix $prefix$1 --log-level lib.eal:warning"; }
client_eal() { echo "--proc-type=secondary -l 0 --no-pci --file-prefix $prefix$1 --log-level lib.eal:warning"; }

# start_dataplane TAG ARGS...: starts it in the background, waits for "ready".
start_dataplane() {
	local tag=$1
	shift
	# shellcheck disable=SC2046
	"$dataplane" $(eal "$tag") -- "$@" >"$work/dp$tag.log" 2>&1 &
	dp_pid=$!
	pids+=("$dp_pid")
	wait_ready "$dp_pid" "$work/dp$tag.log"
}

# stop_dataplane SIGNAL: sends it and expects exit 0 within 10 s.
stop_dataplane() {
	kill "-$1" "$dp_pid"
	for _ in $(seq 1 100); do
		kill -0 "$dp_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$dp_pid" 2>/dev/null; then
		echo "dataplane still running 10 s after SIG$1"
		return 1
	fi
	wait "$dp_pid"
	local rc=$?
	[ "$rc" -eq 0 ] || { echo "dataplane exit status $rc after SIG$1"; return 1; }
	grep -q "tern-dataplane: stopped" "$work/dp$2.log" || { echo "no 'stopped' line"; return 1; }
}

# expect_refused TAG "REASON PATTERN" ARGS...: non-zero exit, the reason on
# stderr, and nothing left running.
expect_refused() {
	local tag=$1 pattern=$2
	shift 2
	"$dataplane" "$@" >"$work/out$tag" 2>"$work/err$tag"
	local rc=$?
	[ "$rc" -ne 0 ] || { echo "exit 0 for: $*"; return 1; }
	grep -q "^tern-dataplane: .*$pattern" "$work/err$tag" || {
		echo "no 'tern-dataplane: ...$pattern' line for: $*"
		cat "$work/err$tag"
		return 1
	}
	! pgrep -f "file-prefix $prefix$tag" >/dev/null
}

# pool_is_full TAG: /tern/stats through the standard dpdk-telemetry.py says
# every future is back (polls briefly: lcores drop references just after).
pool_is_full() {
	local out
	for _ in $(seq 1 50); do
		out=$(echo /tern/stats | dpdk-telemetry.py -f "$prefix$1" 2>&1)
		if echo "$out" | python3 -c '
import json, sys
text = sys.stdin.read()
doc = json.loads(text[text.index("{\"/tern/stats"):text.rindex("}") + 1])
s = doc["/tern/stats"]
sys.exit(0 if s["pool_available"] == s["pool_total"] and s["pool_total"] > 0 else 1)'; then
			return 0
		fi
		sleep 0.1
	done
	echo "pool not full after the client died: $out"
	return 1
}

bad_configuration_is_refused() {
	# shellcheck disable=SC2046
	expect_refused b1 "unknown option" $(eal b1) -- --segment kv:4M --bogus 1 &&
		expect_refused b2 "size must be" $(eal b2) -- --segment kv:0 &&
		expect_refused b3 "duplicate" $(eal b3) -- --segment kv:4M --segment kv:8M &&
		expect_refused b4 "no --segment" $(eal b4) -- &&
		expect_refused b5 "no worker lcore" -l 0 --no-pci --file-prefix "${prefix}b5" -- --segment kv:4M &&
		expect_refused b6 "cannot allocate" $(eal b6) -- --segment kv:1T &&
		printf 'segment = kv:4M\nnot an option\n' >"$work/bad.conf" &&
		expect_refused b7 "config line 2" $(eal b7) -- --config "$work/bad.conf" &&
		"$dataplane" -- --help | grep -q -- "--segment NAME:SIZE"
}

# --transport through the registry: the keys reach the transport, a bad key
# or value stops the dataplane naming the transport, an unknown one too.
transports_are_configured_by_name() {
	# shellcheck disable=SC2046
	expect_refused t1 "transport tcp 'listen=127.0.0.1:0,bogus=1': Invalid argument" \
		$(eal t1) -- --segment kv:4M --transport tcp,listen=127.0.0.1:0,bogus=1 &&
		expect_refused t2 "transport tcp 'conns=99'" $(eal t2) -- --segment kv:4M \
			--transport tcp,conns=99 &&
		expect_refused t3 "transport nosuch: not in this build" $(eal t3) -- \
			--segment kv:4M --transport nosuch &&
		expect_refused t4 "transport shm 'bogus=1'" $(eal t4) -- --segment kv:4M \
			--transport shm,bogus=1 || return 1
	start_dataplane t5 --segment kv:8M --transport tcp,listen=127.0.0.1:0,conns=3 \
		--transport shm,socket="$work/t5.sock" || return 1
	grep -q "^tern-dataplane: tcp: listening on 127.0.0.1 port [1-9][0-9]*$" "$work/dpt5.log" &&
		grep -q "^tern-dataplane: shm: serving on $work/t5.sock$" "$work/dpt5.log" &&
		[ -S "$work/t5.sock" ] || { cat "$work/dpt5.log"; return 1; }
	stop_dataplane TERM t5 || return 1
	# Stopped: the listener and the socket are gone.
	[ ! -S "$work/t5.sock" ] || { echo "shm socket left behind"; return 1; }
}

clients_move_data_and_it_stops_cleanly() {
	start_dataplane m --segment kv:64M --node test-node || return 1
	# shellcheck disable=SC2046
	"$client" $(client_eal m) -- --segment kv --offset 0 --bytes 4M --iterations 20 &
	local c1=$!
	# shellcheck disable=SC2046
	"$client" $(client_eal m) -- --segment kv --offset $((8 << 20)) --bytes 3M --iterations 20 &
	local c2=$!
	pids+=("$c1" "$c2")
	wait "$c1" || { echo "client 1 failed"; return 1; }
	wait "$c2" || { echo "client 2 failed"; return 1; }
	stop_dataplane TERM m
}

killed_client_is_reclaimed_and_others_unaffected() {
	start_dataplane k --segment kv:64M || return 1
	# shellcheck disable=SC2046
	"$client" $(client_eal k) -- --segment kv --offset 0 --bytes 8M --forever >"$work/victim" 2>&1 &
	local victim=$!
	pids+=("$victim")
	# shellcheck disable=SC2046
	"$client" $(client_eal k) -- --segment kv --offset $((16 << 20)) --bytes 2M --iterations 200 &
	local other=$!
	pids+=("$other")
	for _ in $(seq 1 100); do
		grep -q transferring "$work/victim" && break
		sleep 0.1
	done
	grep -q transferring "$work/victim" || { echo "victim never started"; cat "$work/victim"; return 1; }
	sleep 0.3
	kill -9 "$victim"
	for _ in $(seq 1 100); do
		grep -q "reclaimed" "$work/dpk.log" && break
		sleep 0.1
	done
	grep -q "reclaimed" "$work/dpk.log" || { echo "slot not reclaimed:"; cat "$work/dpk.log"; return 1; }
	wait "$other" || { echo "the other client failed"; return 1; }
	# Nothing leaked: every future is back in the pool (seen through telemetry).
	pool_is_full k || return 1
	# The slot and its buffers are free again: a new client can use them.
	# shellcheck disable=SC2046
	"$client" $(client_eal k) -- --segment kv --offset 0 --bytes 8M --iterations 5 ||
		{ echo "client after reclaim failed"; return 1; }
	stop_dataplane INT k
}

tern_perf_runs_attached() {
	start_dataplane p --segment kv:64M || return 1
	# shellcheck disable=SC2046
	"$perf" $(client_eal p) -- --target dataplane --segment kv --block-size 4K,1M \
		--duration 0.5 --warmup 0.1 --clients 2 --verify --json --quiet >"$work/perf.json" ||
		{ echo "tern-perf failed"; return 1; }
	python3 -c '
import json, sys
doc = json.load(open(sys.argv[1]))
rows = doc["results"]
assert len(rows) == 2, rows
for r in rows:
    assert r["verified"] is True and r["gbps"] > 0, r
' "$work/perf.json" || { echo "bad tern-perf JSON"; head -c 2000 "$work/perf.json"; return 1; }
	# shellcheck disable=SC2046
	"$perf" $(client_eal p) -- --target dataplane --segment nosuch --duration 0.1 2>"$work/perr"
	[ $? -ne 0 ] && grep -q "no segment nosuch" "$work/perr" || { cat "$work/perr"; return 1; }
	stop_dataplane INT p
}

incompatible_client_is_refused() {
	start_dataplane v --segment kv:8M || return 1
	# shellcheck disable=SC2046
	"$client" $(client_eal v) -- --segment kv --bytes 1M --claim-layout 999 2>"$work/verr"
	local rc=$?
	[ "$rc" -eq 3 ] || { echo "exit $rc, expected 3 (refused)"; cat "$work/verr"; return 1; }
	grep -q "Protocol error" "$work/verr" || { cat "$work/verr"; return 1; }
	grep -q "refused" "$work/dpv.log" || { echo "no refusal logged"; return 1; }
	# shellcheck disable=SC2046
	"$client" $(client_eal nosuch) -- --segment kv --bytes 1M 2>/dev/null
	[ $? -ne 0 ] || { echo "attach without a dataplane succeeded"; return 1; }
	stop_dataplane TERM v
}

echo "[==========] tern-dataplane integration tests"
run_case bad_configuration_is_refused bad_configuration_is_refused
run_case transports_are_configured_by_name transports_are_configured_by_name
run_case clients_move_data_and_it_stops_cleanly clients_move_data_and_it_stops_cleanly
run_case killed_client_is_reclaimed_and_others_unaffected killed_client_is_reclaimed_and_others_unaffected
run_case incompatible_client_is_refused incompatible_client_is_refused
run_case tern_perf_runs_attached tern_perf_runs_attached
summary
