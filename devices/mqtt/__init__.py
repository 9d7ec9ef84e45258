"""MQTT: publish the state to a broker, with Home Assistant discovery."""

from bridge.infra.family import Credential
from devices.family import DeviceFamily

FAMILY = DeviceFamily(
    type="mqtt",
    options="devices.mqtt.publisher:MqttOptions",
    driver="devices.mqtt.publisher:MqttDriver",
    # Read by bridge/net/mqtt.py, for the mqtt source too.
    credentials=(
        Credential("mqtt_password", "MQTT broker password (password, AGENTLIGHT_MQTT_PASSWORD)"),
    ),
)
