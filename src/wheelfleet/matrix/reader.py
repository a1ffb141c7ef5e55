"""Typed reads of untrusted YAML with errors that name the file and the key path."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from wheelfleet.errors import InputError


class Reader:
    """A view on one mapping of a YAML/Python document, remembering where it is.

    >>> r = Reader({"a": {"b": 1}}, "m.yaml")
    >>> r.child("a").integer("b")
    1
    """

    def __init__(self, data: Any, file: str, path: str = "") -> None:
        self.data = data
        self.file = file
        self.path = path

    def key(self, name: str | int) -> str:
        if isinstance(name, int):
            return f"{self.path}[{name}]"
        return f"{self.path}.{name}" if self.path else str(name)

    def fail(self, name: str | int | None, message: str) -> InputError:
        return InputError(self.file, self.key(name) if name is not None else self.path or "<top>",
                          message)

    def require_mapping(self, allowed: Iterable[str] | None = None) -> None:
        if not isinstance(self.data, dict):
            raise self.fail(None, f"expected a mapping, got {type_name(self.data)}")
        if allowed is not None:
            reject_unknown_keys(self, self.data, list(allowed))

    def has(self, name: str) -> bool:
        return isinstance(self.data, dict) and name in self.data

    def raw(self, name: str, default: Any = None) -> Any:
        return self.data.get(name, default) if isinstance(self.data, dict) else default

    def child(self, name: str | int) -> Reader:
        if isinstance(self.data, list) and isinstance(name, int) and name < len(self.data):
            value = self.data[name]
        elif isinstance(self.data, dict):
            value = self.data.get(name)
        else:
            value = None
        return Reader(value, self.file, self.key(name))

    def string(self, name: str, *, optional: bool = False, default: str | None = None) -> Any:
        value = self.raw(name)
        if value is None:
            if optional:
                return default
            raise self.fail(name, "missing; expected a string")
        if not isinstance(value, str):
            raise self.fail(name, f"expected a string, got {type_name(value)} {value!r}")
        return value

    def integer(self, name: str, *, optional: bool = False) -> Any:
        value = self.raw(name)
        if value is None and optional:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(name, f"expected an integer, got {type_name(value)} {value!r}")
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.raw(name, default)
        if not isinstance(value, bool):
            raise self.fail(name, f"expected true or false, got {value!r}")
        return value

    def str_list(self, name: str, *, optional: bool = False) -> list[str]:
        value = self.raw(name)
        if value is None:
            if optional:
                return []
            raise self.fail(name, "missing; expected a list of strings")
        if not isinstance(value, list | tuple):
            raise self.fail(name, f"expected a list of strings, got {type_name(value)} {value!r}")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise Reader(value, self.file, self.key(name)).fail(
                    i, f"expected a string, got {type_name(item)} {item!r}")
        return list(value)

    def str_map(self, name: str, *, optional: bool = False) -> dict[str, str]:
        value = self.raw(name)
        if value is None and optional:
            return {}
        if not isinstance(value, dict):
            raise self.fail(name, f"expected a mapping of strings, got {type_name(value)}")
        for k, v in value.items():
            if not isinstance(v, str):
                raise Reader(value, self.file, self.key(name)).fail(
                    str(k), f"expected a string, got {type_name(v)} {v!r}")
        return {str(k): v for k, v in value.items()}


def type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", tuple: "a list", str: "a string", int: "an integer",
            float: "a number", bool: "a boolean", type(None): "nothing"}.get(type(value),
                                                                             type(value).__name__)


def reject_unknown_keys(reader: Reader, data: dict[str, Any], allowed: list[str]) -> None:
    """Refuse keys a schema does not know, suggesting the nearest known one (typos)."""
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise reader.fail(str(key), f"unknown key{hint}; expected one of {', '.join(allowed)}")
