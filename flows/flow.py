"""How flows are declared: a typed state, named steps (prompt, buttons, what typed text does), and
the per-event context handlers work with. The engine (``flows/engine.py``) runs them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from flows.crypto import Cipher
from flows.models import User
from flows.replies import Attachment, Button, Reply
from frameworks.catalogue import Catalogue
from frameworks.lookup import LookupIndex

if TYPE_CHECKING:
    from flows.engine import Engine


INTERRUPT_STEP = "__interrupt"  # the engine's own step: what to do with a flow that has work


class FlowError(Exception):
    """A problem the user should hear about, in their words."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FlowState(BaseModel):
    """A flow's stored state. Bump ``schema_version`` when its shape changes: a stored state of another
    version (or one that doesn't validate) is dropped politely rather than misread."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    schema_version: ClassVar[int] = 1


S = TypeVar("S", bound=FlowState)
Action = Callable[["Ctx", S, str], Awaitable[None]]
Ask = Callable[["Ctx", S], Awaitable[None]]
TextAction = Callable[["Ctx", S, str], Awaitable[None]]


def _no_screen(state: Any) -> str:
    return ""


@dataclass
class Step(Generic[S]):
    """One step: ``ask`` says its prompt; ``actions`` are its buttons; ``text`` is what typed text does
    (None: the step wants a button, so typed text re-asks). ``screen`` tells prompts of one step apart
    (e.g. the question number), so a button from an earlier question is stale. ``keep`` keeps the
    message a button was pressed on (e.g. a summary) instead of replacing it with the next prompt."""

    ask: Ask[S]
    actions: dict[str, Action[S]] = field(default_factory=dict)
    text: TextAction[S] | None = None
    screen: Callable[[S], str] = _no_screen
    keep: bool = False


def _no_progress(state: Any) -> str | None:
    return None


@dataclass
class Flow(Generic[S]):
    """A declared conversation. ``progress`` says how far the user got ("2/3"), or None when there is no
    work to lose; a ``parkable`` flow with progress is put aside (not dropped) when interrupted."""

    name: str
    label: str  # "reflection": "You have an unfinished reflection (2/3)"
    state: type[S]
    steps: dict[str, Step[S]]
    progress: Callable[[S], str | None] = _no_progress
    parkable: bool = False
    resume_command: str = ""  # where a parked draft is offered again, e.g. "reflect"


class Kind(Enum):
    """How a command or a global button relates to a flow in progress."""

    OVERLAY = "overlay"  # runs on top (help, lookup): the flow carries on afterwards
    SWITCH = "switch"  # starts something else: a flow with work is continued, put aside or discarded first
    ALWAYS = "always"  # handled whatever the state (/cancel)


Handler = Callable[["Ctx", str], Awaitable[None]]


@dataclass
class Command:
    name: str
    handler: Handler
    kind: Kind


@dataclass
class Ctx:
    """Everything a handler needs for one event, and what it says back."""

    session: Callable[[], AsyncSession]  # the event's ORM session (``db``), opened when first asked for
    user: User
    engine: Engine
    now: datetime
    flow: str | None = None
    step: str | None = None
    state: FlowState | None = None
    replies: list[Reply] = field(default_factory=list)
    notice: str | None = None
    erased: bool = False
    update_id: int | None = None  # the update being handled, when it came from Telegram
    pending: dict[str, str] | None = None  # what was asked for while a flow was in progress
    parked: tuple[str, str, FlowState] | None = None  # (flow, step, state) put aside

    @property
    def db(self) -> AsyncSession:
        """The database, in the event's transaction."""
        return self.session()

    @property
    def catalogue(self) -> Catalogue:
        return self.engine.catalogue

    @property
    def index(self) -> LookupIndex:
        return self.engine.index

    @property
    def cipher(self) -> Cipher:
        return self.engine.cipher

    @property
    def ttl_days(self) -> int:
        return self.engine.session_ttl.days

    def say(self, text: str, buttons: list[list[Button]] | None = None, attachment: Attachment | None = None) -> None:
        self.replies.append(Reply(text, buttons or [], attachment))

    async def start(self, flow: str, state: FlowState, step: str) -> None:
        """Begin a flow (replacing any other: callers check for work first) and ask its first step."""
        self.flow, self.state = flow, state
        await self.go(step)

    async def go(self, step: str) -> None:
        """Move to a step of the current flow and ask it."""
        self.step = step
        await self.engine.ask(self)

    def finish(self) -> None:
        self.flow = self.step = None
        self.state = None

    def park(self) -> None:
        """Put the current flow aside (one draft at a time); its ``resume_command`` offers it again. While
        the user is being asked what to do with it (the interrupt), the step it stopped at is kept."""
        step = self.step
        if step == INTERRUPT_STEP:
            step = (self.pending or {}).get("step")
        if self.flow is not None and step is not None and self.state is not None:
            self.parked = (self.flow, step, self.state)
        self.pending = None
        self.finish()

    def parked_state(self, flow: str) -> FlowState | None:
        return self.parked[2] if self.parked is not None and self.parked[0] == flow else None

    async def unpark(self) -> None:
        """Carry on with the parked draft where it was left."""
        if self.parked is not None:
            flow, step, state = self.parked
            self.parked = None
            await self.start(flow, state, step)
