"""Which real services this run has: PostgreSQL (``DATABASE_URL``) and Redis (``REDIS_URL``).

tests/conftest.py deselects the tests marked ``postgres`` / ``redis`` without them; a test
module that changes what it does on PostgreSQL reads ``ON_POSTGRES`` from here.
"""

from __future__ import annotations

import os

from django.conf import settings

# "backend.postgres" (backend/settings.py) or Django's own "django.db.backends.postgresql"
ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith(("postgresql", "postgres"))
HAS_REDIS = bool(os.environ.get("REDIS_URL"))
