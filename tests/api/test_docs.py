"""/docs and /redoc work offline: every asset they name is served by the service itself."""

from __future__ import annotations

import re

import pytest


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "favicon.ico"}),
        ("/redoc", {"redoc.standalone.js", "favicon.ico"}),
    ],
)
def test_a_docs_page_names_no_outside_url_and_its_assets_are_served(client, page, expected):
    response = client.get(page)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "http://" not in html and "https://" not in html and "//cdn" not in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert {asset.rsplit("/", 1)[-1] for asset in assets} == expected
    for asset in assets:
        served = client.get(asset)
        if asset == "/favicon.ico":  # the service's own icon, as every page's
            assert served.headers["content-type"] == "image/svg+xml"
            continue
        assert asset.startswith("/docs-assets/")
        assert served.status_code == 200 and len(served.content) > 1000, asset
    assert "/openapi.json" in html
    assert client.get("/openapi.json").status_code == 200


def test_swagger_ui_sends_the_schema_to_no_online_validator(client):
    assert '"validatorUrl": null' in client.get("/docs").text


def test_the_docs_pages_are_not_in_the_schema(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert "/docs" not in paths and "/redoc" not in paths
