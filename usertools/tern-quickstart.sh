#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# tern-quickstart.sh: set up a Debian 12 machine for tern and run it.
#
#   usertools/tern-quickstart.sh demo       install, reserve hugepages, build, run the demo
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

case "${1:-}" in
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
	sed -n '3,12p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac
