"""MQTT: publish the state to a broker, with Home Assistant discovery."""
