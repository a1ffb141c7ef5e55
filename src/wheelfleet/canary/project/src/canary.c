/* wheelfleet canary: calls into libcrypto so a wheel only imports if libcrypto is really
 * there -- bundled by the repair tool, since the manylinux policies do not guarantee it.
 * Uses only the limited API, so the same source builds the abi3 variant. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

static PyObject *sha256_hex(PyObject *self, PyObject *args) {
    const char *data;
    Py_ssize_t len;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    static const char digits[] = "0123456789abcdef";

    if (!PyArg_ParseTuple(args, "y#", &data, &len))
        return NULL;
    if (!EVP_Digest(data, (size_t)len, md, &md_len, EVP_sha256(), NULL)) {
        PyErr_SetString(PyExc_RuntimeError, "EVP_Digest failed");
        return NULL;
    }
    for (unsigned int i = 0; i < md_len; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 0xf];
    }
    hex[2 * md_len] = '\0';
    return PyUnicode_FromString(hex);
}

static PyObject *openssl_version(PyObject *self, PyObject *noargs) {
    return PyUnicode_FromString(OpenSSL_version(OPENSSL_VERSION));
}

static PyMethodDef methods[] = {
    {"sha256_hex", sha256_hex, METH_VARARGS, "SHA-256 of bytes, hex, computed by libcrypto."},
    {"openssl_version", openssl_version, METH_NOARGS, "The libcrypto version linked."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "wheelfleet_canary", NULL, -1,
                                    methods};

PyMODINIT_FUNC PyInit_wheelfleet_canary(void) { return PyModule_Create(&module); }
