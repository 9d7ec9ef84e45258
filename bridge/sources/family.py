"""The descriptor a source family exports from its package's ``__init__.py``.

Light on purpose: the registry (:data:`bridge.sources.SOURCES`) imports every
family's ``__init__.py``, and ``check`` and ``run`` read them before any source's
HTTP stack is imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from bridge.infra.family import Family, load

if TYPE_CHECKING:
    from bridge.pipeline.model import SourceStatus


class Hint(Protocol):
    """What to try when a source is disconnected or refused, or "" for none.

    The fix only: it ends the source's own log line, which says what failed
    (``run``: the first time per source and state), and ``status``'s line.

    :param status: the source's status (``DISCONNECTED`` or ``AUTH_FAILED``; its
        ``detail`` says how).
    :param options: the source's ``Options``.
    :param built_in: the config is the built-in one (``agentlight run --url``), not a file.
    """

    def __call__(self, status: SourceStatus, options: Any, *, built_in: bool) -> str: ...


@dataclass(frozen=True, kw_only=True)
class SourceFamily(Family):
    """A source family (see :class:`~bridge.infra.family.Family` for the common keys).

    :param source: ``"module:Class"`` of its :class:`~bridge.sources.base.Source`
        (imported only when the source is built).
    :param connects_to: the option naming where it connects (``url``, ``broker``):
        devices show "connecting to <it>" before the source is imported.
    :param hints: ``"module:function"`` of its :class:`Hint`, or "" for none.
    """

    source: str
    connects_to: str = ""
    hints: str = ""

    def source_class(self) -> Any:
        """The :class:`~bridge.sources.base.Source` subclass (imports its I/O libraries)."""
        return load(self.source)

    def hint_function(self) -> Hint | None:
        """Its :class:`Hint`, or None when it gives none."""
        hint: Hint | None = load(self.hints) if self.hints else None
        return hint


__all__ = ["Hint", "SourceFamily"]
