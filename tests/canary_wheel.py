"""Pack one built canary extension as a wheel, the way a build backend would lay it out.

The cross-built canaries (a universal2 Mach-O in tests/macos, PE files in tests/windows) are
packed here: the module, METADATA, WHEEL with the tag, and a RECORD of every member's sha256.
Member dates are fixed, so the same module always gives the same wheel bytes.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import zipfile
from pathlib import Path

DIST = "wheelfleet_canary"
VERSION = "1.0.0"


def pack_canary_wheel(member: str, data: bytes, tag: str, outdir: Path,
                      executable: bool = False) -> Path:
    """``wheelfleet_canary-1.0.0-<tag>.whl`` in *outdir* holding *data* as *member*."""
    dist_info = f"{DIST}-{VERSION}.dist-info"
    files = {
        member: data,
        f"{dist_info}/METADATA": (f"Metadata-Version: 2.1\nName: wheelfleet-canary\n"
                                  f"Version: {VERSION}\n").encode(),
        f"{dist_info}/WHEEL": (f"Wheel-Version: 1.0\nGenerator: wheelfleet-tests\n"
                               f"Root-Is-Purelib: false\nTag: {tag}\n").encode(),
    }
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for name, content in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=")
        writer.writerow([name, f"sha256={digest.decode()}", len(content)])
    writer.writerow([f"{dist_info}/RECORD", "", ""])
    files[f"{dist_info}/RECORD"] = record.getvalue().encode()
    outdir.mkdir(parents=True, exist_ok=True)
    wheel = outdir / f"{DIST}-{VERSION}-{tag}.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if executable and name == member else 0o644) << 16
            archive.writestr(info, content, zipfile.ZIP_DEFLATED)
    return wheel
