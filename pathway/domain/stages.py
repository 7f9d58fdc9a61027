"""The Three Conversations pathway as one declarative table, checked by one shared machine.

Read TRANSITIONS aloud and you have the pathway: a person makes contact, is listened to
and connected (conversation 1), is worked with intensively in a crisis (conversation 2),
is helped to build a good life (conversation 3), and their episode closes with an outcome.
Every conversation has a ``waiting`` stage (nobody allocated yet) and an ``active`` one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from transitions import MachineError
from transitions.extensions import HierarchicalMachine

from pathway.errors import InvalidTransition, ValidationError

CONVERSATIONS = ("c1", "c2", "c3")

STATES = [
    "contact",
    {"name": "c1", "children": ["waiting", "active"]},
    {"name": "c2", "children": ["waiting", "active"]},
    {"name": "c3", "children": ["waiting", "active"]},
    "closed",
]

# Stage names as back ends see them: nested states joined by the machine's "_" separator.
STAGES = (
    "contact",
    "c1_waiting",
    "c1_active",
    "c2_waiting",
    "c2_active",
    "c3_waiting",
    "c3_active",
    "closed",
)
WAITING = ("c1_waiting", "c2_waiting", "c3_waiting")
ACTIVE = ("c1_active", "c2_active", "c3_active")
# Stages with a wait clock: the front door (from the contact to its decision) and the queues.
CLOCKED = ("contact", *WAITING)
OPEN = tuple(s for s in STAGES if s != "closed")
# A crisis can arise from any open stage that is not already a crisis.
CRISIS_FROM = ("contact", "c1_waiting", "c1_active", "c3_waiting", "c3_active")

TRIGGERS = ("resolve", "refer", "allocate", "release", "crisis", "stabilise", "plan", "close")

# Order matters: the machine takes the first transition whose conditions hold.
TRANSITIONS = [
    # Contact: resolved at the front door, or referred on to conversation 1.
    {"trigger": "resolve", "source": "contact", "dest": "closed", "conditions": "has_outcome"},
    {"trigger": "refer", "source": "contact", "dest": "c1_waiting"},
    # A worker is allocated (self-allocation or by a manager), or released back to the queue.
    {"trigger": "allocate", "source": "c1_waiting", "dest": "c1_active", "conditions": "has_worker"},
    {"trigger": "allocate", "source": "c2_waiting", "dest": "c2_active", "conditions": "has_worker"},
    {"trigger": "allocate", "source": "c3_waiting", "dest": "c3_active", "conditions": "has_worker"},
    {"trigger": "release", "source": "c1_active", "dest": "c1_waiting"},
    {"trigger": "release", "source": "c2_active", "dest": "c2_waiting"},
    {"trigger": "release", "source": "c3_active", "dest": "c3_waiting"},
    # Crisis jumps every queue; the allocated worker may keep the person through it.
    {"trigger": "crisis", "source": ["c1_active", "c3_active"], "dest": "c2_active",
     "conditions": "keeps_worker"},
    {"trigger": "crisis", "source": list(CRISIS_FROM), "dest": "c2_waiting"},
    # Crisis resolved: back to listening and connecting, or on to long-term support.
    {"trigger": "stabilise", "source": "c2_active", "dest": "c3_waiting", "conditions": "needs_long_term"},
    {"trigger": "stabilise", "source": "c2_active", "dest": "c1_active"},
    {"trigger": "plan", "source": "c1_active", "dest": "c3_waiting"},
    # Any open episode can close, always with an outcome.
    {"trigger": "close", "source": list(OPEN), "dest": "closed", "conditions": "has_outcome"},
]

# What a guard needs, said the way the error should say it.
GUARD_MESSAGES = {
    "has_outcome": "an outcome is required",
    "has_worker": "a worker is required",
}


@dataclass
class Probe:
    """What a trigger is asked to do: the plain object bound to the machine while it checks.

    A SQLModel row cannot be the machine's model (the machine adds trigger methods and
    pydantic refuses unknown attributes), and binding rows one by one is linear in the
    number bound, so a small probe is bound just for the check and unbound at once.
    """

    stage: str
    outcome: str | None = None
    worker: str | None = None
    keep_worker: bool = False
    to: str | None = None  # stabilise: "c1" (default) or "c3"

    def has_outcome(self) -> bool:
        return bool(self.outcome)

    def has_worker(self) -> bool:
        return bool(self.worker)

    def keeps_worker(self) -> bool:
        return self.keep_worker

    def needs_long_term(self) -> bool:
        return self.to == "c3"


MACHINE = HierarchicalMachine(
    model=None,
    states=STATES,
    transitions=TRANSITIONS,
    initial="contact",
    auto_transitions=False,
    model_attribute="stage",
)
_lock = threading.Lock()


def allowed_triggers(stage: str) -> list[str]:
    """Triggers that have a transition out of ``stage``, in the table's order."""
    if stage not in STAGES:
        raise ValidationError(f"unknown stage {stage!r}; stages are: {', '.join(STAGES)}")
    return [t for t in TRIGGERS if t in MACHINE.get_triggers(stage)]


# The answer depends only on these facts of a move, so each allowed move is asked of the machine
# once per process: binding a probe to the machine costs ~0.2 ms, a bulk import folds millions.
_ALLOWED: dict[tuple, str] = {}


def next_stage(move: Probe, trigger: str) -> str:
    """The stage ``trigger`` moves to from ``move.stage``, or a PathwayError saying why not."""
    key = (move.stage, trigger, move.has_outcome(), move.has_worker(), bool(move.keep_worker), move.to)
    dest = _ALLOWED.get(key)
    if dest is None:
        dest = _ALLOWED[key] = _ask_machine(move, trigger)
    return dest


def _ask_machine(move: Probe, trigger: str) -> str:
    if trigger not in TRIGGERS:
        raise ValidationError(
            f"unknown trigger {trigger!r}; triggers are: {', '.join(TRIGGERS)}",
            field="trigger",
        )
    allowed = allowed_triggers(move.stage)
    if trigger not in allowed:
        raise InvalidTransition(move.stage, trigger, allowed)
    if trigger == "stabilise" and move.to not in (None, "c1", "c3"):
        raise ValidationError(f"stabilise goes to 'c1' or 'c3', not {move.to!r}", field="to")
    with _lock:
        MACHINE.add_model(move, initial=move.stage)
        try:
            moved = move.trigger(trigger)
        except MachineError as exc:  # pragma: no cover - allowed_triggers already checked
            raise InvalidTransition(move.stage, trigger, allowed) from exc
        finally:
            dest = move.stage
            MACHINE.remove_model(move)
    if not moved:
        failed = [c.func for t in MACHINE.events[trigger].transitions[move.stage] for c in t.conditions
                  if c.func in GUARD_MESSAGES and not getattr(move, c.func)()]
        message = GUARD_MESSAGES[failed[0]] if failed else "the move's conditions do not hold"
        raise ValidationError(f"{trigger} from {move.stage}: {message}",
                              field="outcome" if failed[:1] == ["has_outcome"] else "worker")
    return dest


def conversation(stage: str) -> str | None:
    """'c1', 'c2' or 'c3' for a conversation stage, else None."""
    head = stage.split("_", 1)[0]
    return head if head in CONVERSATIONS else None


def mermaid() -> str:
    """The pathway drawn by transitions from the same table, as a Mermaid state diagram."""
    from transitions.extensions import HierarchicalGraphMachine

    class _Drawing:
        pass

    drawing = _Drawing()
    HierarchicalGraphMachine(model=drawing, states=STATES, transitions=TRANSITIONS, initial="contact",
                             auto_transitions=False, graph_engine="mermaid", show_conditions=True,
                             title="Three Conversations pathway")
    source = drawing.get_graph().draw(None)
    # Drop the styling that marks the drawing model's own current state: the diagram is of the table.
    kept = [line.rstrip() for line in source.splitlines()
            if not line.strip().startswith(("classDef", "Class "))]
    return "\n".join(kept).strip() + "\n"
