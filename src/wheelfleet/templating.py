"""Jinja2 filters that write a value as a string of the config file's own format.

Host data reaches ``containers.conf``, ``storage.conf``, ``registries.conf`` (TOML) and
``daemon.json`` (JSON) through ``src/wheelfleet/templates``.  Settings are validated first
(:mod:`wheelfleet.settings`), and the templates still escape every value for their format, so
that a value that got past validation stays one string of one key.  pyinfra builds the jinja2
environment itself; :data:`JINJA_ENV` is what a ``files.template`` call passes to add these
filters (``jinja_env_kwargs``)::

    files.template(src=..., dest=..., jinja_env_kwargs=jinja_env(), runtime="runc")

and a template writes ``runtime = {{ runtime | toml }}``.
"""

from __future__ import annotations

import json
from typing import Any

from jinja2 import Environment
from jinja2.ext import Extension

# TOML basic strings (toml.io, v1.0.0) have these short escapes; every other control
# character, DEL and anything outside ASCII is written as \uXXXX or \UXXXXXXXX.
_TOML_SHORT = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
               "\r": "\\r"}


def toml_string(value: Any) -> str:
    """``value`` as a TOML basic string, quotes included.

    >>> print(toml_string('runc"\\nhooks_dir = ["/tmp/evil"]'))
    "runc\\"\\nhooks_dir = [\\"/tmp/evil\\"]"
    """
    out = ['"']
    for char in str(value):
        code = ord(char)
        if char in _TOML_SHORT:
            out.append(_TOML_SHORT[char])
        elif 0x20 <= code < 0x7F:
            out.append(char)
        elif 0xD800 <= code <= 0xDFFF:
            # A lone surrogate is no Unicode scalar value: TOML cannot hold it at all.
            raise ValueError(f"cannot write {value!r} as TOML: it holds a lone surrogate")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04X}")
        else:
            out.append(f"\\U{code:08X}")
    out.append('"')
    return "".join(out)


def toml_array(values: Any) -> str:
    """A list of values as a one-line TOML array of basic strings."""
    return "[" + ", ".join(toml_string(v) for v in values) + "]"


def json_value(value: Any) -> str:
    """``value`` as JSON: strings escaped, non-ASCII as \\uXXXX, one line."""
    return json.dumps(value, ensure_ascii=True, sort_keys=True)


class ConfigFormats(Extension):
    """Adds the ``toml``, ``toml_array`` and ``json`` filters to an environment."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters.update(toml=toml_string, toml_array=toml_array, json=json_value)


def jinja_env() -> dict[str, Any]:
    """``jinja_env_kwargs`` for ``files.template`` (a new dict: pyinfra pops from it)."""
    return {"extensions": [f"{__name__}.{ConfigFormats.__name__}"]}
