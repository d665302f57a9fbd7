"""Benchmark the serving pipeline on 640x360 frames built from the real photos in ../shared/images.

There is no video in the shared data, so this script makes a frame set at run time (nothing
binary is committed): random 16:9 windows of each photo (55-100% of the largest one), resized to
640x360, mirrored half the time, rotated up to +-8 degrees, with brightness/contrast jitter,
sensor-like noise and JPEG quality 70-92, as a phone front camera would upload them. It then
runs the same code as `python -m training bench --frames DIR` and prints its figures.

    .venv/bin/python benchmarks/bench_inference.py                 # 300 frames, best of 3 passes
    .venv/bin/python benchmarks/bench_inference.py --json --model /path/model.tflite
    .venv/bin/python benchmarks/bench_inference.py --threads 2    # both cores, still one process
    .venv/bin/python -m training bench --frames var/bench-frames  # rerun on the same frames
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench import format_bench, frames_from_dir, run_bench  # noqa: E402

PHOTOS = ROOT.parent / "shared" / "images"
WIDTH, HEIGHT = 640, 360


def jittered_frame(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = photo.shape[:2]
    full_w = min(w, h * WIDTH / HEIGHT)
    cw = full_w * rng.uniform(0.55, 1.0)
    ch = cw * HEIGHT / WIDTH
    x, y = rng.uniform(0, w - cw), rng.uniform(0, h - ch)
    frame = cv2.resize(photo[int(y):int(y + ch), int(x):int(x + cw)], (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.5:
        frame = frame[:, ::-1]
    turn = cv2.getRotationMatrix2D((WIDTH / 2, HEIGHT / 2), rng.uniform(-8, 8), 1.0)
    frame = cv2.warpAffine(frame, turn, (WIDTH, HEIGHT), borderMode=cv2.BORDER_REFLECT)
    frame = frame.astype(np.float32) * rng.uniform(0.7, 1.3) + rng.uniform(-30, 30)
    frame += rng.normal(0, rng.uniform(0, 6), frame.shape)
    return np.clip(frame, 0, 255).astype(np.uint8)


def make_frames(out: Path, n: int, seed: int) -> None:
    photos = [cv2.imread(str(p)) for p in sorted(PHOTOS.glob("*.jpg"))]
    if not photos:
        sys.exit(f"no photos in {PHOTOS}")
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("frame_*.jpg"):
        old.unlink()
    for i in range(n):
        frame = jittered_frame(photos[i % len(photos)], rng)
        quality = int(rng.integers(70, 93))
        cv2.imwrite(str(out / f"frame_{i:04d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, quality])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames-out", type=Path, default=ROOT / "var" / "bench-frames",
                        help="where to write the frame set (default var/bench-frames, git-ignored)")
    parser.add_argument("--n", type=int, default=300, help="number of frames")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", help="a .tflite file (default: the committed model)")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes; the fastest is reported")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads of this one process sharing the frames (default 1)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    make_frames(args.frames_out, args.n, args.seed)
    result = run_bench(frames_from_dir(args.frames_out), model=args.model, repeat=args.repeat, threads=args.threads)
    print(json.dumps(result) if args.json else format_bench(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
