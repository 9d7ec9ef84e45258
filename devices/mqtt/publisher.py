"""A device that shows the agent's state by publishing it to an MQTT broker.

Retained, under ``prefix`` (default ``agentlight/<hostname>``):

- ``<prefix>/status``: the whole normalized status as versioned JSON
  (:mod:`bridge.pipeline.status_json`, the form record lines use too);
- ``<prefix>/state``: the global state as a plain string (``idle``, ``active``…);
- ``<prefix>/availability``: ``online``, and ``offline`` on exit or, as the
  broker's will, when the bridge vanishes.

With ``homeassistant = true`` (the default) it also publishes Home Assistant
discovery configs (:mod:`devices.mqtt.discovery`) and publishes them again
whenever Home Assistant announces itself on ``<discovery_prefix>/status``.

With ``allow_commands = true`` it takes presses on ``<prefix>/command``
(:mod:`devices.mqtt.commands`: answer a waiting request, stop a run) and
Home Assistant gets buttons for them; otherwise a command is refused with a
log line.

It publishes on a change of state, never on an animation frame: every effect is
declared native, so the engine never animates it. ``_show`` only hands the
status to the connection task and returns; the network is never waited on, so
a slow or absent broker holds up no other device. While the broker is away only
the latest status is kept; it is published on reconnect.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bridge.infra.errors import DriverError
from bridge.infra.logutil import OnceLog
from bridge.net.mqtt import (
    INSTALL_HINT,
    OWN_PREFIXES,
    Link,
    LinkOptions,
    LinkState,
    check_topic_prefix,
    short_hostname,
)
from bridge.pipeline.frame import Frame
from bridge.pipeline.inputs import InputEvent, Target
from bridge.pipeline.looks import Effect
from bridge.pipeline.model import AgentStatus
from devices.base import Capabilities, Driver
from devices.mqtt.commands import parse_command
from devices.mqtt.discovery import command_topics, discovery_messages, discovery_topics

if TYPE_CHECKING:
    import aiomqtt

log = logging.getLogger("agentlight.devices.mqtt")

ONLINE = "online"
OFFLINE = "offline"
# How long closing may spend saying "offline" and disconnecting, within the
# engine's shutdown budget.
_CLOSE_BUDGET = 0.5


@dataclass(frozen=True, slots=True)
class MqttOptions(LinkOptions):
    """``[[devices]]`` keys for ``type = "mqtt"`` (plus the connection keys of
    :class:`~bridge.net.mqtt.LinkOptions`).

    :param prefix: topic prefix; default ``agentlight/<hostname>``.
    :param homeassistant: publish Home Assistant discovery configs; false
        removes the ones published before.
    :param discovery_prefix: Home Assistant's discovery prefix.
    :param device_name: the device's name in Home Assistant; default
        ``agentlight <hostname>``.
    :param allow_commands: take presses on ``<prefix>/command`` (answer what
        waits, stop a run; Home Assistant gets buttons). Anyone who may publish
        there on the broker can then answer: use the broker's ACLs.
    """

    prefix: str = ""
    homeassistant: bool = True
    discovery_prefix: str = "homeassistant"
    device_name: str = ""
    allow_commands: bool = False

    def __post_init__(self) -> None:
        LinkOptions.__post_init__(self)
        prefix = self.prefix or f"agentlight/{short_hostname()}"
        object.__setattr__(self, "prefix", check_topic_prefix(prefix))
        object.__setattr__(
            self,
            "discovery_prefix",
            check_topic_prefix(self.discovery_prefix, key="discovery_prefix"),
        )
        name = self.device_name.strip() or f"agentlight {short_hostname()}"
        object.__setattr__(self, "device_name", name)


class MqttDriver(Driver):
    """Publishes the status to MQTT (and Home Assistant) on every change of state.

    :param name: the device's name from the config.
    :param options: an :class:`MqttOptions`.
    """

    TYPE = "mqtt"
    Options = MqttOptions
    # A status, not a picture: effects are the consumer's business. No session
    # slots: frame.status carries every session regardless.
    CAPS = Capabilities(native_effects=frozenset(Effect), fps=10.0, sessions=0)

    def __init__(self, name: str, options: MqttOptions | None = None) -> None:
        super().__init__(name, options)
        self.o: MqttOptions = self.options
        self.prefix = self.o.prefix
        self.topics = {
            kind: f"{self.prefix}/{kind}"
            for kind in ("status", "state", "availability", "command")
        }
        OWN_PREFIXES.add(self.prefix)
        self.link = Link(
            name,
            self.o,
            role="pub",
            on_state=self._link_state,
            will=(self.topics["availability"], OFFLINE),
        )
        self._latest: AgentStatus | None = None
        self._sent: AgentStatus | None = None
        self._wake = asyncio.Event()
        self._stop = False
        self._announce = False  # Home Assistant came (back) online
        self._lost: BaseException | None = None
        self._task: asyncio.Task[None] | None = None
        self._link_reason = f"connecting to {self.o.broker}"
        #: Status messages published (one per change of state), for tests and benchmarks.
        self.publishes = 0
        #: Commands taken and refused, for tests.
        self.commands = 0
        self.refused = 0
        self._once = OnceLog(log)

    # -- driver hooks ---------------------------------------------------------

    def preflight(self) -> list[str]:
        try:
            import aiomqtt  # noqa: F401 - only whether it is there
        except ImportError:
            return [INSTALL_HINT]
        return []

    def answer_hint(self) -> str:
        return f"MQTT {self.topics['command']}" if self.o.allow_commands else ""

    async def _open(self) -> None:
        try:
            import aiomqtt  # noqa: F401 - fail here, with the fix, not in the task
        except ImportError as err:
            raise DriverError(f"{self.name}: {INSTALL_HINT}") from err
        self._stop = False
        self._sent = None
        self._task = asyncio.create_task(self._run(), name=f"mqtt:{self.name}")

    async def show(self, frame: Frame, *, force: bool = False) -> bool:
        shown = await super().show(frame, force=force)
        # Handing a status over always works; the health is the broker's.
        if self.link.state is not LinkState.CONNECTED:
            self.mark_unhealthy(self._link_reason)
        return shown

    async def _show(self, frame: Frame) -> None:
        if frame.status != self._latest:
            self._latest = frame.status
            self._wake.set()

    async def _close(self, *, blank: bool) -> None:
        task, self._task = self._task, None
        if task is None or task.done():
            return
        if self.link.state is not LinkState.CONNECTED:
            # Nobody to say "offline" to; the will (or our last retained
            # "offline") already says it.
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return
        self._stop = True
        self._wake.set()
        # The task says "offline" and disconnects; a dead broker gets no longer.
        done, _ = await asyncio.wait({task}, timeout=_CLOSE_BUDGET)
        if not done:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    # -- the connection task ----------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                await self.link.run(self._session)
                return  # stopped on purpose
            except asyncio.CancelledError:
                raise
            except Exception as err:  # a bug, not the network: say so, then start over
                log.exception("%s: publisher failed: %s; starting over", self.name, err)
                self.mark_unhealthy(f"publisher failed: {err}")
                await asyncio.sleep(self.o.reconnect_max)

    def _link_state(self, state: LinkState, reason: str) -> None:
        self._link_reason = reason
        if state is LinkState.CONNECTED:
            self._set_health(True, reason)
        elif self.is_open:
            self.mark_unhealthy(reason)

    async def _session(self, client: aiomqtt.Client) -> None:
        """One connection: announce, publish what changes, until stopped or lost."""
        qos = self.o.qos
        self._lost = None
        self._sent = None  # the broker may have lost its retained messages: send again
        listener = asyncio.create_task(self._listen(client))
        try:
            await client.publish(self.topics["availability"], ONLINE, qos=qos, retain=True)
            if self.o.homeassistant:
                await client.subscribe(f"{self.o.discovery_prefix}/status", qos=qos)
            # Even when commands are off: to say why one is refused.
            await client.subscribe(self.topics["command"], qos=qos)
            await self._discovery(client)
            while True:
                if self._lost is not None:
                    raise self._lost
                if self._stop:
                    await client.publish(self.topics["availability"], OFFLINE, qos=qos, retain=True)
                    return
                if self._announce:
                    self._announce = False
                    await self._discovery(client)
                status = self._latest
                if status is not None and status != self._sent:
                    await self._publish(client, status)
                    continue  # the status may have changed meanwhile
                self._wake.clear()
                await self._wake.wait()
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)

    async def _publish(self, client: aiomqtt.Client, status: AgentStatus) -> None:
        from bridge.pipeline.status_json import status_to_json

        body = json.dumps(
            status_to_json(status, time.time()), ensure_ascii=False, separators=(",", ":")
        )
        qos = self.o.qos
        sends = []
        # The plain state first (one connection keeps order): whoever has read
        # the status may rely on the state too. Both acknowledgements are
        # awaited together, so the state costs no extra round trip.
        if self._sent is None or status.state != self._sent.state:
            sends.append(
                client.publish(self.topics["state"], status.state.value, qos=qos, retain=True)
            )
        sends.append(client.publish(self.topics["status"], body, qos=qos, retain=True))
        await asyncio.gather(*sends)
        self._sent = status
        self.publishes += 1

    async def _discovery(self, client: aiomqtt.Client) -> None:
        qos = self.o.qos
        if self.o.homeassistant:
            for topic, config in discovery_messages(
                prefix=self.prefix,
                discovery_prefix=self.o.discovery_prefix,
                device_name=self.o.device_name,
                commands=self.o.allow_commands,
            ):
                body = json.dumps(config, ensure_ascii=False, separators=(",", ":"))
                await client.publish(topic, body, qos=qos, retain=True)
            if not self.o.allow_commands:
                # Buttons from when commands were allowed go.
                for topic in command_topics(
                    prefix=self.prefix, discovery_prefix=self.o.discovery_prefix
                ):
                    await client.publish(topic, b"", qos=qos, retain=True)
        else:
            # Turned off: an empty retained config removes each entity from Home
            # Assistant (and the broker forgets the config).
            for topic in discovery_topics(
                prefix=self.prefix, discovery_prefix=self.o.discovery_prefix, commands=True
            ):
                await client.publish(topic, b"", qos=qos, retain=True)

    async def _listen(self, client: aiomqtt.Client) -> None:
        """Home Assistant's birth messages, and the first sign of a lost connection."""
        import aiomqtt

        command = self.topics["command"]
        try:
            async for message in client.messages:
                if message.topic.value == command:
                    if message.retain:
                        self._retained()
                    else:
                        self._command(_bytes(message.payload))
                    continue
                if message.payload == ONLINE.encode():
                    log.debug("%s: Home Assistant is online; sending discovery", self.name)
                    self._announce = True
                    self._wake.set()
        except aiomqtt.MqttError as err:
            self._lost = err
            self._wake.set()

    def _retained(self) -> None:
        """A retained message on the command topic is not a press: the broker hands it
        to every new subscription, so each reconnect would press again (two within
        ``confirm_within`` confirm an Allow nobody made)."""
        self.refused += 1
        self._once.warning(
            "retained",
            "%s: ignored a retained command on %s (a press is never retained; clear it "
            "with an empty retained message)",
            self.name,
            self.topics["command"],
        )

    def _command(self, payload: bytes) -> None:
        """A press from ``<prefix>/command``, to the engine like a key's."""
        topic = self.topics["command"]
        if not self.o.allow_commands:
            self.refused += 1
            self._once.warning(
                "off",
                "%s: refused a command on %s: commands are off (allow_commands = true takes "
                "them)",
                self.name,
                topic,
            )
            return
        try:
            command = parse_command(payload)
        except ValueError as err:
            self.refused += 1
            self._once.warning(
                f"bad:{err}"[:80], "%s: refused a command on %s: %s", self.name, topic, err
            )
            return
        self.commands += 1
        if command.session is not None:
            target = Target("session", command.session, command.action, command.ask)
        else:
            target = Target("control", None, command.action, command.ask)
        now = asyncio.get_running_loop().time()
        self.emit_input(InputEvent(self.name, "command", command.pressed, target, now))


def _bytes(payload: object) -> bytes:
    """aiomqtt's payload (bytes, or str/int/float/None for some brokers' clients) as bytes."""
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return b"" if payload is None else str(payload).encode()


__all__ = ["MqttDriver", "MqttOptions"]
