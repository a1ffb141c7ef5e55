"""Load the toolchain matrix (plus an optional fleet overlay) into typed objects.

Every problem is raised as :class:`~wheelfleet.errors.InputError` naming the file and key.
"""

from __future__ import annotations

import copy
import re
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from wheelfleet.errors import InputError
from wheelfleet.lock.records import read_python_locks
from wheelfleet.matrix.model import (
    DIGEST_RE,
    PLATFORMS,
    SHA256_RE,
    Image,
    LinuxPython,
    MacPython,
    Matrix,
    Python,
    Tool,
    WindowsCompiler,
    WindowsPython,
)
from wheelfleet.matrix.reader import Reader, reject_unknown_keys
from wheelfleet.settings import control_free, grammar, shown

TOP_KEYS = ["schema", "tools", "canary", "windows_compilers", "windows_sources", "macos",
            "linux_image_pythons", "images", "eol_policies", "pythons", "platforms",
            "python_locks", "windows_openssl"]
PYTHON_KEYS = ["version", "state", "abi_tags", "free_threaded", "windows", "macos", "linux"]
PYTHON_STATES = ["eol", "security", "bugfix", "pre-release"]
IMAGE_KEYS = ["policy", "arch", "repository", "digest", "tag", "base", "state", "glibc",
              "musl", "pythons", "note"]
IMAGE_STATES = ["supported", "alpha", "eol", "test"]
MAC_KEYS = ["source", "abi_tag", "arches", "min_macos", "universal2", "pkg_version",
            "pkg_suffix", "sha256", "caveats"]
MAC_SOURCES = ["pkg", "pkg_freethreaded", "pyenv_ucs4"]
WIN_KEYS = ["compiler", "abi_tag", "arches"]
WIN_SOURCES = ["nuget", "msi", "exe"]
COMPILER_KEYS = ["msc_ver", "runtime", "runtime_dlls", "toolsets", "provided_by", "install",
                 "components", "detect", "caveats"]
SCHEMA_VERSION = 1


def default_matrix_text() -> str:
    return resources.files("wheelfleet").joinpath("data/matrix.yaml").read_text()


_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path | str, text: str | None = None) -> Any:
    """Parse YAML, turning syntax errors into one line with the file and position."""
    name = str(path)
    try:
        if text is None:
            text = Path(path).read_text()
    except OSError as err:
        raise InputError(name, "<file>", f"cannot read: {err.strerror}") from None
    try:
        # libyaml's parser when PyYAML has it: the same safe subset, several times faster,
        # and the matrix is parsed on every run.
        return yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "<yaml>"
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise InputError(name, where, f"invalid YAML: {problem}") from None


def load_matrix(overlay: Path | str | None = None) -> Matrix:
    """The shipped matrix, with a fleet overlay merged on top when given.

    >>> m = load_matrix()
    >>> m.pythons["3.4"].windows.compiler
    'vc10'
    """
    base_name = "wheelfleet/data/matrix.yaml"
    data = read_yaml(base_name, default_matrix_text())
    files = [base_name]
    if overlay is not None:
        over = read_yaml(overlay)
        check_overlay(over, str(overlay), data)
        data = merge(data, over)
        files.append(str(overlay))
    # Values from an overlay are validated with everything else; name both files then.
    return build_matrix(data, " + ".join(files) if len(files) > 1 else base_name, files)


# (overlay path, its stat) -> Matrix; see matrix_for_selection.
_SHARED: dict[tuple[str | None, tuple[int, int, int] | None], Matrix] = {}


def matrix_for_selection(overlay: Path | None = None) -> Matrix:
    """:func:`load_matrix`, parsed once per process for each overlay file as it is now.

    A pyinfra run validates every host's selection in one process, and most hosts share the
    shipped matrix or one overlay: parsing it again per host cost 20 ms a host.  An overlay
    rewritten since (another size, inode or modification time) is parsed again.  Callers
    read the matrix; none may change it.
    """
    stat = None
    if overlay is not None:
        info = Path(overlay).stat()
        stat = (info.st_ino, info.st_size, info.st_mtime_ns)
    key = (str(overlay) if overlay is not None else None, stat)
    matrix = _SHARED.get(key)
    if matrix is None:
        matrix = _SHARED[key] = load_matrix(overlay)
    return matrix


def check_overlay(over: Any, name: str, base: dict[str, Any]) -> None:
    """An overlay may only set keys the matrix schema knows; images are full entries."""
    r = Reader(over, name)
    r.require_mapping(["schema", "tools", "canary", "windows_compilers", "windows_sources",
                       "macos", "images", "eol_policies", "pythons", "python_locks",
                       "windows_openssl"])
    arches = {p: dict(base["platforms"][p]["arches"]) for p in PLATFORMS}
    images = r.raw("images") or []
    if not isinstance(images, list):
        raise r.fail("images", "expected a list of images")
    for i in range(len(images)):
        img = r.child("images").child(i)
        img.require_mapping(IMAGE_KEYS)
        read_image(img, {}, arches)
    for pid in r.raw("pythons") or {}:
        if pid not in base["pythons"]:
            raise r.child("pythons").fail(str(pid), "unknown Python; an overlay can lock or "
                                          "adjust the matrix's Pythons, not add new ones")
    check_overlay_fields(r)


def merge(base: Any, over: Any) -> Any:
    """Deep-merge ``over`` onto ``base``; images are replaced by (policy, arch) or appended."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            if key == "images" and isinstance(value, list):
                out[key] = merge_images(base.get(key) or [], value)
            else:
                out[key] = merge(base.get(key), value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(over)


def merge_images(base: list[dict[str, Any]], over: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = [dict(i) for i in base]
    for image in over:
        key = (image.get("policy"), image.get("arch"))
        out = [i for i in out if (i.get("policy"), i.get("arch")) != key]
        out.append(dict(image))
    return out


def build_matrix(data: Any, name: str, files: list[str]) -> Matrix:
    top = Reader(data, name)
    top.require_mapping(TOP_KEYS)
    if top.raw("schema") != SCHEMA_VERSION:
        raise top.fail("schema", f"expected {SCHEMA_VERSION}, got {top.raw('schema')!r}")

    platforms = top.child("platforms")
    platforms.require_mapping(list(PLATFORMS))
    platform_arches = {p: platforms.child(p).str_map("arches") for p in PLATFORMS}
    vc_runtime_dlls = dll_patterns(platforms.child("windows"), "vc_runtime_dlls")
    macos_arm64_floor = macos_version(top.child("macos"), "arm64_min_version")

    eol = top.child("eol_policies")
    eol.require_mapping()
    eol_policies = {str(k): parse_date(eol, str(k), v) for k, v in eol.data.items()}

    tools_r = top.child("tools")
    tools_r.require_mapping()
    tools = {}
    for tname in tools_r.data:
        t = tools_r.child(tname)
        t.require_mapping(["version", "platform", "note"])
        platform = t.string("platform")
        if platform not in PLATFORMS:
            raise t.fail("platform", f"expected one of {', '.join(PLATFORMS)}, got {platform!r}")
        tools[tname] = Tool(tname, t.string("version"), platform, t.string("note", optional=True,
                                                                     default=""))

    comps_r = top.child("windows_compilers")
    comps_r.require_mapping()
    compilers = {cid: read_compiler(comps_r.child(cid), cid) for cid in comps_r.data}

    pys_r = top.child("pythons")
    pys_r.require_mapping()
    pythons = {str(pid): read_python(pys_r.child(str(pid)), str(pid), compilers, platform_arches)
               for pid in pys_r.data}

    images_r = top.child("images")
    if not isinstance(images_r.data, list):
        raise top.fail("images", "expected a list of images")
    images = []
    seen: set[tuple[str, str]] = set()
    for i in range(len(images_r.data)):
        img_r = images_r.child(i)
        img_r.require_mapping(IMAGE_KEYS)
        image = read_image(img_r, eol_policies, platform_arches)
        if (image.policy, image.arch) in seen:
            raise img_r.fail(None, f"duplicate image for {image.policy} {image.arch}")
        seen.add((image.policy, image.arch))
        images.append(image)

    canary = top.child("canary")
    canary.require_mapping(["build_requirements"])
    build_requirements = canary.str_list("build_requirements")
    for i, req in enumerate(build_requirements):
        if "==" not in req:
            raise canary.child("build_requirements").fail(
                i, f"expected a pinned requirement NAME==VERSION, got {req!r}")

    return Matrix(canary_build_requirements=build_requirements, pythons=pythons, images=images,
                  tools=tools, windows_compilers=compilers,
                  windows_sources=dict(top.child("windows_sources").data or {}),
                  # read and checked where it is used (health.windows_plan.openssl_archive)
                  windows_openssl=dict(top.child("windows_openssl").data or {}),
                  macos=dict(top.child("macos").data or {}), platform_arches=platform_arches,
                  windows_vc_runtime_dlls=vc_runtime_dlls, macos_arm64_floor=macos_arm64_floor,
                  eol_policies=eol_policies, files=files,
                  # wheelfleet lock's hashes of the Python packages converges install
                  python_locks=read_python_locks(top.child("python_locks")))


def parse_date(r: Reader, key: str, value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise r.fail(key, f"expected a date YYYY-MM-DD, got {value!r}") from None


def read_compiler(r: Reader, cid: str) -> WindowsCompiler:
    r.require_mapping(COMPILER_KEYS)
    install = r.child("install")
    install.require_mapping()
    sha = install.raw("sha256")
    if sha is not None and not (isinstance(sha, str) and SHA256_RE.match(sha)):
        raise install.fail("sha256", f"expected 64 lowercase hex digits or null, got {sha!r}")
    components = {k: tuple(r.child("components").str_list(k))
                  for k in (r.raw("components") or {})}
    return WindowsCompiler(
        id=cid, msc_ver=r.integer("msc_ver"), runtime=r.string("runtime"),
        toolsets=tuple(r.str_list("toolsets")), provided_by=r.string("provided_by"),
        install=dict(install.data), components=components,
        caveats=tuple(r.str_list("caveats", optional=True)),
        runtime_dlls=dll_patterns(r, "runtime_dlls"))


def dll_patterns(r: Reader, key: str) -> tuple[str, ...]:
    """A list of lower-case DLL names or fnmatch patterns (``api-ms-win-crt-*.dll``)."""
    patterns = r.str_list(key)
    for i, pattern in enumerate(patterns):
        if pattern != pattern.lower() or not pattern.endswith(".dll"):
            raise r.child(key).fail(i, "expected a lower-case DLL name or pattern ending in "
                                    f".dll, got {pattern!r}")
    return tuple(patterns)


def macos_version(r: Reader, key: str) -> tuple[int, int]:
    """A quoted macOS version ``"MAJOR.MINOR"`` as a tuple."""
    value = r.raw(key)
    major, _, minor = str(value).partition(".")
    if not isinstance(value, str) or not (major.isdigit() and minor.isdigit()):
        raise r.fail(key, f"expected a macOS version like '11.0' (quoted), got {value!r}")
    return int(major), int(minor)


def read_python(r: Reader, pid: str, compilers: dict[str, WindowsCompiler],
                platform_arches: dict[str, dict[str, str]]) -> Python:
    r.require_mapping(PYTHON_KEYS)
    state = r.string("state")
    if state not in PYTHON_STATES:
        raise r.fail("state", f"expected one of {', '.join(PYTHON_STATES)}, got {state!r}")
    version = r.raw("version")
    if not isinstance(version, str) or not all(p.isdigit() for p in version.split(".")):
        raise r.fail("version", f"expected a version string like '3.12.10' (quoted), got "
                     f"{version!r}")
    windows = macos = linux = None
    if r.has("windows"):
        w = r.child("windows")
        w.require_mapping(WIN_KEYS)
        compiler = w.string("compiler")
        if compiler not in compilers:
            raise w.fail("compiler", f"unknown compiler {compiler!r}; expected one of "
                         f"{', '.join(compilers)}")
        arches = w.str_map("arches")
        for arch, source in arches.items():
            if arch not in platform_arches["windows"]:
                raise w.child("arches").fail(arch, "unknown Windows arch; expected one of "
                                             + ", ".join(platform_arches["windows"]))
            if source not in WIN_SOURCES:
                raise w.child("arches").fail(arch, f"expected one of {', '.join(WIN_SOURCES)}, "
                                             f"got {source!r}")
        windows = WindowsPython(compiler, w.string("abi_tag"), arches)
    if r.has("macos"):
        m = r.child("macos")
        m.require_mapping(MAC_KEYS)
        source = m.string("source")
        if source not in MAC_SOURCES:
            raise m.fail("source", f"expected one of {', '.join(MAC_SOURCES)}, got {source!r}")
        arches_m = m.str_list("arches")
        for arch in arches_m:
            if arch not in platform_arches["macos"]:
                raise m.fail("arches", f"unknown macOS arch {arch!r}; expected one of "
                             + ", ".join(platform_arches["macos"]))
        min_macos = m.str_map("min_macos")
        missing = [a for a in arches_m if a not in min_macos]
        if missing:
            raise m.fail("min_macos", f"no minimum macOS for arch {missing[0]}")
        sha = m.raw("sha256")
        if sha is not None and not (isinstance(sha, str) and SHA256_RE.match(sha)):
            raise m.fail("sha256", f"expected 64 lowercase hex digits or null, got {sha!r}")
        if source != "pyenv_ucs4" and not m.string("pkg_version", optional=True):
            raise m.fail("pkg_version", "missing; a python.org pkg source needs its version")
        macos = MacPython(source=source, abi_tag=m.string("abi_tag", optional=True,
                                                       default=(r.raw("abi_tags") or [""])[0]),
                          arches=tuple(arches_m), min_macos=min_macos,
                          universal2=m.flag("universal2"),
                          pkg_version=m.string("pkg_version", optional=True, default=""),
                          pkg_suffix=m.string("pkg_suffix", optional=True, default=""),
                          sha256=sha, caveats=tuple(m.str_list("caveats", optional=True)))
    if r.has("linux"):
        linux_r = r.child("linux")
        linux_r.require_mapping(["abi_tags", "note"])
        linux = LinuxPython(tuple(linux_r.str_list("abi_tags")),
                            linux_r.string("note", optional=True, default=""))
    return Python(id=pid, version=version, state=state, abi_tags=tuple(r.str_list("abi_tags")),
                  free_threaded=r.flag("free_threaded"), windows=windows, macos=macos,
                  linux=linux)


def read_image(r: Reader, eol_policies: dict[str, date],
               platform_arches: dict[str, dict[str, str]]) -> Image:
    policy = r.string("policy")
    arch = r.string("arch")
    if platform_arches and arch not in platform_arches["linux"]:
        raise r.fail("arch", f"unknown Linux arch {arch!r}; expected one of "
                     + ", ".join(platform_arches["linux"]))
    repository = r.string("repository")
    if "@" in repository or ":" in repository.split("/")[-1]:
        raise r.fail("repository", f"expected a repository without tag or digest, got "
                     f"{repository!r}")
    digest = r.raw("digest")
    if not isinstance(digest, str) or not DIGEST_RE.match(digest):
        raise r.fail("digest", "expected 'sha256:' + 64 lowercase hex digits (images are pinned "
                     f"by digest), got {digest!r}")
    state = r.string("state")
    if state not in IMAGE_STATES:
        raise r.fail("state", f"expected one of {', '.join(IMAGE_STATES)}, got {state!r}")
    return Image(policy=policy, arch=arch, repository=repository, digest=digest, state=state,
                 pythons=tuple(r.str_list("pythons")), base=r.string("base", optional=True,
                                                                   default=""),
                 glibc=str(r.raw("glibc") or ""), musl=str(r.raw("musl") or ""),
                 note=r.string("note", optional=True, default=""),
                 tag=r.string("tag", optional=True, default=""),
                 eol_since=eol_policies.get(policy))


# --- Overlay fields: what a fleet's overlay sets ends up in image references, URLs, file
# names and pip requirements on its hosts, so each has a grammar over the whole string
# (fullmatch: ``$`` would also accept a trailing newline) and no string holds a control
# character.  Free text (notes, caveats) may span lines; it is only ever displayed.
POLICY = re.compile(r"[a-z][a-z0-9_]*")  # manylinux_2_28, musllinux_1_2
DNS_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
OCI_DOMAIN = rf"{DNS_LABEL}(?:\.{DNS_LABEL})*(?::\d{{1,5}})?"
OCI_PATH = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
OCI_REPOSITORY = re.compile(rf"(?:{OCI_DOMAIN}/)?{OCI_PATH}(?:/{OCI_PATH})*")
OCI_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
ABI_TAG = re.compile(r"[a-z]+[0-9]*(?:_[0-9]+)*-[a-z]+[0-9]*[a-z]*")  # cp314-cp314t
DOTTED = re.compile(r"[0-9]+(?:\.[0-9]+)*")  # glibc 2.28, musl 1.2
COMPONENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")  # one safe file-name / path component
PROJECT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")  # PEP 508 name
# http(s) origin, or a placeholder the code fills with one ({feed}), then a path.
URL = re.compile(r"(?:https?://[A-Za-z0-9.-]+(?::\d{1,5})?|\{[a-z_]+\})"
                 r"(?:/[A-Za-z0-9._~+%{}=,@:-]*)*")
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
SHA256 = re.compile(r"[0-9a-f]{64}")
FREE_TEXT = {"note", "caveats", "provided_by", "base"}


def pep440(r: Reader, key: str | int, value: Any) -> str:
    """A PEP 440 version written as packaging normalises it (no spaces, no v prefix)."""
    from packaging.version import InvalidVersion, Version

    if not isinstance(value, str):
        raise r.fail(key, f"expected a PEP 440 version string, got {shown(value)}")
    control_free(r, key, value)
    try:
        ok = str(Version(value)) == value
    except InvalidVersion:
        ok = False
    if not ok:
        raise r.fail(key, f"expected a PEP 440 version like '6.8.2', got {shown(value)}")
    return value


def pinned_requirement(r: Reader, key: str | int, value: Any) -> None:
    """``NAME==VERSION`` with an optional environment marker (``; python_version < '3'``)."""
    from packaging.requirements import InvalidRequirement, Requirement

    expected = "a pinned requirement NAME==VERSION (optionally '; MARKER')"
    if not isinstance(value, str):
        raise r.fail(key, f"expected {expected}, got {shown(value)}")
    control_free(r, key, value)
    try:
        req = Requirement(value)
    except InvalidRequirement:
        raise r.fail(key, f"expected {expected}, got {shown(value)}") from None
    specs = list(req.specifier)
    if (req.url or req.extras or len(specs) != 1 or specs[0].operator != "=="
            or not PROJECT.fullmatch(req.name)):
        raise r.fail(key, f"expected {expected}, got {shown(value)}")
    pep440(r, key, specs[0].version)


def matching(r: Reader, key: str | int, pattern: re.Pattern[str], expected: str) -> None:
    """The value at ``key``, when set, matches ``pattern`` as a whole."""
    value = r.child(key).data if isinstance(key, int) else r.raw(key)
    if value is None:
        return
    if not isinstance(value, str):
        raise r.fail(key, f"expected {expected}, got {shown(value)}")
    grammar(r, key, value, pattern, expected)


def no_control_characters(r: Reader) -> None:
    """Every string in the overlay (keys too), free text aside, is one line."""
    items = (r.data.items() if isinstance(r.data, dict) else
             enumerate(r.data) if isinstance(r.data, list) else ())
    for key, value in items:
        if isinstance(key, str):
            control_free(r, key, key)
        if key in FREE_TEXT:
            continue
        if isinstance(value, str):
            control_free(r, key, value)
        elif isinstance(value, dict | list):
            no_control_characters(r.child(key))


def check_overlay_fields(r: Reader) -> None:
    """Policy names, OCI references, PEP 440 versions, URLs and path components of an overlay
    (``r`` reads the overlay's top level); raises InputError naming the key."""
    no_control_characters(r)
    for i, image in enumerate(r.raw("images") or []):
        img = r.child("images").child(i)
        if not isinstance(image, dict):
            continue
        matching(img, "policy", POLICY, "a policy name like 'manylinux_2_28'")
        matching(img, "repository", OCI_REPOSITORY, "an OCI repository like "
                 "'quay.io/pypa/manylinux_2_28_x86_64' (lower-case path, no tag or digest)")
        matching(img, "digest", DIGEST, "'sha256:' + 64 lowercase hex digits")
        matching(img, "tag", OCI_TAG, "an OCI tag like '2026.10.26-1'")
        for key in ("glibc", "musl"):
            if isinstance(img.raw(key), str):
                matching(img, key, DOTTED, "a version like '2.28'")
        for j in range(len(img.raw("pythons") or [])):
            matching(img.child("pythons"), j, ABI_TAG, "an /opt/python tag like 'cp312-cp312'")
    eol = r.raw("eol_policies")
    if isinstance(eol, dict):
        for policy in eol:
            grammar(r.child("eol_policies"), str(policy), str(policy), POLICY,
                    "a policy name like 'manylinux2014'")
    tools = r.raw("tools")
    if isinstance(tools, dict):
        for tname, tool in tools.items():
            grammar(r.child("tools"), str(tname), str(tname), PROJECT, "a package name")
            if isinstance(tool, dict) and "version" in tool:
                pep440(r.child("tools").child(tname), "version", tool["version"])
    requirements = r.child("canary").raw("build_requirements")
    if isinstance(requirements, list):
        reqs = r.child("canary").child("build_requirements")
        for i, req in enumerate(requirements):
            pinned_requirement(reqs, i, req)
    pythons = r.raw("pythons")
    if isinstance(pythons, dict):
        for pid in pythons:
            mac = r.child("pythons").child(str(pid)).child("macos")
            if isinstance(mac.data, dict):
                matching(mac, "pkg_version", COMPONENT, "a version like '3.12.10'")
                matching(mac, "pkg_suffix", COMPONENT, "a file-name part like 'macos11'")
                matching(mac, "sha256", SHA256, "64 lowercase hex digits")
    urls_in(r)


def urls_in(r: Reader) -> None:
    """Every ``url``/``*_url`` an overlay sets is an http(s) URL of safe characters."""
    items = (r.data.items() if isinstance(r.data, dict) else
             enumerate(r.data) if isinstance(r.data, list) else ())
    for key, value in items:
        if isinstance(key, str) and (key == "url" or key.endswith("_url")) and value is not None:
            matching(r, key, URL, "an http(s) URL without spaces or quotes")
        elif isinstance(value, dict | list):
            urls_in(r.child(key))


__all__ = ["load_matrix", "read_yaml", "reject_unknown_keys", "InputError"]
