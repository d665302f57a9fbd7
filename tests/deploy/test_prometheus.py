"""Prometheus against MoodWatch: Debian's `prometheus` scrapes a live test server's /metrics with the
bearer token from a file, and a metric is read back through Prometheus' HTTP API; the alert rules and
the scrape configuration of deploy/ pass promtool; the compose override and the Grafana dashboard hold
together. `make test` installs the `prometheus` package (Makefile target `prometheus`)."""
import json
import re
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from tests.deploy.test_compose_file import ROOT, compose_binary, filled_env

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
needs_prometheus = pytest.mark.skipif(not (PROMETHEUS and PROMTOOL),
                                      reason="Debian's prometheus package is not installed (make prometheus)")
TOKEN = "prometheus-scrape-token-5b0e61c2-long-random"
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
METRIC_NAMES = ("moodwatch_batches_total", "moodwatch_frames_total", "moodwatch_records_total",
                "moodwatch_batch_latency_seconds", "moodwatch_queue_depth", "moodwatch_oldest_queued_batch_seconds",
                "moodwatch_alerts_raised_total", "moodwatch_alert_evaluation_lag_seconds",
                "moodwatch_last_upload_age_seconds", "moodwatch_database_connections",
                "moodwatch_database_max_connections")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(port: int, path: str, **params) -> dict:
    url = f"http://127.0.0.1:{port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


@needs_prometheus
def test_the_alert_rules_pass_promtool_and_use_only_metrics_the_platform_exports():
    result = subprocess.run([PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    text = RULES.read_text()
    used = set(re.findall(r"\bmoodwatch_[a-z_]+", text))
    known = {name for base in METRIC_NAMES for name in (base, f"{base}_bucket")} | {
        "moodwatch_batches_total", "moodwatch_http_requests_total"}
    assert used <= known, used - known
    for alert in ("MoodWatchBacklogGrowing", "MoodWatchBatchLatencyHigh", "MoodWatchBatchesFailing",
                  "MoodWatchNoUploads", "MoodWatchDatabaseConnectionsNearLimit"):
        assert f"alert: {alert}" in text


@needs_prometheus
def test_the_scrape_configuration_passes_promtool(tmp_path):
    config = (ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text()
    # The paths inside the container, made local.
    (tmp_path / "token").write_text(TOKEN)
    shutil.copy(RULES, tmp_path / "alerts.yml")
    config = config.replace("/run/secrets/metrics_token", str(tmp_path / "token"))
    config = config.replace("/etc/prometheus/alerts.yml", str(tmp_path / "alerts.yml"))
    (tmp_path / "prometheus.yml").write_text(config)
    result = subprocess.run([PROMTOOL, "check", "config", str(tmp_path / "prometheus.yml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_prometheus
@pytest.mark.django_db(transaction=True)
def test_prometheus_scrapes_the_live_server_with_the_token_and_answers_a_query(live_server, settings, tmp_path):
    settings.METRICS_TOKEN = TOKEN
    host = live_server.url.removeprefix("http://")
    (tmp_path / "token").write_text(TOKEN + "\n")
    (tmp_path / "wrong").write_text("not-the-token-at-all-0000000000")
    (tmp_path / "prometheus.yml").write_text(f"""
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["{RULES}"]
scrape_configs:
  - job_name: moodwatch-web
    metrics_path: /metrics
    authorization: {{type: Bearer, credentials_file: "{tmp_path / 'token'}"}}
    static_configs: [{{targets: ["{host}"]}}]
  - job_name: wrong-token
    metrics_path: /metrics
    authorization: {{type: Bearer, credentials_file: "{tmp_path / 'wrong'}"}}
    static_configs: [{{targets: ["{host}"]}}]
""")
    port = free_port()
    log = tmp_path / "prometheus.log"
    with open(log, "w") as log_file:
        process = subprocess.Popen(
            [PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}"], stdout=log_file, stderr=subprocess.STDOUT)
    try:
        deadline, found = time.monotonic() + 60, {}
        while time.monotonic() < deadline and process.poll() is None:
            try:
                up = api(port, "query", query="up")["data"]["result"]
                found = {r["metric"]["job"]: r["value"][1] for r in up}
                batches = api(port, "query", query='moodwatch_batches_total{status="done"}')["data"]["result"]
                if found.get("moodwatch-web") == "1" and "wrong-token" in found and batches:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail(f"Prometheus did not scrape in time: {found}\n{log.read_text()[-3000:]}")
        assert found == {"moodwatch-web": "1", "wrong-token": "0"}, "the wrong token is refused"
        assert float(batches[0]["value"][1]) >= 0
        depth = api(port, "query", query='moodwatch_queue_depth{queue="batches"}')["data"]["result"]
        assert depth and depth[0]["value"][1] == "0"
        targets = api(port, "targets")["data"]["activeTargets"]
        wrong = next(t for t in targets if t["labels"]["job"] == "wrong-token")
        assert "401" in wrong["lastError"]
        groups = api(port, "rules")["data"]["groups"]
        assert [g["name"] for g in groups] == ["moodwatch"]
        assert all(rule["health"] != "err" for rule in groups[0]["rules"]), groups
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_metrics_override_runs_prometheus_beside_the_stack_and_gives_it_the_token_as_a_file(tmp_path):
    for name in ("docker-compose.yml", "docker-compose.metrics.yml", "Dockerfile", ".dockerignore"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / ".env").write_text(filled_env(METRICS_TOKEN=TOKEN))
    result = subprocess.run([str(compose_binary()), "-f", "docker-compose.yml", "-f", "docker-compose.metrics.yml",
                             "config", "--format", "json"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    resolved = json.loads(result.stdout)
    services = resolved["services"]
    prometheus = services["prometheus"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    assert [s["source"] for s in prometheus["secrets"]] == ["metrics_token"]
    assert TOKEN not in json.dumps(prometheus), "the token reaches Prometheus as a file only"
    [published] = prometheus["ports"]
    assert published["host_ip"] == "127.0.0.1"
    assert services["worker"]["environment"]["METRICS_WORKER_PORT"] == "9808"
    assert services["worker"]["environment"]["PROMETHEUS_MULTIPROC_DIR"]
    assert services["worker"]["environment"]["DATABASE_URL"].startswith("postgres://"), "keeps the base environment"
    assert services["web"]["environment"]["METRICS_TOKEN"] == TOKEN
    config = (ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text()
    assert "/run/secrets/metrics_token" in config and TOKEN not in config


def test_the_grafana_dashboard_queries_the_platforms_metrics():
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "moodwatch-dashboard.json").read_text())
    expressions = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {m for e in expressions for m in re.findall(r"\bmoodwatch_[a-z_]+", e)}
    for name in ("moodwatch_batches_total", "moodwatch_frames_total", "moodwatch_records_total",
                 "moodwatch_batch_latency_seconds_bucket", "moodwatch_queue_depth",
                 "moodwatch_oldest_queued_batch_seconds", "moodwatch_alerts_raised_total",
                 "moodwatch_http_requests_total", "moodwatch_database_connections", "moodwatch_model_info"):
        assert name in used, name
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])

