"""The public device API v1, as the phone app calls it (requests, no Django)."""
from __future__ import annotations

from dataclasses import dataclass

import requests

USER_AGENT = "moodwatch-device-simulator/1"


class ApiError(Exception):
    """An answer the device cannot fix by retrying (4xx other than 408/429)."""

    def __init__(self, status: int, body: dict | str):
        self.status, self.body = status, body
        code = body.get("code") if isinstance(body, dict) else None
        detail = body.get("detail") if isinstance(body, dict) else str(body)[:300]
        self.code = code or f"http_{status}"
        super().__init__(f"HTTP {status} {self.code}: {detail}")


class TransientError(Exception):
    """A network failure, a 5xx, 408 or 429: the same request may succeed later."""

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class UploadResult:
    status: int  # 202 accepted (201 for a mood batch), 200 already had it (a replay of the same batch_id)
    body: dict


def _body(response: requests.Response) -> dict | str:
    try:
        return response.json()
    except ValueError:
        return response.text


def _retry_after(response: requests.Response) -> float | None:
    try:
        return float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None


class DeviceApi:
    def __init__(self, server: str, *, token: str | None = None, connect_timeout: float = 5.0,
                 read_timeout: float = 120.0):
        self.server = server.rstrip("/")
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.timeout = (connect_timeout, read_timeout)
        if token:
            self.session.headers["Authorization"] = f"Device {token}"

    def _request(self, method: str, path: str, **kwargs) -> requests.Response:
        try:
            response = self.session.request(method, f"{self.server}{path}", timeout=self.timeout, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as error:
            raise TransientError(f"network error: {error.__class__.__name__}: {error}") from error
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise TransientError(f"HTTP {response.status_code}", retry_after=_retry_after(response))
        return response

    def enroll(self, *, code: str, label: str) -> dict:
        response = self._request("POST", "/api/v1/devices/enroll/", json={"code": code, "label": label})
        if response.status_code != 201:
            raise ApiError(response.status_code, _body(response))
        return response.json()

    def upload(self, *, batch_id: str, jpegs: list[bytes], captured_at: list[str]) -> UploadResult:
        files = [("frames", (f"{i:03d}.jpg", data, "image/jpeg")) for i, data in enumerate(jpegs)]
        data = [("batch_id", batch_id)] + [("captured_at", stamp) for stamp in captured_at]
        response = self._request("POST", "/api/v1/frame-batches/", data=data, files=files)
        if response.status_code not in (200, 202):
            raise ApiError(response.status_code, _body(response))
        return UploadResult(response.status_code, response.json())

    def upload_moods(self, body: dict) -> UploadResult:
        """POST a mood batch (on-device mode): the records computed on this "phone", never a frame."""
        response = self._request("POST", "/api/v1/mood-batches/", json=body)
        if response.status_code not in (200, 201):
            raise ApiError(response.status_code, _body(response))
        return UploadResult(response.status_code, response.json())

    def model_manifest(self) -> dict | None:
        """GET /api/v1/model/ (the served model's version and files), or None where the server has none."""
        response = self._request("GET", "/api/v1/model/")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ApiError(response.status_code, _body(response))
        return response.json()

    def batch_status(self, batch_id: str) -> dict:
        response = self._request("GET", f"/api/v1/frame-batches/{batch_id}/")
        if response.status_code != 200:
            raise ApiError(response.status_code, _body(response))
        return response.json()
