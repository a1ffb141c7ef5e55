"""Libraries a macOS wheel may link without shipping them, by delocate's rule.

delocate, the tool macOS wheels are repaired with, copies every dependency into the wheel
except what ``delocate.delocating.filter_system_libs`` calls the system's: install names under
``/usr/lib`` and ``/System`` (the OS, dyld's shared cache included). wheelcheck asks the same
function, so a wheel delocate would leave as it is passes here too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable


@functools.cache
def _delocate_filter() -> Callable[[str], bool]:
    # Imported on the first Mach-O file: a batch of Linux or Windows wheels never loads it.
    from delocate.delocating import filter_system_libs

    return filter_system_libs


def is_provided_by_macos(install_name: str) -> bool:
    """Whether macOS itself provides ``install_name`` (delocate would not copy it)."""
    return not _delocate_filter()(install_name)
