"""WSGI entry point (gunicorn backend.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
application = get_wsgi_application()

# The door's scan and the public registration are answered in front of Django's middleware
# (checkin/fastpath.py, tickets/fastpath.py; core/fastpath.py says why).
from checkin import fastpath as scan_fast_path  # noqa: E402  (needs the app registry loaded above)
from tickets import fastpath as registration_fast_path  # noqa: E402  (the same)

application = registration_fast_path.wrap(scan_fast_path.wrap(application))

# Import the URLconf here, before gunicorn forks its workers (preload_app), not lazily on each
# worker's first request: that import takes ~0.8 s (3 s on a busy machine), which the first
# requests after every start or restart would otherwise wait for.
from django.urls import get_resolver  # noqa: E402

get_resolver().url_patterns  # noqa: B018  (evaluating the property is the point)
