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
from tests import architecture

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


def test_training_alone_loads_no_database_library_and_a_tfidf_fit_no_torch() -> None:
    modules = _loaded_after(
        "import training.train, training.inference.predictor, training.cli, training.early, "
        "training.methods.tfidf"
    )
    assert not {m for m in modules if m.split(".")[0] in ("sqlalchemy", "app", "alembic")}
    # A retrain of the fast methods, the service's default, loads no encoder stack either.
    assert not {m for m in modules if m.split(".")[0] in ("torch", "transformers")}


# The rooms of app/, lowest first: each may import only the rooms before it (app/__init__.py).
APP_ROOMS = (
    "core",
    "store",
    "serving",
    "digest",
    "jobs",
    "label_import",
    "runtime",
    "api",
    "web",
    "demo",
)
ENTRY_POINTS = ("main", "cli")
# The only rooms that fit models; every other one uses training.inference alone.
FITTING_ROOMS = ("app.jobs", "app.cli")


def test_app_holds_only_its_rooms_and_entry_points() -> None:
    """No loose module at the root of app/ but the entry points, no package that is not a room,
    and every room says in its docstring what it owns and may import."""
    found = architecture.rooms_under(ROOT)
    app_rooms = {room.split(".", 1)[1] for room in found if room.startswith("app.")}
    assert app_rooms == {*APP_ROOMS, *ENTRY_POINTS}
    for room in APP_ROOMS:
        docstring = ast.get_docstring(ast.parse((ROOT / "app" / room / "__init__.py").read_text()))
        assert docstring and "import" in docstring.lower(), (
            f"app/{room}/__init__.py says nothing of it"
        )


def test_the_tests_mirror_the_rooms() -> None:
    """A room's tests sit in the folder of its name (tests/jobs for app/jobs); at the top only
    the tests of the whole house (its arrows, its containers)."""
    tests = ROOT / "tests"
    top = sorted(p.name for p in tests.glob("test_*.py"))
    assert top == ["test_architecture.py", "test_containers.py"]
    folders = {p.relative_to(tests).parts[0] for p in tests.rglob("test_*.py")} - set(top)
    assert folders <= {*APP_ROOMS, *ENTRY_POINTS, "training", "bench"}, folders
    for path in (tests / "training").rglob("test_*.py"):
        room = path.parent.relative_to(tests)
        assert (ROOT / room).is_dir(), f"{path.relative_to(ROOT)}: no {room} to mirror"


@pytest.mark.parametrize("room", APP_ROOMS)
def test_each_room_imports_only_the_rooms_below_it(room: str) -> None:
    graph = architecture.room_graph(ROOT)
    below = {f"app.{name}" for name in APP_ROOMS[: APP_ROOMS.index(room)]}
    upward = {target for target in graph[f"app.{room}"] if target.startswith("app.")} - below
    assert upward == set(), f"app.{room} imports {sorted(upward)}, rooms at or above it"


def test_only_the_jobs_and_the_command_line_fit_models() -> None:
    graph = architecture.room_graph(ROOT)
    fitting = {
        room: sorted(t for t in targets if t.startswith("training.") and t != "training.inference")
        for room, targets in graph.items()
        if room.startswith("app.") and room not in FITTING_ROOMS
    }
    assert {room: names for room, names in fitting.items() if names} == {}


def test_the_inference_package_never_imports_the_fitting_side() -> None:
    """What the service imports of training (issue 18, item 2) is a package of its own."""
    graph = architecture.room_graph(ROOT)
    assert graph["training.inference"] == set()
    outside = _importers(
        "training/inference", ("app", "sqlalchemy", "fastapi", "training.train", "training.methods")
    )
    assert outside == {}
    loaded = _loaded_after("import training.inference.predictor, training.inference.explain")
    training_loaded = {m for m in loaded if m.startswith("training.")}
    assert {m for m in training_loaded if not m.startswith("training.inference")} == set()


def test_the_api_never_imports_the_page() -> None:
    assert _importers("app/api", ("app.web",)) == {}
    modules = _loaded_after("import app.api.routes")
    assert not {m for m in modules if m.startswith("app.web")}


def test_the_service_starts_without_the_trainer_or_the_encoder_stack() -> None:
    """torch and transformers load when an encoder model is opened (training.inference.encoder),
    not with the service: a service of tfidf models starts in a second and a third the memory."""
    modules = _loaded_after("import app.main")
    trainer = {"training.train", "training.methods", "training.metrics", "training.report"}
    assert not trainer & modules
    assert not {m for m in modules if m.split(".")[0] in ("torch", "transformers")}


def test_the_store_never_loads_the_model_stack() -> None:
    """The shared queries use the store's rules of a score (app.store.rules), not the scoring
    module that holds a model (issue 18: the data layer depended on the model stack)."""
    serving = ("app.serving", "app.jobs", "torch", "transformers", "training.train")
    assert _importers("app/store", serving) == {}
    modules = _loaded_after("import app.store.queries, app.store.search, app.store.labels")
    assert not {m for m in modules if m.split(".")[0] in ("torch", "transformers")}
    assert not {m for m in modules if m.startswith(("app.serving", "app.jobs", "app.api"))}


def test_the_runtime_and_the_data_layer_never_load_the_api_or_the_migrations() -> None:
    """The response cache lives in app.core; the database finds the migrations' folder without
    importing them (migrations/env.py imports the database, never the other way round)."""
    modules = _loaded_after("import app.runtime.services, app.runtime.health, app.core.cache")
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
