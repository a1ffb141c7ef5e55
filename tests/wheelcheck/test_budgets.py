"""Each budget, each way a check can fail from inside, and where the budgets are applied:
in-process ``check_wheel``, the worker pool (hard timeout) and the controller's validation."""

from __future__ import annotations

import io
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import hostile_builders as hostile
import pytest
from wheelcheck_builders import EXT_SOURCE, RawMember, limits, make_wheel

from wheelfleet.wheelcheck import Budgets, check_wheel, check_wheels
from wheelfleet.wheelcheck import checks as checks_package
from wheelfleet.wheelcheck.budgets import BudgetExceeded, Deadline, ParseLimits
from wheelfleet.wheelcheck.report import BUDGET_EXCEEDED, INTERNAL_ERROR, Problem

MiB = hostile.MiB


@pytest.fixture(scope="module")
def big_random_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An honest pure wheel with 64 MiB of incompressible data."""
    block = os.urandom(MiB)
    raw = [RawMember("pkg/data.bin", block * 64, method=0)]
    return make_wheel(tmp_path_factory.mktemp("big"), hostile.PURE, hostile.MODULE,
                      dist="bigdata", raw=raw)


def _only_budget(report: Any) -> Problem:
    (problem,) = [p for p in report.problems if p.code == BUDGET_EXCEEDED]
    return problem


def test_time_budget_stops_the_check_with_what_was_found(big_random_wheel: Path) -> None:
    report = check_wheel(big_random_wheel, Budgets(seconds=0.0))
    problem = _only_budget(report)
    assert problem.message == (
        "checking took longer than the time budget of 0 s per wheel; stopped here"
    )


def test_member_and_wheel_byte_budgets(big_random_wheel: Path) -> None:
    member = _only_budget(check_wheel(big_random_wheel, Budgets(member_bytes=32 * MiB)))
    assert (member.file, member.message) == (
        "pkg/data.bin", "the member's uncompressed size is 64.0 MiB (budget 32.0 MiB)"
    )
    wheel = _only_budget(check_wheel(big_random_wheel, Budgets(wheel_bytes=60 * MiB)))
    assert wheel.file == "pkg/data.bin"
    assert wheel.message == ("the members up to this one inflate to 64.0 MiB, over the budget "
                             "of 60.0 MiB per wheel; the rest were not read")


def test_central_directory_budget(big_random_wheel: Path) -> None:
    problem = _only_budget(check_wheel(big_random_wheel, Budgets(central_directory_bytes=100)))
    assert problem.file == ""
    assert problem.message.startswith("the zip's central directory is ")


def test_record_and_metadata_budgets(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, hostile.PURE, hostile.MODULE)
    record = _only_budget(check_wheel(wheel, Budgets(record_bytes=10)))
    assert (record.file, record.message) == (
        "pkg-1.0.dist-info/RECORD", "RECORD is 256 bytes (budget 10 bytes); RECORD was not checked"
    )
    metadata = _only_budget(check_wheel(wheel, Budgets(metadata_bytes=10)))
    assert metadata.file == "pkg-1.0.dist-info/WHEEL"


def test_problem_budget_counts_the_rest(tmp_path: Path) -> None:
    report = check_wheel(hostile.record_rows(tmp_path, 30, "few"), Budgets(problems=5))
    assert len(report.problems) == 6
    assert report.problems[-1].message == (
        "25 more problems found but not listed (at most 5 are listed per wheel)"
    )


@pytest.fixture(scope="module")
def binaries(toolchain, built) -> dict[str, bytes]:
    pe = built(lambda: toolchain.mingw_dll(
        "pe-plain", "x86_64", EXT_SOURCE + "void *PyLong_FromLong(long v) { return 0; }\n"))
    return {
        "elf": built(lambda: toolchain.gcc_ext("elf-plain", EXT_SOURCE)).read_bytes(),
        "macho": built(lambda: toolchain.macho_ext("arm64", "11.0")).read_bytes(),
        "pe": pe.read_bytes(),
    }


@pytest.mark.parametrize(
    ("kind", "budgets", "message"),
    [
        ("elf", Budgets(sections=20), "ELF sections: "),
        ("elf", Budgets(imports=3), "ELF dynamic entries: "),
        ("macho", Budgets(load_commands=3), "Mach-O load commands: "),
        ("macho", Budgets(sections=1), "Mach-O sections: "),
        ("pe", Budgets(sections=2), "PE sections: "),
        ("pe", Budgets(imports=1), "PE imports: "),
    ],
)
def test_per_binary_budgets_on_real_binaries(
    binaries: dict[str, bytes], kind: str, budgets: Budgets, message: str
) -> None:
    from wheelfleet.wheelcheck.elf_reader import read_elf
    from wheelfleet.wheelcheck.macho_reader import read_macho
    from wheelfleet.wheelcheck.pe_reader import read_pe

    data = binaries[kind]
    parse_limits = ParseLimits(budgets, Deadline(60), "ext")
    with pytest.raises(BudgetExceeded) as raised:
        if kind == "elf":
            read_elf(io.BytesIO(data), parse_limits)
        elif kind == "macho":
            read_macho(io.BytesIO(data), parse_limits)
        else:
            read_pe(data, parse_limits)
    assert str(raised.value).startswith(message)
    # ... and the default budgets take them in their stride.
    if kind == "pe":
        assert read_pe(data, limits())
    else:
        reader = read_elf if kind == "elf" else read_macho
        assert reader(io.BytesIO(data), limits())


def test_a_crashing_check_is_a_problem_on_its_wheel_only(
    tmp_path: Path, binaries: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in one check (here: one that raises) is reported on the wheel it met, with its
    type and message; the other checks still ran, and other wheels are judged normally."""

    def broken(binary: Any, contents: Any) -> list[Problem]:
        raise KeyError("no such arch")

    broken.__module__ = "wheelfleet.wheelcheck.checks.broken_check"
    monkeypatch.setattr("wheelfleet.wheelcheck.checker.ALL_BINARY_CHECKS",
                        (broken, *checks_package.ALL_BINARY_CHECKS))
    linux = "cp312-cp312-manylinux_2_17_x86_64"
    hit = make_wheel(tmp_path, linux, {"pkg/ext.so": binaries["elf"]}, dist="hit")
    (problem,) = check_wheel(hit).problems
    assert problem == Problem(
        INTERNAL_ERROR, "pkg/ext.so", "the broken-check check failed: KeyError: 'no such arch'"
    )
    missed = make_wheel(tmp_path, hostile.PURE, hostile.MODULE, dist="missed")
    assert check_wheel(missed).ok


def test_not_a_regular_file_is_reported_without_opening_it(tmp_path: Path) -> None:
    fifo = tmp_path / "pkg-1.0-py3-none-any.whl"
    os.mkfifo(fifo)  # opening it would block forever
    (problem,) = check_wheel(fifo).problems
    assert (problem.code, problem.message) == ("unreadable-wheel", "not a regular file")


# Run in a fresh interpreter: the test process has threads (pytest-xdist's I/O thread) and has
# imported gevent, so the pool would never fork in it.
FORKED_RUN = """
import json, sys
from wheelfleet.wheelcheck import check_wheels, pool
assert pool._fork_is_safe(), "the child process is not single-threaded"
reports = check_wheels(sys.argv[1:], jobs=1, timeout=0.05)
print(json.dumps([[r.wheel, [[p.code, p.message] for p in r.problems]] for r in reports]))
"""


def hard_timeout_batch(wheels: list[Path], start: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """check_wheels with a 0.05 s hard timeout, its workers forked from a single-threaded
    process (the command line) or started as ``python -m`` from one with threads (the
    controller): each wheel's name and problems."""
    import json
    import subprocess
    import sys

    from wheelfleet.wheelcheck import pool

    if start == "forked":
        done = subprocess.run([sys.executable, "-c", FORKED_RUN, *map(str, wheels)],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        rows = json.loads(done.stdout)
        return [(name, [tuple(p) for p in problems]) for name, problems in rows]
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert not pool._fork_is_safe()
        reports = check_wheels(wheels, jobs=1, timeout=0.05)
    finally:
        release.set()
        other.join()
    return [(r.wheel, [(p.code, p.message) for p in r.problems]) for r in reports]


@pytest.mark.parametrize("start", ["forked", "started"])
def test_pool_kills_a_wheel_over_the_hard_timeout_and_reports_the_rest(
    tmp_path: Path, big_random_wheel: Path, start: str
) -> None:
    """The hard timeout is the backstop behind the time budget: a worker still busy after it
    is killed, its wheel reported, and the batch goes on in a fresh worker."""
    good = make_wheel(tmp_path, hostile.PURE, hostile.MODULE, dist="good")
    reports = hard_timeout_batch([big_random_wheel, good, big_random_wheel], start)
    assert [name for name, _ in reports] == [big_random_wheel.name, good.name,
                                             big_random_wheel.name]
    for _, problems in (reports[0], reports[2]):
        assert problems == [(BUDGET_EXCEEDED, "checking did not finish within 0.05 s (hard "
                                              "timeout); its worker process was killed")]
    # The good wheel may also miss 0.05 s while its fresh worker starts; given time, it passes.
    assert check_wheels([good], timeout=60)[0].ok


def test_worker_heap_cap_stops_a_runaway_and_the_worker_goes_on(tmp_path: Path) -> None:
    """A worker's heap is capped (RLIMIT_DATA): with a cap far below what a 1.5 million row
    RECORD needs, that wheel gets internal-error: MemoryError, and the same worker then
    checks the next wheel normally."""
    runaway = hostile.record_rows(tmp_path, 1_500_000, "runaway")
    good = make_wheel(tmp_path, hostile.PURE, hostile.MODULE, dist="good")
    reports = check_wheels([runaway, good], jobs=1,
                           budgets=Budgets(worker_memory_bytes=40 * MiB))
    assert reports[0].problems == [
        Problem(INTERNAL_ERROR, "", "wheelcheck failed: MemoryError")
    ]
    assert reports[1].ok


def test_controller_validation_fails_the_check_not_the_run(tmp_path: Path) -> None:
    """The controller fetches each repaired wheel from its node and judges it: a hostile one
    fails that check's record at ``validate``; nothing is raised."""
    from wheelfleet.health.collect import validate_with_wheelcheck
    from wheelfleet.health.plan import KEEP_DIR  # where the node keeps it, not a local path

    bomb = hostile.zip_bomb(tmp_path)

    class Node:
        def get_file(self, remote: str, local: str) -> bool:
            shutil.copy(bomb, local)
            return True

    record: dict[str, Any] = {"status": "passed", "wheel": bomb.name,
                              "wheel_path": f"{KEEP_DIR}/{bomb.name}"}
    validate_with_wheelcheck(Node(), record)
    assert record["status"] == "failed"
    assert record["step"] == "validate"
    assert record["diagnosis"] == "wheelcheck: budget-exceeded in pkg/zeros.bin"
