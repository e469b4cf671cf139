"""The static files' storage: whitenoise's compressed, hashed names, and the page's ES modules importing
each other by those names too (static/js/mixer/, static/js/timeline.js), so a module and what it imports are
cached forever together and change together. Only our own scripts are read for imports: a comment in a
third-party one can look like one (django_htmx's extensions)."""

from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
from whitenoise.storage import CompressedManifestStaticFilesStorage

_, IMPORTS = ManifestStaticFilesStorage._js_module_import_aggregation_patterns


class StaticFiles(CompressedManifestStaticFilesStorage):
    patterns = (*CompressedManifestStaticFilesStorage.patterns, ("js/*.js", IMPORTS))
