"""The `task` section: what the network is trained on. Variants are chosen by `kind`."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Annotated, ClassVar, Literal

import numpy as np
from pydantic import Field, PositiveInt, model_serializer, model_validator

from .base import SpecModel

DATA_PATH_RULE = ("relative paths in a spec file are relative to its folder, those given with --set to the working "
                  "directory")
"""How a task's data paths resolve (`TaskSpec.data_paths`; `modsim.spec.io` resolves them as a spec loads), as
the message of a missing data file says it."""
QUICK_EVAL_TRIALS = 12
"""Most held-out trials of the user's own data (`kind: arrays`) a `modsim run --quick` run keeps."""
QUICK_TRAIN_TRIALS = 64
"""Most training trials of the user's own data (`kind: arrays`) a `modsim run --quick` run keeps."""


def split_ref(ref: str) -> tuple[str, str]:
    """A data reference's file and the array it names inside an `.npz`: `file.npz:key` -> (`file.npz`, `key`);
    anything else (a `.npy` file, an `.npz` of one array, a Zarr array directory) -> (`ref`, "")."""
    path, _, key = ref.partition(".npz:")
    return (path + ".npz", key) if key else (ref, "")


def stored_shape(ref: str) -> tuple[int, ...] | None:
    """The shape of the array a data reference names, from its header alone (an `.npy` header, an `.npz`
    member's, a Zarr array's metadata): no data are read. None when it cannot be read (the data loader
    checks the file, with a message naming it)."""
    file, key = split_ref(ref)
    path = Path(file)
    try:
        if path.is_dir():  # a Zarr array: v3 metadata, or v2
            for name in ("zarr.json", ".zarray"):
                meta = path.joinpath(name)
                if meta.is_file() and meta.stat().st_size < 1 << 20:
                    shape = json.loads(meta.read_text()).get("shape")
                    return tuple(int(s) for s in shape) if isinstance(shape, list) else None
            return None
        if path.suffix == ".npz":
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if n.endswith(".npy")]
                member = f"{key}.npy" if key else (names[0] if len(names) == 1 else None)
                if member is None:
                    return None
                with archive.open(member) as fh:
                    return _npy_shape(fh)
        with open(path, "rb") as fh:
            return _npy_shape(fh)
    except (OSError, ValueError, KeyError, EOFError, TypeError, AttributeError, zipfile.BadZipFile):
        return None


def _npy_shape(fh) -> tuple[int, ...]:
    version = np.lib.format.read_magic(fh)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    return tuple(int(s) for s in read(fh)[0])


class LorenzParams(SpecModel):
    """Lorenz (1963) system dx/dt = sigma (y - x), dy/dt = x (rho - z) - y, dz/dt = x y - beta z."""

    sigma: float = 10.0
    """Prandtl number sigma."""
    rho: float = 28.0
    """Rayleigh number rho."""
    beta: float = 8.0 / 3.0
    """Geometric factor beta."""
    dt: float = Field(default=100.0 / 13999.0, gt=0)
    """Time between stored points (the paper: 14000 points over t in [0, 100])."""


class RosslerParams(SpecModel):
    """Roessler (1976) system dx/dt = -y - z, dy/dt = x + a y, dz/dt = b + z (x - c)."""

    a: float = 0.2
    """Parameter a."""
    b: float = 0.2
    """Parameter b."""
    c: float = 5.7
    """Parameter c."""
    dt: float = Field(default=700.0 / 13999.0, gt=0)
    """Time between stored points (the paper: 14000 points over t in [0, 700])."""


class TaskSpec(SpecModel):
    """Base of every task spec: the whole interface the compiler, the metrics and the report use, with the
    defaults of a task that has none of the optional parts. A plugin's task subclasses it (setting `kind`,
    `input_dim`, `output_dim`, `output_sets`, `washout`) and registers its data builder with
    `modsim.register_task`."""

    kind: str
    """Task family (each subclass narrows it to one literal)."""

    capabilities: ClassVar[frozenset[str]] = frozenset()
    """What the task offers the analyses beyond inputs and targets (`trials`: trial-aligned choice trials
    with trial types, as the dynamics analyses need; `task_identity`: trials of several tasks; `digit_pairs`:
    the digit-parity trial blocks of the specialisation measures)."""
    target_kinds: ClassVar[frozenset[str]] = frozenset({"regression"})
    """What the kind's targets may be: `regression` (values) and/or `classes` (class indices, `n_classes` a
    number); a spec offers the one its `n_classes` says (the task contract checks that it is listed here)."""
    data_paths: ClassVar[tuple[str, ...]] = ()
    """The fields (as a spec writes them) that name data files: a relative path is resolved when the spec is
    loaded (`DATA_PATH_RULE`), so the validated spec, and the run that stores it, holds absolute paths."""
    loss: ClassVar[str] = "mse"
    """Task loss (`modsim.compile.losses.task`): `mse` after the washout, `cross_entropy_last` (each output
    set's logits at the last step) or `cross_entropy_steps` (the logits at every step)."""

    @property
    def input_dim(self) -> int:
        """Number of input channels."""
        raise NotImplementedError(f"task {self.kind!r} does not define input_dim")

    @property
    def output_dim(self) -> int:
        """Number of target channels."""
        raise NotImplementedError(f"task {self.kind!r} does not define output_dim")

    @property
    def washout(self) -> int:
        """Leading steps excluded from the loss and the metrics (none)."""
        return 0

    @property
    def grad_from(self) -> int:
        """Leading steps run without autograd (none)."""
        return 0

    def input_sets(self) -> dict[str, list[int]]:
        """Named sets of input channels (none)."""
        return {}

    def output_sets(self) -> dict[str, list[int]]:
        """Named sets of output channels (the separability indices compare the first two); one set of every
        channel by default."""
        return {"outputs": list(range(self.output_dim))}

    def input_names(self) -> list[str]:
        """Label of every input channel."""
        return [f"input {c}" for c in range(self.input_dim)]

    def output_names(self) -> list[str]:
        """Label of every output channel."""
        return [f"output {c}" for c in range(self.output_dim)]

    def n_classes(self) -> int | None:
        """Number of classes of a classification task (targets hold class indices); None otherwise."""
        return None

    def target_width(self) -> int:
        """Channels of the target arrays the loss expects: the outputs (mse), one class index per output set
        (cross_entropy_last) or one class index (cross_entropy_steps)."""
        return {"mse": self.output_dim, "cross_entropy_last": len(self.output_sets()),
                "cross_entropy_steps": 1}[self.loss]

    def sign_success_threshold(self) -> float:
        """Fraction of steps with the target's sign above which a run counts as a success (`sign_accuracy`)."""
        return 0.9

    def time_step(self) -> float | None:
        """The task's time step in ms, when it has one (a CTRNN cell's dt must equal it)."""
        return None

    def trial_type_names(self) -> list[str]:
        """Readable names of the trial types of a trial-aligned task (none by default)."""
        return []

    @classmethod
    def shrink(cls) -> list[str]:
        """`--set` overrides that keep the task's structure but make its data tiny (the test suite runs every
        shipped spec shrunk this way)."""
        return []

    def data_bytes(self) -> dict[str, int]:
        """Estimated bytes of the task's data, by the field that sets them (checked before anything is
        allocated); none known by default."""
        return {}

    def steps_per_sequence(self) -> int:
        """Time steps of one training sequence (for the memory estimate of a minibatch); 1 when unknown."""
        return 1

    def data_files(self) -> dict[str, str]:
        """The data files the task reads, by field (`task.inputs`): each run records their path, size and
        sha256. By default the non-null `data_paths` fields, an `.npz` reference's `:key` dropped."""
        out = {}
        for name in self.data_paths:
            field = next((n for n, f in type(self).model_fields.items() if (f.alias or n) == name), name)
            value = getattr(self, field, None)
            if isinstance(value, str):
                out[f"task.{name}"] = split_ref(value)[0]
        return out


class LorenzRosslerTask(TaskSpec):
    """Separate the elementwise sum of a Lorenz and a Roessler trajectory into both signals.

    Input: 3 channels (Lorenz + Roessler); target: 6 channels (Lorenz x, y, z then Roessler x, y, z).
    """

    kind: Literal["lorenz_rossler"]
    """Task family: chaotic signal separation (Tomoda, Tsuda & Yamaguti)."""
    lorenz: LorenzParams = LorenzParams()
    """Lorenz system parameters and sampling step."""
    rossler: RosslerParams = RosslerParams()
    """Roessler system parameters and sampling step."""
    length: PositiveInt = 10000
    """Points kept per trajectory, after the dropped transient."""
    drop: Annotated[int, Field(ge=0)] = 4000
    """Initial points discarded as the attractor transient."""
    washout_steps: Annotated[int, Field(ge=0, alias="washout")] = 200
    """Leading steps of each sequence excluded from the task loss and the metrics."""
    substeps: PositiveInt = 4
    """Classical Runge-Kutta substeps between stored points (accuracy of the integrator)."""
    init_low: float = 0.0
    """Lower bound of the uniform initial conditions."""
    init_high: float = 1.0
    """Upper bound of the uniform initial conditions."""
    normalize: Literal["minmax", "none"] = "minmax"
    """`minmax`: scale each variable of each trajectory to [0, 1] over its kept points (the paper)."""
    train_trajectories: PositiveInt = 1000
    """Size of the pool of training trajectory pairs; minibatches are drawn from it without
    replacement, reshuffled every pass."""
    eval_trajectories: PositiveInt = 10
    """Held-out trajectory pairs used for R2, the metrics and the stored evaluation data."""

    @property
    def input_dim(self) -> int:
        """Number of input channels."""
        return 3

    @property
    def output_dim(self) -> int:
        """Number of target channels."""
        return 6

    def output_sets(self) -> dict[str, list[int]]:
        """Named sets of output channels, used by the separability indices."""
        return {"lorenz": [0, 1, 2], "rossler": [3, 4, 5]}

    def output_names(self) -> list[str]:
        """Label of every output channel."""
        return ["lorenz_x", "lorenz_y", "lorenz_z", "rossler_x", "rossler_y", "rossler_z"]

    @property
    def washout(self) -> int:
        """Leading steps excluded from the loss and the metrics (the `washout` field)."""
        return self.washout_steps

    def data_bytes(self) -> dict[str, int]:
        """Both systems integrated in float64 for every trajectory (kept and dropped points, substeps)."""
        points = (self.train_trajectories + self.eval_trajectories) * (self.length + self.drop)
        return {"task.length": points * 9 * 8 * 2}

    def steps_per_sequence(self) -> int:
        """The kept points."""
        return self.length

    @classmethod
    def shrink(cls) -> list[str]:
        """Short trajectories, few of them, one integration substep."""
        return ["task.length=40", "task.drop=10", "task.washout=5", "task.train_trajectories=3",
                "task.eval_trajectories=2", "task.substeps=1"]

    @model_validator(mode="after")
    def _check_lengths(self) -> "LorenzRosslerTask":
        if self.washout >= self.length:
            raise ValueError(f"washout ({self.washout}) must be shorter than length ({self.length})")
        if self.init_low >= self.init_high:
            raise ValueError("init_low must be below init_high")
        return self


class FlipFlopTask(TaskSpec):
    """n-bit flip-flop working memory (Sussillo & Abbott 2009; the MI paper's 2-bit task).

    Each bit has an ON and an OFF input line (channels [on1, off1, on2, off2, ...]). A pulse of
    `amplitude` lasting `pulse_width` steps on ON (OFF) sets the bit's target to +1 (-1); the target
    ramps there by `ramp` per step and holds until the next pulse. Pulse onsets are Bernoulli per step
    and line; while a bit's pulse is on, no new pulse starts on that bit. Targets start at 0 (no memory
    yet). Training sequences are drawn fresh for every minibatch."""

    kind: Literal["flipflop"]
    """Task family: flip-flop working memory."""
    bits: PositiveInt = 2
    """Number of independent memory bits (2 in the paper)."""
    pulse_width: PositiveInt = 40
    """Duration of an input pulse, in steps."""
    onset_prob: float = Field(default=0.002, gt=0.0, lt=0.5)
    """Probability per step and input line that a pulse starts (the paper: 0.002)."""
    amplitude: float = Field(default=1.0, gt=0.0)
    """Height of an input pulse."""
    ramp: float = Field(default=0.1, gt=0.0, le=2.0)
    """Change of the target per step on its way to +-1 (the paper's code: 0.1; 2 makes it a jump)."""
    transient: Annotated[int, Field(ge=0)] = 1000
    """Leading steps of every sequence run without gradient and left out of the loss and the metrics."""
    length: PositiveInt = 2000
    """Steps after the transient that the loss and the metrics use."""
    eval_sequences: PositiveInt = 10
    """Held-out sequences for the metrics and the stored evaluation data."""
    success_threshold: float = Field(default=0.9, gt=0.0, le=1.0)
    """A run succeeds when the output has the target's sign on more than this fraction of the evaluated
    steps (the paper: 90%)."""

    @property
    def washout(self) -> int:
        """Leading steps excluded from the loss and the metrics (the transient)."""
        return self.transient

    @property
    def grad_from(self) -> int:
        """Leading steps run without autograd (the transient)."""
        return self.transient

    @property
    def input_dim(self) -> int:
        """Number of input channels (ON and OFF per bit)."""
        return 2 * self.bits

    @property
    def output_dim(self) -> int:
        """Number of target channels (one per bit)."""
        return self.bits

    def output_sets(self) -> dict[str, list[int]]:
        """One output channel per bit."""
        return {f"bit{b + 1}": [b] for b in range(self.bits)}

    def input_sets(self) -> dict[str, list[int]]:
        """The ON and OFF lines of each bit (D_in compares bit 1's lines with bit 2's)."""
        return {f"bit{b + 1}": [2 * b, 2 * b + 1] for b in range(self.bits)}

    def output_names(self) -> list[str]:
        """Label of every output channel."""
        return list(self.output_sets())

    def input_names(self) -> list[str]:
        """Label of every input channel: each bit's ON and OFF line."""
        return [f"bit{b + 1} {line}" for b in range(self.bits) for line in ("on", "off")]

    def sign_success_threshold(self) -> float:
        """The task's `success_threshold`."""
        return self.success_threshold

    def data_bytes(self) -> dict[str, int]:
        """The held-out sequences."""
        return {"task.length": self.eval_sequences * (self.transient + self.length) * 3 * self.bits * 4}

    def steps_per_sequence(self) -> int:
        """Transient and scored steps."""
        return self.transient + self.length

    @classmethod
    def shrink(cls) -> list[str]:
        """A short transient and sequence, a few held-out sequences."""
        return ["task.transient=10", "task.length=40", "task.eval_sequences=2", "task.onset_prob=0.05"]


class DigitParityTask(TaskSpec):
    """Digit-pair parity choice (Bena & Goodman): two images, digits d1 and d2; with s = (d1 + d2) % 2 the
    network reports T' = d1 if s else d2 and T'' the other one, decided at the last time step.

    Inputs: both images flattened side by side (channels [digit1 pixels, digit2 pixels]); the input
    sets `digit1`, `digit2` name them (`inputs: {kind: per_group, channels: {m1: [digit1], ...}}` gives
    separate pathways). Outputs: 2 x `classes` logits ([T' logits, T'' logits]), trained with
    cross-entropy at the last step. Held-out trials come in three equal blocks (base pairs; the same
    first image with a new partner; a new first image with the same second image) for the correlation
    specialisation metric. Training pairs are drawn fresh for every minibatch."""

    kind: Literal["digit_parity"]
    """Task family: digit-pair parity (specialisation under resource constraints)."""
    capabilities: ClassVar[frozenset[str]] = frozenset({"digit_pairs"})
    target_kinds: ClassVar[frozenset[str]] = frozenset({"classes"})
    loss: ClassVar[str] = "cross_entropy_last"
    data_paths: ClassVar[tuple[str, ...]] = ("images", "labels", "test_images", "test_labels")
    source: Literal["sklearn_digits", "idx"] = "sklearn_digits"
    """Images: scikit-learn's bundled 8x8 digits (1797 images, no download), or local IDX files
    (MNIST / EMNIST format, optionally gzipped) named by `images` and `labels`."""
    images: str | None = None
    """IDX image file (source idx). A relative path in a spec file is relative to the spec file's folder, one
    given with `--set` to the working directory; the run stores the absolute path."""
    labels: str | None = None
    """IDX label file (source idx): one class index in [0, classes) per image (paths as for `images`)."""
    test_images: str | None = None
    """Optional IDX image file of a separate test set; otherwise `test_fraction` of `images` is held out (paths
    as for `images`)."""
    test_labels: str | None = None
    """IDX label file of the separate test set (paths as for `images`)."""
    test_fraction: float = Field(default=0.2, gt=0.0, lt=1.0)
    """Fraction of the images held out (seeded split) for evaluation when no test files are given."""
    pixels: PositiveInt = 64
    """Pixels per image (8x8 digits: 64; MNIST: 784); checked against the data when it is loaded."""
    classes: PositiveInt = 10
    """Number of digit classes (labels 0..classes-1)."""
    steps: PositiveInt = 5
    """Time steps the network runs per trial (the paper: 2-5); the decision is read at the last one."""
    cov_ratio: float = Field(default=1.0, ge=0.0, le=1.0)
    """Partner digit drawn with weight 1 for the first digit's class and `cov_ratio` for every other
    class: 1 makes the digits independent, 0 always identical."""
    noise_ratio: float = Field(default=0.0, ge=0.0, le=1.0)
    """Structured noise r: every step each image becomes (1 - r) x + r * (mean of `noise_samples`
    random images of the batch, each masked by Bernoulli(1 / noise_samples) pixels), redrawn per step."""
    noise_samples: PositiveInt = 5
    """Images averaged into the structured noise."""
    random_start: bool = False
    """Switch each trial's stimulus on at a random step in [1, steps - 1); before it the input is pure
    structured noise (r = 1)."""
    eval_pairs: PositiveInt = 1000
    """Held-out trials per block (three blocks) drawn from the test images."""

    @property
    def input_dim(self) -> int:
        """Both images side by side."""
        return 2 * self.pixels

    @property
    def output_dim(self) -> int:
        """Logits of T' and of T''."""
        return 2 * self.classes

    def output_sets(self) -> dict[str, list[int]]:
        """The logits of each target."""
        return {"t1": list(range(self.classes)), "t2": list(range(self.classes, 2 * self.classes))}

    def input_sets(self) -> dict[str, list[int]]:
        """The pixels of each image."""
        return {"digit1": list(range(self.pixels)), "digit2": list(range(self.pixels, 2 * self.pixels))}

    def output_names(self) -> list[str]:
        """Label of every output channel."""
        return [f"t{j + 1}_{c}" for j in range(2) for c in range(self.classes)]

    def n_classes(self) -> int:
        """Digit classes."""
        return self.classes

    def steps_per_sequence(self) -> int:
        """The time steps of a trial."""
        return self.steps

    def data_files(self) -> dict[str, str]:
        """The IDX files (none for the bundled digits)."""
        return super().data_files() if self.source == "idx" else {}

    @classmethod
    def shrink(cls) -> list[str]:
        """The bundled 8x8 digits and few held-out pairs."""
        return ["task.source=sklearn_digits", "task.pixels=64", "task.test_images=null", "task.test_labels=null",
                "task.eval_pairs=20"]

    @model_validator(mode="after")
    def _check_source(self) -> "DigitParityTask":
        if self.source == "idx" and (self.images is None or self.labels is None):
            raise ValueError("source idx needs both `images` and `labels` (paths to IDX files)")
        if (self.test_images is None) != (self.test_labels is None):
            raise ValueError("give both `test_images` and `test_labels`, or neither")
        if self.random_start and self.steps < 3:
            raise ValueError("random_start needs steps >= 3 (the start is drawn from [1, steps - 1))")
        return self


class _ChoiceTask(TaskSpec):
    """Shared fields of the trial-aligned cognitive tasks: fixed epochs in ms, a step of `dt` ms; every
    trial ends with its decision epoch. The network is trained with cross-entropy at every step against
    the class of that step (0 = fixate, then the choices)."""

    dt: float = Field(default=20.0, gt=0.0)
    """Time step (ms); must equal the CTRNN cell's dt."""
    eval_trials: PositiveInt = 200
    """Held-out trials (balanced over trial types) for the metrics and the analyses."""
    trials_per_sequence: PositiveInt = 1
    """Consecutive trials in each training sequence, the state carried from one to the next (neurogym's
    Dataset streams trials this way, so the network must reset itself in every fixation epoch). Held-out
    trials are always single trials from the zero state."""

    capabilities: ClassVar[frozenset[str]] = frozenset({"trials"})
    target_kinds: ClassVar[frozenset[str]] = frozenset({"classes"})
    loss: ClassVar[str] = "cross_entropy_steps"

    def _steps(self, ms: float) -> int:
        return int(round(ms / self.dt))

    def input_sets(self) -> dict[str, list[int]]:
        """Named input channels."""
        return {name: [i] for i, name in enumerate(self.input_names())}

    def output_sets(self) -> dict[str, list[int]]:
        """One set: the class logits."""
        return {"choice": list(range(self.output_dim))}

    def output_names(self) -> list[str]:
        """Label of every output channel (class)."""
        return self.class_names()

    @property
    def input_dim(self) -> int:
        """Number of input channels."""
        return len(self.input_names())

    def n_classes(self) -> int:
        """Number of output classes."""
        return len(self.class_names())

    def time_step(self) -> float:
        """The task's `dt`."""
        return self.dt

    def trial_type_count(self) -> int:
        """Trial types `trial_types` distinguishes (two per task)."""
        return 2

    def trial_types(self, inputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Trial type of each held-out trial: the class of its last step (see the generators in
        `modsim.tasks.cognitive`)."""
        return targets[:, -1, 0].astype(np.int64)

    def before_decision(self, inputs: np.ndarray) -> np.ndarray:
        """(trials, T) True on the steps before each trial's decision epoch (fixation, stimulus, delay)."""
        return _before_last(inputs, self._steps(self.decision))

    def evidence(self, inputs: np.ndarray) -> np.ndarray:
        """Running sum of stimulus 1 minus stimulus 2 (channels 1 and 2) over each trial (trials, T): the
        perceptual decision's task variable, read on the perceptual trials only."""
        return np.cumsum(inputs[..., 1] - inputs[..., 2], axis=1)

    def cue_channel(self) -> int:
        """The input channel whose weights split the units by sign and that the recurrent lesions perturb
        (stimulus 1, or the go cue)."""
        return 1

    def perceptual_trials(self, types: np.ndarray) -> np.ndarray:
        """Boolean mask of the trials whose stimuli carry evidence (perceptual decision trials)."""
        return np.zeros(len(types), dtype=bool)

    @classmethod
    def shrink(cls) -> list[str]:
        """Few held-out trials."""
        return ["task.eval_trials=12"]

    @property
    def output_dim(self) -> int:
        """Number of classes."""
        return len(self.class_names())

    def trial_steps(self, dt: float | None = None) -> int | None:
        """Time steps of one trial (its epochs at `dt`, the task's own by default); None when unknown."""
        dt = dt or self.dt
        epochs = [getattr(self, name, None) for name in ("fixation", "stimulus", "delay", "decision")]
        return sum(int(round(e / dt)) for e in epochs) if all(e is not None for e in epochs) else None

    def steps_per_sequence(self) -> int:
        """`trials_per_sequence` trials of `trial_steps` (1 when the trial length is unknown)."""
        steps = self.trial_steps()
        return self.trials_per_sequence * steps if steps else 1


class PerceptualDecisionTask(_ChoiceTask):
    """Perceptual decision making (neurogym's PerceptualDecisionMaking): while the fixation input is on,
    two noisy stimuli of means (1 +- coh/100)/2 arrive; when it goes off, report the larger one.
    Inputs [fixation, stimulus 1, stimulus 2]; classes [fixate, choose 1, choose 2]."""

    kind: Literal["perceptual_decision"] = "perceptual_decision"
    """Task family: two-alternative perceptual decision."""
    fixation: float = Field(default=100.0, ge=0.0)
    """Fixation epoch before the stimulus (ms)."""
    stimulus: float = Field(default=2000.0, gt=0.0)
    """Stimulus epoch (ms)."""
    delay: float = Field(default=0.0, ge=0.0)
    """Delay between stimulus and decision (ms)."""
    decision: float = Field(default=100.0, gt=0.0)
    """Decision epoch (ms): fixation off, the choice is scored."""
    coherences: list[Annotated[float, Field(ge=0.0, le=100.0)]] = [0.0, 6.4, 12.8, 25.6, 51.2]
    """Coherences (%) drawn uniformly per trial."""
    sigma: float = Field(default=1.0, ge=0.0)
    """Stimulus noise; the per-step standard deviation is sigma / sqrt(dt) as in neurogym."""
    fixation_during_stimulus: bool = True
    """Keep the fixation input on through the stimulus and delay (the paper: "two stimuli are presented
    during this fixation period"; older neurogym); false follows neurogym >= 2, where it is on only in the
    fixation epoch. Either way the decision epoch has it off."""

    def input_names(self) -> list[str]:
        """Input channels."""
        return ["fixation", "stimulus1", "stimulus2"]

    def class_names(self) -> list[str]:
        """Output classes."""
        return ["fixate", "choice1", "choice2"]

    def trial_type_names(self) -> list[str]:
        """Trials by the stimulus that is larger."""
        return ["stimulus 1 trials", "stimulus 2 trials"]

    def perceptual_trials(self, types: np.ndarray) -> np.ndarray:
        """Every trial."""
        return np.ones(len(types), dtype=bool)

    def trial_types(self, inputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """0 where stimulus 1 is larger (choice 1), 1 where stimulus 2 is."""
        return targets[:, -1, 0].astype(np.int64) - 1

    @classmethod
    def shrink(cls) -> list[str]:
        """A short stimulus, few held-out trials."""
        return ["task.stimulus=200", "task.eval_trials=12"]


class GoNoGoTask(_ChoiceTask):
    """Go / no-go (neurogym's GoNogo): a go or a no-go cue, a delay under fixation, then respond (go) or
    keep fixating (no-go). Inputs [fixation, no-go, go]; classes [fixate, go]."""

    kind: Literal["gonogo"] = "gonogo"
    """Task family: delayed go / no-go."""
    fixation: float = Field(default=0.0, ge=0.0)
    """Fixation epoch before the cue (ms)."""
    stimulus: float = Field(default=500.0, gt=0.0)
    """Cue epoch (ms)."""
    delay: float = Field(default=500.0, ge=0.0)
    """Delay epoch (ms)."""
    decision: float = Field(default=500.0, gt=0.0)
    """Decision epoch (ms)."""

    def input_names(self) -> list[str]:
        """Input channels."""
        return ["fixation", "nogo", "go"]

    def class_names(self) -> list[str]:
        """Output classes."""
        return ["fixate", "go"]

    def cue_channel(self) -> int:
        """The go cue."""
        return 2

    def trial_type_names(self) -> list[str]:
        """No-go and go trials."""
        return ["no-go trials", "go trials"]

    @classmethod
    def shrink(cls) -> list[str]:
        """Short epochs, few held-out trials."""
        return ["task.stimulus=100", "task.delay=100", "task.decision=100", "task.eval_trials=12"]


class MultiTask(_ChoiceTask):
    """Perceptual decision and go / no-go trials interleaved, with a one-hot task-identity input.
    Inputs [fixation, stimulus 1, stimulus 2, no-go, go, rule pdm, rule gonogo]; classes [fixate, choice 1
    (= go), choice 2]. The shorter task's trials are padded with fixation at their start so every trial
    ends with its decision epoch."""

    kind: Literal["multitask"]
    """Task family: both cognitive tasks in one network."""
    capabilities: ClassVar[frozenset[str]] = frozenset({"trials", "task_identity"})
    perceptual_decision: PerceptualDecisionTask = PerceptualDecisionTask(kind="perceptual_decision")
    """Settings of the perceptual decision trials (their dt, eval_trials and trials_per_sequence are ignored)."""
    gonogo: GoNoGoTask = GoNoGoTask(kind="gonogo")
    """Settings of the go / no-go trials (their dt, eval_trials and trials_per_sequence are ignored)."""

    def input_names(self) -> list[str]:
        """Input channels."""
        return ["fixation", "stimulus1", "stimulus2", "nogo", "go", "rule_pdm", "rule_gonogo"]

    def class_names(self) -> list[str]:
        """Output classes."""
        return ["fixate", "choice1", "choice2"]

    def trial_type_count(self) -> int:
        """Two perceptual-decision and two go / no-go trial types."""
        return 4

    def trial_steps(self, dt: float | None = None) -> int:
        """The longer task's trial (the shorter one is padded to it), both at this task's dt."""
        dt = dt or self.dt
        return max(self.perceptual_decision.trial_steps(dt), self.gonogo.trial_steps(dt))

    def trial_type_names(self) -> list[str]:
        """Both tasks' trial types."""
        return ["PDM stimulus 1", "PDM stimulus 2", "no-go", "go"]

    def perceptual_trials(self, types: np.ndarray) -> np.ndarray:
        """The perceptual decision trials (types 0 and 1)."""
        return types < 2

    def trial_types(self, inputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Perceptual decision trials 0, 1 (the larger stimulus), go / no-go trials 2 (no-go), 3 (go); the rule
        input (channel 6) tells the tasks apart."""
        label = targets[:, -1, 0].astype(np.int64)
        return np.where(inputs[:, -1, 6] > 0.5, 2 + (label > 0), label - 1)

    def before_decision(self, inputs: np.ndarray) -> np.ndarray:
        """(trials, T) True before each trial's decision epoch, that of its own task (the rule input)."""
        steps = inputs.shape[1]
        decision = np.where(inputs[:, -1, 6] > 0.5, self._steps(self.gonogo.decision),
                            self._steps(self.perceptual_decision.decision))
        return np.arange(steps)[None, :] < steps - decision[:, None]

    @classmethod
    def shrink(cls) -> list[str]:
        """A short perceptual stimulus, few held-out trials (and task-identification chunks that fit them)."""
        return ["task.perceptual_decision.stimulus=200", "task.eval_trials=12", "analysis.dynamics.task_partitions=3"]


class NeurogymTask(_ChoiceTask):
    """Trials drawn from a neurogym environment (`pip install 'modsim[neurogym]'`): each trial's
    observations and ground-truth actions, left-padded with zeros (label 0) to the longest trial so all
    trials end together. Training trials are drawn fresh per minibatch from a seeded environment."""

    kind: Literal["neurogym"]
    """Task family: any neurogym TrialEnv."""
    capabilities: ClassVar[frozenset[str]] = frozenset()
    """None of the trial structure the dynamics analyses read (epochs, trial types) is known for an
    arbitrary environment."""
    env: str = Field(pattern=r"^[A-Za-z0-9_.:-]+$")
    """Registered environment id, e.g. `PerceptualDecisionMaking-v0`, `GoNogo-v0`."""
    kwargs: dict[str, float | int | str | bool | list[float] | dict[str, float]] = {}
    """Keyword arguments of `neurogym.make` besides dt (e.g. `timing`, `sigma`)."""
    inputs: PositiveInt
    """Observation size of the environment (checked when the data are drawn)."""
    actions: PositiveInt
    """Number of actions (classes) of the environment (checked when the data are drawn)."""

    def input_names(self) -> list[str]:
        """Input channels."""
        return [f"ob{i}" for i in range(self.inputs)]

    def class_names(self) -> list[str]:
        """Output classes."""
        return [f"action{i}" for i in range(self.actions)]


class ArrayTask(TaskSpec):
    """Your own data: inputs and targets (trials, time, channels) read from `.npy` or `.npz` files (`file.npz:key`
    names an array inside an `.npz`), or Zarr arrays (a directory). Held-out trials come from separate files or
    a seeded split of the trials. The widths are declared here, so a spec validates without reading the data,
    and checked against the files when they are loaded (an error names the file)."""

    kind: Literal["arrays"]
    """Task family: arrays the user provides."""
    target_kinds: ClassVar[frozenset[str]] = frozenset({"classes", "regression"})
    data_paths: ClassVar[tuple[str, ...]] = ("inputs", "targets", "eval_inputs", "eval_targets")
    inputs: str
    """Input file (trials, time, input channels), finite numbers. A relative path in a spec file is relative to
    the spec file's folder, one given with `--set` to the working directory; the run stores the absolute
    path and the file's size and sha256."""
    targets: str
    """Target file (trials, time, target channels), finite numbers; for the cross-entropy losses whole class
    indices in [0, classes) (paths as for `inputs`)."""
    eval_inputs: str | None = None
    """Held-out input file; without it `eval_fraction` of the trials is held out (seeded split; paths as for
    `inputs`)."""
    eval_targets: str | None = None
    """Held-out target file (with `eval_inputs`; paths as for `inputs`)."""
    eval_fraction: float = Field(default=0.2, gt=0.0, lt=1.0)
    """Fraction of the trials held out when no held-out files are given."""
    eval_trials: PositiveInt | None = None
    """Most held-out trials kept: the first ones of the held-out set (in file order); null: every one
    (`modsim run --quick` keeps a few)."""
    train_trials: PositiveInt | None = None
    """Most training trials kept: the first ones of the training pool (in file order); null: every one
    (`modsim run --quick` keeps a few)."""
    input_dim_: PositiveInt = Field(alias="input_dim")
    """Number of input channels (checked against the file)."""
    output_dim_: PositiveInt = Field(alias="output_dim")
    """Number of network outputs (regression: target channels; classification: logits)."""
    target_loss: Literal["mse", "cross_entropy_last", "cross_entropy_steps"] = Field(default="mse", alias="loss")
    """Task loss: `mse` after the washout, cross-entropy of the logits at the last step (targets hold one
    class index per output set) or at every step (targets hold one class index)."""
    classes: PositiveInt | None = None
    """Number of classes of a classification task (cross-entropy losses)."""
    washout_steps: Annotated[int, Field(ge=0, alias="washout")] = 0
    """Leading steps excluded from the loss and the metrics."""
    output_sets_: dict[str, list[Annotated[int, Field(ge=0)]]] | None = Field(default=None, alias="output_sets")
    """Named sets of output channels (the D indices compare them); null: one set of every output."""
    input_sets_: dict[str, list[Annotated[int, Field(ge=0)]]] | None = Field(default=None, alias="input_sets")
    """Named sets of input channels (D_in, per-group input pathways)."""

    @property
    def input_dim(self) -> int:
        """Declared input channels."""
        return self.input_dim_

    @property
    def output_dim(self) -> int:
        """Declared outputs."""
        return self.output_dim_

    @property
    def washout(self) -> int:
        """The `washout` field."""
        return self.washout_steps

    @property
    def loss(self) -> str:  # type: ignore[override]
        """The `loss` field."""
        return self.target_loss

    def output_sets(self) -> dict[str, list[int]]:
        """The declared output sets, or one set of every output."""
        return dict(self.output_sets_) if self.output_sets_ else {"outputs": list(range(self.output_dim))}

    def input_sets(self) -> dict[str, list[int]]:
        """The declared input sets."""
        return dict(self.input_sets_ or {})

    def n_classes(self) -> int | None:
        """The `classes` field."""
        return self.classes

    @model_serializer(mode="wrap")
    def _unset_limits_left_out(self, handler):
        """The resolved spec leaves out `eval_trials` and `train_trials` while they are null, so a spec that does
        not use them hashes as it did before they existed (its runs and sweep stores resume)."""
        data = handler(self)
        for name in ("eval_trials", "train_trials"):
            if isinstance(data, dict) and data.get(name, 0) is None:
                del data[name]
        return data

    @classmethod
    def shrink(cls) -> list[str]:
        """At most `QUICK_EVAL_TRIALS` held-out and `QUICK_TRAIN_TRIALS` training trials: the first ones of
        the same held-out set and training pool."""
        return [f"task.eval_trials={QUICK_EVAL_TRIALS}", f"task.train_trials={QUICK_TRAIN_TRIALS}"]

    def steps_per_sequence(self) -> int:
        """Time steps of a trial, from the `inputs` file's header (1 when it cannot be read)."""
        shape = stored_shape(self.inputs)
        return shape[1] if shape is not None and len(shape) == 3 and shape[1] > 0 else 1

    def class_bounds(self) -> list[int]:
        """For each target channel, the number of class indices it may hold (`classes`, or fewer when the
        channel's output set, or the network's outputs, have fewer logits); [] for `mse`."""
        if self.target_loss == "mse" or self.classes is None:
            return []
        if self.target_loss == "cross_entropy_steps":
            return [min(self.classes, self.output_dim)]
        return [min(self.classes, len(chans)) for chans in self.output_sets().values()]

    @model_validator(mode="after")
    def _check_files_and_sets(self) -> "ArrayTask":
        if (self.eval_inputs is None) != (self.eval_targets is None):
            raise ValueError("give both `eval_inputs` and `eval_targets`, or neither")
        if self.target_loss != "mse" and self.classes is None:
            raise ValueError(f"classes: loss {self.target_loss!r} needs the number of classes")
        for name, sets, dim in (("output_sets", self.output_sets_, self.output_dim_),
                                ("input_sets", self.input_sets_, self.input_dim_)):
            for set_name, idx in (sets or {}).items():
                bad = [i for i in idx if i >= dim]
                if bad or not idx:
                    raise ValueError(f"{name}.{set_name}: channels {bad or idx} are not among the {dim} declared")
        return self


def _before_last(inputs: np.ndarray, last: int) -> np.ndarray:
    """(trials, T) True on every step but the `last` ones of each trial."""
    trials, steps = inputs.shape[:2]
    return np.broadcast_to(np.arange(steps)[None, :] < steps - last, (trials, steps))
