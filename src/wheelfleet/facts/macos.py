"""Facts about a macOS build host: what it runs, what Apple and python.org put on it.

Parsers are tested on the output formats these tools print (tests/spec/facts/macos.*; each
sample says where its format comes from).  Tools are called by absolute path: a non-login
SSH shell on a Mac may not have /usr/sbin on its PATH.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pyinfra.api import FactBase, QuoteString, StringCommand


def _pairs(output: list[str], sep: str = ":") -> dict[str, str]:
    found = {}
    for line in output:
        key, found_sep, value = line.partition(sep)
        if found_sep:
            found[key.strip()] = value.strip()
    return found


class MacosVersion(FactBase):
    """
    ``sw_vers`` and the machine's arch.

    .. code:: python

        {"product": "macOS", "version": "14.5", "build": "23F79", "arch": "arm64"}

    ``version`` is ``None`` on a host that is not a Mac.
    """

    @staticmethod
    def default() -> dict[str, str | None]:
        return {"product": None, "version": None, "build": None, "arch": None}

    def command(self) -> str:
        return "/usr/bin/sw_vers; echo \"Arch: $(/usr/bin/uname -m)\""

    def process(self, output: list[str]) -> dict[str, str | None]:
        pairs = _pairs(output)
        return {"product": pairs.get("ProductName"), "version": pairs.get("ProductVersion"),
                "build": pairs.get("BuildVersion"), "arch": pairs.get("Arch")}


class CommandLineTools(FactBase):
    """
    The Xcode Command Line Tools: where ``xcode-select -p`` points and the CLT receipt's version
    (either ``None`` when absent; installed means both are there).

    .. code:: python

        {"path": "/Library/Developer/CommandLineTools", "version": "15.3.0.0.1.1708646388"}
    """

    @staticmethod
    def default() -> dict[str, str | None]:
        return {"path": None, "version": None}

    def command(self) -> str:
        return ("p=$(/usr/bin/xcode-select -p 2>/dev/null) && [ -d \"$p\" ] && echo \"path: $p\"; "
                "/usr/sbin/pkgutil --pkg-info=com.apple.pkg.CLTools_Executables 2>/dev/null; "
                "true")

    def process(self, output: list[str]) -> dict[str, str | None]:
        pairs = _pairs(output)
        return {"path": pairs.get("path"), "version": pairs.get("version")}


class CommandLineToolsLabel(FactBase):
    """
    The newest "Command Line Tools" label ``softwareupdate --list`` offers (``None``: none).

    softwareupdate offers the CLT only while its on-demand flag file exists; the command
    creates it for the listing and removes it again.

    .. code:: python

        {"label": "Command Line Tools for Xcode-15.3"}
    """

    FLAG = "/tmp/.com.apple.dt.CommandLineTools.installondemand.in-progress"

    @staticmethod
    def default() -> dict[str, str | None]:
        return {"label": None}

    def command(self) -> str:
        return (f"touch {self.FLAG}; /usr/sbin/softwareupdate --list 2>&1; rm -f {self.FLAG}; "
                "true")

    def process(self, output: list[str]) -> dict[str, str | None]:
        labels = [m.group(1).strip() for line in output
                  if (m := re.match(r"^\s*\*\s*Label:\s*(Command Line Tools.*)$", line))]

        def version(label: str) -> tuple[int, ...]:
            found = re.search(r"(\d+(?:\.\d+)*)\s*$", label)
            return tuple(int(x) for x in found.group(1).split(".")) if found else ()

        return {"label": max(labels, key=version) if labels else None}


class RosettaReady(FactBase):
    """
    Whether x86_64 code runs on this Mac (always on Intel; on Apple silicon only with
    Rosetta 2 installed).

    .. code:: python

        {"x86_64_runs": True}
    """

    @staticmethod
    def default() -> dict[str, bool]:
        return {"x86_64_runs": False}

    def command(self) -> str:
        return "/usr/bin/arch -x86_64 /usr/bin/true 2>/dev/null && echo yes || echo no"

    def process(self, output: list[str]) -> dict[str, bool]:
        return {"x86_64_runs": bool(output) and output[-1].strip() == "yes"}


class PkgReceipt(FactBase):
    """
    An installer package's receipt (``pkgutil --pkg-info``), or ``None`` when there is none.

    .. code:: python

        {"package-id": "org.python.Python.PythonFramework-3.12", "version": "3.12.10",
         "volume": "/", "location": "/", "install-time": "1731000000"}
    """

    def command(self, package_id: str) -> StringCommand:
        return StringCommand("/usr/sbin/pkgutil", QuoteString(f"--pkg-info={package_id}"),
                             "2>/dev/null",
                             "||", "true")

    def process(self, output: list[str]) -> dict[str, str] | None:
        pairs = _pairs(output)
        return pairs if "package-id" in pairs and "version" in pairs else None


class Interpreter(FactBase):
    """
    What an installed Python says about itself, and the arches of its executable; ``None``
    when it is absent or does not run.

    .. code:: python

        {"version": "3.12.10", "maxunicode": 1114111, "gil_disabled": False,
         "deployment_target": "10.13", "cafile": "/Library/…/cert.pem", "cafile_exists": True,
         "archs": ["x86_64", "arm64"]}

    ``deployment_target`` is the MACOSX_DEPLOYMENT_TARGET the interpreter was configured with:
    CPython 2.7's distutils refuses to build extensions for an older one.
    """

    PROBE = ("import json, os, platform, ssl, sys, sysconfig; "
             "cafile = ssl.get_default_verify_paths().openssl_cafile; "
             "print(json.dumps({'version': platform.python_version(), "
             "'maxunicode': sys.maxunicode, "
             "'gil_disabled': bool(sysconfig.get_config_var('Py_GIL_DISABLED')), "
             "'deployment_target': sysconfig.get_config_var('MACOSX_DEPLOYMENT_TARGET'), "
             "'cafile': cafile, 'cafile_exists': os.path.exists(cafile)}))")
    PROBE_27 = ("import json, platform, sys, sysconfig; print(json.dumps({'version': "
                "platform.python_version(), 'maxunicode': sys.maxunicode, "
                "'deployment_target': sysconfig.get_config_var('MACOSX_DEPLOYMENT_TARGET')}))")

    def command(self, path: str) -> StringCommand:
        # Python 2.7 has no ssl.get_default_verify_paths() cafile we care about: a short probe.
        return StringCommand(
            "if", "[", "-x", QuoteString(path), "];", "then",
            QuoteString(path), "-c", QuoteString(self.PROBE), "2>/dev/null", "||",
            QuoteString(path), "-c", QuoteString(self.PROBE_27), "2>/dev/null;",
            "echo", "archs:", "$(/usr/bin/lipo", "-archs", QuoteString(path), "2>/dev/null);",
            "fi")

    def process(self, output: list[str]) -> dict[str, Any] | None:
        info: dict[str, Any] | None = None
        archs: list[str] = []
        for line in output:
            if line.startswith("{"):
                try:
                    info = json.loads(line)
                except ValueError:
                    continue
            elif line.startswith("archs:"):
                archs = line.split(":", 1)[1].split()
        if info is None:
            return None
        info["archs"] = archs
        return info


class FileSha256(FactBase):
    """
    The sha256 of a file (``shasum -a 256``), or ``None`` when it does not exist.

    .. code:: python

        "8373e58da4ea146b3eb1c1f9834f19a319440b6b679b06050b1f9ee3237aa8e4"
    """

    def command(self, path: str) -> StringCommand:
        return StringCommand("if", "[", "-f", QuoteString(path), "];", "then",
                             "/usr/bin/shasum", "-a", "256", QuoteString(path), ";", "fi")

    def process(self, output: list[str]) -> str | None:
        for line in output:
            digest = line.split(" ", 1)[0].strip().lower()
            if re.fullmatch(r"[0-9a-f]{64}", digest):
                return digest
        return None


class JsonManifest(FactBase):
    """
    A JSON build manifest a role wrote (the universal OpenSSL's), or ``None`` when absent or
    unreadable.

    .. code:: python

        {"version": "3.0.17", "source_sha256": "…", "arches": ["x86_64", "arm64"], …}
    """

    def command(self, path: str) -> StringCommand:
        return StringCommand("cat", QuoteString(path), "2>/dev/null", "||", "true")

    def process(self, output: list[str]) -> dict[str, Any] | None:
        try:
            value = json.loads("\n".join(output))
        except ValueError:
            return None
        return value if isinstance(value, dict) else None


class PyenvVersion(FactBase):
    """
    The version of the pyenv installed under a root, or ``None``.

    .. code:: python

        "2.6.12"
    """

    def command(self, root: str) -> StringCommand:
        pyenv = f"{root}/bin/pyenv"
        return StringCommand("if", "[", "-x", QuoteString(pyenv), "];", "then", "env",
                             QuoteString(f"PYENV_ROOT={root}"), QuoteString(pyenv),
                             "--version;", "fi")

    def process(self, output: list[str]) -> str | None:
        for line in output:
            words = line.split()
            if len(words) >= 2 and words[0] == "pyenv":
                return words[1]
        return None
