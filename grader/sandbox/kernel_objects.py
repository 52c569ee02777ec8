"""Kernel objects that no path names and that outlive the process that made them: System V shared memory,
message queues and semaphore sets, POSIX message queues, and keys in the user's keyring.

A run could leave one for the next to find (a message between two students) or to pin memory that is never
freed. ``containment.py``'s ``ipc`` layer keeps each run's objects in an IPC namespace of its own and refuses the
keyring calls; ``doctor.py`` proves it with an object made here that its contained child must not see, and the
tests look, after a batch, for what a submission left. Written with ``ctypes`` on the C library's own calls: the
standard library has none of them, and ``sysv_ipc`` would be a dependency for five calls.
"""

import ctypes
import os
import platform

from grader.sandbox.containment import SYSCALL_NUMBERS

LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.syscall.restype = ctypes.c_long
IPC_CREAT, IPC_RMID = 0o1000, 0
KEY_SPEC_USER_KEYRING, KEYCTL_UNLINK, KEYCTL_SEARCH = -4, 9, 10
KINDS = ("shared memory", "message queue", "semaphore set", "POSIX message queue", "key")


def _keyring_call(name: str, *args) -> int:
    """``add_key`` or ``keyctl``, by this machine's syscall number; -1 where there is no table for it."""
    numbers = SYSCALL_NUMBERS.get(platform.machine())
    return LIBC.syscall(numbers[name], *args) if numbers else -1


def create(key: int, name: str) -> list[str]:
    """One object of each kind, named by ``key`` (System V) or ``name``; the kinds this process was allowed."""
    made = [LIBC.shmget(key, 1 << 20, IPC_CREAT | 0o600) >= 0, LIBC.msgget(key, IPC_CREAT | 0o600) >= 0,
            LIBC.semget(key, 1, IPC_CREAT | 0o600) >= 0]
    queue = LIBC.mq_open(f"/{name}".encode(), os.O_CREAT | os.O_RDWR, 0o600, None)
    if queue >= 0:
        LIBC.mq_close(queue)
    made.append(queue >= 0)
    made.append(_keyring_call("add_key", b"user", name.encode(), b"left by a run", 13, KEY_SPEC_USER_KEYRING) >= 0)
    return [kind for kind, ok in zip(KINDS, made, strict=True) if ok]


def _ids(key: int, name: str) -> dict[str, int]:
    """The id of each object of ``key`` and ``name`` this process sees, -1 where none."""
    queue = LIBC.mq_open(f"/{name}".encode(), os.O_RDONLY, 0, None)
    if queue >= 0:
        LIBC.mq_close(queue)
    return dict(zip(KINDS, (LIBC.shmget(key, 0, 0), LIBC.msgget(key, 0), LIBC.semget(key, 0, 0), queue,
                            _keyring_call("keyctl", KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, b"user", name.encode(), 0)),
                    strict=True))


def find(key: int, name: str) -> list[str]:
    """The kinds of which an object of ``key`` or ``name`` exists where this process looks."""
    return [kind for kind, found in _ids(key, name).items() if found >= 0]


def remove(key: int, name: str) -> None:
    """Remove every object of ``key`` and ``name`` this process sees."""
    ids = _ids(key, name)
    if ids["shared memory"] >= 0:
        LIBC.shmctl(ids["shared memory"], IPC_RMID, None)
    if ids["message queue"] >= 0:
        LIBC.msgctl(ids["message queue"], IPC_RMID, None)
    if ids["semaphore set"] >= 0:
        LIBC.semctl(ids["semaphore set"], 0, IPC_RMID)
    LIBC.mq_unlink(f"/{name}".encode())
    if ids["key"] >= 0:
        _keyring_call("keyctl", KEYCTL_UNLINK, ids["key"], KEY_SPEC_USER_KEYRING)
