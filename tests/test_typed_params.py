"""tools/typed_params.py counts parameters the way its docstring says (self/cls out, *args/**kwargs in)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location("typed_params", ROOT / "tools" / "typed_params.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_counts_a_hand_written_module(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "m.py").write_text(
        "def f(a, b: int, *args, c=1, d: str = '', **kw): pass\n"          # 6 counted, 4 untyped: a args c kw
        "class C:\n"
        "    def m(self, x): pass\n"                                        # 1 counted (self out), untyped
        "    @classmethod\n"
        "    def k(cls, y: int): pass\n"                                    # 1 counted, typed
        "    @staticmethod\n"
        "    def s(z): pass\n"                                              # 1 counted (no self), untyped
        "    def outer(self):\n"
        "        def inner(q: int, r): pass\n"                              # 2 counted, 1 untyped (a nested def)
        "lambda u: u\n"                                                     # lambdas are not counted
    )
    total, untyped, where = _tool().count(pkg)
    assert sum(total.values()) == 11
    assert sum(untyped.values()) == 7
    assert sorted(w.split()[1] for w in where) == sorted(
        ["f(a)", "f(args)", "f(c)", "f(kw)", "m(x)", "s(z)", "inner(r)"])
