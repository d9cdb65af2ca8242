"""The habits that keep the layout as it is: dependencies point one way, settings are documented.

``training`` is a library below the service: it never imports ``app`` nor a database library.
The JSON API never imports the page. Benchmarks import the project, not the tests.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.config import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth (lazy imports in functions included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _importers(package: str, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    found = {}
    root = ROOT / package
    for path in [root] if root.is_file() else sorted(root.rglob("*.py")):
        bad = sorted(
            name
            for name in _imports(path)
            if any(name == f or name.startswith(f + ".") for f in forbidden)
        )
        if bad:
            found[str(path.relative_to(ROOT))] = bad
    return found


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(result.stdout.split())


def test_training_never_imports_the_service_or_a_database() -> None:
    assert _importers("training", ("app", "sqlalchemy", "alembic", "fastapi", "migrations")) == {}


def test_training_alone_loads_no_database_library() -> None:
    modules = _loaded_after(
        "import training.train, training.layout, training.predictor, training.cli"
    )
    assert not {m for m in modules if m.split(".")[0] in ("sqlalchemy", "app", "alembic")}


def test_the_api_never_imports_the_page() -> None:
    assert _importers("app/api", ("app.web",)) == {}
    modules = _loaded_after("import app.api.routes")
    assert not {m for m in modules if m.startswith("app.web")}


def test_the_service_starts_without_the_trainer() -> None:
    modules = _loaded_after("import app.main")
    trainer = {"training.train", "training.methods", "training.metrics", "training.report"}
    assert not trainer & modules


def test_the_store_never_loads_the_model_stack() -> None:
    """The shared queries use the store's rules of a score (app.store.rules), not the scoring
    module that holds a model (issue 18: the data layer depended on the model stack)."""
    store = ("app/store", "app/crud.py", "app/search.py", "app/models.py")
    serving = ("app.scoring", "app.ml", "app.reasons", "training", "torch", "transformers")
    for path in store:
        found = _importers(path, serving)
        assert found == {}, found
    modules = _loaded_after("import app.crud, app.search, app.store.rules, app.models")
    assert not {m for m in modules if m.split(".")[0] in ("torch", "transformers", "training")}
    assert not {m for m in modules if m.startswith(("app.scoring", "app.ml", "app.api"))}


def test_the_runtime_and_the_data_layer_never_load_the_api_or_the_migrations() -> None:
    """The response cache lives in app.core; the database finds the migrations' folder without
    importing them (migrations/env.py imports the database, never the other way round)."""
    modules = _loaded_after("import app.services, app.health, app.core.cache")
    assert not {m for m in modules if m.startswith("app.api")}
    assert "migrations" not in _loaded_after("import app.core.db")


def test_test_doubles_and_benches_stay_out_of_the_product() -> None:
    assert _importers("app", ("tests", "bench")) == {}
    assert _importers("training", ("tests", "bench")) == {}
    assert _importers("bench", ("tests",)) == {}
    edits = [p.name for p in (ROOT / "bench").glob("*.py") if "sys.path" in p.read_text()]
    assert edits == []
    # The tiny random models that tests and benches build are no part of the shipped library.
    shipped = [*(ROOT / "app").rglob("*.py"), *(ROOT / "training").rglob("*.py")]
    assert [p.name for p in shipped if "def save_tiny" in p.read_text(encoding="utf-8")] == []


def test_only_the_data_layer_builds_an_engine() -> None:
    builders = []
    for package in ("app", "training", "bench"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if re.search(r"\b(create_engine|make_engine|make_session_factory)\(", text):
                builders.append(str(path.relative_to(ROOT)))
    assert builders == ["app/core/db.py"]


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_in_the_readme(name: str) -> None:
    documented = f"`{ENV_PREFIX}{name.upper()}`" in (ROOT / "README.md").read_text("utf-8")
    assert documented, f"the README's settings table lacks {ENV_PREFIX}{name.upper()}"
