"""The demo replay: two weeks of phone frames built from real faces, for `make run`.

Each frame is a FER2013 PublicTest face (a real photo, 48x48 grey) enlarged and placed on a plain
640x360 scene, saved as a JPEG whose file time is its capture time; the device simulator uploads the
folder with `--start mtime`, so the server's real pipeline (detection, model) makes every record.
Faces are drawn from the folder of an emotion chosen by the patient's day-by-day mood mix: the
*labels* steer the story, the model decides each record's mood.
"""
import os
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import cv2
import numpy as np

FRAME_SIZE = (640, 360)  # width, height: a phone's front camera, landscape, as uploaded
FACE_SIDE = 150  # px: the enlarged face, as a face ~40 cm from a phone's front camera
EMOTIONS_BY_MOOD = {
    "positive": ("happy",), "neutral": ("neutral",), "other": ("surprise",),
    "negative": ("sad", "angry", "fear", "disgust"),
}
WAKING_HOURS = (8, 22)  # local: frames are captured while the phone is in use


@dataclass(frozen=True)
class DayPlan:
    frames: int
    mix: dict[str, float]  # mood -> share of the day's faces


@dataclass(frozen=True)
class ReplayStory:
    """What the demo shows for one patient: a plan per day, oldest first (the last day is story_end_day)."""

    days: tuple[DayPlan, ...]
    seed: int


STEADY = {"positive": 0.45, "neutral": 0.35, "other": 0.08, "negative": 0.12}
LOW = {"positive": 0.15, "neutral": 0.30, "other": 0.05, "negative": 0.50}
SLIDING = {"positive": 0.25, "neutral": 0.35, "other": 0.05, "negative": 0.35}
DARK = {"positive": 0.04, "neutral": 0.04, "other": 0.02, "negative": 0.90}

# Patient A: a good fortnight with a dip in the middle. Patient B: ten steady days, a day sliding,
# then three dark days, with enough records for either negative-mood rule (absolute: 60% of at least
# 50 records in 3 days). B trips the baseline rule whatever the hour the demo starts: before
# story_end_day turns (the story ends yesterday, today is empty) the 3-day window holds two dark days
# and the baseline days 0-9; after it, three (the last partly filled) against days 0-8. Both
# baselines are steady days only (a baseline that already slid has a wide between-day spread, and the
# dark days then failed the test in about 1 morning run in 10), 16 records a day. The sliding day
# falls in the 2-day guard band either way. benchmarks/alert_rules.py measures it, and
# tests/demo/test_demo_alert_any_clock.py runs the real model on the frames at many clock times.
STORIES = {
    "DEMO-001": ReplayStory(days=tuple(DayPlan(12, LOW if 5 <= d <= 7 else STEADY) for d in range(14)), seed=11),
    "DEMO-002": ReplayStory(days=tuple(
        DayPlan(50, DARK) if d >= 11 else DayPlan(16, SLIDING if d == 10 else STEADY) for d in range(14)
    ), seed=22),
}


def faces_by_mood(faces_dir: Path) -> dict[str, list[Path]]:
    """PublicTest faces per mood (PrivateTest stays untouched: it is the model's report split)."""
    found = {
        mood: sorted(p for emotion in emotions for p in (faces_dir / emotion).glob("PublicTest_*"))
        for mood, emotions in EMOTIONS_BY_MOOD.items()
    }
    missing = [mood for mood, paths in found.items() if not paths]
    if missing:
        raise FileNotFoundError(f"no PublicTest faces for {', '.join(missing)} under {faces_dir}")
    return found


def story_end_day(now_local: datetime) -> date:
    """The story's last day: today once half of today's waking hours are over, else yesterday.

    A demo started before breakfast (or at midnight) would otherwise end on a day with no frames
    yet, and show one day fewer than its story; after midday, today is partly filled.
    """
    first, last = WAKING_HOURS
    half_day = time(hour=(first + last) // 2)
    today = now_local.date()
    return today if now_local.time() >= half_day else today - timedelta(days=1)


def capture_times(*, plan: DayPlan, day: datetime, now: datetime, rng: random.Random) -> list[datetime]:
    """The day's capture moments, spread over its waking hours, none in the future."""
    first, last = WAKING_HOURS
    span = (last - first) * 3600
    moments = sorted(
        day + timedelta(hours=first, seconds=span * (i + rng.uniform(0.1, 0.9)) / plan.frames)
        for i in range(plan.frames)
    )
    return [m for m in moments if m < now]


def scene(face: np.ndarray, *, rng: random.Random) -> np.ndarray:
    """A 640x360 BGR frame: a soft background with the face (and a margin of its own edges) in it."""
    width, height = FRAME_SIZE
    shade = rng.randint(90, 170)
    ramp = np.linspace(-25, 25, width, dtype=np.float32)[None, :]
    background = np.clip(shade + ramp + np.zeros((height, 1), np.float32), 0, 255).astype(np.uint8)
    enlarged = cv2.resize(face, (FACE_SIDE, FACE_SIDE), interpolation=cv2.INTER_CUBIC)
    margin = FACE_SIDE // 4
    tile = cv2.copyMakeBorder(enlarged, margin, margin, margin, margin, cv2.BORDER_REPLICATE)
    side = tile.shape[0]
    x, y = rng.randint(60, width - side - 60), rng.randint(0, height - side)
    background[y:y + side, x:x + side] = tile
    return cv2.cvtColor(background, cv2.COLOR_GRAY2BGR)


def replay_frames_write(*, reference: str, timezone: str, faces_dir: Path, target_dir: Path, now: datetime) -> int:
    """Write the patient's replay frames into target_dir (once: an existing folder is kept, so a
    second `make run` uploads nothing new). Returns the number of frames in the folder."""
    done = target_dir / ".complete"
    if done.exists():
        return len(list(target_dir.glob("*.jpg")))
    story = STORIES[reference]
    rng = random.Random(story.seed)
    faces = faces_by_mood(faces_dir)
    tz = ZoneInfo(timezone)
    last_day = story_end_day(now.astimezone(tz))
    target_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    for offset, plan in enumerate(story.days):
        day = datetime.combine(last_day - timedelta(days=len(story.days) - 1 - offset), time.min, tzinfo=tz)
        for moment in capture_times(plan=plan, day=day, now=now, rng=rng):
            mood = rng.choices(list(plan.mix), weights=list(plan.mix.values()))[0]
            face = cv2.imread(str(rng.choice(faces[mood])), cv2.IMREAD_GRAYSCALE)
            path = target_dir / f"{moment.astimezone(ZoneInfo('UTC')):%Y%m%dT%H%M%S}.jpg"
            cv2.imwrite(str(path), scene(face, rng=rng), [cv2.IMWRITE_JPEG_QUALITY, 85])
            stamp = moment.timestamp()
            os.utime(path, (stamp, stamp))  # the simulator reads the capture time from the file time
            written += 1
    done.write_text(f"{written} frames written {now.isoformat()}\n")
    return written
