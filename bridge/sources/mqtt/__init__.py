"""MQTT: the state another agentlight publishes."""

from bridge.infra.family import Credential
from bridge.sources.family import SourceFamily

FAMILY = SourceFamily(
    type="mqtt",
    options="bridge.sources.mqtt.options:Options",
    source="bridge.sources.mqtt.source:MqttSource",
    connects_to="broker",
    # Read by bridge/net/mqtt.py, for the mqtt device too.
    credentials=(
        Credential("mqtt_password", "MQTT broker password (password, AGENTLIGHT_MQTT_PASSWORD)"),
    ),
)
