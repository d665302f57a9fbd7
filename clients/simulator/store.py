"""The simulator's state folder: its device token, its upload queue and the sources already queued.

    STATE/device.json             token and ids, written once at enrollment (mode 0600)
    STATE/queue/<seq>-<batch_id>/ one batch waiting to be sent: batch.json + 000.jpg, 001.jpg, ...
                                  (--on-device: batch.json holds the mood batch, and no frame is kept)
    STATE/rejected/...            batches the server refused for good (4xx), with its answer
    STATE/sources.json            the sources (file + sampling) already cut into batches

A batch is written to a temporary folder and renamed into the queue, so the queue never holds half
a batch. It leaves the queue only once the server has accepted it (202, or 200 for a replay), so a
crash or a lost network at any point resends it later with the same batch_id.
"""
from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .frames import Frame


@dataclass(frozen=True)
class QueuedBatch:
    folder: Path
    batch_id: str
    captured_at: list[str]
    source: str
    mood_batch: dict | None = None  # on-device mode: the body of POST /api/v1/mood-batches/

    def frame_files(self) -> list[Path]:
        return [self.folder / f"{i:03d}.jpg" for i in range(len(self.captured_at))]


@dataclass(frozen=True)
class DeviceCredentials:
    server: str
    device_id: str
    patient_id: str
    token: str


class StateStore:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.queue_dir = self.folder / "queue"
        self.rejected_dir = self.folder / "rejected"
        for path in (self.folder, self.queue_dir, self.rejected_dir):
            path.mkdir(parents=True, exist_ok=True)

    # --- device token ---------------------------------------------------------------------------
    @property
    def device_file(self) -> Path:
        return self.folder / "device.json"

    def credentials(self) -> DeviceCredentials | None:
        if not self.device_file.exists():
            return None
        return DeviceCredentials(**json.loads(self.device_file.read_text()))

    def credentials_save(self, credentials: DeviceCredentials) -> None:
        # The token is a secret: owner-only, written atomically.
        tmp = self.device_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(credentials.__dict__, out, indent=2)
        os.replace(tmp, self.device_file)

    # --- queue --------------------------------------------------------------------------------------
    def enqueue(self, frames: list[Frame], *, source: str) -> QueuedBatch:
        batch_id = str(uuid.uuid4())
        final = self.queue_dir / f"{time.time_ns():020d}-{batch_id}"
        tmp = self.queue_dir / f".tmp-{batch_id}"
        tmp.mkdir()
        stamps = [f.captured_at.isoformat() for f in frames]
        for i, frame in enumerate(frames):
            (tmp / f"{i:03d}.jpg").write_bytes(frame.jpeg)
        (tmp / "batch.json").write_text(json.dumps({"batch_id": batch_id, "captured_at": stamps, "source": source}))
        os.replace(tmp, final)
        return QueuedBatch(final, batch_id, stamps, source)

    def enqueue_moods(self, body: dict, *, source: str) -> QueuedBatch:
        """Queue a mood batch (its batch_id chosen here): the records only, as the phone app keeps them."""
        batch_id = str(uuid.uuid4())
        body = {"batch_id": batch_id, **body}
        final = self.queue_dir / f"{time.time_ns():020d}-{batch_id}"
        tmp = self.queue_dir / f".tmp-{batch_id}"
        tmp.mkdir()
        stamps = [frame["captured_at"] for frame in body["frames"]]
        (tmp / "batch.json").write_text(json.dumps({"batch_id": batch_id, "captured_at": stamps, "source": source,
                                                    "mood_batch": body}))
        os.replace(tmp, final)
        return QueuedBatch(final, batch_id, stamps, source, body)

    def pending(self) -> list[QueuedBatch]:
        """Queued batches, oldest first."""
        batches = []
        for folder in sorted(p for p in self.queue_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            meta = json.loads((folder / "batch.json").read_text())
            batches.append(QueuedBatch(folder, meta["batch_id"], meta["captured_at"], meta.get("source", ""),
                                       meta.get("mood_batch")))
        return batches

    def remove(self, batch: QueuedBatch) -> None:
        shutil.rmtree(batch.folder)

    def reject(self, batch: QueuedBatch, *, status: int, body: str) -> Path:
        (batch.folder / "response.json").write_text(json.dumps({"status": status, "body": body}))
        target = self.rejected_dir / batch.folder.name
        os.replace(batch.folder, target)
        return target

    # --- sources already cut into batches -----------------------------------------------------------
    @property
    def sources_file(self) -> Path:
        return self.folder / "sources.json"

    def _sources(self) -> dict:
        return json.loads(self.sources_file.read_text()) if self.sources_file.exists() else {}

    def source_seen(self, key: str) -> bool:
        return key in self._sources()

    def source_mark(self, key: str, *, description: str, batch_ids: list[str]) -> None:
        sources = self._sources()
        sources[key] = {"source": description, "queued_at": datetime.now().astimezone().isoformat(),
                        "batch_ids": batch_ids}
        tmp = self.sources_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(sources, indent=2))
        os.replace(tmp, self.sources_file)
