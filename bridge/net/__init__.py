"""Connections shared by a source and a driver of the same family (the MQTT broker link)."""
