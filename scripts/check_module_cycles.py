#!/usr/bin/env python3
"""Import cycles between the modules of this crate, read from `crate::`, `super::`, `self::` and
local module paths in src/**/*.rs (comments stripped).

    scripts/check_module_cycles.py                 cycles between top-level modules (exit 1 if any)
    scripts/check_module_cycles.py --graph         also print every edge with a reference
    scripts/check_module_cycles.py --within src/tui  the same among the children of one folder

A module is a file (`a/b.rs` or `a/b/mod.rs` is `a::b`); inline `mod x { .. }` blocks count as
their file. A reference to an item defined in a folder's `mod.rs` counts for the folder itself.
"""

import argparse
import os
import re
import sys
from collections import defaultdict

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def strip_comments_and_strings(text):
    """Blank out comments, string and char literals (keeping newlines, for line numbers)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif c == "r" and re.match(r'r(#*)"', text[i:i + 40]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'r(#*)"', text[i:])
            end = '"' + m.group(1)
            j = text.find(end, i + len(m.group(0)))
            j = n if j < 0 else j + len(end)
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j + 1
        elif c == "'":
            # A char literal ('a', '\n', '\u{1F600}') or a lifetime ('a): only literals are skipped.
            m = re.match(r"'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'", text[i:i + 12])
            if m:
                out.append("' '")
                i += len(m.group(0))
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def module_of(rel):
    """`src/a/b.rs` -> ['a', 'b']; `src/a/mod.rs` -> ['a']; `src/lib.rs` -> []."""
    parts = rel[len("src/"):-len(".rs")].split("/")
    if parts[-1] in ("mod", "lib", "main") and (parts[-1] == "mod" or len(parts) == 1):
        parts = parts[:-1]
    return parts


def tokens(code):
    """Identifiers, `::` and single punctuation, with their line numbers."""
    i, line, n = 0, 1, len(code)
    while i < n:
        c = code[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif code.startswith("::", i):
            yield "::", line
            i += 2
        else:
            m = IDENT.match(code, i)
            if m:
                yield m.group(0), line
                i = m.end()
            else:
                yield c, line
                i += 1


def use_paths(toks, k):
    """Expand the use tree starting at toks[k] (after `use`); returns (paths, index after `;`)."""
    paths = []

    def tree(k, prefix):
        path = list(prefix)
        while k < len(toks):
            t = toks[k][0]
            if t == "{":
                k += 1
                while k < len(toks) and toks[k][0] != "}":
                    k = tree(k, path)
                    if k < len(toks) and toks[k][0] == ",":
                        k += 1
                return k + 1
            if t == "::":
                k += 1
                continue
            if t == "*":
                paths.append((path, toks[k][1]))
                return k + 1
            if IDENT.fullmatch(t):
                if t == "as":
                    k += 2
                    continue
                path.append(t)
                k += 1
                continue
            paths.append((path, toks[k][1] if k < len(toks) else 0))
            return k
        return k

    k = tree(k, [])
    while k < len(toks) and toks[k][0] != ";":
        k += 1
    return paths, k + 1


def resolve(path, fmod, modules):
    """An absolute module path for a path written in module `fmod`, or None (extern or local)."""
    if not path:
        return None
    head, rest = path[0], path[1:]
    if head == "crate":
        return rest
    if head in ("super", "self"):
        base = list(fmod)
        while path and path[0] in ("super", "self"):
            if path[0] == "super":
                if not base:
                    return None
                base = base[:-1]
            path = path[1:]
        return base + path
    if tuple(fmod + [head]) in modules:
        return fmod + path
    return None


def references(root):
    """(source module, absolute path, file, line) for every module path in src/."""
    files = []
    for dirpath, _, names in os.walk(os.path.join(root, "src")):
        for name in names:
            if name.endswith(".rs"):
                files.append(os.path.relpath(os.path.join(dirpath, name), root).replace(os.sep, "/"))
    files.sort()
    modules = {tuple(module_of(f)) for f in files}
    # Parent folders count as modules too (a folder may have only `mod.rs`-less children).
    for m in list(modules):
        for i in range(1, len(m)):
            modules.add(m[:i])
    refs = []
    for rel in files:
        if rel in ("src/main.rs",):
            continue  # the binary uses the library by its crate name
        fmod = module_of(rel)
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            code = strip_comments_and_strings(f.read())
        toks = list(tokens(code))
        k = 0
        while k < len(toks):
            t, line = toks[k]
            if t == "use" and (k == 0 or toks[k - 1][0] != "::"):
                paths, k = use_paths(toks, k + 1)
                for p, ln in paths:
                    a = resolve(p, fmod, modules)
                    if a is not None:
                        refs.append((fmod, a, rel, ln))
                continue
            if IDENT.fullmatch(t) and k + 1 < len(toks) and toks[k + 1][0] == "::" and (k == 0 or toks[k - 1][0] != "::"):
                path, j = [t], k + 1
                while j + 1 < len(toks) and toks[j][0] == "::" and IDENT.fullmatch(toks[j + 1][0]):
                    path.append(toks[j + 1][0])
                    j += 2
                a = resolve(path, fmod, modules)
                if a is not None:
                    refs.append((fmod, a, rel, line))
                k = j
                continue
            k += 1
    return refs, modules


def graph(root, within):
    refs, modules = references(root)
    prefix = [] if within is None else module_of(within.rstrip("/") + "/mod.rs")
    children = {m[len(prefix)] for m in modules if len(m) > len(prefix) and list(m[: len(prefix)]) == prefix}
    edges = defaultdict(list)
    for fmod, target, rel, line in refs:
        if fmod[: len(prefix)] != prefix or len(fmod) <= len(prefix):
            continue
        if target[: len(prefix)] != prefix or len(target) <= len(prefix):
            continue
        a, b = fmod[len(prefix)], target[len(prefix)]
        if a != b and a in children and b in children and f"{rel}:{line}" not in edges[(a, b)]:
            edges[(a, b)].append(f"{rel}:{line}")
    return children, edges


def cycles(nodes, edges):
    """Strongly connected components with more than one module (Tarjan)."""
    adj = defaultdict(set)
    for a, b in edges:
        adj[a].add(b)
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(adj[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--graph", action="store_true", help="print every edge")
    ap.add_argument("--within", metavar="DIR", help="check the children of one folder, e.g. src/tui")
    ap.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    args = ap.parse_args()
    nodes, edges = graph(args.root, args.within)
    where = args.within or "src"
    if args.graph:
        for (a, b), at in sorted(edges.items()):
            print(f"{a} -> {b}  ({len(at)}: {', '.join(at[:3])}{' ...' if len(at) > 3 else ''})")
    found = cycles(nodes, edges)
    if not found:
        print(f"no module cycles in {where} ({len(nodes)} modules, {len(edges)} edges)")
        return 0
    print(f"module cycles in {where}:")
    for comp in found:
        print("  cycle: " + " <-> ".join(comp))
        members = set(comp)
        for (a, b), at in sorted(edges.items()):
            if a in members and b in members:
                print(f"    {a} -> {b}: {', '.join(at[:4])}{' ...' if len(at) > 4 else ''}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
