"""Every flow driven through a fake client, offline, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from bot.runtime import Runtime
from flows.core.texts import ALREADY_ERASED
from flows.store.models import ConversationSession, Reflection, User
from tests.client import FakeClient


async def onboard(c: FakeClient) -> None:
    await c.send("/start")
    await c.click("Use the defaults")


async def finish_unrated(c: FakeClient, answers: tuple[str, ...], *, save: bool = True) -> None:
    """Answer the remaining prompts, skip rating and minutes, tick nothing, and (optionally) save."""
    for a in answers:
        await c.send(a)
    await c.click("Skip")
    await c.click("Skip")
    if any(b.label == "Done" for r in c.last for row in r.buttons for b in row):
        await c.click("Done")
    if save:
        await c.click("Save")


async def reflect(
    c: FakeClient,
    answers: tuple[str, str, str] = (
        "I led a handover where two nurses disagreed about staffing on the late shift.",
        "It showed me I step in too fast instead of letting people work it through themselves.",
        "Next week I will ask open questions first and only then suggest a way forward.",
    ),
) -> None:
    await c.send("/reflect")
    await c.click("Suggested")
    for a in answers:
        await c.send(a)
    await c.click("4 Strong")
    await c.click("15 min")
    await c.click("Done")
    await c.click("Save")


async def test_onboarding_step_by_step(client: FakeClient, runtime: Runtime) -> None:
    replies = await client.send("/start")
    assert "patient-identifiable" in replies[0].text and "What I store" in replies[0].text
    await client.click("Set up")
    assert "Which framework" in client.text
    await client.click("Leadership Framework 2011")
    assert "Own practice/immediate team" in client.text and "Fundamental" not in client.text
    await client.click("Stage 3")
    await client.click("Wed")
    await client.send("6pm")
    await client.send("Mars/Olympus")
    assert "don't know that time zone" in client.text
    await client.send("Europe/Dublin")
    await client.send("31/12/2099")
    assert "You're all set" in client.text
    async with runtime.coach.sessionmaker() as db:
        u = (await db.execute(select(User))).scalar_one()
    assert (u.framework, u.stage, u.reflect_day, u.reflect_time, u.timezone, str(u.appraisal_date)) == (
        "lf2011",
        "3",
        2,
        "18:00",
        "Europe/Dublin",
        "2099-12-31",
    )


async def test_onboarding_every_step_can_be_skipped(client: FakeClient, runtime: Runtime) -> None:
    await client.send("/start")
    await client.click("Set up")
    for _ in range(6):
        await client.click("Skip")
    assert "You're all set" in client.text and "MLF 2025" in client.text and "Friday at 17:30" in client.text


async def test_full_reflection_then_history(client: FakeClient, runtime: Runtime) -> None:
    await onboard(client)
    await reflect(client)
    assert "Saved. That's 1 reflection" in client.text
    await client.send("/history")
    await client.click(client.last[0].buttons[0][0].label)
    assert "I led a handover" in client.text and "4 Strong" in client.text and "15" in client.text


async def test_short_answer_gets_a_so_what_follow_up(client: FakeClient) -> None:
    await onboard(client)
    await client.send("/reflect")
    await client.click("Suggested")
    await client.send("A rota clash.")
    await client.send("It was fine.")
    assert client.text == "So what does this mean for your practice?"
    await client.send("That I should plan rotas with the team, not for them.")
    assert "Now what?" in client.text


async def test_nhs_number_is_flagged_and_removed(client: FakeClient, runtime: Runtime) -> None:
    await onboard(client)
    await client.send("/reflect")
    await client.click("Suggested")
    await client.send("Patient 943 476 5919 was discharged late and the family complained to me.")
    assert "NHS number" in client.text
    await client.click("Remove it")
    await finish_unrated(
        client,
        (
            "It showed I need to check discharge plans every morning with the ward clerk.",
            "I will add a discharge check to the daily huddle from Monday onwards.",
        ),
    )
    async with runtime.coach.sessionmaker() as db:
        row = (await db.execute(select(Reflection))).scalar_one()
    answers = runtime.coach.cipher.decrypt_json(row.answers_enc)
    assert "943 476 5919" not in answers[0]["answer"] and "[removed]" in answers[0]["answer"]


async def test_lookup_answers_stage_questions(client: FakeClient) -> None:
    await client.send("what does stage 2 look like")
    assert "Stage 2: Mid-Level Managers and Leaders" in client.text and "MLF 2025" in client.text
    await client.send("/lookup stage 2 conflcit")
    assert "I de-escalate conflict promptly" in client.text
    await client.click("Stage 3")
    assert "I oversee the management of conflict" in client.text


async def test_edit_and_delete_from_history(client: FakeClient, runtime: Runtime) -> None:
    await onboard(client)
    await reflect(client)
    await client.send("/history")
    await client.click(client.last[0].buttons[0][0].label)
    await client.click("Edit an answer")
    await client.click("Now what?")
    await client.send("I will shadow the matron at two handovers this month.")
    assert "shadow the matron" in client.text
    await client.click("Delete")
    await client.click("Yes, delete it")
    async with runtime.coach.sessionmaker() as db:
        assert await db.scalar(select(func.count()).select_from(Reflection)) == 0


async def test_stale_and_forged_buttons_are_refused(client: FakeClient) -> None:
    await onboard(client)
    await client.send("/reflect")
    stale = client.button("Browse")
    await client.click("Suggested")
    await client.press(stale)
    assert client.outcome.notice == "That button is from an earlier step, so I've left it alone."
    assert "1/3" in client.text  # told where they are instead
    forged = stale.rsplit("|", 1)[0] + "|AAAAAA"
    await client.press(forged)
    assert "can't use that button" in client.text
    mallory = FakeClient(client.engine, "mallory")
    await mallory.press(stale)  # alice's button, pressed by someone we don't know: nothing done, no one stored
    assert mallory.outcome.notice == ALREADY_ERASED and not mallory.outcome.replies
    await mallory.send("/help")
    await mallory.press(stale)  # and by someone we do know
    assert "can't use that button" in mallory.text


async def test_unknown_command_and_cancel(client: FakeClient) -> None:
    await client.send("/frobnicate")
    assert "I don't know /frobnicate" in client.text
    await client.send("/reflect")
    await client.send("/cancel")
    assert "Nothing from that conversation was saved" in client.text


async def test_user_text_is_escaped(client: FakeClient) -> None:
    await onboard(client)
    await client.send("/reflect")
    await client.click("Suggested")
    await finish_unrated(
        client,
        (
            "<b>bold</b> & <script> tags in my answer, to see what happens here",
            "It means the coach must escape what I type & show it safely to me.",
            "I will keep typing < and > freely in every answer I give from now on.",
        ),
        save=False,
    )
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;" in client.text


async def test_export_and_delete_everything(client: FakeClient, runtime: Runtime) -> None:
    await onboard(client)
    await reflect(client)
    await client.send("/export")
    doc = json.loads(client.outcome.replies[0].attachment.content)  # type: ignore[union-attr]
    assert doc["reflections"][0]["answers"][0]["answer"].startswith("I led a handover")
    assert doc["user"]["framework"] == "mlf2025"
    await client.send("/privacy")
    assert "1 so far" in client.text
    await client.send("/delete")
    await client.click("Yes, erase everything")
    async with runtime.coach.sessionmaker() as db:
        for model in (User, Reflection, ConversationSession):
            assert await db.scalar(select(func.count()).select_from(model)) == 0


async def test_settings_change_prompt_model(client: FakeClient, runtime: Runtime) -> None:
    await onboard(client)
    await client.send("/settings")
    await client.click("Reflection prompts")
    await client.click("Gibbs reflective cycle")
    assert "Gibbs reflective cycle" in client.text
    await client.click("Done")
    await client.send("/reflect")
    await client.click("Suggested")
    assert "1/6" in client.text and "Description" in client.text


async def test_conversation_survives_a_restart(client: FakeClient, runtime: Runtime, settings: object) -> None:
    from bot.runtime import open_runtime

    await onboard(client)
    await client.send("/reflect")
    await client.click("Suggested")
    await client.send("We had a difficult family meeting about a delayed discharge on Tuesday.")
    again = await open_runtime(runtime.settings)
    try:
        resumed = FakeClient(again.coach)
        await resumed.send("It told me I avoid giving bad news early, which makes things worse.")
        assert "3/3" in resumed.text
    finally:
        await again.close()


async def test_repeated_update_is_processed_once(runtime: Runtime) -> None:
    from flows.core.replies import CommandEvent, Identity

    who = Identity("telegram", "42", "Sam")
    first = await runtime.coach.handle(who, CommandEvent("start"), update_id=7)
    second = await runtime.coach.handle(who, CommandEvent("start"), update_id=7)
    assert first.replies and not first.duplicate
    assert second.duplicate and not second.replies
