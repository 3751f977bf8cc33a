#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Check lib/directory's layering from its object files (nm).

Fails (exit 1) when:
  - two source files depend on each other, directly or around a longer
    circle: one calls or reads what the other defines, both ways (DESIGN.md:
    no file-level cycles inside a library);
  - a global symbol lacks a component prefix: public API is tern_*, internal
    is directory_* or descriptor_*;
  - a public tern_* symbol is not declared in a public header;
  - an internal symbol is used by its own file only (it should be static).

Usage: check_layers.py [--nm NM] [--expect-cycle] --headers H... -- ARCHIVE_OR_OBJECT...

--expect-cycle inverts the verdict for a fixture with a deliberate cycle:
exit 0 only if a cycle is found, so that a checker gone blind fails too.
"""

import argparse
import os
import re
import subprocess
import sys

INTERNAL_PREFIXES = ("directory_", "descriptor_")


def unit(member):
    """'lib/.../libx.a.p/p2p.c.o' -> 'p2p.c'"""
    base = os.path.basename(member)
    return base[:-2] if base.endswith(".o") else base


def read_symbols(nm, paths):
    """{unit: (defined globals, undefined names)} from nm -P -A -g."""
    out = subprocess.run([nm, "-P", "-A", "-g"] + paths, check=True,
                         capture_output=True, text=True).stdout
    units = {}
    for line in out.splitlines():
        # "lib.a[member.o]: name T value size", or "file.o: name U" for objects
        m = re.match(r"^(.*?)(?:\[(.*)\])?: (\S+) (\S)", line)
        if m is None:
            continue
        member = m.group(2) or m.group(1)
        name, kind = m.group(3), m.group(4)
        defined, undefined = units.setdefault(unit(member), (set(), set()))
        if kind in "Uw":
            undefined.add(name)
        elif kind != "v":
            defined.add(name)
    return units


def find_cycle(graph):
    """One cycle of the directed graph as a list of nodes, or None."""
    state = {}  # node -> 1 on the stack, 2 done
    stack = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nm", default="nm")
    ap.add_argument("--expect-cycle", action="store_true")
    ap.add_argument("--headers", nargs="*", default=[])
    ap.add_argument("objects", nargs="+")
    args = ap.parse_args()

    units = read_symbols(args.nm, args.objects)
    owner = {}
    for u, (defined, _) in units.items():
        for s in defined:
            owner[s] = u
    public_text = ""
    for h in args.headers:
        with open(h, encoding="utf-8") as f:
            public_text += f.read()

    errors = []
    graph = {u: set() for u in units}
    why = {}
    users = {}
    for u, (_, undefined) in units.items():
        for s in undefined:
            o = owner.get(s)
            if o is None or o == u:
                continue
            graph[u].add(o)
            why.setdefault((u, o), []).append(s)
            users.setdefault(s, set()).add(u)

    cycle = find_cycle(graph)
    if cycle:
        steps = ["%s -> %s (%s)" % (a, b, ", ".join(sorted(why[(a, b)])[:4]))
                 for a, b in zip(cycle, cycle[1:])]
        errors.append("file-level cycle: " + "; ".join(steps))

    for s, u in sorted(owner.items()):
        if s.startswith("_") or s.startswith("."):
            continue  # compiler and sanitizer machinery
        if s.startswith("tern_"):
            if not re.search(r"\b%s\b" % re.escape(s), public_text):
                errors.append("%s: %s looks public but no public header declares it" % (u, s))
        elif not s.startswith(INTERNAL_PREFIXES):
            errors.append("%s: global %s lacks the directory_/descriptor_ prefix" % (u, s))
        elif s not in users:
            errors.append("%s: %s is used in this file only: make it static" % (u, s))

    for u in sorted(graph):
        print("%-16s -> %s" % (u, " ".join(sorted(graph[u])) or "(nothing here)"))
    for e in errors:
        print("FAIL: " + e)
    if args.expect_cycle:
        print("cycle found, as expected" if cycle else "FAIL: the fixture's cycle went unseen")
        return 0 if cycle else 1
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
