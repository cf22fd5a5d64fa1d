"""Regression tests for the issue-13 defects in /history and /assess (5, 9), and their keyboards."""

from __future__ import annotations

from tests.client import FakeClient
from tests.test_flows import onboard, reflect


async def test_defect9_the_history_keyboard_has_no_empty_row(client: FakeClient) -> None:
    await onboard(client)
    await reflect(client)
    await client.send("/history")
    assert client.last[0].buttons and all(client.last[0].buttons)
