# SPDX-License-Identifier: BSD-3-Clause
"""Run the Python tests with pytest and report them to meson as TAP.

    run_pytest.py PACKAGE_DIR TERN_DATAPLANE [pytest args...]

PACKAGE_DIR is <build>/python (it holds the built tern package). One TAP line
per test, pytest's summary line as the last comment, pytest's whole output as
comments when something failed. pytest's exit status 5 ("no tests collected")
is a failure here, as is any other non-zero status.

A hang is reported, not waited out: a test running longer than
PER_TEST_S has the Python stacks of every thread dumped (pytest's
faulthandler_timeout); the whole run is stopped after TOTAL_S, well before
meson's own timeout, and then the report names the test that was running and
shows where each thread of pytest and of its children (the dataplanes, tool
processes) was blocked in the kernel, and the tail of each dataplane's log.
"""
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
PER_TEST_S = 120
TOTAL_S = 720  # meson's timeout for this test is 900 s


def descendants(pid):
    """pid and every process below it (from /proc: children lists)."""
    out, pending = [], [pid]
    while pending:
        p = pending.pop()
        out.append(p)
        for task in glob.glob("/proc/%d/task/*/children" % p):
            try:
                with open(task) as f:
                    pending += [int(c) for c in f.read().split()]
            except OSError:
                pass
    return out


def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError as e:
        return "(%s)" % e.strerror


def where_blocked(pid):
    """One line per thread of each process: name, state, kernel wait channel,
    syscall number and the kernel stack's first frames (what a hang waits on)."""
    lines = []
    for p in descendants(pid):
        lines.append("process %d: %s" % (p, read("/proc/%d/cmdline" % p).replace("\0", " ")))
        for t in sorted(glob.glob("/proc/%d/task/*" % p)):
            stat = read(t + "/stat")
            state = stat.rsplit(")", 1)[1].split()[0] if ")" in stat else "?"
            stack = read(t + "/stack").splitlines()[:4]
            lines.append("  thread %s %s state %s wchan %s syscall %s | %s" % (
                os.path.basename(t), read(t + "/comm"), state, read(t + "/wchan"),
                read(t + "/syscall").split(" ")[0], " ".join(s.split()[-1] for s in stack)))
    return lines


def main():
    pkg, dataplane = sys.argv[1:3]
    with tempfile.TemporaryDirectory(prefix="tern_pytest_") as tmp:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.path.abspath(pkg) + os.pathsep + env.get("PYTHONPATH", "")
        env["TERN_DATAPLANE"] = os.path.abspath(dataplane)
        env["TERN_PY_WORK"] = tmp  # the dataplanes' logs (conftest.py)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        xml = os.path.join(tmp, "junit.xml")
        log = os.path.join(tmp, "pytest.log")
        cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rfE", "-v",
               "-o", "faulthandler_timeout=%d" % PER_TEST_S, "--junitxml", xml, HERE] + \
            sys.argv[3:]
        hang = []
        with open(log, "w") as out:
            p = subprocess.Popen(cmd, env=env, cwd=HERE, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True)
            try:
                rc = p.wait(TOTAL_S)
            except subprocess.TimeoutExpired:
                hang = where_blocked(p.pid)
                os.killpg(p.pid, signal.SIGKILL)  # pytest, the dataplanes, tool processes
                rc = p.wait()
        with open(log) as f:
            lines = f.read().rstrip().splitlines()
        cases = []
        if os.path.exists(xml):
            for tc in ET.parse(xml).getroot().iter("testcase"):
                bad = tc.find("failure") is not None or tc.find("error") is not None
                skipped = tc.find("skipped") is not None
                cases.append(("%s::%s" % (tc.get("classname"), tc.get("name")), bad, skipped))
        dp_logs = {}
        for path in sorted(glob.glob(os.path.join(tmp, "*", "dp*.log"))):
            with open(path, errors="replace") as f:
                dp_logs[os.path.basename(path)] = f.read().splitlines()[-40:]
        if hang:
            # A killed pytest leaves its dataplanes' hugepage files and runtime directories.
            for path in glob.glob("/dev/hugepages/tern_py_%d_*" % p.pid):
                os.unlink(path)
            for path in glob.glob("/var/run/dpdk/tern_py_%d_*" % p.pid):
                shutil.rmtree(path, ignore_errors=True)
    summary = next((l for l in reversed(lines) if l.startswith("=")), lines[-1] if lines else "")
    ok = rc == 0 and cases and not hang
    if hang:
        running = next((l.split()[0] for l in reversed(lines) if "::" in l), "(none started)")
        print("1..1")
        print("not ok 1 - pytest still running after %d s; the last test started: %s"
              % (TOTAL_S, running))
    else:
        print("1..%d" % (len(cases) or 1))
        for i, (name, bad, skipped) in enumerate(cases, 1):
            # A skipped test is not a pass: nothing here may be skipped to go green.
            print("%s %d - %s%s" % ("not ok" if bad or skipped else "ok", i, name,
                                    " (skipped)" if skipped else ""))
        if not cases:
            print("not ok 1 - pytest ran no test (exit status %d%s)"
                  % (rc, ": no tests collected" if rc == 5 else ""))
    if not ok or any(s for _, _, s in cases):
        for line in lines:
            print("# " + line)
        for line in hang:
            print("# " + line)
        for name, tail in dp_logs.items():
            print("# ---- %s (last %d lines)" % (name, len(tail)))
            for line in tail:
                print("# " + line)
    print("# " + summary.strip("= "))
    return 0 if ok and not any(s for _, _, s in cases) else 1


if __name__ == "__main__":
    sys.exit(main())
