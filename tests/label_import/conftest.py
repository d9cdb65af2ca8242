from __future__ import annotations

from pathlib import Path

import pytest

from app.demo.standin import ArxivStandIn
from tests.recorded import recorded_entries

IMPORTS = Path(__file__).parent.parent / "fixtures" / "imports"
OLD_STYLE = "astro-ph/0601001"


@pytest.fixture
def standin(standin: ArxivStandIn) -> ArxivStandIn:
    """The stand-in of three real days, knowing one real old-style paper too (recorded)."""
    for entry in recorded_entries("id_astro-ph_0601001_s0_m100_3150dca9dc76.xml"):
        standin.catalog.add(entry)
    return standin


def id_lists(standin: ArxivStandIn) -> list[list[str]]:
    """The id lists the stand-in was asked for, request by request."""
    return [
        params["id_list"][0].split(",") for _, params in standin.requests if params.get("id_list")
    ]
