"""What a source or device family tells the rest of agentlight, readable without importing it.

A family (``pocketpaw``, ``serial``, …) is one package; its ``__init__.py`` exports a
descriptor (:class:`bridge.sources.family.SourceFamily` or
:class:`devices.family.DeviceFamily`, both a :class:`Family`) and the registries
(``bridge.sources.SOURCES``, ``devices.DRIVERS``) list those descriptors. Everything
that needs to know about a family reads its descriptor: the config reader its
``Options``, ``run`` where it connects, the credential checks which secrets it
reads, ``agentlight devices`` its survey.

The heavy parts are named by import path (``"package.module:attr"``) and imported
only when used, so reading every descriptor costs a few small modules: ``--help``,
``check`` and a terminal ``run`` import no HTTP, hardware or imaging library.

Installed packages may add families through the entry point groups
``agentlight.sources`` and ``agentlight.devices`` (name = the config ``type``,
value = the descriptor). They are looked at only for a type that is not built in
(and by ``agentlight devices``), so they cost nothing at start-up.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from bridge.infra.errors import ConfigError

F = TypeVar("F", bound="Family")


@dataclass(frozen=True)
class Credential:
    """A systemd credential (``$CREDENTIALS_DIRECTORY/<name>``) a family reads.

    :param name: the credential's file name (``LoadCredential=<name>:…``).
    :param holds: what it holds, with the config key and environment variable that
        stand in for it (for the docs and ``systemd/agentlight.service``).
    """

    name: str
    holds: str


@dataclass(frozen=True, kw_only=True)
class Family:
    """What every family says about itself.

    :param type: the config's ``type = "…"``.
    :param options: ``"module:Class"`` of its ``Options`` frozen dataclass (the config
        keys); the module imports no I/O library, so ``check`` stays light.
    :param credentials: the systemd credentials it reads.
    :param secret_files: options naming a file that holds a secret; like the config
        file itself, they get a warning when every user can read them.
    """

    type: str
    options: str
    credentials: tuple[Credential, ...] = ()
    secret_files: tuple[str, ...] = ()

    def options_class(self) -> Any:
        """The ``Options`` dataclass (imports the light options module)."""
        return load(self.options)


def load(path: str) -> Any:
    """The object at ``"package.module:attr"``."""
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"expected 'package.module:attr', got {path!r}")
    return getattr(importlib.import_module(module_name), attr)


def find(built_in: Sequence[F], type_name: str, group: str, kind: type[F]) -> F:
    """The family of ``type_name``: built in, else an installed package's entry point
    in ``group`` (only then is ``importlib.metadata`` read). KeyError when neither.

    Raises :class:`ConfigError` when an entry point names the type but does not load
    or is not a ``kind`` of that type.
    """
    for family in built_in:
        if family.type == type_name:
            return family
    for entry in _entry_points(group):
        if entry.name == type_name:
            return _loaded(entry, kind)
    raise KeyError(type_name)


def installed(
    built_in: Sequence[F], group: str, kind: type[F], *, broken: list[ConfigError] | None = None
) -> list[F]:
    """Every family: the built-in ones, then those installed packages add (loaded).

    An entry point that does not load raises :class:`ConfigError`, or with ``broken``
    is skipped and its error appended there.
    """
    known = {f.type for f in built_in}
    families = list(built_in)
    for entry in _entry_points(group):
        if entry.name in known:
            continue
        try:
            families.append(_loaded(entry, kind))
        except ConfigError as err:
            if broken is None:
                raise
            broken.append(err)
    return families


def type_names(built_in: Sequence[Family], group: str) -> list[str]:
    """Every type name, sorted; entry points are listed, not loaded."""
    return sorted({f.type for f in built_in} | {e.name for e in _entry_points(group)})


def _entry_points(group: str) -> Iterable[Any]:
    from importlib.metadata import entry_points  # only off the fast path

    return entry_points(group=group)


def _loaded(entry: Any, kind: type[F]) -> F:
    where = f"entry point {entry.name!r} ({entry.value}) in {entry.group}"
    try:
        family = entry.load()
    except Exception as err:  # a broken plug-in is a config problem, said in one line
        raise ConfigError(f"{where} does not load: {type(err).__name__}: {err}") from None
    if not isinstance(family, kind) or family.type != entry.name:
        raise ConfigError(f"{where} is not a {kind.__name__} with type {entry.name!r}")
    return family


__all__ = ["Credential", "Family", "find", "installed", "load", "type_names"]
