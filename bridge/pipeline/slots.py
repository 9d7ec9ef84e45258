"""Stable slots: which LED, key or strip segment each live session gets.

A session keeps its slot while it lives, so the light that shows "bash on the
laptop" does not jump to another LED when an older session ends. A new session
takes the lowest free slot. Sessions beyond the device's room get no slot (None)
until one frees up; they keep their arrival order for it.
"""

from __future__ import annotations

from collections.abc import Iterable

from bridge.pipeline.model import SessionRef


class SlotMap:
    """Assigns stable slots to sessions.

    :param size: how many slots the device has; None for as many as needed
        (a paging device: every session gets one, and freed ones are reused).

    >>> slots = SlotMap(2)
    >>> slots.assign([SessionRef("pp", "a"), SessionRef("pp", "b")])
    {SessionRef(source='pp', key='a'): 0, SessionRef(source='pp', key='b'): 1}
    >>> slots.assign([SessionRef("pp", "b"), SessionRef("pp", "c")])[SessionRef("pp", "c")]
    0
    """

    def __init__(self, size: int | None) -> None:
        if size is not None and size < 0:
            raise ValueError(f"slot count must be >= 0, got {size}")
        self.size = size
        self._slots: dict[SessionRef, int] = {}

    def assign(self, refs: Iterable[SessionRef]) -> dict[SessionRef, int]:
        """Slots for the live sessions ``refs`` (in their order); forgets the ones gone."""
        live = list(dict.fromkeys(refs))
        alive = set(live)
        kept = {ref: slot for ref, slot in self._slots.items() if ref in alive}
        used = set(kept.values())
        free = 0
        for ref in live:
            if ref in kept:
                continue
            while free in used:
                free += 1
            if self.size is not None and free >= self.size:
                break
            kept[ref] = free
            used.add(free)
        self._slots = kept
        return dict(kept)

    def slot_of(self, ref: SessionRef) -> int | None:
        return self._slots.get(ref)

    def resize(self, size: int | None) -> None:
        """Change the room; sessions past a smaller size lose their slot."""
        self.size = size
        if size is not None:
            self._slots = {ref: slot for ref, slot in self._slots.items() if slot < size}


__all__ = ["SlotMap"]
