"""What filename tags promise, derived with packaging and auditwheel's policy data."""

from __future__ import annotations

from packaging.tags import parse_tag

from wheelfleet.wheelcheck.linux_policy import policy_for_platform_tag
from wheelfleet.wheelcheck.platform_claims import claims_from_tags


def _claims(tag: str):  # type: ignore[no-untyped-def]
    return claims_from_tags(parse_tag(tag))


def test_universal2_claims_both_archs_with_arm64_floor() -> None:
    claims = _claims("cp312-cp312-macosx_10_9_universal2")
    assert claims.macos_min_version == {"x86_64": (10, 9), "arm64": (11, 0)}


def test_separate_macos_tags_take_the_oldest_version_per_arch() -> None:
    claims = _claims("cp312-cp312-macosx_10_13_x86_64.macosx_10_9_x86_64.macosx_11_0_arm64")
    assert claims.macos_min_version == {"x86_64": (10, 9), "arm64": (11, 0)}


def test_multi_manylinux_tags_keep_the_strictest_policy() -> None:
    claims = _claims(
        "cp36-abi3-manylinux_2_12_x86_64.manylinux2010_x86_64."
        "manylinux_2_17_x86_64.manylinux2014_x86_64"
    )
    (policy,) = claims.linux_policies["x86_64"]
    assert policy.name == "manylinux_2_12_x86_64"
    assert claims.abi3_version == (3, 6)


def test_windows_and_pure_tags() -> None:
    assert _claims("cp312-cp312-win_arm64").windows_archs == {"arm64"}
    assert _claims("cp312-cp312-win32").windows_archs == {"x86"}
    assert _claims("py3-none-any").is_pure
    assert not _claims("cp312-cp312-win32").is_pure


def test_legacy_alias_resolves_through_auditwheel() -> None:
    policy = policy_for_platform_tag("manylinux2014_aarch64")
    assert policy is not None
    assert policy.name == "manylinux_2_17_aarch64"
    # auditwheel's aarch64 list for 2.17 really includes 2.18 (CentOS 7's aarch64 glibc).
    assert policy.allows_version("GLIBC", "GLIBC_2.18")
    assert not policy.allows_version("GLIBC", "GLIBC_2.19")
    assert policy.highest_allowed("GLIBC") == "GLIBC_2.18"
    assert "libz.so.1" in policy.whitelist


def test_tag_newer_than_any_known_policy_uses_its_own_glibc_ceiling() -> None:
    policy = policy_for_platform_tag("manylinux_2_29_x86_64")
    assert policy is not None
    assert policy.name == "manylinux_2_28_x86_64"
    assert policy.allows_version("GLIBC", "GLIBC_2.29")
    assert not policy.allows_version("GLIBC", "GLIBC_2.30")
    assert policy.highest_allowed("GLIBC") == "GLIBC_2.29"


def test_musl_policy_whitelists_the_arch_specific_libc() -> None:
    policy = policy_for_platform_tag("musllinux_1_2_aarch64")
    assert policy is not None
    assert policy.libc == "musl"
    assert "libc.musl-aarch64.so.1" in policy.whitelist
    assert "libc.so.6" not in policy.whitelist


def test_plain_linux_tag_has_no_policy() -> None:
    assert policy_for_platform_tag("linux_x86_64") is None
