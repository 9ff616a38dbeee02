"""A damaged store is detected and named, never computed on: unreadable metadata, attributes of the wrong type,
and missing or corrupt chunks make `analyze`, `resume`, `diff` and `report` exit 2 with one line naming the run,
the file and what to do; `ls` lists every run and marks the broken ones."""

from __future__ import annotations

import json
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import zarr
from click.testing import CliRunner

from modsim.cli import main
from modsim.errors import StoreCorrupt
from modsim.store import open_run, read_section
from modsim.store.integrity import CHUNKS_ATTRIBUTE, CorruptFile, missing_chunk
from modsim.store.writer import RunWriter
from tests.test_store_safety import tiny_run

WEIGHTS = "checkpoints/rnn.weight_hh_l0"
"""A checkpointed parameter of the tiny GRU run (3 checkpoints: steps 0, 1, 2; one chunk each)."""


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """One finished tiny run, never changed (tests damage copies)."""
    store = tmp_path_factory.mktemp("pristine") / "store"
    result = tiny_run(store, "--name", "r")
    assert result.exit_code == 0, result.output
    return store / "r"


def copy_run(pristine: Path, store: Path, name: str = "r") -> Path:
    return Path(shutil.copytree(pristine, store / name))


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


# --- damage ---------------------------------------------------------------------------------------------------

def truncate(file: Path) -> None:
    data = file.read_bytes()
    file.write_bytes(data[: len(data) // 2])


def garbage(file: Path) -> None:
    file.write_bytes(b"\xff\xfe\x00\x81" + bytes(range(255, 0, -3)))


def flip_bit(file: Path) -> None:
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0x10
    file.write_bytes(bytes(data))


def set_attribute(run: Path, name: str, value) -> None:
    """Edit the run's zarr.json by hand, as a user or a broken tool would."""
    meta = json.loads((run / "zarr.json").read_text())
    meta["attributes"][name] = value
    (run / "zarr.json").write_text(json.dumps(meta))


def set_rows(run: Path, array: str, rows: int) -> None:
    """Edit the length of an array's first axis in its metadata."""
    meta = json.loads((run / array / "zarr.json").read_text())
    meta["shape"][0] = rows
    (run / array / "zarr.json").write_text(json.dumps(meta))


Damage = tuple[Callable[[Path], None], str]
"""How to damage a run, and what the message must name."""

ROOT: dict[str, Damage] = {
    "root zarr.json truncated": (lambda run: truncate(run / "zarr.json"), "zarr.json is not readable"),
    "root zarr.json garbage": (lambda run: garbage(run / "zarr.json"), "zarr.json is not readable"),
    "summary of the wrong type": (lambda run: set_attribute(run, "summary", [1, "x"]), "attribute 'summary'"),
    "status of the wrong type": (lambda run: set_attribute(run, "status", 3), "attribute 'status'"),
    "spec of the wrong type": (lambda run: set_attribute(run, "spec", "a spec"), "attribute 'spec'"),
    "last_step of the wrong type": (lambda run: set_attribute(run, "last_step", "2"), "attribute 'last_step'"),
}
CHECKPOINTS: dict[str, Damage] = {
    "checkpoint zarr.json truncated": (lambda run: truncate(run / WEIGHTS / "zarr.json"),
                                       f"{WEIGHTS}/zarr.json is not readable Zarr array metadata"),
    "checkpoint chunk garbage": (lambda run: garbage(run / WEIGHTS / "c/1/0/0"),
                                 f"{WEIGHTS} has a corrupt chunk c/1/0/0"),
    "checkpoint chunk bit flip": (lambda run: flip_bit(run / WEIGHTS / "c/1/0/0"),
                                  f"{WEIGHTS} has a corrupt chunk c/1/0/0 (ValueError: Stored and computed checksum"),
    "checkpoint chunk deleted": (lambda run: (run / WEIGHTS / "c/1/0/0").unlink(),
                                 f"{WEIGHTS} has lost chunk c/1/0/0"),
}
HELD_OUT: dict[str, Damage] = {
    "held-out activity chunk deleted": (lambda run: (run / "eval/hidden/c/0/0/0").unlink(),
                                        "eval/hidden has lost chunk c/0/0/0"),
    "held-out activity chunk garbage": (lambda run: garbage(run / "eval/hidden/c/0/0/0"),
                                        "eval/hidden has a corrupt chunk c/0/0/0"),
    "training log chunk garbage": (lambda run: garbage(run / "train/total/c/0"), "train/total has a corrupt chunk c/0"),
}


def assert_named(result, run: Path, item: str, advice: str = "delete") -> None:
    """Exit 2 with one error line naming the run, the damaged file and what to do; no traceback."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("error ") and f"{run}: " in line and item in line and advice in line, line


# --- the commands ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("damage", [*ROOT, *CHECKPOINTS, "held-out input chunk deleted", "checkpoint rows cut"])
def test_analyze_names_the_damage_and_writes_nothing(pristine, tmp_path, damage):
    run = copy_run(pristine, tmp_path)
    cases = {**ROOT, **CHECKPOINTS,
             "held-out input chunk deleted": (lambda r: (r / "eval/inputs/c/0/0/0").unlink(),
                                              "eval/inputs has lost chunk c/0/0/0"),
             "checkpoint rows cut": (lambda r: set_rows(r, WEIGHTS, 2),
                                     f"{WEIGHTS} holds 2 checkpoints where checkpoints/step lists 3")}
    spoil, item = cases[damage]
    spoil(run)
    assert_named(cli("analyze", str(run)), run, item)
    assert not (run / "analysis").exists()  # nothing computed on fill values, nothing written


@pytest.mark.parametrize("damage", list(ROOT))
def test_diff_names_the_damaged_run(pristine, tmp_path, damage):
    good, run = copy_run(pristine, tmp_path, "good"), copy_run(pristine, tmp_path)
    spoil, item = ROOT[damage]
    spoil(run)
    assert_named(cli("diff", str(good), str(run)), run, item)


@pytest.mark.parametrize("damage", [*ROOT, *HELD_OUT])
def test_report_names_the_damage_and_draws_nothing(pristine, tmp_path, damage):
    run = copy_run(pristine, tmp_path)
    spoil, item = {**ROOT, **HELD_OUT}[damage]
    spoil(run)
    out = tmp_path / "report"
    assert_named(cli("report", str(run), "-o", str(out)), run, item)
    assert not (out / "index.html").exists()


def test_report_sends_a_damaged_analysis_back_to_analyze(pristine, tmp_path):
    run = copy_run(pristine, tmp_path)
    assert cli("analyze", str(run)).exit_code == 0
    (run / "analysis/step/c/0").unlink()
    assert_named(cli("report", str(run), "-o", str(tmp_path / "report")), run, "analysis/step has lost chunk c/0",
                 advice=f"run `modsim analyze {run}` again")


@pytest.mark.parametrize("damage", [*ROOT, *CHECKPOINTS, "training log chunk garbage"])
def test_resume_names_the_damage(pristine, tmp_path, damage):
    run = copy_run(pristine, tmp_path)
    set_attribute(run, "status", "interrupted")  # resumable from its saved state (the last checkpoint)
    spoil, item = {**ROOT, **CHECKPOINTS, **HELD_OUT}[damage]
    spoil(run)
    assert_named(cli("resume", str(run), "--quiet"), run, item)


@pytest.mark.slow
def test_resume_rewrites_lost_held_out_data(pristine, tmp_path):
    """The held-out data is written again at the end of a resumed run: losing it is no reason to refuse."""
    run = copy_run(pristine, tmp_path)
    set_attribute(run, "status", "interrupted")
    (run / "eval/hidden/c/0/0/0").unlink()
    result = cli("resume", str(run), "--quiet")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read_section(open_run(run), "eval")["hidden"],
                                  read_section(open_run(pristine), "eval")["hidden"])


def test_overwrite_leaves_a_run_with_unreadable_metadata_alone(pristine, tmp_path):
    run = copy_run(pristine, tmp_path / "store")
    garbage(run / "zarr.json")
    before = (run / "zarr.json").read_bytes()
    result = tiny_run(tmp_path / "store", "--name", "r", "--overwrite")
    assert result.exit_code == 2, result.output
    assert "zarr.json is not readable" in result.output and "left untouched" in result.output
    assert (run / "zarr.json").read_bytes() == before and (run / WEIGHTS).is_dir()


# --- ls ---------------------------------------------------------------------------------------------------------

def table_rows(output: str) -> dict[str, list[str]]:
    """The cells of each row of a rich table by its first cell, wrapped lines joined."""
    rows: dict[str, list[str]] = {}
    current = None
    for line in output.splitlines():
        if not line.startswith(("│", "┃")):  # a row, or the header
            continue
        cells = [cell.strip() for cell in line.replace("┃", "│").split("│")[1:-1]]
        if cells[0]:
            current = cells[0]
            rows[current] = cells
        elif current is not None:
            rows[current] = [f"{a} {b}".strip() for a, b in zip(rows[current], cells)]
    return rows


def test_ls_lists_every_run_and_marks_the_broken_ones(pristine, tmp_path):
    store = tmp_path / "store"
    copy_run(pristine, store, "ok")
    garbage(copy_run(pristine, store, "garbled") / "zarr.json")
    set_attribute(copy_run(pristine, store, "mistyped"), "summary", [1, "x"])
    (copy_run(pristine, store, "lost_chunk") / WEIGHTS / "c/1/0/0").unlink()  # ls reads metadata only
    zarr.open_group(str(store / "foreign"), mode="w", zarr_format=3, attributes={"made_by": "someone else"})
    copy_run(pristine, store, ".r.creating-1-ab")  # modsim's hidden temporaries are not runs
    sweep = zarr.open_group(str(store / "sw"), mode="w", zarr_format=3,
                            attributes={"store_version": 2, "kind": "sweep", "name": "sw", "spec": {},
                                        "runs": ["a", "b", "c"], "swept": []})
    copy_run(pristine, store / "sw" / "runs", "a")
    truncate(copy_run(pristine, store / "sw" / "runs", "b") / "zarr.json")
    assert sweep.attrs["kind"] == "sweep"

    result = cli("ls", "--store", str(store))
    assert result.exit_code == 0, result.output
    rows = table_rows(result.output)
    header = rows.pop("run")
    assert set(rows) == {"ok", "garbled", "mistyped", "lost_chunk", "foreign", "sw"}
    status, steps, problem = header.index("status"), header.index("steps"), header.index("problem")
    summary = open_run(pristine).attrs["summary"]
    for name in ("ok", "lost_chunk"):
        assert (rows[name][status], rows[name][steps], rows[name][problem]) == ("finished", "2", "")
        assert rows[name][header.index("Q_cor")] == f"{summary['q_cor']:.4f}"
    assert rows["garbled"][status] == "broken"
    assert rows["garbled"][problem].startswith("zarr.json is not readable Zarr group metadata (UnicodeDecodeError")
    assert rows["mistyped"][status] == "broken" and "attribute 'summary' = [1, 'x']" in rows["mistyped"][problem]
    assert rows["foreign"][status] == "broken" and "not a modsim run" in rows["foreign"][problem]
    assert rows["sw"][status] == "sweep 1/3 finished, 1 broken"
    assert rows["sw"][problem].startswith("b: zarr.json is not readable Zarr group metadata (JSONDecodeError")


# --- the reader and the writer ----------------------------------------------------------------------------------

def test_the_error_names_its_parts_and_survives_pickling(pristine, tmp_path):
    run = copy_run(pristine, tmp_path)
    (run / WEIGHTS / "c/2/0/0").unlink()
    with pytest.raises(CorruptFile) as caught:
        read_section(open_run(run), "checkpoints")
    exc = caught.value
    assert isinstance(exc, StoreCorrupt)
    assert (exc.run, exc.item, exc.reason) == (run, WEIGHTS, f"{WEIGHTS} has lost chunk c/2/0/0 (the file is missing; "
                                                             "zarr would read it as 0.0)")
    copy = pickle.loads(pickle.dumps(exc))
    assert (type(copy), str(copy), copy.item) == (CorruptFile, str(exc), exc.item)


def test_every_chunk_is_written_checksummed_and_marked(tmp_path):
    """All-zero chunks go to disk too (zarr skips them by default), also when the run is reopened, so a chunk
    missing from disk is always lost data."""
    group = zarr.open_group(str(tmp_path / "run"), mode="w", zarr_format=3)
    for section in ("checkpoints", "eval"):
        group.create_group(section)
    RunWriter(group, tmp_path / "run").append_checkpoint(0, {"w": np.zeros((2, 3))})
    reopened = RunWriter(zarr.open_group(str(tmp_path / "run"), mode="r+"), tmp_path / "run")
    reopened.append_checkpoint(1, {"w": np.zeros((2, 3))})
    reopened.write_eval({"hidden": np.zeros((4, 5, 3))})
    for key, chunks in (("checkpoints/w", ["c/0/0/0", "c/1/0/0"]), ("eval/hidden", ["c/0/0/0"])):
        meta = json.loads((tmp_path / "run" / key / "zarr.json").read_text())
        assert [codec["name"] for codec in meta["codecs"]] == ["bytes", "zstd", "crc32c"]
        assert meta["attributes"][CHUNKS_ATTRIBUTE] == "complete"
        assert all((tmp_path / "run" / key / chunk).is_file() for chunk in chunks), key
        assert missing_chunk(zarr.open_array(str(tmp_path / "run" / key), mode="r"), tmp_path / "run", key) is None


def test_arrays_written_before_the_marker_read_a_missing_chunk_as_fill(pristine, tmp_path):
    """The documented limit for old stores: zarr skipped all-fill chunks then, so an unmarked array's missing
    chunk cannot be told from one never written."""
    run = copy_run(pristine, tmp_path)
    meta = json.loads((run / WEIGHTS / "zarr.json").read_text())
    del meta["attributes"][CHUNKS_ATTRIBUTE]
    (run / WEIGHTS / "zarr.json").write_text(json.dumps(meta))
    (run / WEIGHTS / "c/1/0/0").unlink()
    got = read_section(open_run(run), "checkpoints")["rnn.weight_hh_l0"]
    want = read_section(open_run(pristine), "checkpoints")["rnn.weight_hh_l0"]
    assert not got[1].any()
    np.testing.assert_array_equal(got[[0, 2]], want[[0, 2]])


def test_a_chunk_being_written_by_a_live_run_is_waited_for(pristine, tmp_path, monkeypatch):
    """zarr grows an array's shape, then writes the new chunk: a reader of a run that another live process
    trains waits for it rather than calling it lost."""
    import socket

    from modsim.store import integrity

    run = copy_run(pristine, tmp_path)
    (run / ".lock").write_text(json.dumps({"pid": 1, "host": socket.gethostname()}))  # init: alive, not us
    chunk = run / WEIGHTS / "c/2/0/0"
    data = chunk.read_bytes()
    chunk.unlink()
    waits = []

    def writer_finishes(seconds: float) -> None:  # the other process writes the chunk while the reader waits
        waits.append(seconds)
        chunk.write_bytes(data)

    monkeypatch.setattr(integrity.time, "sleep", writer_finishes)
    got = read_section(open_run(run), "checkpoints")["rnn.weight_hh_l0"]
    assert len(waits) == 1
    np.testing.assert_array_equal(got, read_section(open_run(pristine), "checkpoints")["rnn.weight_hh_l0"])
