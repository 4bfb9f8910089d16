"""Docker's default seccomp profile, compiled with libseccomp (via ctypes) into a BPF
program for the capability set and architecture in force, and installed right before
exec. The compiled program is cached per capability set: compiling takes
milliseconds, installing takes microseconds."""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import json
import os
import platform
from functools import lru_cache
from pathlib import Path

from builder.sandbox import libc
from builder.sandbox.errors import SandboxSetupError

PROFILE = Path(__file__).with_name("seccomp_default.json")

_ACT_ALLOW = 0x7FFF0000
_ACT_KILL_PROCESS = 0x80000000
_ACT_TRAP = 0x00030000
_ACT_LOG = 0x7FFC0000
_CMP = {
    "SCMP_CMP_NE": 1,
    "SCMP_CMP_LT": 2,
    "SCMP_CMP_LE": 3,
    "SCMP_CMP_EQ": 4,
    "SCMP_CMP_GE": 5,
    "SCMP_CMP_GT": 6,
    "SCMP_CMP_MASKED_EQ": 7,
}
# Docker's arch names for this machine, and libseccomp's names for its sub-arches.
_GOARCH = {"x86_64": "amd64", "aarch64": "arm64"}
_SUBARCH = {"SCMP_ARCH_X86": "x86", "SCMP_ARCH_X32": "x32", "SCMP_ARCH_ARM": "arm"}


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _lib() -> ctypes.CDLL:
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError as e:
        raise SandboxSetupError(
            "libseccomp is missing: apt-get install libseccomp2 "
            "(or run with --privileged / seccomp off)"
        ) from e
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
    lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(_ArgCmp),
    ]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    return lib


def _action(name: str, errno_ret: int | None, default_errno: int) -> int:
    if name == "SCMP_ACT_ALLOW":
        return _ACT_ALLOW
    if name == "SCMP_ACT_ERRNO":
        return 0x00050000 | ((default_errno if errno_ret is None else errno_ret) & 0xFFFF)
    if name in ("SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS"):
        return _ACT_KILL_PROCESS
    if name == "SCMP_ACT_TRAP":
        return _ACT_TRAP
    if name == "SCMP_ACT_LOG":
        return _ACT_LOG
    raise ValueError(f"unsupported seccomp action {name}")


def _kernel() -> tuple[int, int]:
    parts = platform.release().split(".")
    return int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)


def applies(entry: dict, caps: frozenset[str], arch: str, kernel: tuple[int, int]) -> bool:
    """Docker's rule: every included cap present, no excluded cap present, arch listed
    (if listed) and not excluded, kernel at least minKernel."""
    inc, exc = entry.get("includes") or {}, entry.get("excludes") or {}
    have = {"CAP_" + c for c in caps}
    if any(c not in have for c in inc.get("caps", [])):
        return False
    if inc.get("arches") and arch not in inc["arches"]:
        return False
    if inc.get("minKernel"):
        want = tuple(int(x) for x in inc["minKernel"].split(".")[:2])
        if kernel < want:
            return False
    if any(c in have for c in exc.get("caps", [])):
        return False
    return arch not in exc.get("arches", [])


@lru_cache(maxsize=16)
def compile_filter(caps: frozenset[str]) -> bytes:
    """The BPF program (raw `struct sock_filter` array) for this capability set."""
    profile = json.loads(PROFILE.read_text())
    lib = _lib()
    machine = platform.machine()
    arch = _GOARCH.get(machine, machine)
    kernel = _kernel()
    default_errno = profile.get("defaultErrnoRet", 1)
    ctx = lib.seccomp_init(_action(profile["defaultAction"], None, default_errno))
    if not ctx:
        raise SandboxSetupError("seccomp_init failed: libseccomp is unusable on this host")
    try:
        for m in profile.get("archMap", []):
            if m["architecture"].lower().endswith(machine.replace("_", "_").lower()):
                for sub in m.get("subArchitectures", []):
                    token = lib.seccomp_arch_resolve_name(_SUBARCH.get(sub, "").encode())
                    if token:
                        lib.seccomp_arch_add(ctx, token)
        for entry in profile["syscalls"]:
            if not applies(entry, caps, arch, kernel):
                continue
            act = _action(entry["action"], entry.get("errnoRet"), default_errno)
            args = entry.get("args") or []
            conds = (_ArgCmp * max(1, len(args)))()
            for i, a in enumerate(args):
                conds[i] = _ArgCmp(a["index"], _CMP[a["op"]], a["value"], a.get("valueTwo", 0))
            for name in entry["names"]:
                nr = lib.seccomp_syscall_resolve_name(name.encode())
                if nr == -1:  # unknown on this arch
                    continue
                # Errors here are rules equal to the default action; Docker ignores them too.
                lib.seccomp_rule_add_array(ctx, act, nr, len(args), conds)
        fd = os.memfd_create("seccomp-bpf")
        try:
            if lib.seccomp_export_bpf(ctx, fd) < 0:
                raise SandboxSetupError("seccomp_export_bpf failed")
            os.lseek(fd, 0, os.SEEK_SET)
            chunks = []
            while chunk := os.read(fd, 65536):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)
    finally:
        lib.seccomp_release(ctx)


class Prepared:
    """A BPF program held in C memory, ready for `install` in a forked child."""

    def __init__(self, program: bytes) -> None:
        self._buf = ctypes.create_string_buffer(program, len(program))
        self._prog = _SockFprog(len(program) // 8, ctypes.addressof(self._buf))

    def install(self) -> None:
        """Set no_new_privs and load the filter; the next syscall on is filtered."""
        libc.prctl(libc.PR_SET_NO_NEW_PRIVS, 1)
        libc.prctl(
            libc.PR_SET_SECCOMP,
            libc.SECCOMP_MODE_FILTER,
            ctypes.c_void_p(ctypes.addressof(self._prog)),
        )


_cache_root: Path | None = None


def use_store(root: Path | None) -> None:
    """Cache compiled programs under this store root (None: compile every time);
    the build engine sets it, so other callers never write anywhere."""
    global _cache_root
    _cache_root = None if root is None else Path(root)


def _cache_key(caps: frozenset[str]) -> str:
    """Everything the compiled program depends on: profile, this compiler, caps,
    arch, kernel version (profile entries gate on it) and libseccomp."""
    h = hashlib.sha256()
    for part in (
        PROFILE.read_bytes(),
        Path(__file__).read_bytes(),
        ",".join(sorted(caps)).encode(),
        platform.machine().encode(),
        repr(_kernel()).encode(),
        str(ctypes.util.find_library("seccomp")).encode(),
    ):
        h.update(len(part).to_bytes(8, "big") + part)
    return h.hexdigest()


def _read_cached(path: Path) -> bytes | None:
    """The program at `path`, trusted only in a 0700 dir owned by us (a swapped
    filter would open the sandbox)."""
    try:
        st = path.parent.stat()
        if st.st_uid != os.geteuid() or st.st_mode & 0o077:
            return None
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fst = os.fstat(fd)
        if fst.st_uid != os.geteuid() or fst.st_size % 8 or not 0 < fst.st_size <= 1 << 20:
            return None
        data = os.read(fd, fst.st_size)
        return data if len(data) == fst.st_size else None
    finally:
        os.close(fd)


def _write_cached(path: Path, program: bytes) -> None:
    """Atomic (temp + rename); a store we cannot write just goes uncached."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if path.parent.stat().st_mode & 0o077:
            os.chmod(path.parent, 0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(
            tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
        )
        try:
            os.write(fd, program)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError:
        pass


def filter_program(caps: frozenset[str]) -> tuple[bytes, str]:
    """(program, "cache" | "compiled"): the exported BPF from the store's cache
    (`<root>/cache/seccomp/<key>.bpf`), else compiled (~10 ms) and cached."""
    if _cache_root is None:
        return compile_filter(caps), "compiled"
    path = _cache_root / "cache" / "seccomp" / f"{_cache_key(caps)}.bpf"
    program = _read_cached(path)
    if program is not None:
        return program, "cache"
    program = compile_filter(caps)
    _write_cached(path, program)
    return program, "compiled"


@lru_cache(maxsize=16)
def prepare(caps: frozenset[str]) -> Prepared:
    return Prepared(filter_program(caps)[0])
