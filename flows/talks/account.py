"""/menu, /help, /cancel, /privacy, /export and /delete."""

from __future__ import annotations

import json
from enum import StrEnum

from sqlalchemy import BindParameter, bindparam, delete, func, select, update

from flows.core.engine import Engine
from flows.core.flow import Ctx, Flow, FlowState, Kind
from flows.core.replies import Attachment, Button
from flows.core.retention import INBOX_DAYS
from flows.core.steps import confirm
from flows.core.templating import render
from flows.core.texts import CANCELLED, NOTHING_TO_CANCEL
from flows.store.models import (
    Action,
    Assessment,
    ConversationSession,
    CpdActivity,
    CpdTarget,
    FeedbackResponse,
    FeedbackRound,
    InboxUpdate,
    Nudge,
    NudgeDelivery,
    PackChoice,
    PackCopy,
    PackShare,
    Reflection,
    User,
)
from flows.talks import pack_copy
from flows.talks.common import menu_buttons
from flows.talks.feedback_results import export as feedback_export
from flows.talks.pack import choices_of


async def menu(ctx: Ctx, args: str) -> None:
    ctx.say("What would you like to do?", menu_buttons())


async def help_command(ctx: Ctx, args: str) -> None:
    sources = "; ".join(f"{f.short_title} ({f.source.publisher})" for f in ctx.catalogue.files[:4])
    ctx.say(render("help", sources=sources, need=ctx.engine.feedback_min_raters), menu_buttons())


async def cancel(ctx: Ctx, args: str) -> None:
    """Always answers: a draft with work is put aside rather than lost."""
    flow = ctx.engine.flows.get(ctx.flow or "")
    progress = ctx.engine.work(ctx)
    if flow is not None and flow.parkable and progress is not None:
        ctx.park()
        ctx.say(f"Stopped. I've kept your unfinished {flow.label} ({progress}): /{flow.resume_command} picks it up.")
        return
    ctx.say(CANCELLED if flow is not None else NOTHING_TO_CANCEL)
    ctx.finish()


_REFLECTIONS = select(func.count()).select_from(Reflection).where(Reflection.user_id == bindparam("user_id"))


async def privacy(ctx: Ctx, args: str) -> None:
    count = await ctx.db.scalar(_REFLECTIONS, {"user_id": ctx.user.id})
    ctx.say(
        render(
            "privacy",
            channel=ctx.user.channel.capitalize(),
            count=count,
            ttl=ctx.ttl_days,
            inbox_days=INBOX_DAYS,
            need=ctx.engine.feedback_min_raters,
        )
    )


# /export's reads of the user's rows, built once with a bind parameter.
_USER_ID: BindParameter[int] = bindparam("user_id")
_EXPORT_REFLECTIONS = select(Reflection).where(Reflection.user_id == _USER_ID).order_by(Reflection.created_at)
_EXPORT_ACTIVITIES = select(CpdActivity).where(CpdActivity.user_id == _USER_ID).order_by(CpdActivity.id)
_EXPORT_TARGETS = select(CpdTarget).where(CpdTarget.user_id == _USER_ID).order_by(CpdTarget.id)
_EXPORT_ASSESSMENTS = select(Assessment).where(Assessment.user_id == _USER_ID).order_by(Assessment.id)
_EXPORT_ACTIONS = select(Action).where(Action.user_id == _USER_ID).order_by(Action.id)
_EXPORT_SHARES = select(PackShare).where(PackShare.user_id == _USER_ID).order_by(PackShare.id)


async def export(ctx: Ctx, args: str) -> None:
    u = ctx.user
    mine = {"user_id": u.id}
    rows = (await ctx.db.execute(_EXPORT_REFLECTIONS, mine)).scalars()
    activities = (await ctx.db.execute(_EXPORT_ACTIVITIES, mine)).scalars()
    targets = (await ctx.db.execute(_EXPORT_TARGETS, mine)).scalars()
    assessments = (await ctx.db.execute(_EXPORT_ASSESSMENTS, mine)).scalars()
    doc: dict[str, object] = {
        "exported_at": ctx.now.isoformat(),
        "user": {
            "channel": u.channel,
            "id": u.external_id,
            "first_name": u.first_name,
            "created_at": u.created_at.isoformat(),
            "framework": u.framework,
            "stage": u.stage,
            "reflection_day": u.reflect_day,
            "reflection_time": u.reflect_time,
            "timezone": u.timezone,
            "appraisal_date": u.appraisal_date.isoformat() if u.appraisal_date else None,
            "prompt_model": u.prompt_model,
            "profession": u.profession or None,
            "nudges": {
                "weekly_reflection": u.nudge_reflection,
                "appraisal_countdown": u.nudge_appraisal,
                "cpd_pace": u.nudge_cpd,
                "quiet_hours": [u.quiet_start, u.quiet_end],
                "paused_until": u.paused_until.isoformat() if u.paused_until else None,
            },
        },
        "reflections": [
            {
                "id": r.id,
                "framework": r.framework,
                "item": r.item_id,
                "item_key": r.item_key,
                "title": entry.title if (entry := ctx.catalogue.resolve(r.item_key, r.item_id)) else None,
                "stage": r.stage,
                "extra_items": r.extra_items,
                "prompt_model": r.prompt_model,
                "answers": ctx.cipher.decrypt_json(r.answers_enc),
                "rating": r.rating,
                "minutes": r.minutes,
                "created_at": r.created_at.isoformat(),
                "updated_at": r.updated_at.isoformat(),
            }
            for r in rows
        ],
        "cpd_activities": [
            {
                "done_on": a.done_on.isoformat(),
                "what": ctx.cipher.decrypt_json(a.title_enc),
                "minutes": a.minutes,
                "participatory": a.participatory,
                "items": a.items,
            }
            for a in activities
        ],
        "self_assessments": [
            {
                "framework": a.framework,
                "stage": a.stage,
                "started_at": a.started_at.isoformat(),
                "finished_at": a.finished_at.isoformat() if a.finished_at else None,
                "ratings": {item: a.ratings[item] for item in a.items if item in a.ratings},
                "target_levels_given": a.targets or {},
            }
            for a in assessments
        ],
        "cpd_targets": [
            {
                "kind": t.kind,
                "minutes": t.minutes,
                "participatory_minutes": t.participatory_minutes,
                "reflections_a_month": t.count,
                "programme": t.programme,
                "starts_on": t.starts_on.isoformat(),
                "ends_on": t.ends_on.isoformat() if t.ends_on else None,
                "finished_on": t.done_on.isoformat() if t.done_on else None,
            }
            for t in targets
        ],
    }
    copy = await pack_copy.kept(ctx.db, u.id)
    doc.update(await feedback_export(ctx))
    doc.update(await _pack_export(ctx, copy))
    content = json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8")
    ctx.say(
        "Here is everything I hold about you"
        + (", and the appraisal pack PDF you asked me to keep" if copy is not None else "")
        + ". For your appraisal, /pack makes a PDF of your reflections, self-assessment, CPD and development plan.",
        [[Button("Make my appraisal pack", "m", "pack", scoped=False)]],
        attachment=Attachment("leadcoach-export.json", content, caption="Your LeadCoach data"),
    )
    if copy is not None:
        ctx.say(
            f"📄 The appraisal pack PDF I keep for you ({pack_copy.made_words(copy)}).",
            attachment=pack_copy.attachment(ctx.cipher, copy),
        )


async def _pack_export(ctx: Ctx, copy: PackCopy | None) -> dict[str, object]:
    """Dated actions and how they went, the appraisal pack's choices and its share links (their tokens are
    not kept, so not exported), and what the kept copy of the pack is (``copy``, read once by the caller)."""
    made = await ctx.db.get(PackChoice, ctx.user.id)
    choices = choices_of(ctx.cipher, made)
    actions = (await ctx.db.execute(_EXPORT_ACTIONS, {"user_id": ctx.user.id})).scalars()
    shares = (await ctx.db.execute(_EXPORT_SHARES, {"user_id": ctx.user.id})).scalars()
    return {
        "appraisal_pack": {
            **choices.model_dump(mode="json"),
            "last_made_at": made.made_at.isoformat() if made is not None and made.made_at else None,
            "kept_copy": pack_copy.export(copy),  # the PDF is sent beside
        },
        "actions": [
            {
                "reflection_id": a.reflection_id,
                "due_on": a.due_on.isoformat(),
                "outcome": a.outcome or None,
                "note": ctx.cipher.decrypt_json(a.note_enc) if a.note_enc else None,
                "answered_at": a.answered_at.isoformat() if a.answered_at else None,
            }
            for a in actions
        ],
        "pack_share_links": [
            {
                "created_at": sh.created_at.isoformat(),
                "expires_at": sh.expires_at.isoformat(),
                "revoked_at": sh.revoked_at.isoformat() if sh.revoked_at else None,
                "opened_at": sh.openings or [],
            }
            for sh in shares
        ],
    }


class EraseState(FlowState):
    pass


class Erase(StrEnum):
    """The steps of /delete."""

    CONFIRM = "confirm"


async def delete_command(ctx: Ctx, args: str) -> None:
    """Always answers: a draft in progress is put aside, so "No" loses nothing."""
    flow = ctx.engine.flows.get(ctx.flow or "")
    if flow is not None and flow.parkable and ctx.engine.work(ctx) is not None:
        ctx.park()
    await ctx.start("erase", EraseState(), Erase.CONFIRM)


async def erase(ctx: Ctx, s: EraseState, arg: str) -> None:
    uid = ctx.user.id
    # 360° feedback: the answers they gave others, their own rounds and every answer to them.
    await ctx.db.execute(delete(FeedbackResponse).where(FeedbackResponse.rater_id == uid))
    theirs_rounds = select(FeedbackRound.id).where(FeedbackRound.user_id == uid)
    await ctx.db.execute(delete(FeedbackResponse).where(FeedbackResponse.round_id.in_(theirs_rounds)))
    for table in (
        Action,
        Reflection,
        CpdActivity,
        CpdTarget,
        NudgeDelivery,
        Nudge,
        Assessment,
        FeedbackRound,
        PackShare,
        PackChoice,
        PackCopy,
    ):
        await ctx.db.execute(delete(table).where(table.user_id == uid))
    await ctx.db.execute(delete(ConversationSession).where(ConversationSession.user_id == uid))
    await ctx.db.execute(delete(User).where(User.id == uid))
    # Messages received from them and handled (kept a few days for crash safety) go too; this update's
    # row stays, emptied, so a repeat of it is still recognised. Those not handled yet (sent after this
    # tap, e.g. in the same batch) stay to be handled: erasing them would leave them unanswered.
    theirs = (InboxUpdate.channel == ctx.user.channel) & (InboxUpdate.user_key == ctx.user.external_id)
    handled = theirs & InboxUpdate.done_at.is_not(None)
    await ctx.db.execute(delete(InboxUpdate).where(handled, InboxUpdate.update_id != (ctx.update_id or -1)))
    await ctx.db.execute(update(InboxUpdate).where(handled).values(payload_enc=b""))
    ctx.erased = True
    ctx.finish()
    ctx.say("Done. I've erased everything I held about you. Send /start if you ever want to begin again.")


async def keep(ctx: Ctx, s: EraseState, arg: str) -> None:
    ctx.finish()
    parked = ctx.engine.flows[ctx.parked[0]] if ctx.parked is not None else None
    extra = f" Your unfinished {parked.label} is waiting: /{parked.resume_command} picks it up." if parked else ""
    ctx.say("Kept. Nothing was deleted." + extra, menu_buttons())


FLOW = Flow(
    name="erase",
    label="erasure",
    state=EraseState,
    names=Erase,
    steps={
        Erase.CONFIRM: confirm(
            "This erases your settings, every reflection, your self-assessments, your CPD log and targets, your "
            "360° feedback rounds and any feedback you gave others, your appraisal pack choices, share links and "
            "any kept copy of the pack, for good. Are you sure?",
            yes=("Yes, erase everything", erase),
            no=("No, keep my data", keep),
        )
    },
)


def register(engine: Engine) -> None:
    engine.flow(FLOW)
    for name, handler, kind in (
        ("menu", menu, Kind.OVERLAY),
        ("help", help_command, Kind.OVERLAY),
        ("privacy", privacy, Kind.OVERLAY),
        ("export", export, Kind.OVERLAY),
        ("cancel", cancel, Kind.ALWAYS),
        ("delete", delete_command, Kind.ALWAYS),
    ):
        engine.command(name, handler, kind)
