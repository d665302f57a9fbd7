"""Rate limits answer 429 with Retry-After, and hold across web processes (the counters live in Redis).

Two separate gunicorn servers share one cache (CACHE_URL, a private redis-server); requests
alternate between them, so a per-process counter would let twice the rate through.
"""
import re
from itertools import cycle

import pytest
import requests

from backend.ingest.models import FrameBatch
from tests.support import PASSWORD, csrf_login

from .conftest import UPLOAD_URL, device_headers, multipart

pytestmark = [pytest.mark.slow]

RATES = {"UPLOAD_THROTTLE_RATE": "4/minute", "ENROLL_THROTTLE_RATE": "3/minute", "LOGIN_THROTTLE_RATE": "3/minute"}


@pytest.fixture
def two_servers(stack_factory, private_redis):
    cache = f"{private_redis.url}/1"
    return [stack_factory(private_redis.url).start_web(workers=1, CACHE_URL=cache, **RATES) for _ in range(2)]


def assert_throttled(response):
    assert response.status_code == 429, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith("application/json")
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["code"] == "throttled"


def test_uploads_are_limited_per_device_across_web_processes(two_servers, device, other_device, face_jpeg):
    servers = cycle(two_servers)

    def upload(dev):
        data, files = multipart([face_jpeg])
        return requests.post(next(servers).url + UPLOAD_URL, data=data, files=files, headers=device_headers(dev),
                             timeout=30)

    assert [upload(device).status_code for _ in range(4)] == [202] * 4
    assert_throttled(upload(device))
    assert_throttled(upload(device))
    assert upload(other_device).status_code == 202, "another device has its own allowance"
    assert FrameBatch.objects.filter(device=device).count() == 4, "a throttled upload stores nothing"


def test_enrollment_is_limited_per_client_address_even_when_x_forwarded_for_varies(two_servers, db):
    servers = cycle(two_servers)

    def enroll(n):
        return requests.post(next(servers).url + "/api/v1/devices/enroll/", json={"code": f"WRNGX-{'ABCDEF'[n] * 5}"},
                             headers={"X-Forwarded-For": f"203.0.113.{n}"}, timeout=30)

    assert [enroll(n).json()["code"] for n in range(3)] == ["enrollment_code_invalid"] * 3
    for n in range(3, 6):
        assert_throttled(enroll(n))


def login(server, username: str, password: str) -> requests.Response:
    return csrf_login(server.url, username, password)[1]


def login_again(server, browser: requests.Session, username: str) -> requests.Response:
    """Log in from a browser that logged in before (it keeps its device cookie, not its session)."""
    browser.cookies.set("sessionid", None)
    form = browser.get(f"{server.url}/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    return browser.post(f"{server.url}/login/", data={"username": username, "password": PASSWORD,
                                                     "csrfmiddlewaretoken": token},
                        headers={"Referer": f"{server.url}/login/"}, timeout=30, allow_redirects=False)


def test_login_attempts_are_limited_per_client_address_across_web_processes(two_servers, clinician):
    servers = cycle(two_servers)
    browser, first = csrf_login(next(servers).url, "dr_house")  # dr_house's own browser, before the attack
    assert first.status_code == 302
    assert [login(next(servers), f"nobody{n}", "wrong").status_code for n in range(3)] == [200] * 3  # form again
    assert_throttled(login(next(servers), "dr_house", "wrong"))
    assert_throttled(login(next(servers), "someone_else", "wrong"))
    assert_throttled(login(next(servers), "dr_house", PASSWORD))  # a new browser at the throttled address
    for server in two_servers:  # the browser that logged in before is let through, by either process
        assert login_again(server, browser, "dr_house").status_code == 302
