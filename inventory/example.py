"""An example wheel-build fleet: what a project shipping compiled wheels runs.

Hosts sit in exactly one platform group (linux / macos / windows).  Group data *selects* from
the toolchain matrix (``wheelfleet matrix show`` lists what exists); it never restates versions,
URLs or digests.  Check it without connecting: ``wheelfleet check-inventory inventory/example.py``.
"""

from wheelfleet.fleetfile import guard

linux = (
    [
        ("build-linux-01.example.internal", {"ssh_user": "builder"}),
        ("build-linux-02.example.internal", {"ssh_user": "builder"}),
        # A native aarch64 node: emulated aarch64 builds are ~10x slower.
        ("build-linux-arm-01.example.internal", {"ssh_user": "builder", "arches": ["aarch64"],
                                                 "image_policies": ["manylinux_2_28",
                                                                    "musllinux_1_2"]}),
    ],
    {
        "pythons": ["3.10", "3.11", "3.12", "3.13", "3.14", "3.14t"],
        "arches": ["x86_64"],
        "image_policies": ["manylinux2014", "manylinux_2_28", "musllinux_1_2"],
        # quay.io has outages: pull the pinned digests through the fleet's own mirror.
        "registry_mirrors": {"quay.io": "registry-mirror.example.internal:5000"},
        "container_engine": "podman",
        "ssh_strict_host_key_checking": "yes",
    },
)

macos = (
    [
        ("mac-mini-07.example.internal", {"ssh_user": "builder"}),
        # The legacy node builds the wide-unicode cp27mu 2.7 from pyenv.
        ("mac-legacy-01.example.internal", {"ssh_user": "builder", "pythons": ["2.7"],
                                            "arches": ["x86_64"]}),
    ],
    {
        "pythons": ["3.12", "3.13", "3.14", "3.14t"],
        "arches": ["universal2"],
        "ssh_strict_host_key_checking": "yes",
    },
)

windows = (
    [
        # Reached over WinRM (HTTPS, NTLM with message encryption) by wheelfleet's `@winrm`
        # connector; the password comes from the environment, never from this file.
        ("@winrm/win-build-01", {"winrm_hostname": "win-build-01.example.internal"}),
        ("@winrm/win-legacy-01", {"winrm_hostname": "win-legacy-01.example.internal",
                                  "pythons": ["2.7", "3.4"], "arches": ["x86", "x64"]}),
        ("@winrm/win-arm-01", {"winrm_hostname": "win-arm-01.example.internal",
                               "arches": ["arm64"]}),
    ],
    {
        "pythons": ["3.11", "3.12", "3.13", "3.14"],
        "arches": ["x86", "x64"],
        "winrm_user": "BUILD\\wheelbot",
        "winrm_ca_trust_path": "certs/winrm-ca.pem",
        # Installers and OpenSSL archives come from the fleet's own mirror, by sha256.
        "artifact_mirrors": {"https://www.python.org": "https://artifacts.example.internal"},
    },
)

guard(__file__)
