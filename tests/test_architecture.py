"""The package's import graph, read from the source (AST): no module imports itself back through
others, and the book machinery (coursebook/book) imports nothing of the coursework (coursebook/course):
what it needs, the course registers through coursebook/book/hooks.py. Nor does the book's code name a
framework, the course's data set or one of its parameters."""

from __future__ import annotations

import ast
import re
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


# --------------------------------------------------------------------------- the book's vocabulary

# The frameworks, their libraries and the data set the course uses: the book names none of them.
FRAMEWORK = re.compile(r"keras|tensorflow|xla|jax|torch|cublas|cifar|(?<![a-z])tf(?![a-z])", re.IGNORECASE)
# The course's parameters, as params/*.yaml and params/profiles/*.yaml set them: every one except
# ``seed`` (the book requires every chapter to declare it), ``question`` (text the book quotes on the
# page, see ``pagetext``) and two plain words the book uses for its own things (``model``: a section of a
# chapter's outline; ``data``: its data folder, variables; the name of the course's data parameter comes
# from ``hooks.Parameters.data``). What the book must know of the others, it asks the course.
COURSE_PARAMETERS = frozenset(
    {
        "arms", "base_model", "batch_size", "early_stopping", "epochs", "extended_model", "fd_epsilon", "gd_steps",
        "learning_rate", "num_classes", "optimizer", "other_image_size", "questions",
        "reference_seed", "repeats", "sizes", "stated_db1", "stated_loss", "test_size", "train_size", "validation",
        "validation_fraction", "validation_size",
    }
)  # fmt: skip
NOT_COURSE_PARAMETERS = frozenset({"seed", "question", "model", "data"})


def _progress_fields() -> frozenset[str]:
    """The book's own progress event (``progress.ChapterProgress``: arm, seed, run, epoch of ``epochs``),
    which the course's training reports into: its field names are the book's words."""
    from dataclasses import fields

    from coursebook.book.progress import ChapterProgress

    return frozenset(f.name for f in fields(ChapterProgress))


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the docstring nodes of a module, its classes and functions."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


# the node types that carry an identifier, and the field that holds it
IDENTIFIERS = {
    ast.Name: "id",
    ast.Attribute: "attr",
    ast.arg: "arg",
    ast.keyword: "arg",
    ast.FunctionDef: "name",
    ast.AsyncFunctionDef: "name",
    ast.ClassDef: "name",
}


def words(source: str) -> list[tuple[int, str]]:
    """(line, word) for every string constant and identifier of ``source`` (docstrings aside; comments
    are no part of the tree): names, attributes, arguments, keywords, definitions and imports."""
    tree = ast.parse(source)
    skipped = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skipped:
            found.append((line, node.value))
        elif isinstance(node, ast.alias):
            found += [(line, name) for name in (node.name, node.asname) if name]
        elif isinstance(node, tuple(IDENTIFIERS)) and getattr(node, IDENTIFIERS[type(node)]):
            found.append((line, getattr(node, IDENTIFIERS[type(node)])))
    return found


def course_words(source: str, allowed: frozenset[str] = frozenset()) -> list[tuple[int, str]]:
    """(line, word) for every word of ``source`` that names a framework, the course's data set or one of
    its parameters (a string or identifier that is a parameter's name; ``allowed``: the module's own)."""
    return [
        (line, word)
        for line, word in words(source)
        if FRAMEWORK.search(word) or (word in COURSE_PARAMETERS and word not in allowed)
    ]


def test_the_book_names_no_framework_data_set_or_course_parameter():
    found = {}
    for path in sorted((PACKAGE / "book").rglob("*.py")):
        allowed = _progress_fields() if path.name == "progress.py" else frozenset()
        if hits := course_words(path.read_text(encoding="utf-8"), allowed):
            found[str(path.relative_to(paths.ROOT))] = hits
    assert found == {}


def test_the_vocabulary_check_sees_names_strings_and_attributes_but_not_docstrings():
    source = '''"""Trains with Keras on CIFAR-10 for some epochs."""
import os


def plan(values, train_size=None):
    """The learning_rate, in words."""
    backend = os.environ.get("KERAS_BACKEND")  # a comment about XLA
    env = {"TF_CPP_MIN_LOG_LEVEL": "2"}
    return values["epochs"], values.repeats, f"{train_size} images", dict(batch_size=32)
'''
    assert sorted(course_words(source)) == [
        (5, "train_size"),
        (7, "KERAS_BACKEND"),
        (8, "TF_CPP_MIN_LOG_LEVEL"),
        (9, "batch_size"),
        (9, "epochs"),
        (9, "repeats"),
        (9, "train_size"),
    ]
    assert course_words("n_epochs = 'fewer epochs, images or seeds'; ratio = 'utf-8 pdf'") == []
    assert course_words("progress = {'epochs': 3}", allowed=frozenset({"epochs"})) == []


def test_the_course_parameters_are_those_that_params_sets():
    from coursebook.yamlfile import safe_load

    named = set()
    for path in [*paths.PARAMS_DIR.glob("*.yaml"), *(paths.PARAMS_DIR / "profiles").glob("*.yaml")]:
        content = safe_load(path.read_text(encoding="utf-8")) or {}
        named |= set(content.get("parameters") or {}) | set(content.get("defaults") or {})
        named |= {key for chapter in (content.get("chapters") or {}).values() for key in (chapter or {})}
    assert named - NOT_COURSE_PARAMETERS == COURSE_PARAMETERS
