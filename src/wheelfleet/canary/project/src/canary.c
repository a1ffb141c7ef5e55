/* wheelfleet canary: calls into libcrypto so a wheel only imports if libcrypto is really
 * there -- bundled by the repair tool, since the manylinux policies do not guarantee it.
 * Uses only the limited API, so the same source builds the abi3 variant.
 *
 * Builds on every CPython the toolchain matrix lists, 2.7 and 3.3 up: the module init and the
 * bytes/str types differ between 2 and 3 (PY_MAJOR_VERSION branches), and the code is C89
 * (declarations first, no loop-scoped variables) for the old compilers 2.7 is built with. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>

#if PY_MAJOR_VERSION >= 3
#define CANARY_BYTES_FORMAT "y#"        /* bytes only */
#define CANARY_TEXT PyUnicode_FromString
#else
#define CANARY_BYTES_FORMAT "s#"        /* str (bytes) or a buffer */
#define CANARY_TEXT PyString_FromString
#endif

/* OpenSSL_version() arrived in 1.1.0; older releases only have SSLeay_version(). */
#if OPENSSL_VERSION_NUMBER >= 0x10100000L
#define CANARY_OPENSSL_VERSION() OpenSSL_version(OPENSSL_VERSION)
#else
#define CANARY_OPENSSL_VERSION() SSLeay_version(SSLEAY_VERSION)
#endif

static PyObject *sha256_hex(PyObject *self, PyObject *args) {
    const char *data;
    Py_ssize_t len;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    unsigned int i;
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    static const char digits[] = "0123456789abcdef";

    (void)self;
    if (!PyArg_ParseTuple(args, CANARY_BYTES_FORMAT, &data, &len))
        return NULL;
    if (!EVP_Digest(data, (size_t)len, md, &md_len, EVP_sha256(), NULL)) {
        PyErr_SetString(PyExc_RuntimeError, "EVP_Digest failed");
        return NULL;
    }
    for (i = 0; i < md_len; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 0xf];
    }
    hex[2 * md_len] = '\0';
    return CANARY_TEXT(hex);
}

static PyObject *openssl_version(PyObject *self, PyObject *noargs) {
    (void)self;
    (void)noargs;
    return CANARY_TEXT(CANARY_OPENSSL_VERSION());
}

static PyMethodDef methods[] = {
    {"sha256_hex", sha256_hex, METH_VARARGS, "SHA-256 of bytes, hex, computed by libcrypto."},
    {"openssl_version", openssl_version, METH_NOARGS, "The libcrypto version linked."},
    {NULL, NULL, 0, NULL},
};

#if PY_MAJOR_VERSION >= 3
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "wheelfleet_canary", NULL, -1,
                                    methods};

PyMODINIT_FUNC PyInit_wheelfleet_canary(void) { return PyModule_Create(&module); }
#else
PyMODINIT_FUNC initwheelfleet_canary(void) { (void)Py_InitModule("wheelfleet_canary", methods); }
#endif
