"""In-browser inference benchmark: the patient app's pipeline (LiteRT.js, WASM, one thread, in
headless Chromium) beside the server's Python pipeline (inference.MoodEstimator on LiteRT), on the
same real frames, in the same run.

For each frame both pipelines detect every face and classify the largest (the patient's) with its
mirror image, as pipeline.analyze and MoodEstimator do. It prints ms per frame (median and p95 over
--repeat runs after one warm-up run) for detect, classify and their sum, browser and Python.

No server and no database: the page's requests (the pipeline's modules, LiteRT.js's WASM, the model
manifest and files) are answered in process from the same code the server uses (static files
finders, backend.ingest.model_manifest), on http://localhost (a secure context, for crypto.subtle).

    .venv/bin/python benchmarks/browser_inference.py              # the sample photos, 20 runs each
    .venv/bin/python benchmarks/browser_inference.py --repeat 50 --json
    .venv/bin/python benchmarks/browser_inference.py --baseline main   # before/after, same run

--baseline REF also runs the in-browser pipeline's own modules (patient_app/runtime/*.js) as they
are at git commit REF, in a second page of the same browser, frame by frame beside today's: the
before and after of a change to the pipeline, measured under the same load.

Needs Debian's chromium at /usr/bin/chromium and `npm ci` (make npm) for LiteRT.js.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
ORIGIN = "http://localhost:8765"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20, help="timed runs per frame (after one warm-up run)")
    parser.add_argument("--images", type=Path, default=ROOT.parent / "shared" / "images",
                        help="folder with the sample photos (default: ../shared/images)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--stages", action="store_true",
                        help="also time each step of the browser's pipeline on its own (where the ms go)")
    parser.add_argument("--baseline", metavar="REF",
                        help="also time the pipeline's modules as they are at this git commit (before/after)")
    return parser.parse_args(argv)


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    os.environ.setdefault("DJANGO_ENV", "test")
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")  # never connected to
    import django

    django.setup()


RUNTIME_SOURCE = "clients/patient_app/static/patient_app/runtime/"

# --stages: where a frame's ms go, each step of pipeline.analyze timed on its own (median of N):
# reading the pixels back from a canvas, the detector's letterbox, one detector run, the face's
# grey crop and resize, one classifier run (analyze runs it twice: the crop and its mirror).
STAGES_JS = """async ([url, w, h, repeat, imaging, blazeface]) => {
  const im = await import(imaging), bf = await import(blazeface), core = await import("@litertjs/core");
  const m = window.manifest, N = repeat;
  const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
  const time = async (fn) => { await fn(); const xs = []; for (let i = 0; i < N; i++) {
    const t = performance.now(); await fn(); xs.push(performance.now() - t); } return +median(xs).toFixed(2); };
  const pixels = new Uint8ClampedArray(await (await fetch(url)).arrayBuffer());
  const source = new OffscreenCanvas(w, h);
  source.getContext("2d").putImageData(new ImageData(pixels, w, h), 0, 0);
  const canvas = new OffscreenCanvas(w, h), context = canvas.getContext("2d", { willReadFrequently: true });
  const [inH, inW] = bf.inputShape(m.detector, h, w);
  const anchors = bf.ssdAnchors(m.detector, inH, inW);
  const bytes = async (f) => new Uint8Array(await (await fetch(f.url)).arrayBuffer());
  const detector = await core.loadAndCompile(bf.withInputShape(await bytes(m.files.detector), inH, inW,
                                                               anchors.length / 2), { accelerator: "wasm" });
  const classifier = await core.loadAndCompile(await bytes(m.files.classifier), { accelerator: "wasm" });
  const run = async (model, data, shape) => { const x = new core.Tensor(data, shape);
    const out = await model.run([x]); out.forEach((t) => t.toTypedArray().slice());
    x.delete(); out.forEach((t) => t.delete()); };
  const geometry = bf.letterbox(pixels, w, h, inH, inW, 4);
  const size = m.classifier.input_size, side = Math.min(w, h) >> 1;
  const face = new Float32Array(size * size).fill(128);
  const out = {
    readback: await time(() => { context.drawImage(source, 0, 0); context.getImageData(0, 0, w, h); }),
    letterbox: await time(() => bf.letterbox(pixels, w, h, inH, inW, 4)),
    detector_run: await time(() => run(detector, geometry.data, [1, inH, inW, 3])),
    crop: await time(() => im.resizeArea(im.greyRegion(pixels, w, 0, 0, side), side, side, size, size, 1)),
    classifier_run: await time(() => run(classifier, face, [1, size, size, 1])),
  };
  detector.delete(); classifier.delete();
  return out;
}"""


def git_file(ref: str, path: str) -> bytes | None:
    shown = subprocess.run(["git", "show", f"{ref}:{path}"], cwd=ROOT, capture_output=True)
    return shown.stdout if shown.returncode == 0 else None


def route_server(page, baseline: str | None = None) -> None:
    """Answer the page's requests for static files, the manifest and the model files in process;
    with `baseline`, the pipeline's own modules come from that git commit."""
    from django.conf import settings
    from django.contrib.staticfiles import finders

    from backend.ingest.model_manifest import model_file_get, model_manifest_get

    device = SimpleNamespace(patient=SimpleNamespace(inference_mode="on_device"))
    static_prefix = "/" + settings.STATIC_URL.strip("/") + "/"
    types = {".js": "text/javascript", ".wasm": "application/wasm", ".map": "application/json"}

    def handle(route):
        path = route.request.url[len(ORIGIN):].split("?")[0]
        name = path[len(static_prefix):]
        if baseline and path.startswith(static_prefix + "patient_app/runtime/"):
            old = git_file(baseline, RUNTIME_SOURCE + name.removeprefix("patient_app/runtime/"))
            if old is not None:
                return route.fulfill(status=200, body=old, headers={"Content-Type": "text/javascript"})
        if path.startswith(static_prefix):
            found = finders.find(name)
            if found:
                kind = types.get(Path(found).suffix, "application/octet-stream")
                return route.fulfill(status=200, body=Path(found).read_bytes(), headers={"Content-Type": kind})
        elif path == "/api/v1/model/":
            return route.fulfill(status=200, json=model_manifest_get(device=device))
        elif path.startswith("/api/v1/model/files/"):
            sha256, filename = path.split("/")[-2:]
            file = model_file_get(sha256=sha256, filename=filename)
            if file:
                return route.fulfill(status=200, body=file.content,
                                     headers={"Content-Type": "application/octet-stream"})
        return route.fulfill(status=404, body="not found")

    page.route(f"{ORIGIN}/static/**", handle)
    page.route(f"{ORIGIN}/api/**", handle)


def summary(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"median": round(statistics.median(ordered), 2),
            "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2)}


def browser_runs(pages: list, frame, repeat: int) -> list[dict]:
    """Each page's ms for the frame; the pages take turns run by run, so that the machine's load
    (a shared machine) weighs on each alike."""
    from benchmarks.browser_runtime import browser_result

    runs = [[] for _ in pages]
    for page in pages:
        browser_result(page, ORIGIN, frame)  # warm-up: compiles this input shape's detector
    for _ in range(repeat):
        for page, out in zip(pages, runs):
            out += browser_result(page, ORIGIN, frame)["runs"]
    return [{"detect": summary([r["detect"] for r in out]), "classify": summary([r["classify"] for r in out]),
             "total": summary([r["detect"] + r["classify"] for r in out])} for out in runs]


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_django()
    from django.templatetags.static import static
    from playwright.sync_api import sync_playwright

    from benchmarks.browser_runtime import FRAME_PATH, PHOTOS, open_runtime_page, python_ms, real_frames
    from inference import MoodEstimator

    estimator = MoodEstimator.load()
    stems = {name.rsplit(".", 1)[0] for name in PHOTOS}
    frames = [f for f in real_frames(args.images) if f.name in stems or f.name.endswith("-640")]
    rows = []
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_context().new_page()
        route_server(page)
        open_runtime_page(page, ORIGIN, frames, token="benchmark")
        before = None
        if args.baseline:
            before = browser.new_context().new_page()
            route_server(before, baseline=args.baseline)
            open_runtime_page(before, ORIGIN, frames, token="benchmark")
        for frame in frames:
            after, *baseline = browser_runs([page] + ([before] if before else []), frame, args.repeat)
            python_ms(estimator, frame, 1)
            py = python_ms(estimator, frame, args.repeat)
            h, w = frame.bgr.shape[:2]
            stages = page.evaluate(STAGES_JS, [
                f"{ORIGIN}{FRAME_PATH}{frame.name}", w, h, args.repeat,
                static("patient_app/runtime/imaging.js"), static("patient_app/runtime/blazeface.js"),
            ]) if args.stages else None
            rows.append({
                "frame": frame.name, "size": f"{w}x{h}", "browser": after, **({"stages": stages} if stages else {}),
                **({"baseline": baseline[0]} if baseline else {}),
                "python": {"detect": summary(py["detect"]), "classify": summary(py["classify"]),
                           "total": summary([a + b for a, b in zip(py["detect"], py["classify"])])},
            })
        version = page.evaluate("navigator.userAgent")
        browser.close()
    result = {"browser": version, "repeat": args.repeat, "frames": rows, "baseline": args.baseline,
              "note": "ms per frame; browser: LiteRT.js WASM, 1 thread; python: LiteRT, 1 thread"}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{result['browser']}\n{result['note']}; median (p95) of {args.repeat} runs\n")
    print(f"{'frame':<20} {'size':>10}  {'browser detect':>15} {'classify':>15} {'total':>15}"
          f"  {'python detect':>15} {'classify':>15} {'total':>15}")
    for row in rows:
        cells = [f"{row[side][k]['median']:.1f} ({row[side][k]['p95']:.1f})"
                 for side in ("browser", "python") for k in ("detect", "classify", "total")]
        print(f"{row['frame']:<20} {row['size']:>10}  " + " ".join(f"{c:>15}" for c in cells[:3])
              + "  " + " ".join(f"{c:>15}" for c in cells[3:]))
    if args.stages:
        names = list(rows[0]["stages"])
        print("\nthe browser's steps, each on its own, median ms: " + ", ".join(names))
        for row in rows:
            print(f"{row['frame']:<20} {row['size']:>10}  " + " ".join(f"{row['stages'][k]:>14.2f}" for k in names))
    if args.baseline:
        print(f"\nbrowser before (the pipeline at {args.baseline}) and after (this tree), same run:")
        print(f"{'frame':<20} {'size':>10}  {'before detect':>15} {'classify':>15} {'total':>15}"
              f"  {'after detect':>15} {'classify':>15} {'total':>15}")
        for row in rows:
            cells = [f"{row[side][k]['median']:.1f} ({row[side][k]['p95']:.1f})"
                     for side in ("baseline", "browser") for k in ("detect", "classify", "total")]
            print(f"{row['frame']:<20} {row['size']:>10}  " + " ".join(f"{c:>15}" for c in cells[:3])
                  + "  " + " ".join(f"{c:>15}" for c in cells[3:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
