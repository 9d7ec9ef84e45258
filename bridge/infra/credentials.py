"""Secrets from the config, systemd credentials or the environment — one helper for all.

Every source or device that takes a secret calls :func:`resolve_secret` with its
config value, its environment variable and its credential name, and gets a
:class:`~bridge.infra.secret.Secret` (or None). The order is:

1. the config value, when set and not blank;
2. ``$CREDENTIALS_DIRECTORY/<credential name>`` — what systemd's
   ``LoadCredential=``/``LoadCredentialEncrypted=``/``SetCredentialEncrypted=``
   hand the service (a file only the service can read; nothing on disk or in
   ``systemctl show``);
3. the environment variable (e.g. from ``EnvironmentFile=``).

Each family names the credentials it reads in its descriptor
(:attr:`bridge.infra.family.Family.credentials`; :func:`credentials` lists them all:
``pocketpaw-status-key``, ``pocketpaw-token``, ``agp-api-key``, ``mqtt_password``),
and the README's credentials table and ``systemd/agentlight.service`` name them too.
Its code calls :func:`resolve_secret`::

    from bridge.infra.credentials import resolve_secret
    password = resolve_secret(options.password, "AGENTLIGHT_MQTT_PASSWORD", "mqtt_password")

:func:`warn_if_exposed` warns when a config file, or a file an option names as
holding a secret (the family's ``secret_files``), can be read by every user on
the machine.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bridge.infra.errors import ConfigError
from bridge.infra.files import FileRefused, read_limited
from bridge.infra.secret import Secret

if TYPE_CHECKING:
    from bridge.infra.family import Family

log = logging.getLogger("agentlight.service")

_MAX_BYTES = 64 * 1024  # a key or token, never a file this big


def resolve_secret(
    config_value: Secret | str | None,
    env_var: str | None,
    credential_name: str | None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Secret | None:
    """The secret from config, else the systemd credential, else the environment.

    Surrounding whitespace (a credential file's trailing newline) is stripped;
    a blank value counts as unset. Raises :class:`ConfigError` naming the
    credential (never its value) when the credential file exists but cannot be read.
    """
    value = _nonblank(config_value)
    if value is not None:
        return value
    env = os.environ if environ is None else environ
    if credential_name:
        value = read_credential(credential_name, environ=env)
        if value is not None:
            return value
    if env_var:
        return _nonblank(env.get(env_var))
    return None


def read_credential(name: str, *, environ: Mapping[str, str] | None = None) -> Secret | None:
    """``$CREDENTIALS_DIRECTORY/<name>`` as a Secret; None when there is no such credential."""
    env = os.environ if environ is None else environ
    directory = env.get("CREDENTIALS_DIRECTORY", "")
    if not directory:
        return None
    if not name or "/" in name or name in (".", ".."):
        raise ConfigError(f"not a valid credential name: {name!r}", key="credentials")
    path = Path(directory) / name
    try:
        # Non-blocking, regular files only, capped: a FIFO here would hang start-up.
        data = read_limited(
            path, limit=_MAX_BYTES, what=f"systemd credential {name!r}", show_path=False
        )
    except FileNotFoundError:
        return None
    except FileRefused as err:
        raise ConfigError(str(err), key="credentials") from None
    except OSError as err:
        raise ConfigError(
            f"cannot read systemd credential {name!r}: {err.strerror or err}", key="credentials"
        ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(
            f"systemd credential {name!r} is not UTF-8 text (the value is not shown)",
            key="credentials",
        ) from None
    return _nonblank(text)


def _nonblank(value: Secret | str | None) -> Secret | None:
    if value is None:
        return None
    text = value.reveal() if isinstance(value, Secret) else value
    text = text.strip()
    return Secret(text) if text else None


# -- config files holding secrets ------------------------------------------------


def secret_fields(config: Any) -> list[str]:
    """``sources.<name>.<field>`` for every secret set in a loaded config's options
    (and ``api.token``)."""
    found = []
    for group in ("sources", "devices"):
        for entry in getattr(config, group, ()):
            for field, value in _fields(entry.options):
                if isinstance(value, Secret) and value:
                    found.append(f"{group}.{entry.name}.{field}")
    api = getattr(config, "api", None)
    if api is not None and api.token:
        found.append("api.token")
    return found


def secret_files(config: Any) -> list[tuple[str, Path]]:
    """(``sources.<name>.<field>``, path) for every option naming a file that holds a secret.

    Which options do is the family's to say (its descriptor's ``secret_files``).
    """
    found = []
    for group in ("sources", "devices"):
        for entry in getattr(config, group, ()):
            fields = _family(group, entry.type).secret_files
            for field, value in _fields(entry.options):
                if field in fields and isinstance(value, str) and value:
                    found.append((f"{group}.{entry.name}.{field}", Path(value).expanduser()))
    api = getattr(config, "api", None)
    if api is not None and api.token_file:
        found.append(("api.token_file", Path(api.token_file).expanduser()))
    return found


#: Credentials the bridge itself reads (not a source's or a device's).
BRIDGE_CREDENTIALS = {
    "agentlight-api-token": "the local API's token ([api] token, AGENTLIGHT_API_TOKEN)",
}


def credentials() -> dict[str, str]:
    """Every systemd credential the bridge and its built-in families read, and what it holds."""
    from bridge.sources import SOURCES
    from devices import DRIVERS

    found = {c.name: c.holds for family in (*SOURCES, *DRIVERS) for c in family.credentials}
    return {**found, **BRIDGE_CREDENTIALS}


def _family(group: str, type_name: str) -> Family:
    # The registries import only the families' descriptors (no I/O library).
    if group == "sources":
        from bridge.sources import family_of as source_family

        return source_family(type_name)
    from devices import family_of as device_family

    return device_family(type_name)


def _fields(options: Any) -> Iterator[tuple[str, Any]]:
    if dataclasses.is_dataclass(options) and not isinstance(options, type):
        for f in dataclasses.fields(options):
            yield f.name, getattr(options, f.name)


def world_readable(path: Path) -> bool:
    """True when every user on the machine may read ``path``."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return bool(mode & stat.S_IROTH)


def warn_if_exposed(config: Any) -> list[str]:
    """Warn (one line each) about secrets in files every user can read; returns the lines."""
    lines = []
    file = getattr(config, "file", None)
    if file and not file.startswith("<"):
        fields = secret_fields(config)
        if fields and world_readable(Path(file)):
            lines.append(
                f"{file} holds a secret ({', '.join(fields)}) and every user on this machine "
                f"can read it: run `chmod o-r {file}`, or move the secret to a systemd "
                "credential (LoadCredential=) or the environment"
            )
    for field, path in secret_files(config):
        if world_readable(path):
            lines.append(
                f"{path} ({field}) holds a secret and every user on this machine can read "
                f"it: run `chmod o-r {path}`"
            )
    for line in lines:
        log.warning("%s", line)
    return lines
