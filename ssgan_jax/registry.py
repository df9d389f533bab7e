"""A tiny name -> object registry with helpful errors.

Models, losses, penalties and self-supervised tasks are all looked up by the
name given in the config. An unknown name lists the known ones, so a typo in
`--config.loss.name=hinj` is a one-line fix.
"""

from collections.abc import Iterator
from typing import Generic
from typing import TypeVar

from ssgan_jax import errors

T = TypeVar("T")


class Registry(Generic[T]):
  """Maps names to objects (functions, classes or factories)."""

  def __init__(self, kind: str):
    """Creates an empty registry; `kind` names it in error messages."""
    self.kind = kind
    self._items: dict[str, T] = {}

  def register(
    self, name: str, obj: T | None = None, *, overwrite: bool = False
  ):
    """Registers `obj` under `name`; usable as a decorator when obj is None."""

    def _add(o: T) -> T:
      if name in self._items and not overwrite:
        raise ValueError(
          f"{self.kind} {name!r} is already registered; pass overwrite=True"
          " to replace it."
        )
      self._items[name] = o
      return o

    if obj is None:
      return _add
    return _add(obj)

  def unregister(self, name: str) -> None:
    """Removes `name` (used by tests that register temporary entries)."""
    self._items.pop(name, None)

  def get(self, name: str) -> T:
    """Returns the object for `name`, or raises ConfigError listing the names."""
    try:
      return self._items[name]
    except KeyError:
      known = ", ".join(sorted(self._items)) or "(none)"
      raise errors.ConfigError(
        f"unknown {self.kind} {name!r}; choose one of: {known}."
      ) from None

  def names(self) -> list[str]:
    return sorted(self._items)

  def __contains__(self, name: str) -> bool:
    return name in self._items

  def __iter__(self) -> Iterator[str]:
    return iter(sorted(self._items))
