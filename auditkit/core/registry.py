"""Registries: how auditkit finds its tasks, metrics, dataset formats, endpoint contracts, report formats and runners.

Each kind of extension has one :class:`Registry`. Built-in entries register themselves with the
``register`` decorator where they are defined; other packages add entries through an entry point in
the registry's group (``auditkit.tasks``, ``auditkit.dataset_formats``, ...), loaded the first time
the registry is read. The suite schema, the CLI's help and validation are built from the registries,
so an entry is known everywhere the moment it is registered.

This module sits at the bottom of the layering (it imports nothing of auditkit's but errors), so
any layer can hold a registry without importing the layers above it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib import metadata
from typing import Generic, TypeVar

from .errors import AuditkitError

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries of one kind, filled by decorators and by the entry points of ``group``."""

    def __init__(self, what: str, group: str) -> None:
        self.what = what
        self.group = group
        self._entries: dict[str, T] = {}
        self._plugins_loaded = False

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@TASKS.register("extractive_qa")`` on the class (or function) it names."""

        def add(entry: T) -> T:
            self.add(name, entry)
            return entry

        return add

    def add(self, name: str, entry: T) -> None:
        current = self._entries.get(name)
        if current is not None and current is not entry:
            raise AuditkitError(
                f"two {self.what}s are registered as {name!r}: {_where(current)} and {_where(entry)}",
                hint=f"rename one of them, or uninstall the package that ships the other ({self.group} entry point)",
            )
        self._entries[name] = entry

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for point in metadata.entry_points(group=self.group):
            try:
                loaded = point.load()
            except Exception as exc:  # a broken plug-in must name itself, not crash auditkit with a traceback
                raise AuditkitError(
                    f"the {self.group} entry point {point.name!r} ({point.value}) failed to load: {exc}",
                    hint="fix or uninstall the package that provides it",
                ) from None
            # A plug-in module may register itself with the decorator on import; otherwise the entry point is the entry.
            if point.name not in self._entries:
                self.add(point.name, loaded)

    def get(self, name: str) -> T:
        self._load_plugins()
        try:
            return self._entries[name]
        except KeyError:
            raise AuditkitError(
                f"unknown {self.what} {name!r}",
                hint=f"known: {', '.join(self.names()) or 'none'}",
            ) from None

    def __contains__(self, name: object) -> bool:
        self._load_plugins()
        return name in self._entries

    def names(self) -> list[str]:
        self._load_plugins()
        return list(self._entries)

    def items(self) -> Iterator[tuple[str, T]]:
        self._load_plugins()
        return iter(list(self._entries.items()))

    def values(self) -> list[T]:
        self._load_plugins()
        return list(self._entries.values())


def _where(entry: object) -> str:
    return f"{getattr(entry, '__module__', '?')}.{getattr(entry, '__qualname__', repr(entry))}"
