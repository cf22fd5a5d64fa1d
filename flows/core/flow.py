"""How flows are declared: a typed state, named steps (prompt, buttons, what typed text does), and
the per-event context handlers work with. The engine (``flows/core/engine.py``) runs them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum, StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from flows.core.crypto import Cipher
from flows.core.replies import Attachment, Button, Reply
from flows.store.models import User
from frameworks.catalogue import Catalogue
from frameworks.lookup import LookupIndex

if TYPE_CHECKING:
    from flows.core.engine import Engine


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
TextAction = Callable[["Ctx", S, str], Awaitable[None]]
Prompt = Callable[["Ctx", S], Awaitable[str] | str]  # plain, or reading the database
Rows = list[list[Button]]
Buttons = Callable[["Ctx", S], Rows]
Enter = Callable[["Ctx", S], Awaitable[None]]


def _no_screen(state: Any) -> str:
    return ""


def _no_buttons(ctx: Ctx, state: Any) -> Rows:
    return []


@dataclass
class Step(Generic[S]):
    """One step, declared. ``prompt`` is what it says (it may read the database); ``buttons`` are its
    buttons, made from the state and the user alone (a plain function: no database, no side effects), so
    the engine knows them without running anything, and typed labels, numbers and "back"/"skip"/"later"
    work at every step; ``actions`` are what the buttons do; ``text`` is what other typed text does (None:
    the step wants a button). ``enter`` runs when the step is entered (``ctx.go``), to load what its
    prompt and buttons show into the state. ``numeric``: typed numbers are answers (minutes, hours), not
    the number of a button. ``free``: typed text is an answer in the user's words (a reflection), so only a
    button's whole label or a control word ("skip") presses it; elsewhere typed text that is not a button
    (a search) goes to ``text``. ``screen`` tells prompts of one step apart (e.g. the question number), so a
    button from an earlier question is stale. ``keep`` keeps the message a button was pressed on (e.g. a
    summary) instead of replacing it with the next prompt. ``stores``: the state field the step fills,
    checked against the state model when the flow is declared."""

    prompt: Prompt[S] | str
    buttons: Buttons[S] = _no_buttons
    actions: dict[str, Action[S]] = field(default_factory=dict)
    text: TextAction[S] | None = None
    enter: Enter[S] | None = None
    numeric: bool = False
    free: bool = False  # typed text is an answer to keep: only a whole label or a word like "skip" is a button
    append: TextAction[S] | None = None  # adds the rest of a long answer Telegram split in two
    screen: Callable[[S], str] = _no_screen
    keep: bool = False
    stores: str = ""
    goes_to: tuple[str, ...] = ()  # steps its declared transitions name, checked when the flow is declared


def _no_progress(state: Any) -> str | None:
    return None


@dataclass
class Flow(Generic[S]):
    """A declared conversation. ``names`` enumerates its steps (so a mistyped step name fails in the type
    checker, and a step declared but not named, or named but not declared, fails at import). ``progress``
    says how far the user got ("2/3"), or None when there is no work to lose; a ``parkable`` flow with
    progress is put aside (not dropped) when interrupted."""

    name: str
    label: str  # "reflection": "You have an unfinished reflection (2/3)"
    state: type[S]
    names: type[StrEnum]
    steps: dict[str, Step[S]]
    progress: Callable[[S], str | None] = _no_progress
    parkable: bool = False
    resume_command: str = ""  # where a parked draft is offered again, e.g. "reflect"

    def __post_init__(self) -> None:
        declared, named = set(self.steps), {str(n) for n in self.names}
        if declared != named:
            raise TypeError(f"flow {self.name}: steps {sorted(declared ^ named)} are not both named and declared")
        for name, step in self.steps.items():
            if step.stores and step.stores not in self.state.model_fields:
                raise TypeError(f"flow {self.name}, step {name}: no state field {step.stores!r}")
            if missing := [g for g in step.goes_to if g not in named]:
                raise TypeError(f"flow {self.name}, step {name}: goes to undeclared steps {missing}")


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
    piece: dict[str, str] | None = None  # the step a long text just answered, and when (it may come in parts)
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
        """Move to a step of the current flow, enter it (its ``enter`` loads what it shows) and ask it."""
        self.step = step
        declared = self.engine.flows[self.flow or ""].steps[step]
        if declared.enter is not None and self.state is not None:
            await declared.enter(self, self.state)
            if self.step != step:  # entering moved on (e.g. nothing left to ask here)
                return
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
        keep_older = self.parked is not None and self.engine.work(self) is None  # nothing here worth more
        if self.flow is not None and step is not None and self.state is not None and not keep_older:
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
