"""The simulator's frame sources: sampling rate, capture timestamps, JPEG encoding, image order."""
from datetime import datetime, timedelta, timezone

import cv2
import numpy as np
import pytest

from clients.simulator.frames import SourceError, frames_from_images, frames_from_video, image_files, video_duration

START = datetime(2026, 11, 26, 9, 15, 0, tzinfo=timezone(timedelta(hours=1)))


def decode(jpeg: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a decodable JPEG"
    return image


def test_a_video_is_sampled_at_one_frame_per_second_of_video_time_by_default(photo_video):
    frames = list(frames_from_video(photo_video, rate=1.0, start=START))
    assert [f.captured_at - START for f in frames] == [timedelta(seconds=s) for s in range(5)]
    assert all(f.jpeg[:2] == b"\xff\xd8" for f in frames)


def test_a_higher_rate_keeps_more_frames_with_their_own_positions(photo_video):
    frames = list(frames_from_video(photo_video, rate=2.5, start=START))
    assert [round((f.captured_at - START).total_seconds(), 2) for f in frames] == [0, 0.4, 0.8, 1.2, 1.6, 2.0,
                                                                                 2.4, 2.8, 3.2, 3.6, 4.0, 4.4, 4.8]


def test_the_sampled_frames_show_what_the_video_showed_at_that_moment(photo_video, sample_images_dir):
    frames = list(frames_from_video(photo_video, rate=1.0, start=START))
    reference = cv2.resize(cv2.imread(str(sample_images_dir / "two_people.jpg")), (640, 480))
    other = cv2.resize(cv2.imread(str(sample_images_dir / "obama1.jpg")), (640, 480))
    fourth = decode(frames[4].jpeg).astype(float)  # 4 s: the second photo is on screen
    assert np.abs(fourth - reference).mean() < np.abs(fourth - other).mean() / 3


def test_capture_times_carry_their_utc_offset(photo_video):
    stamp = next(frames_from_video(photo_video, rate=1.0, start=START)).captured_at.isoformat()
    assert stamp == "2026-11-26T09:15:00+01:00"


def test_video_duration_comes_from_frame_count_and_rate(photo_video):
    assert video_duration(photo_video) == pytest.approx(5.0)


def test_frames_are_shrunk_to_the_maximum_side_but_never_enlarged(sample_images_dir):
    files = image_files(sample_images_dir)
    big = [decode(f.jpeg) for f in frames_from_images(files, interval=1, start=START, max_side=320)]
    assert all(max(image.shape[:2]) <= 320 for image in big)
    small = decode(next(frames_from_images(files, interval=1, start=START, max_side=100_000)).jpeg)
    assert small.shape[:2] == cv2.imread(str(files[0])).shape[:2]


def test_an_image_folder_is_sent_in_name_order_at_the_given_interval(sample_images_dir):
    files = image_files(sample_images_dir)
    assert [p.name for p in files] == sorted(p.name for p in files)
    frames = list(frames_from_images(files, interval=600, start=START))
    assert [f.captured_at for f in frames] == [START + timedelta(minutes=10 * i) for i in range(len(files))]


def test_a_missing_or_unreadable_source_is_a_clear_error(tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        list(frames_from_video(tmp_path / "nope.mp4", rate=1, start=START))
    (tmp_path / "junk.avi").write_bytes(b"not a video")
    with pytest.raises(SourceError, match="cannot open|frame rate|no frame"):
        list(frames_from_video(tmp_path / "junk.avi", rate=1, start=START))
    with pytest.raises(SourceError, match="no images"):
        image_files(tmp_path)
    (tmp_path / "fake.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(SourceError, match="not an image"):
        list(frames_from_images([tmp_path / "fake.jpg"], interval=1, start=START))


def test_images_can_carry_their_own_file_times(tmp_path, sample_images_dir):
    import os
    import shutil

    for i, name in enumerate(["a.jpg", "b.jpg"]):
        shutil.copy(sample_images_dir / "obama1.jpg", tmp_path / name)
        os.utime(tmp_path / name, (1_790_000_000 + 60 * i, 1_790_000_000 + 60 * i))
    frames = list(frames_from_images(image_files(tmp_path), interval=1, start=None))
    assert [f.captured_at.timestamp() for f in frames] == [1_790_000_000, 1_790_000_060]
    assert all(f.captured_at.utcoffset() is not None for f in frames)
