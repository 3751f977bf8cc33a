#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The chaos suite (doc/reliability.md): real tern-dataplanes and client
processes, clients SIGKILLed at random points, peers SIGKILLed and SIGSTOPped
past their deadline, hostile bytes at every listening socket, garbage in the
directory; every check through public behaviour (the clients' own JSON
output, the /tern/ telemetry commands, exit statuses).

  chaos.py ci   --dataplane PATH --client PATH [--kills N] [--seed S]
  chaos.py soak --dataplane PATH --client PATH [--minutes M] [--kills N]

ci is bounded (a few minutes; CI runs it under meson test); soak repeats the
same phases with more kills until --minutes have passed. --only PHASE[,...]
runs some phases (kills, peers or one of peer-stop-shm, peer-kill-shm,
peer-stop-tcp, peer-kill-tcp, stale-after-failover, hostile, directory);
--victims the kinds of killed clients (submit, inflight, attach, startup;
default all). Environment: CHAOS_KILLS overrides --kills, CHAOS_SEED --seed,
CHAOS_TIME_SCALE multiplies every wait (sanitizer builds). Needs root, about
440 MiB of free 2M hugepages, python3 (standard library only), etcd and
redis-server for the directory phase. Every process it starts is killed,
and every DPDK runtime file it made removed, however it ends."""

import argparse
import atexit
import ctypes
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

ROOT_RUN = "/var/run/dpdk" if os.geteuid() == 0 else \
    os.path.join(os.environ.get("XDG_RUNTIME_DIR", "/tmp"), "dpdk")
BASES = {"k": 0x200000000000, "a": 0x280000000000, "b": 0x300000000000,
         "c": 0x380000000000}
MIB = 1 << 20


class Fatal(Exception):
    """A phase cannot go on (a dataplane did not start...)."""


try:
    PRCTL = ctypes.CDLL(None).prctl  # looked up here: the child only calls it
except (OSError, AttributeError):
    PRCTL = None


def die_with_parent():
    """In a child before exec: SIGKILL when the harness dies (PR_SET_PDEATHSIG)."""
    if PRCTL is not None:
        PRCTL(1, int(signal.SIGKILL), 0, 0, 0)


class Harness:
    def __init__(self, args):
        self.args = args
        self.scale = float(os.environ.get("CHAOS_TIME_SCALE", args.time_scale))
        self.prefix = "tern_chaos_%d_" % os.getpid()
        self.work = tempfile.mkdtemp(prefix="tern-chaos.")
        self.procs = []
        self.passed = 0
        self.failed = 0
        self.failures = []
        self.counts = dict(kills=0, wedges=0, faults=0, hostile=0, bytes_verified=0,
                           late_resolves=0, late_writes=0, stale=0, leaks=0)
        seed = int(os.environ.get("CHAOS_SEED", args.seed if args.seed is not None
                                  else int(time.time()) & 0xffffff))
        self.rng = random.Random(seed)
        # submit twice: the kill the issue is about.
        self.victims = args.victims.split(",")
        if args.victims == "all":
            self.victims = ["submit", "submit", "inflight", "attach", "startup"]
        if not set(self.victims) <= {"submit", "inflight", "attach", "startup"}:
            sys.exit("chaos: --victims: submit, inflight, attach, startup or all")
        print("chaos: seed %d (CHAOS_SEED=%d reproduces the choices), work dir %s"
              % (seed, seed, self.work), flush=True)
        atexit.register(self.cleanup)

    def t(self, seconds):
        return seconds * self.scale

    # ---- processes ----

    def spawn(self, argv, **kw):
        # Should the harness itself be SIGKILLed, its children die with it.
        p = subprocess.Popen(argv, preexec_fn=die_with_parent, **kw)
        self.procs.append(p)
        return p

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGCONT)
                    os.kill(p.pid, signal.SIGKILL)
                except OSError:
                    pass
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.procs = []
        for d in os.listdir(ROOT_RUN) if os.path.isdir(ROOT_RUN) else []:
            if d.startswith(self.prefix):
                shutil.rmtree(os.path.join(ROOT_RUN, d), ignore_errors=True)
        if os.path.isdir("/dev/hugepages"):
            for f in os.listdir("/dev/hugepages"):
                if f.startswith(self.prefix):
                    try:
                        os.unlink(os.path.join("/dev/hugepages", f))
                    except OSError:
                        pass
        shutil.rmtree(self.work, ignore_errors=True)

    # ---- results ----

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            if self.args.verbose:
                print("[       OK ] %s" % name, flush=True)
        else:
            self.failed += 1
            self.failures.append(name)
            print("[  FAILED  ] %s%s" % (name, (": " + detail) if detail else ""), flush=True)
        return ok

    def summary(self):
        c = self.counts
        print("chaos: %d passed, %d failed (kills %d, wedges %d, faults %d, hostile inputs %d, "
              "bytes verified %d, futures resolved late %d, late writes %d, stale data %d, "
              "leaks %d)" % (self.passed, self.failed, c["kills"], c["wedges"], c["faults"],
                             c["hostile"],
                             c["bytes_verified"], c["late_resolves"], c["late_writes"],
                             c["stale"], c["leaks"]), flush=True)
        return 0 if self.failed == 0 else 1


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(cond, timeout, step=0.05):
    """Poll cond() until it is true or timeout seconds pass; its last value."""
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() >= end:
            return v
        time.sleep(step)


class Dataplane:
    def __init__(self, h, tag, app_args):
        self.h = h
        self.tag = tag
        self.prefix = h.prefix + tag
        self.log = os.path.join(h.work, "dp%s.log" % tag)
        eal = ["-l", "0-1", "--no-pci", "--legacy-mem", "--iova-mode=va", "-m", "256",
               "--base-virtaddr", hex(BASES[tag]), "--file-prefix",
               self.prefix, "--log-level", "lib.eal:warning"]
        with open(self.log, "w") as out:
            self.proc = h.spawn([h.args.dataplane] + eal + ["--", "--node", tag, "--idle", "yield"]
                                + app_args, stdout=out, stderr=subprocess.STDOUT)
        if not wait_for(lambda: "ready:" in self.text() or self.proc.poll() is not None,
                        h.t(20)) or "ready:" not in self.text():
            raise Fatal("dataplane %s did not start:\n%s" % (tag, self.text()[-3000:]))

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def port(self, pattern):
        m = re.search(pattern, self.text())
        return int(m.group(1)) if m else None

    def tcp_port(self):
        return self.port(r"tcp: listening on \S+ port (\d+)")

    def p2p_port(self):
        return self.port(r"serving descriptors on p2p port (\d+)")

    def telemetry(self, cmd, timeout=2.0):
        """The reply to one /tern/ command, or None if the socket does not answer."""
        path = os.path.join(ROOT_RUN, self.prefix, "dpdk_telemetry.v2")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(timeout)
        try:
            s.connect(path)
            s.recv(16384)
            s.send(cmd.encode())
            reply = json.loads(s.recv(1 << 16).decode())
            return reply.get(cmd.split(",")[0])
        except (OSError, ValueError):
            return None
        finally:
            s.close()

    def alive(self):
        return self.proc.poll() is None and isinstance(self.telemetry("/tern/info"), dict)

    def client_slots(self):
        """{pid: state} of the client slots in use, from /tern/clients (every page)."""
        out = {}
        start = 0
        for _ in range(64):
            r = self.telemetry("/tern/clients,%d" % start)
            if not isinstance(r, dict) or "state" not in r:
                return None
            out.update(zip(r["pid"], r["state"]))
            if r["next"] == -1:
                return out
            start = r["next"]
        return None

    def clients(self):
        """(active, dead) client slots."""
        slots = self.client_slots()
        if slots is None:
            return None
        states = list(slots.values())
        return states.count("active"), states.count("dead")

    def segments_total(self):
        r = self.telemetry("/tern/segments")
        return r.get("total") if isinstance(r, dict) else None

    def stop(self):
        """SIGTERM: must exit 0, saying 'stopped', within 15 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=self.h.t(15))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return "still running 15 s after SIGTERM"
        if rc != 0:
            return "exit status %d after SIGTERM" % rc
        if "tern-dataplane: stopped" not in self.text():
            return "no 'stopped' line"
        return None


class Client:
    """A chaos_client process; its JSON lines are collected by a thread."""

    def __init__(self, h, dp, args, name):
        self.h = h
        self.name = name
        self.lines = []
        self.ready = threading.Event()
        self.err = os.path.join(h.work, "client-%s-%d.err" % (name, len(h.procs)))
        eal = ["--proc-type=secondary", "-l", "0", "--no-pci", "--file-prefix", dp.prefix,
               "--log-level", "lib.eal:warning"]
        with open(self.err, "w") as err:
            self.proc = h.spawn([h.args.client] + eal + ["--"] + args,
                                stdout=subprocess.PIPE, stderr=err, text=True)
        self.started = time.monotonic()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                d = json.loads(line)
            except ValueError:
                continue
            d["_at"] = time.monotonic()
            self.lines.append(d)
            if d.get("event") == "ready":
                self.ready.set()

    def last(self):
        return self.lines[-1] if self.lines else {}

    def batches(self):
        return self.last().get("batches", 0)

    def stderr(self):
        with open(self.err, errors="replace") as f:
            return f.read()[-2000:]

    def kill(self, sig=signal.SIGKILL):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def finish(self, timeout):
        """SIGTERM, then wait: (exit status or None if it had to be killed, exit line)."""
        self.kill(signal.SIGTERM)
        return self.wait(timeout)

    def wait(self, timeout):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        self.reader.join(timeout=2)
        exits = [d for d in self.lines if d.get("event") == "exit"]
        return rc, (exits[-1] if exits else {})


def account(h, line):
    for k in ("bytes_verified", "late_resolves", "late_writes", "stale"):
        h.counts[k] += line.get(k, 0)


# ---------------------------------------------------------------- phase 1

VICTIMS = {
    # 64 B, batch 1, inflight 32: the client lives inside tern_submit().
    "submit": ["--mode", "flood", "--offset", str(32 * MIB), "--bytes", "64", "--batch", "1",
               "--inflight", "32"],
    # Large batches, always some in flight at the lcores.
    "inflight": ["--mode", "flood", "--offset", str(32 * MIB), "--bytes", "256K", "--batch",
                 "4", "--inflight", "8"],
    # Detach and attach again, round after round.
    "attach": ["--mode", "attach", "--offset", str(48 * MIB), "--bytes", "64K"],
}


def cpu_ticks(pid):
    """utime + stime of a process (clock ticks), or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None


def stall_evidence(client):
    """What a client that makes no progress is doing: spinning or asleep."""
    t0 = cpu_ticks(client.proc.pid)
    time.sleep(1.0)
    t1 = cpu_ticks(client.proc.pid)
    if t0 is None or t1 is None:
        return "gone"
    hz = os.sysconf("SC_CLK_TCK")
    # Asleep in a futex or syscall it would use ~0; its reporter thread
    # prints a line every 50 ms, which costs well under 5 %.
    return "%s (%.0f %% of a CPU over 1 s)" % (
        "busy, spinning" if t1 - t0 > hz // 10 else "asleep", 100.0 * (t1 - t0) / hz)


def main_stack(pid):
    """The first frames of a process's main thread, if gdb is installed."""
    if shutil.which("gdb") is None:
        return "no gdb for a stack"
    try:
        out = subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "thread 1", "-ex", "bt 6"],
                             capture_output=True, text=True, timeout=30, check=False).stdout
    except subprocess.TimeoutExpired:
        return "gdb timed out"
    frames = [re.sub(r"\s+", " ", ln) for ln in out.splitlines() if re.match(r"#\d", ln)]
    frames = list(dict.fromkeys(re.sub(r" \(.*", "", f) for f in frames))  # "thread 1" shows #0 too
    return " | ".join(frames) or "no stack"


def lcore_batches(dp, lcores):
    """{lcore: batches it finished} from /tern/lcore,<id>."""
    out = {}
    for lc in lcores:
        r = dp.telemetry("/tern/lcore,%d" % lc)
        if isinstance(r, dict):
            out[lc] = r.get("batches")
    return out


def ring_state(dp):
    """Every worker lcore's rings drained and nothing posted, or a reason."""
    info = dp.telemetry("/tern/info")
    if not isinstance(info, dict):
        return "no /tern/info"
    for lc in info["lcores"]:
        r = dp.telemetry("/tern/lcore,%d" % lc)
        if not isinstance(r, dict):
            return "no /tern/lcore,%d" % lc
        for k in ("sq_depth", "xq_depth", "owned_inflight", "posted"):
            if r.get(k) != 0:
                return "lcore %d: %s %s" % (lc, k, r.get(k))
    return None


def pool_full(dp):
    s = dp.telemetry("/tern/stats")
    return isinstance(s, dict) and s["pool_total"] > 0 and s["pool_available"] == s["pool_total"]


KILL_CHECKS = ("a fresh client attaches and moves verified data after every kill",
               "other clients keep moving data after every kill",
               "every worker lcore keeps finishing batches after every kill",
               "the dataplane answers telemetry after every kill",
               "a dead client's slot is reclaimed within 5 s")


def end_of_kills(h, dp, steady, base_segments):
    """After the kills: a fresh client works, the steady one ends cleanly,
    everything is back to baseline, the dataplane exits 0 on SIGTERM."""
    fresh = Client(h, dp, ["--mode", "steady", "--offset", str(16 * MIB), "--bytes", "1M",
                           "--iterations", "5"], "fresh")
    rc, line = fresh.wait(h.t(10))
    account(h, line)
    h.check("kills: a fresh client moves verified data after the kills", rc == 0,
            "exit %s: %s" % (rc, fresh.stderr()[-400:]))
    rc, line = steady.finish(h.t(10))
    account(h, line)
    h.check("kills: the steady client ends cleanly (no error, no mismatch, nothing late)",
            rc == 0 and line.get("errors") == 0, "exit %s, %s, %s" % (rc, line, steady.stderr()))
    # Nothing leaked: no client, every future, every buffer, rings drained.
    leaks = []
    if not wait_for(lambda: dp.clients() == (0, 0), h.t(5)):
        leaks.append("client slots %s" % (dp.clients(),))
    if not wait_for(lambda: pool_full(dp), h.t(5)):
        leaks.append("futures: %s" % dp.telemetry("/tern/stats"))
    if not wait_for(lambda: dp.segments_total() == base_segments, h.t(5)):
        leaks.append("segments %s, %s at start" % (dp.segments_total(), base_segments))
    ring = wait_for(lambda: ring_state(dp) is None, h.t(5)) or ring_state(dp)
    if ring is not True and ring is not None:
        leaks.append("rings: %s" % ring)
    h.counts["leaks"] += len(leaks)
    h.check("kills: back to baseline (clients, futures, buffers, rings)", not leaks,
            "; ".join(leaks))
    err = dp.stop()
    h.check("kills: the dataplane exits 0 on SIGTERM", err is None, err or "")


def phase_kills(h, kills, max_wedges=3):
    """Clients SIGKILLed at random points; after each kill the steady client
    keeps moving data, the dataplane answers, the next client attaches and
    moves verified data, and the dead client's slot comes back. A wedged
    dataplane is checked once in full (what leaked), then replaced by a new
    one and the kills go on, up to max_wedges wedges: their count says how
    often a kill wedges it."""
    print("chaos: client kills x %d (victims: %s)" % (kills, ",".join(sorted(set(h.victims)))),
          flush=True)
    fails = {}
    t_kills = time.monotonic()
    done = wedges = 0

    def fail(what, detail):
        fails.setdefault(what, []).append(detail)

    while done < kills and wedges < max_wedges:
        dp = Dataplane(h, "k", ["--segment", "kv:64M"])
        base_segments = dp.segments_total()
        steady = Client(h, dp, ["--mode", "steady", "--bytes", "256K", "--report-ms", "50",
                                "--deadline-ms", "3000"], "steady")
        if not h.check("kills: steady client ready", steady.ready.wait(h.t(20)),
                       steady.stderr()):
            return
        # The steady client is spread over the worker lcores with the
        # victims; ci runs one worker lcore (two CPUs here): every ring.
        lcores = (dp.telemetry("/tern/info") or {}).get("lcores", [])
        baseline = dp.clients()
        if baseline != (1, 0):
            h.check("kills: /tern/clients shows the steady client", False, str(baseline))
        done, wedged = kill_round(h, dp, steady, lcores, done, kills, fail)
        if not wedged:
            break
        wedges += 1
        h.counts["wedges"] += 1
        if wedges == 1:
            end_of_kills(h, dp, steady, base_segments)  # the evidence, once
        else:
            for p in (steady.proc, dp.proc):
                p.kill()
                p.wait()
        if done < kills and wedges < max_wedges:
            print("chaos: a new dataplane for the remaining %d kills" % (kills - done),
                  flush=True)
    print("chaos: %d kills in %.0f s, %d wedged the dataplane" % (
        done, time.monotonic() - t_kills, wedges), flush=True)
    for what in KILL_CHECKS:
        got = fails.get(what, [])
        h.check("kills: " + what, not got, "%d times; first: %s" % (len(got), got[0]) if got
                else "")
        if what.startswith("a dead"):
            h.counts["leaks"] += len(got)
    if wedges == 0:
        end_of_kills(h, dp, steady, base_segments)


def kill_round(h, dp, steady, lcores, done, kills, fail):
    """Kills until @kills are done or the dataplane wedges: (done, wedged)."""
    nxt = None
    wedged = False
    while done < kills and not wedged:
        i = done
        kind, victim = nxt if nxt is not None else (h.rng.choice(h.victims), None)
        if victim is None:
            args = VICTIMS[h.rng.choice(list(VICTIMS))] if kind == "startup" else VICTIMS[kind]
            victim = Client(h, dp, args, "victim")
        nxt = None
        if kind == "startup":
            time.sleep(h.rng.uniform(0, 0.35) * h.scale)
        elif not victim.ready.wait(h.t(15)):
            fail(KILL_CHECKS[0],
                 "kill %d: victim (%s) not ready: %s" % (i, kind, victim.stderr()[-400:]))
        else:
            time.sleep(h.rng.uniform(0, 0.25))
        victim.kill(signal.SIGKILL)
        victim.wait(h.t(10))
        h.counts["kills"] += 1
        done += 1
        # The next victim starts while this kill is checked (unless it is to
        # die during its start-up): its EAL start overlaps the checks.
        k2 = h.rng.choice(h.victims)
        if done < kills:
            nxt = (k2, None if k2 == "startup" else Client(h, dp, VICTIMS[k2], "victim"))
        b0 = steady.batches()
        l0 = lcore_batches(dp, lcores)
        moved = wait_for(lambda: steady.batches() >= b0 + 2 or steady.proc.poll() is not None,
                         h.t(5), 0.02) and steady.proc.poll() is None

        def stuck_lcores():
            l1 = lcore_batches(dp, lcores)
            return [lc for lc in lcores if l0.get(lc) is None or l1.get(lc, 0) <= l0[lc]]
        stuck = [] if not moved else stuck_lcores()
        if stuck:
            # Its counters are published in bursts: give it the same 5 s.
            wait_for(lambda: not stuck_lcores(), h.t(5))
            stuck = stuck_lcores()
        if stuck:
            fail(KILL_CHECKS[2], "kill %d (%s): lcores %s" % (i, kind, stuck))
        if not moved:
            fail(KILL_CHECKS[1],
                 "kill %d (%s): the steady client made no progress for %.0f s (%d batches), "
                 "it is %s; its main thread: %s" % (i, kind, h.t(5), steady.batches(),
                                                    stall_evidence(steady),
                                                    main_stack(steady.proc.pid)))
            wedged = True
        if not isinstance(dp.telemetry("/tern/info"), dict):
            fail(KILL_CHECKS[3], "kill %d" % i)
        # The next victim may have attached already: look for this one's pid.
        back = wait_for(lambda: victim.proc.pid not in (dp.client_slots() or {victim.proc.pid: 0}),
                        h.t(5))
        if not back:
            fail(KILL_CHECKS[4],
                 "kill %d (%s): /tern/clients {pid: state} = %s" % (i, kind, dp.client_slots()))
        if wedged:
            print("chaos: dataplane wedged by kill %d (%s victim)" % (i, kind), flush=True)
    if nxt is not None and nxt[1] is not None:
        nxt[1].kill(signal.SIGKILL)  # started, not needed: this dataplane is done
        nxt[1].wait(h.t(10))
    return done, wedged


# ---------------------------------------------------------------- phase 2

def pair(h, extra_a, extra_b, seg="kv:32M"):
    pa, pb = free_port(), free_port()
    a = Dataplane(h, "a", ["--segment", seg, "--directory", "p2p://127.0.0.1:%d" % pa,
                           "--peer", "b=p2p://127.0.0.1:%d" % pb] + extra_a)
    b = Dataplane(h, "b", ["--segment", seg, "--directory", "p2p://127.0.0.1:%d" % pb,
                           "--peer", "a=p2p://127.0.0.1:%d" % pa] + extra_b)
    return a, b


def stop_all(h, name, *dps):
    for dp in dps:
        err = dp.stop()
        h.check("%s: dataplane %s exits 0 on SIGTERM" % (name, dp.tag), err is None, err or "")


def peer_client(h, a, extra, name):
    """Ranges of 1 MiB (4 slices each, striped over the tcp connections): a
    stopped peer leaves megabytes of frames queued behind a failed WRITE.
    32 MiB of hugepages for its buffers."""
    return Client(h, a, ["--mode", "peer", "--segment", "b/kv", "--ranges", "8",
                         "--range-bytes", "1M", "--read-slots", "24", "--deadline-ms",
                         "1000", "--report-ms", "200"] + extra, name)


def phase_peer_stop(h, transport):
    name = "peer-stop-%s" % transport
    extra = ["--listen", "127.0.0.1:0", "--shm", "off"] if transport == "tcp" else []
    a, b = pair(h, extra, extra)
    try:
        cl = peer_client(h, a, ["--duration-ms", str(int(11000 * h.scale)), "--settle-ms",
                                "1500"], name)
        if not h.check("%s: client ready" % name, cl.ready.wait(h.t(20)), cl.stderr()):
            return
        # Two stops at random phases of the rounds, each longer than three
        # 1 s deadlines: the op in flight when b stops fails (unless b took it
        # already), and so do the next two, a WRITE round and a READ round.
        for _ in range(2):
            time.sleep(h.rng.uniform(0.3, 1.0))
            b.proc.send_signal(signal.SIGSTOP)
            time.sleep(h.rng.uniform(3.2, 3.6))
            b.proc.send_signal(signal.SIGCONT)
            h.counts["faults"] += 1
        rc, line = cl.wait(h.t(40))
        account(h, line)
        print("chaos: %s: b stopped 2 x 3.2-3.6 s with 1 s deadlines: %d WRITE and %d READ futures "
              "failed (%d READs landed in part first), %d late writes, %d stale ranges, "
              "%d resolved late"
              % (name, line.get("write_failed", 0), line.get("read_failed", 0),
                 line.get("read_partial", 0), line.get("late_writes", 0), line.get("stale", 0),
                 line.get("late_resolves", 0)), flush=True)
        if transport == "tcp":
            h.check("%s: WRITE and READ futures fail by their deadline while b is stopped"
                    % name, line.get("write_failed", 0) > 0 and line.get("read_failed", 0) > 0,
                    str(line))
        h.check("%s: every future resolves by its deadline + 1 s" % name,
                line.get("late_resolves", 1) == 0, str(line))
        h.check("%s: no write into a failed READ's buffer (guard intact)" % name,
                line.get("late_writes", 1) == 0, cl.stderr()[-600:])
        h.check("%s: no stale data (a failed WRITE never lands after a newer one)" % name,
                line.get("stale", 1) == 0, cl.stderr()[-600:])
        h.check("%s: client exit 0" % name, rc == 0, "exit %s: %s" % (rc, cl.stderr()[-600:]))
        h.check("%s: both dataplanes answer telemetry" % name, a.alive() and b.alive())
        h.check("%s: a's futures all back" % name, wait_for(lambda: pool_full(a), h.t(5)),
                str(a.telemetry("/tern/stats")))
        stop_all(h, name, a, b)
    finally:
        for dp in (a, b):
            dp.proc.kill()
            dp.proc.wait()


def phase_peer_kill(h, transport):
    name = "peer-kill-%s" % transport
    extra = ["--listen", "127.0.0.1:0", "--shm", "off"] if transport == "tcp" else []
    a, b = pair(h, extra, extra)
    try:
        cl = peer_client(h, a, ["--duration-ms", str(int(4000 * h.scale)), "--settle-ms",
                                "1000", "--allow-errors", "--no-final"], name)
        if not h.check("%s: client ready" % name, cl.ready.wait(h.t(20)), cl.stderr()):
            return
        time.sleep(h.rng.uniform(0.3, 1.5))
        b.proc.kill()
        b.proc.wait()
        h.counts["faults"] += 1
        rc, line = cl.wait(h.t(40))
        account(h, line)
        print("chaos: %s: b killed: %d WRITE and %d READ futures failed (%d READs landed in "
              "part first), %d late writes" % (name, line.get("write_failed", 0),
                                               line.get("read_failed", 0),
                                               line.get("read_partial", 0),
                                               line.get("late_writes", 0)), flush=True)
        h.check("%s: every future resolves by its deadline + 1 s" % name,
                rc is not None and line.get("late_resolves", 1) == 0, "exit %s, %s" % (rc, line))
        h.check("%s: no write into a failed READ's buffer (guard intact)" % name,
                line.get("late_writes", 1) == 0, cl.stderr()[-600:])
        fresh = Client(h, a, ["--mode", "steady", "--offset", str(16 * MIB), "--bytes", "1M",
                              "--iterations", "3"], name + "-fresh")
        rc, line = fresh.wait(h.t(30))
        account(h, line)
        h.check("%s: a keeps serving its own clients" % name, rc == 0, fresh.stderr())
        h.check("%s: a's futures all back" % name, wait_for(lambda: pool_full(a), h.t(5)),
                str(a.telemetry("/tern/stats")))
        stop_all(h, name, a)
    finally:
        for dp in (a, b):
            if dp.proc.poll() is None:
                dp.proc.kill()
                dp.proc.wait()


def phase_stale_writers(h):
    """A WRITE that failed over tcp while b was stopped must not land after a
    newer WRITE: a's client writes through tcp while b is stopped (its futures
    fail by the deadline, the frames wait in b's socket), then c's client
    writes the same ranges through shm (which needs nothing from b) and
    succeeds, stops writing and only reads; then b continues."""
    name = "stale-after-failover"
    pa, pb, pc = free_port(), free_port(), free_port()
    peers = ["--peer", "b=p2p://127.0.0.1:%d" % pb]
    dps = []
    try:
        b = Dataplane(h, "b", ["--segment", "kv:32M", "--listen", "127.0.0.1:0",
                               "--directory", "p2p://127.0.0.1:%d" % pb])
        dps.append(b)
        a = Dataplane(h, "a", ["--segment", "kv:32M", "--directory", "p2p://127.0.0.1:%d" % pa,
                               "--peer-transport", "b=tcp"] + peers)
        dps.append(a)
        c = Dataplane(h, "c", ["--segment", "kv:32M", "--directory", "p2p://127.0.0.1:%d" % pc,
                               "--peer-transport", "b=shm"] + peers)
        dps.append(c)
        common = ["--paused", "--no-final", "--allow-errors", "--settle-ms", "0"]
        first = peer_client(h, a, common, name + "-tcp")
        if not h.check("%s: tcp writer ready" % name, first.ready.wait(h.t(20)),
                       first.stderr()):
            return
        second = peer_client(h, c, common, name + "-shm")
        if not h.check("%s: shm writer ready" % name, second.ready.wait(h.t(20)),
                       second.stderr()):
            return
        b.proc.send_signal(signal.SIGSTOP)
        h.counts["faults"] += 1
        first.kill(signal.SIGUSR2)
        failed = wait_for(lambda: first.last().get("write_failed", 0) >= 8, h.t(6))
        h.check("%s: the tcp WRITEs fail by their deadline while b is stopped" % name, failed,
                str(first.last()))
        rc, line = first.finish(h.t(10))
        account(h, line)
        b0 = second.last().get("bytes_verified", 0)
        second.kill(signal.SIGUSR2)
        wrote = wait_for(lambda: second.last().get("bytes_verified", 0) >= b0 + 8 * MIB,
                         h.t(5))
        h.check("%s: the shm writer's WRITEs succeed meanwhile" % name, wrote,
                str(second.last()))
        second.kill(signal.SIGUSR1)
        wait_for(lambda: any(d.get("event") == "read-only" for d in second.lines), h.t(5))
        b.proc.send_signal(signal.SIGCONT)
        time.sleep(h.t(2))
        rc, line = second.finish(h.t(10))
        account(h, line)
        h.check("%s: no stale data (the failed tcp WRITEs never land on the newer ones)"
                % name, line.get("stale", 1) == 0, second.stderr()[-600:])
        h.check("%s: nothing late" % name, line.get("late_resolves", 1) == 0 and
                line.get("late_writes", 1) == 0, str(line))
        stop_all(h, name, a, b, c)
    finally:
        for dp in dps:
            if dp.proc.poll() is None:
                dp.proc.send_signal(signal.SIGCONT)
                dp.proc.kill()
                dp.proc.wait()


# ---------------------------------------------------------------- phase 3

def tcp_frame(op, tag, segment, offset, length, payload=0, status=0, magic=0x54524e54,
              version=2, flags=0, reserved=0):
    return struct.pack(">IBBHIIQIIiI", magic, version, op, flags, tag, segment, offset, length,
                       payload, status, reserved)


def tcp_desc(port, segment, length):
    return struct.pack(">IBBH16sIIQ", 0x54524e44, 1, 4, port,
                       socket.inet_aton("127.0.0.1") + b"\0" * 12, segment, 0, length)


def p2p_get(port, node, segment, timeout=3.0):
    """The descriptor (dict) a p2p directory serves, or None."""
    req = json.dumps({"v": 1, "op": "get", "node": node, "segment": segment}).encode()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(struct.pack(">I", len(req)) + req)
            n = struct.unpack(">I", recv_exact(s, 4))[0]
            ans = json.loads(recv_exact(s, n))
        return json.loads(ans["descriptor"])
    except (OSError, ValueError, KeyError, struct.error):
        return None


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise OSError("closed")
        buf += chunk
    return buf


def tcp_hello(s):
    """The tcp handshake of a peer without a secret (doc/protocol.md: HELLO,
    CHALLENGE, AUTH, READY), as a new instance at epoch 1: True once READY
    says 0. Raises OSError or struct.error on a closed or cut connection."""
    instance = random.getrandbits(63) | 1
    s.sendall(tcp_frame(5, 1, 0, instance, 16, payload=16) + os.urandom(16))
    hdr = struct.unpack(">IBBHIIQIIiI", recv_exact(s, 40))
    if hdr[2] != 6:
        return False
    recv_exact(s, hdr[8])
    s.sendall(tcp_frame(7, 1, 0, instance, 16, payload=16) + b"\0" * 16)
    hdr = struct.unpack(">IBBHIIQIIiI", recv_exact(s, 40))
    return hdr[2] == 8 and hdr[9] == 0


def legit_read(port, seg, offset, timeout=2.0):
    """A new connection asks one 64-byte READ: True if the reply comes in time."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            if not tcp_hello(s):
                return False
            s.sendall(tcp_frame(1, 77, seg, offset, 64))
            hdr = struct.unpack(">IBBHIIQIIiI", recv_exact(s, 40))
            return hdr[2] == 3 and hdr[4] == 77 and hdr[9] == 0 and len(recv_exact(s, 64)) == 64
    except (OSError, struct.error):
        return False


def blast(h, addr, payloads, family=socket.AF_INET, kind=socket.SOCK_STREAM, hello=None):
    """One connection per payload: send it (after hello(socket), if given:
    past the handshake), half-close, read a little, close."""
    for p in payloads:
        h.counts["hostile"] += 1
        s = socket.socket(family, kind)
        s.settimeout(0.5)
        try:
            s.connect(addr)
            if hello is not None and not hello(s):
                continue
            if p:
                s.sendall(p)
            try:
                s.shutdown(socket.SHUT_WR)
                s.recv(65536)
            except OSError:
                pass
        except (OSError, struct.error):
            pass
        finally:
            s.close()


def tcp_payloads(seg):
    rnd = random.Random(7)
    return [
        b"", b"\x00", b"GET / HTTP/1.0\r\n\r\n", bytes(rnd.getrandbits(8) for _ in range(7)),
        os.urandom(40), os.urandom(70000), b"\xff" * 4096,
        tcp_frame(1, 1, seg, 0, 4096)[:20],                        # truncated header
        tcp_frame(1, 1, seg, 0, 4096, magic=0x12345678),           # bad magic
        tcp_frame(1, 1, seg, 0, 4096, version=9),                  # unknown version
        tcp_frame(9, 1, seg, 0, 4096),                             # unknown op
        tcp_frame(1, 1, seg, 0, 4096, flags=1),                    # flags
        tcp_frame(1, 1, seg, 0, 4096, reserved=5),                 # reserved
        tcp_frame(1, 1, seg, 0, 0),                                # zero length
        tcp_frame(1, 1, seg, 0, (1 << 30) + 1),                    # oversize length
        tcp_frame(1, 1, seg, (1 << 64) - 16, 4096),                # offset overflow
        tcp_frame(1, 1, seg, 1 << 40, 4096),                       # beyond the segment
        tcp_frame(1, 1, 0xdead, 0, 4096),                          # unknown segment
        tcp_frame(2, 1, seg, 0, 1 << 30, payload=1 << 30) + b"x" * 1000,  # WRITE cut short
        tcp_frame(2, 1, seg, 0, 4096, payload=17) + b"y" * 17,     # payload != length
        tcp_frame(3, 1, seg, 0, 4096, payload=4096),               # wrong direction
        tcp_frame(4, 1, seg, 0, 4096, status=-5),                  # wrong direction
        tcp_frame(1, 1, seg, 0, 4096, status=-2),                  # request with a status
        tcp_frame(1, 1, seg, 0, 64) * 50 + os.urandom(13),         # good, then garbage
    ]


def p2p_payloads():
    def frame(obj):
        b = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
        return struct.pack(">I", len(b)) + b
    return [
        b"", b"\x00", os.urandom(64), struct.pack(">I", 0xffffffff) + b"{}",
        struct.pack(">I", 0), struct.pack(">I", 1025) + b"{" * 1025,
        struct.pack(">I", 5) + b"{\"x\":", frame(b"not json"), frame(b"{}"),
        frame({"v": 2, "op": "get", "node": "b", "segment": "kv"}),
        frame({"v": 1, "op": "get", "node": "b" * 300, "segment": "kv"}),
        frame({"v": 1, "op": "get", "node": "b", "segment": "kv", "x": 1}),
        frame({"v": 1, "op": "list", "node": "../../etc"}),
        frame({"v": 1, "op": "get", "node": "b", "segment": "kv"}) * 20 + os.urandom(9),
        frame(b"[" * 1000), frame(b"\"\\u0000\""),
    ]


def slowloris(h, addr, first, conns, seconds):
    """conns connections each sending @first one byte every 0.2 s."""
    socks = []
    for _ in range(conns):
        try:
            socks.append(socket.create_connection(addr, timeout=1))
        except OSError:
            pass
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end and i < len(first):
        for s in socks:
            try:
                s.send(first[i:i + 1])
            except OSError:
                pass
        i += 1
        time.sleep(0.2)
    h.counts["hostile"] += len(socks)
    for s in socks:
        s.close()


def hold_reads(h, port, seg, conns, reads, length, seconds, progress):
    """conns connections each asking reads READs of length bytes, never
    reading: (connections made, the real peer kept going, a new connection
    was served meanwhile)."""
    socks = []
    frames = b"".join(tcp_frame(1, i + 1, seg, 0, length) for i in range(reads))
    for _ in range(conns):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", port))
            if tcp_hello(s):
                s.sendall(frames)
                socks.append(s)
            else:
                s.close()
        except (OSError, struct.error):
            s.close()
    h.counts["hostile"] += len(socks) * reads
    ok = progress(seconds / 2)
    served = legit_read(port, seg, 63 * MIB)
    ok = progress(seconds / 2) and ok
    for s in socks:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    return len(socks), ok, served


def hold_idle(h, port, conns, seconds, progress, serve_new):
    """conns idle connections held for seconds: (made, the real peer kept
    going, serve_new() succeeded meanwhile: a new connection is served)."""
    socks = []
    for _ in range(conns):
        s = socket.socket()
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", port))
            socks.append(s)
        except OSError:
            s.close()
            break
    h.counts["hostile"] += len(socks)
    ok = progress(seconds / 2)
    served = serve_new()
    ok = progress(seconds / 2) and ok
    for s in socks:
        s.close()
    return len(socks), ok, served


class FakePeer:
    """A p2p directory that serves a descriptor of node c whose tcp address is
    a non-tern server, and that server: it answers each connection one of four
    ways (silence, random bytes, an HTTP reply, an immediate close)."""

    def __init__(self, h):
        self.h = h
        self.stop = threading.Event()
        self.junk = socket.socket()
        self.junk.bind(("127.0.0.1", 0))
        self.junk.listen(64)
        self.dir = socket.socket()
        self.dir.bind(("127.0.0.1", 0))
        self.dir.listen(16)
        self.junk_port = self.junk.getsockname()[1]
        self.dir_port = self.dir.getsockname()[1]
        self.held = []
        self.served = 0
        for target in (self._serve_dir, self._serve_junk):
            threading.Thread(target=target, daemon=True).start()

    def descriptor(self):
        d = {"length": 32 * MIB, "node": "c", "segment": "kv", "v": 1,
             "transports": {"tcp": {"desc": tcp_desc(self.junk_port, 0x10001, 32 * MIB).hex()}}}
        return json.dumps(d, sort_keys=True, separators=(",", ":"))

    def _serve_dir(self):
        self.dir.settimeout(0.2)
        while not self.stop.is_set():
            try:
                c, _ = self.dir.accept()
            except OSError:
                continue
            try:
                c.settimeout(2)
                n = struct.unpack(">I", recv_exact(c, 4))[0]
                req = json.loads(recv_exact(c, min(n, 1024)))
                if req.get("node") == "c" and req.get("op") == "get":
                    ans = {"v": 1, "status": 0, "descriptor": self.descriptor()}
                else:
                    ans = {"v": 1, "status": -2}
                b = json.dumps(ans).encode()
                c.sendall(struct.pack(">I", len(b)) + b)
                time.sleep(0.1)
            except (OSError, ValueError, struct.error):
                pass
            c.close()

    def _serve_junk(self):
        self.junk.settimeout(0.2)
        while not self.stop.is_set():
            try:
                c, _ = self.junk.accept()
            except OSError:
                continue
            way = self.served % 4
            self.served += 1
            self.h.counts["hostile"] += 1
            try:
                if way == 0:
                    self.held.append(c)  # silence: never answers
                    continue
                if way == 1:
                    c.sendall(os.urandom(4096))
                elif way == 2:
                    c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            except OSError:
                pass
            if way != 0:
                c.close()

    def close(self):
        self.stop.set()
        for s in self.held + [self.junk, self.dir]:
            s.close()


def phase_hostile(h):
    """Hostile input at every listening socket while a real peer's batches keep
    succeeding within their deadline."""
    name = "hostile"
    fake = FakePeer(h)
    a = b = None
    try:
        a, b = pair(h, ["--listen", "127.0.0.1:0", "--peer-transport", "b=tcp", "--peer",
                        "c=p2p://127.0.0.1:%d" % fake.dir_port],
                    ["--listen", "127.0.0.1:0", "--rdma-listen", "127.0.0.1:0"], seg="kv:64M")
        real = Client(h, a, ["--mode", "steady", "--segment", "b/kv", "--bytes", "1M",
                             "--deadline-ms", "2000", "--report-ms", "100"], "real-peer")
        if not h.check("%s: real peer client ready" % name, real.ready.wait(h.t(20)),
                       real.stderr()):
            return
        tport, pport = b.tcp_port(), b.p2p_port()
        desc = p2p_get(pport, "b", "kv")
        seg = 0
        try:
            seg = struct.unpack(">I", bytes.fromhex(desc["transports"]["tcp"]["desc"])[24:28])[0]
        except (TypeError, KeyError, ValueError, struct.error):
            pass
        h.check("%s: b's tcp descriptor read over p2p" % name, seg != 0, str(desc))
        h.check("%s: a new tcp connection is served before the attacks (the probe works)"
                % name, legit_read(tport, seg, 63 * MIB))

        def progress(seconds):
            """The real peer completes batches in every 1.5 s window (x time scale)."""
            end = time.monotonic() + seconds
            last, since = real.batches(), time.monotonic()
            while time.monotonic() < end:
                time.sleep(0.05)
                if real.batches() > last:
                    last, since = real.batches(), time.monotonic()
                elif time.monotonic() - since > h.t(1.5) or real.proc.poll() is not None:
                    return False
            return True

        b0 = real.batches()
        blast(h, ("127.0.0.1", tport), tcp_payloads(seg))  # before the handshake
        blast(h, ("127.0.0.1", tport), tcp_payloads(seg), hello=tcp_hello)  # after it
        blast(h, ("127.0.0.1", pport), p2p_payloads())
        shm_path = os.path.join(ROOT_RUN, b.prefix, "tern_shm.sock")
        if os.path.exists(shm_path):
            blast(h, shm_path, [b"", os.urandom(16), os.urandom(200), b"\0" * 4096],
                  socket.AF_UNIX, socket.SOCK_SEQPACKET)
        h.check("%s: garbage, truncated and oversize frames refused, peer unaffected" % name,
                progress(1.0) and real.batches() > b0, "real peer: %s" % real.last())
        threading.Thread(target=slowloris, daemon=True,
                         args=(h, ("127.0.0.1", tport), tcp_frame(1, 1, seg, 0, 64), 32, 4)).start()
        threading.Thread(target=slowloris, daemon=True,
                         args=(h, ("127.0.0.1", pport), p2p_payloads()[-7], 32, 4)).start()
        h.check("%s: slowloris on tcp and p2p (32 connections each), peer unaffected" % name,
                progress(4.0), "real peer: %s" % real.last())
        n, ok, served = hold_reads(h, tport, seg, 16, 128, 64 * MIB, h.t(6), progress)
        h.check("%s: %d connections x 128 READs of 64 MiB never read: the real peer keeps "
                "going" % (name, n), ok and n == 16, "real peer: %s" % real.last())
        h.check("%s: ... and a new tcp connection is served meanwhile" % name, served)
        n, ok, served = hold_idle(h, tport, 1400, h.t(4), progress,
                                  lambda: legit_read(tport, seg, 63 * MIB))
        h.check("%s: %d idle tcp connections: the real peer keeps going" % (name, n), ok,
                "real peer: %s" % real.last())
        h.check("%s: ... and a new tcp connection is served meanwhile" % name, served)
        n, ok, served = hold_idle(h, pport, 200, h.t(2), progress,
                                  lambda: p2p_get(pport, "b", "kv") is not None)
        h.check("%s: %d idle p2p connections: the real peer keeps going" % (name, n), ok,
                "real peer: %s" % real.last())
        h.check("%s: ... and a new p2p request is answered meanwhile" % name, served)
        lines = sum(1 for ln in b.text().splitlines() if ln.startswith("tern."))
        h.check("%s: b's log stays bounded (%d tern.* lines for %d hostile inputs)"
                % (name, lines, h.counts["hostile"]), lines < 200)
        if "mlx5: answering handshakes" in b.text():
            h.check("%s: mlx5 handshake port" % name, False, "not covered by this suite yet")
        else:
            print("chaos: %s: mlx5 handshake listener skipped: --rdma-listen is ignored "
                  "without an RDMA device (tests/mlx5/test_mlx5_handshake.c drives its "
                  "decoder and listener with hostile frames)" % name, flush=True)
        # c's descriptor names a non-tern server: its futures fail, in time.
        cc = Client(h, a, ["--mode", "peer", "--segment", "c/kv", "--ranges", "4",
                           "--range-bytes", "4K", "--deadline-ms", "1000", "--duration-ms",
                           "3000", "--settle-ms", "500", "--allow-errors", "--no-final"],
                    "non-tern")
        t0 = time.monotonic()
        rc, line = cc.wait(h.t(30))
        took = time.monotonic() - t0
        account(h, line)
        h.check("%s: a peer whose address is a non-tern server fails its futures in time"
                % name, rc == 1 and line.get("late_resolves", 0) == 0 and took < h.t(15),
                "exit %s after %.1f s, %s, %s" % (rc, took, line, cc.stderr()[-400:]))
        h.check("%s: real peer unaffected by the non-tern server" % name, progress(1.0),
                "real peer: %s" % real.last())
        rc, line = real.finish(h.t(10))
        account(h, line)
        h.check("%s: the real peer's batches all succeeded in their deadline" % name,
                rc == 0 and line.get("errors") == 0 and line.get("late_resolves") == 0,
                "exit %s, %s, %s" % (rc, line, real.stderr()[-600:]))
        h.check("%s: both dataplanes answer telemetry" % name, a.alive() and b.alive())
        fresh = Client(h, a, ["--mode", "steady", "--segment", "b/kv", "--offset",
                              str(40 * MIB), "--bytes", "2M", "--iterations", "3"], "fresh")
        rc, line = fresh.wait(h.t(30))
        account(h, line)
        h.check("%s: a fresh client moves verified data to b afterwards" % name, rc == 0,
                fresh.stderr())
        stop_all(h, name, a, b)
    finally:
        fake.close()
        for dp in (a, b):
            if dp is not None and dp.proc.poll() is None:
                dp.proc.kill()
                dp.proc.wait()


# ---------------------------------------------------------------- phase 4

def garbage_values():
    good = {"length": 32 * MIB, "node": "evil", "segment": "kv", "v": 1,
            "transports": {"tcp": {"desc": tcp_desc(1, 1, 32 * MIB).hex()}}}

    def variant(**kw):
        d = dict(good)
        d.update(kw)
        return json.dumps(d).encode()
    return [
        b"", b"not json", b"\xff\xfe\x00garbage", os.urandom(300), b"{" * 5000,
        b"[" * 100000, b"{\"v\":1}", variant(v=2), variant(v="1"), variant(length=-1),
        variant(length=0), variant(length=1 << 70), variant(node="b"), variant(node="evil/x"),
        variant(segment=""), variant(transports={"tcp": {"desc": {"nested": 1}}}),
        variant(transports={"tcp": {"desc": "zz" * 20}}),
        variant(transports={"tcp": {"desc": "00" * 40}}),
        variant(transports={"t%d" % i: {} for i in range(20)}),
        variant(extra=1), json.dumps(good).encode() + b"trailing",
        b"{\"v\":1,\"v\":1}", b"x" * (600 * 1024),
    ]


def phase_directory(h, backend):
    name = "directory-%s" % backend
    tmp = tempfile.mkdtemp(dir=h.work)
    port = free_port()
    if backend == "etcd":
        if shutil.which("etcd") is None or shutil.which("etcdctl") is None:
            h.check("%s: etcd installed" % name, False, "usertools/tern-quickstart.sh deps")
            return
        pport = free_port()
        with open(os.path.join(tmp, "server.log"), "w") as log:
            srv = h.spawn(["etcd", "--name", "chaos", "--data-dir", tmp + "/data",
                           "--listen-client-urls", "http://127.0.0.1:%d" % port,
                           "--advertise-client-urls", "http://127.0.0.1:%d" % port,
                           "--listen-peer-urls", "http://127.0.0.1:%d" % pport,
                           "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % pport,
                           "--initial-cluster", "chaos=http://127.0.0.1:%d" % pport,
                           "--log-level", "warn"], stdout=log, stderr=subprocess.STDOUT)
        env = dict(os.environ, ETCDCTL_API="3")

        def put(key, value):
            subprocess.run(["etcdctl", "--endpoints", "127.0.0.1:%d" % port, "put", key],
                           input=value, env=env, capture_output=True, timeout=10, check=False)
        ready = ["etcdctl", "--endpoints", "127.0.0.1:%d" % port, "--dial-timeout", "1s",
                 "endpoint", "health"]
        prefix = "/chaos"
    else:
        if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
            h.check("%s: redis-server installed" % name, False, "tern-quickstart.sh deps")
            return
        srv = h.spawn(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", tmp,
                       "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL)
        env = dict(os.environ)

        def put(key, value):
            subprocess.run(["redis-cli", "-p", str(port), "-x", "SET", key], input=value,
                           capture_output=True, timeout=10, check=False)
        ready = ["redis-cli", "-p", str(port), "ping"]
        prefix = "chaos"
    up = wait_for(lambda: subprocess.run(ready, env=env, capture_output=True, timeout=5,
                                         check=False).returncode == 0 and srv.poll() is None,
                  h.t(30), 0.2)
    if not h.check("%s: server ready" % name, up):
        return
    uri = "%s://127.0.0.1:%d/%s" % (backend, port, prefix.strip("/"))
    a = b = None
    try:
        a = Dataplane(h, "a", ["--segment", "kv:32M", "--listen", "127.0.0.1:0", "--shm", "off",
                               "--directory", uri])
        b = Dataplane(h, "b", ["--segment", "kv:32M", "--listen", "127.0.0.1:0", "--shm", "off",
                               "--directory", uri])
        sep = "/"
        values = garbage_values()
        for i, v in enumerate(values):
            put("%s%sevil%sseg%d" % (prefix, sep, sep, i), v)
            put("%s%sb%sjunk%d" % (prefix, sep, sep, i), v)
        put("%s%sevil%skv" % (prefix, sep, sep), values[12])  # names node b: a replay
        h.counts["hostile"] += 2 * len(values) + 1
        t0 = time.monotonic()
        refused = True
        for seg in ["evil/kv", "evil/seg3", "evil/seg16", "b/junk5"]:
            cl = Client(h, a, ["--mode", "steady", "--segment", seg, "--bytes", "4K",
                               "--iterations", "1"], "garbage")
            rc, _ = cl.wait(h.t(20))
            if rc != 1 or "no segment" not in cl.stderr():
                refused = False
                print("chaos: %s: %s: exit %s: %s" % (name, seg, rc, cl.stderr()[-300:]))
        h.check("%s: malformed and mismatched descriptors refused (%.1f s for 4 lookups)"
                % (name, time.monotonic() - t0), refused)
        cl = Client(h, a, ["--mode", "steady", "--segment", "b/kv", "--bytes", "2M",
                           "--iterations", "3"], "good")
        rc, line = cl.wait(h.t(30))
        account(h, line)
        h.check("%s: the real peer still resolves and moves verified data" % name, rc == 0,
                cl.stderr())
        h.check("%s: both dataplanes answer telemetry" % name, a.alive() and b.alive())
        stop_all(h, name, a, b)
    finally:
        for p in (a, b):
            if p is not None and p.proc.poll() is None:
                p.proc.kill()
                p.proc.wait()
        srv.terminate()
        try:
            srv.wait(timeout=10)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()


# ---------------------------------------------------------------- main

def run_phases(h, phases, kills):
    def guarded(what, fn, *a):
        t0 = time.monotonic()
        try:
            fn(h, *a)
        except Fatal as e:
            h.check(what, False, str(e))
        finally:
            # Whatever a phase left behind goes before the next one.
            for p in h.procs:
                if p.poll() is None:
                    try:
                        os.kill(p.pid, signal.SIGCONT)
                    except OSError:
                        pass
                    p.kill()
                    p.wait()
            h.procs = [p for p in h.procs if p.poll() is None]
            print("chaos: %s took %.0f s" % (what, time.monotonic() - t0), flush=True)
    if "kills" in phases:
        guarded("kills", phase_kills, kills)
    for t in ("shm", "tcp"):
        for what, fn in (("peer-stop-", phase_peer_stop), ("peer-kill-", phase_peer_kill)):
            if "peers" in phases or what + t in phases:
                guarded(what + t, fn, t)
    if "peers" in phases or "stale-after-failover" in phases:
        guarded("stale-after-failover", phase_stale_writers)
    if "hostile" in phases:
        guarded("hostile", phase_hostile)
    if "directory" in phases:
        for backend in ("etcd", "redis"):
            guarded("directory-" + backend, phase_directory, backend)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=["ci", "soak"])
    ap.add_argument("--dataplane", required=True)
    ap.add_argument("--client", required=True)
    ap.add_argument("--kills", type=int, help="client kills a round (ci 100, soak 1000)")
    ap.add_argument("--minutes", type=float, default=30.0, help="soak: how long")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--time-scale", type=float, default=1.0)
    ap.add_argument("--only", default="kills,peers,hostile,directory")
    ap.add_argument("--victims", default="all",
                    help="kinds of killed clients: submit,inflight,attach,startup or all")
    ap.add_argument("-v", "--verbose", action="store_true", help="print passing checks too")
    args = ap.parse_args()
    h = Harness(args)

    def on_signal(sig, frame):
        raise SystemExit("chaos: signal %d: cleaning up" % sig)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    kills = int(os.environ.get("CHAOS_KILLS", args.kills or (100 if args.mode == "ci" else 1000)))
    phases = set(args.only.split(","))
    free = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("HugePages_Free"):
                free = int(line.split()[1])
    # Three dataplanes (about 116 MiB each with a 32 MiB segment) and two
    # clients with 32 MiB of buffers each, at the most.
    if free < 220:
        print("chaos: needs at least 440 MiB of free 2M hugepages (%d pages free)" % free)
        print("chaos: 0 passed, 1 failed")
        return 1
    t0 = time.monotonic()
    try:
        if args.mode == "ci":
            run_phases(h, phases, kills)
        else:
            rounds = 0
            while time.monotonic() - t0 < args.minutes * 60:
                rounds += 1
                print("chaos: soak round %d (%.0f s so far)" % (rounds, time.monotonic() - t0),
                      flush=True)
                run_phases(h, phases, kills)
        print("chaos: %s mode took %.0f s" % (args.mode, time.monotonic() - t0))
        return h.summary()
    finally:
        h.cleanup()


if __name__ == "__main__":
    sys.exit(main())
