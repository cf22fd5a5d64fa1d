"""Read the YAML data files into validated models, with errors that name file and path."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from frameworks.schema import FILE_MODELS, FileHeader
from frameworks.vocabulary import VocabularyFile

DATA_DIR = Path(str(resources.files("frameworks") / "data"))
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MODELS: dict[str, type[FileHeader]] = {**FILE_MODELS, "vocabulary": VocabularyFile}
_REQUIRED_SOURCE = ("document", "publisher", "notice")  # and a year, null where the source prints none


class FrameworkDataError(ValueError):
    """A data file is missing, malformed or inconsistent. The message names the file and path."""


def _path(loc: tuple[int | str, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "(top)"


def load_file(path: Path) -> FileHeader:
    """Parse and validate one data file."""
    name = path.name
    try:
        raw: Any = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except (OSError, yaml.YAMLError) as exc:
        raise FrameworkDataError(f"{name}: cannot read: {exc}") from exc
    if not isinstance(raw, dict):
        raise FrameworkDataError(f"{name}: (top): expected a mapping")
    source = raw.get("source")
    if not isinstance(source, dict):
        raise FrameworkDataError(f"{name}: source: every data file must state its source")
    for key in _REQUIRED_SOURCE:
        if not source.get(key):
            raise FrameworkDataError(f"{name}: source.{key}: missing (source, publisher, year and notice are required)")
    if "year" not in source:
        raise FrameworkDataError(f"{name}: source.year: missing (null if the source prints none)")
    model = _MODELS.get(str(raw.get("kind")))
    if model is None:
        raise FrameworkDataError(f"{name}: kind: unknown kind {raw.get('kind')!r}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise FrameworkDataError(f"{name}: {_path(tuple(first['loc']))}: {first['msg']}{more}") from exc


def load_files(data_dir: Path | None = None) -> list[tuple[Path, FileHeader]]:
    """Every ``*.yaml`` file in the data directory, validated, in name order."""
    folder = data_dir or DATA_DIR
    paths = sorted(folder.glob("*.yaml"))
    if not paths:
        raise FrameworkDataError(f"{folder}: no data files found")
    return [(p, load_file(p)) for p in paths]
