"""The environment variables the server code reads, found by parsing the source (no import).

It finds `env.<cast>("NAME", ...)`, `env("NAME")`, `env.db("NAME")`-style calls on django-environ's
Env, and `os.environ["NAME"]`, `os.environ.get("NAME")`, `os.getenv("NAME")`, anywhere under
backend/, inference/, profiling/ and dashboard/.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODE_DIRS = ("backend", "inference", "profiling", "dashboard")
# Set by the process launcher, not by an operator.
NOT_OPERATOR_SETTINGS = {"DJANGO_SETTINGS_MODULE"}


def _string_arg(call: ast.Call) -> str | None:
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return call.args[0].value
    return None


def _names_in(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            # env("X"), env.str("X"), env.db("X"), ...
            if isinstance(func, ast.Name) and func.id == "env":
                name = _string_arg(node)
            elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "env":
                name = _string_arg(node) if func.attr not in ("read_env",) else None
            # os.getenv("X"), os.environ.get("X"), os.environ.setdefault("X", ...)
            elif isinstance(func, ast.Attribute) and func.attr == "getenv":
                name = _string_arg(node)
            elif (isinstance(func, ast.Attribute) and func.attr in ("get", "setdefault", "pop")
                  and isinstance(func.value, ast.Attribute) and func.value.attr == "environ"):
                name = _string_arg(node)
            else:
                name = None
            if name:
                names.add(name)
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "environ":
            if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                names.add(node.slice.value)
    return names


def env_names_read(root: Path = ROOT) -> set[str]:
    names = set()
    for folder in CODE_DIRS:
        for path in (root / folder).rglob("*.py"):
            if "migrations" in path.parts or "__pycache__" in path.parts:
                continue
            names |= _names_in(ast.parse(path.read_text(), filename=str(path)))
    return names - NOT_OPERATOR_SETTINGS


def _literal(node: ast.AST):
    """The value of a constant expression (a literal, or arithmetic on literals); else raise ValueError."""
    allowed = (ast.Expression, ast.Constant, ast.BinOp, ast.UnaryOp, ast.operator, ast.unaryop)
    if not all(isinstance(n, allowed) for n in ast.walk(node)):
        raise ValueError("not a constant")
    return eval(compile(ast.Expression(node), "<default>", "eval"))  # only literals and arithmetic


def env_defaults(root: Path = ROOT) -> dict[str, object]:
    """{NAME: default} for env.<cast>("NAME", default=<constant expression>) calls."""
    defaults = {}
    for folder in CODE_DIRS:
        for path in (root / folder).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and isinstance(node.func.value, ast.Name) and node.func.value.id == "env"):
                    continue
                name = _string_arg(node)
                for keyword in node.keywords:
                    if name and keyword.arg == "default":
                        try:
                            defaults[name] = _literal(keyword.value)
                        except (ValueError, SyntaxError):
                            pass
    return defaults
