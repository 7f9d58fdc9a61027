FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY pathway ./pathway
COPY workers ./workers
COPY config ./config
RUN pip install --no-cache-dir '.[postgres]'
ENV PATHWAY_CONFIG_FILE=/app/config/pathway.toml
EXPOSE 8000
CMD ["pathway", "serve", "--host", "0.0.0.0", "--port", "8000"]
