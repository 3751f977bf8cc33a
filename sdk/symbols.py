#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The symbols libtern exports: every function the application headers
declare (not their static inline ones), read by the compiler itself
(gcc -aux-info), so the list cannot drift from the headers.

  symbols.py --map OUT.map --list OUT.sym --cc CC [--cflag F]... HEADER...

OUT.map is the shared library's version script (everything else local),
OUT.sym one name a line (objcopy --keep-global-symbols for the static
archive; tests/sdk compares both libraries against it)."""

import argparse
import os
import re
import subprocess
import sys
import tempfile


def declared(cc, cflags, headers):
    with tempfile.TemporaryDirectory() as tmp:
        tu = os.path.join(tmp, "all.c")
        aux = os.path.join(tmp, "aux.txt")
        with open(tu, "w") as f:
            for h in headers:
                f.write("#include \"%s\"\n" % os.path.abspath(h))
        dirs = sorted({os.path.dirname(os.path.abspath(h)) for h in headers})
        cmd = cc + cflags + ["-I" + d for d in dirs] + ["-fsyntax-only", "-aux-info", aux, tu]
        subprocess.run(cmd, check=True)
        want = {os.path.abspath(h) for h in headers}
        names = set()
        line_re = re.compile(r"^/\* (.+):\d+:([NO])([CF]) \*/ extern .*?\b(tern_\w+) \(")
        with open(aux) as f:
            for line in f:
                m = line_re.match(line)
                # C: a declaration (F would be a definition: a static inline).
                if m and m.group(3) == "C" and os.path.abspath(m.group(1)) in want:
                    names.add(m.group(4))
        return sorted(names)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--map", required=True)
    ap.add_argument("--list", required=True)
    ap.add_argument("--cc", required=True, action="append")
    ap.add_argument("--cflag", action="append", default=[])
    ap.add_argument("--version-node", default="TERN_0")
    ap.add_argument("headers", nargs="+")
    a = ap.parse_args()
    names = declared(a.cc, a.cflag, a.headers)
    if not names:
        sys.exit("symbols.py: no function declared in %s" % " ".join(a.headers))
    with open(a.map, "w") as f:
        f.write("%s {\n\tglobal:\n" % a.version_node)
        for n in names:
            f.write("\t%s;\n" % n)
        f.write("\tlocal: *;\n};\n")
    with open(a.list, "w") as f:
        f.write("".join(n + "\n" for n in names))


if __name__ == "__main__":
    main()
