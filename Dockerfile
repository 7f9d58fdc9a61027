# One image for every service of docker-compose.yml (built once, by its migrate service).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY pathway ./pathway
COPY workers ./workers
RUN pip install --no-cache-dir .
# The engine runs as a user of its own, never root. Its own files (beat's schedule) are kept in
# /var/lib/pathway; the council's configuration is mounted, not baked in (see docker-compose.yml).
RUN useradd --system --uid 10001 --home-dir /var/lib/pathway --shell /usr/sbin/nologin pathway \
    && mkdir -p /var/lib/pathway && chown pathway:pathway /var/lib/pathway
ENV PATHWAY_STATE_DIR=/var/lib/pathway
USER pathway
EXPOSE 8000
CMD ["pathway", "serve", "--host", "0.0.0.0", "--port", "8000"]
