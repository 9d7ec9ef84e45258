"""Config options of the H Company AgP source (kept apart so ``check`` needs no httpx)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bridge.infra.secret import Secret
from bridge.infra.validate import require_seconds
from bridge.sources.pocketpaw.options import check_url, credential, env_secret

DEFAULT_URL = "https://agp.eu.hcompany.ai/api/v2"
API_KEY_ENV = "H_API_KEY"
CREDENTIAL_NAME = "agp-api-key"

# The docs recommend polling every 2-5 s, and 10-15 s for tasks past 10 minutes.
INTERVAL_RANGE = (2.0, 5.0)
LONG_INTERVAL_RANGE = (10.0, 15.0)
# Even a user who insists does not get a poll loop tighter than this.
MIN_INTERVAL = 0.5

# Session IDs go into a URL path: letters, digits and ``._:-`` only (UUIDs and
# prefixed IDs fit), so neither a config file nor a server reply can steer a
# request somewhere else.
SESSION_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._:-]{0,127}")


def valid_session_id(value: object) -> bool:
    return isinstance(value, str) and SESSION_ID.fullmatch(value) is not None


def _check_sessions_from(path: str) -> None:
    """A regular file or a directory, if it exists yet (it may appear later)."""
    import os
    import stat

    from bridge.infra.files import kind_of

    if not path.strip():
        raise ValueError("sessions_from: expected a path to a file or directory")
    try:
        mode = os.lstat(os.path.expanduser(path)).st_mode
    except OSError:
        return  # watched until it appears
    if stat.S_ISLNK(mode):
        raise ValueError(
            f"sessions_from: {path!r} is a symbolic link; give the file or directory itself "
            "(a link to a directory such as /etc would make its file names session IDs)"
        )
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise ValueError(
            f"sessions_from: {path!r} is {kind_of(mode)}; expected a regular file or a directory"
        )


@dataclass(frozen=True, slots=True)
class Options:
    """``[[sources]]`` keys for ``type = "agp"``.

    :param url: the AgP API base, up to and including ``/api/v2``.
    :param api_key: the Bearer key; falls back to the systemd credential named
        ``credential``, then to the ``H_API_KEY`` environment variable.
    :param credential: the name of the systemd credential holding the key
        (``LoadCredential=agp-api-key:/etc/agentlight/agp-api-key``).
    :param sessions: session IDs to watch.
    :param sessions_from: a file with one session ID per line (``#`` comments),
        or a directory whose file names are session IDs. Re-read when it changes,
        so sessions come and go while the bridge runs.
    :param subagents: follow the subagents each session reports, as sessions of
        their own linked to their parent.
    :param interval: seconds between polls of one session (2-5).
    :param long_after: seconds after which a session counts as a long task...
    :param long_interval: ...and is polled this often instead (10-15).
    :param allow_any_interval: accept intervals outside the documented ranges.
    :param max_in_flight: requests at once over the one HTTP connection pool.
    :param max_sessions: most sessions watched at once, subagents included.
    :param show_done_for: seconds a completed session shows its success look.
    :param show_interrupted_for: seconds an interrupted session stays shown.
    :param show_failed_for: seconds a failed or timed-out session stays shown;
        unset keeps it until it leaves the watch list.
    :param gone_retry: seconds between checks of a listed session AgP does not
        know (404), in case it appears.
    :param auth_retry: seconds between attempts after a 401/403.
    :param retry_max: cap of the back-off after network errors, 5xx and 429.
    :param connect_timeout: seconds to connect.
    :param request_timeout: seconds for one status request.
    :param max_body_bytes: largest accepted reply body.
    """

    url: str = DEFAULT_URL
    api_key: Secret | None = None
    credential: str = CREDENTIAL_NAME
    sessions: tuple[str, ...] = ()
    sessions_from: str | None = None
    subagents: bool = True
    interval: float = 3.0
    long_after: float = 600.0
    long_interval: float = 12.0
    allow_any_interval: bool = False
    max_in_flight: int = 4
    max_sessions: int = 200
    show_done_for: float = 10.0
    show_interrupted_for: float = 60.0
    show_failed_for: float | None = None
    gone_retry: float = 60.0
    auth_retry: float = 60.0
    retry_max: float = 60.0
    connect_timeout: float = 5.0
    request_timeout: float = 10.0
    max_body_bytes: int = 1024 * 1024

    def preflight(self) -> list[str]:
        """What ``run`` will fail on, found without the server (``agentlight check``)."""
        from bridge.infra.credentials import read_credential

        problems = []
        keyless = self.api_key is None and not read_credential(self.credential)
        if keyless and env_secret(API_KEY_ENV) is None:
            problems.append(
                f"no AgP API key: run shows auth_failed; set api_key, the {API_KEY_ENV} "
                f"variable or the systemd credential {self.credential!r}"
            )
        if not self.sessions and not self.sessions_from:
            problems.append("watches no sessions: list IDs in sessions, or set sessions_from")
        return problems

    def __post_init__(self) -> None:
        key = self.api_key
        if isinstance(key, str):  # code (tests, embedding apps) may pass plain strings
            key = Secret(key)
        blank = key is None or not key.reveal().strip()
        object.__setattr__(
            self, "api_key", None if key is None or blank else credential(key, "api_key")
        )
        check_url(self.url)
        object.__setattr__(self, "url", self.url.rstrip("/"))
        if self.api_key is None:
            env_secret(API_KEY_ENV)  # what run will read, checked here so `check` finds it too
        object.__setattr__(self, "sessions", tuple(self.sessions))
        for i, sid in enumerate(self.sessions):
            if not valid_session_id(sid):
                raise ValueError(
                    f"sessions[{i}]: got {str(sid)[:60]!r}, expected a session ID "
                    "(letters, digits, '.', '_', ':' or '-', at most 128)"
                )
        if not re.fullmatch(r"[A-Za-z0-9_.@-]{1,64}", self.credential):
            raise ValueError(f"credential: got {self.credential[:60]!r}, expected a plain name")
        if self.sessions_from is not None:
            _check_sessions_from(self.sessions_from)
        self._check_interval("interval", INTERVAL_RANGE)
        self._check_interval("long_interval", LONG_INTERVAL_RANGE)
        if self.long_interval < self.interval:
            raise ValueError("long_interval: expected a value >= interval")
        require_seconds(
            self, "long_after", "gone_retry", "auth_retry", "retry_max", "connect_timeout",
            "request_timeout",
        )  # fmt: skip
        for name in ("show_done_for", "show_interrupted_for", "show_failed_for"):
            if (getattr(self, name) or 0) < 0:
                raise ValueError(f"{name}: got {getattr(self, name)!r}, expected seconds >= 0")
        if not 1 <= self.max_in_flight <= 64:
            raise ValueError(f"max_in_flight: got {self.max_in_flight!r}, expected 1 to 64")
        if not 1 <= self.max_sessions <= 10_000:
            raise ValueError(f"max_sessions: got {self.max_sessions!r}, expected 1 to 10000")
        if self.max_body_bytes < 1024:
            raise ValueError(f"max_body_bytes: got {self.max_body_bytes!r}, expected >= 1024")

    def _check_interval(self, name: str, allowed: tuple[float, float]) -> None:
        value = getattr(self, name)
        low, high = allowed
        if self.allow_any_interval:
            if value < MIN_INTERVAL:
                raise ValueError(f"{name}: got {value!r}, expected at least {MIN_INTERVAL} s")
        elif not low <= value <= high:
            raise ValueError(
                f"{name}: got {value!r}, expected {low:g} to {high:g} s as AgP's docs "
                "recommend (set allow_any_interval = true to insist)"
            )
