"""The storage behind hashed, compressed static files (production and `make run`).

WhiteNoise's CompressedManifestStaticFilesStorage: `collectstatic` writes each file under a name that
carries a hash of its content (plotly-basic.min.<hash>.js) with a gzip copy beside it, and WhiteNoise
answers a hashed name with `Cache-Control: max-age=315360000, public, immutable` (the URL changes
with the content, so a browser never has to ask again) and the copy a browser accepts.

Django's manifest storage gives the plain names under DEBUG; `make run` runs with DEBUG on (the demo
and its error pages) and must still link the hashed names, or nothing would be cached for long.
"""
from whitenoise.storage import CompressedManifestStaticFilesStorage


class HashedStaticFilesStorage(CompressedManifestStaticFilesStorage):
    def url(self, name, force=False):
        if not name:
            # static(""), the prefix itself (the patient app's service worker asks for it): no file to
            # look up. Django's manifest storage raises "Missing staticfiles manifest entry for ''".
            return self.base_url
        # force: the hashed name from the manifest whatever DEBUG says (a missing entry is an error).
        return super().url(name, force=True)
