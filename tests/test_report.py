"""Reports: every figure a valid PNG of sensible size, the page complete, and the page rendered in headless
Chromium with every image loaded and no console error (GRU run, CTRNN dynamics run, WM and modules sweeps)."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from modsim.cli import main
from modsim.spec import load_spec
from tests.conftest import ROOT, SHRINK, shrink_mine, shrink_task

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
RUN_FIGURES = {"time_courses", "example_trials", "correlation", "community_graph", "weights", "activity_heatmap",
               "pca_trajectories"}
DYNAMICS_FIGURES = {"output_lesions", "recurrent_lesions", "jacobian", "lesion_similarity", "fixed_points",
                    "input_weights"}


def shrink(path: Path) -> list[str]:
    spec = load_spec(path)
    return SHRINK + shrink_task(spec.task.kind) + (shrink_mine() if spec.mine is not None else [])


def sets(overrides: list[str]) -> list[str]:
    return [x for o in overrides for x in ("--set", o)]


def invoke(args: list[str]):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    """Report directories of a GRU run (written by `run --report`), a CTRNN run with the dynamics analyses,
    a working-memory comparison of two sweeps, and a modules sweep over two swept fields."""
    store = tmp_path_factory.mktemp("store")
    out: dict[str, Path] = {}
    gru = ROOT / "specs" / "gru_lorenz_rossler.yaml"
    invoke(["run", str(gru), *sets(shrink(gru) + ["training.steps=4", "training.checkpoint_every=2"]),
            "--store", str(store), "--name", "gru", "--quiet", "--report"])
    out["gru"] = store / "gru-report"
    pdm = ROOT / "specs" / "ctrnn_pdm.yaml"
    invoke(["run", str(pdm), *sets(shrink(pdm) + ["training.steps=3", "analysis.dynamics.fixed_points.steps=20"]),
            "--store", str(store), "--name", "pdm", "--quiet"])
    invoke(["report", str(store / "pdm"), "-o", str(store / "pdm-report")])
    out["pdm"] = store / "pdm-report"
    for name in ("wm_leaky_mi", "wm_leaky_nomi"):
        spec = ROOT / "specs" / f"{name}.yaml"
        invoke(["sweep", str(spec), *sets(shrink(spec) + ["sweep.seeds=2"]), "--store", str(store)])
    invoke(["report", str(store / "wm_leaky_mi-sweep"), str(store / "wm_leaky_nomi-sweep"), "-o",
            str(store / "wm-report")])
    out["wm"] = store / "wm-report"
    bena = ROOT / "specs" / "bena_separate.yaml"
    grid = "sweep={grid: {network.recurrent.p: [0.01, 1.0], task.cov_ratio: [0.5, 1.0]}}"
    invoke(["sweep", str(bena), *sets(shrink(bena) + [grid]), "--store", str(store), "--report"])
    assert (store / "bena_separate-sweep-report" / "heatmaps.png").exists()  # written by sweep --report
    invoke(["report", str(store / "bena_separate-sweep"), "--runs"])
    out["modules"] = store / "bena_separate-sweep-report"
    invoke(["run", str(gru), *sets(shrink(gru) + ["training.steps=4", "training.checkpoint_every=2",
                                                  "constraints[0].weight=0.0", "training.seed=7"]),
            "--store", str(store), "--name", "gru_b", "--quiet"])
    invoke(["report", str(store / "gru"), str(store / "gru_b"), "-o", str(store / "pair-report")])
    out["pair"] = store / "pair-report"
    return out


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the IHDR chunk; fails unless the file is a PNG."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR", f"{path} is not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def figure_stems(report: Path) -> set[str]:
    return {p.stem for p in report.glob("*.png")}


@pytest.mark.slow
@pytest.mark.parametrize("which", ["gru", "pdm", "wm", "modules", "pair"])
def test_every_figure_is_a_png_of_sensible_size_and_on_the_page(reports, which):
    report = reports[which]
    pngs = sorted(report.glob("*.png"))
    assert pngs, f"no figures in {report}"
    for png in pngs:
        width, height = png_size(png)
        assert 300 <= width <= 3300 and 250 <= height <= 3000, f"{png.name}: {width} x {height}"  # 150 dpi
        assert png.stat().st_size > 5000, f"{png.name} is nearly empty"
    page = (report / "index.html").read_text()
    assert page.count('<img src="data:image/png;base64,') == len(pngs)
    assert page.count("<figcaption>") == len(pngs)
    assert not list(report.parent.glob("*.partial"))


def test_run_report_has_the_run_and_dynamics_figures_and_key_numbers(reports):
    from modsim.store import open_run

    assert RUN_FIGURES | {"output_correlations", "phase_portraits", "group_activity"} <= figure_stems(reports["gru"])
    assert RUN_FIGURES | DYNAMICS_FIGURES <= figure_stems(reports["pdm"])
    assert "phase_portraits" not in figure_stems(reports["pdm"])  # one-channel outputs: no attractor to draw
    summary = open_run(reports["gru"].parent / "gru").attrs["summary"]
    page = (reports["gru"] / "index.html").read_text()
    row = re.search(r"<th title=\"q_cor\">Q_cor</th><td class=\"num\">([^<]+)</td>", page)
    assert row is not None and float(row.group(1)) == pytest.approx(summary["q_cor"], rel=1e-3, abs=1e-4)
    spec = re.search(r"<pre><code>(.*?)</code></pre>", page, re.S)  # the resolved spec is embedded
    import html

    import yaml

    embedded = yaml.safe_load(html.unescape(spec.group(1)))
    assert embedded == dict(open_run(reports["gru"].parent / "gru").attrs["spec"])


def test_two_runs_are_compared_side_by_side(reports):
    page = (reports["pair"] / "index.html").read_text()
    assert "modsim report: gru vs gru_b" in page and "<th>b - a</th>" in page
    assert "<th>constraints[0].weight</th>" in page and "<th>training.seed</th>" in page
    assert "compared_time_courses" in figure_stems(reports["pair"])
    links = re.findall(r'<a href="(runs/[^"]+/index.html)">', page)
    assert len(links) == 2 and all((reports["pair"] / link).exists() for link in links)


def test_sweep_reports_compare_conditions_and_draw_heatmaps(reports):
    wm = (reports["wm"] / "index.html").read_text()
    assert {"conditions", "condition_time_courses"} <= figure_stems(reports["wm"])
    grid = re.search(r"<table><tr><th>condition</th>(.*?)</table>", wm, re.S).group(0)
    assert '<th title="q_cor">Q_cor</th>' in grid and "<th>wm_leaky_mi</th>" in grid and "<th>wm_leaky_nomi</th>" in grid
    assert "(2), p=" in grid  # the second condition's cells carry Welch's p against the first
    assert "heatmaps" not in figure_stems(reports["wm"])  # seeds only: nothing to grid over
    modules = reports["modules"]
    assert {"conditions", "heatmaps"} <= figure_stems(modules)
    page = (modules / "index.html").read_text()
    links = re.findall(r'<a href="(runs/[^"]+/index.html)">', page)
    assert len(links) == 4 and all((modules / link).exists() for link in links)
    assert "4 of 4 runs finished" in page


def test_bad_store_is_refused_and_nothing_is_written(tmp_path, reports, monkeypatch):
    not_a_store = tmp_path / "plain"
    not_a_store.mkdir()
    result = CliRunner().invoke(main, ["report", str(not_a_store), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and "not a Zarr group" in result.output
    run, sweep = reports["gru"].parent / "gru", reports["wm"].parent / "wm_leaky_mi-sweep"
    mixed = CliRunner().invoke(main, ["report", str(run), str(sweep), "-o", str(tmp_path / "out")])
    assert mixed.exit_code == 2 and "not a mix" in mixed.output
    import modsim.report.run_figures as run_figures

    def broken(*args, **kwargs):
        raise RuntimeError("figure failed")

    monkeypatch.setattr(run_figures, "weight_matrices", broken)
    with pytest.raises(RuntimeError):
        from modsim.report import write_report

        write_report([run], tmp_path / "out")
    assert not any(tmp_path.glob("out*"))


def browser_check(page_path: Path) -> tuple[list[tuple[bool, int, int]], list[str]]:
    """Open a page in headless Chromium: (complete, naturalWidth, naturalHeight) of every image, and every
    console error or uncaught page error."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
        context = pw.chromium.launch_persistent_context(profile, executable_path=str(CHROMIUM), headless=True,
                                                        args=CHROMIUM_FLAGS)
        try:
            page = context.new_page()
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(page_path.resolve().as_uri(), wait_until="load")
            images = page.eval_on_selector_all(
                "img", "els => els.map(e => [e.complete, e.naturalWidth, e.naturalHeight])")
        finally:
            context.close()
    return [tuple(i) for i in images], errors


def _browser_available() -> bool:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return False
    return CHROMIUM.exists()


@pytest.fixture(scope="module")
def browser():
    if not _browser_available():
        if os.environ.get("MODSIM_REQUIRE_BROWSER"):
            pytest.fail("MODSIM_REQUIRE_BROWSER is set but /usr/bin/chromium or playwright is missing")
        pytest.skip("headless Chromium (/usr/bin/chromium) or playwright is not installed")
    return browser_check


@pytest.mark.slow
def test_browser_check_catches_a_broken_image_and_a_console_error(browser, tmp_path):
    png = next(Path(__file__).parent.parent.glob("schemas/*.json"))  # any non-image file
    shutil.copy(png, tmp_path / "not_an_image.png")
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body>'
                    '<img src="not_an_image.png"><script>console.error("boom")</script></body></html>')
    images, errors = browser(page)
    assert images == [(True, 0, 0)]
    assert "boom" in errors


@pytest.mark.slow
@pytest.mark.parametrize("which", ["gru", "pdm", "wm", "modules"])
def test_report_opens_in_headless_chromium_with_every_image_loaded(reports, browser, which):
    pages = [reports[which] / "index.html"]
    if which == "modules":
        pages.append(sorted((reports[which] / "runs").glob("*/index.html"))[0])
    for page in pages:
        images, errors = browser(page)
        expected = len(list(page.parent.glob("*.png")))
        assert len(images) == expected > 0, page
        assert all(complete and w > 0 and h > 0 for complete, w, h in images), (page, images)
        assert errors == [], (page, errors)


def test_unfinished_run_reports_what_it_wrote(reports, tmp_path):
    import zarr

    from modsim.report import write_report

    run = tmp_path / "cut"
    shutil.copytree(reports["gru"].parent / "gru", run)
    group = zarr.open_group(str(run), mode="r+")
    del group["eval"]
    group.attrs.update({"status": "interrupted", "summary": None})
    index = write_report([run])
    assert index == tmp_path / "cut-report" / "index.html"
    assert figure_stems(index.parent) == {"time_courses", "weights", "group_activity"}  # no held-out activity
    page = index.read_text()
    assert "status interrupted" in page and "did not finish" in page


def test_key_numbers_follow_the_last_analysis():
    from types import SimpleNamespace

    import numpy as np

    from modsim.report import key_numbers

    data = SimpleNamespace(summary={"fastgreedy_activity_corr_count": 2.0, "q_cor": 0.3},
                           analysis={"step": np.array([0, 10]), "fastgreedy_activity_corr_count": np.array([4, 3]),
                                     "fastgreedy_activity_corr_partition": np.zeros((2, 5))})
    assert key_numbers(data) == {"fastgreedy_activity_corr_count": 3.0, "q_cor": 0.3}
