#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tern-quickstart.sh: set up a Debian 12 machine for tern and run it.
#
#   usertools/tern-quickstart.sh run        install, reserve hugepages, build, then the main
#                                           job: tern-perf in-process, a tern-dataplane, the
#                                           same tern-perf attached to it, dataplane stopped
#   usertools/tern-quickstart.sh demo       install, reserve hugepages, build, run tern-demo
#   usertools/tern-quickstart.sh test       install, reserve hugepages, build, run every test
#   usertools/tern-quickstart.sh test-asan  the same suite built with ASan+UBSan
#   usertools/tern-quickstart.sh deps|hugepages|build   one step alone
#
# Needs root (apt-get, hugepages). Environment: BUILD_DIR (default build),
# HUGEPAGES (default 1G of 2M pages).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build=${BUILD_DIR:-build}
hugepages=${HUGEPAGES:-1G}

packages=(build-essential pkg-config meson ninja-build python3 python3-pyelftools
	libdpdk-dev dpdk dpdk-dev libnuma-dev libcmocka-dev libjansson-dev
	libibverbs-dev rdma-core
	libcurl4-openssl-dev libhiredis-dev etcd-server etcd-client redis-server)

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
	local have
	have=$(awk '/HugePages_Total/ {print $2}' /proc/meminfo)
	if [ "${have:-0}" -gt 0 ] && mountpoint -q /dev/hugepages; then
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
		meson setup "$build" "${opts[@]}" >/dev/null
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
	say "the dataplane's view (/tern/stats through dpdk-telemetry.py)"
	echo /tern/stats | dpdk-telemetry.py -f "$prefix" 2>/dev/null | python3 -m json.tool || true
	say "stopping tern-dataplane (SIGTERM: drain, exit 0)"
	kill -TERM "$dp_pid"
	wait "$dp_pid" || rc=1
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
