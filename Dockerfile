# gdlab: the service (gunicorn) and, run with another command, the sandbox runner.
#   docker build -t gdlab .            (or: docker compose build)
# No secrets go into the image: the instructor token and every setting come from the
# environment at run time (see .env.example and docker-compose.yml).
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/gdlab/venv \
    PATH=/opt/gdlab/venv/bin:$PATH \
    MPLCONFIGDIR=/opt/gdlab/matplotlib \
    GDLAB_DATA_DIR=/data

# libseccomp for the sandbox's seccomp layer (pyseccomp wraps the system library)
RUN apt-get update \
 && apt-get install -y --no-install-recommends libseccomp2 \
 && rm -rf /var/lib/apt/lists/*

# Dependencies first, in their own layer, so that a code change does not reinstall them.
COPY pyproject.toml README.md /opt/gdlab/src/
RUN python -m venv "$VIRTUAL_ENV" \
 && python -c "import tomllib; print('\n'.join(tomllib.load(open('/opt/gdlab/src/pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

COPY grader /opt/gdlab/src/grader
COPY service /opt/gdlab/src/service
COPY exercises /opt/gdlab/src/exercises
COPY gdlab /opt/gdlab/src/gdlab
# A regular (not editable) install, then the sources go: the image holds only the package.
# matplotlib's font cache is built now, not at the first plot of a running service.
RUN pip install --no-cache-dir --no-deps /opt/gdlab/src \
 && rm -rf /opt/gdlab/src \
 && python -c "import matplotlib.font_manager" \
 && useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin gdlab \
 && mkdir -p /data /run/gdlab \
 && chown gdlab:gdlab /data \
 && chown -R gdlab:gdlab "$MPLCONFIGDIR"

USER gdlab
WORKDIR /data
EXPOSE 8000
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
CMD ["gdlab", "serve", "--host", "0.0.0.0", "--port", "8000"]
