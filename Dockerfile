# syntax=docker/dockerfile:1
# MoodWatch server image: one image for web (gunicorn), worker and beat (Celery); see docker-compose.yml.
# CPU only, and no TensorFlow: the mood model is served by LiteRT (requirements-serve.txt); training/
# (TensorFlow, offline work) is left out by .dockerignore.
# Nothing secret is baked in: SECRET_KEY, database and broker URLs come from the environment at run time.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the serving requirements in a virtualenv, the code, the static files -----------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH
# tini, Debian's package: the containers' PID 1 (see ENTRYPOINT below).
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
COPY requirements-serve.txt requirements-serve-nodeps.txt /tmp/
# Every pinned package ships a manylinux wheel: --only-binary keeps compilers out entirely.
# pip itself is removed afterwards: the serving image installs nothing at run time.
RUN pip install --only-binary=:all: -r /tmp/requirements-serve.txt \
 && pip install --only-binary=:all: --no-deps -r /tmp/requirements-serve-nodeps.txt \
 && python -m pip uninstall --yes --quiet pip setuptools \
 && find /opt/venv -depth -type d -name tests -path "*/numpy/*" -exec rm -rf {} +
WORKDIR /app
COPY . .
# Hashed, compressed static files (admin, API docs, dashboard, the patient app with LiteRT.js from the
# node_modules/ that `npm ci` filled on the host: this build runs no node). The key below is a throwaway that
# exists only for this one command; the real SECRET_KEY is given to the containers at run time.
RUN DJANGO_ENV=production SECRET_KEY=collectstatic-build-step-only ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --noinput --verbosity 0 \
 && rm -rf var \
 && python -m compileall -q /app

# --- runtime: the virtualenv and the app, a non-root user, nothing else -------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_ENV=production
RUN groupadd --system --gid 10001 moodwatch \
 && useradd --system --uid 10001 --gid moodwatch --home-dir /app --no-create-home --shell /usr/sbin/nologin moodwatch
COPY --from=build /usr/bin/tini /usr/bin/tini
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
# The code is read-only for the service user; only var/ (scratch, celery beat's schedule) is writable.
RUN mkdir -p /app/var && chown moodwatch:moodwatch /app/var
WORKDIR /app
USER moodwatch
EXPOSE 8000
# PID 1 is tini, which forwards signals to the server and reaps orphans. A server that is PID 1
# itself never sees a SIGTERM that arrives before it installs its handler (the kernel drops it):
# `docker stop` on a Celery worker still starting up then waited out the whole grace period.
ENTRYPOINT ["/usr/bin/tini", "--"]
# WEB_CONCURRENCY (gunicorn's own variable) sets the number of worker processes.
# No control socket: gunicorn would create it under the read-only /app.
CMD ["gunicorn", "backend.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-", "--timeout", "60", \
     "--no-control-socket"]
