"""Load the toolchain matrix (plus an optional fleet overlay) into typed objects.

Every problem is raised as :class:`~wheelfleet.errors.InputError` naming the file and key.
"""

from __future__ import annotations

import copy
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from wheelfleet.errors import InputError
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

TOP_KEYS = ["schema", "tools", "canary", "windows_compilers", "windows_sources", "macos",
            "linux_image_pythons", "images", "eol_policies", "pythons", "platforms"]
PYTHON_KEYS = ["version", "state", "abi_tags", "free_threaded", "windows", "macos", "linux"]
PYTHON_STATES = ["eol", "security", "bugfix", "pre-release"]
IMAGE_KEYS = ["policy", "arch", "repository", "digest", "tag", "base", "state", "glibc",
              "musl", "pythons", "note"]
IMAGE_STATES = ["supported", "alpha", "eol", "test"]
MAC_KEYS = ["source", "abi_tag", "arches", "min_macos", "universal2", "pkg_version",
            "pkg_suffix", "sha256", "caveats"]
MAC_SOURCES = ["pkg", "pkg_freethreaded", "pyenv_ucs4"]
WIN_KEYS = ["compiler", "abi_tag", "arches"]
WIN_SOURCES = ["nuget", "msi"]
COMPILER_KEYS = ["msc_ver", "runtime", "runtime_dlls", "toolsets", "provided_by", "install",
                 "components", "detect", "caveats"]
SCHEMA_VERSION = 1


def default_matrix_text() -> str:
    return resources.files("wheelfleet").joinpath("data/matrix.yaml").read_text()


def read_yaml(path: Path | str, text: str | None = None) -> Any:
    """Parse YAML, turning syntax errors into one line with the file and position."""
    name = str(path)
    try:
        if text is None:
            text = Path(path).read_text()
    except OSError as err:
        raise InputError(name, "<file>", f"cannot read: {err.strerror}") from None
    try:
        return yaml.safe_load(text)
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


def check_overlay(over: Any, name: str, base: dict[str, Any]) -> None:
    """An overlay may only set keys the matrix schema knows; images are full entries."""
    r = Reader(over, name)
    r.require_mapping(["schema", "tools", "canary", "windows_compilers", "macos", "images",
                       "eol_policies", "pythons"])
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
                  macos=dict(top.child("macos").data or {}), platform_arches=platform_arches,
                  windows_vc_runtime_dlls=vc_runtime_dlls, macos_arm64_floor=macos_arm64_floor,
                  eol_policies=eol_policies, files=files)


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


__all__ = ["load_matrix", "read_yaml", "reject_unknown_keys", "InputError"]
