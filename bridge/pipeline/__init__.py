"""The pure pipeline: status model → theme → looks → frames. No I/O, nothing of ours below it."""
