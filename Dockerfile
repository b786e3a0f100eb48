# hookbot: the receiver, the pipeline, the outbox and (with DISCORD_TOKEN) the bot, in one process.
#   docker build -t hookbot .
#   docker run -d -p 8080:8080 -v hookbot-data:/data -e PUBLIC_URL=https://hooks.example.com hookbot
# compose.yaml does the same with an .env file and the Docker socket; README "Run as a service".
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed uid/gid, so that a bind-mounted /data can be chowned to it on the host.
RUN groupadd --system --gid 10001 hookbot \
    && useradd --system --uid 10001 --gid hookbot --home-dir /home/hookbot --create-home \
        --shell /usr/sbin/nologin hookbot \
    && mkdir -p /data \
    && chown hookbot:hookbot /data

# Only what `pip install .` needs (.dockerignore keeps the rest out of the context).
COPY pyproject.toml README.md /src/
COPY bot /src/bot
COPY parsers /src/parsers
COPY formatters /src/formatters
RUN pip install /src && rm -rf /src

# The SQLite database (WAL: hookbot.db, -wal and -shm side by side) lives on the volume.
ENV HOOKBOT_DB=/data/hookbot.db \
    HOOKBOT_HOST=0.0.0.0 \
    HOOKBOT_PORT=8080
VOLUME ["/data"]
EXPOSE 8080

USER hookbot:hookbot
WORKDIR /home/hookbot

# /healthz answers 200 while the database answers, 503 otherwise; urlopen raises on both a
# 503 and a refused connection, so the check fails. slim has no curl: Python's urllib.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('HOOKBOT_PORT', '8080') + '/healthz', timeout=4)"]

# hookbot is PID 1 (exec form): SIGTERM from `docker stop` reaches it and stops it gracefully
# (stop accepting, finish the delivery in progress, up to 10 s of sends, close the database).
STOPSIGNAL SIGTERM
CMD ["hookbot", "run"]
