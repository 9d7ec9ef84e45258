"""Reading a file a config names without ever blocking or swallowing memory.

Every file agentlight reads because a config names it (the config itself, a
theme, token files, systemd credentials, ``sessions_from``) goes through
:func:`read_limited`: opened non-blocking (a FIFO with no writer would block
``open`` for good, and with it start-up, ``check`` or a reload on the event
loop), checked to be a regular file (FIFOs, devices such as ``/dev/zero``,
sockets and directories refused with a one-line message naming what it is),
and read up to a size cap (a token never needs a megabyte).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

__all__ = ["FileRefused", "kind_of", "read_limited"]

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISLNK, "a symbolic link"),
)


class FileRefused(ValueError):
    """A named file that is not a regular file, or is larger than its cap.

    The message is one line naming the path and why, never its contents.
    """


def kind_of(mode: int) -> str:
    """What a ``st_mode`` is, for messages: "a FIFO (named pipe)", "a regular file"…"""
    for test, name in _KINDS:
        if test(mode):
            return name
    return "a regular file" if stat.S_ISREG(mode) else "not a regular file"


def read_limited(
    path: str | os.PathLike[str], *, limit: int, what: str = "file", show_path: bool = True
) -> bytes:
    """The bytes of regular file ``path``, at most ``limit`` of them.

    :param what: what the file is for ("token_file", "config file"), for messages.
    :param show_path: name the path in messages; off where users paste a secret
        instead of a path (``token_file``).
    :raises FileRefused: not a regular file, or over ``limit`` bytes.
    :raises OSError: cannot be opened or read (missing, no permission).
    """
    # O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer;
    # it changes nothing for a regular file. O_NOCTTY: a tty never becomes ours.
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    full = Path(path).expanduser()
    named = f"{what} {str(path)!r}" if show_path else what
    try:
        fd = os.open(full, flags)
    except OSError as err:
        if err.errno != errno.ENXIO:  # ENXIO: a socket, which cannot be opened at all
            raise
        kind = kind_of(os.stat(full).st_mode)
        raise FileRefused(f"{named} is {kind}; expected a regular file") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise FileRefused(f"{named} is {kind_of(mode)}; expected a regular file")
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(65536, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise FileRefused(f"{named} is larger than {limit:,} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)
