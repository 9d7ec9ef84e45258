"""Config options of the MQTT source (kept apart so ``check`` needs no aiomqtt)."""

from __future__ import annotations

from dataclasses import dataclass

from bridge.net.mqtt import LinkOptions, check_topic_prefix


@dataclass(frozen=True, slots=True)
class Options(LinkOptions):
    """``[[sources]]`` keys for ``type = "mqtt"`` (plus the connection keys of
    :class:`~bridge.net.mqtt.LinkOptions`).

    :param prefix: the publishing bridge's topic prefix; ``+`` stands for one
        level, so the default ``agentlight/+`` follows every bridge on the broker.
    :param max_payload_bytes: largest status message accepted; larger ones are
        refused with one log line.
    :param max_sessions: most sessions shown, over all bridges; each bridge's
        status is read up to this many, and four times this many are held in all.
    """

    prefix: str = "agentlight/+"
    max_payload_bytes: int = 1024 * 1024
    max_sessions: int = 1000

    def preflight(self) -> list[str]:
        """What ``run`` will fail on, found without the broker (``agentlight check``)."""
        import importlib.util

        from bridge.net.mqtt import INSTALL_HINT

        # Looked up, not imported: check stays light.
        return [INSTALL_HINT] if importlib.util.find_spec("aiomqtt") is None else []

    def __post_init__(self) -> None:
        LinkOptions.__post_init__(self)
        object.__setattr__(self, "prefix", check_topic_prefix(self.prefix, wildcards=True))
        if not 1024 <= self.max_payload_bytes <= 16 * 1024 * 1024:
            raise ValueError(
                f"max_payload_bytes: got {self.max_payload_bytes!r}, expected 1024 to 16777216"
            )
        if isinstance(self.max_sessions, bool) or not 1 <= self.max_sessions <= 10_000:
            raise ValueError(f"max_sessions: got {self.max_sessions!r}, expected 1 to 10000")
