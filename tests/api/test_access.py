"""Closed by default: who may write, and which Host names are served (app.core.access)."""

from __future__ import annotations

import logging
import stat

import pytest
from pydantic import SecretStr

from app.cli import main
from app.core.access import TOKEN_FILE, Access, TokenFileError, host_name, is_loopback
from app.core.config import Settings
from app.core.db import session_scope
from app.main import create_app
from app.store.schema import DEFAULT_TOPIC_ID, Label
from tests.factories import local_client


def _label(sessions, paper_id):
    with session_scope(sessions) as session:
        label = session.get(Label, (DEFAULT_TOPIC_ID, paper_id))
        return None if label is None else label.interest


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.3.2.1", True), ("::1", True), ("[::1]", True)]
    + [("localhost", True), ("0.0.0.0", False), ("192.168.1.5", False), ("", False)],
)
def test_loopback_names(host, loopback):
    assert is_loopback(host) is loopback


def test_host_names_lose_their_port_and_case():
    assert host_name("LocalHost:8000") == "localhost"
    assert host_name("[::1]:8000") == "::1"
    assert host_name("[::1") == ""


def test_without_a_token_writes_come_only_from_this_machine(settings, sessions, day_ids):
    url = f"/papers/{day_ids[0]}/label"
    app = create_app(settings)
    with local_client(app, client=("192.168.1.20", 40000)) as remote:
        refused = remote.post(url, json={"interest": 1})
        assert refused.status_code == 403 and "only from this machine" in refused.json()["detail"]
        assert remote.get(f"/papers/{day_ids[0]}").status_code == 200  # reads stay open
    with local_client(app) as local:
        # A proxy on this machine passes remote clients on: they are not local.
        proxied = local.post(url, json={"interest": 1}, headers={"X-Forwarded-For": "8.8.8.8"})
        assert proxied.status_code == 403
        assert _label(sessions, day_ids[0]) is None
        assert local.post(url, json={"interest": 1}).status_code == 200
    assert _label(sessions, day_ids[0]) == 1


def test_a_page_rebinding_its_name_to_loopback_reads_and_writes_nothing(settings, day_ids):
    with local_client(create_app(settings)) as client:
        headers = {"Host": "evil.example:8000", "Origin": "http://evil.example:8000"}
        read = client.get("/labels.csv", headers=headers)
        assert read.status_code == 400 and "evil.example" in read.json()["detail"]
        write = client.post(f"/papers/{day_ids[0]}/label", json={"interest": 1}, headers=headers)
        assert write.status_code == 400
        assert client.get("/health", headers={"Host": "127.0.0.1:8000"}).status_code == 200


def test_behind_a_proxy_the_public_name_is_allowed_and_the_token_writes(
    settings, sessions, day_ids
):
    proxied = settings.model_copy(
        update={"allowed_hosts": ["reco.example.org"], "api_token": SecretStr("s3cret")}
    )
    with local_client(create_app(proxied), client=("10.0.0.2", 40000)) as client:
        assert client.get("/health", headers={"Host": "reco.example.org"}).status_code == 200
        assert client.get("/health", headers={"Host": "other.example.org"}).status_code == 400
        # The proxy rewrote Host to the service's address; the page's origin is the public name.
        headers = {
            "Host": "127.0.0.1:8000",
            "Origin": "https://reco.example.org",
            "Authorization": "Bearer s3cret",
        }
        url = f"/papers/{day_ids[0]}/label"
        assert client.post(url, json={"interest": 0}, headers=headers).status_code == 200
        headers["Origin"] = "https://evil.example"
        assert client.post(url, json={"interest": 1}, headers=headers).status_code == 403
    assert _label(sessions, day_ids[0]) == 0


def test_listening_beyond_loopback_without_a_token_generates_one_once(
    settings, sessions, day_ids, caplog, monkeypatch, capsys
):
    public = settings.model_copy(update={"host": "0.0.0.0"})
    caplog.set_level(logging.INFO, logger="app.core.access")
    first = Access.for_settings(public)
    path = settings.data_dir / TOKEN_FILE
    assert first.token and path.read_text().strip() == first.token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sum(first.token in r.getMessage() for r in caplog.records) == 1
    assert first.allowed_hosts is None  # no names configured: any Host, with a warning
    assert any("ALLOWED_HOSTS" in r.getMessage() for r in caplog.records)
    caplog.clear()
    again = Access.for_settings(public)
    assert again.token == first.token
    assert not any(first.token in r.getMessage() for r in caplog.records)  # logged once

    with local_client(create_app(public), client=("192.168.1.20", 40000)) as client:
        url = f"/papers/{day_ids[0]}/label"
        assert client.post(url, json={"interest": 1}).status_code == 401
        bearer = {"Authorization": f"Bearer {first.token}"}
        assert client.post(url, json={"interest": 1}, headers=bearer).status_code == 200
        assert 'data-token-required="true"' in client.get("/").text

    monkeypatch.setenv("ARXIV_RECO_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("ARXIV_RECO_API_TOKEN", raising=False)
    assert main(["token"]) == 0
    assert capsys.readouterr().out.strip() == first.token


def test_openapi_declares_the_bearer_scheme_on_a_readers_routes(client):
    """Writes, and once readers are made a reader's reads too, carry a token; the health check
    never does."""
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    label = schema["paths"]["/papers/{paper_id}/label"]["post"]
    assert label["security"] == [{"HTTPBearer": []}]
    assert schema["paths"]["/recommendations"]["get"]["security"] == [{"HTTPBearer": []}]
    assert "security" not in schema["paths"]["/health"]["get"]


def test_another_page_on_localhost_may_not_write(settings, sessions, day_ids):
    """A notebook or dev server on another port is same-site to the browser, not this page;
    the bodiless writes (retrain, rollback, ingest) need no preflight, so the origin decides."""
    with local_client(create_app(settings)) as client:
        for headers in (
            {"Origin": "http://localhost:3000", "Host": "localhost:8000"},
            {"Sec-Fetch-Site": "same-site", "Host": "localhost:8000"},
        ):
            assert client.post("/models/rollback", headers=headers).status_code == 403
            assert client.post("/retrain", headers=headers).status_code == 403
        own = {"Origin": "http://localhost:8000", "Host": "localhost:8000"}
        assert client.post("/models/rollback", headers=own).status_code == 409  # past the guard
        typed = {"Sec-Fetch-Site": "none"}  # a URL typed or a tool: not another page
        assert client.post("/models/rollback", headers=typed).status_code == 409


def test_a_proxys_other_headers_and_a_second_host_are_not_local(settings, day_ids):
    with local_client(create_app(settings)) as client:
        url = f"/papers/{day_ids[0]}/label"
        for header in ("Via", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded"):
            proxied = client.post(url, json={"interest": 1}, headers={header: "x"})
            assert proxied.status_code == 403, header
        twice = client.get("/health", headers=[("host", "evil.example"), ("host", "localhost")])
        assert twice.status_code == 400 and "more than one Host" in twice.json()["detail"]


@pytest.mark.parametrize(
    "how", ["group-readable", "symlink", "short"], ids=lambda how: how.replace("-", "_")
)
def test_a_stored_token_that_cannot_be_trusted_stops_the_start(settings, how, monkeypatch):
    path = settings.data_dir / TOKEN_FILE
    settings.data_dir.mkdir(parents=True)
    if how == "symlink":
        target = settings.data_dir / "elsewhere"
        target.write_text("x" * 40)
        path.symlink_to(target)
    else:
        path.write_text("x" * (40 if how == "group-readable" else 5))
        path.chmod(0o640 if how == "group-readable" else 0o600)
    with pytest.raises(TokenFileError):
        Access.for_settings(settings.model_copy(update={"host": "0.0.0.0"}))
    monkeypatch.setenv("ARXIV_RECO_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("ARXIV_RECO_API_TOKEN", raising=False)
    with pytest.raises(SystemExit, match="refused: "):
        main(["token"])


def test_allowed_hosts_are_bare_names():
    with pytest.raises(ValueError, match="not host names"):
        Settings(allowed_hosts="https://reco.example.org", _env_file=None)
    with pytest.raises(ValueError, match="not host names"):
        Settings(allowed_hosts="*", _env_file=None)
    assert Settings(allowed_hosts="Reco.Example.org,[::1]", _env_file=None).allowed_hosts == [
        "reco.example.org",
        "[::1]",
    ]
