"""What the PocketPaw source believes, apart from how it reads it. No I/O here.

The transport (``pocketpaw.py``) feeds in what it reads: status frames and
REST snapshots (:meth:`PocketPawState.apply`), keepalives; it asks this state
when the snapshot should be re-read (:meth:`next_check`, :meth:`take_due`) and
whether a re-read snapshot disagrees with what the stream last said.

Why re-read at all: the server drops an errored session ``error_ttl`` (30 s)
after it errs, **without a stream frame**, so a client trusting the stream
alone shows "degraded" forever. A session that stays in error (the server keeps
it, or its clock differs) is re-checked at most once per ``error_ttl``, never on
every frame or keepalive.
"""

from __future__ import annotations

from collections.abc import Callable

from bridge.pipeline.model import SessionState, Snapshot
from bridge.sources.pocketpaw.parse import fingerprint

# After error_ttl the server should have dropped the session; give it a moment
# (a tenth of the ttl, at most a second).
_RECONCILE_MARGIN = 1.0


class PocketPawState:
    """The last snapshot and the re-check timers of its errored sessions.

    :param error_ttl: seconds after which the server drops an errored session.
    :param clock: wall-clock time (sessions' ``since`` is wall-clock).
    """

    def __init__(self, error_ttl: float, clock: Callable[[], float]) -> None:
        self.error_ttl = error_ttl
        self._clock = clock
        self._margin = min(_RECONCILE_MARGIN, error_ttl / 10)
        self.snapshot: Snapshot | None = None
        self.frames = 0  # status frames applied from the stream, ever
        # session key -> wall-clock time to re-read the snapshot for it
        self._due: dict[str, float] = {}
        # session key -> when it was last re-read while in error (the rate limit)
        self._checked: dict[str, float] = {}
        self._keepalive_check = False

    def apply(self, snapshot: Snapshot, *, from_stream: bool = False) -> bool:
        """Make ``snapshot`` the truth; True when a re-check timer moved earlier or appeared."""
        self.snapshot = snapshot
        if from_stream:
            self.frames += 1
        moved = False
        errored = set()
        for session in snapshot.sessions:
            if session.state is not SessionState.ERROR:
                continue
            errored.add(session.key)
            due = session.since + self.error_ttl + self._margin
            checked = self._checked.get(session.key)
            if checked is not None:
                due = max(due, checked + self.error_ttl)
            if self._due.get(session.key) != due:
                moved = moved or due < self._due.get(session.key, float("inf"))
                self._due[session.key] = due
        # Keep timers of sessions that left "error": the server still drops them
        # by key when its timer fires (a new run with the same key vanishes too).
        # Forget rate limits of sessions no longer in error or gone.
        for key in [k for k in self._checked if k not in errored]:
            del self._checked[key]
        return moved

    def on_keepalive(self) -> bool:
        """True when a keepalive should trigger a re-read now (an errored session not
        re-read within ``error_ttl``)."""
        now = self._clock()
        if self.snapshot is None:
            return False
        for session in self.snapshot.sessions:
            if session.state is SessionState.ERROR:
                checked = self._checked.get(session.key)
                if checked is None or now - checked >= self.error_ttl:
                    self._keepalive_check = True
                    return True
        return False

    def next_check(self) -> float | None:
        """Wall-clock time of the next re-read, or None when nothing needs one."""
        return min(self._due.values(), default=None)

    def take_due(self) -> bool:
        """Whether a re-read is due now; consumes the timers that fired."""
        now = self._clock()
        fired = [k for k, at in self._due.items() if at <= now]
        for key in fired:
            del self._due[key]
        keepalive, self._keepalive_check = self._keepalive_check, False
        if not fired and not keepalive:
            return False
        if self.snapshot is not None:
            for session in self.snapshot.sessions:
                if session.state is SessionState.ERROR:
                    self._checked[session.key] = now
        return True

    def disagrees(self, snapshot: Snapshot) -> bool:
        """Whether ``snapshot`` says something else than the last one (the server's dedupe key)."""
        return self.snapshot is not None and fingerprint(snapshot) != fingerprint(self.snapshot)

    def forget(self) -> None:
        """Nothing we know still holds: no snapshot, no timers to chase."""
        self.snapshot = None
        self._due.clear()
        self._checked.clear()
        self._keepalive_check = False
