"""`make run` smoke test: the real command on the embedded default (SQLite, tasks in process).

It runs on a fresh SQLite file and a free port, with a video passed as VIDEO=. It must serve,
answer /healthz, print the DEMO login, let that login into the dashboard, and show both demo
patients with mood records inferred from the real photos. Running it a second time must add nothing.
"""
import json
import os
import re
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.support import csrf_login, free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
READY = "MoodWatch is running at"
COLLECTING = "collecting the static files"
# The test runner's settings must not leak into the demo: it runs on the embedded default.
RUNNER_ONLY = ("DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "DJANGO_ENV", "DJANGO_SETTINGS_MODULE",
               "TEST_DATABASE_NAME", "CELERY_TASK_ALWAYS_EAGER", "CELERY_QUEUE", "DEBUG")


class MakeRun:
    def __init__(self, *, port: int, db: Path, state: Path, video: Path):
        env = {k: v for k, v in os.environ.items() if k not in RUNNER_ONLY and not k.startswith("PYTEST")}
        env["DATABASE_URL"] = f"sqlite:///{db}"
        self.output: list[str] = []
        self.process = subprocess.Popen(
            ["make", "run", f"PORT={port}", f"DEMO_STATE_DIR={state}", f"VIDEO={video}"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,  # its own process group: make, manage.py and the server stop together
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.output.append(line)

    @property
    def text(self) -> str:
        return "".join(self.output)

    def wait_ready(self, timeout: float):
        deadline = time.monotonic() + timeout
        while READY not in self.text:
            if self.process.poll() is not None:
                raise AssertionError(f"make run exited with {self.process.returncode}:\n{self.text[-5000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"make run not ready after {timeout}s:\n{self.text[-5000:]}")
            time.sleep(0.5)

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def counts(db: Path) -> dict:
    with sqlite3.connect(db) as connection:
        return {table: connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                for table in ("patients_patient", "devices_device", "ingest_framebatch", "moods_moodrecord",
                              "auth_user")}


def replay_figures(db: Path) -> dict:
    """Per demo patient: days with records, distinct moods, open negative-mood alerts."""
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT p.reference, count(DISTINCT date(m.captured_at)), count(DISTINCT m.mood),"
            " (SELECT count(*) FROM alerts_alert a WHERE a.patient_id = p.id AND a.kind = 'negative_mood'"
            "  AND a.resolved_at IS NULL)"
            " FROM patients_patient p JOIN moods_moodrecord m ON m.patient_id = p.id GROUP BY p.id"
        ).fetchall()
    return {reference: {"days": days, "moods": moods, "alerts": alerts} for reference, days, moods, alerts in rows}


def dashboard_login(base: str, username: str, password: str) -> requests.Session:
    session, response = csrf_login(base, username, password)
    assert response.status_code == 302, f"login refused: {response.status_code}"
    return session


def test_make_run_serves_the_demo_with_real_inferred_records_and_is_safe_to_run_twice(tmp_path, photo_video):
    port, db, state = free_port(), tmp_path / "demo.sqlite3", tmp_path / "demo-state"
    base = f"http://127.0.0.1:{port}"

    first = MakeRun(port=port, db=db, state=state, video=photo_video)
    try:
        first.wait_ready(timeout=600)
        assert f"{READY} {base}/" in first.text
        login = re.search(r"DEMO clinician login .*username=(\S+) password=(\S+)", first.text)
        assert login, "the DEMO login is printed and flagged as such"

        health = requests.get(f"{base}/healthz", timeout=30)
        assert health.status_code == 200 and health.json()["status"] == "ok"

        session = dashboard_login(base, *login.groups())
        page = session.get(f"{base}/patients/", timeout=30)
        assert page.status_code == 200 and "DEMO-001" in page.text and "DEMO-002" in page.text
        patients = session.get(f"{base}/api/v1/patients/", timeout=30).json()
        assert {p["reference"] for p in patients} == {"DEMO-001", "DEMO-002"}
        for patient in patients:
            records = session.get(f"{base}/api/v1/patients/{patient['id']}/moods/", timeout=30).json()["results"]
            assert records, f"{patient['reference']} has mood records"
            assert all(r["mood"] in ("positive", "negative", "neutral", "other") for r in records)
        assert wrong_password_is_refused(base, login.group(1))
        static_files_are_hashed_gzipped_and_immutable(base, session, patients[0]["id"])
    finally:
        first.stop()
    after_first = counts(db)
    # 3 + 2 photos and 5 video frames, then two weeks of replayed faces per patient (30 frames a batch).
    assert after_first["ingest_framebatch"] >= 3 + 2 * 6 and after_first["devices_device"] == 2
    assert after_first["moods_moodrecord"] >= 250
    replay = replay_figures(db)
    assert all(figures["days"] >= 14 and figures["moods"] >= 3 for figures in replay.values()), replay
    assert (replay["DEMO-001"]["alerts"], replay["DEMO-002"]["alerts"]) == (0, 1), "B's dark days trip the rule"

    second = MakeRun(port=port, db=db, state=state, video=photo_video)
    try:
        second.wait_ready(timeout=300)
        assert "already queued earlier, not queued again" in second.text
        assert COLLECTING not in second.text, "no static file changed: collectstatic is not run again"
        assert requests.get(f"{base}/healthz", timeout=30).status_code == 200
    finally:
        second.stop()
    assert counts(db) == after_first, "a second `make run` adds no patient, device, batch, record or user"


def static_files_are_hashed_gzipped_and_immutable(base: str, session: requests.Session, patient_id: str):
    """Issue 29: the patient page's Plotly (the basic bundle) under its hashed name, gzipped and cached
    for good; the patient app's service worker precaches names that all resolve."""
    page = session.get(f"{base}/patients/{patient_id}/", timeout=30).text
    src = re.search(r'<script src="(/static/dashboard/vendor/plotly-basic\.min\.[0-9a-f]{12}\.js)">', page)
    assert src, "the page links the hashed bundle"
    bundle = requests.get(base + src.group(1), headers={"Accept-Encoding": "gzip"}, timeout=30, stream=True)
    assert bundle.status_code == 200 and bundle.headers["Content-Encoding"] == "gzip"
    assert "immutable" in bundle.headers["Cache-Control"]
    assert int(bundle.headers["Content-Length"]) < 600_000  # 4.8 MB uncompressed before
    worker = requests.get(f"{base}/app/sw.js", timeout=30).text
    precache = json.loads(re.search(r"(\[\s*\"/app/\".*?\])", worker, re.S).group(1))
    assert any(re.search(r"\.[0-9a-f]{12}\.js$", url) for url in precache), "hashed names are precached"
    assert {url: requests.get(base + url, timeout=30).status_code for url in precache} == dict.fromkeys(precache, 200)


def wrong_password_is_refused(base: str, username: str) -> bool:
    _, response = csrf_login(base, username, "wrong")
    return response.status_code != 302
