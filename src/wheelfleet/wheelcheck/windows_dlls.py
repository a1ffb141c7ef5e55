"""DLLs a Windows wheel may import without shipping them.

No installed library publishes this list (delvewheel has one, but it is not a dependency of
this project), so it is written out here: DLLs that are part of every supported Windows
(Windows 10 and later, where the Universal CRT is a system component), the API-set
contract names that the loader redirects, and the runtime that CPython itself installs next to
python.exe. Anything else, MSVCP140.dll included, must be bundled in the wheel.
"""

from __future__ import annotations

import re

SYSTEM_DLLS = frozenset(
    name.lower()
    for name in (
        # kernel, base and user-interface
        "kernel32.dll", "kernelbase.dll", "ntdll.dll", "user32.dll", "gdi32.dll",
        "gdi32full.dll", "win32u.dll", "advapi32.dll", "shell32.dll", "shlwapi.dll",
        "shcore.dll", "ole32.dll", "oleaut32.dll", "olepro32.dll", "oleacc.dll",
        "combase.dll", "comctl32.dll", "comdlg32.dll", "imm32.dll", "msimg32.dll",
        "usp10.dll", "uxtheme.dll", "dwmapi.dll", "propsys.dll", "version.dll",
        "winmm.dll", "userenv.dll", "psapi.dll", "powrprof.dll", "setupapi.dll",
        "cfgmgr32.dll", "devobj.dll", "hid.dll", "winspool.drv", "wtsapi32.dll",
        "sechost.dll", "rpcrt4.dll", "msvcrt.dll", "ucrtbase.dll", "msasn1.dll",
        "dbghelp.dll", "dbgeng.dll", "imagehlp.dll", "pdh.dll", "wevtapi.dll",
        "mpr.dll", "netapi32.dll", "ntdsapi.dll", "wldap32.dll", "credui.dll",
        "authz.dll", "msi.dll", "avrt.dll", "winsta.dll", "dxcore.dll", "tdh.dll",
        "clbcatq.dll", "cabinet.dll", "wintrust.dll", "mscoree.dll",
        # security and crypto
        "secur32.dll", "sspicli.dll", "crypt32.dll", "bcrypt.dll", "bcryptprimitives.dll",
        "ncrypt.dll", "cryptbase.dll", "cryptsp.dll", "cryptui.dll", "dpapi.dll",
        # networking
        "ws2_32.dll", "wsock32.dll", "mswsock.dll", "iphlpapi.dll", "dnsapi.dll",
        "winhttp.dll", "wininet.dll", "urlmon.dll", "normaliz.dll", "fwpuclnt.dll",
        "nsi.dll", "rasapi32.dll", "websocket.dll", "httpapi.dll",
        # graphics, media and input
        "opengl32.dll", "glu32.dll", "d3d9.dll", "d3d10.dll", "d3d10_1.dll", "d3d11.dll",
        "d3d12.dll", "dxgi.dll", "d2d1.dll", "dwrite.dll", "d3dcompiler_47.dll",
        "windowscodecs.dll", "mf.dll", "mfplat.dll", "mfreadwrite.dll", "mfuuid.dll",
        "ksuser.dll", "dsound.dll", "xinput1_4.dll", "xinput9_1_0.dll", "winusb.dll",
        "mmdevapi.dll", "dinput8.dll", "gdiplus.dll",
    )
)

# The runtime CPython's installer puts beside python.exe (Python 3.5+ on VC 14.x), and the
# interpreter DLLs themselves: python3.dll (stable ABI), pythonXY[t].dll and PyPy's
# libpypyX.Y-c.dll.
INTERPRETER_RUNTIME_DLLS = frozenset({"vcruntime140.dll", "vcruntime140_1.dll", "python3.dll"})
_INTERPRETER_DLL = re.compile(r"^(python[23]\d+t?(_d)?|libpypy\d+\.\d+-c)\.dll$")

# API sets (api-ms-win-*, ext-ms-*) are virtual names the loader maps to system DLLs.
_API_SET = re.compile(r"^(api|ext)-ms-")


def is_provided_by_windows_or_python(dll_name: str) -> bool:
    """Whether importing ``dll_name`` is fine without the wheel bundling it."""
    name = dll_name.lower()
    return (
        name in SYSTEM_DLLS
        or name in INTERPRETER_RUNTIME_DLLS
        or bool(_INTERPRETER_DLL.match(name))
        or bool(_API_SET.match(name))
    )

