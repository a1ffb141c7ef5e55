"""Pushed images: pull by digest, run with runc, build a libcrypto extension, audit it."""

from __future__ import annotations

import pytest

from wheelfleet.lab import PodmanEnv, PushedImage, Registry
from wheelfleet.lab.images import inspect_remote

from .podman_helpers import local_digest, pull, run_in

pytestmark = [pytest.mark.fleet, pytest.mark.slow]

POLICIES = ["manylinux_2_36", "manylinux_2_41"]
# policy -> (python version, interpreter tag, glibc)
EXPECT = {
    "manylinux_2_36": ("3.11", "cp311-cp311", "2.36"),
    "manylinux_2_41": ("3.13", "cp313-cp313", "2.41"),
}

# A tiny extension that really calls into libcrypto (EVP SHA-256), built the way a
# wheel build would: setuptools + wheel from the image's interpreter, offline.
EXT_SCRIPT = r"""
set -eu
PY=/opt/python/$1/bin/python
mkdir -p /tmp/ext && cd /tmp/ext
cat > wfcrypto.c <<'C_SOURCE'
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

static PyObject *sha256hex(PyObject *self, PyObject *arg) {
    Py_buffer buf;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    if (PyObject_GetBuffer(arg, &buf, PyBUF_SIMPLE) < 0) return NULL;
    int ok = EVP_Digest(buf.buf, (size_t)buf.len, md, &n, EVP_sha256(), NULL);
    PyBuffer_Release(&buf);
    if (!ok) return PyErr_Format(PyExc_RuntimeError, "EVP_Digest failed");
    for (unsigned int i = 0; i < n; i++) sprintf(hex + 2 * i, "%02x", md[i]);
    return PyUnicode_FromStringAndSize(hex, 2 * n);
}
static PyObject *version(PyObject *self, PyObject *unused) {
    return PyUnicode_FromString(OpenSSL_version(OPENSSL_VERSION));
}
static PyMethodDef methods[] = {
    {"sha256hex", sha256hex, METH_O, NULL},
    {"version", version, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL}};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "wfcrypto", NULL, -1, methods};
PyMODINIT_FUNC PyInit_wfcrypto(void) { return PyModule_Create(&mod); }
C_SOURCE
cat > setup.py <<'PY_SOURCE'
from setuptools import Extension, setup
setup(name="wfcrypto", version="0.1",
      ext_modules=[Extension("wfcrypto", ["wfcrypto.c"], libraries=["crypto"])])
PY_SOURCE
$PY -m pip wheel -q --no-index --no-build-isolation -w dist . >/dev/null
$PY -m pip install -q --no-index dist/wfcrypto-*.whl
cd /
$PY -c 'import wfcrypto; print("SHA", wfcrypto.sha256hex(b"abc")); print("VER", wfcrypto.version())'
so=$($PY -c 'import wfcrypto; print(wfcrypto.__file__)')
echo "LDD $(ldd "$so" | grep -o 'libcrypto[^ ]*')"
echo "AW $(auditwheel --version | tr -s '\n ' ' ')"
echo "SHOW $(auditwheel show /tmp/ext/dist/wfcrypto-*.whl 2>&1 | tr -s '\n ' ' ')"
"""
ABC_SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@pytest.fixture(scope="module")
def pulled(pm: PodmanEnv, pushed: dict[str, PushedImage]) -> dict[str, str]:
    """Pull every pushed image *by digest*; returns policy -> digest reference."""
    refs = {}
    for policy, img in pushed.items():
        pull(pm, img.ref_by_digest)
        refs[policy] = img.ref_by_digest
    return refs


def test_pushed_metadata(registry: Registry, pushed: dict[str, PushedImage]) -> None:
    assert sorted(pushed) == POLICIES
    for policy, img in pushed.items():
        assert img.registry == registry.address
        assert img.repository == f"pypa/{policy}_x86_64"
        assert img.digest.startswith("sha256:") and len(img.digest) == 71
        assert img.pythons == [EXPECT[policy][1]]
        assert (img.policy, img.arch) == (policy, "x86_64")
        by_digest = inspect_remote(registry, f"{img.repository}@{img.digest}")
        assert by_digest["Digest"] == img.digest
        assert by_digest["Created"] == img.created
        labels = by_digest["Labels"]
        assert isinstance(labels, dict) and labels["org.wheelfleet.policy"] == policy
    # Two genuinely different images for the lead's select/drop tests.
    assert len({img.digest for img in pushed.values()}) == len(pushed)


@pytest.mark.parametrize("policy", POLICIES)
def test_podman_digest_equals_registry_digest(
    policy: str, pm: PodmanEnv, pushed: dict[str, PushedImage], pulled: dict[str, str]
) -> None:
    assert local_digest(pm, pulled[policy]) == pushed[policy].digest
    repo_digests = pm.podman(
        "image", "inspect", "--format", "{{json .RepoDigests}}", pulled[policy], timeout=60
    ).stdout
    assert pushed[policy].ref_by_digest in repo_digests


@pytest.mark.parametrize("policy", POLICIES)
def test_python_ssl_runs(
    policy: str, pm: PodmanEnv, pushed: dict[str, PushedImage], pulled: dict[str, str]
) -> None:
    tag = pushed[policy].pythons[0]
    out = run_in(pm, pulled[policy], f"/opt/python/{tag}/bin/python", "-c",
                 "import ssl, sys; print(sys.version)").stdout
    assert out.startswith(EXPECT[policy][0] + "."), out
    glibc = run_in(pm, pulled[policy], "getconf", "GNU_LIBC_VERSION").stdout.split()
    assert glibc == ["glibc", EXPECT[policy][2]]
    env = run_in(pm, pulled[policy], "printenv", "AUDITWHEEL_PLAT").stdout.strip()
    assert env == f"{policy}_x86_64"


@pytest.mark.parametrize("policy", POLICIES)
def test_c_extension_linking_libcrypto_and_auditwheel(
    policy: str, pm: PodmanEnv, pushed: dict[str, PushedImage], pulled: dict[str, str]
) -> None:
    tag = pushed[policy].pythons[0]
    proc = run_in(pm, pulled[policy], "/bin/bash", "-c", EXT_SCRIPT, "ext", tag, timeout=600)
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if " " in line)
    assert lines["SHA"] == ABC_SHA256
    assert lines["VER"].startswith("OpenSSL 3.")
    assert lines["LDD"].startswith("libcrypto.so.3")
    assert lines["AW"].startswith("auditwheel 6.8.2 ")
    # auditwheel sees the external libcrypto it would have to graft on repair.
    assert "libcrypto.so.3" in lines["SHOW"], lines["SHOW"]
