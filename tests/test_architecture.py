"""The package's import graph, read from the source (AST): no module imports itself back through
others, and the book machinery (coursebook/book) imports nothing of the coursework (coursebook/course):
what it needs, the course registers through coursebook/book/hooks.py."""

from __future__ import annotations

import ast
from pathlib import Path

from coursebook.book import paths

PACKAGE = paths.ROOT / "coursebook"


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
    assert (
        "coursebook.atomic" in graph["coursebook.book.cache"]
        or "coursebook.atomic" in graph["coursebook.course.results"]
    )
    assert "coursebook.yamlfile" in graph["coursebook.course.models"]


def test_no_module_imports_itself_back():
    assert cycles(import_graph()) == []


def book_to_course(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    return {
        (source, target)
        for source, targets in graph.items()
        for target in targets
        if source.startswith("coursebook.book") and target.startswith("coursebook.course")
    }


def test_the_book_imports_nothing_of_the_course():
    assert book_to_course(import_graph()) == set()


def test_a_book_to_course_import_would_be_seen():
    graph = {
        "coursebook.book.cache": {"coursebook.course.results"},
        "coursebook.course.results": {"coursebook.book.paths"},
    }
    assert book_to_course(graph) == {("coursebook.book.cache", "coursebook.course.results")}


def test_the_course_registered_with_the_book_is_the_package_s_own():
    import coursebook
    from coursebook.book import hooks
    from coursebook.course import registration

    hooks.use(None)
    assert registration.__name__ == coursebook.COURSE_MODULE and hooks.course() is registration.COURSE
