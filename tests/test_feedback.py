"""360° feedback (issue 17): the rules (thresholds, groups folded into others, gaps) and the subject's and
raters' conversations in process, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
import re

import pytest
from sqlalchemy import func, select, update

from bot.runtime import Runtime
from flows.rules.feedback_rules import OTHERS, Answer, aggregate, blind_spots, groups, hidden_strengths, token_hash
from flows.store.models import FeedbackResponse, FeedbackRound
from tests.client import FakeClient
from tests.test_flows import onboard

AREAS = ["a", "b", "c"]


def answer(rel: str, score: int = 3, keep: str = "", change: str = "") -> Answer:
    return Answer(rel, dict.fromkeys(AREAS, score), keep, change)


# --- the rules -----------------------------------------------------------------------------------


def test_two_answers_show_nothing_three_show_results() -> None:
    assert aggregate([answer("peer"), answer("peer")], AREAS, 3) is None
    res = aggregate([answer("peer", 2), answer("peer", 3), answer("report", 4)], AREAS, 3)
    assert res is not None and res.raters == 3 and res.others == {"a": 3.0, "b": 3.0, "c": 3.0}


def test_the_threshold_is_never_below_three() -> None:
    assert aggregate([answer("peer"), answer("peer")], AREAS, 1) is None
    assert aggregate([answer("peer")] * 3, AREAS, 4) is None


def test_a_group_of_two_is_folded_into_everyone_else() -> None:
    answers = [answer("peer", 4)] * 3 + [answer("report", 2)] * 2 + [answer("manager", 3)]
    shown = groups(answers, AREAS, 3)
    assert [(g.name, g.count) for g in shown] == [("Peers", 3), (OTHERS, 3)]
    assert shown[1].scores["a"] == (2 + 2 + 3) / 3


def test_no_split_that_would_let_a_small_group_be_worked_out() -> None:
    # 3 peers and 2 reports: showing peers beside the overall would give the two reports' average away.
    assert groups([answer("peer")] * 3 + [answer("report")] * 2, AREAS, 3) == []
    assert groups([answer("peer")] * 5, AREAS, 3) == []  # one group of everyone says nothing more


def test_an_area_few_observed_is_not_shown() -> None:
    unseen = Answer("peer", {"a": 4, "b": 0, "c": 0})
    res = aggregate([unseen, unseen, Answer("peer", {"a": 2, "b": 5, "c": 0})], AREAS, 3)
    assert res is not None and res.others == {"a": 10 / 3}


def test_comments_are_shuffled_and_unattributed() -> None:
    answers = [answer("peer", keep=f"keep {i}") for i in range(6)]
    orders = {tuple(r.keep) for seed in range(5) if (r := aggregate(answers, AREAS, 3, random.Random(seed)))}
    assert len(orders) > 1 and all(sorted(o) == [f"keep {i}" for i in range(6)] for o in orders)


def test_blind_spots_and_hidden_strengths() -> None:
    me, others = {"a": 4.5, "b": 2.0, "c": 3.0}, {"a": 3.0, "b": 3.5, "c": 3.2}
    assert blind_spots(me, others) == ["a"] and hidden_strengths(me, others) == ["b"]


# --- the conversations ---------------------------------------------------------------------------


def link_token(client: FakeClient) -> str:
    found = re.search(r"(?:start=|/start )(fb_[A-Za-z0-9_-]+)", client.text)
    assert found, client.text
    return found.group(1)


async def start_round(subject: FakeClient) -> str:
    await onboard(subject)
    await subject.send("/feedback")
    await subject.click("Start a round")
    await subject.click("All standards")
    await subject.click("Use Alice")
    await subject.click("14 days")
    await subject.send("I'm working on how I run team meetings.")
    await subject.click("Start the round")
    return link_token(subject)


async def rate(rater: FakeClient, token: str, relationship: str = "Peer", score: int = 3) -> None:
    await rater.send(f"/start {token}")
    assert "Alice" in rater.text and "anonymous" in rater.text
    await rater.click("Start")
    await rater.click(relationship)
    for _ in range(9):
        assert "this looks like" in rater.text
        await rater.click(f"{score} ")
    await rater.send("Keeps the team calm on a busy shift.")
    await rater.click("Skip")
    await rater.click("Send")
    assert "Sent" in rater.text


async def responses(runtime: Runtime, finished: bool = True) -> int:
    async with runtime.coach.transaction() as db:
        query = select(func.count()).select_from(FeedbackResponse)
        if finished:
            query = query.where(FeedbackResponse.finished_at.is_not(None))
        return int(await db.scalar(query) or 0)


async def test_a_round_and_three_raters(runtime: Runtime) -> None:
    runtime.coach.bot_username = "LeadCoachTestBot"
    alice = FakeClient(runtime.coach, "alice")
    token = await start_round(alice)
    share = [b for r in alice.last for row in r.buttons for b in row if b.url]
    assert share and share[0].url.startswith("https://t.me/share/url?url=https%3A%2F%2Ft.me%2FLeadCoachTestBot")
    async with runtime.coach.transaction() as db:
        stored = await db.scalar(select(FeedbackRound.token_hash))
    assert stored == token_hash(token[3:]) and token[3:] not in str(stored)

    raters = [FakeClient(runtime.coach, f"rater{i}") for i in range(3)]
    for rater in raters[:2]:
        await rate(rater, token)
    await alice.send("/feedback")
    assert "Fewer than 3" in alice.text and "Close it and see the results" not in alice.labels
    await rate(raters[2], token, "Line manager", 4)
    await alice.send("/feedback")
    await alice.click("Close it and see the results")
    await alice.click("Yes, close it")
    assert "3 colleagues answered" in alice.text and "Keeps the team calm" in alice.text
    assert [r.attachment.kind for r in alice.last if r.attachment] == ["photo"]
    for rater in raters:  # nothing names them
        assert rater.who.first_name and rater.who.first_name not in alice.text
    await alice.send("/history")
    await alice.click("360° feedback · started")
    assert "3 colleagues answered" in alice.text
    await alice.send("/develop")
    assert "From your 360° feedback" in alice.text
    await alice.send("/export")
    doc = json.loads(next(r.attachment for r in alice.last if r.attachment).content)
    assert doc["feedback_rounds"][0]["results"]["raters"] == 3 and doc["feedback_given"] == []
    await raters[0].send("/export")
    given = json.loads(next(r.attachment for r in raters[0].last if r.attachment).content)["feedback_given"]
    assert given[0]["for"] == "Alice" and given[0]["keep_doing"] == "Keeps the team calm on a busy shift."


async def test_the_subject_cannot_rate_their_own_round(runtime: Runtime) -> None:
    alice = FakeClient(runtime.coach, "alice")
    token = await start_round(alice)
    await alice.send(f"/start {token}")
    assert "your own feedback link" in alice.text


async def test_answering_twice_offers_to_withdraw_and_withdrawing_deletes(runtime: Runtime) -> None:
    alice, bob = FakeClient(runtime.coach, "alice"), FakeClient(runtime.coach, "bob")
    token = await start_round(alice)
    await rate(bob, token)
    await bob.send(f"/start {token}")
    assert "already given Alice feedback" in bob.text and await responses(runtime) == 1
    await bob.click("Keep them")
    await bob.send(f"/start {token}")
    await bob.click("Withdraw my answers")
    assert "Withdrawn" in bob.text and await responses(runtime) == 0


async def test_a_new_link_or_a_revoked_round_stops_the_old_link(runtime: Runtime) -> None:
    alice, bob = FakeClient(runtime.coach, "alice"), FakeClient(runtime.coach, "bob")
    old = await start_round(alice)
    await alice.send("/feedback")
    await alice.click("New link")
    new = link_token(alice)
    await bob.send(f"/start {old}")
    assert "doesn't work any more" in bob.text
    await rate(bob, new)
    await alice.send("/feedback")
    await alice.click("Revoke the round")
    await alice.click("Yes, revoke it")
    await bob.send(f"/start {new}")
    assert "doesn't work any more" in bob.text and await responses(runtime, finished=False) == 0


async def test_delete_by_rater_and_by_subject(runtime: Runtime) -> None:
    alice, bob, cara = (FakeClient(runtime.coach, n) for n in ("alice", "bob", "cara"))
    token = await start_round(alice)
    await rate(bob, token)
    await rate(cara, token)
    await bob.send("/delete")
    await bob.click("Yes, erase everything")
    assert await responses(runtime) == 1
    await alice.send("/delete")
    await alice.click("Yes, erase everything")
    assert await responses(runtime, finished=False) == 0
    async with runtime.coach.transaction() as db:
        assert await db.scalar(select(func.count()).select_from(FeedbackRound)) == 0


async def test_a_comment_with_an_identifier_is_caught(runtime: Runtime) -> None:
    alice, bob = FakeClient(runtime.coach, "alice"), FakeClient(runtime.coach, "bob")
    token = await start_round(alice)
    await bob.send(f"/start {token}")
    await bob.click("Start")
    await bob.click("Direct report")
    for _ in range(9):
        await bob.click("Not observed")
    await bob.send("She was great with the patient, NHS number 943 476 5919.")
    assert "patient" in bob.text and "Remove it" in bob.labels
    await bob.click("Remove it")
    await bob.click("Skip")
    assert "943 476 5919" not in bob.text and "not observed" in bob.text


# --- reminders -----------------------------------------------------------------------------------


async def test_reminders_once_each_in_waking_hours_blocked_raters_skipped(runtime: Runtime) -> None:
    from datetime import UTC, datetime, timedelta

    from bot.dispatcher import Dispatcher
    from flows.core.push import SendStatus
    from flows.store.models import User
    from tests.test_nudges import Outbox

    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    runtime.coach.clock = lambda: now
    alice, bob, cara = (FakeClient(runtime.coach, n) for n in ("alice", "bob", "cara"))
    token = await start_round(alice)
    for rater in (bob, cara):  # both open the link, neither finishes
        await rater.send(f"/start {token}")
        await rater.click("Start")
    outbox = Outbox()
    dispatcher = Dispatcher(runtime.coach, outbox, channel="terminal", rate=1000)
    await dispatcher.run_once()
    assert outbox.sent == []  # too early for either
    async with runtime.coach.transaction() as db:  # cara blocked the bot
        await db.execute(update(User).where(User.external_id == "cara").values(blocked=True))

    now += timedelta(days=1, hours=10)  # 22:00 in London: quiet hours
    await dispatcher.run_once()
    assert outbox.sent == []
    now += timedelta(hours=11)  # 09:00 next morning
    await dispatcher.run_once()
    assert "You started giving <b>Alice</b> feedback" in outbox.text("bob") and outbox.to("cara") == []
    await bob.press(outbox.to("bob")[0][0].buttons[0][0].data)  # "Give feedback now"
    assert "Alice" in bob.text and "Start" in bob.labels

    now += timedelta(days=10, hours=3)  # 12:00, under three days before closing, nobody has answered
    outbox.script = [SendStatus.SENT]
    await dispatcher.run_once()
    await dispatcher.run_once()
    assert len(outbox.to("alice")) == 1 and "fewer than 3" in outbox.text("alice")
    assert len(outbox.to("bob")) == 1  # one reminder only
    now += timedelta(days=3)  # closed, with nobody's answer sent
    await dispatcher.run_once()
    await dispatcher.run_once()
    assert len(outbox.to("alice")) == 2 and "closed with fewer than 3 answers" in outbox.text("alice")


async def test_the_subject_hears_when_a_round_closes_with_results(runtime: Runtime) -> None:
    from datetime import UTC, datetime, timedelta

    from bot.dispatcher import Dispatcher
    from tests.test_nudges import Outbox

    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    runtime.coach.clock = lambda: now
    alice = FakeClient(runtime.coach, "alice")
    token = await start_round(alice)
    for name in ("bob", "cara", "dev"):
        await rate(FakeClient(runtime.coach, name), token)
    outbox = Outbox()
    dispatcher = Dispatcher(runtime.coach, outbox, channel="terminal", rate=1000)
    now += timedelta(days=14, hours=1)
    await dispatcher.run_once()
    assert "has closed" in outbox.text("alice") and len(outbox.to("alice")) == 1
    await alice.press(outbox.to("alice")[0][0].buttons[0][0].data)
    assert "3 colleagues answered" in alice.text


async def test_a_narrowed_round_keeps_at_least_three_areas(runtime: Runtime) -> None:
    alice = FakeClient(runtime.coach, "alice")
    await onboard(alice)
    await alice.send("/feedback")
    await alice.click("Start a round")
    await alice.click("2 Communicating")
    await alice.click("5 Improving")
    assert "Done" not in alice.labels
    await alice.click("9 Working")
    await alice.click("Done")
    await alice.click("Use Alice")
    await alice.click("7 days")
    await alice.click("No note")
    assert "Areas (3)" in alice.text and "Communicating and listening effectively" in alice.text


async def test_a_round_takes_a_limited_number_of_answers_and_unsent_ones_go_at_close(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from flows.core.retention import purge
    from flows.talks import rating360

    monkeypatch.setattr(rating360, "MAX_RESPONSES", 2)
    alice = FakeClient(runtime.coach, "alice")
    token = await start_round(alice)
    for name in ("bob", "cara"):
        await FakeClient(runtime.coach, name).send(f"/start {token}")  # opened, not sent
    dev = FakeClient(runtime.coach, "dev")
    await dev.send(f"/start {token}")
    assert "all the answers it can take" in dev.text
    assert (await purge(runtime.coach, runtime.coach.clock())).unsent_feedback == 0  # still open
    done = await purge(runtime.coach, runtime.coach.clock() + timedelta(days=15))
    assert done.unsent_feedback == 2 and await responses(runtime, finished=False) == 0
