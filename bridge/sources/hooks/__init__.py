"""Coding agents' hooks: Claude Code, Codex, Gemini CLI, Cursor, OpenCode and any script.

Fed by ``POST /v1/hooks/<agent>`` on the local API (directly, as Claude Code's
``http`` hooks do, or through ``agentlight hook AGENT`` for command hooks).
"""

from bridge.sources.family import SourceFamily

FAMILY = SourceFamily(
    type="hooks",
    options="bridge.sources.hooks.options:Options",
    source="bridge.sources.hooks.source:HooksSource",
)
