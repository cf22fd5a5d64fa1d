from __future__ import annotations

import pytest

from frameworks.catalogue import Catalogue, default_catalogue
from frameworks.lookup import LookupIndex


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return default_catalogue()


@pytest.fixture(scope="session")
def index(catalogue: Catalogue) -> LookupIndex:
    return LookupIndex(catalogue)
