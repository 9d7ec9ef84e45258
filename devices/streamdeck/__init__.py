"""Elgato Stream Deck: driver, key layout, rendering, dummy decks, preview."""
