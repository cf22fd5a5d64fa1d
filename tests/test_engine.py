"""The conversation engine: interruptions, parking, stale buttons, bad state, two engines on one user.
Each test is a regression test for a bug seen over the real stack (issue 6); on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select, update

from bot.runtime import Runtime, open_runtime
from flows.core.crypto import Cipher
from flows.core.push import SendResult, SendStatus
from flows.core.replies import Identity, Reply
from flows.store.models import ConversationSession, Reflection
from tests.client import FakeClient
from tests.test_flows import finish_unrated, onboard

LONG = (
    "I chaired the bed meeting and two ward managers disagreed sharply about staffing.",
    "It showed me that I settle arguments too quickly instead of hearing both sides properly.",
    "Next time I will ask each person for their view before I suggest any way forward.",
)


async def start_reflection(c: FakeClient) -> None:
    await onboard(c)
    await c.send("/reflect")
    await c.click("Suggested")


async def tick_done(c: FakeClient) -> None:
    """Leave the "also evidences" step, which only items with links in other frameworks have."""
    if any(b.label == "Done" for r in c.last for row in r.buttons for b in row):
        await c.click("Done")


async def reflections(runtime: Runtime) -> list[Reflection]:
    async with runtime.coach.sessionmaker() as db:
        return list((await db.execute(select(Reflection).order_by(Reflection.id))).scalars())


async def test_bug1_a_new_reflection_after_a_follow_up_takes_answers(client: FakeClient) -> None:
    await start_reflection(client)
    await client.send(LONG[0])
    await client.send("Not much really.")
    assert "So what does this mean" in client.text
    await client.send("/reflect")
    assert "unfinished reflection (2 of 3 answered)" in client.text
    await client.click("Start again")
    await client.click("Yes, start again")
    await client.click("Suggested")
    await client.send(LONG[0])
    assert "2/3" in client.text and "went wrong" not in client.text
    await client.send(LONG[1])
    assert "3/3" in client.text


async def test_bug2_later_keeps_the_place_and_a_question_is_not_an_answer(client: FakeClient, runtime: Runtime) -> None:
    await start_reflection(client)
    await client.send(LONG[0])
    await client.click("Later")
    assert "kept your place" in client.text
    await client.send("what does stage 2 look like for conflict?")
    assert "conflict" in client.text.lower() and "3/3" not in client.text
    await client.send("/reflect")
    assert "unfinished reflection" in client.text and "(1 of 3 answered)" in client.text
    await client.click("Continue it")
    assert "2/3" in client.text
    await finish_unrated(client, LONG[1:])
    saved = await reflections(runtime)
    answers = runtime.coach.cipher.decrypt_json(saved[0].answers_enc)
    assert [a["answer"] for a in answers] == list(LONG)


async def test_bug3_typing_keeps_the_buttons_above_valid(client: FakeClient, runtime: Runtime) -> None:
    await client.send("/start")
    welcome = client.message_with("Use the defaults")
    await client.send("hello there")
    assert "Please tap one of the buttons" in client.text
    await client.click("Use the defaults", on=welcome)
    assert "You're all set" in client.text
    await client.send("/reflect")
    await client.click("Suggested")
    await client.send("Patient 943 476 5919 was discharged late and the family complained to me.")
    warning = client.message_with("Remove it")
    await client.send("sorry, I meant to say something else")
    await client.click("Remove it", on=warning)
    assert client.outcome.notice is None and "2/3" in client.text
    await client.send("/delete")
    confirm = client.message_with("Yes, erase everything")
    await client.send("are you sure this is everything?")
    await client.click("Yes, erase everything", on=confirm)
    assert "erased everything" in client.text


async def test_bug4_commands_mid_reflection_ask_before_dropping_work(client: FakeClient) -> None:
    await start_reflection(client)
    await client.send(LONG[0])
    for command in ("/start", "/settings", "/reflect"):
        await client.send(command)
        assert "You have an unfinished reflection (1 of 3 answered)" in client.text, command
        await client.click("Continue my reflection")
        assert "2/3" in client.text
    await client.send("/history")  # a listing runs on top: the reflection carries on after it
    assert "haven't saved any reflections" in client.text and "2/3" in client.text
    old_menu = client.message_with("Settings")
    await client.click("Settings", on=old_menu)
    assert "unfinished reflection" in client.text
    await client.click("Keep it for later")
    assert "kept your reflection for later" in client.text and "Your settings" in client.text
    await client.send("/start")
    assert "Welcome back" in client.text and "Set up" not in client.text
    await client.send("/reflect")
    await client.click("Continue it")
    assert "2/3" in client.text


async def test_help_and_lookup_run_on_top_of_a_reflection(client: FakeClient) -> None:
    await start_reflection(client)
    prompt = client.message_with("Skip this one")
    await client.send("/help")
    assert "What I can do" in client.text and "1/3" in client.text
    await client.send("/lookup stage 2 conflict")
    assert "1/3" in client.outcome.replies[-1].text
    await client.click("Skip this one", on=prompt)  # the buttons from before are still valid
    assert "2/3" in client.text


async def test_bug5_old_or_undecryptable_state_is_dropped_politely(client: FakeClient, runtime: Runtime) -> None:
    await start_reflection(client)
    async with runtime.coach.transaction() as db:
        await db.execute(update(ConversationSession).values(data_enc=Cipher(Cipher.generate_key()).encrypt_json({})))
    await client.send("/start")
    assert "couldn't pick up where we left off" in client.text and "Welcome back" in client.text
    await client.send("/reflect")
    await client.click("Suggested")
    shape = runtime.coach.cipher.encrypt_json({"v": 1, "data": {"answers": "not a list"}, "pending": None})
    async with runtime.coach.transaction() as db:
        await db.execute(update(ConversationSession).values(data_enc=shape))
    for command in ("/cancel", "/help", "/export", "/delete"):
        await client.send(command)
        assert "went wrong" not in client.text and client.outcome.replies, command


async def test_bug10_an_all_skipped_reflection_is_not_saved(client: FakeClient, runtime: Runtime) -> None:
    await start_reflection(client)
    for _ in range(3):
        await client.click("Skip this one")
    await client.click("Skip")
    await client.click("Skip")
    await tick_done(client)
    assert "nothing to save" in client.text and "Save" not in [
        b.label for r in client.last for row in r.buttons for b in row
    ]
    await client.click("Answer the questions")
    assert "1/3" in client.text
    assert await reflections(runtime) == []


async def test_double_tapped_save_stores_one_reflection(client: FakeClient, runtime: Runtime) -> None:
    await start_reflection(client)
    await finish_unrated(client, LONG, save=False)
    save = client.button("Save")
    await asyncio.gather(client.press(save), client.press(save))
    assert len(await reflections(runtime)) == 1


async def test_two_engines_on_one_database_never_double_save_or_lose_answers(
    client: FakeClient, runtime: Runtime
) -> None:
    other = await open_runtime(runtime.settings)  # a second instance on the same database
    try:
        twin = FakeClient(other.coach)
        await start_reflection(client)
        await asyncio.gather(client.send(LONG[0]), twin.send(LONG[1]))
        await client.send(LONG[2])
        await client.click("Skip")
        await client.click("Skip")
        await tick_done(client)
        save = client.button("Save")
        await asyncio.gather(client.press(save), twin.press(save), client.press(save))
        saved = await reflections(runtime)
        assert len(saved) == 1
        answers = [a["answer"] for a in runtime.coach.cipher.decrypt_json(saved[0].answers_enc)]
        assert sorted(answers[:2]) == sorted(LONG[:2]) and answers[2] == LONG[2]
    finally:
        await other.close()


async def test_history_pages_have_unique_labels_and_edits_go_back(client: FakeClient, runtime: Runtime) -> None:
    await onboard(client)
    for _ in range(10):
        await client.send("/reflect")
        await client.click("Suggested")
        await finish_unrated(client, LONG)
    await client.send("/history")
    first = [b.label for row in client.last[0].buttons for b in row]
    assert "of 10" in client.text and "Older ›" in first
    await client.click("Older ›")
    older = [b.label for row in client.last[0].buttons for b in row]
    assert len([x for x in older if "·" in x]) == 2 and "‹ Newer" in older
    await client.click(older[0])
    await client.click("Edit an answer")
    await client.click("Back")
    await client.click("Rating")
    await client.click("5 Exemplary")
    assert "5 Exemplary" in client.text
    await client.click("Minutes")
    await client.send("45")
    assert "Minutes: 45" in client.text
    await client.click("Edit an answer")
    await client.click("What?")
    assert LONG[0] in client.text  # the old text is shown before it is replaced
    await client.send("Mrs Patel's son shouted at the nurse in charge during visiting.")
    assert "name with a title" in client.text or "Remove it" in str(client.last[0].buttons)
    await client.click("Remove it")
    assert "Mrs Patel" not in client.text and "[removed]" in client.text


class Recorder:
    def __init__(self, status: SendStatus = SendStatus.SENT) -> None:
        self.sent: list[tuple[Identity, list[Reply]]] = []
        self.status = status

    async def send(self, who: Identity, replies: list[Reply]) -> SendResult:
        self.sent.append((who, replies))
        return SendResult(self.status)


async def test_push_starts_a_flow_with_buttons_the_user_can_press(client: FakeClient, runtime: Runtime) -> None:
    from flows.talks.reflection import begin

    await onboard(client)
    recorder = Recorder()

    async def nudge(ctx: object) -> None:
        from flows.core.flow import Ctx

        assert isinstance(ctx, Ctx)
        ctx.say("Time for this week's reflection.")
        await begin(ctx, "")

    result = await runtime.coach.push(client.who, nudge, recorder)
    assert result.status is SendStatus.SENT and len(recorder.sent) == 1
    client.history.extend(recorder.sent[0][1])
    await client.click("Suggested")
    assert "1/3" in client.text
    blocked = Recorder(SendStatus.BLOCKED)
    await runtime.coach.push(client.who, nudge, blocked)
    again = await runtime.coach.push(client.who, nudge, recorder)
    assert again.status is SendStatus.SKIPPED and len(recorder.sent) == 1  # blocked users are not messaged
    await client.send("/help")  # writing again unblocks
    assert (await runtime.coach.push(client.who, nudge, recorder)).status is SendStatus.SENT


async def test_session_count_is_one_row_per_user(client: FakeClient, runtime: Runtime) -> None:
    await start_reflection(client)
    await client.send("/help")
    async with runtime.coach.sessionmaker() as db:
        assert await db.scalar(select(func.count()).select_from(ConversationSession)) == 1


async def test_purge_erases_old_updates_and_expired_conversations(client: FakeClient, runtime: Runtime) -> None:
    from datetime import timedelta

    from flows.core.replies import CommandEvent
    from flows.core.retention import purge
    from flows.store.models import InboxUpdate

    await start_reflection(client)
    await client.send(LONG[0])
    await client.click("Later")  # a parked draft
    await runtime.coach.handle(Identity("telegram", "7", "Sam"), CommandEvent("help"), update_id=1)
    now = runtime.coach.clock()
    kept = await purge(runtime.coach, now)
    assert (kept.updates, kept.sessions, kept.drafts) == (0, 0, 0)
    later = now + timedelta(days=15)
    done = await purge(runtime.coach, later, batch=1)
    assert (done.updates, done.drafts) == (1, 1)
    async with runtime.coach.sessionmaker() as db:
        assert await db.scalar(select(func.count()).select_from(InboxUpdate)) == 0
        row = (await db.execute(select(ConversationSession))).scalar_one()
        assert row.parked_data_enc is None and row.data_enc == b""
    await client.send("/reflect")
    assert "unfinished" not in client.text


async def test_button_data_is_signed_over_unambiguous_fields(client: FakeClient) -> None:
    from flows.core.signing import MAC_CHARS
    from flows.core.typed import match

    await client.send("/start")
    data = client.button("Use the defaults")
    version, action, arg, mac = data.split("|")
    assert len(mac) == MAC_CHARS and MAC_CHARS * 6 >= 64 and len(data.encode()) <= 64
    for forged in (
        f"{int(version) + 1}|{action}|{arg}|{mac}",
        f"{version}|{action}x|{arg}|{mac}",
        f"{version}|{action}|x{arg}|{mac}",
    ):
        await client.press(forged)
        assert "can't use that button" in client.text
    engine = client.engine
    sign = engine.signer.mac
    assert sign(1, 2, "a", "b:c") != sign(1, 2, "a:b", "c")  # fields can't run into each other
    assert match([], "3") is None
