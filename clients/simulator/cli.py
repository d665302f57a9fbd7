"""Command line: python -m clients.simulator --help"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path

from tqdm import tqdm

from .api import ApiError, DeviceApi, TransientError
from .frames import (
    Frame,
    SourceError,
    file_time,
    frames_from_images,
    frames_from_video,
    image_files,
    now_local,
    video_duration,
)
from .on_device import model_version, mood_batches
from .store import DeviceCredentials, StateStore
from .uploader import Backoff, FatalApiError, Summary, drain, poll, retrying

EXIT_OK, EXIT_INCOMPLETE, EXIT_ERROR = 0, 1, 2


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m clients.simulator",
        description=(
            "MoodWatch device simulator: enroll, sample frames, upload batches, report what the server made of them."
        ),
    )
    p.add_argument("--server", default="http://127.0.0.1:8000", help="base URL (default %(default)s)")
    p.add_argument("--state-dir", type=Path, default=Path("var/simulator"),
                   help="token, upload queue and sources already sent (default %(default)s)")
    p.add_argument("--code", help="one-time enrollment code; needed once, then the saved token is reused")
    p.add_argument("--label", default="device simulator", help="device label shown to clinicians")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--video", type=Path, help="a video file to sample (anything OpenCV reads)")
    source.add_argument("--images", type=Path, help="a folder of images, sent in name order")
    p.add_argument("--fps", type=float, default=1.0, help="video: frames kept per second of video time (default 1)")
    p.add_argument("--interval", type=float, default=1.0,
                   help="images: seconds between the capture times of consecutive images (default 1)")
    p.add_argument("--start", type=_start_arg,
                   help="capture time of the first frame, ISO-8601 (default: so the last frame is 'now'), or "
                        "'mtime': each image's file time; a video's file time minus its length")
    p.add_argument("--batch-size", type=int, default=10, help="frames per upload (server default limit 60)")
    p.add_argument("--max-side", type=int, default=640, help="shrink frames so the longer side is at most this")
    p.add_argument("--jpeg-quality", type=int, default=85)
    p.add_argument("--on-device", action="store_true",
                   help="run the mood model here, as the patient app does, and upload mood batches "
                        "(/api/v1/mood-batches/) instead of frames: for a patient in on_device mode")
    p.add_argument("--force", action="store_true", help="queue a source again even if it was already queued")
    p.add_argument("--retries", type=int, default=7, help="retries per batch in one run (default 7)")
    p.add_argument("--backoff", type=float, default=1.0, help="first retry delay in seconds; doubles each time")
    p.add_argument("--backoff-max", type=float, default=60.0)
    p.add_argument("--poll-timeout", type=float, default=300.0,
                   help="seconds to wait for the server to process the batches (0: do not wait)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    return p


def _start_arg(value: str) -> datetime | str:
    if value == "mtime":
        return value
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is neither an ISO-8601 time nor 'mtime'") from None


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    log = lambda message: print(message, file=sys.stderr)  # noqa: E731  (stdout is kept for the summary)
    store = StateStore(args.state_dir)
    try:
        credentials = _credentials(args, store, log)
        api = DeviceApi(credentials.server, token=credentials.token)
        _queue_source(args, store, log, api=api)
    except (SourceError, ApiError, TransientError, ValueError) as error:
        log(f"error: {error}")
        return EXIT_ERROR

    backoff = Backoff(base=args.backoff, cap=args.backoff_max, attempts=args.retries + 1)
    summary = Summary()
    pending = store.pending()
    total = sum(len(b.captured_at) for b in pending)
    with tqdm(total=total, unit="frame", desc="uploading", disable=args.no_progress, file=sys.stderr) as bar:
        try:
            drain(api, store, backoff, summary, progress=bar, log=lambda m: bar.write(m, file=sys.stderr))
        except FatalApiError as error:
            log(f"error: the server refused this device: {error}. Queued batches are kept.")
            summary.errors.append(str(error))
            summary.batches_left_queued = len(store.pending())
    if args.poll_timeout > 0 and summary.sent_batch_ids:
        poll(api, summary, timeout=args.poll_timeout)
    _report(summary, as_json=args.json, log=log)
    return EXIT_OK if summary.ok else EXIT_INCOMPLETE


def _credentials(args, store: StateStore, log) -> DeviceCredentials:
    saved = store.credentials()
    server = args.server.rstrip("/")
    if saved and args.code:
        raise ValueError(f"already enrolled (token in {store.device_file}); drop --code, or use another --state-dir")
    if saved:
        if saved.server != server:
            raise ValueError(f"the token in {store.device_file} was issued by {saved.server}, not {server}")
        return saved
    if not args.code:
        raise ValueError(f"not enrolled: pass --code (no token in {store.device_file})")
    backoff = Backoff(base=args.backoff, cap=args.backoff_max, attempts=args.retries + 1)
    enrolled = retrying(lambda: DeviceApi(server).enroll(code=args.code, label=args.label), backoff, log=log,
                        what="enrollment")
    credentials = DeviceCredentials(server, enrolled["device_id"], enrolled["patient_id"], enrolled["token"])
    store.credentials_save(credentials)
    log(f"enrolled device {credentials.device_id} for patient {credentials.patient_id}; "
        f"token saved in {store.device_file}")
    return credentials


def _source_key(args, files: list[Path]) -> str:
    """Same files (name, size, mtime) and sampling = same frames: queue them only once."""
    digest = hashlib.sha256()
    for path in files:
        st = path.stat()
        digest.update(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    digest.update(f"{args.fps}|{args.interval}|{args.max_side}|{args.jpeg_quality}".encode())
    if args.on_device:
        digest.update(b"|on-device")
    return digest.hexdigest()


def _queue_source(args, store: StateStore, log, *, api: DeviceApi | None = None) -> None:
    if args.batch_size < 1:
        raise ValueError("--batch-size must be at least 1")
    if args.video:
        files, description = [args.video], f"video {args.video}"
    elif args.images:
        files, description = image_files(args.images), f"images {args.images}"
    else:
        return  # nothing new: just send what is queued
    key = _source_key(args, files)
    if store.source_seen(key) and not args.force:
        log(f"{description}: already queued earlier, not queued again (--force to send it again)")
        return
    start, from_files = args.start, args.start == "mtime"
    if from_files:
        start = None
    elif start is not None and start.tzinfo is None:
        start = start.astimezone()  # a naive time is the local time
    if args.video:
        # Without --start the clip was "just recorded"; with mtime it ended when the file was written.
        end = file_time(args.video) if from_files else now_local()
        start = start or end - timedelta(seconds=video_duration(args.video))
        frames = frames_from_video(args.video, rate=args.fps, start=start, max_side=args.max_side,
                                   quality=args.jpeg_quality)
    else:
        if start is None and not from_files:
            start = now_local() - timedelta(seconds=args.interval * (len(files) - 1))
        frames = frames_from_images(files, interval=args.interval, start=start, max_side=args.max_side,
                                    quality=args.jpeg_quality)
    batch_ids, count = [], 0
    if args.on_device:
        from inference import MoodEstimator  # LiteRT only where the model runs here

        estimator = MoodEstimator.load()
        version = model_version(api, estimator)
        for body in mood_batches(frames, estimator, version=version, batch_size=args.batch_size):
            batch_ids.append(store.enqueue_moods(body, source=description).batch_id)
            count += len(body["frames"])
        store.source_mark(key, description=description, batch_ids=batch_ids)
        log(f"{description}: {count} frames analysed here (model {version}), "
            f"mood records queued in {len(batch_ids)} batches")
        return
    for chunk in _chunks(frames, args.batch_size):
        batch_ids.append(store.enqueue(chunk, source=description).batch_id)
        count += len(chunk)
    store.source_mark(key, description=description, batch_ids=batch_ids)
    log(f"{description}: {count} frames queued in {len(batch_ids)} batches")


def _chunks(frames, size: int):
    chunk: list[Frame] = []
    for frame in frames:
        chunk.append(frame)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _report(summary: Summary, *, as_json: bool, log) -> None:
    if as_json:
        print(json.dumps(asdict(summary), indent=2))
        return
    lines = [
        f"batches sent:      {summary.batches_sent} ({summary.batches_replayed} already on the server)",
        f"batches retried:   {summary.batches_retried} ({summary.retries} retries)",
        f"frames sent:       {summary.frames_sent} in {summary.upload_seconds:.1f} s",
        *([f"mood entries sent: {summary.moods_sent} (frames analysed on this device)"] if summary.moods_sent else []),
        f"batches processed: {summary.batches_done} done, {summary.batches_failed} failed, "
        f"{summary.batches_unfinished} unfinished",
        f"frames with a face: {summary.frames_with_face}",
        f"records created:   {summary.records_created}",
    ]
    if summary.batches_rejected or summary.batches_left_queued:
        lines.append(f"rejected: {summary.batches_rejected}; still queued: {summary.batches_left_queued}")
    print("\n".join(lines))
    for error in summary.errors:
        log(f"error: {error}")
