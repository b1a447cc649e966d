"""Every ``# type: ignore`` in the package names its error code and says why on the same line
(issue #12.6: mypy runs in CI; no ignore without a reason). mypy itself reports ignores that no
longer silence anything (``warn_unused_ignores``) and ones without a code
(``ignore-without-code``); the reason is checked here."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "emofuse"
# "# type: ignore[code1, code2]  # why", nothing but spaces between the two comments
IGNORE = re.compile(r"#\s*type:\s*ignore(?P<codes>\[[^\]]*\])?(?P<rest>.*)$")


def ignores_without_reason(source: str) -> list[tuple[int, str]]:
    """(line, comment) of each type-ignore comment that lacks a code or a reason."""
    found = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.COMMENT:
            continue
        match = IGNORE.search(token.string)
        if match is None:
            continue
        rest = match["rest"].strip()  # "# why"
        if not match["codes"] or not rest.startswith("#") or not rest.lstrip("#").strip():
            found.append((token.start[0], token.string))
    return found


def test_the_check_finds_an_ignore_without_a_reason() -> None:
    source = (
        "a = f()  # type: ignore[arg-type]\n"
        "b = f()  # type: ignore\n"
        "c = f()  # type: ignore[assignment]  #\n"
        "d = f()  # type: ignore[assignment]  # the stubs lag the runtime\n"
    )
    assert [line for line, _ in ignores_without_reason(source)] == [1, 2, 3]


def test_every_type_ignore_in_the_package_has_a_code_and_a_reason() -> None:
    bad = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {comment}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for line, comment in ignores_without_reason(path.read_text(encoding="utf-8"))
    ]
    assert not bad, "type: ignore without a code and a reason:\n" + "\n".join(bad)
