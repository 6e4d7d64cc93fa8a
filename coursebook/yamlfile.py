"""The one YAML reader of the project (chapter and profile files, model specs, ``_toc.yml``,
``_config.yml``, command-line values): PyYAML's safe loader, with YAML 1.2 floats and a key given
twice rejected. Shared by the book machinery and the coursework, and importing neither."""

from __future__ import annotations

import re
from typing import Any

import yaml


class _SafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader that also reads ``1e-3`` as a float (YAML 1.2), not as a string, and
    rejects a key given twice in one mapping (PyYAML would silently keep the later value)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        self.flatten_mapping(node)  # merge keys (<<) first, as the base loader does
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, (str, int, float, bool)) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key '{key}' is given twice (lines {seen[key]} and {line}); keep one",
                    key_node.start_mark,
                )
            if isinstance(key, (str, int, float, bool)):
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


_SafeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def safe_load(text: str) -> Any:
    return yaml.load(text, Loader=_SafeLoader)  # a SafeLoader subclass
