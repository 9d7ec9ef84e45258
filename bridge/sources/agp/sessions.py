"""``sessions_from``: session IDs from a file or a directory, re-read when it changes.

A file holds one ID per line (blank lines and ``#`` comments skipped); a
directory's file names are the IDs (``touch dir/ID`` to watch, ``rm`` to stop;
names starting with ``.`` are skipped, so an editor's temporary files are too).
Change is seen from ``stat``, so checking every poll tick costs one system call.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from bridge.infra.logutil import OnceLog
from bridge.sources.agp.options import valid_session_id

log = logging.getLogger("agentlight.sources.agp")

_MAX_FILE = 1024 * 1024

Signature = tuple[int, int, int, int]


class WatchList:
    """Reads IDs from ``path`` when its ``stat`` changes; :meth:`check` says whether."""

    def __init__(self, path: str, *, source: str, limit: int) -> None:
        self.path = Path(path).expanduser()
        self.ids: tuple[str, ...] = ()
        self._source = source
        self._limit = limit
        self._signature: Signature | None = None
        self._once = OnceLog(log)

    def check(self) -> bool:
        """Re-read the list if it changed; True when the IDs did."""
        try:
            st = self.path.stat()
        except OSError as err:
            self._once.warning(
                f"missing:{err.errno}",
                "%s: sessions_from %s: %s; watching none from it until it appears",
                self._source,
                self.path,
                err.strerror or err,
            )
            return self._replace(None, ())
        signature = (st.st_ino, st.st_mtime_ns, st.st_size, st.st_mode)
        if signature == self._signature:
            return False
        self._once.reset()
        try:
            names = self._from_dir() if stat.S_ISDIR(st.st_mode) else self._from_file()
        except (OSError, UnicodeDecodeError) as err:
            log.warning("%s: cannot read sessions_from %s: %s", self._source, self.path, err)
            return self._replace(signature, self.ids)
        return self._replace(signature, self._valid(names))

    def _replace(self, signature: Signature | None, ids: tuple[str, ...]) -> bool:
        self._signature = signature
        changed = ids != self.ids
        self.ids = ids
        return changed

    def _from_file(self) -> list[str]:
        with self.path.open("rb") as f:
            data = f.read(_MAX_FILE + 1)
        if len(data) > _MAX_FILE:
            log.warning("%s: sessions_from is over 1 MiB; reading the first 1 MiB", self._source)
            data = data[:_MAX_FILE]
        names = []
        for line in data.decode("utf-8").splitlines():
            text = line.split("#", 1)[0].strip()
            if text:
                names.append(text)
        return names

    def _from_dir(self) -> list[str]:
        entries = []
        with os.scandir(self.path) as it:
            for entry in it:
                if entry.name.startswith("."):
                    continue
                try:
                    mtime = entry.stat().st_mtime_ns
                except OSError:
                    continue  # removed while we looked
                entries.append((mtime, entry.name))
        # Oldest first, so sessions keep their places as new ones arrive.
        return [name for _, name in sorted(entries)]

    def _valid(self, names: list[str]) -> tuple[str, ...]:
        ids: list[str] = []
        seen: set[str] = set()
        for name in names:
            if not valid_session_id(name):
                self._once.warning(
                    f"bad:{name[:40]}",
                    "%s: sessions_from: skipping %.60r, not a session ID",
                    self._source,
                    name,
                )
                continue
            if name in seen:
                continue
            if len(ids) >= self._limit:
                self._once.warning(
                    "limit",
                    "%s: sessions_from lists more than max_sessions (%d); the rest are ignored",
                    self._source,
                    self._limit,
                )
                break
            seen.add(name)
            ids.append(name)
        return tuple(ids)
