"""CPU time by stage (profiling/stages.py): exclusive of nested stages, written per process, off by default."""
import json
import time

import pytest

from profiling import stages
from profiling.stages import ENV, WRITE_EVERY_S, read_totals, stage


def spin(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


@pytest.fixture
def recording(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, str(tmp_path))
    monkeypatch.setattr(stages, "_recorder", None)
    yield tmp_path
    monkeypatch.setattr(stages, "_recorder", None)


def wait_for_totals(folder, names, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        totals = read_totals(folder)
        if set(names) <= set(totals):
            return totals
        time.sleep(WRITE_EVERY_S / 2)
    raise AssertionError(f"no totals for {names} in {folder}")


def test_without_the_variable_a_stage_records_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setattr(stages, "_recorder", None)
    with stage("decode"):
        spin(0.01)
    assert stages._recorder is None and list(tmp_path.iterdir()) == []


def test_a_nested_stage_is_counted_once_and_not_in_its_parent(recording):
    for _ in range(2):
        with stage("outer"):
            spin(0.05)
            with stage("inner"):
                spin(0.1)
    totals = wait_for_totals(recording, ["outer", "inner"])
    (outer, outer_calls), (inner, inner_calls) = totals["outer"], totals["inner"]
    assert (outer_calls, inner_calls) == (2, 2)
    assert 0.09 <= outer < 0.15, outer  # 2 x 0.05 s of its own work
    assert 0.19 <= inner < 0.3, inner


def test_a_stage_that_raises_still_counts_and_the_error_passes(recording):
    with pytest.raises(ValueError), stage("validation"):
        spin(0.02)
        raise ValueError("bad frame")
    assert wait_for_totals(recording, ["validation"])["validation"][1] == 1


def test_totals_of_several_processes_are_summed(tmp_path):
    (tmp_path / "101.json").write_text(json.dumps({"decode": [1.5, 10], "claim": [0.25, 1]}))
    (tmp_path / "102.json").write_text(json.dumps({"decode": [0.5, 5]}))
    (tmp_path / "103.tmp").write_text("{half a fi")  # a file being replaced is not read
    assert read_totals(tmp_path) == {"decode": [2.0, 15], "claim": [0.25, 1]}


def test_a_folder_that_cannot_be_made_turns_profiling_off_and_the_work_still_runs(tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(ENV, str(blocker / "stages"))
    monkeypatch.setattr(stages, "_recorder", None)
    monkeypatch.setattr(stages, "_unusable", None)
    ran = []
    for _ in range(2):
        with stage("decode"):
            ran.append(True)
    assert ran == [True, True] and stages._recorder is None
    assert len([r for r in caplog.records if "stage times are off" in r.message]) == 1
