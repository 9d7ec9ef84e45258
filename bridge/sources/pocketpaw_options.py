"""Config options of the PocketPaw source (kept apart so ``check`` needs no httpx)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bridge.secret import Secret

API_KEY_ENV = "POCKETPAW_STATUS_API_KEY"
TOKEN_ENV = "POCKETPAW_TOKEN"


@dataclass(frozen=True, slots=True)
class Options:
    """``[[sources]]`` keys for ``type = "pocketpaw"``.

    :param url: the server's base URL (``pocketpaw serve`` listens on 8888).
    :param api_key: the status API key, sent as ``X-Status-Key``; falls back to
        the ``POCKETPAW_STATUS_API_KEY`` environment variable.
    :param token: PocketPaw's dashboard token, sent as a Bearer token; needed
        when the bridge is not on the server's machine. Falls back to
        ``POCKETPAW_TOKEN``.
    :param token_file: a file holding the token (a copy of the server's
        ``~/.pocketpaw/access_token``); used when ``token`` is not set.
    :param stale_after: seconds without a frame or keepalive before the stream
        counts as dead (the server is quiet for up to ~79 s on a live stream,
        so the bridge checks the snapshot before reconnecting).
    :param poll_interval: seconds between snapshot polls when the stream is
        unavailable.
    :param stream_retry: while polling, seconds between attempts to get the
        stream back.
    :param fallback_after: failed stream attempts in a row before polling.
    :param reconnect_min: first reconnect delay, seconds.
    :param reconnect_max: reconnect delay cap, seconds.
    :param auth_retry: seconds between attempts after a 401/403.
    :param error_ttl: seconds after which the server drops an errored session
        without telling the stream; the bridge re-reads the snapshot then.
    :param connect_timeout: seconds to connect.
    :param request_timeout: seconds for a snapshot request.
    :param max_frame_bytes: largest accepted frame or snapshot body.
    """

    url: str = "http://127.0.0.1:8888"
    api_key: Secret | None = None
    token: Secret | None = None
    token_file: str | None = None
    stale_after: float = 75.0
    poll_interval: float = 2.0
    stream_retry: float = 60.0
    fallback_after: int = 3
    reconnect_min: float = 0.5
    reconnect_max: float = 30.0
    auth_retry: float = 60.0
    error_ttl: float = 30.0
    connect_timeout: float = 5.0
    request_timeout: float = 10.0
    max_frame_bytes: int = 2 * 1024 * 1024

    def __post_init__(self) -> None:
        for name in ("api_key", "token"):
            value = getattr(self, name)
            # Code (tests, embedding apps) may pass plain strings; wrap them too.
            if isinstance(value, str):
                value = Secret(value)
            blank = value is None or not value.reveal().strip()
            object.__setattr__(self, name, None if blank else credential(value, name))
        check_url(self.url)
        if self.token_file is not None:
            path = Path(self.token_file).expanduser()
            if not os.access(path, os.R_OK) or not path.is_file():
                raise ValueError(
                    f"token_file: cannot read {self.token_file!r}; expected a file holding "
                    "PocketPaw's dashboard token"
                )
        for name in (
            "stale_after",
            "poll_interval",
            "stream_retry",
            "reconnect_min",
            "reconnect_max",
            "auth_retry",
            "error_ttl",
            "connect_timeout",
            "request_timeout",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: got {getattr(self, name)!r}, expected seconds > 0")
        if self.reconnect_max < self.reconnect_min:
            raise ValueError("reconnect_max: expected a value >= reconnect_min")
        if self.fallback_after < 1:
            raise ValueError(f"fallback_after: got {self.fallback_after!r}, expected >= 1")
        if self.max_frame_bytes < 1024:
            raise ValueError(f"max_frame_bytes: got {self.max_frame_bytes!r}, expected >= 1024")


def credential(value: Secret, name: str) -> Secret:
    """Strip a key or token and check it can go in an HTTP header (without echoing it)."""
    text = value.reveal().strip()
    if not text or not all(33 <= ord(ch) <= 126 for ch in text):
        raise ValueError(
            f"{name}: expected printable ASCII without spaces (the value is not shown)"
        )
    return Secret(text)


def check_url(url: str) -> None:
    """An http(s) URL with a host and a valid port, no credentials or query in it."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"url: got {url!r}, expected an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("url: must not contain user:password@; use api_key and token")
    if parts.query or parts.fragment:
        raise ValueError("url: must not contain ?query or #fragment; use api_key and token")
    try:
        parts.port  # noqa: B018 - raises ValueError when out of range
    except ValueError:
        raise ValueError(f"url: got {url!r}, the port is not a number from 1 to 65535") from None
