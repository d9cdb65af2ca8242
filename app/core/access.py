"""Who may reach the service and who may change its data: closed by default.

* Listening on a loopback address with no token set, writes are taken only from loopback clients
  that did not come through a proxy; anyone on the machine may write, no one else.
* Listening on any other address with no token set, a token is generated at first start into
  ``<data_dir>/api_token`` (readable by the owner only), logged once, and required for writes.
* Every request must name an allowed ``Host``: loopback names, plus ``ARXIV_RECO_ALLOWED_HOSTS``.
  A web page that rebinds its own name to 127.0.0.1 (DNS rebinding) sends its own name and is
  refused. Listening on a non-loopback address with no allowed hosts set, any name is taken,
  and a warning at start says so.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.config import ENV_PREFIX, Settings

logger = logging.getLogger(__name__)

TOKEN_FILE = "api_token"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
FORWARDED_HEADERS = (b"forwarded", b"x-forwarded-for", b"x-real-ip")


def is_loopback(host: str | None) -> bool:
    """A loopback name or address (``localhost``, 127.0.0.0/8, ``::1``)."""
    if not host:
        return False
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The name in a ``Host`` header or an origin's netloc, without the port, lower case."""
    try:
        return (urlsplit("//" + header).hostname or "").lower()
    except ValueError:  # an unbalanced IPv6 bracket
        return ""


@dataclass(frozen=True)
class Access:
    """The running service's rules: its token (None: loopback writes only) and its Host
    allow-list (None: any Host)."""

    token: str | None
    allowed_hosts: frozenset[str] | None

    @classmethod
    def for_settings(cls, settings: Settings) -> Access:
        token = settings.api_token.get_secret_value() if settings.api_token else None
        if token is None and not is_loopback(settings.host):
            token = stored_token(settings.data_dir)
        configured = {host_name(h) or h.lower() for h in settings.allowed_hosts}
        if configured or is_loopback(settings.host):
            allowed: frozenset[str] | None = frozenset({*LOOPBACK_NAMES, *configured})
        else:
            allowed = None
            logger.warning(
                "listening on %s with no %sALLOWED_HOSTS: requests naming any host are served; "
                "set it to the names clients use (reads stay open to DNS rebinding without it)",
                settings.host,
                ENV_PREFIX,
            )
        return cls(token=token, allowed_hosts=allowed)

    def host_allowed(self, header: str) -> bool:
        return self.allowed_hosts is None or host_name(header) in self.allowed_hosts

    def origin_allowed(self, origin: str, host_header: str) -> bool:
        """A write's ``Origin`` must be this service: the Host it was sent to, or an allowed
        name (a reverse proxy may rewrite Host, but the page's origin is the public name)."""
        netloc = urlsplit(origin).netloc
        if netloc and netloc == host_header:
            return True
        return self.allowed_hosts is not None and host_name(netloc) in self.allowed_hosts - {""}


def stored_token(data_dir: Path) -> str:
    """The token in ``<data_dir>/api_token``, made (owner-only) and logged once if absent."""
    path = Path(data_dir) / TOKEN_FILE
    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        token = ""
    if token:
        logger.info("writes need the API token stored in %s", path)
        return token
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    logger.warning(
        "no %sAPI_TOKEN is set and the service listens beyond this machine, so writes need this "
        "generated token (kept in %s; `arxiv-reco token` prints it again): %s",
        ENV_PREFIX,
        path,
        token,
    )
    return token


def loopback_client(scope: Scope) -> bool:
    """The request came straight from this machine, not through a proxy."""
    client = scope.get("client")
    if client is None or not is_loopback(client[0]):
        return False
    return not any(name in FORWARDED_HEADERS for name, _ in scope.get("headers", ()))


class HostCheckMiddleware:
    """400 for a request whose ``Host`` is not allowed (Starlette's TrustedHostMiddleware
    does not parse IPv6 hosts)."""

    def __init__(self, app: ASGIApp, access: Access):
        self.app, self.access = app, access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            if not self.access.host_allowed(host):
                await _refuse(send, 400, f"host {host_name(host) or host!r} is not allowed here")
                return
        await self.app(scope, receive, send)


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
