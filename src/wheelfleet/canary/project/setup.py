"""Canary wheel: one C extension linking libcrypto.  CANARY_ABI3=1 builds a cp38-abi3 wheel."""

import os

from setuptools import Extension, setup

abi3 = os.environ.get("CANARY_ABI3") == "1"
macros = [("Py_LIMITED_API", "0x03080000")] if abi3 else []

setup(
    name="wheelfleet-canary",
    version="1.0.0",
    ext_modules=[Extension("wheelfleet_canary", ["src/canary.c"], libraries=["crypto"],
                           define_macros=macros, py_limited_api=abi3)],
    options={"bdist_wheel": {"py_limited_api": "cp38"}} if abi3 else {},
)
