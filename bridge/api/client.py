"""A client of a running bridge's API, for ``agentlight status`` (httpx, no server library).

It reads ``/v1/status`` once, or follows ``/v1/status/stream``, and hands back the
status as :mod:`bridge.pipeline.status_json` reads it: the same
:class:`~bridge.pipeline.model.AgentStatus` the command prints when it asks the
agent's servers itself, so the output is the same either way.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx

from bridge.api.discovery import Discovered
from bridge.pipeline.model import AgentStatus
from bridge.pipeline.status_json import status_from_json

# A status document is a few KB; far more than this is not one.
_MAX_DOCUMENT = 8 * 1024 * 1024


class ApiUnavailable(Exception):
    """The bridge's API did not answer as expected (it stopped, or refused us)."""


def _headers(found: Discovered) -> dict[str, str]:
    headers = {"Accept": "application/json"}
    if found.token is not None:
        headers["Authorization"] = f"Bearer {found.token.reveal()}"
    return headers


def _status(data: bytes | str) -> AgentStatus:
    if len(data) > _MAX_DOCUMENT:
        raise ApiUnavailable("the status document is too large")
    try:
        return status_from_json(json.loads(data))
    except ValueError as err:
        raise ApiUnavailable(f"not a status document: {err}") from None


async def fetch_status(found: Discovered, within: float) -> AgentStatus:
    """``GET /v1/status`` once (``within`` seconds to connect, and again to answer)."""
    try:
        async with httpx.AsyncClient(timeout=within, trust_env=False) as client:
            response = await client.get(f"{found.url}/v1/status", headers=_headers(found))
    except httpx.HTTPError as err:
        raise ApiUnavailable(str(err) or type(err).__name__) from None
    if response.status_code != 200:
        raise ApiUnavailable(f"HTTP {response.status_code}")
    return _status(response.content)


async def follow_status(
    found: Discovered,
    on_status: Callable[[AgentStatus], None],
    *,
    connect_timeout: float,
) -> None:
    """Follow ``/v1/status/stream``, calling ``on_status`` for each event, until it ends.

    :raises ApiUnavailable: when the stream cannot start or breaks.
    """
    timeout = httpx.Timeout(connect_timeout, read=None)
    headers = {**_headers(found), "Accept": "text/event-stream"}
    try:
        async with (
            httpx.AsyncClient(timeout=timeout, trust_env=False) as client,
            client.stream("GET", f"{found.url}/v1/status/stream", headers=headers) as response,
        ):
            if response.status_code != 200:
                raise ApiUnavailable(f"HTTP {response.status_code}")
            data: list[str] = []
            size = 0
            async for line in response.aiter_lines():
                if line.startswith("data:"):
                    part = line[5:].removeprefix(" ")
                    size += len(part)
                    if size > _MAX_DOCUMENT:
                        raise ApiUnavailable("the status document is too large")
                    data.append(part)
                elif not line and data:
                    on_status(_status("\n".join(data)))
                    data, size = [], 0
    except httpx.HTTPError as err:
        raise ApiUnavailable(str(err) or type(err).__name__) from None
    raise ApiUnavailable("the stream ended")


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds`` unless ``stop`` is set first."""
    try:
        async with asyncio.timeout(seconds):
            await stop.wait()
    except TimeoutError:
        pass


__all__ = ["ApiUnavailable", "fetch_status", "follow_status", "wait_or_stop"]
