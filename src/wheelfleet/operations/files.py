"""Managed files whose state comes from one read per role (``wheelfleet.facts.once``)."""

from __future__ import annotations

import hashlib
import posixpath
from io import BytesIO, StringIO
from pathlib import Path
from typing import IO, Any

from jinja2 import Environment, StrictUndefined, Template
from pyinfra import host
from pyinfra.api import FileUploadCommand, QuoteString, StringCommand, operation

from wheelfleet.facts.once import file_state
from wheelfleet.operations.fleet import refuse


def rendered(template: str | Path, jinja_env_kwargs: dict[str, Any] | None = None,
             **context: Any) -> StringIO:
    """A Jinja2 template rendered as pyinfra's ``files.template`` renders it (strict, keeping
    the trailing newline, the same environment options), ready for :func:`managed_file`."""
    out = StringIO(_compiled(template, jinja_env_kwargs or {}).render(context))
    out.template = str(template)  # type: ignore[attr-defined]
    return out


# (template, its mtime and size, the environment's options) -> compiled template.
_COMPILED: dict[tuple[str, int, int, str], Template] = {}


def _compiled(template: str | Path, env_kwargs: dict[str, Any]) -> Template:
    # Compiled once per run, not once per host: a template is the same for every host and
    # only its context differs.  The file's stat is part of the key, so an edit is seen.
    stat = Path(template).stat()
    key = (str(template), stat.st_mtime_ns, stat.st_size, repr(sorted(env_kwargs.items())))
    if key not in _COMPILED:
        env = Environment(undefined=StrictUndefined, keep_trailing_newline=True, **env_kwargs)
        _COMPILED[key] = env.from_string(Path(template).read_text())
    return _COMPILED[key]


def _content(src: str | Path | IO[Any]) -> bytes:
    if not isinstance(src, (str, Path)):
        src.seek(0)
        data = src.read()
        src.seek(0)
        return data.encode() if isinstance(data, str) else data
    return Path(src).read_bytes()


@operation()
def managed_file(dest: str, src: str | Path | IO[Any] | None = None,
                 content: str | bytes | None = None, mode: str | None = None):
    """
    Keep *dest* identical to *src* (a local file or file-like object) or to *content*, and,
    when given, at *mode*.  The destination's state is taken from the role's one read of all
    its managed files (``prefetch_files``), or read now when the role did not prefetch it.

    + dest: absolute path on the host
    + src: local path, or a ``StringIO``/``BytesIO`` (see :func:`rendered` for templates)
    + content: the file's text or bytes, instead of *src*
    + mode: octal permission string such as ``"755"``; ``None`` leaves the mode alone

    **Example:**

    .. code:: python

        prefetch_files(["/opt/wheelfleet/health/agent.py"])
        managed_file(name="Health agent", src="agent.py",
                     dest="/opt/wheelfleet/health/agent.py", mode="755")
    """
    if (src is None) == (content is None):
        raise TypeError("managed_file takes exactly one of src and content")
    if content is not None:
        data = content.encode() if isinstance(content, str) else content
    else:
        assert src is not None
        data = _content(src)
    state = file_state(dest)
    if state is not None and state["kind"] != "file":
        # Replacing a directory or a link with a file would destroy what it holds or points
        # to: a person has to look.
        yield from refuse._inner(reason=f"{dest} is a {state['kind']}, not a file; "
                                        "move it away and converge again")
        return
    wanted_mode = (mode.lstrip("0") or "0") if mode else None
    if state is None or state["sha256"] != hashlib.sha256(data).hexdigest():
        parent = posixpath.dirname(dest)
        if state is None and parent not in ("", "/"):
            yield StringCommand("mkdir", "-p", QuoteString(parent))
        yield FileUploadCommand(BytesIO(data), dest,
                                remote_temp_filename=host.get_temp_filename(dest))
        if wanted_mode:
            yield StringCommand("chmod", wanted_mode, QuoteString(dest))
    elif wanted_mode and state["mode"] != wanted_mode:
        yield StringCommand("chmod", wanted_mode, QuoteString(dest))
    else:
        host.noop(f"{dest} is up to date")


@operation()
def managed_directory(path: str, mode: str | None = None):
    """
    Keep *path* a directory (created with its parents) and, when given, at *mode*; state from
    the role's one read (``prefetch_files``) like :func:`managed_file`.

    + path: absolute path on the host
    + mode: octal permission string such as ``"700"``; ``None`` leaves the mode alone

    **Example:**

    .. code:: python

        managed_directory(name="Health check directory", path="/opt/wheelfleet/health")
    """
    state = file_state(path)
    wanted_mode = (mode.lstrip("0") or "0") if mode else None
    if state is not None and state["kind"] != "dir":
        yield from refuse._inner(reason=f"{path} is a {state['kind']}, not a directory; "
                                        "move it away and converge again")
        return
    if state is None:
        yield StringCommand("mkdir", "-p", QuoteString(path))
    if wanted_mode and (state is None or state["mode"] != wanted_mode):
        yield StringCommand("chmod", wanted_mode, QuoteString(path))
    elif state is not None:
        host.noop(f"{path} exists")
