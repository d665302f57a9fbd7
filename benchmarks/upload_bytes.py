"""Bytes sent per hour of monitoring, in each inference mode (issue 28): what the patient app at /app/
really uploads, measured in a real browser against the deployed stack.

For each mode (`on_device`, then `frames`) a fresh patient's phone, headless Chromium with a fake
front camera (a y4m made by ffmpeg from the real photos in ../shared/images, --size pixels, the
faces changing every 2 s), enrolls from the link, runs one check-in of --seconds at the manifest's
`sampling_seconds` and lets the queue drain. Every upload request the page sends (mood batches,
frame batches, the self-report) is counted as it went on the wire (HTTP/1.1, before TLS): its
headers (Chromium's count) and its body (its Content-Length). Bytes per hour = bytes of the
frames' uploads per sampled frame x 3600 / sampling_seconds (the self-report, once a check-in,
is shown apart). Then the server's database is read back: the batches it stored hold as many
frames as the phone sampled (nothing counted that the server did not get).

    nice .venv/bin/python benchmarks/upload_bytes.py                 # 60 s per mode, 640x480
    nice .venv/bin/python benchmarks/upload_bytes.py --seconds 120 --size 1280x720 --json

Needs what benchmarks/stack.py needs (PostgreSQL, Redis), Debian's chromium, ffmpeg, and `npm ci`.
It runs `collectstatic` into staticfiles/ (git-ignored): the stack serves production static files.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.stack import PHOTOS, Stack, StackOptions, exit_cleanly_on_sigterm, machine_note  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--use-fake-ui-for-media-stream",
         "--use-fake-device-for-media-stream"]
UPLOADS = ("/api/v1/mood-batches/", "/api/v1/frame-batches/", "/api/v1/self-reports/")
CAMERA_PHOTOS = ("obama1.jpg", "obama-480p.jpg", "obama-720p.jpg", "two_people.jpg")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60, help="length of each mode's check-in")
    parser.add_argument("--size", default="640x480", help="the fake camera's frame size, WxH")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser.parse_args(argv)


def fake_camera(out: Path, size: str) -> Path:
    """A y4m of the real photos, 2 s each, fitted into `size` (Chromium loops it)."""
    w, h = size.split("x")
    inputs, chains = [], []
    for i, name in enumerate(CAMERA_PHOTOS):
        inputs += ["-loop", "1", "-t", "2", "-r", "5", "-i", str(PHOTOS / name)]
        chains.append(f"[{i}:v]scale={w}:{h}:force_original_aspect_ratio=decrease,"
                      f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,setsar=1[v{i}]")
    concat = "".join(f"[v{i}]" for i in range(len(CAMERA_PHOTOS))) + f"concat=n={len(CAMERA_PHOTOS)}:v=1[out]"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *inputs, "-filter_complex", ";".join(chains + [concat]),
                    "-map", "[out]", "-pix_fmt", "yuv420p", str(out)], check=True, timeout=300)
    return out


def until(page, expression: str, timeout: float) -> None:
    """Polls `expression` in the page (the app's CSP forbids page.wait_for_function's eval)."""
    for _ in range(int(timeout * 4)):
        if page.evaluate(expression):
            return
        page.wait_for_timeout(250)
    raise RuntimeError(f"timed out waiting for {expression}")


def one_mode(browser, url: str, code: str, seconds: float) -> dict:
    """Enroll from the link, one check-in of `seconds`, drain the queue; the uploads' sizes."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    requests, manifests = [], []
    context.on("requestfinished", lambda request: requests.append(request))
    context.on("response", lambda r: manifests.append(r) if r.url.endswith("/api/v1/model/") and r.ok else None)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(f"{url}/app/#enroll={code}")
    try:
        page.wait_for_selector("#view-enroll:not([hidden])", timeout=120_000)  # a loaded 2-core machine is slow
    except Exception:
        raise RuntimeError(f"the app did not start: {errors}") from None
    page.get_by_role("button", name="I agree, connect this phone").click()
    page.wait_for_selector("#view-home:not([hidden])", timeout=180_000)
    page.get_by_role("button", name="Start check-in").click()
    page.wait_for_selector("#rec:not([hidden])", timeout=120_000)
    page.wait_for_timeout(seconds * 1000)
    page.get_by_role("button", name="Finish").click()
    page.locator("button[data-mood=neutral]").click()
    page.get_by_role("button", name="Done").click()
    until(page, "document.getElementById('queue-status').dataset.waiting === '0'", timeout=300)
    sampled = int(page.locator("#sent-table tbody tr td").first.inner_text())
    sampling_seconds = manifests[-1].json()["sampling_seconds"]
    rows = {}
    for request in requests:
        path = request.url.split(url, 1)[-1].split("?")[0]
        if request.method == "POST" and path in UPLOADS and request.response() and request.response().ok:
            sizes = request.sizes()
            row = rows.setdefault(path, {"requests": 0, "body": 0, "headers": 0})
            row["requests"] += 1
            # a multipart body of Blobs (frames mode) is not shown to Playwright; its Content-Length is
            length = request.all_headers().get("content-length")
            row["body"] += int(length) if length is not None else sizes["requestBodySize"]
            row["headers"] += sizes["requestHeadersSize"]
    context.close()
    # the frames' uploads scale with time; the one self-report is per check-in, shown apart
    total = sum(r["body"] + r["headers"] for path, r in rows.items() if path != "/api/v1/self-reports/")
    report = rows.get("/api/v1/self-reports/", {"body": 0, "headers": 0})
    return {"sampled_frames": sampled, "sampling_seconds": sampling_seconds, "uploads": rows,
            "bytes": total, "bytes_per_frame": round(total / sampled, 1),
            "bytes_per_hour": round(total / sampled * 3600 / sampling_seconds),
            "self_report_bytes": report["body"] + report["headers"]}


def enrollment_codes(stack: Stack) -> dict:
    """One consenting patient per mode, one fresh enrollment code each."""
    script = ("import json\nfrom django.contrib.auth import get_user_model\n"
              "from backend.patients.services import patient_create\n"
              "from backend.devices.services import enrollment_code_issue\n"
              "user = get_user_model().objects.create_user('bytes-clinician')\ncodes = {}\n"
              "for mode in ('on_device', 'frames'):\n"
              "    p = patient_create(actor=user, reference=f'BYTES-{mode}', clinicians=[user], consent=True,\n"
              "                       inference_mode=mode)\n"
              "    codes[mode] = enrollment_code_issue(patient=p, actor=user)[1]\n"
              "print('CODES ' + json.dumps(codes))\n")
    out = stack.manage("shell", "-c", script)
    return json.loads(next(line for line in out.splitlines() if line.startswith("CODES "))[6:])


def stored_frames(stack: Stack) -> dict:
    script = ("import json\nfrom django.db.models import Sum\nfrom backend.ingest.models import FrameBatch\n"
              "print('FRAMES ' + json.dumps({m: FrameBatch.objects.filter(patient__inference_mode=m)"
              ".aggregate(n=Sum('frame_count'))['n'] for m in ('on_device', 'frames')}))\n")
    out = stack.manage("shell", "-c", script)
    return json.loads(next(line for line in out.splitlines() if line.startswith("FRAMES "))[7:])


def main(argv=None) -> int:
    args = parse_args(argv)
    exit_cleanly_on_sigterm()
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    results = {}
    with tempfile.TemporaryDirectory(prefix="moodwatch-bytes-") as tmp:
        camera = fake_camera(Path(tmp) / "camera.y4m", args.size)
        options = StackOptions(label="bytes", web_workers=1, worker_processes=1)
        stack = Stack(options, Path(tmp) / "stack")
        stack.manage("collectstatic", "--noinput", "-v", "0")  # before the web starts: WhiteNoise scans once
        with stack:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                                     args=FLAGS + [f"--use-file-for-fake-video-capture={camera}"])
                for mode, code in enrollment_codes(stack).items():
                    results[mode] = one_mode(browser, stack.url, code, args.seconds)
                browser.close()
            stored = stored_frames(stack)
    for mode, result in results.items():
        result["stored_frames"] = stored[mode]
        assert stored[mode] == result["sampled_frames"], (mode, stored[mode], result["sampled_frames"])
    out = {"camera": args.size, "seconds": args.seconds, "modes": results, "machine": machine_note()}
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"fake camera {args.size}, one check-in of {args.seconds:g} s per mode; {out['machine']}")
    print(f"{'mode':<10} {'frames':>7} {'batches':>8} {'bytes sent':>11} {'per frame':>10} {'per hour':>12}"
          f" {'self-report':>12}")
    for mode, r in results.items():
        batches = sum(u["requests"] for path, u in r["uploads"].items() if path != "/api/v1/self-reports/")
        print(f"{mode:<10} {r['sampled_frames']:>7} {batches:>8} {r['bytes']:>11} {r['bytes_per_frame']:>10.0f}"
              f" {r['bytes_per_hour'] / 1e6:>9.2f} MB {r['self_report_bytes']:>12}"
              f"   (a frame every {r['sampling_seconds']:g} s)")
    ratio = results["frames"]["bytes_per_hour"] / results["on_device"]["bytes_per_hour"]
    print(f"frames mode sends {ratio:.0f} times the bytes of on_device mode")
    return 0


if __name__ == "__main__":
    sys.exit(main())
