"""The ``agentlight`` commands, one module each.

``bridge.cli`` parses the command line and imports only the module of the command
being run (each has ``main(args) -> int``), so ``--help`` stays fast. A command
builds what it needs through ``bridge.app`` (the composition root), which imports
no command; commands import no other command (``common`` holds what they share).
"""
