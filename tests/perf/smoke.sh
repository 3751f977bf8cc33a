#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Smoke run of tern-perf: bad arguments fail cleanly, and a one-second
# verified run without hugepages exits 0 with a JSON document a real JSON
# parser accepts and whose figures are sane; with REPORT, bench/report.py
# reads a 64 B submit -> wait run as bench/run.sh makes it (the same JSON
# fields). No timing assertions.
#   smoke.sh path/to/tern-perf [path/to/bench/report.py]
set -u
perf=${1:?usage: smoke.sh path/to/tern-perf [path/to/bench/report.py]}
report=${2:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "smoke: FAIL: $*" >&2; exit 1; }

# Bad arguments: exit 2 with a message, before EAL starts.
for bad in "--batch 0" "--block-size 4K,,1M" "--duration 1x" "--bogus" \
	"--transport tcp" "--target dataplane" "--iterations 5 --duration 1"; do
	# shellcheck disable=SC2086
	"$perf" -- $bad >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" -eq 2 ] || fail "'$bad' exited $rc, expected 2"
	grep -q "tern-perf:" "$tmp/err" || fail "'$bad' printed no message"
done

# A short verified run, both directions, two clients.
for op in write read; do
	"$perf" --no-huge -m 512 --no-pci --file-prefix "tern_smoke_$$_$op" -l 0-1 \
		--log-level 'lib.*:error' -- \
		--op "$op" --block-size 4K,256K,1M --clients 2 --inflight 2 --batch 4 \
		--working-set 2M --duration 1 --warmup 0.1 --verify --json --quiet \
		>"$tmp/$op.json" 2>"$tmp/$op.err"
	rc=$?
	[ "$rc" -eq 0 ] || { cat "$tmp/$op.err" >&2; fail "$op run exited $rc"; }
	python3 - "$tmp/$op.json" "$op" <<'PY' || fail "$op run: bad JSON"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["tool"] == "tern-perf", doc.get("tool")
assert doc["config"]["op"] == sys.argv[2]
res = doc["results"]
assert [r["block_size"] for r in res] == [4096, 262144, 1048576], res
for r in res:
    assert r["verified"] is True, r
    assert r["errors"] == 0, r
    assert r["bytes"] > 0 and r["requests"] > 0 and r["gbps"] > 0, r
    lat = r["latency_ns"]
    assert lat["count"] == r["batches"], lat
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p99_9"] <= lat["max"], lat
    for base in ("memcpy", "stream"):
        assert r["baseline"][base]["gbps"] > 0, r["baseline"]
print("smoke: %s ok, %d block sizes" % (sys.argv[2], len(res)))
PY
done

# --store: a verified store run next to raw WRITE/READ; refused off loopback.
"$perf" -- --store 8 --target peer >"$tmp/out" 2>"$tmp/err"
[ "$?" -eq 2 ] || fail "--store with --target peer was not refused"
"$perf" -- --store 8 --block-size 100 >"$tmp/out" 2>"$tmp/err"
[ "$?" -eq 2 ] || fail "--store with a block size not a multiple of 64 was not refused"
"$perf" --no-huge -m 512 --no-pci --file-prefix "tern_smoke_$$_store" -l 0-1 \
	--log-level 'lib.*:error' -- \
	--store 64 --block-size 4K,256K --batch 8 --iterations 2 --quiet \
	>"$tmp/store.out" 2>"$tmp/store.err"
rc=$?
[ "$rc" -eq 0 ] || { cat "$tmp/store.err" >&2; fail "--store run exited $rc"; }
[ "$(grep -cE '^ +(4096|262144) +(put|get) .* yes$' "$tmp/store.out")" -eq 4 ] ||
	{ cat "$tmp/store.out" >&2; fail "--store run: not 4 verified rows"; }
echo "smoke: store ok"

# The submission-path run of bench/run.sh, read by bench/report.py's parser.
if [ -n "$report" ]; then
	"$perf" --no-huge -m 512 --no-pci --file-prefix "tern_smoke_$$_lat" -l 0-1 \
		--log-level 'lib.*:error' -- \
		--block-size 64 --batch 1 --inflight 1 --completion wait --no-baseline \
		--duration 0.3 --warmup 0.1 --json --quiet >"$tmp/lat.json" 2>"$tmp/lat.err"
	rc=$?
	[ "$rc" -eq 0 ] || { cat "$tmp/lat.err" >&2; fail "64 B latency run exited $rc"; }
	python3 - "$report" "$tmp/lat.json" <<'PY' || fail "bench/report.py cannot read tern-perf's JSON"
import importlib.util, json, sys
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
spec = importlib.util.spec_from_file_location("report", sys.argv[1])
report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(report)
fig = report.sub_figures(json.load(open(sys.argv[2])), "lat.json", "inproc", "lat64")
assert 0 < fig["p50_ns"] <= fig["p99_ns"] < float("inf"), fig
print("smoke: bench/report.py reads the 64 B run: p50 %.0f ns" % fig["p50_ns"])
PY
fi
exit 0
