"""The house rules, checked from the source: no import loops, layers import only what they may,
the message path depends on ports rather than on the database, no module grows past 400 lines.

Imports are read from the syntax tree (every ``import`` statement, also those inside functions
and under ``TYPE_CHECKING``), so a loop hidden in a lazy import counts too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("hub", "adapters", "schemas", "contracts", "audit", "bench", "proof")
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {_module_name(p): p for top in PRODUCT for p in (ROOT / top).rglob("*.py")}
    found["worker"] = ROOT / "worker.py"
    return {name: path for name, path in found.items() if "migrations" not in name}


MODULES = _modules()


def _imports(name: str, path: Path) -> Iterator[str]:
    """The modules of ours that ``name`` imports (``from a import b`` is ``a.b`` if a module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        else:
            continue
        yield from (t for t in targets if t in MODULES and t != name)


GRAPH = {name: sorted(set(_imports(name, path))) for name, path in MODULES.items()}


def _imported_names(path: Path, *, members: bool = False) -> Iterator[str]:
    """Every absolute module name an ``import`` statement of ``path`` names, ours or not; with
    ``members``, also ``a.b`` for each ``from a import b`` (``b`` may be a module)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module
            if members:
                yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _reachable(start: str) -> set[str]:
    """``start`` and every module of ours it imports, directly or through others."""
    seen, todo = {start}, [start]
    while todo:
        for target in GRAPH[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in GRAPH:
        if v not in index:
            visit(v)
    return found


def test_the_graph_sees_imports() -> None:
    # Guards the checks below against reading nothing: known edges must be found.
    assert "hub.errors" in GRAPH["hub.ingest.pipeline"]
    assert "hub.cli.context" in GRAPH["hub.cli.main"] or "hub.cli.context" in GRAPH["hub.cli.keys"]


def test_no_import_loops() -> None:
    assert _cycles() == []


@pytest.mark.parametrize("layer", ["schemas", "contracts", "audit"])
def test_guard_packages_import_nothing_of_the_hub(layer: str) -> None:
    offending = {
        name: [t for t in targets if t.startswith(("hub", "adapters"))]
        for name, targets in GRAPH.items()
        if name.split(".")[0] == layer
    }
    assert {k: v for k, v in offending.items() if v} == {}


def test_adapters_import_only_the_hub_s_plain_values() -> None:
    # The doubles stand in for the external systems and are exempt: they seed themselves with
    # the hub's fictional people (valid check digits), which no adapter may reach for.
    allowed = {"hub", "hub.envelope", "hub.errors", "hub.ports"}
    offending = {
        name: [t for t in targets if t.startswith("hub") and t not in allowed]
        for name, targets in GRAPH.items()
        if name.startswith("adapters") and not name.startswith("adapters.doubles")
    }
    assert {k: v for k, v in offending.items() if v} == {}


MESSAGE_PATH = [
    "hub.ingest.pipeline",
    "hub.ingest.group_commit",
    "hub.outbox.delivery",
    "hub.outbox.relay",
]


@pytest.mark.parametrize("module", MESSAGE_PATH)
def test_the_message_path_depends_on_ports_not_on_the_database(module: str) -> None:
    # Through any module of ours it imports, too: re-exporting a SQLAlchemy-backed class from
    # a neutral-looking module would not hide it. Only hub.bootstrap picks implementations.
    reached = _reachable(module)
    storage = sorted(m for m in reached if m == "hub.storage" or m.startswith("hub.storage."))
    sqlalchemy = sorted(
        m
        for m in reached
        for name in _imported_names(MODULES[m])
        if name == "sqlalchemy" or name.startswith("sqlalchemy.")
    )
    assert (storage, sqlalchemy) == ([], [])
    assert sorted(reached & {"hub.bootstrap", "hub.guards"}) == []


def test_the_message_path_check_sees_sqlalchemy() -> None:
    # Guards the check above against reading nothing: the composition root does use it.
    reached = _reachable("hub.bootstrap")
    assert "hub.storage.sql_store" in reached
    assert "sqlalchemy" in set(_imported_names(MODULES["hub.bootstrap"]))


def test_no_module_over_the_limit() -> None:
    sizes = {
        name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in MODULES.items()
    }
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


FACES = ("hub.api", "hub.cli", "hub.console")
FORBIDDEN_IN_FACES = ("hub.storage", "audit", "sqlalchemy")


def _reaches(target: str, forbidden: tuple[str, ...]) -> bool:
    return any(target == f or target.startswith(f + ".") for f in forbidden)


def test_faces_call_services_not_storage_audit_or_sqlalchemy() -> None:
    offending = {}
    for name, path in MODULES.items():
        if not name.startswith(FACES):
            continue
        bad = sorted(
            {t for t in _imported_names(path, members=True) if _reaches(t, FORBIDDEN_IN_FACES)}
        )
        if bad:
            offending[name] = bad
    assert offending == {}


def test_the_face_check_sees_imports() -> None:
    # Guards the check above against reading nothing: a service's known imports are seen.
    assert _reaches("sqlalchemy", FORBIDDEN_IN_FACES)
    assert any(
        _reaches(t, ("audit",))
        for t in _imported_names(MODULES["hub.services.audit_queries"], members=True)
    )
