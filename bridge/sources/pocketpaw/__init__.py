"""PocketPaw: its status stream, REST snapshot and event bus."""
