"""The layer rules as checked contracts (docs/architecture.md, "Layer contract").

* ``.importlinter``: ``caldav_bridge`` never imports Flask, Radicale, ``feeds`` or ``storage_plugin``;
  ``storage_plugin`` never imports ``feeds``; ``config`` imports none of them; the core's layers.
* No import cycles between modules (a function-local import counts: grimp reads those too).
* Function-local imports only where listed below, each for a reason other than dodging a cycle.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("caldav_bridge", "feeds", "storage_plugin", "config")

#: Cycles still being removed; the test fails for any cycle not listed here. Delete an entry when its
#: cycle is gone (nothing else may be added).
KNOWN_CYCLES: set[frozenset[str]] = set()

#: (file, function, imported module): function-local imports and why they are local.
ALLOWED_LOCAL_IMPORTS = {
    # the app factory imports its blueprints and the DAV mount when it builds an app (``import feeds`` stays light)
    ("feeds/app.py", "create_app", "feeds"),
    ("feeds/app.py", "create_app", "feeds.api"),
    ("feeds/app.py", "create_app", "feeds.openapi"),
    ("feeds/app.py", "create_app", "feeds.dav"),
    # (the CLI's command modules: see LAZY_COMMAND_MODULES below)
}


def test_import_contracts_hold() -> None:
    # In a process of its own: import-linter imports and builds the whole graph in the process that runs it, and
    # run in pytest's it left the access log uncaptured for a later test (test_access_log_has_no_tokens).
    command = [
        sys.executable,
        "-c",
        "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))",
    ]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _cycles(graph: grimp.ImportGraph) -> set[frozenset[str]]:
    """The import cycles among modules (strongly connected components of more than one module)."""
    cycles = set()
    for module in graph.modules:
        importers, imported = graph.find_downstream_modules(module), graph.find_upstream_modules(module)
        both = importers & imported
        if both:
            cycles.add(frozenset({module, *both}))
    return cycles


def test_no_import_cycles() -> None:
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    new = _cycles(graph) - KNOWN_CYCLES
    assert not new, [sorted(cycle) for cycle in new]


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for module in ("p.a", "p.b", "p.c"):
        graph.add_module(module)
    graph.add_import(importer="p.a", imported="p.b")
    graph.add_import(importer="p.b", imported="p.a")
    graph.add_import(importer="p.c", imported="p.a")
    assert _cycles(graph) == {frozenset({"p.a", "p.b"})}


def _local_imports() -> set[tuple[str, str, str]]:
    found = set()
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for function in ast.walk(tree):
                if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                for node in ast.walk(function):
                    if isinstance(node, ast.ImportFrom):
                        found.add((path.relative_to(ROOT).as_posix(), function.name, node.module or "."))
                    elif isinstance(node, ast.Import):
                        found |= {(path.relative_to(ROOT).as_posix(), function.name, a.name) for a in node.names}
    return found


#: Command modules of the CLI import what a command runs inside its function, so that building the parser
#: (and ``--help``) imports no database, web or CalDAV library; tests/e2e/test_cli_process.py checks the
#: import set. A local import there is for start-up time, never for a cycle (the cycle test above sees it).
LAZY_COMMAND_MODULES = "feeds/cli/"


def test_function_local_imports_are_the_listed_exceptions() -> None:
    found = {i for i in _local_imports() if not i[0].startswith(LAZY_COMMAND_MODULES)}
    unlisted = found - ALLOWED_LOCAL_IMPORTS
    assert not unlisted, sorted(unlisted)


# --------------------------------------------------------------------------- the session stays in the repositories

#: Where the database session may be used: the store package (the unit of work and the core repositories).
STORE = "caldav_bridge/store/"
#: A class deriving from this one is a feature's repository (``uow.repo(...)``): its own ``self.session`` is fine.
REPOSITORY_BASE = "SessionRepository"
#: (file, class) whose ``self.session`` is not a service reaching past the repositories, and why.
ALLOWED_SESSION_USERS = {
    # an HTTP session (requests), not the database's
    ("caldav_bridge/salesforce/gateway.py", "SalesforceGateway"),
}


def _session_uses(path: str, source: str) -> set[tuple[str, str, int]]:
    """``(file, class, line)`` of each ``.session`` read outside a repository's own ``self.session``."""
    found: set[tuple[str, str, int]] = set()

    def visit(node: ast.AST, cls: ast.ClassDef | None) -> None:
        if isinstance(node, ast.ClassDef):
            cls = node
        if isinstance(node, ast.Attribute) and node.attr == "session":
            own = isinstance(node.value, ast.Name) and node.value.id == "self"
            repository = own and cls is not None and any(_name(b) == REPOSITORY_BASE for b in cls.bases)
            if not repository:
                found.add((path, cls.name if cls is not None else "", node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child, cls)

    visit(ast.parse(source), None)
    return found


def _name(node: ast.expr) -> str:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""


def test_only_repositories_use_the_session() -> None:
    """Services and handlers reach the database through the unit of work's repositories, never ``uow.session``."""
    found = set()
    for package in ("caldav_bridge", "feeds", "storage_plugin"):
        for path in sorted((ROOT / package).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if not name.startswith(STORE):
                found |= _session_uses(name, path.read_text(encoding="utf-8"))
    unlisted = sorted(use for use in found if use[:2] not in ALLOWED_SESSION_USERS)
    assert not unlisted, unlisted


def test_the_session_finder_finds_a_service_using_the_session() -> None:
    source = """
class Rows(SessionRepository):
    def get(self):
        return self.session.get(1)

class Service:
    def run(self):
        return self.session.execute(2)

def handler(uow):
    uow.session.flush()
    return store.uow.session
"""
    assert _session_uses("m.py", source) == {("m.py", "Service", 8), ("m.py", "", 11), ("m.py", "", 12)}
