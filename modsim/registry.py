"""One registry per kind family: cells, tasks, constraints (loss terms), metrics, loggers and executors.

Each entry pairs a short `kind` name with what it is made of. Built-in entries are import strings
(`"module:attribute"`) resolved on first use, so validating a spec never imports torch; plugins register
objects directly, either by calling the `register_*` functions of `modsim` or from an entry point of
their package (groups `modsim.cells`, `modsim.tasks`, `modsim.constraints`, `modsim.metrics`,
`modsim.loggers`, `modsim.executors`; the entry point's value names a module, imported for its
registrations, or a callable, called with no arguments; its name is only a label in warnings, the kind's
name comes from what it registers). The spec's discriminated unions and the JSON Schema are built from the
registries, so a registered kind is valid in a spec at once.

Entry points are loaded lazily, by the first lookup (`get`, `names`, `in`) or spec validation after the
built-ins, never while a modsim module is still being imported (a plugin importing a half-initialised
modsim module would fail), so the order in which modsim's modules are imported does not matter.
"""

from __future__ import annotations

import sys
import threading
import warnings
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any, Callable, Generic, Iterator, TypeVar

T = TypeVar("T")


def resolve(target: Any) -> Any:
    """The object an import string `"package.module:attribute"` names (other objects are returned as is)."""
    if not isinstance(target, str):
        return target
    module, _, attribute = target.partition(":")
    obj = import_module(module)
    for part in attribute.split(".") if attribute else []:
        obj = getattr(obj, part)
    return obj


@dataclass
class Kind:
    """A registered kind: its spec model (pydantic, a `kind: Literal[name]` field) and what it builds."""

    name: str
    """The `kind:` value that selects it in a spec."""
    spec: Any
    """The spec model class, or an import string naming it."""
    impl: Any = None
    """What the spec builds (a torch cell class, a task data builder, a loss-term class), or an import
    string naming it; resolved on first use."""

    def spec_class(self) -> Any:
        """The spec model class."""
        self.spec = resolve(self.spec)
        return self.spec

    def implementation(self) -> Any:
        """What the spec builds: the torch cell class, the data builder or the loss-term class."""
        self.impl = resolve(self.impl)
        return self.impl


class Registry(Generic[T]):
    """Named entries of one family, filled by built-ins, entry points and `register`."""

    def __init__(self, family: str, builtins: dict[str, T]):
        self.family = family
        """Family name; entry points are read from the group `modsim.<family>`."""
        self._entries: dict[str, T] = dict(builtins)

    def register(self, name: str, entry: T, replace: bool = False) -> T:
        """Add an entry; a name already taken raises ValueError unless `replace`."""
        if not replace and name in self._entries:
            raise ValueError(f"{self.family}: a kind named {name!r} is already registered")
        self._entries[name] = entry
        _changed()
        return entry

    def unregister(self, name: str) -> None:
        """Remove an entry (tests use it to undo a registration)."""
        self._entries.pop(name, None)
        _changed()

    def get(self, name: str) -> T:
        """The entry of `name`; KeyError naming the known ones otherwise."""
        load_plugins()
        try:
            entry = self._entries[name]
        except KeyError:
            raise KeyError(f"unknown {self.family} kind {name!r}; known: {sorted(self._entries)}") from None
        if isinstance(entry, str):  # a built-in named by its import string
            entry = self._entries[name] = resolve(entry)
        return entry

    def names(self) -> list[str]:
        """Registered names, in registration order (built-ins first)."""
        load_plugins()
        return list(self._entries)

    def __iter__(self) -> Iterator[T]:
        return iter([self.get(n) for n in self.names()])

    def current(self) -> dict[str, T]:
        """The entries registered so far, without reading entry points (the spec models' unions are built
        from this while their modules import; `load_plugins` rebuilds them afterwards)."""
        return dict(self._entries)

    def __contains__(self, name: str) -> bool:
        load_plugins()
        return name in self._entries


def _kinds(**entries: tuple[str, str]) -> dict[str, Kind]:
    return {name: Kind(name, spec, impl) for name, (spec, impl) in entries.items()}


cells: Registry[Kind] = Registry("cells", _kinds(
    gru=("modsim.spec.cells:GRUCellSpec", "modsim.compile.cells.gru:GRU"),
    rnn=("modsim.spec.cells:RNNCellSpec", "modsim.compile.cells.rnn:RNN"),
    leaky=("modsim.spec.cells:LeakyCellSpec", "modsim.compile.cells.leaky:LeakyRNN"),
    ctrnn=("modsim.spec.cells:CTRNNCellSpec", "modsim.compile.cells.ctrnn:CTRNN"),
))
"""Recurrent cells: spec model -> torch module class (the `Cell` protocol of `modsim.compile.cells`)."""

tasks: Registry[Kind] = Registry("tasks", _kinds(
    lorenz_rossler=("modsim.spec.task:LorenzRosslerTask", "modsim.tasks.chaos:build"),
    flipflop=("modsim.spec.task:FlipFlopTask", "modsim.tasks.flipflop:build"),
    digit_parity=("modsim.spec.task:DigitParityTask", "modsim.tasks.digits:build"),
    perceptual_decision=("modsim.spec.task:PerceptualDecisionTask", "modsim.tasks.cognitive:build"),
    gonogo=("modsim.spec.task:GoNoGoTask", "modsim.tasks.cognitive:build"),
    multitask=("modsim.spec.task:MultiTask", "modsim.tasks.cognitive:build"),
    neurogym=("modsim.spec.task:NeurogymTask", "modsim.tasks.cognitive:build"),
    arrays=("modsim.spec.task:ArrayTask", "modsim.tasks.arrays:build"),
))
"""Tasks: spec model (the `TaskSpec` interface) -> data builder `build(spec, seed) -> TaskData`."""

constraints: Registry[Kind] = Registry("constraints", _kinds(
    mine=("modsim.spec.constraints:MineConstraint", "modsim.compile.losses.mine:MineTerm"),
    l2=("modsim.spec.constraints:L2Constraint", "modsim.compile.losses.penalty:WeightPenalty"),
    l1=("modsim.spec.constraints:L1Constraint", "modsim.compile.losses.penalty:WeightPenalty"),
    engagement=("modsim.spec.constraints:EngagementConstraint", "modsim.compile.losses.engagement:EngagementTerm"),
    club=("modsim.spec.constraints_club:ClubConstraint", "modsim.compile.losses.club:ClubTerm"),
    decorrelation=("modsim.spec.constraints_decorrelation:DecorrelationConstraint",
                   "modsim.compile.losses.decorrelation:DecorrelationTerm"),
    hsic=("modsim.spec.constraints_hsic:HsicConstraint", "modsim.compile.losses.hsic:HsicTerm"),
    rate_l1=("modsim.spec.constraints_rates:RateL1Constraint", "modsim.compile.losses.rates:RateCostTerm"),
    rate_l2=("modsim.spec.constraints_rates:RateL2Constraint", "modsim.compile.losses.rates:RateCostTerm"),
))
"""Constraints: spec model -> `LossTerm` class (`modsim.compile.losses`)."""

metrics: Registry[Any] = Registry("metrics", {name: f"modsim.analysis.metrics:{name}" for name in (
    "r2", "mse", "sign_accuracy", "accuracy", "mi", "q_cor", "q_str", "q_cor_norm", "q_str_norm", "d_out", "d_in",
    "d_cor", "silenced", "activity_sd", "q_mask", "specialisation")} | {
    "dependence_audit": "modsim.analysis.audit:dependence_audit"} | {
    name: f"modsim.analysis.excitation:{name}" for name in ("q_str_excitatory", "q_str_inhibitory", "ei_blocks")})
"""Metrics recorded at checkpoints: name -> `Metric` (`modsim.analysis.metrics`; the dependence audit, recorded
for every run with two or more groups, in `modsim.analysis.audit`; the E/I metrics of networks under Dale's law
in `modsim.analysis.excitation`)."""

loggers: Registry[Kind] = Registry("loggers", _kinds(
    tensorboard=("modsim.spec.loggers:TensorBoardLoggerSpec", "modsim.loggers.tensorboard:TensorBoardLogger"),
    wandb=("modsim.spec.loggers:WandbLoggerSpec", "modsim.loggers.wandb:WandbLogger"),
))
"""Training loggers (`training.loggers`): spec model -> `modsim.Logger` class (`modsim.loggers`)."""

executors: Registry[Any] = Registry("executors", {"local": "modsim.sweep.local:LocalExecutor",
                                                  "ray": "modsim.sweep.ray:RayExecutor",
                                                  "slurm": "modsim.sweep.slurm:SlurmExecutor"})
"""Sweep executors: name -> `Executor` class (or an import string naming it)."""

FAMILIES = {"cells": cells, "tasks": tasks, "constraints": constraints, "metrics": metrics, "loggers": loggers,
            "executors": executors}
"""Every registry by family name (the entry-point group is `modsim.<family>`)."""

_listeners: list[Callable[[], None]] = []
_lock = threading.RLock()
_loading = False
_missed_change = False
_complete = False
"""Whether every installed entry point has been loaded or reported broken (no lookup reads them again)."""
_loaded: set[tuple[str, str, str]] = set()
_failed: set[tuple[str, str, str]] = set()


def on_change(callback: Callable[[], None]) -> None:
    """Call `callback` whenever an entry is added or removed (the spec models rebuild their unions)."""
    _listeners.append(callback)


def _changed() -> None:
    global _missed_change
    if _loading:  # the listeners run once, after every pending entry point has registered
        _missed_change = True
        return
    for callback in _listeners:
        callback()


def partially_imported(package: str) -> bool:
    """Whether `package` or one of its modules is being imported right now (its module object exists but
    its code has not finished running: importing a name from it would fail)."""
    prefix = package + "."
    for name, module in list(sys.modules.items()):
        if (name == package or name.startswith(prefix)) and getattr(getattr(module, "__spec__", None),
                                                                     "_initializing", False):
            return True
    return False


def _load_entry_point(family: str, point: Any) -> None:
    """Import one entry point (calling it when it is a function); a failure is a warning naming it."""
    key = (family, point.name, point.value)
    try:
        loaded = point.load()
        if callable(loaded) and not isinstance(loaded, type):
            loaded()
        _loaded.add(key)
    except Exception as exc:  # a broken plugin must not break modsim: say which and go on
        _failed.add(key)
        warnings.warn(f"modsim plugin {point.name!r} ({point.value}, group modsim.{family}) failed to load: "
                      f"{type(exc).__name__}: {exc}", stacklevel=4)


def _load_pending() -> bool:
    """Load every entry point not loaded or failed yet; whether none had to wait (its own package is being
    imported: it is tried again at the next lookup)."""
    waiting = False
    for family in FAMILIES:
        for point in entry_points(group=f"modsim.{family}"):
            if (family, point.name, point.value) in _loaded | _failed:
                continue
            if partially_imported(point.module.partition(".")[0]):
                waiting = True
                continue
            _load_entry_point(family, point)
    return not waiting


def load_plugins() -> None:
    """Load the installed plugins' entry points (groups `modsim.<family>`) not loaded yet.

    Every lookup calls it; it does nothing once every entry point is settled, nor while a modsim module is
    being imported (the entry points stay pending and the next lookup loads them), nor when called from a
    plugin's own registration. A plugin that raises is reported once, as a warning, and not retried."""
    global _complete, _loading, _missed_change
    if _complete or partially_imported("modsim"):
        return
    with _lock:
        if _complete or _loading:
            return
        _loading = True
        try:
            _complete = _load_pending()
        finally:
            _loading = False
        changed, _missed_change = _missed_change, False
    if changed:
        _changed()


def reload_plugins() -> None:
    """Read the entry points again (after installing a plugin in a running interpreter): new ones are
    loaded and failed ones retried; those loaded already are not run twice."""
    global _complete
    with _lock:
        _failed.clear()
        _complete = False
    load_plugins()
