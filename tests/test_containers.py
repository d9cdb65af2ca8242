from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_compose_file_declares_the_service_volume_and_healthcheck():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    service = compose["services"]["arxiv-reco"]
    assert service["build"] == "."
    assert "reco-data:/data" in service["volumes"] and "reco-data" in compose["volumes"]
    assert "/health" in " ".join(service["healthcheck"]["test"])


def test_dockerfile_runs_cpu_torch_as_a_non_root_user_with_a_healthcheck():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "whl/cpu" in dockerfile
    assert "\nUSER reco\n" in dockerfile
    assert "HEALTHCHECK" in dockerfile and "/health" in dockerfile


def test_the_image_installs_its_dependencies_before_the_code_with_the_tested_torch():
    dockerfile = (ROOT / "Dockerfile").read_text()
    torch_spec = re.search(r"^TORCH_SPEC \?= (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert torch_spec is not None and f'"{torch_spec[1]}"' in dockerfile
    # A change of the code leaves the dependency layers cached.
    assert dockerfile.index("pip install -r") < dockerfile.index("COPY app")
    assert "pip install --no-deps ." in dockerfile


def test_the_build_context_leaves_out_data_and_environments():
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    ignored = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", "data", "demo-data", "bench/out", "**/*.db", ".env"} <= ignored
    copied = re.findall(r"^COPY (\S+)", (ROOT / "Dockerfile").read_text(), re.M)
    assert copied and not set(copied) & ignored


def _compose_command() -> list[str] | None:
    """docker-compose, or docker's compose plugin when `docker compose version` works."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


def test_compose_accepts_the_file():
    compose = _compose_command()
    if compose is None:
        pytest.skip("no compose client: neither docker-compose nor a docker compose plugin")
    command = [*compose, "-f", "docker-compose.yml", "config", "-q"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    # The lab profile as compose resolves it, with the README's .env and nothing else set: the
    # password reaches the web side's and the worker's database URL, and the web side runs two
    # web processes by default.
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ARXIV_RECO_")}
    lab = subprocess.run(
        [*compose, "-f", "docker-compose.yml", "--profile", "lab", "config"],
        cwd=ROOT,
        env={**environment, "POSTGRES_PASSWORD": "0f1e2d3c"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert lab.returncode == 0, lab.stderr
    services = yaml.safe_load(lab.stdout)["services"]
    assert {"postgres", "lab-web", "lab-worker"} <= set(services)
    assert services["lab-web"]["command"] == ["arxiv-reco", "serve", "--workers", "2"]
    for name in ("lab-web", "lab-worker"):
        url = services[name]["environment"]["ARXIV_RECO_DATABASE_URL"]
        assert url == "postgresql+psycopg://reco:0f1e2d3c@postgres:5432/arxiv_reco"
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == "0f1e2d3c"


def test_the_lab_profile_is_postgresql_two_web_processes_and_a_worker():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    lab = {name for name, service in services.items() if "lab" in service.get("profiles", [])}
    assert lab == {"postgres", "lab-web", "lab-worker"}
    assert "profiles" not in services["arxiv-reco"]  # `docker compose up` is as it was
    web, worker = services["lab-web"], services["lab-worker"]
    assert web["command"][:3] == ["arxiv-reco", "serve", "--workers"]
    assert worker["command"] == ["arxiv-reco", "worker"]
    for service in (web, worker):
        url = service["environment"]["ARXIV_RECO_DATABASE_URL"]
        assert url.startswith("postgresql+psycopg://") and "@postgres:5432/" in url
        assert service["volumes"] == ["lab-data:/data"]  # the models every process reaches
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
