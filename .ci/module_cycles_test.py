#!/usr/bin/env python3
"""Self-test of module_cycles.py on small crates written to a scratch directory: a cycle
through a `use` group, through an inline path and through a re-export is found; a parent
using its children, children using their parent's items and test modules are not cycles."""

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import module_cycles  # noqa: E402


def crate(files):
    root = Path(tempfile.mkdtemp())
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return module_cycles.Crate(root)


def cycles(files):
    return [(parent, scc) for parent, scc, _ in module_cycles.cycles(crate(files))]


def test():
    # A use group one way, an inline path the other.
    assert cycles({
        "lib.rs": "mod a; mod b;",
        "a.rs": "use crate::{b::{B, C as D}};",
        "b.rs": "fn f() { crate::a::g(); }",
    }) == [((), ["a", "b"])]
    # Through a re-export: `x::Thing` is defined in `y`, and `y` uses `x`.
    assert cycles({
        "lib.rs": "mod x; mod y; mod z;",
        "x/mod.rs": "mod inner; pub use crate::y::Thing;",
        "x/inner.rs": "",
        "y.rs": "use super::x::inner;",
        "z.rs": "use crate::x::Thing;",
    }) == [((), ["x", "y"])]
    # Siblings deeper down, named with super::.
    assert cycles({
        "lib.rs": "mod r;",
        "r/mod.rs": "mod p; mod q; pub use p::P;",
        "r/p.rs": "use super::q::Q;",
        "r/q.rs": "fn f() -> super::P { todo!() }",
    }) == [(("r",), ["p", "q"])]
    # The tree itself, comments, strings and tests are no cycle.
    assert cycles({
        "lib.rs": "mod a; mod b; pub struct Root;",
        "a/mod.rs": "mod c; use c::C; use crate::Root; // crate::b::x\n",
        "a/c.rs": "use super::super::Root; const S: &str = \"crate::b::x\";",
        "b.rs": "use crate::a::C;\n#[cfg(test)]\nmod tests { use crate::b::*; }",
    }) == []
    # A test module of `a` may reach `b` even when `b` uses `a`.
    assert cycles({
        "lib.rs": "mod a; mod b;",
        "a.rs": "#[cfg(test)]\nmod tests { use crate::b::B; }",
        "b.rs": "use crate::a::A;",
    }) == []
    print("module_cycles self-test: ok")


if __name__ == "__main__":
    test()
