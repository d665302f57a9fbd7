"""The decode bound (docs/security.md): the worker's CPU for the costliest frames the upload check
accepts, and what the check itself costs the web process.

Builds frames at run time from ../shared/images (nothing binary is committed), each at the limits
of the settings (MAX_FRAME_PIXELS, MAX_FRAME_BYTES, MAX_JPEG_SCANS, MAX_PNG_PIXELS,
MAX_PNG_DECODED_BYTES): baseline and progressive JPEGs of a noisy photo at the largest quality
that fits, progressive ones padded with repeats of a scan up to the scan limit (the decode bomb,
cut at the limit), and flat and noisy PNGs at the PNG limits. Each must pass the upload check
(`_image_inspect`); its decode is then timed as the worker does it (`inference.estimator`:
`decode_frame`, at reduced scale where the frame allows), plus a full-size `cv2.imdecode`, which
the worker adds when a small face makes it re-decode finer. CPU seconds, best of --repeat.

    DJANGO_ENV=test nice .venv/bin/python benchmarks/bench_decode_bound.py
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.conf import settings  # noqa: E402
from PIL import Image  # noqa: E402

from backend.ingest.uploads import _image_inspect, _jpeg_structure_problem  # noqa: E402
from inference.estimator import _imdecode, decode_frame  # noqa: E402

PHOTOS = ROOT.parent / "shared" / "images"
LIMITS = settings.MOODWATCH


def cpu_best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def photo(width: int, height: int) -> Image.Image:
    """The largest sample photo at width x height with sensor-like noise (it compresses as a
    detailed frame does, not as a smooth upscale)."""
    biggest = max(PHOTOS.glob("*.jpg"), key=lambda p: p.stat().st_size)
    image = Image.open(biggest).convert("RGB").resize((width, height))
    noise = np.random.default_rng(0).normal(0, 12, (height, width, 3))
    return Image.fromarray(np.clip(np.asarray(image, dtype=np.float32) + noise, 0, 255).astype(np.uint8))


def encode(image: Image.Image, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, **options)
    return out.getvalue()


def largest_jpeg(image: Image.Image, budget: int, **options) -> bytes:
    """The highest quality (step 5) whose JPEG fits `budget` bytes."""
    for quality in range(95, 4, -5):
        data = encode(image, format="JPEG", quality=quality, **options)
        if len(data) <= budget:
            return data
    raise SystemExit("no quality fits the frame size limit")


def scans(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of every scan (SOS segment, its entropy-coded data and the tables before the
    next one) of a JPEG made here: no header segment of Pillow's holds the bytes FF DA."""
    found, pos = [], data.index(b"\xff\xda")
    while True:
        end = data.find(b"\xff\xda", pos + 2)
        if end < 0:
            found.append((pos, data.rindex(b"\xff\xd9")))
            return found
        found.append((pos, end))
        pos = end


def bomb_at_limit(image: Image.Image, which: str, scan_limit: int, budget: int, **options) -> bytes:
    """A progressive JPEG with its last, largest or smallest scan repeated before EOI up to the
    scan limit, at the highest quality (step 5) that keeps it within `budget` bytes: the issue's
    decode bomb, as large as the check lets it be."""
    pick = {"last": lambda parts: parts[-1], "largest": lambda parts: max(parts, key=lambda p: p[1] - p[0]),
            "smallest": lambda parts: min(parts, key=lambda p: p[1] - p[0])}[which]
    for quality in range(95, 4, -5):
        data = encode(image, format="JPEG", quality=quality, progressive=True, **options)
        parts = scans(data)
        start, end = pick(parts)
        eoi = data.rindex(b"\xff\xd9")
        bomb = data[:eoi] + data[start:end] * (scan_limit - len(parts)) + data[eoi:]
        if len(bomb) <= budget:
            return bomb
    raise SystemExit("no quality fits the frame size limit")


def candidates() -> dict[str, bytes]:
    max_pixels, budget, scan_limit = LIMITS["MAX_FRAME_PIXELS"], LIMITS["MAX_FRAME_BYTES"], LIMITS["MAX_JPEG_SCANS"]
    width = int((max_pixels * 16 / 9) ** 0.5)
    height = max_pixels // width
    frame = photo(width, height)
    found = {
        "baseline 4:2:0": largest_jpeg(frame, budget),
        "baseline 4:4:4": largest_jpeg(frame, budget, subsampling=0),
        "progressive 4:2:0": largest_jpeg(frame, budget, progressive=True),
        "progressive 4:4:4": largest_jpeg(frame, budget, progressive=True, subsampling=0),
    }
    for name, options in (("progressive 4:2:0", {}), ("progressive 4:4:4", {"subsampling": 0})):
        for which in ("last", "largest", "smallest"):
            found[f"{name} + {which} scan repeated"] = bomb_at_limit(frame, which, scan_limit, budget, **options)
    png_pixels, png_bytes = LIMITS["MAX_PNG_PIXELS"], LIMITS["MAX_PNG_DECODED_BYTES"]
    side = int(min(png_pixels, png_bytes // 4) ** 0.5)
    found[f"flat RGBA PNG {side}x{side}"] = encode(Image.new("RGBA", (side, side)), format="PNG")
    found["zero-filled 2800x2800 PNG (issue 26)"] = encode(Image.new("RGB", (2800, 2800)), format="PNG")
    small_photo = frame.resize((1280, 720))
    found["noisy RGB PNG 1280x720"] = encode(small_photo, format="PNG")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"limits: {LIMITS['MAX_FRAME_PIXELS']} px, {LIMITS['MAX_FRAME_BYTES']} bytes, "
          f"{LIMITS['MAX_JPEG_SCANS']} JPEG scans, PNG {LIMITS['MAX_PNG_PIXELS']} px / "
          f"{LIMITS['MAX_PNG_DECODED_BYTES']} decoded bytes")
    print(f"{'frame':46} {'bytes':>9} {'scans':>5} {'check':>8} {'worker decode':>14} {'+ full-size':>12}")
    worst = (0.0, "")
    for name, data in candidates().items():
        content_type, problem = _image_inspect(data, LIMITS["MAX_FRAME_PIXELS"])
        n_scans = data.count(b"\xff\xda") if content_type == "image/jpeg" else 0
        if problem:
            print(f"{name:46} {len(data):>9} {n_scans or '':>5} refused: {problem[0]}")
            continue
        check = cpu_best(lambda data=data: _image_inspect(data, LIMITS["MAX_FRAME_PIXELS"]), args.repeat * 10)
        reduced = cpu_best(lambda data=data: decode_frame(data), args.repeat)
        full = cpu_best(lambda data=data: _imdecode(data, 1), args.repeat)
        print(f"{name:46} {len(data):>9} {n_scans or '':>5} {check * 1000:>6.2f}ms "
              f"{reduced * 1000:>12.1f}ms {full * 1000:>10.1f}ms")
        worst = max(worst, (reduced + full, name))
    print(f"worst accepted frame: {worst[1]}, {worst[0] * 1000:.0f} ms of worker CPU "
          f"(reduced decode + full-size re-decode); a batch of {LIMITS['MAX_FRAMES_PER_BATCH']} such frames "
          f"{worst[0] * LIMITS['MAX_FRAMES_PER_BATCH']:.1f} s")
    walk = _jpeg_structure_problem  # the part of the check this bound added
    normal = largest_jpeg(photo(1280, 720), 200_000)
    print(f"structure walk of a 1280x720 baseline frame ({len(normal)} bytes): "
          f"{cpu_best(lambda: walk(normal, LIMITS['MAX_JPEG_SCANS']), 200) * 1e6:.0f} us")


if __name__ == "__main__":
    main()
