#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tern-quickstart.sh: set up a Debian 12 machine for tern and run it.
#
#   usertools/tern-quickstart.sh run        install, reserve hugepages, build (the C library
#                                           and the Python package), then the main job:
#                                           tern-perf in-process, a tern-dataplane, the same
#                                           tern-perf attached to it and a Python client
#                                           (python3 -m tern.bench); then etcd and two
#                                           dataplanes finding each other through it, tern-perf
#                                           moving data between them over shm and over tcp
#   usertools/tern-quickstart.sh demo       install, reserve hugepages, build, run tern-demo
#   usertools/tern-quickstart.sh test       install, reserve hugepages, build, run every test
#   usertools/tern-quickstart.sh test-asan  the same suite built with ASan+UBSan
#   usertools/tern-quickstart.sh deps|hugepages|build   one step alone
#
# Needs root (apt-get, hugepages). Environment: BUILD_DIR (default build),
# HUGEPAGES (default 2G of 2M pages), PYTHON (default /usr/bin/python3: the
# Python the tern package is built for and run with; PYTHONPATH=<build>/python).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build=${BUILD_DIR:-build}
hugepages=${HUGEPAGES:-2G}
python=${PYTHON:-/usr/bin/python3}

packages=(build-essential pkg-config meson ninja-build python3 python3-pyelftools
	libdpdk-dev dpdk dpdk-dev libnuma-dev libcmocka-dev libjansson-dev
	libibverbs-dev rdma-core
	libcurl4-openssl-dev libhiredis-dev etcd-server etcd-client redis-server redis-tools iproute2
	doxygen make python3-dev python3-numpy python3-pytest)

say() { printf '== %s\n' "$*"; }

deps() {
	local missing=()
	for p in "${packages[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		return 0
	fi
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

hugepages() {
	local have want
	have=$(awk '/HugePages_Total/ {print $2}' /proc/meminfo)
	want=$(numfmt --from=iec "$hugepages")
	want=$((want / (2 << 20)))
	if [ "${have:-0}" -ge "$want" ] && mountpoint -q /dev/hugepages; then
		say "hugepages: $have reserved"
		return 0
	fi
	say "reserving $hugepages of 2M hugepages"
	mkdir -p /dev/hugepages
	dpdk-hugepages.py -p 2M --setup "$hugepages"
}

build() {
	local opts=("$@")
	if [ ! -f "$build/build.ninja" ]; then
		meson setup "$build" -Dpython=enabled -Dpython_interpreter="$python" "${opts[@]}" >/dev/null
	fi
	ninja -C "$build" >/dev/null
	say "built in $build"
}

# The main job. The machine has two CPUs: the engine's worker lcore runs on
# CPU 1, the submitting client on CPU 0, in both runs.
run_main() {
	local prefix=tern_main_$$ dp_pid rc=0
	local perf_args=(--block-size 4K,64K,1M,16M --batch 8 --inflight 8 --duration 1 --warmup 0.3 --verify --quiet)
	say "tern-perf, in-process engine (worker lcore 1 on CPU 1, client on CPU 0), with memcpy baselines"
	"$build/apps/perf/tern-perf" -l 0-1 --no-pci --file-prefix "${prefix}_inproc" \
		--log-level lib.eal:warning -- "${perf_args[@]}" || rc=1
	say "starting tern-dataplane (engine tern, segment kv:256M, worker lcore 1)"
	"$build/apps/dataplane/tern-dataplane" -l 0-1 --no-pci --file-prefix "$prefix" \
		--log-level lib.eal:warning -- --segment kv:256M --node quickstart &
	dp_pid=$!
	trap 'kill -9 $dp_pid 2>/dev/null' EXIT
	for _ in $(seq 1 100); do
		[ -S "/var/run/dpdk/$prefix/dpdk_telemetry.v2" ] && break
		sleep 0.1
	done
	sleep 0.5
	say "tern-perf attached to the dataplane as a DPDK secondary process (client on CPU 0)"
	"$build/apps/perf/tern-perf" --proc-type=secondary -l 0 --no-pci --file-prefix "$prefix" \
		--log-level lib.eal:warning -- --target dataplane --segment kv "${perf_args[@]}" || rc=1
	say "a Python client attached to the same dataplane (python3 -m tern.bench, CPU 0)"
	PYTHONPATH="$(cd "$build" && pwd)/python" "$python" -m tern.bench --file-prefix "$prefix" \
		--block-size 4K,64K,1M,16M --batch 8 --inflight 8 --duration 1 --warmup 0.3 --verify || rc=1
	say "the dataplane's view (/tern/stats through dpdk-telemetry.py)"
	echo /tern/stats | dpdk-telemetry.py -f "$prefix" 2>/dev/null | python3 -m json.tool || true
	say "stopping tern-dataplane (SIGTERM: drain, exit 0)"
	kill -TERM "$dp_pid"
	wait "$dp_pid" || rc=1
	trap - EXIT
	run_peers || rc=1
	return $rc
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Two dataplanes on this host find each other through a real etcd on
# loopback and move data: over shm (the strategy's choice on one host), then
# over tcp (pinned through telemetry). Dataplane a's worker lcore is on CPU 1,
# b's on CPU 0, the client on CPU 0; idle lcores yield (three pollers, two CPUs).
run_peers() {
	local prefix=tern_peers_$$ tmp etcd_pid= a_pid= b_pid= port rc=0
	local perf_args=(--block-size 64K,1M,16M --batch 4 --inflight 4 --duration 1 --warmup 0.3
		--completion wait --verify --quiet)
	tmp=$(mktemp -d)
	port=$(free_port)
	say "starting etcd on 127.0.0.1:$port (data in $tmp)"
	etcd --name tern-quickstart --data-dir "$tmp/etcd" \
		--listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
		--listen-peer-urls "http://127.0.0.1:$(free_port)" --log-level warn >"$tmp/etcd.log" 2>&1 &
	etcd_pid=$!
	trap 'kill -9 $etcd_pid $a_pid $b_pid 2>/dev/null; rm -rf "$tmp"' EXIT
	for _ in $(seq 1 100); do
		ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:$port" --dial-timeout 1s endpoint health \
			>/dev/null 2>&1 && break
		sleep 0.2
	done
	say "starting dataplanes a and b (segment kv:64M each, --directory etcd://127.0.0.1:$port/tern)"
	"$build/apps/dataplane/tern-dataplane" -l 0-1 --no-pci --file-prefix "${prefix}a" \
		--base-virtaddr 0x200000000000 --log-level lib.eal:warning -- --node a --segment kv:64M \
		--directory "etcd://127.0.0.1:$port/tern" --listen 127.0.0.1:0 --idle yield >"$tmp/a.log" 2>&1 &
	a_pid=$!
	"$build/apps/dataplane/tern-dataplane" -l 0-1 --main-lcore 1 --no-pci --file-prefix "${prefix}b" \
		--base-virtaddr 0x280000000000 --log-level lib.eal:warning -- --node b --segment kv:64M \
		--directory "etcd://127.0.0.1:$port/tern" --listen 127.0.0.1:0 --idle yield >"$tmp/b.log" 2>&1 &
	b_pid=$!
	for _ in $(seq 1 100); do
		grep -q ready: "$tmp/a.log" && grep -q ready: "$tmp/b.log" && break
		sleep 0.1
	done
	grep -q ready: "$tmp/a.log" && grep -q ready: "$tmp/b.log" || { cat "$tmp/a.log" "$tmp/b.log"; return 1; }
	say "what they published (etcdctl get --prefix /tern/)"
	ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:$port" get --prefix /tern/ --print-value-only
	say "tern-perf attached to a, writing b's kv (b/kv): the strategy picks shm on one host"
	"$build/apps/perf/tern-perf" --proc-type=secondary -l 0 --no-pci --file-prefix "${prefix}a" \
		--log-level lib.eal:warning -- --target dataplane --segment b/kv "${perf_args[@]}" || rc=1
	say "pin b to tcp (/tern/peers/set,b=tcp) and run again"
	echo /tern/peers/set,b=tcp | dpdk-telemetry.py -f "${prefix}a" >/dev/null 2>&1 || rc=1
	"$build/apps/perf/tern-perf" --proc-type=secondary -l 0 --no-pci --file-prefix "${prefix}a" \
		--log-level lib.eal:warning -- --target dataplane --segment b/kv "${perf_args[@]}" || rc=1
	say "a's view of its peers (/tern/peers)"
	echo /tern/peers | dpdk-telemetry.py -f "${prefix}a" 2>/dev/null | python3 -c '
import json, sys
t = sys.stdin.read()
p = json.loads(t[t.index("{\"/tern/peers"):t.rindex("}") + 1])["/tern/peers"]
for i, n in enumerate(p["node"]):
    print("peer %s: transport %s (pinned %s), %s, %d bytes in %d slices, %d failed requests, "
          "%d retired imports" % (n, p["transport"][i], p["pinned"][i], p["state"][i], p["bytes"][i],
          p["slices"][i], p["failed_requests"][i], p["retired"][i]))' || true
	say "stopping the dataplanes and etcd"
	kill -TERM "$a_pid" "$b_pid"
	wait "$a_pid" || rc=1
	wait "$b_pid" || rc=1
	kill "$etcd_pid"
	wait "$etcd_pid" 2>/dev/null
	rm -rf "$tmp"
	trap - EXIT
	return $rc
}

case "${1:-}" in
run)
	deps
	hugepages
	build
	run_main
	;;
deps) deps ;;
hugepages) hugepages ;;
build) deps; build ;;
demo)
	deps
	hugepages
	build
	say "tern-demo: 64 MiB written and read back through the engine (EAL lcores 0-1)"
	"$build/apps/demo/tern-demo" -l 0-1 --file-prefix tern_demo_$$ --log-level lib.eal:warning -- --size 64M
	;;
test)
	deps
	hugepages
	build
	meson test -C "$build" --print-errorlogs --num-processes 1
	;;
test-asan)
	deps
	hugepages
	BUILD_DIR=${BUILD_DIR:-build-asan}
	build=$BUILD_DIR
	build -Dsanitize=true -Dbuildtype=debug
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		meson test -C "$build" --print-errorlogs --num-processes 1 --timeout-multiplier 4
	;;
*)
	sed -n '3,15p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac
