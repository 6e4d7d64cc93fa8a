"""What the web pages need beyond Jupyter Book's defaults (a Sphinx extension, see ``_config.yml``).

- No inline script twice: sphinx-thebe adds its configuration script (``const THEBE_JS_URL ...``)
  twice (once with the file name None, once with ''), which Sphinx 7 does not see as the same
  script, so every page declared the constant twice and the browser reported a SyntaxError.
"""

from __future__ import annotations

from typing import Any


def _script_key(script: Any) -> tuple:
    """What makes two script tags the same; an inline script's file name is None or '' depending on
    when it was added."""
    attributes = getattr(script, "attributes", {})
    return (str(getattr(script, "filename", script) or ""), tuple(sorted((k, str(v)) for k, v in attributes.items())))


def _drop_repeated_scripts(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    unique = []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app: Any) -> dict[str, Any]:
    app.connect("html-page-context", _drop_repeated_scripts, priority=900)  # after every handler that adds scripts
    return {"parallel_read_safe": True, "parallel_write_safe": True}
