"""A griffe extension that reads emofuse's docstrings as written, for the API reference.

emofuse's docstrings are Google style with two house habits that Google-style parsers do not
follow: their sections (``Args:``, ``Inputs:``, ``Returns:``, ``Raises:``, ``Records:``) follow
one another without a blank line between them, and they name other objects with Sphinx roles
(``:class:`~emofuse.layers.MLP```). At build time (the source is never changed) this extension
puts a blank line before every section title and turns each role into code that links to the
object's reference entry where it has one (an optional cross-reference: a name that is not in
the reference stays plain code and is not an error).
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

# A section or admonition title alone on its line at the docstring's own indentation ("Inputs:"),
# whose body is indented below it.
_TITLE = re.compile(r"^[A-Z][\w -]*:$")
_TITLED = re.compile(r"^(?P<title>.+?)\s*<(?P<target>[^<>]+)>$")
_PATH = re.compile(r"^[\w.]+$")
_ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj|const):`(?P<target>[^`]+)`")


def separate_sections(text: str) -> str:
    """``text`` with a blank line before every section title that follows a non-blank line."""
    lines = text.split("\n")
    out: list[str] = []
    in_fence = False
    for i, line in enumerate(lines):
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if (
            not in_fence
            and _TITLE.match(line)
            and following.startswith(" ")
            and out
            and out[-1].strip()
        ):
            out.append("")
        out.append(line)
    return "\n".join(out)


def _identifier(obj: griffe.Object, target: str) -> str | None:
    """The full path ``target`` names from ``obj``'s scope, or None."""
    if target.startswith("emofuse."):
        return target
    head, _, rest = target.partition(".")
    try:
        path = obj.resolve(head)
    except (griffe.NameResolutionError, KeyError, ValueError, AttributeError):
        return None
    return f"{path}.{rest}" if rest else path


def link_roles(obj: griffe.Object, text: str) -> str:
    """``text`` with every Sphinx role replaced by code, linked where the name resolves."""

    def replace(match: re.Match[str]) -> str:
        target = match["target"].strip()
        titled = _TITLED.match(target)  # "title <target>"
        title, target = (titled["title"], titled["target"]) if titled else (None, target)
        short = target.startswith("~")
        target = target.lstrip("~.")
        title = title or (target.rsplit(".", 1)[-1] if short else target)
        shown = f"<code>{html.escape(title)}</code>"
        identifier = _identifier(obj, target) if _PATH.match(target) else None
        if identifier is None:
            return shown
        return f'<autoref identifier="{identifier}" optional>{shown}</autoref>'

    return _ROLE.sub(replace, text)


class EmofuseDocstrings(griffe.Extension):
    """Blank lines before sections and linked Sphinx roles in every docstring."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = link_roles(obj, separate_sections(obj.docstring.value))
