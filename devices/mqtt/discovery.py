"""Home Assistant MQTT discovery: the retained config messages for one bridge.

Home Assistant reads ``<discovery_prefix>/<component>/<node_id>/<object_id>/config``
and creates the entities with no YAML. Every entity here reads the retained
topics the ``mqtt`` device publishes anyway (``<prefix>/state`` and
``<prefix>/status``), shares the bridge's availability topic, and belongs to
one Home Assistant device per bridge (its name and agentlight's version).
An empty retained payload on the same topic removes an entity again.

With ``allow_commands`` the bridge also takes commands on ``<prefix>/command``
(:mod:`devices.mqtt.commands`), and Home Assistant gets buttons that send them
(Allow, Deny, Not here, Stop, Next choice, Choose) and a sensor naming the
request that waits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bridge import __version__
from bridge.pipeline.model import ConnectionState, GlobalState

ORIGIN = {"name": "agentlight", "sw_version": __version__}

# Session states a person must act on (the "needs you" binary sensor).
NEEDS_YOU_STATES = ("waiting_for_user", "error")
# Sessions that are over still appear in the status for a moment; they are not active.
ENDED_STATES = ("done", "interrupted")
# Most severe first, like the bridge's own fold of sources.
CONNECTION_SEVERITY = (
    ConnectionState.AUTH_FAILED,
    ConnectionState.DISCONNECTED,
    ConnectionState.CONNECTING,
    ConnectionState.CONNECTED,
)


def node_id(prefix: str) -> str:
    """A discovery node id from a topic prefix (HA allows ``[a-zA-Z0-9_-]``)."""
    return re.sub(r"[^a-zA-Z0-9_-]", "_", prefix)


@dataclass(frozen=True, slots=True)
class Entity:
    component: str  # sensor, binary_sensor
    object_id: str
    config: dict[str, Any]


def _quoted(items: tuple[str, ...]) -> str:
    return "[" + ", ".join(f"'{item}'" for item in items) + "]"


def entities(prefix: str) -> tuple[Entity, ...]:
    """The entities of one bridge, without the shared device/availability keys."""
    state_topic = f"{prefix}/state"
    status_topic = f"{prefix}/status"
    active = f"value_json.sessions | rejectattr('state', 'in', {_quoted(ENDED_STATES)}) | list"
    needs = f"value_json.sessions | selectattr('state', 'in', {_quoted(NEEDS_YOU_STATES)}) | list"
    severity = _quoted(tuple(c.value for c in CONNECTION_SEVERITY))
    return (
        Entity(
            "sensor",
            "state",
            {
                "name": "Agent state",
                "state_topic": state_topic,
                "device_class": "enum",
                "options": [g.value for g in GlobalState],
                "icon": "mdi:robot",
            },
        ),
        Entity(
            "sensor",
            "active_sessions",
            {
                "name": "Active sessions",
                "state_topic": status_topic,
                "value_template": "{{ (" + active + ") | length }}",
                "state_class": "measurement",
                "icon": "mdi:forum",
            },
        ),
        Entity(
            "binary_sensor",
            "needs_you",
            {
                "name": "Needs you",
                "state_topic": status_topic,
                "value_template": "{{ 'ON' if (" + needs + ") else 'OFF' }}",
                "payload_on": "ON",
                "payload_off": "OFF",
                "icon": "mdi:account-alert",
            },
        ),
        Entity(
            "sensor",
            "current_tool",
            {
                "name": "Current tool",
                "state_topic": status_topic,
                "value_template": (
                    "{{ value_json.sessions | selectattr('state', 'eq', 'tool_running')"
                    " | map(attribute='tool') | select | first | default('none', true) }}"
                ),
                "icon": "mdi:tools",
            },
        ),
        Entity(
            "sensor",
            "connection",
            {
                "name": "Connection",
                "state_topic": status_topic,
                "device_class": "enum",
                "options": [c.value for c in CONNECTION_SEVERITY],
                "value_template": (
                    "{% set seen = value_json.sources | map(attribute='connection') | list %}"
                    "{{ " + severity + " | select('in', seen) | first"
                    " | default('connecting', true) }}"
                ),
                "entity_category": "diagnostic",
                "icon": "mdi:lan-connect",
            },
        ),
    )


#: Home Assistant buttons: (action sent, name, icon). An Allow or a Stop from a button
#: is confirmed by a second press within the desk's window (buttons send no release).
COMMAND_BUTTONS = (
    ("allow", "Allow (press twice)", "mdi:check-bold"),
    ("deny", "Deny", "mdi:close-thick"),
    ("dismiss", "Not here", "mdi:bell-off"),
    ("stop", "Stop the run (press twice)", "mdi:stop-circle"),
    ("ask_next", "Next choice", "mdi:arrow-right-bold"),
    ("ask_confirm", "Choose", "mdi:check-circle"),
)


def command_entities(prefix: str) -> tuple[Entity, ...]:
    """The buttons that send commands, and a sensor naming the waiting request."""
    asks = "value_json.sessions | map(attribute='ask') | select | list"
    request = (
        "{% set a = (" + asks + ") | first | default(none, true) %}"
        "{% if a %}{{ ((a.tool ~ ': ' ~ a.command) if a.tool and a.command else a.text)"
        " | truncate(200) }}"
        "{% if a.choices %} [{{ a.choices | map(attribute='label') | join(' / ') }}]{% endif %}"
        "{% else %}none{% endif %}"
    )
    buttons = tuple(
        Entity(
            "button",
            f"command_{action}",
            {
                "name": name,
                "command_topic": f"{prefix}/command",
                "payload_press": action,
                "icon": icon,
            },
        )
        for action, name, icon in COMMAND_BUTTONS
    )
    sensor = Entity(
        "sensor",
        "request",
        {
            "name": "Waiting request",
            "state_topic": f"{prefix}/status",
            "value_template": request,
            "icon": "mdi:hand-back-right",
        },
    )
    return (*buttons, sensor)


def discovery_messages(
    *, prefix: str, discovery_prefix: str, device_name: str, commands: bool = False
) -> list[tuple[str, dict[str, Any]]]:
    """(topic, payload) for every entity, ready to publish retained as JSON (the
    command buttons only with ``commands``)."""
    node = node_id(prefix)
    device = {
        # Scoped by agentlight, so a custom prefix never meets another MQTT device's id.
        "identifiers": [node if node.startswith("agentlight") else f"agentlight_{node}"],
        "name": device_name,
        "manufacturer": "agentlight",
        "model": "agentlight bridge",
        "sw_version": __version__,
    }
    messages = []
    for entity in (*entities(prefix), *(command_entities(prefix) if commands else ())):
        config = {
            **entity.config,
            "unique_id": f"{node}_{entity.object_id}",
            "availability_topic": f"{prefix}/availability",
            "payload_available": "online",
            "payload_not_available": "offline",
            "device": device,
            "origin": ORIGIN,
        }
        messages.append((config_topic(discovery_prefix, entity, node), config))
    return messages


def config_topic(discovery_prefix: str, entity: Entity, node: str) -> str:
    return f"{discovery_prefix}/{entity.component}/{node}/{entity.object_id}/config"


def discovery_topics(*, prefix: str, discovery_prefix: str, commands: bool = False) -> list[str]:
    """Every config topic of one bridge (with ``commands``, the command entities' too):
    publish empty retained payloads here to remove them."""
    node = node_id(prefix)
    chosen = (*entities(prefix), *(command_entities(prefix) if commands else ()))
    return [config_topic(discovery_prefix, e, node) for e in chosen]


def command_topics(*, prefix: str, discovery_prefix: str) -> list[str]:
    """The config topics of the command buttons and the request sensor alone."""
    node = node_id(prefix)
    return [config_topic(discovery_prefix, e, node) for e in command_entities(prefix)]


__all__ = [
    "COMMAND_BUTTONS",
    "Entity",
    "command_entities",
    "command_topics",
    "discovery_messages",
    "discovery_topics",
    "entities",
    "node_id",
]
