"""Spec tests the way pyinfra tests its own code: facts in, commands out (pyinfra-testing).

Each folder under ``operations/`` and ``facts/`` is named ``<module>.<Name>`` and holds JSON
cases; a case's ``facts`` are what the host reports, ``commands`` what the operation must yield.
"""

from __future__ import annotations

from pathlib import Path

from freezegun import freeze_time
from pyinfra_testing.facts import make_fact_tests
from pyinfra_testing.operations import make_operation_tests

HERE = Path(__file__).parent


def _collect() -> dict[str, type]:
    found: dict[str, type] = {}
    for folder in sorted((HERE / "operations").iterdir()):
        cls = make_operation_tests("wheelfleet.operations", folder.name, folder)
        found[f"TestOp_{folder.name.replace('.', '_')}"] = freeze_time("2026-11-27 12:00:00")(cls)
    for folder in sorted((HERE / "facts").iterdir()):
        cls = make_fact_tests("wheelfleet.facts", folder.name, folder)
        found[f"TestFact_{folder.name.replace('.', '_')}"] = cls
    return found


globals().update(_collect())
