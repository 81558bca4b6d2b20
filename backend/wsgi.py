"""WSGI entry point (gunicorn backend.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
application = get_wsgi_application()

# The door's scan endpoint is answered in front of Django's middleware (see checkin/fastpath.py).
from checkin.fastpath import wrap  # noqa: E402  (needs the app registry loaded above)

application = wrap(application)

# Import the URLconf here, before gunicorn forks its workers (preload_app), not lazily on each
# worker's first request: that import takes ~0.8 s (3 s on a busy machine), which the first
# requests after every start or restart would otherwise wait for.
from django.urls import get_resolver  # noqa: E402

get_resolver().url_patterns  # noqa: B018  (evaluating the property is the point)
