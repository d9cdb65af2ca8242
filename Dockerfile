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

# CPU-only torch first, the version CI tests (the Makefile's TORCH_SPEC, within pyproject's
# range), so the dependency install below never pulls a CUDA build.
RUN pip install "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu

# The dependencies alone, read from pyproject.toml: this layer is rebuilt only when they change,
# not at every change of the code.
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['dependencies'] + p['optional-dependencies']['postgres']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then the code, installed without touching the dependencies.
COPY README.md ./
COPY app ./app
COPY training ./training
COPY migrations ./migrations
RUN pip install --no-deps .

RUN useradd --create-home --uid 1000 reco && mkdir -p /data && chown reco:reco /data
USER reco
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status != 200)"

CMD ["arxiv-reco", "serve"]
