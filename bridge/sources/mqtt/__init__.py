"""MQTT: the state another agentlight publishes."""
