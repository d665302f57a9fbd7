"""Serve Plotly's JavaScript from npm's `plotly.js-basic-dist-min`, as static/dashboard/vendor/plotly-basic.min.js.

The charts (dashboard/charts.py) draw only `scatter` and `bar` traces, so the official "basic" partial
bundle (scatter, bar, pie: 1.2 MB, 0.4 MB gzipped) does what the full 4.8 MB bundle did. Its version
is pinned in package.json to the plotly.js of the full bundle it replaced, so figures render the same;
a test fails if a chart uses a trace type the served bundle lacks.

Clinics may be offline, so no CDN: `npm ci` (the Makefile's `npm` target) installs the pinned
package-lock.json into node_modules/, and this finder hands exactly one file of it to Django (a
STATICFILES_DIRS entry would also publish the package's README and package.json). `collectstatic`
(production, and `make run`) and WhiteNoise's finder mode (tests) both go through finders.
"""
from django.conf import settings
from django.contrib.staticfiles.finders import BaseFinder
from django.core.checks import Error
from django.core.files.storage import FileSystemStorage

PACKAGE = "plotly.js-basic-dist-min"
PREFIX = "dashboard/vendor"
FILENAME = "plotly-basic.min.js"
STATIC_PATH = f"{PREFIX}/{FILENAME}"


class PlotlyFinder(BaseFinder):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.location = settings.NODE_MODULES / PACKAGE
        self.storage = FileSystemStorage(location=str(self.location))
        self.storage.prefix = PREFIX  # read by collectstatic and WhiteNoise

    def check(self, **kwargs):
        if not (self.location / FILENAME).is_file():
            return [Error(f"{PACKAGE}/{FILENAME} not found in {settings.NODE_MODULES}", hint="run `make npm`",
                          id="dashboard.E001")]
        return []

    def find(self, path, find_all=False, **kwargs):
        if path != STATIC_PATH:
            # A miss is [] whatever find_all says, as Django's own finders answer: its find() loop
            # collects a None into its list of matches and then serves that list as a path (500).
            return []
        match = str(self.location / FILENAME)
        return [match] if find_all else match

    def list(self, ignore_patterns):
        yield FILENAME, self.storage
