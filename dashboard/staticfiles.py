"""Serve Plotly's JavaScript from the installed `plotly` package, as static/dashboard/vendor/plotly.min.js.

Clinics may be offline, so no CDN. Copying the 4.8 MB bundle into the repository would let it drift
from the Python package that builds the figures; a finder keeps both at the pinned version.
`collectstatic` (production) and WhiteNoise/runserver (development) both go through finders.
"""
from pathlib import Path

from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

PREFIX = "dashboard/vendor"
FILENAME = "plotly.min.js"
STATIC_PATH = f"{PREFIX}/{FILENAME}"


def plotly_package_data() -> Path:
    import plotly

    return Path(plotly.__file__).resolve().parent / "package_data"


class PlotlyFinder(BaseFinder):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.storage = FileSystemStorage(location=str(plotly_package_data()))
        self.storage.prefix = PREFIX  # read by collectstatic and WhiteNoise

    def check(self, **kwargs):
        from django.core.checks import Error

        if not (plotly_package_data() / FILENAME).is_file():
            return [Error(f"{FILENAME} not found in the plotly package", id="dashboard.E001")]
        return []

    def find(self, path, find_all=False, **kwargs):
        if path != STATIC_PATH:
            # A miss is [] whatever find_all says, as Django's own finders answer: its find() loop
            # collects a None into its list of matches and then serves that list as a path (500).
            return []
        match = str(plotly_package_data() / FILENAME)
        return [match] if find_all else match

    def list(self, ignore_patterns):
        yield FILENAME, self.storage
