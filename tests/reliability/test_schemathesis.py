"""schemathesis generates requests from /api/v1/schema/ and sends them to gunicorn, once with a device
token and once with a clinician's session. No answer may be a 5xx, and every answer must match
the schema (status code, content type, body).

Bounded: a fixed seed and a few examples per operation keep each run to a minute at most.
"""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.backend.factories import DeviceFactory

pytestmark = [pytest.mark.slow]

CHECKS = "all"
PASSWORD = "correct horse battery staple"  # tests.backend.factories.UserFactory


def schemathesis(stack, tmp_path: Path, headers: dict, parameters: dict) -> subprocess.CompletedProcess:
    config = tmp_path / "schemathesis.toml"
    config.write_text("[parameters]\n" + "".join(f'"{k}" = "{v}"\n' for k, v in parameters.items()))
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    command = [
        st, "--config-file", str(config), "run", f"{stack.url}/api/v1/schema/", "--checks", CHECKS,
        "--max-examples", "10", "--seed", "20261126", "--workers", "1", "--phases", "examples,coverage,fuzzing",
        "--request-timeout", "30", "--no-color", "--max-time", "60", "--generation-database", "none",
        "--report-dir", str(tmp_path / "report"),
    ]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)


def assert_clean(result: subprocess.CompletedProcess, stack):
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-8000:]
    assert re.search(r"\d+ passed", output) or "passed" in output, output[-3000:]
    log = stack.web_log.read_text()
    assert "Traceback" not in log, log[-4000:]


@pytest.fixture
def live(stack_factory, private_redis):
    return stack_factory(private_redis.url).start_web(workers=2, ENROLL_THROTTLE_RATE="100000/hour",
                                                      LOGIN_THROTTLE_RATE="100000/hour")


def test_the_device_api_answers_every_generated_request_within_its_schema(live, tmp_path, device, patient):
    result = schemathesis(live, tmp_path, {"Authorization": f"Device {device.token}"},
                          {"path.patient_id": str(patient.pk)})
    print(result.stdout[-2500:])
    assert_clean(result, live)


def test_the_clinician_api_answers_every_generated_request_within_its_schema(live, tmp_path, clinician, patient):
    DeviceFactory(patient=patient)
    session = requests.Session()
    page = session.get(live.url + "/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = session.post(live.url + "/login/", data={"username": "dr_house", "password": PASSWORD,
                                                      "csrfmiddlewaretoken": token},
                          headers={"Referer": live.url + "/login/"}, allow_redirects=False, timeout=30)
    assert answer.status_code == 302, answer.text[:500]
    cookies = session.cookies.get_dict()
    headers = {
        "Cookie": f"sessionid={cookies['sessionid']}; csrftoken={cookies['csrftoken']}",
        "X-CSRFToken": cookies["csrftoken"],
        "Referer": live.url + "/",
    }
    result = schemathesis(live, tmp_path, headers, {"path.patient_id": str(patient.pk)})
    print(result.stdout[-2500:])
    assert_clean(result, live)
