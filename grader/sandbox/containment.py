"""What a test process does to itself, after the fork and before the submission's code runs.

Layers, each applied where this machine allows it and reported either way:

- **filesystem**: Landlock. Read and execute only what Python, torch and transformers
  need (the interpreters' prefixes, site-packages, system libraries); read and write only
  the workspace and a few character devices. Chosen over the alternatives because it
  needs no privilege, no helper binary and no mount namespace: a chroot or bind-mount
  jail (isolate, nsjail, bubblewrap) needs root or unprivileged user namespaces, which
  Docker's default seccomp profile and Ubuntu's AppArmor refuse, and a second uid
  (codejail) needs root and a prepared account. Landlock stacks under all of them.
- **network**: a network namespace of its own (only a downed ``lo``), Landlock's TCP
  rules (no bind, no connect), and a seccomp filter that refuses ``socket()`` itself,
  which Landlock does not cover (UDP, pathname unix sockets, raw sockets).
- **ipc**: an IPC namespace of its own (System V shared memory, message queues and
  semaphores, POSIX message queues), so that nothing one run creates is seen by another,
  and all of it goes when the run's last process does (Landlock cannot cover these: they
  are named by keys, not paths); and kernel keyrings, which are per user and not
  namespaced, refused by the seccomp filter (``add_key``, ``request_key``, ``keyctl``),
  as nsjail and Docker's default profile do.
- **signals**: Landlock's scopes (ABI 6): no signal, and no abstract unix socket, to a
  process outside the test process's own tree. Landlock also forbids ``ptrace`` of
  anything outside, and ``/proc`` is not granted, so the grader's environment, file
  descriptors and command lines are out of sight.
- **privileges**: no capabilities (a root grader's child would otherwise keep root's),
  ``no_new_privs``.
- **rlimits**: CPU seconds per process (SIGXCPU, then SIGKILL at the hard limit), open
  files, file size, core dumps, and on the CPU the address space. Limits over the whole
  process tree (CPU time, processes, memory) are the grader's job (``cgroups.py``).

Nothing here may start a thread: Landlock and seccomp apply to the calling thread and
what it starts later, and the forked child has exactly one.
"""

import ctypes
import os
import platform
import resource
import struct
import sys
from pathlib import Path

LAYERS = ("filesystem", "network", "ipc", "signals", "privileges", "rlimits")
DISABLE_VARIABLE = "LORA_GRADER_DISABLE_LAYERS"  # tests only: prove each layer by switching it off

# Landlock (include/uapi/linux/landlock.h). Syscall numbers are the same on every architecture.
SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH, RULE_NET_PORT = 1, 2
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
FILE_ONLY = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV  # the rights a rule on a file may carry
NET_BIND_TCP, NET_CONNECT_TCP = 1, 2
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1, 2

PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP, PR_SET_SECCOMP = 38, 24, 22
SECCOMP_MODE_FILTER = 2
CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUSER = 0x40000000, 0x08000000, 0x10000000
LINUX_CAPABILITY_VERSION_3 = 0x20080522

# seccomp: each architecture's audit number and the syscalls a layer refuses (io_uring can open
# sockets without socket(); the keyring calls reach keys every process of the user shares).
SECCOMP_ARCHES = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
SYSCALL_NUMBERS = {
    "x86_64": {"socket": 41, "io_uring_setup": 425, "add_key": 248, "request_key": 249, "keyctl": 250},
    "aarch64": {"socket": 198, "io_uring_setup": 425, "add_key": 217, "request_key": 218, "keyctl": 219},
}
NETWORK_SYSCALLS, KEYRING_SYSCALLS = ("socket", "io_uring_setup"), ("add_key", "request_key", "keyctl")
X32_SYSCALL_BIT = 0x40000000
RET_ALLOW, RET_EPERM = 0x7FFF0000, 0x00050000 | 1

LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.syscall.restype = ctypes.c_long


class ContainmentError(OSError):
    """A layer that this machine offers could not be applied."""


def _check(result: int, what: str) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise ContainmentError(errno, f"{what}: {os.strerror(errno)}")
    return result


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 where Landlock is missing or disabled."""
    abi = LIBC.syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(CREATE_RULESET_VERSION))
    return max(abi, 0)


def handled_filesystem(abi: int) -> int:
    rights = (1 << 13) - 1  # ABI 1: execute ... make_sym
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


READ = EXECUTE | READ_FILE | READ_DIR


def system_paths(device: str, hidden: str, workspace: str) -> tuple[list[str], list[str]]:
    """What a test process reads, and the devices it reads and writes; never a folder that holds ``hidden``
    (the checkout, with the reference solution) or ``workspace`` (beside it lie the other submissions'
    workspaces, and often the submissions and results), even where ``sys.path`` names one: a grader started
    from ``/tmp`` has ``/tmp`` on its path."""
    readable = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                os.path.dirname(os.path.realpath(sys.executable)),
                "/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin",
                "/etc/ld.so.cache", "/etc/localtime", "/sys/devices/system/cpu"}
    readable |= {os.path.realpath(entry) for entry in sys.path if entry and os.path.isdir(entry)}
    devices = ["/dev/null", "/dev/zero", "/dev/urandom", "/dev/random", "/dev/full"]
    if device == "cuda":  # the NVIDIA driver's device files and what it reads about them: there and only there
        devices += [str(path) for path in Path("/dev").glob("nvidia*")]
        readable |= {"/proc/driver/nvidia", "/sys/bus/pci", "/sys/devices", "/sys/module/nvidia",
                     "/usr/share/nvidia", "/etc/nvidia"}
    kept_out = [os.path.realpath(hidden), os.path.realpath(workspace)]
    readable = {path for path in readable if all(os.path.commonpath([path, out]) != path for out in kept_out)}
    return sorted(readable), devices


def restrict_with_landlock(readable: list[str], writable: list[str], devices: list[str], *,
                           filesystem: bool, network: bool, signals: bool) -> str:
    """One Landlock ruleset for the layers asked for; returns what was applied, '' if nothing."""
    abi = landlock_abi()
    if abi == 0:
        return ""
    fs = handled_filesystem(abi) if filesystem else 0
    net = NET_BIND_TCP | NET_CONNECT_TCP if network and abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if signals and abi >= 6 else 0
    if not (fs or net or scoped):
        return ""
    attr = struct.pack("QQQ", fs, net, scoped)
    size = 8 if abi < 4 else (16 if abi < 6 else 24)
    ruleset = _check(LIBC.syscall(SYS_CREATE_RULESET, attr, ctypes.c_size_t(size), ctypes.c_uint32(0)),
                     "landlock_create_ruleset")
    try:
        if fs:
            for paths, rights in ((readable, READ), (writable, fs), (devices, READ_FILE | WRITE_FILE | IOCTL_DEV)):
                for path in paths:
                    _allow_beneath(ruleset, path, rights & fs)
        _check(LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
        _check(LIBC.syscall(SYS_RESTRICT_SELF, ruleset, ctypes.c_uint32(0)), "landlock_restrict_self")
    finally:
        os.close(ruleset)
    return f"ABI {abi}"


def _allow_beneath(ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # not on this machine: nothing to grant
    try:
        if not os.path.isdir(path):
            rights &= FILE_ONLY
        rule = struct.pack("=Qi", rights, fd)  # struct landlock_path_beneath_attr is packed
        _check(LIBC.syscall(SYS_ADD_RULE, ruleset, RULE_PATH_BENEATH, rule, ctypes.c_uint32(0)),
               f"landlock_add_rule {path}")
    finally:
        os.close(fd)


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def deny_syscalls(names: tuple[str, ...], what: str) -> str:
    """A seccomp filter: the syscalls ``names`` fail with EPERM, and so do syscalls of another ABI (32-bit, x32),
    which would slip past the numbers checked; returns ``what``, '' on an architecture without a table."""
    machine = platform.machine()
    if machine not in SECCOMP_ARCHES:
        return ""
    numbers = [SYSCALL_NUMBERS[machine][name] for name in names]
    load, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_JMP|JGE|K, BPF_RET|K
    program = [
        (load, 0, 0, 4),  # seccomp_data.arch
        (jeq, 1, 0, SECCOMP_ARCHES[machine]),
        (ret, 0, 0, RET_EPERM),
        (load, 0, 0, 0),  # seccomp_data.nr
        (jge, len(numbers) + 1, 0, X32_SYSCALL_BIT),  # to the last line: refuse
        *((jeq, len(numbers) - index, 0, number) for index, number in enumerate(numbers)),
        (ret, 0, 0, RET_ALLOW),
        (ret, 0, 0, RET_EPERM),
    ]
    filters = (_SockFilter * len(program))(*[_SockFilter(*line) for line in program])
    _check(LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    _check(LIBC.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(_SockFprog(len(program), filters)), 0, 0),
           "seccomp")
    return what


def own_namespace(kind: int, label: str) -> str:
    """A namespace of ``kind`` (``CLONE_NEWNET``, ``CLONE_NEWIPC``) with nothing in it; as a non-root user, inside
    a user namespace of its own (or the one an earlier call made, whose capabilities it then has). Returns
    ``label``, with ``user+`` before it where a user namespace was needed, '' where neither was allowed."""
    if LIBC.unshare(kind) == 0:
        return label
    if LIBC.unshare(CLONE_NEWUSER | kind) == 0:
        return f"user+{label}"
    return ""


def drop_capabilities() -> str:
    """No capability left, in any set, nor in the bounding set that an exec could regain them from."""
    for capability in range(64):
        if LIBC.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            break  # past the last capability, or not allowed to drop (then none is held)
    header = struct.pack("Ii", LINUX_CAPABILITY_VERSION_3, 0)
    data = bytes(24)  # two {effective, permitted, inheritable} triples, all zero
    _check(LIBC.capset(header, data), "capset")
    _check(LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    return "no capabilities"


def set_rlimits(limits: dict[str, tuple[int, int]]) -> str:
    for name, (soft, hard) in limits.items():
        resource.setrlimit(getattr(resource, name), (soft, hard))
    return ", ".join(sorted(name.removeprefix("RLIMIT_").lower() for name in limits))


def disabled_layers() -> frozenset[str]:
    """Layers switched off for a test run (never a user option: the tests prove each layer this way)."""
    return frozenset(filter(None, os.environ.get(DISABLE_VARIABLE, "").split(",")))


def contain(workspace: str, device: str, rlimits: dict[str, tuple[int, int]], hidden: str,
            disabled=frozenset(), readable=()) -> dict[str, str]:
    """Apply every layer not in ``disabled`` to this process; returns each layer's state, '' where none applied.
    ``workspace`` is read and written; ``readable`` (files or folders) only read.

    The order matters: the namespace needs the capabilities that are dropped next; seccomp
    and Landlock need no_new_privs; Landlock comes last so that nothing before it is denied.
    A layer the kernel refuses is reported as missing (''), and the others still apply: the
    grade is not the student's to lose for the machine's sake, and the report says so.
    """
    state = dict.fromkeys(LAYERS, "")
    system, devices = system_paths(device, hidden, workspace)
    network = []

    def attempt(apply, *args, **kwargs) -> str:
        try:
            return apply(*args, **kwargs)
        except (OSError, ValueError):  # ContainmentError, or an rlimit above what the kernel allows
            return ""

    if "network" not in disabled:
        network.append(own_namespace(CLONE_NEWNET, "namespace"))
    ipc = [own_namespace(CLONE_NEWIPC, "IPC namespace")] if "ipc" not in disabled else []
    if "rlimits" not in disabled:
        state["rlimits"] = attempt(set_rlimits, rlimits)
    if "privileges" not in disabled:
        state["privileges"] = attempt(drop_capabilities)
    if "network" not in disabled:
        network.append(attempt(deny_syscalls, NETWORK_SYSCALLS, "seccomp"))
    if "ipc" not in disabled:
        ipc.append(attempt(deny_syscalls, KEYRING_SYSCALLS, "seccomp keyrings"))
        state["ipc"] = " + ".join(filter(None, ipc)) if ipc[0] else ""  # the keyrings alone leave IPC open
    landlock = attempt(restrict_with_landlock, [*system, *readable], [workspace], devices,
                       filesystem="filesystem" not in disabled, network="network" not in disabled,
                       signals="signals" not in disabled)
    if landlock:
        abi = int(landlock.split()[1])
        if "filesystem" not in disabled:
            state["filesystem"] = f"Landlock {landlock}"
        if "network" not in disabled and abi >= 4:
            network.append("Landlock TCP")
        if "signals" not in disabled and abi >= 6:
            state["signals"] = f"Landlock {landlock} scopes"
    state["network"] = " + ".join(filter(None, network))
    return state
