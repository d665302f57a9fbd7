"""Compare face detectors on the benchmark frames: frames with a face found, and time per frame.

    .venv/bin/python benchmarks/bench_inference.py --n 300       # builds var/bench-frames
    .venv/bin/python benchmarks/bench_detectors.py [--frames var/bench-frames] [--json]

Haar is OpenCV's frontal-face cascade at full resolution (scaleFactor 1.1, minNeighbors 5, the
usual settings, as in the `fer` package); BlazeFace is inference.detection.FaceDetector. Every
frame of the set shows a face (built from real portraits), so frames-with-face is recall.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inference.detection import FaceDetector  # noqa: E402


def haar():
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")

    def detect(image):
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        return cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(30, 30))
    return detect


def measure(detect, images) -> dict:
    found = faces = 0
    started = time.perf_counter()
    for image in images:
        n = len(detect(image))
        found += n > 0
        faces += n
    ms = 1000 * (time.perf_counter() - started) / len(images)
    return {"frames_with_face": found, "faces": faces, "ms_per_frame": round(ms, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=Path, default=ROOT / "var" / "bench-frames")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    files = sorted(args.frames.glob("*.jpg"))
    if not files:
        sys.exit(f"no frames in {args.frames}; run benchmarks/bench_inference.py first")
    images = [cv2.imread(str(f)) for f in files]
    results = {
        "haar_full_resolution": measure(haar(), images),
        "blazeface_short_range": measure(FaceDetector("short"), images),
        "blazeface_full_range": measure(FaceDetector("full"), images),
    }
    if args.json:
        print(json.dumps({"frames": len(images), **results}))
    else:
        print(f"{len(images)} frames from {args.frames}")
        for name, r in results.items():
            print(f"{name:<24} frames with a face {r['frames_with_face']:>4}  faces {r['faces']:>4}  "
                  f"{r['ms_per_frame']:>6.2f} ms/frame")
    return 0


if __name__ == "__main__":
    sys.exit(main())
