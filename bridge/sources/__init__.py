"""Sources: where agent status comes from, one package per family, chosen by config ``type``.

Adding a source family is one package and one row:

1. Write the package ``bridge/sources/<family>/`` with

   - ``options.py``: ``Options``, a frozen dataclass whose fields are the config
     keys, each with a default and a ``:param:`` line. It checks its values in
     ``__post_init__`` (``raise ValueError("key: got …, expected …")``) and imports
     no I/O library, so ``agentlight check`` reads it without the source's stack.
   - ``source.py``: a :class:`~bridge.sources.base.Source` subclass with ``TYPE``
     and ``Options`` (the one from ``options.py``), built as ``Source(name,
     options, publish)``. ``run()`` loops until cancelled and never
     raises for a server problem: it calls ``self.publish(ConnectionState.…,
     snapshot, detail)`` instead, first ``CONNECTING`` with detail
     ``f"connecting to {where}"`` (``where``: the option named by ``connects_to``).
     HTTP sources build on :mod:`bridge.sources.http` (client, status codes, capped
     bodies, Retry-After and back-off) and :mod:`bridge.sources.sse`; secrets come
     from :func:`bridge.infra.credentials.resolve_secret`.
   - ``hints.py`` (optional): ``hint(status, options, *, built_in) -> str``, a
     :class:`~bridge.sources.family.Hint`: what to try the first time the source is
     disconnected or refused ("" for none). The source's own line about it ends
     with ``self.advice(connection, detail)`` (one line per episode, not two);
     a source that logs none gets the hint as a line of its own.
   - ``__init__.py``: the family's descriptor, importing nothing but these::

         from bridge.infra.family import Credential
         from bridge.sources.family import SourceFamily

         FAMILY = SourceFamily(
             type="<family>",                       # the config's type = "…"
             options="bridge.sources.<family>.options:Options",
             source="bridge.sources.<family>.source:<Family>Source",
             connects_to="url",                     # the option saying where
             credentials=(Credential("<family>-key", "what it holds"),),  # if any
             secret_files=("key_file",),            # options naming a secret file
             hints="bridge.sources.<family>.hints:hint",                  # if any
         )

2. Add one row to :data:`SOURCES` below: ``<family>.FAMILY``.

   A package of your own needs no row here: declare the descriptor as an entry
   point, ``[project.entry-points."agentlight.sources"]`` ``<family> =
   "<package>:FAMILY"`` (read only for a type that is not built in).

3. Test it against a real local server (tests/test_recipe.py walks this list with
   a toy family); document its keys in ``config.example.toml`` and the README, and
   its credentials in the README's credentials table and ``systemd/agentlight.service``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bridge.infra.family import find, installed, type_names
from bridge.sources import agp, hooks, mqtt, pocketpaw
from bridge.sources.family import SourceFamily

if TYPE_CHECKING:
    from bridge.infra.errors import ConfigError
    from bridge.pipeline.model import SourceStatus

#: Every built-in source family.
SOURCES: tuple[SourceFamily, ...] = (
    pocketpaw.FAMILY,
    agp.FAMILY,
    mqtt.FAMILY,
    hooks.FAMILY,
)

#: Entry point group through which installed packages add source families.
ENTRY_POINTS = "agentlight.sources"


def family_of(type_name: str) -> SourceFamily:
    """The family of config type ``type_name`` (KeyError if there is none)."""
    return find(SOURCES, type_name, ENTRY_POINTS, SourceFamily)


def families(*, broken: list[ConfigError] | None = None) -> list[SourceFamily]:
    """Every family: built in, then those installed packages add (see
    :func:`bridge.infra.family.installed` for ``broken``)."""
    return installed(SOURCES, ENTRY_POINTS, SourceFamily, broken=broken)


def types() -> list[str]:
    """Every known type name, sorted (for "expected one of …")."""
    return type_names(SOURCES, ENTRY_POINTS)


def source_class(type_name: str) -> Any:
    """Import and return the class registered for ``type_name`` (KeyError if none)."""
    return family_of(type_name).source_class()


def source_options(type_name: str) -> Any:
    """The ``Options`` dataclass of a source type, without importing its I/O libraries."""
    return family_of(type_name).options_class()


def starting_status(name: str, type_name: str, options: Any) -> SourceStatus:
    """The status source ``name`` publishes first, built without importing it.

    `agentlight run` shows that look before a source's module (and its HTTP stack) is
    imported; the source then publishes the same status.
    """
    from bridge.pipeline.model import ConnectionState, SourceStatus

    connects_to = family_of(type_name).connects_to
    where = getattr(options, connects_to, None) if connects_to else None
    detail = f"connecting to {where}" if where else None
    return SourceStatus(name, ConnectionState.CONNECTING, None, detail)
