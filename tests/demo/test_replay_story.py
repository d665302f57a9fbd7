"""The demo replay's story: fourteen days with frames, whatever the hour `make run` starts."""
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pytest

from backend.demo.replay import EMOTIONS_BY_MOOD, STORIES, replay_frames_write, story_end_day

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def faces_dir(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    for emotions in EMOTIONS_BY_MOOD.values():
        for emotion in emotions:
            (tmp_path / emotion).mkdir()
            cv2.imwrite(str(tmp_path / emotion / "PublicTest_1.png"), rng.integers(0, 256, (48, 48), np.uint8))
    return tmp_path


@pytest.mark.parametrize(("clock", "expected"), [
    ((0, 28), date(2026, 12, 2)), ((7, 59), date(2026, 12, 2)), ((14, 59), date(2026, 12, 2)),
    ((15, 0), date(2026, 12, 3)), ((23, 59), date(2026, 12, 3)),
])
def test_the_story_ends_today_only_once_half_of_todays_waking_hours_are_over(clock, expected):
    assert story_end_day(datetime(2026, 12, 3, *clock, tzinfo=PARIS)) == expected


@pytest.mark.parametrize("utc_now", [
    datetime(2026, 12, 2, 23, 28, tzinfo=UTC),  # 00:28 in Paris: the hour CI once started it
    datetime(2026, 12, 3, 6, 0, tzinfo=UTC),
    datetime(2026, 12, 3, 13, 30, tzinfo=UTC),
    datetime(2026, 12, 3, 21, 30, tzinfo=UTC),
])
def test_the_replay_fills_every_day_of_the_story_with_frames_from_the_past(utc_now, faces_dir, tmp_path):
    target = tmp_path / "frames"
    written = replay_frames_write(reference="DEMO-001", timezone="Europe/Paris", faces_dir=faces_dir,
                                  target_dir=target, now=utc_now)
    stamps = [datetime.fromtimestamp(p.stat().st_mtime, tz=PARIS) for p in target.glob("*.jpg")]
    assert written == len(stamps) > 0
    assert max(stamps) < utc_now
    assert len({s.date() for s in stamps}) == len(STORIES["DEMO-001"].days)
    assert max(stamps).date() >= (utc_now.astimezone(PARIS) - timedelta(days=1)).date()


def test_a_second_replay_keeps_the_frames_already_written(faces_dir, tmp_path):
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    first = replay_frames_write(reference="DEMO-002", timezone="America/New_York", faces_dir=faces_dir,
                                target_dir=tmp_path / "f", now=now)
    again = replay_frames_write(reference="DEMO-002", timezone="America/New_York", faces_dir=faces_dir,
                                target_dir=tmp_path / "f", now=now + timedelta(days=1))
    assert again == first == len(list((tmp_path / "f").glob("*.jpg")))
