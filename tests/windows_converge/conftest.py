"""The WinRM test peer (tests/winrm) with a scripted Windows loaded into it (standins.py)."""

from __future__ import annotations

import sys
from pathlib import Path

# The peer and its PKI helpers live with the connector's tests; the PE canary builder with
# the Windows real-artifact tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "winrm"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "windows"))
