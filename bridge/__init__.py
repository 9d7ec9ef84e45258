"""agentlight's bridge: sources → normalized model → mapping → looks → device drivers.

Imports here stay light on purpose: ``agentlight --help`` must not pull in HTTP,
hardware or imaging libraries.
"""

__version__ = "0.1.0"
