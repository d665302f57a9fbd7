"""A patient page's load time in a real browser, first visit (empty cache) and warm, on the server `make run` starts.

    .venv/bin/python benchmarks/page_load.py                  # 5 first visits and 5 warm ones, median and worst
    .venv/bin/python benchmarks/page_load.py --visits 10 --width 390
    .venv/bin/python benchmarks/page_load.py --url http://127.0.0.1:8000 --patient DEMO-002   # a running `make run`

Without --url it does what `make run` does, on a fresh SQLite file in a temporary folder: migrate, the DEMO
clinician and the two demo patients, then (instead of the 14-day replay through the model, which takes
minutes) 14 days of stored records like the replay's; collectstatic and the development server exactly as
demo_run starts them (backend/demo/management/commands/demo_run.py: hashed names cached as immutable, gzip
copies). Headless Debian chromium logs in, empties the browser cache (cookies stay), and opens the patient
page: `first visit` is the page's load event (navigation start to loadEventEnd, all four charts drawn by
then: charts.js draws them as its script runs), with the bytes the browser received (transferSize of the page
and every file: compressed bytes plus headers). `warm` opens it again with the cache kept. Loopback, no
network throttling: the figures are the browser's work plus the server's, as a clinician on `make run` sees.
"""
import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
DAYS = 14
# (hour of the day, moods of the records stored then): ~60 records a day, like the demo replay's days.
SLOTS = [(8, "neutral"), (10, "positive"), (12, "negative"), (14, "neutral"), (16, "other"), (18, "positive"),
         (20, "negative"), (21, "neutral")]
ALL_CHARTS_DRAWN = "() => [...document.querySelectorAll('[data-figure]')].every(e => e.querySelector('.main-svg'))"
LOAD_TIMING = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const files = performance.getEntriesByType("resource");
  return {load_ms: nav.loadEventEnd, bytes: nav.transferSize + files.reduce((s, f) => s + f.transferSize, 0),
          decoded: nav.decodedBodySize + files.reduce((s, f) => s + f.decodedBodySize, 0),
          requests: 1 + files.length, from_cache: files.filter(f => f.transferSize === 0).length,
          charts: [...document.querySelectorAll("[data-figure]")].filter(e => e.querySelector(".main-svg")).length,
          scroll_width: document.scrollingElement.scrollWidth, width: innerWidth};
}"""


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="measure this running server (e.g. `make run`'s) instead of starting one")
    parser.add_argument("--username", default="demo")
    parser.add_argument("--password", default="demo-clinician")
    parser.add_argument("--patient", default="DEMO-001", help="the patient reference whose page is opened")
    parser.add_argument("--visits", type=int, default=5, help="first visits (and as many warm ones) to time")
    parser.add_argument("--width", type=int, default=1366, help="viewport width in CSS px (height 844 or 900)")
    parser.add_argument("--port", type=int, default=0, help="port of the started server (0: a free one)")
    return parser.parse_args()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def demo_database_fill() -> None:
    """What demo_run sets up (login, patients), then the replay's shape as stored records.
    (Django's modules are imported here, after django.setup() in main().)"""
    from django.core.management import call_command
    from django.utils import timezone

    from backend.demo.services import demo_clinician_get, demo_patients_ensure
    from tests.backend.factories import add_records

    call_command("migrate", "--noinput", verbosity=0)
    call_command("demo_clinician", verbosity=0, stdout=open(os.devnull, "w"))
    now = timezone.now()
    for patient in demo_patients_ensure(clinician=demo_clinician_get()):
        for day in range(DAYS):
            for slot, (hour, mood) in enumerate(SLOTS):
                moment = (now - timedelta(days=day)).replace(hour=hour, minute=5 * slot)
                if moment < now:
                    add_records(patient, moment, mood, 5 + (day + slot) % 4)


def server_start(workdir: Path, port: int) -> tuple[subprocess.Popen, str]:
    """collectstatic and runserver exactly as demo_run runs them, on the temporary database."""
    from backend.demo.management.commands.demo_run import server_environment, static_collect

    environment = server_environment("127.0.0.1", port)
    static_collect(environment, sys.stdout)
    server = subprocess.Popen([sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
                              cwd=ROOT, env=environment, stdout=open(workdir / "server.log", "w"),
                              stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
                if response.status == 200:
                    return server, base
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    server.terminate()
    raise SystemExit(f"the server did not answer {base}/healthz; see {workdir / 'server.log'}")


def patient_url(page, base: str, reference: str) -> str:
    page.goto(f"{base}/patients/")
    link = page.locator("table.patients tbody tr", has_text=reference).locator("a").first
    return base + link.get_attribute("href")


def visit(page, url: str) -> dict:
    page.goto(url, wait_until="load")
    page.wait_for_function(ALL_CHARTS_DRAWN)
    return page.evaluate(LOAD_TIMING)


def summary(label: str, runs: list[dict]) -> str:
    loads = [r["load_ms"] for r in runs]
    last = runs[-1]
    return (f"{label}: load median {statistics.median(loads):.0f} ms, worst {max(loads):.0f} ms over {len(runs)} "
            f"visits; {last['bytes'] / 1e3:.0f} kB received ({last['decoded'] / 1e3:.0f} kB decoded), "
            f"{last['requests']} requests, {last['from_cache']} files from the cache; {last['charts']} charts; "
            f"page {last['scroll_width']} px wide in a {last['width']} px window")


def measure(base: str, args) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(viewport={"width": args.width, "height": 844 if args.width < 800 else 900})
        page = context.new_page()
        page.goto(f"{base}/login/")
        page.fill("input[name=username]", args.username)
        page.fill("input[name=password]", args.password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/patients/")
        url = patient_url(page, base, args.patient)
        bundle = []
        page.on("response", lambda r: bundle.append(r) if "/plotly" in r.url else None)
        cdp = context.new_cdp_session(page)
        first, warm = [], []
        for _ in range(args.visits):
            page.goto("about:blank")
            cdp.send("Network.clearBrowserCache")  # an empty cache; the session cookie stays
            first.append(visit(page, url))
        for _ in range(args.visits):
            warm.append(visit(page, url))
        headers = bundle[0].all_headers() if bundle else {}
        request = bundle[0].request.all_headers() if bundle else {}
        browser.close()
    print(f"patient page: {url}")
    if bundle:
        print(f"plotly: {bundle[0].url.removeprefix(base)}; Accept-Encoding {request.get('accept-encoding')!r}; "
              f"Content-Encoding {headers.get('content-encoding')!r}; Cache-Control {headers.get('cache-control')!r}")
    print(summary("first visit (empty cache)", first))
    print(summary("warm visit", warm))


def main():
    args = parse_args()
    if args.url:
        measure(args.url.rstrip("/"), args)
        return
    with tempfile.TemporaryDirectory(prefix="moodwatch-page-load-") as folder:
        workdir = Path(folder)
        os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'demo.sqlite3'}"
        for name in ("DJANGO_ENV", "DEBUG", "CELERY_BROKER_URL", "TEST_DATABASE_NAME"):  # as `make run`: the default
            os.environ.pop(name, None)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's loop in this thread; no ORM use after setup
        import django

        django.setup()
        started = time.monotonic()
        demo_database_fill()
        print(f"demo database filled in {time.monotonic() - started:.0f} s")
        server, base = server_start(workdir, args.port or free_port())
        try:
            measure(base, args)
        finally:
            server.terminate()
            server.wait(timeout=20)


if __name__ == "__main__":
    main()
