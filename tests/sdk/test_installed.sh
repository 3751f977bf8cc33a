#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The SDK as a user gets it: `meson install` into a staging directory, then
# examples/roundtrip built out of tree with `pkg-config --cflags --libs
# libtern` only, run against a real tern-dataplane, moving verified data.
#   test_installed.sh BUILD_DIR EXAMPLES_DIR TERN_DATAPLANE
set -u
build=$1 examples=$2 dataplane=$3
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../integration_lib.sh
source "$here/integration_lib.sh" sdk 16
stage=$work/stage
prefix=sdk$$

install_it() {
	meson install -C "$build" --destdir "$stage" --no-rebuild --quiet >"$work/install.log" 2>&1 ||
		{ cat "$work/install.log"; return 1; }
	pc=$(find "$stage" -name libtern.pc | head -1)
	[ -n "$pc" ] || { echo "no libtern.pc installed"; return 1; }
	# The install as if its prefix were the staging directory (a relocated
	# install); nothing else of the .pc file changes.
	mkdir -p "$work/pc"
	sed "s|^prefix=|prefix=$stage|" "$pc" >"$work/pc/libtern.pc"
	libdir=$(PKG_CONFIG_PATH=$work/pc pkg-config --variable=libdir libtern)
	incdir=$(PKG_CONFIG_PATH=$work/pc pkg-config --variable=includedir libtern)/tern
	[ -f "$libdir/libtern.so" ] && [ -f "$libdir/libtern.a" ] ||
		{ echo "libtern.so and libtern.a not both in $libdir"; return 1; }
}

headers_are_the_application_api() {
	local h bad=0
	for h in tern_engine.h tern_segment.h tern_transport.h; do
		[ -f "$incdir/$h" ] || { echo "$h not installed"; bad=1; }
	done
	for h in "$incdir"/*; do
		case $(basename "$h") in
		*_driver.h | *_private.h | *_internal.h)
			echo "driver or private header installed: $h"
			bad=1
			;;
		esac
	done
	return $bad
}

example_builds_out_of_tree() {
	cp -r "$examples/roundtrip" "$work/roundtrip"
	# A sanitized libtern needs a sanitized program (the runtime comes first).
	CFLAGS=${EXAMPLE_CFLAGS:-} LDFLAGS=${EXAMPLE_CFLAGS:-} PKG_CONFIG_PATH="$work/pc" \
		make -C "$work/roundtrip" >"$work/make.log" 2>&1 ||
		{ cat "$work/make.log"; return 1; }
}

# libtern.a: one object, so the transports' constructors come along without
# --whole-archive. The rest of the link is what libtern.pc names as private
# (DPDK itself stays shared here: its static archives are another matter).
example_links_statically() {
	local libs
	libs="$(PKG_CONFIG_PATH="$work/pc" pkg-config --libs \
		$(PKG_CONFIG_PATH="$work/pc" pkg-config --print-requires-private libtern))"
	libs="$libs $(sed -n 's/^Libs.private: //p' "$work/pc/libtern.pc")"
	# shellcheck disable=SC2086
	cc ${EXAMPLE_CFLAGS:-} -O2 -o "$work/roundtrip/roundtrip_static" "$examples/roundtrip/main.c" \
		$(PKG_CONFIG_PATH="$work/pc" pkg-config --cflags libtern) "$libdir/libtern.a" \
		$(pkg-config --libs libdpdk) $libs >"$work/static.log" 2>&1 ||
		{ cat "$work/static.log"; return 1; }
	if ldd "$work/roundtrip/roundtrip_static" | grep -q libtern; then
		echo "roundtrip_static still needs libtern.so"
		return 1
	fi
}

example_moves_verified_data() {
	# A fixed base (as every integration test): secondaries, sanitized ones
	# included, map the primary's memory at the same addresses.
	"$dataplane" -l 0-1 --no-pci --base-virtaddr 0x200000000000 --file-prefix "$prefix" \
		--log-level lib.eal:warning -- --segment kv:8M --idle yield >"$work/dp.log" 2>&1 &
	local dp=$!
	pids+=("$dp")
	local i
	for i in $(seq 1 100); do
		grep -q "ready:" "$work/dp.log" && break
		kill -0 "$dp" 2>/dev/null || break
		sleep 0.1
	done
	grep -q "ready:" "$work/dp.log" || { cat "$work/dp.log"; return 1; }
	local rc=0 exe
	for exe in roundtrip roundtrip_static; do
		LD_LIBRARY_PATH=$libdir timeout 60 "$work/roundtrip/$exe" --proc-type=secondary \
			-l 0 --no-pci --file-prefix "$prefix" --log-level lib.eal:warning -- \
			--segment kv --bytes 4M >"$work/rt.log" 2>&1 || rc=1
		grep -q "4194304 bytes written to tern/kv and read back intact" "$work/rt.log" ||
			rc=1
		# The transports registered themselves (constructors kept, static too).
		grep -q "^roundtrip: transports in this build: memcpy .*tcp" "$work/rt.log" || rc=1
		cat "$work/rt.log"
	done
	kill -TERM "$dp"
	wait "$dp"
	[ $rc -eq 0 ]
}

run_case install install_it
run_case headers_are_the_application_api headers_are_the_application_api
run_case example_builds_out_of_tree example_builds_out_of_tree
run_case example_links_statically example_links_statically
run_case example_moves_verified_data example_moves_verified_data
summary
