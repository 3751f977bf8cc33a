#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""What libtern shows the world.

  test_symbols.py LIBTERN_SO LIBTERN_A LIBTERN_SYM HEADER_DIR APPS_DIR CC [CFLAG...]

- the shared library exports exactly the functions the application headers
  declare (LIBTERN_SYM, made from the headers by sdk/symbols.py), and the
  static archive's global symbols are the same set: every internal name is
  local, so nm shows only tern_ API;
- every application header compiles alone with nothing but the installed
  headers and DPDK's (no driver SDK or private header leaks into them);
- the applications in apps/ include only application headers (and their own)."""

import glob
import os
import re
import subprocess
import sys
import unittest

ARGS = {}


def nm(*args):
    out = subprocess.run(["nm"] + list(args), check=True, capture_output=True, text=True).stdout
    syms = set()
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and f[1] in "TDBRGSVWi":  # defined, global
            syms.add(f[2].split("@")[0])
    return syms


class Symbols(unittest.TestCase):
    def setUp(self):
        with open(ARGS["sym"]) as f:
            self.api = {l.strip() for l in f if l.strip()}

    def test_api_is_not_empty(self):
        self.assertIn("tern_client_attach", self.api)
        self.assertIn("tern_submit", self.api)
        self.assertGreater(len(self.api), 50)

    def test_shared_exports_exactly_the_api(self):
        got = nm("-D", "--defined-only", ARGS["so"])
        self.assertEqual(sorted(got - self.api), [], "exported but not in the headers")
        self.assertEqual(sorted(self.api - got), [], "declared but not exported")

    def test_static_globals_are_exactly_the_api(self):
        got = nm("-g", "--defined-only", ARGS["a"])
        self.assertEqual(sorted(got - self.api), [], "global in libtern.a but not API")
        self.assertEqual(sorted(self.api - got), [], "declared but not defined in libtern.a")

    def test_every_export_is_tern_prefixed(self):
        self.assertEqual([s for s in self.api if not s.startswith("tern_")], [])


class Headers(unittest.TestCase):
    def headers(self):
        hs = sorted(glob.glob(os.path.join(ARGS["inc"], "tern_*.h")))
        self.assertGreater(len(hs), 3)
        return hs

    def test_each_header_compiles_alone(self):
        for h in self.headers():
            name = os.path.basename(h)
            with self.subTest(header=name):
                r = subprocess.run(ARGS["cc"] + ["-I" + ARGS["inc"], "-fsyntax-only", "-Werror",
                                                 "-x", "c", "-"],
                                   input="#include <%s>\n" % name, capture_output=True, text=True)
                self.assertEqual(r.returncode, 0, r.stderr)

    def test_no_driver_or_private_header(self):
        for h in self.headers():
            self.assertIsNone(re.search(r"_(driver|private|internal)\.h$", h), h)

    def test_apps_include_only_the_application_api(self):
        public = {os.path.basename(h) for h in self.headers()} | {"tern_build_config.h"}
        for src in sorted(glob.glob(os.path.join(ARGS["apps"], "*", "*.[ch]"))):
            own = {os.path.basename(p) for p in glob.glob(os.path.join(os.path.dirname(src), "*.h"))}
            with open(src) as f:
                for inc in re.findall(r'^#include [<"](tern_\w+\.h)[>"]', f.read(), re.M):
                    with self.subTest(src=os.path.relpath(src, ARGS["apps"]), include=inc):
                        self.assertIn(inc, public | own)


if __name__ == "__main__":
    (ARGS["so"], ARGS["a"], ARGS["sym"], ARGS["inc"], ARGS["apps"]), ARGS["cc"] = \
        sys.argv[1:6], sys.argv[6:]
    unittest.main(argv=sys.argv[:1], verbosity=2)
