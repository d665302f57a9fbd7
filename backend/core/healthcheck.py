"""Container healthchecks: `python -m backend.core.healthcheck web [PORT] | worker [NODE]` (0 = healthy).

One module instead of inline shell or `python -c` snippets in docker-compose.yml: it needs no shell
and no $HOSTNAME (podman sets none), and no argument holds a space (podman's Docker-compatible API
splits exec-form healthcheck arguments on spaces).
- web: GET /healthz on the local gunicorn (port 8000 unless given), which answers 200 only when
  PostgreSQL and the broker do;
- worker: this container's own Celery node (`celery@<hostname>`, or NODE@<hostname> for a worker
  started with `-n NODE@%h`) answers a ping through the broker.
"""
import socket
import sys
import urllib.request

from backend.celery import app  # the package sets DJANGO_SETTINGS_MODULE first
from backend.core.health import PATH

TIMEOUT = 10


def web_healthy(port: str = "8000") -> bool:
    with urllib.request.urlopen(f"http://127.0.0.1:{int(port)}{PATH}", timeout=TIMEOUT) as response:
        return response.status == 200


def worker_healthy(node: str = "celery") -> bool:
    return bool(app.control.ping(destination=[f"{node}@{socket.gethostname()}"], timeout=TIMEOUT))


def main(argv: list[str]) -> int:
    checks = {"web": web_healthy, "worker": worker_healthy}
    if not 1 <= len(argv) <= 2 or argv[0] not in checks:
        print("usage: python -m backend.core.healthcheck web [PORT] | worker [NODE]", file=sys.stderr)
        return 2
    try:
        healthy = checks[argv[0]](*argv[1:])
    except Exception as error:  # noqa: BLE001 - any failure is "unhealthy", with its reason on stderr
        print(f"unhealthy: {error}", file=sys.stderr)
        return 1
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
