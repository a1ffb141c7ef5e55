"""``tag-metadata-mismatch``: the filename's tags must be exactly the WHEEL file's Tag lines.

Installers pick a wheel by its filename; tools that rebuild the name from metadata (and PEP 427
itself) expect the two to agree, so a difference means one of them lies.
"""

from __future__ import annotations

from packaging.tags import Tag

from .report import TAG_METADATA_MISMATCH, Problem


def check_tags(
    wheel_path: str, filename_tags: frozenset[Tag], metadata_tags: set[Tag]
) -> list[Problem]:
    """One problem listing the differences, or none when the two tag sets are equal."""
    if not metadata_tags:
        return [Problem(TAG_METADATA_MISMATCH, wheel_path, "WHEEL has no Tag lines")]
    only_in_name = sorted(str(t) for t in filename_tags - metadata_tags)
    only_in_metadata = sorted(str(t) for t in metadata_tags - filename_tags)
    parts = []
    if only_in_name:
        parts.append(f"filename has {', '.join(only_in_name)} not in WHEEL")
    if only_in_metadata:
        parts.append(f"WHEEL has {', '.join(only_in_metadata)} not in the filename")
    if not parts:
        return []
    return [Problem(TAG_METADATA_MISMATCH, wheel_path, "; ".join(parts))]
