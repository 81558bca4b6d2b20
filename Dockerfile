# One image for web, worker and scheduler (docker-compose.yml picks the command).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VARCO_VAR_DIR=/var/lib/varco
WORKDIR /app
# Fonts for names in scripts DejaVu lacks (tickets/documents/pdf.py FALLBACK_FONTS; the same as make fonts).
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends fonts-noto-core fonts-droid-fallback \
       fonts-nanum fonts-symbola \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY core core
COPY backend backend
COPY tickets tickets
COPY checkin checkin
COPY console console
COPY worker worker
COPY manage.py gunicorn.conf.py ./
# Throw-away keys for collectstatic: with none, settings would make key files under var/ and
# bake them into the image, the same in every container.
RUN pip install --no-cache-dir . \
    && SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
       VARCO_ENCRYPTION_KEYS="$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
       python manage.py collectstatic --no-input -v0 \
    && useradd --system --home /app varco && mkdir -p /var/lib/varco && chown varco /var/lib/varco
USER varco
EXPOSE 8000
# Serves on 0.0.0.0 inside the container, so gunicorn refuses to start without a real
# SECRET_KEY and VARCO_ENCRYPTION_KEYS (gunicorn.conf.py): keys made on the first run would
# differ per container and vanish with it.
CMD ["gunicorn", "-c", "gunicorn.conf.py", "backend.wsgi"]
