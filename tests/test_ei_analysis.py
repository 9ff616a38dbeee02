"""E/I-aware analysis of networks under Dale's law: Q_str of the excitatory and of the inhibitory projections and
the E->E, E->I, I->E, I->I block strengths (`modsim.analysis.excitation`) against hand-built known answers and an
independent oracle, inside their declared bounds on random signed matrices, refused at validation without
`network.dale`, defined on the docs' metrics page; the run report's signed weight matrix with its E/I
boundaries; and an end-to-end quick run of specs/ei_wm_mi.yaml storing them."""

from __future__ import annotations

import importlib.util
import math

import networkx as nx
import numpy as np
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from modsim import registry
from modsim.analysis.excitation import (BLOCK_KEYS, block_strengths, group_blocks, population_q_str,
                                        population_weights)
from modsim.analysis.modularity import q_str
from modsim.spec import SpecError, load_spec, parse_spec_text
from modsim.testing import make_plan_context, make_snapshot
from modsim.testing.contracts import check_bounds, check_metric
from modsim.testing.strategies import signed_networks
from tests.conftest import ROOT

EI_METRICS = ("q_str_excitatory", "q_str_inhibitory", "ei_blocks")
EI_SPEC = ROOT / "specs" / "ei_wm_mi.yaml"


def two_group_network() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two groups of 2 excitatory + 1 inhibitory units (units 2 and 5 inhibitory). Excitatory weights stay inside
    their group (E->E 1.0, E->I 0.5, none between groups); every inhibitory unit inhibits every other unit by
    -0.25, in its group and in the other; the diagonal holds weights Q_str and the block means leave out.

    By hand, with c = 0.25: the E graph has every edge inside a group and equal group degrees, so
    Q = 1 - 2 (1/2)^2 = 1/2. The I graph A = |W_I| + |W_I|^T has 2m = 2 x 10c, within-group weight 2 x 2 x 2c =
    8c, degrees 2c per E unit and 6c per I unit, group degrees 10c each: Q = 8c/20c - 2 (10c)^2/(20c)^2 = -0.1."""
    signs = np.array([1, 1, -1, 1, 1, -1])
    labels = np.repeat([0, 1], 3)
    same = labels[:, None] == labels[None, :]
    e = signs > 0
    w = np.zeros((6, 6))
    w[:, e] = np.where(same[:, e], np.where(e[:, None], 1.0, 0.5), 0.0)
    w[:, ~e] = -0.25
    return w, signs, labels


def snapshot_of(w: np.ndarray, signs: np.ndarray | None, labels: np.ndarray):
    """A synthetic snapshot carrying this recurrent matrix, these signs and these groups."""
    groups = int(labels.max()) + 1
    return make_snapshot(units=len(labels), groups=groups, seed=0, recurrent_weights=w, unit_signs=signs,
                         labels=labels, group_names=[f"g{g}" for g in range(groups)])


def values_of(w, signs, labels) -> dict[str, float]:
    snap = snapshot_of(w, signs, labels)
    context = make_plan_context(snap)
    out: dict[str, float] = {}
    for name in EI_METRICS:
        out.update(check_metric(name, snap, context))  # the contract: declared keys, reproducible, in bounds
    return out


def test_registered_with_bounds_labels_and_the_dale_requirement():
    for name in EI_METRICS:
        metric = registry.metrics.get(name)
        assert metric.needs == frozenset({"dale"}) and metric.bounds is not None and metric.description
    assert registry.metrics.get("q_str_excitatory").bounds == (-0.5, 1.0)
    assert registry.metrics.get("ei_blocks").bounds == (0.0, math.inf)
    assert registry.metrics.get("ei_blocks").stored_keys == BLOCK_KEYS and len(BLOCK_KEYS) == 8
    shown = dict(registry.metrics.get("ei_blocks").summary)
    assert shown["ei_e_to_i_within"] == "mean |w| E->I within groups"
    assert shown["ei_i_to_i_between"] == "mean |w| I->I between groups"


def test_known_answers_of_a_hand_built_two_group_network():
    w, signs, labels = two_group_network()
    values = values_of(w, signs, labels)
    assert values["q_str_excitatory"] == pytest.approx(0.5, abs=1e-12)
    assert values["q_str_inhibitory"] == pytest.approx(-0.1, abs=1e-12)
    expected = {"ei_e_to_e_within": 1.0, "ei_e_to_i_within": 0.5, "ei_i_to_e_within": 0.25,
                "ei_i_to_i_within": math.nan,  # one inhibitory unit per group: no pair i != j
                "ei_e_to_e_between": 0.0, "ei_e_to_i_between": 0.0, "ei_i_to_e_between": 0.25,
                "ei_i_to_i_between": 0.25}
    assert set(values) == {"q_str_excitatory", "q_str_inhibitory", *expected}
    for key, value in expected.items():
        assert values[key] == pytest.approx(value, abs=1e-15, nan_ok=True), key


def test_known_block_means_with_masked_weights_and_the_diagonal_left_out():
    """Two groups of 3 excitatory + 2 inhibitory units, every block a different constant, every diagonal weight
    100 (left out), one E->E within weight masked to 0 (counted: the mean is over the possible connections)."""
    signs = np.tile([1, 1, 1, -1, -1], 2)
    labels = np.repeat([0, 1], 5)
    same = labels[:, None] == labels[None, :]
    constants = {("e", "e", True): 1.0, ("e", "i", True): 2.0, ("i", "e", True): 3.0, ("i", "i", True): 4.0,
                 ("e", "e", False): 0.1, ("e", "i", False): 0.2, ("i", "e", False): 0.3, ("i", "i", False): 0.4}
    pop = np.where(signs > 0, "e", "i")
    w = np.zeros((10, 10))
    for i in range(10):
        for j in range(10):
            w[i, j] = signs[j] * constants[pop[j], pop[i], bool(same[i, j])]
    np.fill_diagonal(w, 100.0 * signs)
    w[1, 0] = 0.0  # masked: E->E within, group 0 (3 x 2 + 3 x 2 = 12 pairs in all)
    values = block_strengths(w, signs, labels)
    for (pre, post, within), c in constants.items():
        key = f"ei_{pre}_to_{post}_{'within' if within else 'between'}"
        assert values[key] == pytest.approx(c * 11 / 12 if key == "ei_e_to_e_within" else c, abs=1e-15), key
    # the report's per-block means: row = post (group, population), column = pre; signed
    means, parts = group_blocks(w, signs, labels)
    assert parts == [(0, "e"), (0, "i"), (1, "e"), (1, "i")]
    assert means[1, 0] == pytest.approx(2.0) and means[0, 1] == pytest.approx(-3.0)
    assert means[3, 0] == pytest.approx(0.2) and means[1, 3] == pytest.approx(-0.4)
    assert means[0, 0] == pytest.approx(5 / 6)  # group 0's 6 E->E pairs, one of them masked


def newman_q_oracle(a: np.ndarray, labels: np.ndarray) -> float:
    """networkx's modularity of the weighted graph `a` (0 for an empty graph, as modsim's)."""
    if a.sum() <= 0:
        return 0.0
    g = nx.from_numpy_array(a)
    return nx.community.modularity(g, [set(np.flatnonzero(labels == c).tolist()) for c in np.unique(labels)],
                                   weight="weight")


@given(signed_networks())
def test_population_q_is_newman_q_of_the_populations_projections(network):
    """Independent oracle: networkx's Q of the graph built here from the population's columns alone."""
    w, signs, labels = network
    for sign in (1, -1):
        cols = signs == sign
        if not cols.any():
            assert math.isnan(population_q_str(w, signs, labels, sign))
            continue
        a = np.zeros_like(w)
        a[:, cols] = np.abs(w[:, cols])
        a = a + a.T
        np.fill_diagonal(a, 0.0)
        assert population_q_str(w, signs, labels, sign) == pytest.approx(newman_q_oracle(a, labels), abs=1e-9)


@given(signed_networks(), st.floats(0.01, 100.0))
def test_every_value_stays_in_its_declared_bounds_on_random_signed_matrices(network, scale):
    w, signs, labels = network
    values = values_of(w, signs, labels)  # check_metric asserts the declared bounds
    for name in EI_METRICS:
        for key in registry.metrics.get(name).stored_keys:
            check_bounds(registry.metrics.get(name), key, values[key])
    for key in BLOCK_KEYS:  # a population absent, or a block without a pair: NaN; else a finite mean
        assert math.isnan(values[key]) or 0.0 <= values[key] <= np.abs(w).max()
    # Q is scale-free and the block means scale with the weights
    scaled = values_of(scale * w, signs, labels)
    for key in ("q_str_excitatory", "q_str_inhibitory"):
        assert scaled[key] == pytest.approx(values[key], abs=1e-9, nan_ok=True)
    for key in BLOCK_KEYS:
        assert scaled[key] == pytest.approx(scale * values[key], rel=1e-9, abs=1e-12, nan_ok=True)


@given(signed_networks(dale=True), st.data())
def test_a_populations_q_reads_only_its_own_columns(network, data):
    """Q_str of the E projections ignores the inhibitory columns (and the I one the excitatory columns); it is
    the plain Q_str of the matrix whose other columns are zero."""
    w, signs, labels = network
    other = data.draw(st.floats(-5.0, 5.0))
    for sign in (1, -1):
        changed = w.copy()
        changed[:, signs != sign] = other
        assert population_q_str(changed, signs, labels, sign) == pytest.approx(
            population_q_str(w, signs, labels, sign), abs=1e-12, nan_ok=True)
        if (signs == sign).any():
            assert population_q_str(w, signs, labels, sign) == q_str(population_weights(w, signs, sign), labels)


def test_without_signs_the_metrics_say_what_they_need():
    w, _, labels = two_group_network()
    snap = snapshot_of(w, None, labels)
    for name in EI_METRICS:
        with pytest.raises(ValueError, match=r"Dale's law \(network.dale\)"):
            registry.metrics.get(name).compute(snap, make_plan_context(snap))


def ei_spec_text(dale: bool, metrics: list[str]) -> str:
    data = yaml.safe_load(EI_SPEC.read_text())
    if not dale:
        del data["network"]["dale"]
    data["analysis"]["metrics"] = metrics
    return yaml.safe_dump(data)


def test_a_spec_without_dale_asking_for_them_is_refused_at_validation():
    for name in EI_METRICS:
        with pytest.raises(SpecError) as caught:
            parse_spec_text(ei_spec_text(False, ["mse", name]), "no_dale.yaml")
        message = str(caught.value)
        assert "analysis.metrics" in message and repr(name) in message and "Dale's law" in message, message
    spec = parse_spec_text(ei_spec_text(True, ["mse", *EI_METRICS]), "dale.yaml")
    assert "dale" in spec.capabilities() and list(spec.analysis.metrics) == ["mse", *EI_METRICS]
    assert "dale" not in load_spec(ROOT / "specs" / "wm_leaky_mi.yaml").capabilities()


def test_contract_on_a_compiled_ei_network():
    """The snapshot of a compiled (untrained) E/I network carries its units' signs, and the metrics pass their
    contract on its signed weights: every excitatory column >= 0, every inhibitory one <= 0."""
    from modsim.compile import compile_experiment
    from modsim.evaluate import evaluate_experiment, snapshot_of as snapshot_of_run
    from tests.test_pipeline import shrunk

    spec = shrunk(EI_SPEC, [f"analysis.metrics=[mse, {', '.join(EI_METRICS)}]"])
    exp = compile_experiment(spec)
    snap = snapshot_of_run(spec, exp.model, evaluate_experiment(exp))
    np.testing.assert_array_equal(snap.unit_signs, spec.network.unit_signs())
    assert (snap.recurrent_weights[:, snap.unit_signs > 0] >= 0).all()
    assert (snap.recurrent_weights[:, snap.unit_signs < 0] <= 0).all()
    context = make_plan_context(snap, spec.analysis)
    values = {}
    for name in EI_METRICS:
        values.update(check_metric(name, snap, context))
    assert all(np.isfinite(values[k]) for k in values)  # 16 E + 4 I per group: every block has pairs


def test_the_docs_metrics_page_defines_them():
    spec = importlib.util.spec_from_file_location("modsim_docs_hooks", ROOT / "docs" / "hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    page = hooks.pages()["kinds/metrics.md"]
    definitions = page.split("## Further definitions", 1)[1]
    for name in EI_METRICS:
        assert f"| `{name}` |" in page
        line = next(line for line in definitions.splitlines() if line.startswith(f"- `{name}` "))
        assert registry.metrics.get(name).description in line and "Dale's law" in line
    assert "- `q_str_excitatory` (range [-0.5, 1]" in definitions
    assert "- `ei_blocks` (range [0, inf)" in definitions
    assert not hooks.table_problems(page)


def report_data(spec_text: str, w: np.ndarray):
    """A `RunData` holding only what the weight figures read: the spec, the groups and the final weights."""
    from modsim.report.rundata import RunData, Weights
    from modsim.store import RunStatus

    spec = parse_spec_text(spec_text, "report.yaml")
    labels = np.repeat(np.arange(len(spec.network.groups)), list(spec.network.groups.values()))
    n = spec.network.units
    return RunData(path=ROOT, name="ei", status=RunStatus.FINISHED, message="", spec=spec, summary={},
                   labels=labels, group_names=list(spec.network.groups), output_names=["out0", "out1"], train={},
                   metrics={}, eval={}, weights=Weights(w, np.ones((n, spec.task.input_dim)), np.ones((2, n))))


def test_report_figure_draws_the_signed_matrix_with_group_and_ei_boundaries(tmp_path):
    from modsim.report.ei_figures import ei_weight_matrix
    from modsim.report.style import recording

    spec_text = ei_spec_text(True, ["mse"])
    spec = parse_spec_text(spec_text, "report.yaml")
    signs = np.asarray(spec.network.unit_signs())
    rng = np.random.default_rng(0)
    w = np.abs(rng.normal(0.0, 0.1, (40, 40))) * signs[None, :]
    with recording() as saved:
        figure = ei_weight_matrix(report_data(spec_text, w), tmp_path)
    assert figure is not None and figure.path == tmp_path / "ei_weights.png" and figure.path.stat().st_size > 5000
    assert "32 excitatory units" in figure.caption and "8 inhibitory" in figure.caption
    [(stem, fig)] = saved
    assert stem == "ei_weights"
    ax = fig.axes[0]
    image = ax.images[0]
    low, high = image.get_clim()
    assert low == -high == -np.abs(w).max() and image.get_cmap().name == "RdBu_r"  # diverging, centred at 0
    np.testing.assert_array_equal(image.get_array(), w)  # already in group order
    solid = sorted({line.get_xydata()[0, 0] for line in ax.lines if line.get_linestyle() == "-"} - {0.0})
    dashed = sorted({line.get_xydata()[0, 0] for line in ax.lines if line.get_linestyle() == "--"} - {0.0})
    assert solid == [19.5]  # between the groups (vertical lines; the horizontal ones start at x = 0)
    assert dashed == [15.5, 35.5]  # after each group's 16 excitatory units
    assert [t.get_text() for t in ax.get_xticklabels()] == ["g1 E", "g1 I", "g2 E", "g2 I"]
    blocks = fig.axes[1].images[0].get_array()  # the per-block panel (the colour bars come after)
    assert blocks.shape == (4, 4) and (blocks[:, [0, 2]] >= 0).all() and (blocks[:, [1, 3]] <= 0).all()


def test_report_figure_is_left_out_without_dale(tmp_path):
    from modsim.report.ei_figures import ei_weight_matrix

    data = report_data(ei_spec_text(False, ["mse"]), np.zeros((40, 40)))
    assert ei_weight_matrix(data, tmp_path) is None


@pytest.mark.slow
def test_quick_ei_run_stores_the_metrics_in_bounds_and_its_report_draws_the_signed_matrix(store_dir):
    """`modsim run specs/ei_wm_mi.yaml --quick` with the E/I metrics added: every checkpoint stores them, finite
    and inside their bounds, every number the spec's own run stores is unchanged (analysis metrics never touch
    training), and `modsim report` draws the signed weight matrix."""
    from click.testing import CliRunner

    from modsim import open_run
    from modsim.cli import main
    from modsim.spec.experiment import QUICK_SUFFIX

    full = load_spec(EI_SPEC)
    metrics = [*full.analysis.metrics, *EI_METRICS]
    result = CliRunner().invoke(main, ["run", str(EI_SPEC), "--quick", "--quiet", "--store", str(store_dir),
                                       "--set", f"analysis.metrics=[{', '.join(metrics)}]"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    path = store_dir / (full.name + QUICK_SUFFIX)
    run = open_run(path)
    assert str(run.status) == "finished"
    stored = run.metrics
    for name in EI_METRICS:
        metric = registry.metrics.get(name)
        for key in metric.stored_keys:
            values = stored[key].values
            assert values.shape == (3,) and np.isfinite(values).all(), (key, values)
            check_bounds(metric, key, values)
    assert stored["ei_e_to_e_within"].values[-1] > 0 and stored["ei_i_to_e_between"].values[-1] > 0
    result = CliRunner().invoke(main, ["run", str(EI_SPEC), "--quick", "--quiet", "--store", str(store_dir),
                                       "--name", "plain"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    plain = open_run(store_dir / "plain")
    for section in ("train", "metrics"):
        mine, theirs = getattr(run, section), getattr(plain, section)
        assert set(theirs.data_vars) <= set(mine.data_vars)
        for key in theirs.data_vars:
            np.testing.assert_array_equal(mine[key].values, theirs[key].values, err_msg=f"{section}: {key}")
    report = store_dir / "report"
    result = CliRunner().invoke(main, ["report", str(path), "-o", str(report)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert (report / "ei_weights.png").stat().st_size > 5000
    page = (report / "index.html").read_text()
    assert "Signed recurrent weights (Dale&#x27;s law)" in page or "Signed recurrent weights (Dale's law)" in page
