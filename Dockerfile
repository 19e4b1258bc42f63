# BrandPulse in a container: `docker compose up` (compose.yaml) runs it with PostgreSQL.
# Standalone, with SQLite on the volume:
#   docker build -t brandpulse . && docker run --env-file .env -v brandpulse-data:/data brandpulse
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # The default database lives on the volume, so it outlives the container.
    BRANDPULSE_DATABASE_URL=sqlite:////data/brandpulse.db \
    # Parsed lexicons and config are cached on the volume too: /app, the user's home, is
    # read-only to it, and without a cache every start parses them again.
    XDG_CACHE_HOME=/data/cache \
    # The web console (/livez, /health, /metrics) listens on every interface inside the
    # container; publish the port to 127.0.0.1 only (compose.yaml does).
    BRANDPULSE_WEB_LISTEN=0.0.0.0:8080

# An unprivileged user owns the data directory and nothing else.
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin brandpulse \
    && mkdir -p /data \
    && chown brandpulse:brandpulse /data

WORKDIR /app
COPY pyproject.toml README.md main.py config.yaml ./
COPY core ./core
COPY listeners ./listeners
COPY rules ./rules
COPY responders ./responders
COPY service ./service
COPY sandbox ./sandbox
COPY web ./web
# Bytecode is written here, at build: at run time PYTHONDONTWRITEBYTECODE and a read-only /app
# keep Python from writing it, so every start would compile each of BrandPulse's modules from
# source again (0.1-0.2 s of CPU a start; issue 19). The libraries pip installs have theirs.
RUN pip install --no-cache-dir -e . \
    && python -m compileall -q core listeners rules responders service sandbox web \
    && python main.py --version

USER brandpulse
VOLUME ["/data"]
EXPOSE 8080

# /livez answers when the node's event loop does; python is there, curl is not.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/livez', timeout=4)"]

# SIGTERM (docker stop) finishes the step under way, then exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["python", "main.py"]
CMD ["run"]
