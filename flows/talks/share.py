"""/share: a link for the appraiser. Whoever opens ``https://t.me/<bot>?start=pack_<token>`` receives the
owner's pack, nothing else: the copy they kept, if they chose to keep one (the very PDF they were sent, not
made again), else their current pack made afresh from their data and their /pack choices. Links expire
after 30 days and can be revoked; each opening is shown to the owner. Only the token's SHA-256 is stored,
so the link is shown once, when it is made."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field
from sqlalchemy import select

from flows.core.engine import Engine
from flows.core.flow import Ctx, Flow, FlowState, Kind, Rows, Step
from flows.core.replies import Button
from flows.store.models import PackChoice, PackShare, User
from flows.talks import pack_copy
from flows.talks.common import ends, plural
from flows.talks.pack import load_choices, review_date
from flows.talks.pack_data import gather
from flows.talks.pack_send import apply_choices, send_pack
from flows.talks.pack_text import long_day

PREFIX = "pack_"  # the /start parameter: pack_<token>
LIFETIME = timedelta(days=30)
KEEP_AFTER = timedelta(days=30)  # a share and its openings are kept this long after it ends
MAX_ACTIVE = 5


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class ShareLine(BaseModel):
    id: int
    line: str
    active: bool


class ShareState(FlowState):
    shares: list[ShareLine] = Field(default_factory=list)
    link: str = ""  # the link just made: shown once


class Sh(StrEnum):
    """The steps of /share."""

    LIST = "list"


async def share_command(ctx: Ctx, args: str) -> None:
    await ctx.start("share", ShareState(), Sh.LIST)


def _line(share: PackShare, now: datetime) -> ShareLine:
    made = long_day(_aware(share.created_at).date())
    opened = share.openings or []
    seen = (
        f"opened {plural(len(opened), 'time')}, last {long_day(datetime.fromisoformat(opened[-1]).date())}"
        if opened
        else "not opened yet"
    )
    if share.revoked_at is not None:
        state, active = "revoked", False
    elif _aware(share.expires_at) <= now:
        state, active = f"expired {long_day(_aware(share.expires_at).date())}", False
    else:
        state, active = f"works until {long_day(_aware(share.expires_at).date())}", True
    return ShareLine(id=share.id, line=f"Link made {made}: {state}; {seen}", active=active)


async def load(ctx: Ctx, s: ShareState) -> None:
    rows = await ctx.db.execute(
        select(PackShare).where(PackShare.user_id == ctx.user.id).order_by(PackShare.created_at.desc()).limit(10)
    )
    s.shares = [_line(r, ctx.now) for r in rows.scalars()]


async def _prompt(ctx: Ctx, s: ShareState) -> str:
    made = await ctx.db.get(PackChoice, ctx.user.id)
    lines = ["<b>Share your pack with your appraiser</b>"]
    if s.link:
        lines += [
            "",
            f"Your new link: {s.link}",
            "Send it to your appraiser. Whoever opens it gets your pack in Telegram (the copy you kept, if you "
            "keep one, else your current pack), for 30 days "
            "or until you revoke it. Copy it now: I keep only a fingerprint of it, so I can't show it again.",
        ]
    if made is None or made.made_at is None:
        lines += ["", "Make your pack first with /pack: a link delivers it only once it has been made."]
    lines += ["", *(f"• {x.line}" for x in s.shares)] if s.shares else ["", "No links yet."]
    return "\n".join(lines)


def _buttons(ctx: Ctx, s: ShareState) -> Rows:
    made = {x.id: x.line.split(":")[0].removeprefix("Link made ") for x in s.shares}
    revoke = [[Button(f"Revoke the link made {made[x.id]}", "revoke", str(x.id))] for x in s.shares if x.active]
    return [[Button("Make a new link", "new")], *revoke, [Button("Done", "done")]]


async def new_link(ctx: Ctx, s: ShareState, arg: str) -> None:
    if sum(x.active for x in s.shares) >= MAX_ACTIVE:
        ctx.say(f"You have {MAX_ACTIVE} links working already: revoke one first.")
        return
    token = secrets.token_urlsafe(24)
    ctx.db.add(
        PackShare(
            user_id=ctx.user.id,
            token_hash=token_hash(token),
            created_at=ctx.now,
            expires_at=ctx.now + LIFETIME,
            openings=[],
        )
    )
    await ctx.db.flush()
    name = ctx.engine.bot_username
    s.link = f"https://t.me/{name}?start={PREFIX}{token}" if name else f"/start {PREFIX}{token}"
    await ctx.go(Sh.LIST)


async def revoke(ctx: Ctx, s: ShareState, arg: str) -> None:
    share = await ctx.db.get(PackShare, int(arg)) if arg.isdigit() else None
    if share is not None and share.user_id == ctx.user.id and share.revoked_at is None:
        share.revoked_at = ctx.now
        ctx.say("Revoked: that link no longer works.")
    s.link = ""
    await ctx.go(Sh.LIST)


done = ends("OK. /share shows your links and who opened them any time.")


FLOW = Flow(
    name="share",
    label="share",
    state=ShareState,
    names=Sh,
    steps={Sh.LIST: Step(_prompt, _buttons, {"new": new_link, "revoke": revoke, "done": done}, enter=load)},
)


async def open_share(ctx: Ctx, token: str) -> None:
    """Someone opened a share link: deliver the owner's pack, or say politely why not."""
    share = await ctx.db.scalar(select(PackShare).where(PackShare.token_hash == token_hash(token)))
    if share is None:
        ctx.say("That link doesn't work. Please ask the person who sent it for a new one.")
        return
    if share.revoked_at is not None:
        ctx.say("That link has been withdrawn by the person who shared it. Please ask them for a new one.")
        return
    if _aware(share.expires_at) <= ctx.now:
        ctx.say(
            f"That link expired on {long_day(_aware(share.expires_at).date())}. "
            "Please ask the person who shared it for a new one."
        )
        return
    owner = await ctx.db.get(User, share.user_id)
    made = await ctx.db.get(PackChoice, share.user_id)
    if owner is None or made is None or made.made_at is None:
        ctx.say("The pack behind this link isn't ready yet. Please try the link again later.")
        return
    share.openings = [*(share.openings or []), ctx.now.astimezone(UTC).isoformat()]
    copy = await pack_copy.kept(ctx.db, owner.id)
    if copy is not None:  # the owner keeps a copy: that very PDF, not made again
        ctx.say(
            "Here is the appraisal pack that was shared with you through LeadCoach "
            f"(the PDF as it was {pack_copy.made_words(copy).split(',')[0]}).",
            attachment=pack_copy.attachment(ctx.cipher, copy, caption="Appraisal pack"),
        )
        return
    choices = await load_choices(ctx.db, ctx.cipher, owner)
    data = await gather(
        ctx.db,
        ctx.catalogue,
        ctx.cipher,
        owner,
        ctx.now,
        ctx.engine.appraisal_round,
        choices.start,
        ctx.engine.feedback_min_raters,
    )
    apply_choices(data, choices.name, choices.objectives, review_date(owner, ctx.now, ctx.engine.appraisal_round))
    ctx.say("Here is the appraisal pack that was shared with you through LeadCoach.")
    send_pack(ctx, data)


def register(engine: Engine) -> None:
    engine.flow(FLOW)
    engine.command("share", share_command, Kind.SWITCH)
