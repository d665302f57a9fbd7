"""`python -m training bench` and the benchmark frame set (benchmarks/bench_inference.py)."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH_KEYS = {"frames", "frames_per_second", "frames_with_face", "faces", "stage_ms"}


@pytest.fixture(scope="module")
def bench_script():
    spec = importlib.util.spec_from_file_location("bench_inference", REPO / "benchmarks" / "bench_inference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def frames_dir(tmp_path_factory, photo):
    """The four real photos as 640x360 JPEG frames, twice each."""
    folder = tmp_path_factory.mktemp("frames")
    for i, name in enumerate(["obama-480p.jpg", "obama-720p.jpg", "obama1.jpg", "two_people.jpg"] * 2):
        frame = cv2.resize(photo(name), (640, 360), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(folder / f"frame_{i:02d}.jpg"), frame)
    return folder


def test_bench_json_reports_frames_faces_throughput_and_time_per_stage(cli, frames_dir):
    result = cli("bench", "--frames", str(frames_dir), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert BENCH_KEYS <= set(report)
    assert report["frames"] == 8
    assert report["frames_with_face"] == 8
    assert report["faces"] == 10  # two_people.jpg holds two
    assert report["frames_per_second"] > 0
    assert set(report["stage_ms"]) == {"decode", "detect", "crop", "classify"}
    assert all(ms > 0 for ms in report["stage_ms"].values())


def test_bench_prints_a_readable_summary(cli, frames_dir):
    result = cli("bench", "--frames", str(frames_dir))
    assert result.returncode == 0, result.stderr
    assert "frames/s" in result.stdout and "faces/s" in result.stdout and "ms per frame by stage" in result.stdout


def test_bench_reads_every_frame_of_a_video(cli, tmp_path, photo):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 360))
    assert writer.isOpened()
    frame = cv2.resize(photo("obama-720p.jpg"), (640, 360), interpolation=cv2.INTER_AREA)
    for _ in range(12):
        writer.write(frame)
    writer.release()
    result = cli("bench", "--video", str(path), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["frames"] == 12 and report["frames_with_face"] == 12


def test_bench_needs_exactly_one_frame_source_and_reports_an_empty_folder(cli, tmp_path):
    assert cli("bench").returncode == 2
    assert cli("bench", "--video", "a.mp4", "--frames", str(tmp_path)).returncode == 2
    result = cli("bench", "--frames", str(tmp_path))
    assert result.returncode == 2 and "no .jpg/.jpeg/.png frames" in result.stderr
    result = cli("bench", "--video", str(tmp_path / "missing.mp4"))
    assert result.returncode == 2 and "cannot open video" in result.stderr


def test_the_benchmark_frame_set_is_built_from_the_real_photos_at_640x360(bench_script, tmp_path):
    bench_script.make_frames(tmp_path, 6, seed=1)
    files = sorted(tmp_path.glob("frame_*.jpg"))
    assert len(files) == 6
    frames = [cv2.imread(str(f)) for f in files]
    assert all(f.shape == (360, 640, 3) for f in frames)
    assert len({f.tobytes() for f in frames}) == 6  # jittered: no two alike
    again = tmp_path / "again"
    bench_script.make_frames(again, 6, seed=1)
    assert np.array_equal(cv2.imread(str(again / "frame_0000.jpg")), frames[0])  # reproducible


def test_the_benchmark_script_runs_end_to_end(tmp_path):
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_inference.py"), "--n", "12",
                             "--repeat", "1", "--frames-out", str(tmp_path), "--json"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["frames"] == 12 and report["frames_with_face"] >= 9


def test_bench_repeat_reports_the_fastest_of_several_passes(cli, frames_dir):
    result = cli("bench", "--frames", str(frames_dir), "--repeat", "3", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert len(report["runs_frames_per_second"]) == 3
    assert report["frames_per_second"] == max(report["runs_frames_per_second"])
    assert cli("bench", "--frames", str(frames_dir), "--repeat", "0").returncode == 2


def test_bench_with_two_threads_times_every_frame_once_and_finds_the_same_faces(cli, frames_dir):
    one = json.loads(cli("bench", "--frames", str(frames_dir), "--json").stdout)
    result = cli("bench", "--frames", str(frames_dir), "--threads", "2", "--json")
    assert result.returncode == 0, result.stderr
    two = json.loads(result.stdout)
    assert two["threads"] == 2
    assert (two["frames"], two["frames_with_face"], two["faces"]) == (
        one["frames"], one["frames_with_face"], one["faces"]
    )
    assert cli("bench", "--frames", str(frames_dir), "--threads", "0").returncode == 2
