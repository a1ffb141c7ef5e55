"""Answers to a release engineer's questions: what does Python X need on platform Y / arch Z?"""

from __future__ import annotations

import functools
import re
from typing import Any

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from wheelfleet.errors import InputError, one_of
from wheelfleet.matrix.model import PLATFORMS, Matrix, Python


def resolve_python(matrix: Matrix, wanted: str, where: str = "--python") -> Python:
    if wanted in matrix.pythons:
        return matrix.pythons[wanted]
    raise InputError("<command line>" if where.startswith("--") else where, where,
                     f"unknown Python {wanted!r}; expected {one_of(matrix.pythons)}")


def describe(matrix: Matrix, python_id: str, platform: str, arch: str | None = None
             ) -> dict[str, Any]:
    """Everything the matrix knows about one Python on one platform (optionally one arch)."""
    py = resolve_python(matrix, python_id)
    if platform not in PLATFORMS:
        raise InputError("<command line>", "--platform",
                         f"unknown platform {platform!r}; expected {one_of(PLATFORMS)}")
    out: dict[str, Any] = {"python": py.id, "version": py.version, "state": py.state,
                           "platform": platform, "free_threaded": py.free_threaded,
                           "pre_release": py.pre_release}
    if platform == "windows":
        out.update(_windows(matrix, py, arch))
    elif platform == "macos":
        out.update(_macos(matrix, py, arch))
    else:
        out.update(_linux(matrix, py, arch))
    return out


def _check_arch(matrix: Matrix, py: Python, platform: str, arch: str | None,
                available: list[str]) -> list[str]:
    if arch is None:
        return available
    if arch not in matrix.platform_arches[platform]:
        raise InputError("<command line>", "--arch", f"unknown {platform} arch {arch!r}; "
                         f"expected {one_of(matrix.platform_arches[platform])}")
    if arch not in available:
        raise InputError("<command line>", "--arch", f"Python {py.id} has no {platform} {arch} "
                         f"interpreter; available: {', '.join(available) or 'none'}")
    return [arch]


def _windows(matrix: Matrix, py: Python, arch: str | None) -> dict[str, Any]:
    if py.windows is None:
        raise InputError("<command line>", "--platform", f"Python {py.id} has no Windows entry")
    win = py.windows
    comp = matrix.windows_compilers[win.compiler]
    nuget = dict(matrix.windows_sources.get("nuget", {}))  # type: ignore[call-overload]
    msi_suffix = dict(matrix.windows_sources.get("msi_suffix", {}))  # type: ignore[call-overload]
    arches = []
    for a in _check_arch(matrix, py, "windows", arch, list(win.arches)):
        kind = win.arches[a]
        if kind == "nuget":
            package = nuget[a] + ("-freethreaded" if py.free_threaded else "")
            source = {"kind": "nuget", "package": package, "version": py.version,
                      "interpreter": f"{package}.{py.version}\\tools\\python.exe"}
        else:
            url = str(matrix.windows_sources["python_org_msi_url"]).format(
                version=py.version, msi_suffix=msi_suffix.get(a, ""))
            source = {"kind": "msi", "url": url, "sha256": None,
                      "install": "msiexec /i <msi> /qn ALLUSERS=1 TARGETDIR=C:\\Python"
                                 + py.version.replace(".", "")[:2]}
        arches.append({"arch": a, "wheel_platform": matrix.platform_arches["windows"][a],
                       "wheel_tag": f"{interpreter_tag(py)}-{win.abi_tag}-"
                                    f"{matrix.platform_arches['windows'][a]}",
                       "interpreter_source": source,
                       "vs_components": list(comp.components_for(a))})
    caveats = list(comp.caveats)
    if "arm64" in win.arches:
        caveats.append("win_arm64 wheels cannot be import-tested on an x64 node: use a native "
                       "arm64 node or report 'built, not import-tested'.")
    return {"compiler": {"family": comp.id.upper(), "msc_ver": comp.msc_ver,
                         "runtime": comp.runtime, "acceptable_toolsets": list(comp.toolsets),
                         "provided_by": comp.provided_by, "install": comp.install},
            "arches": arches, "caveats": caveats}


def _macos(matrix: Matrix, py: Python, arch: str | None) -> dict[str, Any]:
    if py.macos is None:
        raise InputError("<command line>", "--platform", f"Python {py.id} has no macOS entry")
    mac = py.macos
    available = list(mac.arches) + (["universal2"] if mac.universal2 else [])
    arches = _check_arch(matrix, py, "macos", arch, available)
    out: dict[str, Any] = {"abi_tag": mac.abi_tag, "universal2": mac.universal2,
                           "min_macos": dict(mac.min_macos), "caveats": list(mac.caveats)}
    if mac.source == "pyenv_ucs4":
        recipe = dict(matrix.macos["pyenv_ucs4"])  # type: ignore[call-overload]
        out["install"] = {
            "kind": "pyenv", "version": recipe["version"],
            "command": f"PYTHON_CONFIGURE_OPTS=\"{recipe['configure_opts']}\" "
                       f"pyenv install {recipe['version']}",
            "check": f"python -c \"{recipe['check']}\" -> {recipe['expected_maxunicode']}"}
    else:
        url = str(matrix.macos["pkg_url"]).format(version=mac.pkg_version,
                                                  pkg_suffix=mac.pkg_suffix)
        freethreaded = mac.source == "pkg_freethreaded"
        receipt_key = "receipt_freethreaded" if freethreaded else "receipt"
        exe_key = "framework_python_freethreaded" if freethreaded else "framework_python"
        install: dict[str, Any] = {
            "kind": "python.org pkg", "url": url,
            "sha256": mac.sha256 or "NOT LOCKED: run `wheelfleet lock` before installing",
            "command": "sudo /usr/sbin/installer -pkg <pkg> -target /",
            "receipt": str(matrix.macos[receipt_key]).format(minor=py.minor),
            "interpreter": str(matrix.macos[exe_key]).format(minor=py.minor)}
        if freethreaded:
            install["choice_identifier"] = str(matrix.macos["freethreaded_choice"]).format(
                minor=py.minor)
            install["command"] += " -applyChoiceChangesXML <choices.xml>"
        out["install"] = install
    arm_min = str(matrix.macos["arm64_min_version"])
    out["arches"] = [{"arch": a, "wheel_tag": f"{interpreter_tag(py)}-{mac.abi_tag}-"
                      f"{mac_platform_tag(mac.min_macos, a, arm_min)}"} for a in arches]
    return out


def mac_platform_tag(min_macos: dict[str, str], arch: str, arm_min: str) -> str:
    if arch == "universal2":
        version = min_macos.get("x86_64", arm_min)
    else:
        version = min_macos.get(arch, arm_min)
    major, _, minor = version.partition(".")
    # macOS >= 11 wheel tags are always X_0.
    if int(major) >= 11:
        minor = "0"
    return f"macosx_{major}_{minor or 0}_{arch}"


def _linux(matrix: Matrix, py: Python, arch: str | None) -> dict[str, Any]:
    if py.linux is None:
        raise InputError("<command line>", "--platform", f"Python {py.id} has no Linux entry")
    if arch is not None and arch not in matrix.platform_arches["linux"]:
        raise InputError("<command line>", "--arch", f"unknown linux arch {arch!r}; "
                         f"expected {one_of(matrix.platform_arches['linux'])}")
    images = []
    for image in matrix.images:
        if arch is not None and image.arch != arch:
            continue
        carried = [t for t in py.linux.abi_tags if t in image.pythons]
        if not carried:
            continue
        images.append({"policy": image.policy, "arch": image.arch, "ref": image.ref,
                       "state": image.state, "eol_since": str(image.eol_since or "") or None,
                       "interpreters": [f"/opt/python/{t}/bin/python" for t in carried],
                       "wheel_tags": [f"{t}-{image.platform_tag}" for t in carried]})
    caveats = [py.linux.note] if py.linux.note else []
    if not images:
        caveats.append(f"no pinned image carries Python {py.id}: add one to the fleet's "
                       "matrix overlay or build on a host interpreter")
    return {"abi_tags": list(py.linux.abi_tags), "images": images, "caveats": caveats,
            "repair_tools": matrix.tool_pins("linux")}


# The only marker variables a build-requirement entry may use: the matrix states which Pythons a
# pin is for, never which machine evaluates it.
MARKER_VARIABLES = {"python_version", "python_full_version"}
_MARKER_WORDS = {"and", "or", "not", "in"}
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def canary_build_requirements(matrix: Matrix, python_id: str) -> list[str]:
    """The canary's pinned build requirements for one matrix Python, ``NAME==VERSION`` each.

    ``canary.build_requirements`` lists pins with an optional PEP 508 marker on
    ``python_version`` / ``python_full_version``; per project the first entry whose marker
    matches this Python wins, and an entry without a marker (last for its project) serves the
    rest.

    >>> from wheelfleet.matrix import load_matrix
    >>> canary_build_requirements(load_matrix(), "2.7")
    ['setuptools==44.1.1', 'wheel==0.37.1']
    """
    file = " + ".join(matrix.files) or "matrix"
    if python_id not in matrix.pythons:
        raise InputError(file, "pythons", f"unknown Python {python_id!r}; expected "
                         f"{one_of(matrix.pythons)}")
    return build_requirements_for(matrix.canary_build_requirements,
                                  matrix.pythons[python_id].version, file)


def build_requirements_for(entries: list[str], version: str, file: str = "matrix") -> list[str]:
    """The pins of ``entries`` (``canary.build_requirements``' form) for Python ``version``
    (``2.7.18``, or ``3.12`` for any 3.12); one :class:`InputError` line per bad entry."""
    minor = ".".join(version.split(".")[:2])
    environment = {"python_version": minor, "python_full_version": version}
    chosen: dict[str, str] = {}
    defaulted: set[str] = set()
    for index, (name, pin, marker) in enumerate(parse_build_requirements(entries, file)):
        if name in defaulted:
            raise InputError(file, f"canary.build_requirements[{index}]",
                             f"unreachable: an entry without a marker for {name} comes before "
                             "it; list the marked entries first, the unmarked default last")
        if marker is None:
            defaulted.add(name)
        if name not in chosen and (marker is None or marker.evaluate(environment)):
            chosen[name] = pin
    return list(chosen.values())


def parse_build_requirements(entries: list[str], file: str = "matrix"
                             ) -> list[tuple[str, str, Marker | None]]:
    """``(project, "NAME==VERSION", marker or None)`` per entry, validated."""
    # Parsed once per process: every host's deploy asks for the same few entries.
    return list(_parse_build_requirements(tuple(entries), file))


@functools.lru_cache(maxsize=32)
def _parse_build_requirements(entries: tuple[str, ...], file: str
                              ) -> tuple[tuple[str, str, Marker | None], ...]:
    parsed: list[tuple[str, str, Marker | None]] = []
    for index, entry in enumerate(entries):
        key = f"canary.build_requirements[{index}]"
        try:
            req = Requirement(entry)
        except InvalidRequirement as err:
            raise InputError(file, key, f"expected NAME==VERSION with an optional "
                             f"python_version marker, got {entry!r}: "
                             f"{str(err).splitlines()[0]}") from None
        pins = list(req.specifier)
        if len(pins) != 1 or pins[0].operator != "==" or "*" in pins[0].version or req.url:
            raise InputError(file, key, f"expected one exact pin NAME==VERSION, got {entry!r}")
        marker = None
        if req.marker is not None:
            words = set(re.findall(r"[A-Za-z_]+", _QUOTED.sub(" ", str(req.marker))))
            unknown = sorted(words - MARKER_VARIABLES - _MARKER_WORDS)
            if unknown:
                raise InputError(file, key, f"marker may only use python_version or "
                                 f"python_full_version, got {unknown[0]!r} in {entry!r}")
            try:
                marker = Marker(str(req.marker))
            except InvalidMarker as err:  # pragma: no cover - Requirement parsed it already
                raise InputError(file, key, str(err)) from None
        parsed.append((canonicalize_name(req.name), f"{req.name}=={pins[0].version}", marker))
    return tuple(parsed)


def interpreter_tag(py: Python) -> str:
    major, minor = py.minor.split(".")
    return f"cp{major}{minor}"


def render_text(info: dict[str, Any]) -> str:
    """A compact human view of :func:`describe`'s answer."""
    lines = [f"Python {info['python']} ({info['version']}, {info['state']}) on {info['platform']}"
             + (" — free-threaded" if info["free_threaded"] else "")
             + (" — PRE-RELEASE" if info["pre_release"] else "")]
    if "compiler" in info:
        c = info["compiler"]
        lines.append(f"  compiler: {c['family']} (_MSC_VER {c['msc_ver']}, runtime "
                     f"{c['runtime']}); acceptable toolsets: {', '.join(c['acceptable_toolsets'])}")
        lines.append(f"  install: {c['provided_by']}")
        for a in info["arches"]:
            src = a["interpreter_source"]
            where = (f"NuGet {src['package']} {src['version']}" if src["kind"] == "nuget"
                     else f"MSI {src['url']}")
            lines.append(f"  {a['arch']:<6} {a['wheel_tag']:<28} interpreter: {where}")
            if a["vs_components"]:
                lines.append(f"         VS components: {', '.join(a['vs_components'])}")
    if "install" in info:
        inst = info["install"]
        lines.append(f"  ABI tag: {info['abi_tag']}; universal2: "
                     f"{'yes' if info['universal2'] else 'no (x86_64 only)'}; minimum macOS: "
                     + ", ".join(f"{k} {v}" for k, v in info["min_macos"].items()))
        lines.append(f"  install ({inst['kind']}): {inst['command']}")
        for key in ("url", "sha256", "receipt", "interpreter", "choice_identifier", "check"):
            if key in inst:
                lines.append(f"    {key}: {inst[key]}")
        for a in info["arches"]:
            lines.append(f"  {a['arch']:<10} {a['wheel_tag']}")
    if "images" in info:
        lines.append(f"  ABI tags: {', '.join(info['abi_tags'])}; repair tools: "
                     + ", ".join(f"{k} {v}" for k, v in info["repair_tools"].items()))
        for img in info["images"]:
            eol = f" EOL since {img['eol_since']}" if img["eol_since"] else ""
            lines.append(f"  {img['policy']}_{img['arch']} [{img['state']}{eol}] "
                         f"{', '.join(img['interpreters'])}")
            lines.append(f"    {img['ref']}")
    for caveat in info.get("caveats", []):
        lines.append(f"  caveat: {caveat}")
    return "\n".join(lines)
