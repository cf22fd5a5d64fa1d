"""The newest migration, read from the scripts without importing Alembic (about 0.1 s and 8 MB of a
start, with Mako and Pygments behind it, for a database that is nearly always at the head already).

Each script's module-level ``revision`` and ``down_revision`` are read as Python reads them (``ast``),
so quotes, annotations (``revision: str = '...'``) and tuples (a merge) are all understood; the head is
the one revision no other script revises. Anything unexpected (a script without a literal revision,
two heads, none) returns None, and the caller asks Alembic itself (bot/db.py); a test checks that both
readers agree on the shipped migrations and on one made as ``make migration`` makes it."""

from __future__ import annotations

import ast
from pathlib import Path


def _literals(path: Path) -> dict[str, object]:
    found: dict[str, object] = {}
    for node in ast.parse(path.read_bytes(), filename=str(path)).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
            try:
                found[target.id] = ast.literal_eval(value)
            except ValueError:
                found[target.id] = value  # not a literal: not ours to read
    return found


def _names(value: object) -> set[str] | None:
    if value is None:
        return set()
    if isinstance(value, str):
        return {value}
    if isinstance(value, tuple | list) and all(isinstance(v, str) for v in value):
        return set(value)
    return None


def quick_head(scripts: Path) -> str | None:
    """The head revision of ``scripts`` (a migrations directory with ``versions/``), or None if the
    scripts are not all plainly readable or there is not exactly one head."""
    revisions: set[str] = set()
    revised: set[str] = set()
    try:
        files = sorted((scripts / "versions").glob("*.py"))
        for path in files:
            if path.name.startswith(("__init__", ".#")):
                continue
            found = _literals(path)
            revision, down = found.get("revision"), _names(found.get("down_revision"))
            if not isinstance(revision, str) or down is None:
                return None
            revisions.add(revision)
            revised |= down
    except (OSError, SyntaxError, ValueError):
        return None
    heads = revisions - revised
    return heads.pop() if len(heads) == 1 else None
