"""Apply a re-read config to a running engine (SIGHUP, ``systemctl reload``).

Only what changed is touched: a new theme is swapped in (looks it leaves alone
keep their effect phase), devices are added, removed or replaced by name,
sources whose entry changed are restarted and the others keep their server
connection, and the local API is started, restarted or stopped when its
``[api]`` table changed (its event streams end then; their clients reconnect).
Everything new is built before anything is applied, so a config
that does not load — or a device or source that rejects its options — is
refused with one log line while the running config carries on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bridge.infra.errors import ConfigError
from bridge.infra.threads import FILES, Strand

if TYPE_CHECKING:
    from bridge.api.options import ApiOptions
    from bridge.engine import Device, Engine
    from bridge.infra.config import Config, DeviceConfig, SourceConfig

log = logging.getLogger("agentlight.service")


@dataclass
class Plan:
    """What a reload changes, by name."""

    theme: bool = False
    settings: list[str] = field(default_factory=list)
    devices_added: list[str] = field(default_factory=list)
    devices_removed: list[str] = field(default_factory=list)
    devices_changed: list[str] = field(default_factory=list)
    sources_added: list[str] = field(default_factory=list)
    sources_removed: list[str] = field(default_factory=list)
    sources_changed: list[str] = field(default_factory=list)
    #: "added", "removed", "changed" or "" for the ``[api]`` table.
    api: str = ""

    def describe(self) -> str:
        parts = ["theme"] if self.theme else []
        parts += self.settings
        if self.api:
            parts.append(f"api {self.api}")
        for what, names in (
            ("devices added", self.devices_added),
            ("devices removed", self.devices_removed),
            ("devices changed", self.devices_changed),
            ("sources added", self.sources_added),
            ("sources removed", self.sources_removed),
            ("sources restarted", self.sources_changed),
        ):
            if names:
                parts.append(f"{what}: {', '.join(names)}")
        return "; ".join(parts) or "nothing changed"


def plan(old: Config, new: Config) -> Plan:
    p = Plan(theme=new.theme != old.theme)
    for name in ("on_exit", "shutdown_timeout", "log_level", "answers"):
        if getattr(new, name) != getattr(old, name):
            p.settings.append(name)
    p.devices_added, p.devices_removed, p.devices_changed = _diff(old.devices, new.devices)
    p.sources_added, p.sources_removed, p.sources_changed = _diff(old.sources, new.sources)
    if new.api != old.api:
        p.api = "added" if old.api is None else "removed" if new.api is None else "changed"
    return p


def _diff(
    old: Sequence[DeviceConfig | SourceConfig], new: Sequence[DeviceConfig | SourceConfig]
) -> tuple[list[str], list[str], list[str]]:
    """Names of the entries added, removed and changed, in config order."""
    before = {entry.name: entry for entry in old}
    after = {entry.name: entry for entry in new}
    added = [name for name in after if name not in before]
    removed = [name for name in before if name not in after]
    changed = [name for name in after if name in before and after[name] != before[name]]
    return added, removed, changed


def build_device(entry: DeviceConfig) -> Device:
    """The driver for one ``[[devices]]`` entry, as ``bridge.app.build_engine`` makes it."""
    from bridge.engine import Device
    from devices import driver_class

    driver = driver_class(entry.type)(entry.name, entry.options)
    driver.override_caps(fps=entry.fps, refresh=entry.refresh)
    return Device(driver, entry.show)


def build_source(entry: SourceConfig, engine: Engine) -> Any:
    from bridge.sources import source_class

    return source_class(entry.type)(entry.name, entry.options, engine.publish)


class Reloader:
    """Re-reads the config with ``load`` and applies the difference to ``engine``.

    :param config: the config the engine runs now.
    :param load: reads the config again (raises :class:`ConfigError` when it is wrong).
    :param on_log_level: called with a changed ``[bridge] log_level``; None when
        ``-v``/``-q`` fixed the level on the command line.
    :param on_api: applies a changed ``[api]`` table (None: stop the API).
    """

    def __init__(
        self,
        engine: Engine,
        config: Config,
        load: Callable[[], Config],
        *,
        on_log_level: Callable[[str], None] | None = None,
        on_api: Callable[[ApiOptions | None], Awaitable[None]] | None = None,
    ) -> None:
        self.engine = engine
        self.config = config
        self._load = load
        self._on_log_level = on_log_level
        self._on_api = on_api
        self._lock = asyncio.Lock()
        self._strand = Strand(FILES)
        self.reloads = 0

    async def reload(self) -> str | None:
        """Apply the config file as it is now; returns None, or why it was refused."""
        async with self._lock:
            return await self._reload()

    async def _reload(self) -> str | None:
        from bridge.infra.credentials import warn_if_exposed

        where = self.config.file or "the config"
        try:
            # On a thread: the config and every file it names (theme, token files) are
            # read non-blocking and capped, but a slow mount must not hold the loop.
            new = await self._strand.run(self._load)
            p = plan(self.config, new)
            devices = {
                d.name: build_device(d)
                for d in new.devices
                if d.name in p.devices_added or d.name in p.devices_changed
            }
            sources = {
                s.name: build_source(s, self.engine)
                for s in new.sources
                if s.name in p.sources_added or s.name in p.sources_changed
            }
        except (ConfigError, ValueError, KeyError, OSError) as err:
            reason = f"config error: {err}" if isinstance(err, ConfigError) else str(err)
            log.error("reload refused, still running the previous config: %s", reason)
            return "last reload refused (see the log)"
        warn_if_exposed(new)
        failures = await self._apply(new, p, devices, sources)
        self.config = new
        self.reloads += 1
        if failures:
            log.error("reloaded %s partly: %s; failed: %s", where, p.describe(), failures)
            return "last reload partly failed (see the log)"
        log.info("reloaded %s: %s", where, p.describe())
        return None

    async def _apply(
        self, new: Config, p: Plan, devices: dict[str, Device], sources: dict[str, Any]
    ) -> str:
        engine = self.engine
        failed: list[str] = []

        async def step(what: str, aw: Any) -> None:
            try:
                await aw
            except Exception as err:
                log.warning("reload: %s failed: %s", what, err)
                failed.append(what)

        if p.theme:
            engine.set_theme(new.theme)
        engine.on_exit = new.on_exit
        engine.shutdown_timeout = new.shutdown_timeout
        engine.set_answers(new.answers)
        if "log_level" in p.settings and self._on_log_level is not None and new.log_level:
            self._on_log_level(new.log_level)
        for name in p.sources_removed + p.sources_changed:
            await step(f"stopping source {name}", engine.remove_source(name))
        for name, source in sources.items():
            await step(f"starting source {name}", engine.add_source(source))
        for name in p.devices_removed:
            await step(f"removing device {name}", engine.remove_device(name))
        for name, device in devices.items():
            if name in p.devices_changed:
                await step(f"replacing device {name}", engine.replace_device(device))
            else:
                await step(f"adding device {name}", engine.add_device(device))
        if p.api and self._on_api is not None:
            # Last: sources and devices never wait for the API (nor its library's import).
            what = "stopping the api" if new.api is None else "starting the api"
            await step(what, self._on_api(new.api))
        elif p.api:
            log.warning("reload: the [api] change applies after a restart")
        return ", ".join(failed)
