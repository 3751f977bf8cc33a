#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Check the mlx5 driver's layering on its object files, with nm.

For every object of the driver's static library, nm gives the symbols it
defines and the ones it needs. A call (or data reference) from one object to
a symbol another defines is an edge between their files. The check fails on:

- a cycle between files: for every pair, calls go one way only, and no
  longer cycle exists either (the layers of doc/mlx5.md);
- a mutable global: data in .data/.bss that another file could write (the
  control state is reached through accessors); only DPDK log types, which a
  constructor sets once, are allowed;
- a global symbol without the driver's prefix: mlx5_ inside, tern_mlx5_ only
  for the public API of tern_mlx5.h;
- a global that no other file uses and no header shared with the tests
  declares: it should be static.

Usage: check_layers.py [--self-test] [--headers DIR] ARCHIVE_OR_OBJECT...
--self-test first compiles three small files that break the rules and
fails unless each break is reported.
Exit status 0 when clean, 1 with the findings printed otherwise.
"""
import argparse
import os
import re
import subprocess
import sys

SHARED_HEADERS = ('tern_mlx5.h', 'tern_mlx5_internal.h', 'mlx5_wire.h', 'mlx5_queue.h')
IMMUTABLE_SECTIONS = ('.rodata', '.data.rel.ro', '.text')


def nm_sysv(path):
    """(member, name, class, section) for every symbol of an object or archive."""
    out = subprocess.run(['nm', '-A', '-f', 'sysv', path], check=True,
                         capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        # "archive.a:member.o:name |value|class|type|size|line|section"
        # (GNU nm -A; thin archives name members by path), or "file.o:name |...".
        fields = line.split('|')
        if len(fields) < 7 or ':' not in fields[0]:
            continue
        where, name = fields[0].rsplit(':', 1)
        member = os.path.basename(where.split(':')[-1])
        rows.append((member, name.strip(), fields[2].strip(), fields[6].strip()))
    return rows


def find_cycle(graph):
    """A cycle of graph (dict node -> set of nodes) as a list, or None."""
    state = {}
    stack = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                c = visit(m)
                if c:
                    return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            c = visit(n)
            if c:
                return c
    return None


def analyze(objects, headers):
    """(problems, graph, order) of the objects; headers: directory or None."""
    defined = {}   # symbol -> member
    undefined = {}  # member -> set of symbols
    problems = []
    members = set()
    for path in objects:
        for member, name, cls, section in nm_sysv(path):
            members.add(member)
            # Reserved names are the toolchain's (ASan's __odr_asan.*,
            # gcov's counters), not the driver's.
            if name.startswith('__') or name.startswith('.'):
                continue
            if cls == 'U':
                undefined.setdefault(member, set()).add(name)
            elif cls.isupper() and cls not in ('W', 'V'):
                defined[name] = member
                if cls in ('D', 'B', 'C') and not any(section.startswith(s) for s in IMMUTABLE_SECTIONS) \
                        and not name.endswith('_logtype'):
                    problems.append(f'{member}: mutable global {name} (in {section or "common"}): '
                                    'make it static behind an accessor')

    graph = {m: set() for m in members}
    used_elsewhere = set()
    for member, syms in undefined.items():
        for s in syms:
            owner = defined.get(s)
            if owner is not None and owner != member:
                graph[member].add(owner)
                used_elsewhere.add(s)

    for a in sorted(graph):
        for b in sorted(graph[a]):
            if a < b and a in graph.get(b, ()):
                ab = sorted(s for s in undefined.get(a, ()) if defined.get(s) == b)
                ba = sorted(s for s in undefined.get(b, ()) if defined.get(s) == a)
                problems.append(f'cycle: {a} -> {b} ({", ".join(ab)}) and '
                                f'{b} -> {a} ({", ".join(ba)})')
    cycle = find_cycle(graph)
    if cycle and len(cycle) > 3:
        problems.append('cycle: ' + ' -> '.join(cycle))

    shared = ''
    public = ''
    if headers:
        for h in SHARED_HEADERS:
            p = os.path.join(headers, h)
            if os.path.exists(p):
                text = open(p, encoding='utf-8').read()
                shared += text
                if h == 'tern_mlx5.h':
                    public = text
    for s, member in sorted(defined.items()):
        if s.startswith('tern_mlx5_'):
            if headers and not re.search(r'\b' + s + r'\(', public):
                problems.append(f'{member}: {s} is not public API (tern_mlx5.h): '
                                'name it mlx5_')
        elif not s.startswith('mlx5_'):
            problems.append(f'{member}: global {s} lacks the mlx5_ prefix')
        if headers and s not in used_elsewhere and not re.search(r'\b' + s + r'\b', shared):
            problems.append(f'{member}: {s} is used in its own file only: make it static')

    # The layers, lowest first, as a topological order (for the log).
    order = []
    left = {m: set(d) for m, d in graph.items()}
    while left:
        ready = sorted(m for m, d in left.items() if not (d & set(left)))
        if not ready:
            break
        order += ready
        for m in ready:
            del left[m]
    return problems, graph, order


SELF_TEST = {
    # Two files calling each other, a mutable global, a name without prefix.
    'mlx5_a.c': 'void mlx5_b(void); void mlx5_a(void); void mlx5_a(void) { mlx5_b(); }\n',
    'mlx5_b.c': ('void mlx5_a(void); void mlx5_b(void); int mlx5_state;\n'
                 'void mlx5_b(void) { mlx5_state++; mlx5_a(); }\n'),
    'mlx5_c.c': 'void helper(void); void helper(void) { }\n',
}


def self_test():
    """The check must catch what it is for: compile SELF_TEST and expect it to."""
    import tempfile
    cc = os.environ.get('CC', 'cc')
    with tempfile.TemporaryDirectory() as d:
        objs = []
        for name, text in SELF_TEST.items():
            src = os.path.join(d, name)
            with open(src, 'w', encoding='utf-8') as f:
                f.write(text)
            objs.append(src[:-2] + '.o')
            subprocess.run([cc, '-c', '-O0', '-o', objs[-1], src], check=True)
        problems, _, _ = analyze(objs, None)
    want = ('cycle: mlx5_a.o -> mlx5_b.o', 'mutable global mlx5_state', 'global helper lacks')
    missed = [w for w in want if not any(w in p for p in problems)]
    for w in missed:
        print('FAIL: the self-test was not caught: ' + w)
    print(f'self-test: {len(problems)} findings, {len(want) - len(missed)} of {len(want)} expected')
    return 1 if missed else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--headers', help='directory of the headers shared with the tests')
    ap.add_argument('--self-test', action='store_true',
                    help='check the checker on files made to break every rule')
    ap.add_argument('objects', nargs='*')
    args = ap.parse_args()
    if args.self_test and self_test() != 0:
        return 1
    if not args.objects:
        return 0
    problems, graph, order = analyze(args.objects, args.headers)
    print('layers, lowest first: ' + ' <- '.join(order))
    for a in sorted(graph):
        if graph[a]:
            print(f'  {a} -> {", ".join(sorted(graph[a]))}')
    for p in problems:
        print('FAIL: ' + p)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
