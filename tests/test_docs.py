"""The documentation against the code: the reference pages name exactly the settings, mixin
options and system checks the code has, with the code's defaults, and every Python example in
the docs and the README passes ruff."""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import live_admin
from live_admin.admin import LiveAdminMixin
from live_admin.conf import DEFAULTS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
#: The package as imported: the source tree, or the installed wheel (LIVE_ADMIN_TEST_WHEEL).
PACKAGE = Path(live_admin.__file__).resolve().parent

CODE = re.compile(r"`([^`]+)`")
CHECK_ID = re.compile(r"\bid\s*=\s*[\"'](live_admin\.[EW]\d{3})[\"']")
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})\s*(?:python|py)\s*$")
#: Rules a fragment may break: names it takes from the text around it (F821), and the imports
#: an asgi.py makes after get_asgi_application(), as Channels asks (E402).
FRAGMENT_IGNORES = "F821,E402"


def table_rows(page: str) -> list[list[str]]:
    """The body rows of the Markdown tables of a docs page, as lists of cells (stripped)."""
    rows = []
    for line in (DOCS / page).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line.startswith("|") or re.fullmatch(r"\|[\s:|-]+\|", line):
            continue
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def first_code(cell: str) -> str | None:
    """The first `code` span of a table cell."""
    found = CODE.search(cell)
    return found.group(1) if found else None


def difference(what: str, code: set[str], docs: set[str], page: str) -> str:
    lines = []
    if code - docs:
        lines.append(f"{what} in the code but not in docs/{page}: {sorted(code - docs)}")
    if docs - code:
        lines.append(f"{what} in docs/{page} but not in the code: {sorted(docs - code)}")
    return "\n".join(lines)


# -- LIVE_ADMIN keys -------------------------------------------------------------------------


def documented(page: str, name: str) -> dict[str, str]:
    """The names a reference page's tables list (a first cell's code span matching ``name``),
    each with its second cell (a setting's default, a check's level)."""
    found = {}
    for row in table_rows(page):
        code = first_code(row[0])
        if code and re.fullmatch(name, code):
            found[code] = row[1] if len(row) > 1 else ""
    return found


def documented_settings() -> dict[str, str]:
    """docs/settings.md's keys (first cells in capitals), each with its default cell."""
    return documented("settings.md", r"[A-Z][A-Z0-9_]*")


def test_every_setting_is_documented_and_every_documented_setting_exists() -> None:
    documented = documented_settings()
    assert set(documented) == set(DEFAULTS), difference(
        "LIVE_ADMIN keys", set(DEFAULTS), set(documented), "settings.md"
    )


def test_documented_setting_defaults_are_the_code_defaults() -> None:
    wrong = {
        key: (cell, DEFAULTS[key])
        for key, cell in documented_settings().items()
        if key in DEFAULTS and literal(cell) != ("ok", DEFAULTS[key])
    }
    assert not wrong, f"docs/settings.md's default (cell, code) differs: {wrong}"


def literal(cell: str) -> tuple[str, Any]:
    """The first code span of a default cell as a Python value."""
    code = first_code(cell)
    try:
        return "ok", ast.literal_eval(code or "")
    except (ValueError, SyntaxError):
        return "unreadable", code


# -- the ModelAdmin mixin --------------------------------------------------------------------


def mixin_options() -> dict[str, Any]:
    """The mixin's options: its public ``live_*`` class attributes that are not methods."""
    return {
        name: getattr(LiveAdminMixin, name)
        for name in dir(LiveAdminMixin)
        if name.startswith("live_") and not callable(getattr(LiveAdminMixin, name))
    }


def mixin_hooks() -> set[str]:
    """The methods live_admin's classes give a live ModelAdmin to override or call."""
    return {
        name
        for cls in LiveAdminMixin.__mro__
        if cls.__module__.startswith("live_admin")
        for name, value in vars(cls).items()
        if "live" in name and not name.startswith("_") and callable(value)
    }


def documented_mixin() -> dict[str, str]:
    """docs/settings.md's options and hooks (first cells in lower case), with their default
    cells; a hook's arguments are left out of its name."""
    found = {}
    for row in table_rows("settings.md"):
        name = first_code(row[0])
        if name and re.match(r"[a-z_]+\b", name):
            found[name.split("(")[0]] = row[1] if len(row) > 1 else ""
    return found


def test_every_mixin_option_is_documented_and_every_documented_one_exists() -> None:
    code = set(mixin_options()) | mixin_hooks()
    documented = set(documented_mixin())
    assert documented == code, difference(
        "LiveAdminMixin options and hooks", code, documented, "settings.md"
    )


def test_documented_mixin_defaults_are_the_code_defaults() -> None:
    options = mixin_options()
    wrong = {
        name: (cell, options[name])
        for name, cell in documented_mixin().items()
        if name in options and literal(cell) != ("ok", options[name])
    }
    assert not wrong, f"docs/settings.md's default (cell, code) differs: {wrong}"


# -- system checks ---------------------------------------------------------------------------


def code_check_ids() -> set[str]:
    """Every ``id=`` a message of the package's system checks is made with."""
    return {
        found
        for path in PACKAGE.rglob("*.py")
        for found in CHECK_ID.findall(path.read_text(encoding="utf-8"))
    }


def documented_checks() -> dict[str, str]:
    """docs/checks.md's ids, each with its level cell."""
    return documented("checks.md", r"live_admin\.[EW]\d{3}")


def test_every_check_id_is_documented_and_every_documented_id_exists() -> None:
    code = code_check_ids()
    assert code, f"no system check found in {PACKAGE}"
    documented = documented_checks()
    assert set(documented) == code, difference("check ids", code, set(documented), "checks.md")


def test_documented_check_levels_match_their_ids() -> None:
    levels = {"E": "error", "W": "warning"}
    wrong = {
        check: level
        for check, level in documented_checks().items()
        if not level.startswith(levels[check.split(".")[1][0]])
    }
    assert not wrong, f"docs/checks.md gives these ids the other level: {wrong}"


# -- Python examples -------------------------------------------------------------------------


def python_blocks(path: Path) -> list[tuple[int, str]]:
    """Each ```python block of a Markdown file: the line before its first, and its code,
    dedented by the fence's own indentation (a block inside a list item)."""
    blocks = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        index += 1
        if not opening:
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        start, body = index, []
        while index < len(lines) and not lines[index].strip().startswith(fence):
            body.append(lines[index][indent:] if lines[index][:indent].isspace() else lines[index])
            index += 1
        index += 1
        blocks.append((start, "\n".join(body) + "\n"))
    return blocks


def example_files() -> list[Path]:
    return [*sorted(DOCS.glob("*.md")), ROOT / "README.md"]


def test_the_docs_have_python_examples() -> None:
    blocks = {path.name: python_blocks(path) for path in example_files()}
    assert blocks["settings.md"], "no ```python block found in docs/settings.md: the parser broke"
    assert sum(len(found) for found in blocks.values()) >= 10


def test_python_examples_pass_ruff(tmp_path: Path) -> None:
    if importlib.util.find_spec("ruff") is None:
        pytest.fail(
            f"ruff is not installed for {sys.executable}, and this test runs it on the docs' "
            "Python examples. Install it (pip install ruff; it is in the lint group) or run the "
            "test from a virtualenv that has it (.venv-lint/bin/pytest tests/test_docs.py)."
        )
    where = {}  # each extracted file's name: the Markdown file and line its block starts after
    for path in example_files():
        source = path.relative_to(ROOT)
        for start, code in python_blocks(path):
            name = f"{source}_L{start}".replace("/", "__").replace(".", "_") + ".py"
            where[name] = (source, start)
            (tmp_path / name).write_text(code, encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--no-cache",
            "--config",
            str(ROOT / "pyproject.toml"),  # the project's line length and first-party names
            "--select",
            "E,F,W,I",
            "--ignore",
            FRAGMENT_IGNORES,
            "--output-format",
            "concise",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    if result.returncode != 0:
        said = (result.stdout + result.stderr).splitlines()
        pytest.fail("\n".join(at_source(line, where) for line in said), pytrace=False)


def at_source(line: str, where: dict[str, tuple[Path, int]]) -> str:
    """A ruff message about an extracted block, told at the Markdown file's line."""
    found = re.match(r"(?P<file>[^:]+\.py):(?P<row>\d+):(?P<col>\d+): (?P<rest>.*)", line)
    if not found or Path(found["file"]).name not in where:
        return line
    source, start = where[Path(found["file"]).name]
    return f"{source}:{start + int(found['row'])}:{found['col']}: {found['rest']}"
