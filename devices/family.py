"""The descriptor a device family exports from its package's ``__init__.py``.

Light on purpose: the registry (:data:`devices.DRIVERS`) imports every family's
``__init__.py``, and ``check`` and ``run`` read them before any driver is imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bridge.infra.family import Family, load

if TYPE_CHECKING:
    from devices.survey import Section


@dataclass(frozen=True, kw_only=True)
class DeviceFamily(Family):
    """A device family (see :class:`~bridge.infra.family.Family` for the common keys).

    :param driver: ``"module:Class"`` of its :class:`~devices.base.Driver`
        (imported only when the device is built).
    :param survey: for hardware, ``"module:function"`` of what ``agentlight devices``
        calls to list what is attached: no arguments, returns a
        :class:`devices.survey.Section`, imports its library inside and turns a
        missing library or permission into a ``problem`` line naming the fix.
    :param udev_rules: ``"package:path"`` of the udev rules file giving users access
        to the hardware, printed by ``agentlight devices --udev-rules``.
    """

    driver: str
    survey: str = ""
    udev_rules: str = ""

    def driver_class(self) -> Any:
        """The :class:`~devices.base.Driver` subclass."""
        return load(self.driver)

    def run_survey(self) -> Section:
        """What is attached, from the family's survey (which must exist)."""
        section: Section = load(self.survey)()
        return section

    def udev_text(self) -> str:
        """The text of its udev rules file ("" when it ships none)."""
        if not self.udev_rules:
            return ""
        from importlib.resources import files

        package, _, path = self.udev_rules.partition(":")
        return files(package).joinpath(path).read_text(encoding="utf-8")


__all__ = ["DeviceFamily"]
