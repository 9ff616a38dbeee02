"""The training loop, over a pack of runs (a single run is a pack of one): every member steps together
(`pack_step`), each is checkpointed, saved and finished as an ordinary run of its own, a member whose loss turns
non-finite is stored as diverged and leaves the pack, the others go on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from ..compile import Experiment, compile_experiment
from ..progress import ProgressFn, TrainingProgress
from ..spec import Spec
from ..store import RunWriter
from .member import Member, RunResult
from .step import MemberStreams, generator_state, pack_step


@dataclass(frozen=True)
class MemberRun:
    """One run to train in a pack: its compiled experiment, its store writer and whether it resumes."""

    experiment: Experiment
    """The compiled experiment (`compile_members` compiles it and captures torch's default generator as compiling
    left it, which is where the run alone would start drawing)."""
    writer: RunWriter
    """Its run group."""
    resume: bool = False
    """Continue from its saved training state (`modsim resume`), instead of starting."""
    progress: TrainingProgress | ProgressFn | None = None
    """Where its progress is shown."""


@dataclass(frozen=True)
class MemberOutcome:
    """How one member of a pack ended: its result, or the error that ended it (the run is marked accordingly)."""

    result: RunResult | None
    """The finished run's result (None when it did not finish)."""
    error: BaseException | None = None
    """What stopped it: RunDiverged, an interruption, a failure (None when it finished)."""


def check_packable(specs: Sequence[Spec]) -> None:
    """ValueError unless the runs can step together: one step count, one thread count, one device, one task
    schedule (the transient without gradient)."""
    first = specs[0]
    for spec in specs[1:]:
        for what, a, b in (("training.steps", first.training.steps, spec.training.steps),
                           ("training.threads", first.training.threads, spec.training.threads),
                           ("training.device", first.training.device, spec.training.device),
                           ("task.grad_from", first.task.grad_from, spec.task.grad_from)):
            if a != b:
                raise ValueError(f"runs {first.name!r} and {spec.name!r} cannot share a pack: {what} is {a} and {b}")


def train_pack(runs: Sequence[MemberRun | tuple[Experiment, RunWriter]],
               streams: MemberStreams | None = None) -> list[MemberOutcome]:
    """Train the runs together, each written to its own run group exactly as if it trained alone (the same numbers,
    to the bit, on a CPU at a fixed thread count). torch's default generator must hold each member's stream when
    its experiment was compiled: pass the `streams` captured then (`compile_members` does both), or compile and
    train one run. A member that diverges or fails is marked so and leaves the pack; an interruption (Ctrl-C,
    SIGTERM) or an error of the shared step marks every member still training, then is raised."""
    runs = [r if isinstance(r, MemberRun) else MemberRun(*r) for r in runs]
    check_packable([r.experiment.spec for r in runs])
    if streams is None:
        if len(runs) > 1:
            raise ValueError("a pack of several runs needs each member's random streams: compile them with "
                             "modsim.train.compile_members")
        streams = MemberStreams(1)
    threads = torch.get_num_threads()
    torch.set_num_threads(runs[0].experiment.spec.training.threads)
    try:
        return _train_pack([Member(r.experiment, r.writer, r.progress, r.resume) for r in runs], streams)
    finally:
        torch.set_num_threads(threads)


def compile_members(specs: Sequence[Spec], device: torch.device | None = None
                    ) -> tuple[list[Experiment], MemberStreams]:
    """Compile each spec with torch's default generator where it would be for a run alone, and keep each
    member's generator state (`MemberStreams`)."""
    experiments, states = [], []
    for spec in specs:
        experiments.append(compile_experiment(spec, device))
        states.append(generator_state())
    return experiments, MemberStreams.taken_one_by_one(states)


INTERRUPTIONS = (KeyboardInterrupt, SystemExit)
"""What stops a whole pack and leaves its members resumable: Ctrl-C, SIGTERM or SIGHUP through the command line,
and a process asked to exit (a batch scheduler requeueing a job)."""


def _train_pack(members: list[Member], streams: MemberStreams) -> list[MemberOutcome]:
    outcomes: dict[int, MemberOutcome] = {}
    live: list[int] = []

    def leave(e: int, exc: BaseException) -> None:
        members[e].fail(exc)
        outcomes[e] = MemberOutcome(None, exc)

    def stop_all(exc: BaseException) -> None:
        """Mark every member that has not ended as `exc` ends it (an interruption, a failed shared step)."""
        for e in range(len(members)):
            if e not in outcomes:
                leave(e, exc)

    try:
        for e, member in enumerate(members):
            try:
                with streams.use(e):
                    member.begin()  # a resumed member's restored state holds its own generator, captured on leaving
                live.append(e)
            except Exception as exc:
                leave(e, exc)
        steps = members[0].steps
        first = min((members[e].done for e in live), default=steps)
        for step in range(first + 1, steps + 1):
            if not live:
                break
            active = [e for e in live if members[e].done < step]  # one resumed further on waits for the others
            if not active:
                continue
            values = pack_step([members[e].exp for e in active], streams, active)
            for e, v in zip(active, values):
                try:
                    if isinstance(v, Exception):  # this member's own step failed: it alone stops
                        raise v
                    with streams.use(e):
                        members[e].after_step(step, v)
                except OSError:  # the store refused a write (a full disk): every member would meet it
                    raise
                except Exception as exc:  # diverged, or its own checkpoint failed
                    live = [x for x in live if x != e]
                    leave(e, exc)
        for e in live:
            try:
                with streams.use(e):
                    outcomes[e] = MemberOutcome(members[e].finish())
            except Exception as exc:
                leave(e, exc)
    except (Exception, *INTERRUPTIONS) as exc:  # an interruption or a failed shared step: every member stops
        stop_all(exc)
        raise
    return [outcomes[e] for e in range(len(members))]


def train(spec: Spec, writer: RunWriter, progress: TrainingProgress | ProgressFn | None = None,
          experiment: Experiment | None = None, resume: bool = False) -> RunResult:
    """Train a spec, writing everything to `writer`; raises RunDiverged on NaN/inf (run kept). With
    `resume`, continue the run in `writer` from its saved state: the result is bit-identical to a run that
    was never interrupted. torch's thread count is the spec's while it trains (then restored). A pack of one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(spec.training.threads)
    try:
        exp = experiment or compile_experiment(spec)
    finally:
        torch.set_num_threads(threads)
    outcome, = train_pack([MemberRun(exp, writer, resume, progress)])
    if outcome.error is not None:
        raise outcome.error
    return outcome.result


__all__ = ["MemberOutcome", "MemberRun", "check_packable", "compile_members", "train", "train_pack"]
