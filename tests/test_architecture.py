"""The package's import graph, read from the source (AST): no module imports itself back through
others, and the book machinery (coursebook/book) reaches into the coursework (coursebook/course)
only where it still does today: the list below may only shrink."""

from __future__ import annotations

import ast
from pathlib import Path

from coursebook.book import paths

PACKAGE = paths.ROOT / "coursebook"

# book -> course imports that remain (each to be replaced by something the course registers with the book)
BOOK_TO_COURSE = {
    ("coursebook.book.cache", "coursebook.course.results"),
    ("coursebook.book.params", "coursebook.course.arms"),
    ("coursebook.book.params", "coursebook.course.data.sources"),
    ("coursebook.book.params", "coursebook.course.models"),
    ("coursebook.book.runner", "coursebook.course.data"),
    ("coursebook.book.runtime", "coursebook.course.plots"),
    ("coursebook.book.runtime", "coursebook.course.training"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(paths.ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports (at top level or inside functions)."""
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                graph[name] |= {alias.name for alias in node.names if alias.name in modules}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    graph[name] |= {target} if target in modules else ({base} if base in modules else set())
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle's modules (the strongly connected components with more than one module)."""
    order, low, stack, found, counter = {}, {}, [], [], [0]

    def visit(node: str) -> None:
        order[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        for target in graph[node]:
            if target not in order:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], order[target])
        if low[node] == order[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in order:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_top_level_and_function_level_imports():
    graph = import_graph()
    assert "coursebook.atomic" in graph["coursebook.book.cache"] or "coursebook.atomic" in graph["coursebook.course.results"]
    assert "coursebook.yamlfile" in graph["coursebook.course.models"]


def test_no_module_imports_itself_back():
    assert cycles(import_graph()) == []


def test_the_book_reaches_into_the_course_no_more_than_it_did():
    graph = import_graph()
    edges = {(source, target) for source, targets in graph.items() for target in targets
             if source.startswith("coursebook.book") and target.startswith("coursebook.course")}
    assert edges <= BOOK_TO_COURSE, f"new book -> course imports: {sorted(edges - BOOK_TO_COURSE)}"
