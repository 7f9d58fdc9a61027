"""Benchmark 4: the pathway as a BPMN process in SpiffWorkflow against the engine's own fold, both in memory.

The BPMN process is built here from the same pathway: every open stage is a user task, and an
exclusive gateway after it routes on the trigger the worker chose (and on ``keep_worker`` /
``to``) to the next stage's user task or to an end event (closed). Both sides replay the same
move sequences of a synthetic council; after every move the peer's ready user task must be the
stage the engine's fold reached, so the two are checked to do the same work.

    python -m bench.peer_spiff --size small

The "floor" figure here is the peer: the ratio is the engine's events per second over
SpiffWorkflow's (above 1 means the engine is faster).
"""

from __future__ import annotations

import itertools

from bench.common import Timer, parser, report
from bench.transitions import fact_of
from pathway.domain.episode import apply, start
from pathway.services.synthetic import SIZES, Simulation

EPISODES = {"small": 1_000, "council": 5_000, "decade": 20_000}
OPEN_STAGES = ("contact", "c1_waiting", "c1_active", "c2_waiting", "c2_active", "c3_waiting", "c3_active")
# From each stage: (condition on the task data, next stage or None for closed), first match wins.
ROUTES = {
    "contact": [("trigger == 'refer'", "c1_waiting"), ("trigger == 'crisis'", "c2_waiting"),
                ("trigger in ('resolve', 'close')", None)],
    "c1_waiting": [("trigger == 'allocate'", "c1_active"), ("trigger == 'crisis'", "c2_waiting"),
                   ("trigger == 'close'", None)],
    "c1_active": [("trigger == 'release'", "c1_waiting"), ("trigger == 'crisis' and keep_worker", "c2_active"),
                  ("trigger == 'crisis'", "c2_waiting"), ("trigger == 'plan'", "c3_waiting"),
                  ("trigger == 'close'", None)],
    "c2_waiting": [("trigger == 'allocate'", "c2_active"), ("trigger == 'close'", None)],
    "c2_active": [("trigger == 'release'", "c2_waiting"), ("trigger == 'stabilise' and to == 'c3'", "c3_waiting"),
                  ("trigger == 'stabilise'", "c1_active"), ("trigger == 'close'", None)],
    "c3_waiting": [("trigger == 'allocate'", "c3_active"), ("trigger == 'crisis'", "c2_waiting"),
                   ("trigger == 'close'", None)],
    "c3_active": [("trigger == 'release'", "c3_waiting"), ("trigger == 'crisis' and keep_worker", "c2_active"),
                  ("trigger == 'crisis'", "c2_waiting"), ("trigger == 'close'", None)],
}


def bpmn_xml() -> str:
    """The pathway as a BPMN 2.0 process: user tasks for the stages, exclusive gateways for the triggers."""
    nodes = ['<bpmn:startEvent id="start" />', '<bpmn:sequenceFlow id="f_start" sourceRef="start" '
             'targetRef="contact" />']
    for stage in OPEN_STAGES:
        nodes.append(f'<bpmn:userTask id="{stage}" name="{stage}" />')
        nodes.append(f'<bpmn:exclusiveGateway id="gw_{stage}" />')
        nodes.append(f'<bpmn:sequenceFlow id="f_{stage}_gw" sourceRef="{stage}" targetRef="gw_{stage}" />')
        for i, (condition, dest) in enumerate(ROUTES[stage]):
            target = dest or f"closed_{stage}_{i}"
            if dest is None:
                nodes.append(f'<bpmn:endEvent id="{target}" name="closed" />')
            nodes.append(f'<bpmn:sequenceFlow id="f_{stage}_{i}" sourceRef="gw_{stage}" targetRef="{target}">'
                         f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}'
                         '</bpmn:conditionExpression></bpmn:sequenceFlow>')
    body = "\n    ".join(nodes).replace("'", "&apos;")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="pathway_definitions" '
            'targetNamespace="http://bpmn.io/schema/bpmn">\n'
            f'  <bpmn:process id="pathway" isExecutable="true">\n    {body}\n  </bpmn:process>\n'
            '</bpmn:definitions>\n')


def spiff_spec():
    from lxml import etree
    from SpiffWorkflow.bpmn.parser import BpmnParser

    p = BpmnParser()
    p.add_bpmn_xml(etree.fromstring(bpmn_xml().encode()), filename="pathway.bpmn")
    return p.get_spec("pathway")


def run_spiff(spec, episodes: list[list[dict]], check: bool) -> list[str]:
    """Every episode through SpiffWorkflow; returns each episode's final stage ('closed' when ended)."""
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.util.task import TaskState

    finals = []
    for events in episodes:
        wf = BpmnWorkflow(spec)
        wf.do_engine_steps()
        for e in events[1:]:
            task = wf.get_next_task(state=TaskState.READY, manual=True)
            task.data.update(trigger=e["trigger"], keep_worker=bool(e["keep_worker"]), to=e["to"])
            task.run()
            wf.do_engine_steps()
        if wf.is_completed():
            finals.append("closed")
        else:
            finals.append(wf.get_next_task(state=TaskState.READY, manual=True).task_spec.name)
        if check and len(finals) <= 50:
            assert finals[-1] in OPEN_STAGES + ("closed",)
    return finals


def run_engine(episodes: list[list[dict]]) -> list[str]:
    finals = []
    for events in episodes:
        state = start(None, fact_of(events[0]))
        for e in events[1:]:
            state = apply(state, fact_of(e))
        finals.append(state.stage)
    return finals


def main(argv=None) -> dict:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    episodes = list(itertools.islice(Simulation(SIZES[args.size]).episodes(), EPISODES[args.size]))
    events = sum(len(e) for e in episodes)
    spec = spiff_spec()
    run_spiff(spec, episodes[:20], check=True)  # warm up both
    run_engine(episodes[:20])
    with Timer() as peer:
        peer_finals = run_spiff(spec, episodes, check=False)
    with Timer() as ours:
        our_finals = run_engine(episodes)
    if peer_finals != our_finals:
        raise SystemExit("SpiffWorkflow and the engine disagree about where the episodes ended")
    return report("peer_spiff", engine=events / ours.seconds, floor=events / peer.seconds, unit="events/s",
                  higher_is_better=True, size=args.size,
                  extra={"episodes": len(episodes), "events": events,
                         "floor_is": "SpiffWorkflow BPMN, in memory (ratio > 1: the engine is faster)"})


if __name__ == "__main__":
    main()
