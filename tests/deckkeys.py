"""A dummy Stream Deck's keys in the answering tests: found by the choice they offer,
pressed through the dummy transport, held on a skewed clock instead of real seconds."""

from __future__ import annotations

import asyncio

from devices.streamdeck.driver import StreamDeckDriver
from devices.streamdeck.dummy import key_report
from tests.conftest import eventually


class DeckKeys:
    """Mixed into a rig that has a dummy ``deck`` whose clock adds ``skew[0]``."""

    deck: StreamDeckDriver
    #: Added to the deck's clock: a press held for N seconds without waiting N seconds.
    skew: list[float]

    def key_of(self, action: str) -> int | None:
        """The key that offers ``action`` now, or None."""
        for key, role in enumerate(self.deck.roles):
            if role.kind == "choice" and role.action == action:
                return key
        return None

    async def shows(self, action: str) -> int:
        """The key that offers ``action``, once one does."""
        await eventually(lambda: self.key_of(action) is not None)
        key = self.key_of(action)
        assert key is not None
        return key

    def press(self, key: int, *, held: float = 0.0) -> None:
        """Press and release ``key`` through the dummy transport (the reader thread
        reads both in order); ``held`` seconds pass on the deck's clock between them."""
        device, deck = self.deck.dummy_device, self.deck.deck
        device.queue_report(key_report(deck, {key}))
        if held:
            # The release is read on a later poll, after the clock has moved on.
            asyncio.get_running_loop().call_later(0.25, self._release_after, held)
        else:
            device.queue_report(key_report(deck, set()))

    def _release_after(self, held: float) -> None:
        self.skew[0] += held
        self.deck.dummy_device.queue_report(key_report(self.deck.deck, set()))


__all__ = ["DeckKeys"]
