"""The `analysis` section: which metrics are recorded at each checkpoint, and on what."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt, model_validator

from ..result_keys import INDUCED_PREFIX
from .base import SpecModel
from .kinds import NameOf

MetricName = NameOf("metrics")
"""A registered metric (`modsim.analysis.metrics`, or a plugin's)."""

MatrixName = Literal["activity_corr", "recurrent", "input_similarity", "readout_similarity"]
"""Unit-by-unit matrices a partition analysis can run on: correlation of activity over held-out samples,
recurrent weights |W| + |W|^T, or the cosine similarity of units' input (readout) weight vectors.
Unsigned analyses take absolute values; signed ones keep the sign (not for `recurrent`)."""


QUICK_PERMUTATIONS = 20
"""Most label permutations of a null distribution in a `modsim run --quick` run."""
QUICK_RESTARTS = 2
"""Most restarts of a community detection in a quick run."""
QUICK_LESIONS = 3
"""Most iterative recurrent lesions in a quick run."""
QUICK_LESION_GRID = 5
"""Most grid points per side of the lesion-similarity matrix in a quick run."""


class CommunityDetection(SpecModel):
    """Detect communities in a unit-by-unit matrix and compare them with the predefined groups."""

    algorithm: Literal["leiden", "louvain", "fastgreedy"]
    """leiden (igraph's C Leiden; signed: Rubinov-Sporns Q* maximised exactly as the constant Potts model
    on the signed modularity matrix), louvain (dense Louvain on the modularity matrix) or fastgreedy
    (Clauset-Newman-Moore, the MI paper's choice; unsigned only)."""
    on: MatrixName = "activity_corr"
    """Matrix the communities are detected in."""
    signed: bool = False
    """Keep the sign of correlations/similarities and use Rubinov & Sporns' modularity (negative_asym)
    instead of absolute values."""
    resolution: PositiveFloat = 1.0
    """Resolution gamma of the modularity (1 = Newman's)."""
    seed: NonNegativeInt = 0
    """Seed of the algorithm's random node order."""
    restarts: PositiveInt | None = None
    """Leiden only: seeded runs (seeds seed, seed+1, ...) of which the highest-modularity partition is kept;
    null: as many as fit in 2^22 matrix entries, between 1 (N >= 2048) and 8 (N <= 724)."""
    communities: PositiveInt | None = None
    """Fast-greedy only: cut the merge dendrogram at this many communities instead of at its largest Q
    (the MI paper's I_n uses 2)."""
    name: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]*$")
    """Prefix of the stored results; defaults to `<algorithm>[_signed]_<on>`."""

    @property
    def label(self) -> str:
        """The prefix its results are stored under."""
        return self.name or f"{self.algorithm}{'_signed' if self.signed else ''}_{self.on}"

    @model_validator(mode="after")
    def _signed_support(self) -> "CommunityDetection":
        if self.signed and self.algorithm == "fastgreedy":
            raise ValueError("signed: fast-greedy has no signed variant; use leiden or louvain")
        if self.signed and self.on == "recurrent":
            raise ValueError("signed: |W| + |W|^T has no negative entries; use an unsigned analysis")
        if self.restarts is not None and self.algorithm != "leiden":
            raise ValueError(f"restarts: only leiden restarts; {self.algorithm} runs once per seed")
        if self.communities is not None and self.algorithm != "fastgreedy":
            raise ValueError(f"communities: a fixed community count is a fast-greedy dendrogram cut; "
                             f"{self.algorithm} finds its own count")
        return self


class InducedModularity(SpecModel):
    """Modularity that the predefined groups induce on a matrix, against a label-permutation null."""

    on: MatrixName = "activity_corr"
    """Matrix the groups' modularity is measured on."""
    signed: bool = False
    """Keep signs and use Rubinov & Sporns' modularity instead of absolute values."""
    permutations: NonNegativeInt = 1000
    """Random relabellings (same group sizes) forming the null distribution; 0 skips the null."""
    seed: NonNegativeInt = 0
    """Seed of the permutations."""

    @property
    def label(self) -> str:
        """The prefix its results are stored under."""
        return f"{INDUCED_PREFIX}{'_signed' if self.signed else ''}_{self.on}"

    @model_validator(mode="after")
    def _signed_support(self) -> "InducedModularity":
        if self.signed and self.on == "recurrent":
            raise ValueError("signed: |W| + |W|^T has no negative entries; use an unsigned analysis")
        return self


class FixedPointSearch(SpecModel):
    """Fixed and slow points: minimise q(h) = ||F(h) - h||^2 from many starts (Sussillo & Barak 2013)."""

    starts: PositiveInt = 128
    """Initial states, drawn from held-out trajectories plus small noise."""
    steps: PositiveInt = 800
    """Adam steps of the minimisation."""
    lr: PositiveFloat = 0.01
    """Learning rate of the minimisation."""
    tolerance: PositiveFloat = 1e-5
    """q below which a point counts as a fixed (or slow) point."""
    seed: NonNegativeInt = 0
    """Seed of the starts."""


class DynamicsAnalysis(SpecModel):
    """Module and dynamics analyses of a trained CTRNN on a cognitive task, run on the final weights (at the
    end of `modsim run` and by `modsim analyze`), stored under `dynamics/`."""

    modules: CommunityDetection = CommunityDetection(algorithm="louvain", signed=True)
    """How the modules are found: by default signed Louvain (Rubinov-Sporns Q) on the activity correlation.
    Always stored: `modules`, and the module-mean reconstruction against PCA (`module_reconstruction_r`,
    `pca_reconstruction_r`, `module_pc_r`)."""
    module_evidence: bool = True
    """Correlate each module's mean activity with the task variable (cumulative evidence, perceptual
    decision trials) over the stimulus epoch: `module_evidence_r` (modules,)."""
    output_lesions: bool = True
    """Accuracy per trial type with each module's units removed from the readout:
    `lesion_accuracy` (modules, trial types) and `baseline_accuracy` (trial types)."""
    jacobian: bool = True
    """Cosine similarity of the rows of the step Jacobian averaged along held-out trajectories
    (`jacobian_similarity`), and its correlation with the activity correlation matrix (`jacobian_corr_r`)."""
    fixed_points: FixedPointSearch | None = FixedPointSearch()
    """Fixed/slow points under the stimulus-epoch mean input (`fixed_points`, `fixed_point_q`), with the
    Jacobian-row similarity at them against the correlation matrix (`fixed_point_jacobian_corr_r`)."""
    input_partition_permutations: NonNegativeInt | None = 1000
    """Sign-based module boundary from the input weights (units whose weight from the first stimulus
    channel is positive vs negative), imposed on the signed activity correlation: induced Q with a
    label-permutation null of this many draws (`input_partition_q`, `input_partition_p`); null skips it."""
    recurrent_lesions: NonNegativeInt | None = 20
    """Iteratively zero the largest positive recurrent weight inside each module, this many times, and
    record the distance of the perturbed network's decision from the boundary (|logit choice 1 - logit
    choice 2| at the last step, mean over held-out trials): `recurrent_lesion_distance` (modules,
    lesions + 1). Null skips it."""
    lesion_perturbation: float = 4.0
    """Constant added to the first stimulus (cue) channel during the stimulus epoch for the recurrent
    lesions (the paper's "large continual input value of 4")."""
    lesion_similarity: PositiveInt | None = 25
    """Lesion-similarity matrix: a grid of this many points per side in the plane of the top two PCs of
    the activity, one step of the network from every point with each unit lesioned in turn (its outgoing
    weights zeroed); units are similar when their lesions move the flow alike (Pearson r of the per-point
    displacement). Stores `lesion_similarity` (units x units) and its correlation with the activity
    correlation matrix (`lesion_similarity_corr_r`). Null skips it."""
    task_partitions: PositiveInt | None = None
    """Multi-task only: detect modules in chunks of this many held-out trials of one task, and identify
    each chunk's task from its partition alone (nearest other chunk by adjusted Rand index):
    `task_identification_accuracy`, `partition_ari` (chunks x chunks), `chunk_task`."""


class Analysis(SpecModel):
    """Metrics computed on held-out data at every checkpoint and stored over training."""

    metrics: list[MetricName] = Field(default=["q_cor", "q_str", "d_out", "d_cor", "r2", "activity_sd"],
                                      min_length=1)
    """Metrics recorded at each checkpoint: q_cor / q_str (Newman Q of |corr| / |W| + |W|^T over the
    groups), *_norm (Q / Q_max), d_out / d_in / d_cor (separability of output weights / input weights /
    activity-output correlations between two groups and two output (input) sets; d_in needs a task with
    input sets, e.g. flipflop), r2 and mse on held-out data, sign_accuracy (fraction of evaluated steps
    whose output has the target's sign; also stores `success`, 1 when it exceeds the task's
    success_threshold), mi (the MINE estimate on held-out activity; needs a `mine` constraint),
    activity_sd (mean standard deviation of the units of each group, `activity_sd_<group>`: a group near
    0 has been silenced), silenced (groups whose mean |corr| with the outputs, or whose activity sd, is
    below a fifth of the leading group's: `silenced_<group>` flags and their count `silenced`, the MI
    paper's failure mode), accuracy (classification tasks: fraction of correct argmax decisions at the last
    step, averaged over the output sets), q_mask (directed Newman Q of the binary recurrent connectivity;
    (1 - p) / (2 (1 + p)) for two equal modules), specialisation (digit-parity task: Bena & Goodman's
    retraining, ablation and correlation measures per time step; stores `specialisation_<measure>` = F at the
    last step, `specialisation_<measure>_t` = F per step and `specialisation_<measure>_mbar` = M_bar (module,
    digit, step)), dependence_audit (the KSG k-nearest-neighbour estimate, in nats, of the mutual information
    between the groups, or of their total correlation for three or more, on a fixed subsample of held-out
    activity: the yardstick no penalty trains against; recorded for every run with two or more groups, listed
    or not), q_str_excitatory / q_str_inhibitory and ei_blocks (networks under Dale's law, `network.dale`: Q_str
    of the excitatory and of the inhibitory units' outgoing weights, and the mean |w| of the E->E, E->I, I->E
    and I->I blocks within and between groups, `ei_<pre>_to_<post>_<within|between>`); plugins add their own."""
    communities: list[CommunityDetection] = []
    """Community detections run at each checkpoint; each stores `<label>_nmi`, `<label>_ari` (against
    the groups), `<label>_count`, `<label>_q` and the partition itself (`<label>_partition`)."""
    induced_q: list[InducedModularity] = []
    """Induced modularity of the groups with a permutation null; stores `<label>`, `<label>_p`,
    `<label>_null_mean`, `<label>_null_sd`."""
    groups: list[str] | None = Field(default=None, min_length=2)
    """The K groups compared by d_out, d_in and d_cor, each with as many of the task's output (input) sets, in
    order; D_K scores the best assignment of groups to sets. Null takes every group when the task has as
    many sets, else the first two."""
    conventions: Literal["modsim", "tomoda", "bena"] = "modsim"
    """Preset of the choices below where the papers' official code differs from modsim's defaults (each
    option left null takes the preset's value): `modsim` (hidden activity, pooled correlations, D_cor
    against the network outputs, Q_max of the partition, trial pairs sharing the image); `tomoda` (the MI
    paper's code: cells with a pre-activation (leaky) correlate x pooled over trials with D_cor against the
    targets; GRU and other cells correlate h per trial (mean over trials of |corr|) with D_cor against
    the outputs; Q_max from the degrees); `bena` (Bena & Goodman's code: trial pairs sharing the digit's
    class in the correlation measure)."""
    activity: Literal["hidden", "preactivation"] | None = None
    """Activity analysed: `hidden`, what the readout sees (GRU and RNN: the state h; leaky: the rate
    tanh(x)), or `preactivation`, the leaky cell's x (the MI paper's working-memory code)."""
    correlation: Literal["pooled", "per_trial"] | None = None
    """Correlations of Q_cor, D_cor and the activity-correlation matrix: `pooled` over all held-out samples,
    or `per_trial` (each trial's correlation over time; Q_cor and D_cor average |corr| over trials, the
    partition analyses use |mean over trials of corr|, as the MI paper's GRU code)."""
    d_cor_reference: Literal["outputs", "targets"] | None = None
    """Signals D_cor correlates the units with: the network `outputs` or the task `targets`."""
    q_max: Literal["partition", "degree"] | None = None
    """Q_max of q_cor_norm / q_str_norm: `partition`, 1 - sum_c (n_c / N)^2 from the group sizes, or
    `degree`, 1 - sum_c (K_c / 2m)^2 from each group's summed degree in the graph (the MI paper's code)."""
    specialisation_pairs: Literal["image", "class"] | None = None
    """Correlation specialisation measure: pairs of held-out trials that share the digit's `image`, or only
    its `class` (a different image of the same digit; Bena & Goodman's code)."""
    recurrent_block: Literal["candidate", "reset", "update", "all"] = "candidate"
    """GRU block used by q_str and the recurrent matrix: the candidate-state matrix U (the paper), a
    gate, or all three summed."""
    checkpoints: Literal["all", "final"] = "all"
    """Checkpoints `modsim analyze` re-evaluates: every stored checkpoint, or only the last."""
    dynamics: DynamicsAnalysis | None = None
    """Module and dynamics analyses (lesions, Jacobians, fixed points) of the final network; CTRNN cells on
    cognitive tasks."""

    def shrink(self) -> list[str]:
        """`--set` overrides of `modsim run --quick`: the same analyses with few permutations, restarts, lesions
        and lesion-grid points (every stored array keeps its name). The fixed-point search keeps its size: it
        costs little, and a shorter one may find no fixed point, leaving out the arrays measured at them."""
        out = [f"analysis.induced_q[{i}].permutations={min(q.permutations, QUICK_PERMUTATIONS)}"
               for i, q in enumerate(self.induced_q)]
        out += [f"analysis.communities[{i}].restarts={min(c.restarts, QUICK_RESTARTS)}"
                for i, c in enumerate(self.communities) if c.restarts is not None]
        dyn = self.dynamics
        if dyn is None:
            return out
        at = "analysis.dynamics"
        if dyn.modules.restarts is not None:
            out.append(f"{at}.modules.restarts={min(dyn.modules.restarts, QUICK_RESTARTS)}")
        if dyn.input_partition_permutations is not None:
            out.append(f"{at}.input_partition_permutations="
                       f"{min(dyn.input_partition_permutations, QUICK_PERMUTATIONS)}")
        if dyn.recurrent_lesions is not None:
            out.append(f"{at}.recurrent_lesions={min(dyn.recurrent_lesions, QUICK_LESIONS)}")
        if dyn.lesion_similarity is not None:
            out.append(f"{at}.lesion_similarity={min(dyn.lesion_similarity, QUICK_LESION_GRID)}")
        return out

    def resolved(self, cell_capabilities: frozenset[str]) -> "ResolvedConventions":
        """Every convention option for a network whose cell offers `cell_capabilities` (its spec's
        `capabilities`): the option itself, else the preset's (`tomoda` analyses the pre-activation x of a cell
        that has one, the MI paper's working-memory network, and h per trial otherwise)."""
        preset = dict(CONVENTION_PRESETS[self.conventions])
        if self.conventions == "tomoda":
            preset.update(TOMODA_WM if "preactivation" in cell_capabilities else TOMODA_GRU)
        chosen = {k: getattr(self, k) for k in preset if getattr(self, k) is not None}
        return ResolvedConventions(**{**preset, **chosen})

    @model_validator(mode="after")
    def _unique_labels(self) -> "Analysis":
        labels = [c.label for c in self.communities] + [i.label for i in self.induced_q]
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        if dupes:
            raise ValueError(f"communities: result names {dupes} repeat; give each entry a distinct `name`")
        return self


class ResolvedConventions(SpecModel):
    """The convention options of an analysis with its preset applied (see `Analysis.conventions`)."""

    activity: Literal["hidden", "preactivation"]
    """Activity analysed."""
    correlation: Literal["pooled", "per_trial"]
    """Pooled or per-trial correlations."""
    d_cor_reference: Literal["outputs", "targets"]
    """Signals D_cor correlates the units with."""
    q_max: Literal["partition", "degree"]
    """How Q_max is computed."""
    specialisation_pairs: Literal["image", "class"]
    """Trial pairs of the correlation specialisation measure."""


CONVENTION_PRESETS = {
    "modsim": {"activity": "hidden", "correlation": "pooled", "d_cor_reference": "outputs", "q_max": "partition",
               "specialisation_pairs": "image"},
    "tomoda": {"activity": "hidden", "correlation": "pooled", "d_cor_reference": "outputs", "q_max": "degree",
               "specialisation_pairs": "image"},
    "bena": {"activity": "hidden", "correlation": "pooled", "d_cor_reference": "outputs", "q_max": "partition",
             "specialisation_pairs": "class"},
}
"""What each `conventions` preset sets (tomoda's activity, correlation and reference depend on the cell)."""
TOMODA_WM = {"activity": "preactivation", "correlation": "pooled", "d_cor_reference": "targets"}
"""The MI paper's working-memory code (a cell with a pre-activation, the leaky cell): x pooled over trials, D_cor
against the targets."""
TOMODA_GRU = {"activity": "hidden", "correlation": "per_trial", "d_cor_reference": "outputs"}
"""The MI paper's GRU code: h, per-trial correlations, D_cor against the network outputs."""
