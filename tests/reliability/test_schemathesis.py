"""schemathesis generates requests from /api/v1/schema/ and sends them to gunicorn, once with a device
token and once with a clinician's API token, with all of schemathesis' checks. No answer may be a 5xx, and every
answer must match the schema (status code, content type, body).

Bounded: a fixed seed and a few examples per operation keep each run to a minute at most.
"""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.backend.factories import DeviceFactory

pytestmark = [pytest.mark.slow]

CHECKS = "all"
# positive_data_acceptance expects a schema-valid request to be accepted; ours may still be refused
# with 400 for rules a schema cannot state (a frame must decode as an image, captured_at must be
# recent, dates must fall in 2000-2099). A 400 passes that check; a 5xx or a wrong shape never does.
# negative_data_rejection expects a schema-violating request to be refused; besides its default
# 4xx list, ours refuses a chunked body (length unknown) with 411 and an oversized one with 413
# before reading it. 5xx is taken out of its default list: a server error is never a rejection.
CHECK_CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "400", "401", "403", "404", "409", "429"]

[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "411", "413", "415", "422", "428", "429"]
"""


def schemathesis(stack, tmp_path: Path, headers: dict, parameters: dict) -> subprocess.CompletedProcess:
    config = tmp_path / "schemathesis.toml"
    config.write_text("[parameters]\n" + "".join(f'"{k}" = "{v}"\n' for k, v in parameters.items()) + CHECK_CONFIG)
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
    """With the clinician's API token (the schema's tokenAuth), so that the ignored_auth check can
    replace it with a bad one and expect a 401: a session cookie passed as a raw header could not be
    taken away by schemathesis."""
    from backend.clinician_api.services import api_token_issue

    DeviceFactory(patient=patient)
    token = api_token_issue(user=clinician)
    result = schemathesis(live, tmp_path, {"Authorization": f"Token {token}"},
                          {"path.patient_id": str(patient.pk)})
    print(result.stdout[-2500:])
    assert_clean(result, live)
