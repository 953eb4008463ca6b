# dsct: the scheduling service, as a container image.
#   docker build -t dsct .          docker run -p 8000:8000 dsct
# Settings come from DSCT_* environment variables (see README); the image listens on 0.0.0.0:8000.

# Pinned by tag; the Python minor version matches the lock (scripts/lock.sh: --python-version 3.11).
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

# ---- builder: the locked runtime dependencies and the project, in a virtual environment ----
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
WORKDIR /src
# The same lock that scripts/serve installs (bash scripts/venv.sh requirements.lock), hash-checked.
COPY requirements.lock ./
RUN /opt/venv/bin/pip install --no-cache-dir --require-hashes --only-binary=:all: -r requirements.lock
COPY pyproject.toml README.md ./
COPY app ./app
COPY schemas ./schemas
# --no-deps: every dependency came from the lock above; this adds only the dsct package itself
# (app, schemas, the bundled app/data files and the `dsct` console script).
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps . \
    && /opt/venv/bin/python -c "import app.main, schemas"

# ---- final: the venv on a fresh slim base, run as an unprivileged user ----
FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 dsct \
    && useradd --system --uid 10001 --gid dsct --no-create-home --shell /usr/sbin/nologin dsct
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DSCT_HOST=0.0.0.0 \
    DSCT_PORT=8000 \
    DSCT_WORKERS=2 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/dsct-metrics
WORKDIR /tmp
USER 10001:10001
EXPOSE 8000
# No curl in the image: Python itself asks /livez; urlopen raises (exit 1) on errors and non-2xx.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/livez' % os.environ.get('DSCT_PORT', '8000'), timeout=2)"]
CMD ["dsct", "serve"]
