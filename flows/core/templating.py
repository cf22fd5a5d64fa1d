"""The one Jinja environment. Templates produce Telegram HTML; user text is always escaped."""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("flows", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
        keep_trailing_newline=False,
    )
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(f"{template}.j2").render(**context).strip()
