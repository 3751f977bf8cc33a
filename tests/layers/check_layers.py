#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Check the layering of one component (library or driver) on its object files.

usage: check_layers.py [options] ARCHIVE_OR_OBJECT...
       check_layers.py --self-test [--cc CC] [--nm NM]

Every object file is a node (a static archive contributes each member); an
edge a.o -> b.o when a.o uses (calls, reads, takes the address of) a global
symbol that b.o defines. Symbols that no given file defines (libc, DPDK,
other components) make no edge. Give all the archives of the component
(e.g. a driver and its wire library) in one run, so that edges between them
count too. Names reserved to the toolchain (leading "__" or "_X", or ".",
as in ASan's __odr_asan.*, __asan_*, gcov's counters) are ignored everywhere.

Rules (each finding is printed as "FAIL: ..."):

  always       no cycle between the object files, direct (a <-> b) or longer;
               each cycle is printed with the symbols on each of its edges.
  --prefix P   (repeatable) every global symbol the component defines starts
               with one of the prefixes P.
  --public-header H
               (repeatable) every global symbol starting with the public
               prefix (--public-prefix, default tern_) is declared in one of
               the headers H: public API must be in the public headers.
  --no-mutable-globals [--allow PATTERN...]
               no writable global data (.data, .bss, common, TLS): state is
               static behind accessors. --allow exempts names matching the
               fnmatch patterns (e.g. '*_logtype': DPDK log types, set once
               by a constructor). Constant tables (.rodata, .data.rel.ro) pass.
  --static-check [--header H...]
               no global symbol used by its own file only: it should be
               static. Symbols declared in a --header or --public-header
               (public API, headers shared with the tests) are exempt.

"Declared in a header" means the name appears as a word in the header once
its comments are removed.

Exit status: 0 clean, 1 findings, 2 usage or tool error. The output starts
with the files' layers, lowest first, and the edges between them.

--self-test compiles small fixtures (FIXTURES below: two cycles, a name
without prefix, an undeclared tern_ symbol, .data and .bss globals, globals
one file alone uses; and what must pass: an allowed logtype, const tables,
a declared symbol, an ASan-reserved name) and fails unless every break, and
nothing else, is reported; unless, without the options, only the cycles
are; and unless, without the files closing the cycles, no cycle is. So a
checker gone blind fails its own test. If the compiler takes
-fsanitize=address it repeats all that on ASan objects, whose extra symbols
must change nothing.

Example (tests/layers/meson.build runs one such check per component):
  check_layers.py --prefix mlx5_ --prefix tern_mlx5_ \
      --public-header tern_mlx5.h --no-mutable-globals --allow mlx5_logtype \
      --static-check --header mlx5_wire.h libtern_transport_mlx5.a libtern_mlx5_wire.a
"""

import argparse
import fnmatch
import os
import re
import subprocess
import sys
import tempfile

# Sections of writable data. .data.rel.ro* is read-only once relocated.
WRITABLE_SECTIONS = (".data", ".bss", ".tdata", ".tbss", "*COM*", "COMMON")


def die(message):
    """A usage or tool error: exit status 2, not 1 (a finding)."""
    print(message, file=sys.stderr)
    sys.exit(2)


def reserved(name):
    """Names of the toolchain (C11 7.1.3), and assembler-local ones."""
    return (name.startswith("__") or name.startswith(".")
            or re.match(r"_[A-Z]", name) is not None)


def writable(section):
    if section.startswith(".data.rel.ro"):
        return False
    return any(section == s or section.startswith(s + ".")
               for s in WRITABLE_SECTIONS)


class Component:
    """The symbols of a set of object files, per file, from nm."""

    def __init__(self):
        self.defined = {}    # file -> {symbol: section}
        self.undefined = {}  # file -> set of symbols
        self.owner = {}      # symbol -> file that defines it
        self.where = {}      # file -> its path, or its member's in an archive

    def load(self, nm, path):
        try:
            out = subprocess.run([nm, "-A", "-g", "-f", "sysv", path],
                                 check=True, capture_output=True,
                                 text=True).stdout
        except (OSError, subprocess.CalledProcessError) as e:
            die(f"check_layers: {nm} {path}: {e}")
        if not path.endswith(".a"):
            self._node(path)  # an object that defines and uses nothing
        for line in out.splitlines():
            # "lib.a:member.o:name |value|class|type|size|line|section"
            # (archive, members by path in a thin one), "file.o:name |...".
            fields = line.split("|")
            if len(fields) < 7 or ":" not in fields[0]:
                continue
            where, name = fields[0].rsplit(":", 1)
            name, kind, section = name.strip(), fields[2].strip(), fields[6].strip()
            node = self._node(where.rsplit(":", 1)[-1])
            if reserved(name):
                continue
            if kind == "U" or (kind in ("w", "v") and section == "*UND*"):
                self.undefined[node].add(name)
            else:
                self.defined[node][name] = section
                self.owner.setdefault(name, node)

    def _node(self, member):
        """The file's name as printed: "dir/x.c.o" -> "x.c"."""
        node = os.path.basename(member)
        node = node[:-2] if node.endswith(".o") else node
        if self.where.setdefault(node, member) != member:
            die(f"check_layers: {self.where[node]} and {member} would both "
                f"be {node}: rename one")
        self.defined.setdefault(node, {})
        self.undefined.setdefault(node, set())
        return node

    def edges(self):
        """{a: {b: [symbols a uses that b defines]}}"""
        graph = {node: {} for node in self.defined}
        for node, used in self.undefined.items():
            for sym in sorted(used):
                dst = self.owner.get(sym)
                if dst is not None and dst != node:
                    graph[node].setdefault(dst, []).append(sym)
        return graph

    def users(self, sym):
        return {n for n, used in self.undefined.items() if sym in used}


def strongly_connected(graph):
    """Components of more than one node (Tarjan), each sorted."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                out.append(sorted(scc))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def one_cycle(graph, scc):
    """A closed path through scc's first node, e.g. [a, b, c, a]."""
    start, inside = scc[0], set(scc)
    path, seen = [start], {start}

    def walk(v):
        for w in sorted(graph[v]):
            if w == start:
                return path + [start]
            if w in inside and w not in seen:
                seen.add(w)
                path.append(w)
                found = walk(w)
                if found:
                    return found
                path.pop()
        return None

    return walk(start)


def layers(graph):
    """The files, lowest layer first (each uses only those before it)."""
    order, left = [], set(graph)
    while left:
        ready = sorted(n for n in left if not set(graph[n]) & left)
        if not ready:  # a cycle, reported below
            return order + ["(not layered: " + " ".join(sorted(left)) + ")"]
        order += ready
        left -= set(ready)
    return order


def declared(paths):
    """The words of the headers, comments removed."""
    words = set()
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            die(f"check_layers: {e}")
        text = re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)
        words.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
    return words


def findings(comp, opts):
    """The rule breaks of the component, as sorted lines."""
    graph = comp.edges()
    out = []
    for scc in strongly_connected(graph):
        loop = " -> ".join(one_cycle(graph, scc))
        edges = "".join(f"\n    {a} -> {b} ({', '.join(graph[a][b])})"
                        for a in scc for b in scc if b in graph[a])
        out.append(f"cycle among {', '.join(scc)} (e.g. {loop}); "
                   f"its edges:{edges}")

    public = declared(opts.public_header)
    exempt = public | declared(opts.header)
    for sym, node in sorted(comp.owner.items()):
        section = comp.defined[node][sym]
        if opts.prefix and not sym.startswith(tuple(opts.prefix)):
            out.append(f"{node}: global {sym} lacks a prefix "
                       f"({', '.join(opts.prefix)})")
        if (opts.public_header and sym.startswith(opts.public_prefix)
                and sym not in public):
            out.append(f"{node}: {sym} is named as public API but no "
                       "public header declares it")
        if (opts.no_mutable_globals and writable(section)
                and not any(fnmatch.fnmatchcase(sym, p) for p in opts.allow)):
            out.append(f"{node}: mutable global {sym} (in {section}): "
                       "make it static behind an accessor")
        if (opts.static_check and sym not in exempt
                and not comp.users(sym) - {node}):
            out.append(f"{node}: {sym} is used in its own file only: "
                       "make it static")
    return graph, out


def check(paths, opts, quiet=False):
    comp = Component()
    for path in paths:
        comp.load(opts.nm, path)
    graph, problems = findings(comp, opts)
    if not quiet:
        print("layers, lowest first: " + " ".join(layers(graph)))
        for a in sorted(graph):
            for b, syms in sorted(graph[a].items()):
                more = f", +{len(syms) - 3}" if len(syms) > 3 else ""
                print(f"  {a} -> {b} ({', '.join(syms[:3])}{more})")
        for p in problems:
            print("FAIL: " + p)
    return problems


# Fixtures of the self-test: fix_* is the allowed prefix, tern_ public.
# fix_a.c -> fix_b.c -> fix_c.c -> fix_a.c through a function and a global;
# fix_d.c <-> fix_e.c directly; the rest break the other rules.
FIXTURES = {
    "fix_a.c": "int fix_b(void);\nint fix_a(void) { return fix_b(); }\n",
    "fix_b.c": "extern int fix_c_value;\nint fix_b(void) { return fix_c_value; }\n",
    "fix_c.c": ("int fix_a(void);\nint fix_c_value = 1;\n"
                "int fix_c(void) { return fix_a(); }\n"),
    "fix_d.c": "int fix_e(int);\nint fix_d(int n) { return n ? fix_e(n - 1) : 0; }\n",
    "fix_e.c": "int fix_d(int);\nint fix_e(int n) { return n ? fix_d(n - 1) : 0; }\n",
    "fix_misc.c": (
        "void helper(void);\nvoid helper(void) { }\n"           # no prefix
        "int fix_state;\n"                                        # .bss
        "int fix_logtype;\n"                                      # allowed
        "const int fix_table[2] = { 1, 2 };\n"                    # .rodata
        "void fix_lonely(void);\nvoid fix_lonely(void) { }\n"     # static
        "void fix_shared(void);\nvoid fix_shared(void) { }\n"     # in header
        "void tern_fix_api(void);\nvoid tern_fix_api(void) { }\n"
        "void tern_fix_hidden(void);\nvoid tern_fix_hidden(void) { }\n"
        "int fix_reserved __asm__(\"__odr_asan.fix_reserved\");\n"
        "int fix_reserved = 1;\n"),
    "fix_user.c": ("void helper(void); extern int fix_state, fix_logtype;\n"
                   "extern const int fix_table[2];\n"
                   "struct fix_ops { int (*fn)(void); };\n"
                   "int fix_a(void);\n"
                   "const struct fix_ops fix_ops = { fix_a };\n"  # .data.rel.ro
                   "int fix_user(void);\nint fix_user(void)\n"
                   "{ helper(); return fix_state + fix_logtype + fix_table[0]; }\n"),
}
HEADERS = {
    "fix.h": "/* fix_lonely is not declared here, only mentioned */\n"
             "void fix_shared(void);\n",
    "tern_fix.h": "void tern_fix_api(void);\n",
}
EXPECTED = [
    "cycle among fix_a.c, fix_b.c, fix_c.c (e.g. fix_a.c -> fix_b.c -> "
    "fix_c.c -> fix_a.c); its edges:\n    fix_a.c -> fix_b.c (fix_b)\n"
    "    fix_b.c -> fix_c.c (fix_c_value)\n    fix_c.c -> fix_a.c (fix_a)",
    "cycle among fix_d.c, fix_e.c (e.g. fix_d.c -> fix_e.c -> fix_d.c); its "
    "edges:\n    fix_d.c -> fix_e.c (fix_e)\n    fix_e.c -> fix_d.c (fix_d)",
    "fix_misc.c: global helper lacks a prefix (fix_, tern_fix_)",
    "fix_misc.c: tern_fix_hidden is named as public API but no public "
    "header declares it",
    "fix_c.c: mutable global fix_c_value (in .data): make it static behind "
    "an accessor",
    "fix_misc.c: mutable global fix_state (in .bss): make it static behind "
    "an accessor",
    "fix_misc.c: fix_lonely is used in its own file only: make it static",
    "fix_misc.c: tern_fix_hidden is used in its own file only: make it static",
    "fix_c.c: fix_c is used in its own file only: make it static",
    "fix_user.c: fix_ops is used in its own file only: make it static",
    "fix_user.c: fix_user is used in its own file only: make it static",
]


def self_test(opts):
    """Compile FIXTURES and check them: every rule must catch its break."""
    cc = opts.cc.split()
    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        every_rule = argparse.Namespace(
            nm=opts.nm, prefix=["fix_", "tern_fix_"], public_prefix="tern_",
            public_header=[os.path.join(tmp, "tern_fix.h")],
            header=[os.path.join(tmp, "fix.h")],
            no_mutable_globals=True, allow=["*_logtype"], static_check=True)
        cycles_only = argparse.Namespace(
            nm=opts.nm, prefix=[], public_prefix="tern_", public_header=[],
            header=[], no_mutable_globals=False, allow=[], static_check=False)
        for name, text in {**FIXTURES, **HEADERS}.items():
            with open(os.path.join(tmp, name), "w", encoding="utf-8") as f:
                f.write(text)
        for flags in ([], ["-fsanitize=address"]):
            what = " ".join(["objects"] + flags)
            objs = [os.path.join(tmp, name + ".o") for name in FIXTURES]
            try:
                for name, obj in zip(FIXTURES, objs):  # x.c.o, as meson
                    subprocess.run(cc + flags + ["-fPIC", "-fno-common", "-O0", "-c",
                                                 "-o", obj, os.path.join(tmp, name)],
                                   check=True, capture_output=True)
            except subprocess.CalledProcessError as e:
                if flags:
                    print(f"self-test: no {what} ({cc[0]} {flags[0]} fails)")
                    continue
                die(f"self-test: {e}: {e.stderr.decode()}")
            got = check(objs, every_rule, quiet=True)
            failed += [f"({what}) not reported: {p}" for p in EXPECTED if p not in got]
            failed += [f"({what}) reported wrongly: {p}" for p in got if p not in EXPECTED]
            # Without the options, only the two cycles are findings...
            got = check(objs, cycles_only, quiet=True)
            if got != EXPECTED[:2]:
                failed.append(f"({what}) without the options: {got}")
            # ... and without fix_c.c and fix_e.c, there is no cycle.
            layered = [o for o in objs if not o.endswith(("fix_c.c.o", "fix_e.c.o"))]
            got = check(layered, cycles_only, quiet=True)
            if got:
                failed.append(f"({what}) a cycle where there is none: {got}")
            print(f"self-test ({what}): {len(EXPECTED)} breaks, each reported"
                  if not failed else f"self-test ({what}): FAILED")
    for f in failed:
        print("self-test FAIL " + f)
    print("self-test: " + ("FAILED" if failed else "ok"))
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[2:]))
    ap.add_argument("--nm", default=os.environ.get("NM", "nm"))
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"),
                    help="compiler of the self-test fixtures")
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("--prefix", action="append", default=[])
    ap.add_argument("--public-prefix", default="tern_")
    ap.add_argument("--public-header", action="append", default=[])
    ap.add_argument("--no-mutable-globals", action="store_true")
    ap.add_argument("--allow", action="append", default=[])
    ap.add_argument("--static-check", action="store_true")
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("files", nargs="*")
    opts = ap.parse_args()
    if opts.self_test:
        return self_test(opts)
    if not opts.files:
        ap.print_usage(sys.stderr)
        return 2
    return 1 if check(opts.files, opts) else 0


if __name__ == "__main__":
    sys.exit(main())
