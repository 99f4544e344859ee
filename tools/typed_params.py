"""Share of function parameters without a type annotation, over a package tree (ast-based, nothing imported).

Counts every parameter of every ``def`` / ``async def`` (positional-only, positional, ``*args``, keyword-only,
``**kwargs``), leaving out the first parameter of a method (``self`` / ``cls``), and lambdas.

Usage: python tools/typed_params.py [ROOT ...] [--by-package] [--list PREFIX]   (default ROOT: detviewer)
Goal (issue 21): at most 5 % untyped.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path


def _params(func: ast.FunctionDef | ast.AsyncFunctionDef, in_class: bool) -> list[ast.arg]:
    a = func.args
    params = [*a.posonlyargs, *a.args]
    is_static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in func.decorator_list)
    if in_class and params and not is_static:
        params = params[1:]  # self / cls
    params += [*a.kwonlyargs]
    params += [p for p in (a.vararg, a.kwarg) if p is not None]
    return params


def counted_params(tree: ast.AST) -> Iterator[tuple[ast.FunctionDef | ast.AsyncFunctionDef, ast.arg]]:
    """(function, parameter) for every counted parameter of ``tree``, nested functions and classes included."""
    def visit(node: ast.AST, in_class: bool) -> Iterator[tuple[ast.FunctionDef | ast.AsyncFunctionDef, ast.arg]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for p in _params(child, in_class):
                    yield child, p
                yield from visit(child, False)
            elif isinstance(child, ast.ClassDef):
                yield from visit(child, True)
            else:
                yield from visit(child, in_class)

    yield from visit(tree, False)


def count(root: Path) -> tuple[Counter[str], Counter[str], list[str]]:
    """(total per package, untyped per package, 'file:line function(param)' of each untyped parameter)."""
    total: Counter[str] = Counter()
    untyped: Counter[str] = Counter()
    where: list[str] = []
    files = [root] if root.is_file() else sorted(root.rglob("*.py"))
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        rel = path.relative_to(root.parent) if root.is_dir() else path
        package = "/".join(rel.parts[:-1]) or str(rel)
        for func, p in counted_params(tree):
            total[package] += 1
            if p.annotation is None:
                untyped[package] += 1
                where.append(f"{rel}:{p.lineno} {func.name}({p.arg})")
    return total, untyped, where


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="*", default=["detviewer"])
    parser.add_argument("--by-package", action="store_true", help="one line per package")
    parser.add_argument("--list", metavar="PREFIX", help="list the untyped parameters of files under PREFIX")
    args = parser.parse_args(argv)
    total: Counter[str] = Counter()
    untyped: Counter[str] = Counter()
    where: list[str] = []
    for root in args.roots:
        t, u, w = count(Path(root))
        total += t
        untyped += u
        where += w
    if args.by_package:
        for package in sorted(total):
            print(f"{package:40s} {untyped[package]:5d} of {total[package]:5d} untyped "
                  f"({100 * untyped[package] / total[package]:5.1f} %)")
    if args.list is not None:
        print("\n".join(w for w in where if w.startswith(args.list)))
    n, u = sum(total.values()), sum(untyped.values())
    print(f"{u} of {n} parameters have no type annotation ({100 * u / max(n, 1):.1f} %; goal <= 5 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
