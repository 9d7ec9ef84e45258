"""``agentlight devices`` for Stream Decks (the survey named in :mod:`devices.streamdeck`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from devices.survey import Found, Section


def stream_decks() -> Section:
    section = Section("streamdeck", "Stream Decks")
    try:
        from StreamDeck.DeviceManager import DeviceManager
    except ImportError:
        section.note = "library not installed (pip install 'agentlight[streamdeck]' to use one)"
        return section
    font = _freetype_problem()
    try:
        decks = DeviceManager().enumerate()
    except Exception as err:
        text = str(err)
        if "hid" in text.lower() or "library" in text.lower():
            section.problem = _deck_messages().no_hidapi(err)
        else:
            section.problem = f"cannot enumerate Stream Decks: {text}"
        if font:
            section.problem = f"{font}; and: {section.problem}"
        return section
    # Every key would fail to draw: a problem even with no deck attached yet.
    section.problem = font
    for deck in decks:
        item = Found("streamdeck", str(deck.deck_type()), path=str(deck.id()))
        try:
            deck.open()
            try:
                item.serial_number = str(deck.get_serial_number())
                item.detail = f"{deck.key_count()} keys"
            finally:
                deck.close()
        except Exception as err:
            item.problem = _deck_messages().open_failure(item.path, err)
        section.found.append(item)
    if not section.found:
        section.note = "none attached"
    return section


def _freetype_problem() -> str:
    """The driver's words for a Pillow without FreeType ("" when it has it, or is absent)."""
    try:
        from devices.streamdeck.render import freetype_problem

        return freetype_problem() or ""
    except ImportError:  # no Pillow: the driver says what to install
        return ""


@dataclass(frozen=True)
class _DeckMessages:
    no_hidapi: Callable[[BaseException], str]
    open_failure: Callable[[str, BaseException], str]


def _deck_messages() -> _DeckMessages:
    """The Stream Deck driver's own one-line fixes, so both places say the same."""
    try:
        from devices.streamdeck import driver as streamdeck

        return _DeckMessages(streamdeck._no_hidapi_message, streamdeck._open_failure)
    except Exception:  # its imaging libraries missing: plain words will do
        return _DeckMessages(
            lambda err: f"{err}: sudo apt install libhidapi-libusb0 (macOS: brew install hidapi)",
            lambda path, err: f"cannot open the Stream Deck at {path}: {err}",
        )


__all__ = ["stream_decks"]
