"""A request body over ARXIV_RECO_MAX_REQUEST_BYTES is refused with 413 before it is read."""

from __future__ import annotations

import json
import select
import socket

import anyio
import pytest

from app.api.body_limit import BodySizeLimit
from app.main import create_app
from tests.live import serving

MB = 1_000_000


def _refusal(response) -> str:
    assert response.status_code == 413, response.text
    detail = response.json()["detail"]
    assert "ARXIV_RECO_MAX_REQUEST_BYTES" in detail
    return detail


def test_an_oversize_body_is_413_naming_the_setting(client, settings):
    limit = settings.max_request_bytes
    body = json.dumps({"abstract": "x" * limit})
    detail = _refusal(
        client.post("/score", content=body, headers={"content-type": "application/json"})
    )
    assert f"{len(body)} bytes" in detail and str(limit) in detail
    _refusal(client.post("/papers/2503.11742/label", content=body))


def test_the_largest_score_request_the_caps_allow_fits_under_the_default(client, settings):
    """Every item at the character cap, every character escaped as \\uXXXX: 422 or 503 for what
    it says (here: no model), never 413."""
    text = "é" * (settings.score_max_chars // 2)
    item = {"abstract": text, "title": text}
    body = json.dumps([item] * settings.score_max_items)  # ensure_ascii: 6 bytes a character
    assert len(body) > 7 * MB
    response = client.post("/score", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 503


def test_a_chunked_body_is_cut_off_as_soon_as_it_passes_the_limit():
    """No Content-Length: the middleware counts what the app reads and stops it there."""
    reads = 0
    chunk = b"x" * 64_000

    async def receive():
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": chunk, "more_body": reads < 1500}  # 96 MB

    async def app(scope, receive, send):
        while (await receive()).get("more_body"):
            pass
        raise AssertionError("read the whole body")

    sent = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/score", "headers": []}
    anyio.run(BodySizeLimit(app, max_bytes=MB), scope, receive, send)
    assert sent[0]["status"] == 413 and reads == MB // len(chunk) + 1
    assert b"over 1000000 bytes" in sent[1]["body"]


@pytest.fixture
def served_url(settings):
    with serving(create_app(settings)) as url:
        yield url


def _post(url: str, head: list[str], chunks) -> tuple[int, dict]:
    """POST over a real socket, sending until the answer comes (or the server stops reading)."""
    host, port = url.removeprefix("http://").split(":")
    request = "\r\n".join(["POST /score HTTP/1.1", f"Host: {host}", *head]) + "\r\n\r\n"
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request.encode())
        for chunk in chunks:
            if select.select([sock], [], [], 0)[0]:
                break  # answered
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                break
        answer = b""
        while not answer.endswith(b"}"):
            more = sock.recv(65536)
            if not more:
                break
            answer += more
    head_text, _, body = answer.partition(b"\r\n\r\n")
    return int(head_text.split()[1]), json.loads(body)


def test_a_95_mb_score_request_is_refused_over_http_before_it_is_read(served_url, settings):
    size = 95 * MB
    piece = b"x" * 65536
    status, body = _post(
        served_url,
        ["Content-Type: application/json", f"Content-Length: {size}"],
        (piece for _ in range(size // len(piece))),
    )
    assert status == 413 and f"{size} bytes" in body["detail"]


def test_a_chunked_95_mb_score_request_is_refused_over_http(served_url):
    piece = b"x" * 65536
    framed = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    status, body = _post(
        served_url,
        ["Content-Type: application/json", "Transfer-Encoding: chunked"],
        (framed for _ in range(95 * 1_000_000 // len(piece))),
    )
    assert status == 413 and "over 8388608 bytes" in body["detail"]
