"""The layers the folders show, held: tracks/music/ is plain music code (no Django, nothing of the app),
the ports (their programs, lib/ and the app's side in host/) import no Django and nothing of the app, and the
programs and lib/ nothing of host/; soundforge/runtime/ imports nothing of tracks; and no module imports another
that imports it back (at module level or inside a function: either way one could not be read without the
other)."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("tracks", "soundforge")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[module_name(path)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """The modules of ours this one imports, anywhere in it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import a.b.c` of a module, or a name in one
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target


def third_party(path: Path) -> set[str]:
    """The top-level names of what a module imports from outside this repository."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names - set(PACKAGES)


def graph() -> dict[str, set[str]]:
    known = modules()
    edges = {name: set(imports(name, path, known)) for name, path in known.items()}
    # A module importing its own package's __init__ is how Python reads a package, not a circle.
    return {name: {t for t in targets if not name.startswith(f"{t}.")} for name, targets in edges.items()}


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_scan_finds_a_circle_and_reads_relative_imports() -> None:
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    edges = graph()
    assert "tracks.music.loops" in edges["tracks.music.cues"]  # from .loops import bar_starts
    assert "tracks.ports.contract" in edges["tracks.music.charts"]  # from ..ports.contract import ...
    assert "tracks.jobs.kinds" in edges["tracks.live.panels"] or "tracks.live.panels" in edges["tracks.jobs.kinds"]


def test_no_module_imports_one_that_imports_it_back() -> None:
    assert circles(graph()) == []


def test_the_runtime_imports_nothing_of_the_app() -> None:
    edges = graph()
    assert {name: sorted(t for t in targets if t.startswith("tracks"))
            for name, targets in edges.items() if name.startswith("soundforge.runtime")} == {
        name: [] for name in edges if name.startswith("soundforge.runtime")}


def test_the_music_imports_no_django_and_nothing_of_the_app() -> None:
    edges = graph()
    music = sorted(name for name in edges if name.startswith("tracks.music"))
    assert len(music) >= 8
    for name in music:
        assert all(t.startswith(("tracks.music", "tracks.ports")) for t in edges[name]), (name, edges[name])
    # And nothing they import brings Django in, however far down.
    script = (f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n" + "".join(f"import {m}\n" for m in music)
              + "print(sorted(m for m in sys.modules if m.split('.')[0] == 'django' or m.startswith('tracks.')"
                " and not m.startswith(('tracks.music', 'tracks.ports'))))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"


def test_the_ports_import_no_django_and_nothing_of_the_app() -> None:
    edges, known = graph(), modules()
    ports = sorted(name for name in edges if name.startswith("tracks.ports"))
    assert {"tracks.ports.host.runner", "tracks.ports.lib.audio_stream", "tracks.ports.analyzer"} <= set(ports)
    for name in ports:
        assert all(t.startswith("tracks.ports") for t in edges[name]), (name, edges[name])
        assert not third_party(known[name]) & {"django", "channels", "rq", "django_rq"}, name
        if not name.startswith("tracks.ports.host"):  # a program or what they share: not the app's side
            assert not any(t.startswith("tracks.ports.host") for t in edges[name]), (name, edges[name])


def test_the_django_scan_sees_django() -> None:
    assert "django" in third_party(ROOT / "tracks" / "models.py")
