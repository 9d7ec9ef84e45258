"""The local HTTP API: the bridge's state and input for desk apps, plugins, status bars
and agents' hooks (issue 27).

Only :mod:`bridge.api.server` imports the HTTP server library (aiohttp), and only
the composition root imports it, when the config has an ``[api]`` table: a bridge
without one starts, idles and answers ``--help`` exactly as before. The other
modules here are plain Python: the options (read by ``check``), the documents
served, the guard's rules, the event hub, the discovery file and the client that
``agentlight status`` uses.
"""

from __future__ import annotations

#: The default port on 127.0.0.1 (``[api]`` without ``listen``). Unassigned by IANA
#: and clear of the ports agent servers use (PocketPaw 8888, dev servers 8000/8080).
DEFAULT_PORT = 8737
DEFAULT_LISTEN = f"127.0.0.1:{DEFAULT_PORT}"
#: The API's own version: the ``/v1`` in every path, and ``api`` in the discovery file.
API_VERSION = 1
#: The device name of presses that come in through ``POST /v1/input``.
INPUT_DEVICE = "api"

__all__ = ["API_VERSION", "DEFAULT_LISTEN", "DEFAULT_PORT", "INPUT_DEVICE"]
