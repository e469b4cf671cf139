"""The names the app and its ports share live in one place each: the error kinds, queue names, model names
and preview suffixes in tracks/ports/contract.py, the storage layout in tracks/files/storage.py. A copy of one
spelled anywhere else in the code (not in prose: docstrings and comments are free) fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tracks.ports import contract

ROOT = Path(__file__).resolve().parent.parent
CODE = sorted(p for p in (ROOT / "tracks").rglob("*.py") if "migrations" not in p.parts)


def strings(path: Path) -> list[tuple[int, str]]:
    """Every string constant in the module's code, with its line; docstrings left out."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def strays(names: set[str], home: set[str], contains: bool = False) -> list[str]:
    found = []
    for path in CODE:
        if path.name in home or any(str(path.relative_to(ROOT)).startswith(h) for h in home if h.endswith("/")):
            continue
        for line, value in strings(path):
            if (any(name in value for name in names) if contains else value in names):
                found.append(f"{path.relative_to(ROOT)}:{line}: {value!r}")
    return found


def test_the_scan_sees_code_and_not_prose(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text('"""decode_error in prose."""\n\ndef f():\n    """timeout too."""\n    return "decode_error"\n')
    assert strings(module) == [(5, "decode_error")]


@pytest.mark.parametrize(("what", "names", "home", "contains"), [
    # (models.py's "cancelled" is a job's status; warm.py's "exited" a key of its own protocol.)
    ("error kinds", {kind.value for kind in contract.ErrorKind}, {"contract.py", "models.py", "warm.py"}, False),
    ("model names", set(contract.DEMUCS_MODELS), {"contract.py"}, False),
    ("the processing queue", {contract.PROCESSING_QUEUE}, {"contract.py"}, False),
    ("preview suffixes", {contract.PREVIEW_SUFFIX, contract.STEM_PREVIEW_SUFFIX}, {"contract.py"}, True),
    # The routes (the pages' urls.py, the API's modules) spell URLs that look like it.
    ("the storage layout", {"tracks/{", "/original.", "/stems/", "/renders/"}, {"storage.py", "urls.py", "tracks/api/"},
     True),
])
def test_each_shared_name_has_one_home(what: str, names: set[str], home: set[str], contains: bool) -> None:
    assert strays(names, home, contains) == [], f"{what} spelled outside {', '.join(sorted(home))}"
