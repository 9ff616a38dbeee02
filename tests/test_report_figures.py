"""The figures people asked for: per-group activity over training, the unit x time activity heatmap, PCA
trajectories for every cell kind, every run beside each condition's mean, MI / the dependence audit against
D_cor and Q_cor run by run, the spec difference between conditions, labels instead of keys in every figure
and table, and `--format png|svg|pdf` (a tiny leaky run and a tiny 2-condition x 2-seed sweep)."""

from __future__ import annotations

import dataclasses
import html
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from modsim import registry
from modsim.cli import main
from modsim.report import spec_differences, style
from modsim.report.labels import label, registered_labels
from tests.conftest import ROOT
from tests.test_report import invoke, sets, shrink

WM = ROOT / "specs" / "wm_leaky_mi.yaml"
TINY = ["training.steps=4", "training.checkpoint_every=2"]
CONDITIONS = ["constraints[0].weight=0.0", "constraints[0].weight=0.1"]
SWEEP = "sweep={grid: {'constraints[0].weight': [0.0, 0.1]}, seeds: 2}"
RUNS = 4
RUN_STEMS = {"time_courses", "example_trials", "correlation", "community_graph", "weights", "output_correlations",
             "group_activity", "activity_heatmap", "pca_trajectories"}
SWEEP_STEMS = {"conditions", "dependence_vs_structure", "condition_time_courses"}
CELL_SPECS = {"rnn": "bena_separate", "gru": "gru_lorenz_rossler", "leaky": "wm_leaky_mi", "ctrnn": "ctrnn_pdm"}
"""A spec of every built-in cell kind."""


def report(args: list[str]) -> dict:
    """`modsim report ARGS`, with every figure it drew (stem -> matplotlib figure)."""
    with style.recording() as saved:
        invoke(["report", *args])
    return dict(saved)


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict:
    """A tiny leaky run reported as PNG, SVG and PDF, and a 2-condition x 2-seed sweep reported as PNG; the
    figures of the PNG reports as drawn."""
    store = tmp_path_factory.mktemp("store")
    invoke(["run", str(WM), *sets(shrink(WM) + TINY), "--store", str(store), "--name", "wm", "--quiet"])
    out = {"store": store, "run": store / "wm"}
    out["run_figures"] = report([str(store / "wm"), "-o", str(store / "wm-png")])
    for fmt in ("svg", "pdf"):
        report([str(store / "wm"), "-o", str(store / f"wm-{fmt}"), "--format", fmt])
    invoke(["sweep", str(WM), *sets(shrink(WM) + TINY + [SWEEP]), "--store", str(store)])
    out["sweep"] = store / "wm_leaky_mi-sweep"
    out["sweep_figures"] = report([str(out["sweep"]), "-o", str(store / "sweep-png")])
    return out


def stems(folder: Path, fmt: str = "png") -> set[str]:
    return {p.stem for p in folder.glob(f"*.{fmt}")}


def texts(fig) -> list[str]:
    """Every title, axis label, colour-bar label and legend text of a figure."""
    found = [fig._suptitle.get_text()] if fig._suptitle is not None else []
    for ax in fig.axes:
        found += [ax.get_title(loc) for loc in ("left", "center", "right")] + [ax.get_xlabel(), ax.get_ylabel()]
        legend = ax.get_legend()
        if legend is not None:
            found += [t.get_text() for t in legend.get_texts()] + [legend.get_title().get_text()]
    return [t for t in found if t]


def by_gid(fig, prefix: str, kind: str = "collections") -> dict[str, object]:
    return {a.get_gid(): a for ax in fig.axes for a in getattr(ax, kind) if (a.get_gid() or "").startswith(prefix)}


def raw_keys(*runs: Path) -> set[str]:
    """Every stored key with an underscore the runs hold (metrics over training and the final summary) or a
    registered metric declares."""
    from modsim.store import read_run

    keys = {k for k in registered_labels() if "_" in k}
    for run in runs:
        stored = read_run(run)
        keys |= {k for k in list(stored.summary) + list(stored.arrays("metrics")) if "_" in k}
    return keys


def mentions(text: str, keys: set[str]) -> list[str]:
    return [k for k in keys if re.search(rf"(?<![\w.\[]){re.escape(k)}(?![\w])", text)]


# --- run figures ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_run_report_draws_the_activity_figures(made):
    assert RUN_STEMS <= stems(made["store"] / "wm-png")
    assert RUN_STEMS <= set(made["run_figures"])
    page = (made["store"] / "wm-png" / "index.html").read_text()
    assert "<h2>Activity</h2>" in page and 'id="group_activity"' in page and 'id="pca_trajectories"' in page


@pytest.mark.slow
def test_group_activity_draws_each_groups_stored_checkpoint_values(made):
    from modsim.store import read_run

    metrics = read_run(made["run"]).arrays("metrics")
    lines = by_gid(made["run_figures"]["group_activity"], "group-activity:", "lines")
    assert set(lines) == {"group-activity:g1", "group-activity:g2"}
    for group in ("g1", "g2"):
        line = lines[f"group-activity:{group}"]
        assert np.array_equal(line.get_xdata(), metrics["step"])
        assert np.allclose(line.get_ydata(), metrics[f"activity_sd_{group}"])
    assert list(metrics["step"]) == [0, 2, 4]  # every stored checkpoint, the last one the trained network


@pytest.mark.slow
def test_group_activity_circles_the_checkpoints_a_group_was_silenced(made, tmp_path):
    from modsim.report import load_run
    from modsim.report.activity_figures import group_activity_over_training

    data = load_run(made["run"])
    data = dataclasses.replace(data, metrics={**data.metrics, "silenced_g2": np.array([0.0, 1.0, 1.0])})
    with style.recording() as saved:
        figure = group_activity_over_training(data, tmp_path / "out")
    circled = [c for ax in saved[0][1].axes for c in ax.collections]
    assert len(circled) == 1 and np.array_equal(circled[0].get_offsets()[:, 0], [2, 4])
    assert np.allclose(circled[0].get_offsets()[:, 1], data.metrics["activity_sd_g2"][1:])
    legend = [t.get_text() for t in saved[0][1].axes[0].get_legend().get_texts()]
    assert "g2 (20 units), silenced at the end" in legend and "flagged silenced" in legend
    assert "g1 (20 units)" in legend and "Circled" in figure.caption


@pytest.mark.slow
def test_group_activity_without_stored_activity_sd_is_computed_from_the_checkpoints(made, tmp_path):
    """Without the stored values the report computes them from the checkpoints (the training-time metric's
    numbers); without held-out data either it says why it cannot and how to get them."""
    from modsim.report import load_run
    from modsim.report.activity_figures import group_activity_over_training, missing_note

    data = load_run(made["run"])
    stored = data.metrics
    data = dataclasses.replace(data, metrics={k: v for k, v in data.metrics.items()
                                              if not k.startswith("activity_sd_")})
    with style.recording() as saved:
        figure = group_activity_over_training(data, tmp_path)
    assert "computed for this report" in figure.caption and missing_note(data) == ""
    lines = by_gid(saved[0][1], "group-activity:", "lines")
    for group in ("g1", "g2"):
        line = lines[f"group-activity:{group}"]
        assert np.array_equal(line.get_xdata(), stored["step"])
        np.testing.assert_allclose(line.get_ydata(), stored[f"activity_sd_{group}"], rtol=1e-6, atol=1e-9)
    assert "Circled" in figure.caption  # the stored silencing flags of the same checkpoints
    cut = dataclasses.replace(data, eval={})
    assert group_activity_over_training(cut, tmp_path) is None
    note = missing_note(cut)
    assert "no held-out data" in note and "modsim analyze" in note and "activity_sd" in note


@pytest.mark.slow
def test_activity_heatmap_sorts_units_by_group_and_draws_the_boundaries(made, tmp_path):
    from modsim.report import load_run
    from modsim.report.activity_figures import activity_heatmap, heatmap_trials

    data = load_run(made["run"])
    labels = np.random.default_rng(0).permutation(data.labels)  # groups interleaved: the sort matters
    data = dataclasses.replace(data, labels=labels)
    with style.recording() as saved:
        activity_heatmap(data, tmp_path)
    fig = saved[0][1]
    image = by_gid(fig, "activity-heatmap", "images")["activity-heatmap"].get_array()
    hidden = data.eval["hidden"]
    trials = heatmap_trials(data)
    assert trials == 2 and image.shape == (hidden.shape[2], trials * hidden.shape[1])
    order = np.argsort(labels, kind="stable")
    assert np.allclose(image, hidden[:trials].reshape(-1, hidden.shape[2])[:, order].T)
    ax = fig.axes[0]
    boundaries = [line.get_ydata()[0] for line in ax.lines if line.get_ydata()[0] == line.get_ydata()[1]]
    assert boundaries == [float((labels == 0).sum()) - 0.5]  # one line between g1 and g2
    assert [t.get_text() for t in ax.get_yticklabels()] == ["g1", "g2"]


def tree(folder: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and folder (None) under `folder`, by relative path."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


@pytest.fixture(scope="module")
def unrecorded(tmp_path_factory) -> dict:
    """A quick run of a shipped spec whose plan records no activity sd (bena_separate: two groups), reported;
    the run's files before and after the report, and the figures drawn."""
    store = tmp_path_factory.mktemp("store")
    spec = ROOT / "specs" / "bena_separate.yaml"
    invoke(["run", str(spec), "--quick", "--store", str(store), "--name", "bena", "--quiet"])
    run = store / "bena"
    before = tree(run)
    figures = report([str(run)])
    return {"run": run, "before": before, "after": tree(run), "figures": figures,
            "page": (store / "bena-report" / "index.html").read_text()}


def test_a_plan_without_activity_sd_still_gets_group_activity_over_training(unrecorded):
    from modsim.store import read_run

    run = read_run(unrecorded["run"])
    assert "activity_sd" not in run.spec.analysis.metrics and "activity_sd_m1" not in run.arrays("metrics")
    assert "group_activity" in unrecorded["figures"] and 'id="group_activity"' in unrecorded["page"]
    caption = html.unescape(unrecorded["page"])
    assert "computed for this report" in caption and "every one of the run's 3 stored checkpoints" in caption
    assert "recorded no activity sd" not in caption  # no note sending the user to `modsim analyze`


def test_the_report_writes_nothing_into_the_run(unrecorded):
    assert unrecorded["after"] == unrecorded["before"]


def test_the_reports_group_activity_equals_what_modsim_analyze_stores(unrecorded, tmp_path):
    from modsim.store import open_run
    from modsim.store.reader import analysis_results

    copy = tmp_path / "bena"
    shutil.copytree(unrecorded["run"], copy)
    plan = tmp_path / "plan.yaml"
    plan.write_text("metrics: [activity_sd]\n")
    invoke(["analyze", str(copy), "--plan", str(plan)])
    analysed = analysis_results(open_run(copy))
    lines = by_gid(unrecorded["figures"]["group_activity"], "group-activity:", "lines")
    assert set(lines) == {"group-activity:m1", "group-activity:m2"}
    for group in ("m1", "m2"):
        line = lines[f"group-activity:{group}"]
        assert np.array_equal(line.get_xdata(), analysed["step"]) and len(analysed["step"]) == 3
        np.testing.assert_allclose(line.get_ydata(), analysed[f"activity_sd_{group}"], rtol=1e-12, atol=0)


def test_many_checkpoints_are_subsampled_evenly_and_the_caption_says_so(unrecorded, tmp_path, monkeypatch):
    from modsim.evaluate.reanalysis import evenly_spread
    from modsim.report import load_run, rundata
    from modsim.report.activity_figures import group_activity_over_training

    assert evenly_spread(3, 40) == [0, 1, 2] and evenly_spread(101, 5) == [0, 25, 50, 75, 100]
    assert evenly_spread(1000, 40)[0] == 0 and evenly_spread(1000, 40)[-1] == 999 and len(evenly_spread(1000, 40)) == 40
    monkeypatch.setattr(rundata, "REPORT_CHECKPOINTS", 2)
    with style.recording() as saved:
        figure = group_activity_over_training(load_run(unrecorded["run"]), tmp_path)
    line = by_gid(saved[0][1], "group-activity:", "lines")["group-activity:m1"]
    assert list(line.get_xdata()) == [0, 20]  # the first and the last of 0, 10, 20
    assert "2 of the run's 3 stored checkpoints, evenly spread" in figure.caption


def cell_run(kind: str, store: Path) -> Path:
    spec = ROOT / "specs" / f"{CELL_SPECS[kind]}.yaml"
    invoke(["run", str(spec), *sets(shrink(spec) + TINY), "--store", str(store), "--name", kind, "--quiet"])
    return store / kind


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(CELL_SPECS))
def test_pca_trajectories_for_every_cell_kind(made, kind, tmp_path):
    from modsim.report import load_run
    from modsim.report.activity_figures import pca_trajectories

    assert set(CELL_SPECS) <= set(registry.cells.names())
    run = made["run"] if kind == "leaky" else cell_run(kind, tmp_path / "store")
    data = load_run(run)
    assert data.spec.network.cell.kind == kind
    with style.recording() as saved:
        figure = pca_trajectories(data, tmp_path / "out")
    assert figure.path.name == "pca_trajectories.png" and figure.path.is_file()
    fig = saved[0][1]
    assert f"({kind} cell)" in fig.axes[0].get_title()
    hidden = data.eval["hidden"].astype(np.float64)
    flat = hidden.reshape(-1, hidden.shape[-1])
    _, sv, vt = np.linalg.svd(flat - flat.mean(axis=0), full_matrices=False)
    expected = (hidden[0] - flat.mean(axis=0)) @ vt[:2].T
    line = by_gid(fig, "pca-trial:0", "lines")["pca-trial:0"]
    drawn = np.column_stack([line.get_xdata(), line.get_ydata()])
    for c in range(2):  # a principal axis is defined up to its sign
        assert np.allclose(drawn[:, c], expected[:, c], atol=1e-6) or np.allclose(drawn[:, c], -expected[:, c],
                                                                                     atol=1e-6)
    variance = by_gid(fig, "pca-", "lines")
    variance = {g: line for g, line in variance.items() if not g.startswith("pca-trial:")}
    groups = {f"pca-group:{g}" for g in data.group_names} if len(data.group_names) > 1 else set()
    assert set(variance) == {"pca-units"} | groups
    for name in data.group_names if groups else []:  # each group's own components
        part = flat[:, data.labels == data.group_names.index(name)]
        sv_g = np.linalg.svd(part - part.mean(axis=0), compute_uv=False)
        drawn_g = variance[f"pca-group:{name}"].get_ydata()
        assert np.allclose(drawn_g, np.cumsum(sv_g[:drawn_g.size] ** 2) / (sv_g ** 2).sum())
    total = variance["pca-units"].get_ydata()
    assert np.allclose(total, np.cumsum(sv[:total.size] ** 2) / (sv ** 2).sum())
    assert all(np.all(np.diff(v.get_ydata()) >= -1e-12) and v.get_ydata()[-1] <= 1 + 1e-9 for v in variance.values())


# --- sweep figures -------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_sweep_report_has_its_figures(made):
    assert stems(made["store"] / "sweep-png") == SWEEP_STEMS
    assert set(made["sweep_figures"]) == SWEEP_STEMS


def final_metrics(sweep: Path) -> dict[str, dict]:
    from modsim.sweep.stats import group_records

    return {c: [r.metrics for r in recs] for c, recs in group_records([sweep]).items()}


@pytest.mark.slow
def test_every_run_is_a_point_beside_its_conditions_mean(made):
    from modsim.analysis.summary import key_metrics
    from modsim.result_keys import is_flagged

    fig = made["sweep_figures"]["conditions"]
    finals = final_metrics(made["sweep"])
    assert list(finals) == CONDITIONS and all(len(runs) == 2 for runs in finals.values())
    drawn = [m for m in key_metrics() if any(m in r for runs in finals.values() for r in runs)]
    strips = by_gid(fig, "strip:")
    assert drawn and {g.split(":")[1] for g in strips} == set(drawn)
    for metric in drawn:
        points = 0
        for condition, runs in finals.items():
            values = strips[f"strip:{metric}:{condition}"].get_offsets()[:, 1]
            kept = [r[metric] for r in runs if not is_flagged(r, metric)]
            assert sorted(values) == pytest.approx(sorted(kept))
            points += len(values)
        flagged = sum(is_flagged(r, metric) for runs in finals.values() for r in runs)
        assert points + flagged == RUNS, metric
    means = by_gid(fig, "mean:", "lines")
    assert len(means) == len(drawn)
    for metric in drawn:  # the mean of the points drawn, beside them
        y = means[f"mean:{metric}"].get_ydata()
        for i, condition in enumerate(CONDITIONS):
            values = strips[f"strip:{metric}:{condition}"].get_offsets()[:, 1]
            assert y[i] == pytest.approx(np.mean(values)), metric


@pytest.mark.slow
def test_time_courses_draw_one_line_per_run_beside_the_mean(made):
    fig = made["sweep_figures"]["condition_time_courses"]
    runs = by_gid(fig, "run:", "lines")
    means = by_gid(fig, "mean:", "lines")
    keys = {g.split(":")[1] for g in means}
    assert {"q_cor", "d_cor", "mi"} <= keys
    for key in keys:
        assert sum(1 for g in runs if g.split(":")[1] == key) == RUNS, key
        for condition in CONDITIONS:
            assert f"mean:{key}:{condition}" in means


@pytest.mark.slow
def test_dependence_against_structure_has_one_point_per_run_coloured_by_condition(made):
    from matplotlib.colors import to_rgba

    from modsim.result_keys import is_flagged

    fig = made["sweep_figures"]["dependence_vs_structure"]
    finals = final_metrics(made["sweep"])
    points = by_gid(fig, "runs:")
    for y in ("mi", "dependence_audit"):
        for x in ("d_cor", "q_cor"):
            total = 0
            for i, (condition, runs) in enumerate(finals.items()):
                scatter = points[f"runs:{y}:{x}:{condition}"]
                kept = [r for r in runs if not is_flagged(r, y)]
                drawn = sorted(map(tuple, np.asarray(scatter.get_offsets(), dtype=float)))
                expected = sorted((float(r[x]), float(r[y])) for r in kept)
                assert len(drawn) == len(expected)
                if expected:
                    np.testing.assert_allclose(np.array(drawn), np.array(expected), rtol=1e-6)
                assert tuple(scatter.get_facecolor()[0]) == to_rgba(style.colour(i))
                total += len(scatter.get_offsets())
            assert total + sum(is_flagged(r, y) for runs in finals.values() for r in runs) == RUNS


@pytest.mark.slow
def test_a_flagged_mi_is_left_out_of_the_points_and_counted_in_the_caption(made, tmp_path):
    import zarr

    from modsim.report.sweep_figures import condition_strips, dependence_vs_structure
    from modsim.sweep.stats import group_records, summarize

    sweep = tmp_path / "sweep"
    shutil.copytree(made["sweep"], sweep)
    run = zarr.open_group(str(sweep / "runs" / "weight=0.1,seed=1002"), mode="r+")
    run.attrs.update({"summary": {**dict(run.attrs["summary"]), "mi": -560.0, "mi_diverged": 1.0}})
    groups = group_records([sweep])
    with style.recording() as saved:
        strips = condition_strips(summarize(groups), tmp_path / "out")
        scatter = dependence_vs_structure(groups, tmp_path / "out")
    drawn = dict(saved)
    mi = by_gid(drawn["conditions"], "strip:mi:")
    assert [len(mi[f"strip:mi:{c}"].get_offsets()) for c in CONDITIONS] == [2, 1]
    assert -560.0 not in np.concatenate([s.get_offsets()[:, 1] for s in mi.values()])
    assert "1 of MI estimate (nats)" in strips.caption
    panel = by_gid(drawn["dependence_vs_structure"], "runs:mi:d_cor:")
    assert sum(len(s.get_offsets()) for s in panel.values()) == RUNS - 1
    assert "1 MI estimate (nats) value flagged" in scatter.caption
    audit = by_gid(drawn["dependence_vs_structure"], "runs:dependence_audit:d_cor:")
    assert sum(len(s.get_offsets()) for s in audit.values()) == RUNS  # the audit has no critic to diverge


# --- the spec difference between conditions -----------------------------------------------------------------


def table(page: str, heading: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows (cell texts) of the table under `heading`."""
    section = re.search(rf"<h2>{re.escape(heading)}</h2>(.*?)</section>", page, re.S).group(1)
    rows = [[html.unescape(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", section, re.S)]
    return rows[0], rows[1:]


@pytest.mark.slow
def test_sweep_report_shows_exactly_the_spec_fields_that_differ_between_conditions(made):
    page = (made["store"] / "sweep-png" / "index.html").read_text()
    header, rows = table(page, "Spec differences between conditions")
    assert header == ["field", *CONDITIONS]
    assert rows == [["constraints[0].weight", "0.0", "0.1"]]
    assert "so not listed: training.seed." in page  # the seed differs inside each condition


def test_spec_differences_lists_exactly_the_differing_fields():
    base = {"name": "a", "network": {"units": 40, "groups": {"g1": 20, "g2": 20}},
            "training": {"seed": 1, "lr": 0.1}, "constraints": [{"kind": "mine", "weight": 0.1}]}

    def spec(seed: int, **changes) -> dict:
        doc = {**base, "name": f"run{seed}", "training": {**base["training"], "seed": seed}}
        if "weight" in changes:
            doc["constraints"] = [{"kind": "mine", "weight": changes["weight"]}]
        if "units" in changes:
            doc["network"] = {**base["network"], "units": changes["units"]}
        if changes.get("no_constraints"):
            doc["constraints"] = []
        return doc

    rows, varying = spec_differences({"A": [spec(1), spec(2)], "B": [spec(1, weight=0.0), spec(2, weight=0.0)],
                                      "C": [spec(1, units=60), spec(2, units=60)]})
    assert rows == [["constraints[0].weight", "0.1", "0.0", "0.1"], ["network.units", "40", "40", "60"]]
    assert varying == ["training.seed"]
    rows, varying = spec_differences({"A": [spec(1)], "B": [spec(1, no_constraints=True)]})
    assert rows == [["constraints[0].kind", "mine", "<absent>"], ["constraints[0].weight", "0.1", "<absent>"],
                    ["constraints", "<absent>", "[]"]]
    assert varying == []
    assert spec_differences({"A": [spec(1)], "B": [spec(1)]}) == ([], [])


# --- labels, not keys ----------------------------------------------------------------------------------------


def test_labels_name_every_kind_of_stored_key():
    assert label("q_cor") == "Q_cor"
    assert label("fastgreedy_activity_corr_nmi") == ("fast-greedy communities (activity correlation): NMI with the "
                                                     "groups")
    assert label("leiden_signed_readout_similarity_count") == ("Leiden signed communities (readout-weight "
                                                               "similarity): communities found")
    assert label("induced_q_signed_activity_corr_p") == ("induced signed Q of the groups (activity correlation): "
                                                         "permutation p")
    assert label("mi_diverged") == "MI estimate (nats): flagged (critic diverged)"
    assert label("t50_d_cor") == "rise step of D_cor (t50)"
    assert label("activity_sd_g1") == "activity sd of g1"
    assert label("dynamics_evidence_r_max") == "module-evidence r (max)"
    assert label("dependence_audit") == "dependence audit (nats, KSG)"
    for key in registered_labels():
        assert "_" not in label(key) or label(key) != key, key


@pytest.mark.slow
def test_no_figure_title_axis_or_table_shows_a_raw_key(made):
    runs = [made["run"], *sorted((made["sweep"] / "runs").iterdir())]
    keys = raw_keys(*runs)
    assert {"fastgreedy_activity_corr_nmi", "q_cor", "mi_diverged", "dependence_audit", "activity_sd_g1"} <= keys
    for stem, fig in {**made["run_figures"], **made["sweep_figures"]}.items():
        for text in texts(fig):
            assert not mentions(text, keys), (stem, text)
    for folder in ("wm-png", "sweep-png"):
        page = (made["store"] / folder / "index.html").read_text()
        headers = [html.unescape(t) for t in re.findall(r"<th[^>]*>(.*?)</th>", page)]
        captions = [html.unescape(t) for t in re.findall(r"<figcaption>(.*?)</figcaption>", page, re.S)]
        for text in headers + captions:
            assert not mentions(text, keys), (folder, text)
    page = (made["store"] / "wm-png" / "index.html").read_text()
    assert '<th title="fastgreedy_activity_corr_nmi">fast-greedy communities (activity correlation): NMI with the ' \
           'groups</th>' in page  # the key stays findable, as the label's tooltip


# --- formats -------------------------------------------------------------------------------------------------


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_every_format_writes_valid_files_and_the_page_shows_them(made, fmt):
    folder = made["store"] / f"wm-{fmt}"
    files = sorted(folder.glob(f"*.{fmt}"))
    assert {p.stem for p in files} == stems(made["store"] / "wm-png") >= RUN_STEMS
    assert not [p for p in folder.iterdir() if p.suffix in {".png", ".svg", ".pdf"} - {f".{fmt}"}]
    page = (folder / "index.html").read_text()
    for path in files:
        data = path.read_bytes()
        if fmt == "png":
            width = int.from_bytes(data[16:20], "big")
            assert data[:8] == PNG_SIGNATURE and width >= 600
        elif fmt == "svg":
            root = ET.fromstring(data)
            assert root.tag == "{http://www.w3.org/2000/svg}svg"
            assert any(True for _ in root.iter("{http://www.w3.org/2000/svg}text"))  # text stays text
        else:
            assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
            assert f'<object data="{path.name}" type="application/pdf"' in page
            assert f'<a href="{path.name}">' in page
    mime = {"png": "image/png", "svg": "image/svg+xml"}.get(fmt)
    assert page.count(f'<img src="data:{mime};base64,') == (len(files) if mime else 0)
    assert page.count("<figcaption>") == len(files)


@pytest.mark.slow
def test_png_figures_are_150_dpi(made):
    from PIL import Image

    for path in (made["store"] / "wm-png").glob("*.png"):
        dpi = Image.open(path).info.get("dpi")
        assert dpi is not None and round(dpi[0]) == style.DPI == 150


@pytest.mark.slow
def test_the_same_figure_is_the_same_svg_and_pdf_file(made, tmp_path):
    for fmt in ("svg", "pdf"):
        again = tmp_path / fmt
        report([str(made["run"]), "-o", str(again), "--format", fmt])
        for path in (made["store"] / f"wm-{fmt}").glob(f"*.{fmt}"):
            assert (again / path.name).read_bytes() == path.read_bytes(), path.name


def test_an_unknown_format_is_refused(tmp_path):
    from modsim.cli.report import FORMATS
    from modsim.report import write_report
    from modsim.errors import UserError

    assert FORMATS == style.FORMATS
    result = CliRunner().invoke(main, ["report", str(tmp_path), "--format", "jpg"])
    assert result.exit_code == 2 and "jpg" in result.output
    with pytest.raises(UserError, match="png, svg, pdf"):
        write_report([tmp_path], tmp_path / "out", fmt="jpg")
    assert not (tmp_path / "out").exists()
