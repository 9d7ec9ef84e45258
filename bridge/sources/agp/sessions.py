"""``sessions_from``: session IDs from a file or a directory, re-read when it changes.

A file holds one ID per line (blank lines and ``#`` comments skipped); a
directory's file names are the IDs (``touch dir/ID`` to watch, ``rm`` to stop;
names starting with ``.`` are skipped, so an editor's temporary files are too).
Change is seen from ``stat``, so checking every poll tick costs one system call.

Bounds: the path must be a regular file or a directory, not a symbolic link (one
to ``/etc`` made its file names session IDs, each polled with the API key) nor a
FIFO or device (read non-blocking and refused); a file is read up to 1 MiB, a
directory's first 10,000 entries, only regular files among them. The source calls
:meth:`WatchList.check` on a thread, so even a slow mount never holds the loop.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from bridge.infra.files import FileRefused, kind_of, read_limited
from bridge.infra.logutil import OnceLog
from bridge.sources.agp.options import valid_session_id

log = logging.getLogger("agentlight.sources.agp")

MAX_FILE = 1024 * 1024
#: Directory entries read per change: ten thousand stats, a few tens of milliseconds.
MAX_ENTRIES = 10_000

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
            st = self.path.lstat()
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
        if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
            log.warning(
                "%s: sessions_from %s is %s; expected a regular file or a directory; "
                "watching none from it",
                self._source,
                self.path,
                kind_of(st.st_mode),
            )
            return self._replace(signature, ())
        try:
            names = self._from_dir() if stat.S_ISDIR(st.st_mode) else self._from_file()
        except FileRefused as err:
            log.warning("%s: %s; keeping the IDs read before", self._source, err)
            return self._replace(signature, self.ids)
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
        data = read_limited(self.path, limit=MAX_FILE, what="sessions_from")
        names = []
        for line in data.decode("utf-8").splitlines():
            text = line.split("#", 1)[0].strip()
            if text:
                names.append(text)
        return names

    def _from_dir(self) -> list[str]:
        entries = []
        seen = 0
        with os.scandir(self.path) as it:
            for entry in it:
                seen += 1
                if seen > MAX_ENTRIES:
                    self._once.warning(
                        "entries",
                        "%s: sessions_from %s holds over %d entries; reading the first %d",
                        self._source,
                        self.path,
                        MAX_ENTRIES,
                        MAX_ENTRIES,
                    )
                    break
                if entry.name.startswith("."):
                    continue
                try:
                    # `touch dir/ID` makes a regular file; links, FIFOs and subdirectories
                    # are not session IDs.
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    mtime = entry.stat(follow_symlinks=False).st_mtime_ns
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
