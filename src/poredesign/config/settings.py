"""Typed settings: a frozen dataclass per config section, built from the validated section, whose
field defaults equal the schema's."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from poredesign.config.errors import ConfigError

S = TypeVar("S", bound="Settings")


class Settings:
    """Base of the typed settings: a frozen dataclass whose fields are the keys of the config
    section :attr:`SECTION` (dotted), with the schema's defaults.

    ``from_config(section)`` builds one from the validated section; keys the section holds for
    other readers are named in :attr:`IGNORED` (anything else is refused). :meth:`as_record` gives
    the fields as a mapping in the order of the section they were built from (the study file's
    keys, then the schema's), as results record their settings.
    """

    SECTION: ClassVar[str] = ""
    IGNORED: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_config(cls: type[S], section: Mapping[str, Any]) -> S:
        """The settings of the validated config section ``section`` (:attr:`SECTION`)."""
        return settings_from_section(cls, section)

    def as_record(self) -> dict[str, Any]:
        """The fields (nested settings as mappings), in the order of the section they were read
        from, fields it did not name after them."""
        names = [f.name for f in dataclasses.fields(self)]  # type: ignore[arg-type]
        order = [n for n in getattr(self, "_key_order", ()) if n in names]
        record = {}
        for name in order + [n for n in names if n not in order]:
            value = getattr(self, name)
            record[name] = value.as_record() if isinstance(value, Settings) else value
        return record


def _frozen(value: Any) -> Any:
    """Lists as tuples (nested too), so frozen settings hold no mutable sequence."""
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return value


def _settings_type(hint: Any) -> type[Settings] | None:
    """The settings type a field annotation names (``X`` or ``X | None``), else None."""
    options = typing.get_args(hint) or (hint,)
    for option in options:
        if isinstance(option, type) and issubclass(option, Settings):
            return option
    return None


def settings_from_section(cls: type[S], section: Mapping[str, Any], key: str | None = None) -> S:
    """An instance of the settings dataclass ``cls`` from the config section ``section`` (dotted
    name ``key``, default ``cls.SECTION``): each key sets the field of its name (values as given,
    lists as tuples, nested sections as their own settings types); a key that is neither a
    field nor in ``cls.IGNORED`` raises :class:`ConfigError` naming it; fields the section omits
    keep their defaults (the schema's)."""
    key = key if key is not None else cls.SECTION
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    if not isinstance(section, Mapping):
        raise ConfigError(f"config key '{key}': expected a mapping, got {section!r}")
    unknown = sorted(set(section) - set(fields) - set(cls.IGNORED))
    if unknown:
        raise ConfigError(
            f"config key{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(u) for u in unknown)} in '{key}' "
            f"{'are' if len(unknown) > 1 else 'is'} not settings of {cls.__name__}; allowed keys: "
            f"{', '.join(sorted(set(fields) | set(cls.IGNORED)))}"
        )
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in section.items():
        if name not in fields:
            continue
        nested = _settings_type(hints.get(name))
        if nested is not None and isinstance(value, Mapping):
            values[name] = settings_from_section(nested, value, f"{key}.{name}")
        else:
            values[name] = _frozen(value)
    settings = cls(**values)
    object.__setattr__(settings, "_key_order", tuple(n for n in section if n in fields))
    return settings
