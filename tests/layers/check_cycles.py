#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Fail when the object files of a component call each other in a circle.

usage: check_cycles.py [--nm NM] FILE...      (object files or static archives)
       check_cycles.py --self-test [--cc CC]

Every object file (an archive contributes each of its members) is a node;
a.o -> b.o when a.o uses a symbol b.o defines (`nm`: undefined in a, defined
in b). Symbols defined by no given file (libc, DPDK, other libraries) make
no edge. Exit 0 when the graph has no cycle, 1 (printing every cycle found,
one line each) when it has, 2 on a usage or tool error.

The point is one direction between the files of a driver (STYLE.md: "files
of one driver calling each other in a circle through globals"); a data
symbol counts like a function, so a shared global cannot hide a cycle.
"""

import argparse
import os
import subprocess
import sys
import tempfile

# nm symbol types that define something another object can use.
DEFINED = set("ABCDGRSTVWiuv")


def nm_symbols(nm, path):
    """{node: (defined set, undefined set)} for one object or archive."""
    try:
        out = subprocess.run([nm, "-A", "-g", "-P", path], check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit(f"check_cycles: {nm} {path}: {e}")
    nodes = {os.path.basename(path): (set(), set())}
    for line in out.splitlines():
        # POSIX format: "file.o: sym T value size", "lib.a[member.o]: sym U"
        head, sep, rest = line.rpartition(": ")
        fields = rest.split()
        if not sep or len(fields) < 2:
            continue
        sym, kind = fields[0], fields[1]
        if head.endswith("]") and "[" in head:
            node = os.path.basename(head[head.rindex("[") + 1:-1])
            nodes.pop(os.path.basename(path), None)
        else:
            node = os.path.basename(head)
        d, u = nodes.setdefault(node, (set(), set()))
        if kind == "U":
            u.add(sym)
        elif kind in DEFINED:
            d.add(sym)
    return nodes


def build_graph(nodes):
    owner = {}
    for node, (defined, _) in nodes.items():
        for sym in defined:
            owner.setdefault(sym, node)
    graph = {node: {} for node in nodes}
    for node, (_, undefined) in nodes.items():
        for sym in sorted(undefined):
            dst = owner.get(sym)
            if dst is not None and dst != node:
                graph[node].setdefault(dst, sym)
    return graph


def find_cycles(graph):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on_stack, sccs = {}, {}, [], set(), []

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
                sccs.append(sorted(scc))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sccs


def check(nm, paths):
    nodes = {}
    for p in paths:
        nodes.update(nm_symbols(nm, p))
    graph = build_graph(nodes)
    for src in sorted(graph):
        for dst, sym in sorted(graph[src].items()):
            print(f"{src} -> {dst} ({sym}, ...)")
    cycles = find_cycles(graph)
    for scc in cycles:
        edges = [f"{a} -> {b} ({graph[a][b]})" for a in scc for b in scc
                 if b in graph[a]]
        print("cycle: " + "; ".join(edges), file=sys.stderr)
    return 1 if cycles else 0


SELF_TEST = {
    "a.c": "int b(void);\nint a(void) { return b(); }\n",
    "b.c": "extern int c_value;\nint b(void) { return c_value; }\n",
    "c.c": "int a(void);\nint c_value;\nint c(void) { return a(); }\n",
}


def self_test(nm, cc):
    """The check must see a cycle through a global (a -> b -> c -> a) and
    none once c stops calling a."""
    with tempfile.TemporaryDirectory() as tmp:
        objs = []
        for name, text in SELF_TEST.items():
            with open(os.path.join(tmp, name), "w") as f:
                f.write(text)
            obj = os.path.join(tmp, name[:-2] + ".o")
            subprocess.run([cc, "-c", "-o", obj, os.path.join(tmp, name)],
                           check=True)
            objs.append(obj)
        if check(nm, objs) != 1:
            print("self-test: the cycle a -> b -> c -> a was not found",
                  file=sys.stderr)
            return 1
        with open(os.path.join(tmp, "c.c"), "w") as f:
            f.write("int c_value;\n")
        subprocess.run([cc, "-c", "-o", objs[2], os.path.join(tmp, "c.c")],
                       check=True)
        if check(nm, objs) != 0:
            print("self-test: a cycle was reported where there is none",
                  file=sys.stderr)
            return 1
    print("self-test: ok")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nm", default=os.environ.get("NM", "nm"))
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"))
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    if args.self_test:
        return self_test(args.nm, args.cc)
    if not args.files:
        ap.print_usage(sys.stderr)
        return 2
    return check(args.nm, args.files)


if __name__ == "__main__":
    sys.exit(main())
