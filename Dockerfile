# CPU image of the service. Build: docker compose build; run: docker compose up -d
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    ARXIV_RECO_DATA_DIR=/data \
    ARXIV_RECO_HOST=0.0.0.0 \
    ARXIV_RECO_PORT=8000 \
    HF_HOME=/data/hf-cache

WORKDIR /app

# CPU-only torch first, so the dependency resolution below never pulls a CUDA build.
RUN pip install "torch>=2.4,<2.14" --index-url https://download.pytorch.org/whl/cpu

COPY pyproject.toml README.md ./
COPY app ./app
COPY training ./training
COPY migrations ./migrations
RUN pip install ".[postgres]"

RUN useradd --create-home --uid 1000 reco && mkdir -p /data && chown reco:reco /data
USER reco
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status != 200)"

CMD ["arxiv-reco", "serve"]
