"""H Company AgP: session status by polling."""
