"""Acting on a PocketPaw chat from a device: the user's answer, and a stop.

What PocketPaw 0.4.18 accepts (read in its own code, ``pocketpaw/api/v1/chat.py``,
``agents/loop.py`` and the dashboard's ``chat.js``):

- ``POST /api/v1/chat`` with ``{"content": …, "session_id": "websocket_<chat id>"}``
  puts the message on its bus as the web dashboard's own (channel ``websocket``,
  that chat): exactly what the dashboard does when an AskUserQuestion option is
  clicked (it sends the option's text as the user's message). Only web chats can
  be answered this way; a Telegram or Discord chat cannot (its messages come
  from that service). The server answers when the agent has finished replying
  (it waits up to 5 minutes per chunk), so the reply is awaited in the
  background; the message itself is on its way as soon as the request is sent.
- ``POST /api/v1/chat/stop?session_id=…`` (a query parameter) stops a run that
  its chat *stream* API started; for any other run it answers 404 "No active
  stream for this session". Then the stop goes the way every PocketPaw channel
  has: the message ``/kill``, which its agent loop takes before anything else
  and which cancels that chat's run.
- Both need the "chat" scope: a request from genuine localhost, or the
  dashboard token (``Authorization: Bearer``), which the source's client sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable

import httpx

from bridge.sources.http import describe
from bridge.sources.pocketpaw.parse import WEB_PREFIX
from bridge.text.textsafe import clean

__all__ = ["CHAT_PATH", "KILL", "STOP_PATH", "Chat", "chat_id"]

log = logging.getLogger("agentlight.sources.pocketpaw")

CHAT_PATH = "/api/v1/chat"
STOP_PATH = "/api/v1/chat/stop"
#: PocketPaw's own stop command, on every channel.
KILL = "/kill"
# The chat endpoint replies once the agent has answered: up to 5 min per chunk there.
_REPLY_WAIT = 330.0
_STOP_WAIT = 4.0
_DETAIL_BYTES = 4096


def chat_id(key: str) -> str:
    """The ``session_id`` PocketPaw's chat API takes for ``websocket:<id>``: the
    dashboard's own form ``websocket_<id>`` (the server strips that prefix once, so
    an id that itself starts with ``websocket_`` stays whole)."""
    return "websocket_" + key[len(WEB_PREFIX) :]


class Chat:
    """Sends answers and stops; replies are awaited on tasks of its own.

    :param token_set: a dashboard token is configured (what a 401 then means).
    """

    def __init__(self, name: str, *, token_set: bool) -> None:
        self.name = name
        self._token_set = token_set
        self._tasks: set[asyncio.Task[None]] = set()
        self.sent = 0  # messages sent, for tests and benchmarks

    def send(
        self,
        client: httpx.AsyncClient,
        key: str,
        content: str,
        *,
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        """Send ``content`` as the user's message to chat ``key``, now; the reply is
        awaited in the background and ``on_failure(why)`` called if it never went."""
        task = asyncio.create_task(self._send(client, key, content, on_failure))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self, client: httpx.AsyncClient, key: str) -> str | None:
        """Stop the run of chat ``key``: None once asked, else why not."""
        try:
            async with asyncio.timeout(_STOP_WAIT):
                response = await client.post(STOP_PATH, params={"session_id": chat_id(key)})
        except TimeoutError:
            return "PocketPaw did not answer the stop in time"
        except (httpx.HTTPError, OSError) as err:
            return describe(err)
        code = response.status_code
        if code == 200:
            return None
        if code == 404:
            # Not a run its chat stream started: its own /kill stops any run of the chat.
            self.send(client, key, KILL)
            return None
        return self._refused(code, response.content[:_DETAIL_BYTES])

    async def close(self) -> None:
        """Stop waiting for replies (the messages themselves have gone)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _send(
        self,
        client: httpx.AsyncClient,
        key: str,
        content: str,
        on_failure: Callable[[str], None] | None,
    ) -> None:
        body = {"content": content, "session_id": chat_id(key)}
        problem: str | None = None
        try:
            async with client.stream(
                "POST", CHAT_PATH, json=body, timeout=httpx.Timeout(_REPLY_WAIT, connect=5.0)
            ) as response:
                self.sent += 1
                if response.status_code != 200:
                    detail = bytearray()
                    async for chunk in response.aiter_bytes():
                        detail += chunk
                        if len(detail) >= _DETAIL_BYTES:
                            break
                    problem = self._refused(response.status_code, bytes(detail))
                # A 200 comes with the agent's whole reply, which nobody here reads.
        except httpx.ReadTimeout:
            return  # sent; the agent is still answering
        except (httpx.HTTPError, OSError) as err:
            problem = describe(err)
        if problem is not None:
            log.warning(
                "%s: could not send the answer to %s: %s", self.name, clean(key, 80), problem
            )
            if on_failure is not None:
                on_failure(problem)

    def _refused(self, code: int, body: bytes) -> str:
        if code == 401:
            return (
                "PocketPaw rejected the dashboard token (401); check `token`/`token_file`"
                if self._token_set
                else "PocketPaw takes answers from another machine only with its dashboard "
                "token (401): set `token` or `token_file`"
            )
        if code == 403:
            return "PocketPaw refused: this credential may not chat (403)"
        detail = ""
        with contextlib.suppress(ValueError, AttributeError):
            detail = str(json.loads(body).get("detail", ""))
        return f"PocketPaw answered {code}" + (f": {clean(detail, 120)}" if detail else "")
