"""gunicorn's settings file, read from the working directory (/app in the image, the repository root
in the tests) by every gunicorn started there; command-line options override it.

The request line may be up to gunicorn's maximum, above the application's own limit on addresses
(backend.core.middleware.MAX_URI_LENGTH): a long address then gets the application's JSON 414
under /api/ rather than gunicorn's HTML one.

Metrics: gunicorn runs several worker processes, and a scrape of /metrics reaches one of them. Each
writes its values to files in PROMETHEUS_MULTIPROC_DIR (prometheus-client's multiprocess mode; a
private temporary folder unless the operator names one), and /metrics adds all of them up. The folder
is emptied when the server starts, and a worker that exits has its live gauges dropped.

Logs: gunicorn's own lines (its error log, and the access log when --access-logfile is given) are
written as JSON through the application's formatter and redaction (backend/core/logs.py), and the
access line carries the path without its query string, and the request id."""
import os
import sys
import tempfile

# Set before prometheus_client is imported, here or in any worker: it picks its storage at import.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="moodwatch-metrics-")

from gunicorn.glogging import Logger  # noqa: E402
from prometheus_client import multiprocess  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the repository root (/app): backend.core.logs
from backend.core.logs import JsonFormatter, RedactFilter, RequestIdFilter  # noqa: E402

limit_request_line = 8190
# %(U)s: the path without the query string (which may carry a search or a code); no user agent, no referer.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms request_id=%({x-request-id}o)s'


class JsonLogger(Logger):
    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(JsonFormatter())
                handler.addFilter(RequestIdFilter())
                handler.addFilter(RedactFilter())


logger_class = JsonLogger


def on_starting(server) -> None:
    folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name.endswith(".db"):
            os.remove(os.path.join(folder, name))


def child_exit(server, worker) -> None:
    multiprocess.mark_process_dead(worker.pid)
