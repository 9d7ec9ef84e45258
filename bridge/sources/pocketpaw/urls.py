"""A PocketPaw base URL from what a person types or pastes (for ``--url``).

``laptop.local:8888`` gets ``http://``; a pasted endpoint such as
``http://h:8888/api/v1/agent/status`` becomes its base ``http://h:8888`` (the
bridge adds the paths itself). Errors show the URL with userinfo and query
values replaced, however malformed it is.
"""

from __future__ import annotations

import sys
from urllib.parse import urlsplit

from bridge.infra.secret import redact_url

__all__ = ["ENDPOINT_PATHS", "UrlError", "base_url"]

#: Paths the bridge adds itself, longest first; pasted after a base URL, they go.
ENDPOINT_PATHS = (
    "/api/v1/agent/status/stream",
    "/api/v1/agent/status",
    "/api/v1/agent",
    "/api/v1",
    "/api",
)

_EXAMPLE = "http://127.0.0.1:8888"


class UrlError(ValueError):
    """The text is not a usable base URL; the message shows it redacted."""


def base_url(text: str, *, note: bool = True) -> str:
    """The base URL in ``text``; prints a one-line note to stderr when a path was dropped."""
    raw = text.strip()
    shown = repr(redact_url(raw))
    if not raw:
        raise UrlError(f"empty; expected a URL such as {_EXAMPLE}")
    if "://" not in raw and not raw.startswith(("http:", "https:")):
        raw = "http://" + raw  # "laptop.local:8888"
    try:
        parts = urlsplit(raw)
        host = parts.hostname
        port = parts.port
    except ValueError:
        raise UrlError(f"got {shown}, expected a URL such as {_EXAMPLE}") from None
    if parts.scheme not in ("http", "https"):
        raise UrlError(f"got {shown}, expected http:// or https:// (e.g. {_EXAMPLE})")
    if not host:
        raise UrlError(f"got {shown}, expected a host (e.g. {_EXAMPLE})")
    if parts.username is not None or parts.password is not None:
        raise UrlError(
            f"got {shown}; credentials do not go in the URL: set POCKETPAW_TOKEN or "
            "POCKETPAW_STATUS_API_KEY (or token/api_key in a config)"
        )
    if parts.query or parts.fragment:
        raise UrlError(
            f"got {shown}; a ?query or #fragment does not go in the URL (a key or token: "
            "set POCKETPAW_STATUS_API_KEY or POCKETPAW_TOKEN)"
        )
    path = parts.path.rstrip("/")
    for endpoint in ENDPOINT_PATHS:
        if path.endswith(endpoint):
            path = path[: -len(endpoint)]
            break
    if port == 0:
        raise UrlError(f"got {shown}, the port is not a number from 1 to 65535")
    base = f"{parts.scheme}://{parts.netloc}{path}"
    if note and parts.path.rstrip("/") != path:
        print(
            f"agentlight: --url: using {base} (the bridge adds {parts.path.rstrip('/')[len(path):]}"
            " itself)",
            file=sys.stderr,
        )
    return base
