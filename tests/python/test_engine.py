# SPDX-License-Identifier: BSD-3-Clause
"""Runs each case of engine_cases.py (the in-process engine) in its own
process: this pytest process is attached to a dataplane, and DPDK's EAL
starts once per process."""
import os
import re
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = [l.split("(")[0][4:] for l in open(os.path.join(HERE, "engine_cases.py"))
         if l.startswith("def test_")]


@pytest.mark.parametrize("case", CASES)
def test_in_process_engine(case):
    p = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                        "engine_cases.py::" + case], cwd=HERE, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0 and re.search(r"\b1 passed", p.stdout), p.stdout + p.stderr
