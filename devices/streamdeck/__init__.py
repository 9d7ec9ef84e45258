"""Elgato Stream Deck: driver, key layout, rendering, dummy decks, preview."""

from devices.family import DeviceFamily

FAMILY = DeviceFamily(
    type="streamdeck",
    options="devices.streamdeck.driver:StreamDeckOptions",
    driver="devices.streamdeck.driver:StreamDeckDriver",
    survey="devices.streamdeck.survey:stream_decks",
    udev_rules="devices:udev/70-agentlight-streamdeck.rules",
)
