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
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.config import ENV_PREFIX, Settings
from app.core.secret_file import SecretFileError, read_or_create_secret

logger = logging.getLogger(__name__)

TOKEN_FILE = "api_token"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
# Any of these says a proxy passed the request on: it is not taken as local.
FORWARDED_HEADERS = (
    b"forwarded",
    b"x-forwarded-for",
    b"x-forwarded-host",
    b"x-forwarded-proto",
    b"x-real-ip",
    b"via",
)
# What a browser sends with a write from this page itself (or typed by hand): anything else,
# same-site included (another port of localhost), is another page.
OWN_FETCH_SITES = ("same-origin", "none")


# The stored token cannot be trusted (others may read or write it, or it is short).
TokenFileError = SecretFileError


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
    public_names: frozenset[str] = frozenset()

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
        return cls(token=token, allowed_hosts=allowed, public_names=frozenset(configured))

    def host_allowed(self, header: str) -> bool:
        return self.allowed_hosts is None or host_name(header) in self.allowed_hosts

    def from_another_site(
        self, *, origin: str | None, fetch_site: str | None, host_header: str
    ) -> bool:
        """A write sent by another page (another site, or another port of localhost), by its
        ``Sec-Fetch-Site`` or its ``Origin``; a request without either (a script, curl) is not."""
        if fetch_site is not None and fetch_site not in OWN_FETCH_SITES:
            return True
        return origin is not None and not self.origin_allowed(origin, host_header)

    def origin_allowed(self, origin: str, host_header: str) -> bool:
        """A write's ``Origin`` must be this service: exactly the host and port it was sent to,
        or a configured public name (a reverse proxy may rewrite Host, but the page's origin is
        the public name). Another port of localhost is another page (a notebook, a dev server)."""
        netloc = urlsplit(origin).netloc
        if netloc and netloc == host_header:
            return True
        return bool(netloc) and host_name(netloc) in self.public_names


def stored_token(data_dir: Path) -> str:
    """The token in ``<data_dir>/api_token``, made (owner-only) and logged once if absent;
    TokenFileError when the stored one cannot be trusted."""
    path = Path(data_dir) / TOKEN_FILE
    token, created = read_or_create_secret(path, setting=f"{ENV_PREFIX}API_TOKEN")
    if not created:
        logger.info("writes need the API token stored in %s", path)
        return token
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
            hosts = [value for name, value in scope["headers"] if name == b"host"]
            if len(hosts) > 1:
                await _refuse(send, 400, "more than one Host header")
                return
            host = hosts[0].decode("latin-1") if hosts else ""
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
