"""WSGI entry point (gunicorn backend.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
application = get_wsgi_application()

# The door's scan endpoint is answered in front of Django's middleware (see checkin/fastpath.py).
from checkin.fastpath import wrap  # noqa: E402  (needs the app registry loaded above)

application = wrap(application)
