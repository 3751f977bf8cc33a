#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Notification latency between two tern-dataplanes on loopback, one transport
# per run (doc/notify.md, doc/performance.md "Notifications"):
#   plain 64 B WRITE a -> b; the same WRITE with --notify batch while a
#   receiver attached to b records submit -> seen; notifications alone
#   (--notify empty, inflight 16).
# Cores: dataplane a -l 0-1 (main lcore CPU 0, worker CPU 1), dataplane b
# -l 0-1 --main-lcore 1 (worker CPU 0), both --idle yield; the sender
# tern-perf on CPU 0 attached to a, the receiver on CPU 1 attached to b.
#
#   bench/notify.sh BUILD_DIR tcp|shm [ROUNDS]
#
# Prints tern-perf's rows (size, GB/s, Mreq/s, Mslice/s, p50, p90, p99,
# p99.9, max in microseconds) and the receiver's "notify:" line per round.
set -u
B=$1; TR=$2; R=${3:-2}
D=$B/apps/dataplane/tern-dataplane; T=$B/apps/perf/tern-perf
PA=nla$$; PB=nlb$$; OUT=/tmp/nl.$$; mkdir -p $OUT
pf() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
qa=$(pf); qb=$(pf)
$D -l 0-1 --no-pci --file-prefix $PA --log-level lib.eal:warning -- --node a --segment kv:64M --idle yield --directory p2p://127.0.0.1:$qa --peer b=p2p://127.0.0.1:$qb --listen 127.0.0.1:0 --peer-transport b=$TR > $OUT/a.log 2>&1 &
A=$!
$D -l 0-1 --main-lcore 1 --no-pci --file-prefix $PB --log-level lib.eal:warning -- --node b --segment kv:64M --idle yield --directory p2p://127.0.0.1:$qb --peer a=p2p://127.0.0.1:$qa --listen 127.0.0.1:0 > $OUT/b.log 2>&1 &
Bp=$!
for i in $(seq 100); do grep -q ready $OUT/a.log && grep -q ready $OUT/b.log && break; sleep 0.1; done
S="$T -l 0 --no-pci --proc-type=secondary --file-prefix $PA --log-level lib.*:error -- --target dataplane --segment b/kv --quiet --no-baseline"
Lst="$T -l 1 --no-pci --proc-type=secondary --file-prefix $PB --log-level lib.*:error -- --target dataplane --segment kv --notify listen --quiet"
for i in $(seq $R); do
  echo "== $TR round $i: plain 64B"
  timeout 60 $S --block-size 64 --inflight 1 --completion wait --duration 2 2>&1 | tail -3
  echo "== $TR round $i: notify batch 64B"
  timeout 60 $Lst --duration 6 > $OUT/l.out 2>&1 & L=$!
  sleep 1
  timeout 60 $S --block-size 64 --inflight 1 --completion wait --duration 2 --notify batch 2>&1 | tail -3
  wait $L; tail -4 $OUT/l.out
  echo "== $TR round $i: notify empty inflight 16"
  timeout 60 $Lst --duration 5 > $OUT/l.out 2>&1 & L=$!
  sleep 1
  timeout 60 $S --block-size 64 --inflight 16 --completion wait --duration 2 --notify empty 2>&1 | tail -3
  wait $L; tail -4 $OUT/l.out
done
kill -TERM $A $Bp; wait $A $Bp 2>/dev/null
rm -rf /var/run/dpdk/$PA /var/run/dpdk/$PB
