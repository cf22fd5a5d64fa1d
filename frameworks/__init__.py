"""Framework content as validated data, and a lookup over it.

Nothing here touches a database or Telegram.
"""

from frameworks.catalogue import Catalogue, Entry, load_catalogue
from frameworks.loader import FrameworkDataError

__all__ = ["Catalogue", "Entry", "FrameworkDataError", "load_catalogue"]
