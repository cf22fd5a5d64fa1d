"""The source documents beside the checkout (``../shared/seeds``): CI must have them; elsewhere the
tests that compare our data with them are skipped if they are missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


def read_seed(name: str) -> str:
    path = SEEDS / name
    if not path.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"source document not found at {path}")
        pytest.skip("shared/seeds not beside the checkout")
    return path.read_text(encoding="utf-8")
