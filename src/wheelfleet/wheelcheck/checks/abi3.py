"""``abi3-violation``: an abi3 wheel may only use the limited API of the version it claims.

The stable-ABI symbol data (which symbol exists since which Python) comes from ``abi3info``,
the data package behind abi3audit. The rule is abi3audit's: a symbol from the stable ABI added
after the claimed version is too new; any other ``Py``/``_Py`` symbol is outside the limited
API (``PyInit_*`` is the module's own export).
"""

from __future__ import annotations

from ..report import ABI3_VIOLATION, Problem
from ..wheel_contents import WheelBinary, WheelContents

_LISTED_IN_MESSAGE = 8  # keep messages readable when a module uses hundreds of symbols


def check(binary: WheelBinary, contents: WheelContents) -> list[Problem]:
    claimed = contents.claims.abi3_version
    if claimed is None:
        return []
    problems = []
    # Importing a version-specific python3XY.dll is python-abi-mismatch's; the symbols a
    # binary takes from any CPython are judged here.
    outside, too_new = judge_symbols(binary.imported_symbols(), claimed)
    claimed_text = f"{claimed[0]}.{claimed[1]}"
    if outside:
        problems.append(
            Problem(
                ABI3_VIOLATION,
                binary.path,
                f"uses {_listing(outside)}, not in the limited API (wheel claims abi3 "
                f"for Python {claimed_text})",
            )
        )
    if too_new:
        described = [f"{name} (limited API since {added})" for name, added in too_new]
        problems.append(
            Problem(
                ABI3_VIOLATION,
                binary.path,
                f"uses {_listing(described)}, newer than the claimed abi3 version "
                f"{claimed_text}",
            )
        )
    return problems


def judge_symbols(
    symbols: set[str], claimed: tuple[int, int]
) -> tuple[list[str], list[tuple[str, str]]]:
    """Split imported symbols into (outside the limited API, added after ``claimed``)."""
    # Imported here: the stable-ABI tables take ~35 ms to load and only abi3 wheels need them.
    from abi3info import DATAS, FUNCTIONS
    from abi3info.models import PyVersion, Symbol

    baseline = PyVersion(*claimed)
    outside = []
    too_new = []
    for name in sorted(symbols):
        entry = FUNCTIONS.get(Symbol(name)) or DATAS.get(Symbol(name))
        if entry is not None:
            if entry.added > baseline:
                too_new.append((name, str(entry.added)))
        elif name.startswith(("Py", "_Py")) and not name.startswith("PyInit_"):
            outside.append(name)
    return outside, too_new


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:_LISTED_IN_MESSAGE])
    more = len(items) - _LISTED_IN_MESSAGE
    return f"{shown} and {more} more" if more > 0 else shown
