"""``lora-grader doctor``: which containment layers this machine gives a test process, proven by trying.

A forked child contains itself exactly as a test process does (``containment.contain``),
then attempts what each layer should stop: read and write a file outside its workspace,
connect to a TCP listener and send UDP to the grader on 127.0.0.1, signal its parent, read
its parent's environment, write more bytes and more files than a small disk cap allows
(``disk.py``, as a zygote caps its subjects' home), find the System V objects, POSIX message
queue and keyring key the doctor made before forking it (``kernel_objects.py``). The table
says what was applied and whether the attempt failed.
``--isolation strict`` grades only where the file-system, network and IPC layers hold.
"""

import json
import os
import socket
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from grader import layout
from grader.grading.outputs import text_table
from grader.run.testrun import Limits, rlimits
from grader.sandbox import cgroups, disk, kernel_objects
from grader.sandbox.cgroup2 import LIMITS
from grader.sandbox.containment import contain, disabled_layers, landlock_abi

REQUIRED_FOR_STRICT = ("filesystem", "network", "ipc")
PROBE_DISK_MB, PROBE_DISK_FILES = 1, 64  # the doctor's own small cap: it writes twice as much of each


@dataclass
class Layer:
    name: str
    applied: str  # what was in force, '' if nothing
    stops: str  # what it would stop
    held: bool  # every attempt it should stop failed


def _attempts(outside: Path, tcp_port: int, udp_port: int, ipc: tuple[int, str]) -> dict[str, bool]:
    """In the contained child: True where the attempt was refused (for kernel objects: where it saw none)."""
    refused = {}

    def refuses(name, attempt):
        try:
            attempt()
            refused[name] = False
        except OSError:
            refused[name] = True

    refuses("read outside", lambda: (outside / "secret").read_text())
    refuses("write outside", lambda: (outside / "written").write_text("x"))

    def tcp():
        with socket.create_connection(("127.0.0.1", tcp_port), timeout=2):
            pass

    def udp():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"x", ("127.0.0.1", udp_port))

    refuses("tcp", tcp)
    refuses("udp", udp)
    refuses("signal parent", lambda: os.kill(os.getppid(), 0))
    refuses("parent environment", lambda: Path(f"/proc/{os.getppid()}/environ").read_bytes())

    def many_bytes():
        with open("written", "wb") as f:
            for _ in range(2 * PROBE_DISK_MB):
                f.write(bytes(2**20))
                f.flush()

    def many_files():
        for number in range(2 * PROBE_DISK_FILES):
            Path(f"file-{number}").touch()

    refuses("disk bytes", many_bytes)
    refuses("disk files", many_files)
    refused["kernel objects"] = not kernel_objects.find(*ipc)
    return refused


def probe(device: str = "cpu") -> list[Layer]:
    """Fork a child that contains itself and tries each escape; one row per layer."""
    limits = Limits()
    with tempfile.TemporaryDirectory(prefix="lora-grader-doctor-") as folder:
        workspace, outside = Path(folder) / "workspace", Path(folder) / "outside"
        workspace.mkdir()
        outside.mkdir()
        (outside / "secret").write_text("secret")
        with socket.socket() as listener, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as datagrams:
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            datagrams.bind(("127.0.0.1", 0))
            name = f"lora-grader-doctor-{os.getpid()}"  # each doctor its own objects: several may run at once
            ipc = (zlib.crc32(name.encode()), name)  # System V key, name
            left = kernel_objects.create(*ipc)
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: contain, attempt, report, and never return
                try:
                    os.close(read)
                    os.chdir(workspace)
                    capped = ("" if "disk" in disabled_layers()
                              else disk.cap_home(str(workspace), PROBE_DISK_MB, PROBE_DISK_FILES))
                    layers = contain(str(workspace), device, rlimits(limits, device), str(layout.ROOT),
                                     disabled_layers())
                    layers["disk"] = capped
                    os.write(write, json.dumps({"layers": layers, "refused": _attempts(
                        outside, listener.getsockname()[1], datagrams.getsockname()[1], ipc)}).encode())
                finally:
                    os._exit(0)
            os.close(write)
            with os.fdopen(read, "rb") as pipe:
                answer = json.loads(pipe.read() or b"{}")
            os.waitpid(pid, 0)
            kernel_objects.remove(*ipc)
    layers, refused = answer.get("layers", {}), answer.get("refused", {})
    group = None if "cgroup" in disabled_layers() else cgroups.create(
        f"lora-grader-doctor-{os.getpid()}", tasks=limits.tasks, memory_mb=limits.memory_mb)
    if group is not None:
        group.remove()
    abi = landlock_abi()

    def held(*names):
        return all(refused.get(name, False) for name in names)

    return [
        Layer("filesystem", layers.get("filesystem", ""), "reading or writing outside the workspace: the "
              "checkout, other submissions, results", held("read outside", "write outside")),
        Layer("network", layers.get("network", ""), "TCP, UDP and unix-socket connections, loopback included",
              held("tcp", "udp")),
        Layer("ipc", layers.get("ipc", ""), "a run's System V and POSIX IPC objects and keyring keys reaching "
              "another run", left == list(kernel_objects.KINDS) and held("kernel objects")),
        Layer("signals", layers.get("signals", ""), "signalling, tracing or reading the grader and its workers",
              held("signal parent", "parent environment")),
        Layer("privileges", layers.get("privileges", ""), "using a root grader's capabilities", True),
        Layer("rlimits", layers.get("rlimits", ""), "one process's CPU time, open files, file size, memory", True),
        Layer("disk", layers.get("disk", ""), "filling the disk that other submissions and the results share "
              "(without it, the grader stops a run once it sees it past --disk)", held("disk bytes", "disk files")),
        Layer("process tree", tree_layer(group), "fork bombs; CPU time and memory over all of a submission's processes",
              group is not None and not group.missing),
    ] + ([] if abi else [Layer("landlock", "", "(this kernel has no Landlock: no file-system or signal layer)",
                               False)])


def tree_layer(group) -> str:
    """What holds the process tree: which hierarchy, and on the unified one which limits the grader polls."""
    if group is None:
        return ""
    if group.version == 1:
        return "control group (pids, cpuacct, memory, freezer)"
    limits = "".join(f", {file}" for controller, file in LIMITS if controller not in group.missing)
    polled = f"; polled: {', '.join(group.missing)}" if group.missing else ""
    return f"control group v2 (cgroup.kill, cpu.stat{limits}){polled}"


def missing_for_strict(layers: list[Layer]) -> list[str]:
    return [layer.name for layer in layers
            if layer.name in REQUIRED_FOR_STRICT and not (layer.applied and layer.held)]


def table(layers: list[Layer]) -> str:
    rows = [("layer", "in force", "stops", "held")]
    rows += [(layer.name, layer.applied or "MISSING", layer.stops,
              "yes" if layer.applied and layer.held else "NO") for layer in layers]
    return text_table(rows)


def summary(layers: list[Layer]) -> str:
    """One line for the top of a batch's summary."""
    weak = [layer.name for layer in layers if not (layer.applied and layer.held)]
    if not weak:
        return "containment: every layer in force (lora-grader doctor shows which)"
    return (f"WARNING: containment missing on this machine: {', '.join(weak)}; a hostile submission could "
            "reach what those layers guard (see lora-grader doctor)")

