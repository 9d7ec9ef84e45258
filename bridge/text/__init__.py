"""Presentation: status in words and server text made safe to show."""
