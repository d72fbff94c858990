#!/usr/bin/env python3
"""Fails when the modules of a Rust crate depend on each other in a cycle.

    .ci/module_cycles.py host/src hazelcast-client-rs/src

The module tree comes from the files (`a.rs`, `a/mod.rs`, `a/b.rs`; `lib.rs` or `main.rs` is
the crate root). Every path a file names — in `use` items (groups expanded) and inline
(`crate::a::b::f(...)`, `super::x::Y`) — is resolved to the module that defines it, following
`pub use` re-exports. A reference between two sibling modules (children of one parent, counting
everything below each child) is an edge between them; references to an ancestor's own items and
from a parent to its children are the tree itself and do not count. Each parent's siblings must
form a graph without cycles: a cycle is printed with one reference per edge (file:line, path).

Paths that start with an imported name (`use crate::report; report::x()`) are covered by their
`use`. Macros, `#[path]` attributes and inline `mod x { ... }` blocks (other than tests) are not
modelled; `#[cfg(test)]` modules are skipped, since tests may reach anywhere.
"""

import re
import sys
from pathlib import Path

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def strip(text):
    """Source without comments, string and char literals (kept line for line)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    out.append("\n" if text[i] == "\n" else "")
                    i += 1
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and not re.match(r"\w", text[i - 1:i] or " "):
            m = re.match(r'r(#*)"', text[i:])
            end = text.find('"' + m.group(1), i + len(m.group(0)))
            end = n if end < 0 else end + 1 + len(m.group(1))
            out.append("\n" * text.count("\n", i, end) + '""')
            i = end
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append("\n" * text.count("\n", i, j) + '""')
            i = j + 1
        elif c == "'" and re.match(r"'(\\.[^']*|[^\\'])'", text[i:i + 12]):
            m = re.match(r"'(\\.[^']*|[^\\'])'", text[i:])
            out.append("' '")
            i += len(m.group(0))
        else:
            out.append(c)
            i += 1
    return "".join(out)


def drop_test_modules(text):
    """Blanks `#[cfg(test)] mod x { ... }` blocks (keeping lines)."""
    out = text
    for m in re.finditer(r"#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+" + IDENT + r"\s*\{", text):
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        block = out[m.start():j]
        out = out[:m.start()] + re.sub(r"[^\n]", " ", block) + out[j:]
    return out


def expand_use(tree):
    """`a::{b, c::{d, e as f}, self}` → [[a, b], [a, c, d], [a, c, e], [a]]."""
    tree = re.sub(r"\s+as\s+" + IDENT, "", tree)  # an alias names the same item
    tree = re.sub(r"\s+", "", tree)

    def parse(s, i):
        paths, prefix = [], []
        while i < len(s):
            m = re.match(IDENT + "|\\*", s[i:])
            if m:
                prefix.append(m.group(0))
                i += len(m.group(0))
                if s.startswith("::", i):
                    i += 2
                    continue
                paths.append(prefix)
                return paths, i
            if s[i] == "{":
                i += 1
                while s[i] != "}":
                    sub, i = parse(s, i)
                    for p in sub:
                        paths.append(prefix + ([] if p == ["self"] else p))
                    if s[i] == ",":
                        i += 1
                return paths, i + 1
            return paths, i
        return paths, i

    paths, _ = parse(tree, 0)
    return [[x for x in p if x != "*"] for p in paths]


class Crate:
    def __init__(self, src):
        self.src = Path(src)
        self.files = {}  # module path (tuple) -> file
        for f in sorted(self.src.rglob("*.rs")):
            rel = f.relative_to(self.src).with_suffix("")
            parts = list(rel.parts)
            if parts in (["lib"], ["main"]):
                parts = []
            elif parts[-1] == "mod":
                parts = parts[:-1]
            if tuple(parts) in self.files and parts:
                continue
            self.files.setdefault(tuple(parts), f)
        self.declared = {m for m in self.files}
        self.text = {m: drop_test_modules(strip(f.read_text())) for m, f in self.files.items()}
        # Modules declared `#[cfg(test)] mod x;` are test-only: skip their files.
        for m, t in list(self.text.items()):
            for name in re.findall(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(" + IDENT + r")\s*;", t):
                for sub in [k for k in self.files if k[:len(m) + 1] == m + (name,)]:
                    self.files.pop(sub)
                    self.text.pop(sub)
        self.reexports = {m: self._reexports(m) for m in self.files}

    def _uses(self, module):
        """(line, absolute path, is_pub) of every `use` item in a module's file."""
        t = self.text[module]
        for m in re.finditer(r"(\bpub(\([^)]*\))?\s+)?\buse\s+([^;]+);", t):
            line = t.count("\n", 0, m.start()) + 1
            for p in expand_use(m.group(3)):
                a = self.absolute(module, p)
                if a is not None:
                    yield line, a, bool(m.group(1)), p[-1] if p else None

    def _reexports(self, module):
        out = {}
        for _, a, is_pub, name in self._uses(module):
            if is_pub and name:
                out[name] = a
        return out

    def absolute(self, module, path):
        """An absolute module path for a path named in `module`, or None (extern crates)."""
        path = [p for p in path if p]
        if not path:
            return None
        head = path[0]
        if head == "crate":
            return tuple(path[1:])
        if head in ("self", "super"):
            base = list(module)
            while path and path[0] in ("self", "super"):
                if path.pop(0) == "super":
                    if not base:
                        return None
                    base.pop()
            return tuple(base + path)
        # A child module named without `self::` (2018 paths), or a top-level module from the root.
        if module + (head,) in self.files:
            return module + tuple(path)
        if module == () and (head,) in self.files:
            return tuple(path)
        return None

    def resolve(self, path, depth=0):
        """The module defining the item an absolute path names."""
        path = tuple(path)
        for k in range(len(path), -1, -1):
            prefix = path[:k]
            if prefix in self.files:
                rest = path[k:]
                if rest and depth < 8 and rest[0] in self.reexports.get(prefix, {}):
                    target = self.reexports[prefix][rest[0]]
                    if target != path:
                        return self.resolve(target + rest[1:], depth + 1)
                return prefix
        return ()

    def references(self, module):
        """(line, path text, target module) of every reference a module's file makes."""
        t = self.text[module]
        for line, a, _, _ in self._uses(module):
            yield line, "::".join(a) or "crate", self.resolve(a)
        body = re.sub(r"(\bpub(\([^)]*\))?\s+)?\buse\s+[^;]+;", lambda m: "\n" * m.group(0).count("\n"), t)
        for m in re.finditer(r"(?<![\w:])((?:crate|super|self)(?:::" + IDENT + r")+)", body):
            a = self.absolute(module, m.group(1).split("::"))
            if a is not None:
                yield body.count("\n", 0, m.start()) + 1, "::".join(a), self.resolve(a)


def cycles(crate):
    """[(parent, [(from, to, example), ...])] for every cycle among siblings."""
    edges = {}  # parent -> {(a, b): example}
    for m in crate.files:
        for line, text, target in crate.references(m):
            k = 0
            while k < min(len(m), len(target)) and m[k] == target[k]:
                k += 1
            if k == len(m) or k == len(target):
                continue  # an ancestor's own items, or a parent using its child
            parent, a, b = m[:k], m[k], target[k]
            where = f"{crate.files[m]}:{line} names {text}"
            edges.setdefault(parent, {}).setdefault((a, b), where)
    found = []
    for parent, es in sorted(edges.items()):
        graph = {}
        for a, b in es:
            graph.setdefault(a, set()).add(b)
        for scc in strongly_connected(graph):
            if len(scc) > 1:
                found.append((parent, scc, es))
    return found


def strongly_connected(graph):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    nodes = set(graph) | {b for bs in graph.values() for b in bs}

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on.discard(w)
                scc.append(w)
                if w == v:
                    break
            out.append(sorted(scc))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def main(roots):
    failed = False
    for root in roots:
        crate = Crate(root)
        found = cycles(crate)
        print(f"{root}: {len(crate.files)} modules, {'no cycle' if not found else f'{len(found)} cycle(s)'}")
        for parent, scc, es in found:
            failed = True
            name = "::".join(parent) or "crate"
            print(f"  cycle among the children of {name}: {' <-> '.join(scc)}")
            for (a, b), where in sorted(es.items()):
                if a in scc and b in scc:
                    print(f"    {a} -> {b}: {where}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["host/src", "hazelcast-client-rs/src"]))
