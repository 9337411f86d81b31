"""The shape docs/ARCHITECTURE.md describes, checked: no module imports one that (directly or
not) imports it back, and no source file grows past what one reader holds in their head.

The layer order itself is an import-linter contract in pyproject.toml (`lint-imports`, run by
.ci/run); this adds what its sibling rule cannot see: a circle through a package's own
``__init__`` (``arena.storage`` -> ``storage.db`` -> ``storage.reencrypt`` -> ``arena.storage``)."""

from __future__ import annotations

from pathlib import Path

import grimp

SOURCE = Path(__file__).resolve().parent.parent / "src" / "arena"
MAX_LINES = 400


def _import_circles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    modules = sorted(m for m in graph.modules if m == "arena" or m.startswith("arena."))
    edges = {m: sorted(n for n in graph.find_modules_directly_imported_by(m) if n in modules) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    for root in modules:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            if position < len(edges[node]):
                work.append((node, position + 1))
                nxt = edges[node][position]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    circles.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return circles


def test_no_module_imports_itself_back() -> None:
    graph = grimp.build_graph("arena", include_external_packages=False)
    assert len(graph.modules) > 50  # the graph was really built
    assert _import_circles(graph) == []


def test_the_circle_finder_sees_a_circle() -> None:
    graph = grimp.ImportGraph()
    for module in ("arena", "arena.a", "arena.b", "arena.c"):
        graph.add_module(module)
    graph.add_import(importer="arena.a", imported="arena.b")
    graph.add_import(importer="arena.b", imported="arena.c")
    graph.add_import(importer="arena.c", imported="arena.a")
    assert _import_circles(graph) == [["arena.a", "arena.b", "arena.c"]]


def test_no_source_file_is_over_400_lines() -> None:
    sources = [p for p in SOURCE.rglob("*") if p.suffix in {".py", ".js", ".css", ".html", ".j2"}]
    assert len(sources) > 100
    too_long = {str(p.relative_to(SOURCE)): n for p in sources if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert too_long == {}
