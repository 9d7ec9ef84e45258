"""What to try when PocketPaw cannot be reached or refuses the bridge (a family's hint)."""

from __future__ import annotations

from typing import Any

from bridge.pipeline.model import ConnectionState, SourceStatus


def hint(status: SourceStatus, options: Any, *, built_in: bool) -> str:
    # The fix only: the line it ends already names the URL and what failed.
    if status.connection is ConnectionState.DISCONNECTED:
        detail = (status.detail or "").lower()
        if detail and "connect" not in detail and "refused" not in detail:
            return ""  # it answers, but wrongly: the source's own line says how
        where = (
            "agentlight run --url http://HOST:8888"
            if built_in
            else "the url in your config's [[sources]]"
        )
        return (
            "is PocketPaw running (`pocketpaw serve`)? "
            f"On another machine: {where}. Without PocketPaw: agentlight demo. "
            "Still trying in the background."
        )
    if status.connection is ConnectionState.AUTH_FAILED:
        return (
            "from another machine PocketPaw needs its dashboard token (set POCKETPAW_TOKEN, "
            "or token_file = a copy of the server's ~/.pocketpaw/access_token); if the "
            "server sets POCKETPAW_STATUS_API_KEY, give the bridge the same key."
        )
    return ""


__all__ = ["hint"]
