# SPDX-License-Identifier: BSD-3-Clause
"""Run the Python tests with pytest and report them to meson as TAP.

    run_pytest.py PACKAGE_DIR TERN_DATAPLANE [pytest args...]

PACKAGE_DIR is <build>/python (it holds the built tern package). One TAP line
per test, pytest's summary line as the last comment, pytest's whole output as
comments when something failed. pytest's exit status 5 ("no tests collected")
is a failure here, as is any other non-zero status.
"""
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    pkg, dataplane = sys.argv[1:3]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.abspath(pkg) + os.pathsep + env.get("PYTHONPATH", "")
    env["TERN_DATAPLANE"] = os.path.abspath(dataplane)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    with tempfile.TemporaryDirectory(prefix="tern_pytest_") as tmp:
        xml = os.path.join(tmp, "junit.xml")
        cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rfE",
               "--junitxml", xml, HERE] + sys.argv[3:]
        p = subprocess.run(cmd, env=env, cwd=HERE, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=900)
        cases = []
        if os.path.exists(xml):
            for tc in ET.parse(xml).getroot().iter("testcase"):
                bad = tc.find("failure") is not None or tc.find("error") is not None
                skipped = tc.find("skipped") is not None
                cases.append(("%s::%s" % (tc.get("classname"), tc.get("name")), bad, skipped))
    lines = p.stdout.rstrip().splitlines()
    summary = next((l for l in reversed(lines) if l.startswith("=")), lines[-1] if lines else "")
    ok = p.returncode == 0 and cases
    print("1..%d" % (len(cases) or 1))
    for i, (name, bad, skipped) in enumerate(cases, 1):
        # A skipped test is not a pass: nothing here may be skipped to go green.
        print("%s %d - %s%s" % ("not ok" if bad or skipped else "ok", i, name,
                                " (skipped)" if skipped else ""))
    if not cases:
        print("not ok 1 - pytest ran no test (exit status %d%s)"
              % (p.returncode, ": no tests collected" if p.returncode == 5 else ""))
    if not ok or any(s for _, _, s in cases):
        for line in lines:
            print("# " + line)
    print("# " + summary.strip("= "))
    return 0 if ok and not any(s for _, _, s in cases) else 1


if __name__ == "__main__":
    sys.exit(main())
