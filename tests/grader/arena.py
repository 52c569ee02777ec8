"""A place to grade hostile submissions: a copy of the grader's checkout, an answer key and listeners,
all in a temporary folder whose path holds the attacks' canary, so an escape harms nothing real."""

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import psutil

from grader import layout
from grader.assignments.pack import find
from grader.layout import ROOT

from .. import module_file

LORA_BERT = find("lora-bert")

ADVERSARIAL = ROOT / "examples" / "adversarial"
CORRECT = LORA_BERT.examples / "correct.py"
attacks = module_file.load("attacks", ROOT / "examples" / "attacks.py")
make_examples = module_file.load("make_examples", ROOT / "examples" / "make_examples.py")
DO_NOTHING = tuple(make_examples.DO_NOTHING)  # the untouched template doing nothing: each scores 0
SECRET = "the answer to question 3 is 42"


class Listeners:
    """A TCP listener and a UDP socket on the attacks' ports of 127.0.0.1, and a unix socket: what they got.

    One set at a time on this machine: the attacks send to every port of their range and to one socket path, so a
    test that lets them through (a layer switched off) would reach another test's listeners, were both running at
    once on two pytest-xdist workers. ``LOCK`` is held from the first bind to ``close``."""

    LOCK = Path(tempfile.gettempdir()) / "lora-grader-canary-listeners.lock"

    def __init__(self):
        self.lock = open(self.LOCK, "a")  # noqa: SIM115  (held until close)
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        self.received: list[bytes] = []
        self.tcp = self._bind(socket.SOCK_STREAM)
        self.udp = self._bind(socket.SOCK_DGRAM)
        self.tcp.listen()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(attacks.UNIX_SOCKET)
        self.unix = socket.socket(socket.AF_UNIX)
        self.unix.bind(attacks.UNIX_SOCKET)
        self.unix.listen()
        self.running = True
        self.threads = [threading.Thread(target=self._accept, args=(s,), daemon=True) for s in (self.tcp, self.unix)]
        self.threads.append(threading.Thread(target=self._datagrams, daemon=True))
        for thread in self.threads:
            thread.start()

    @staticmethod
    def _bind(kind) -> socket.socket:
        for port in attacks.PORTS:
            sock = socket.socket(socket.AF_INET, kind)
            try:
                sock.bind(("127.0.0.1", port))
                return sock
            except OSError:
                sock.close()
        raise RuntimeError(f"no free port in {attacks.PORTS}")

    def _accept(self, server: socket.socket) -> None:
        server.settimeout(0.2)
        while self.running:
            try:
                connection, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            with connection:
                connection.settimeout(2)
                try:
                    self.received.append(connection.recv(1024) or b"(connected)")
                except OSError:
                    self.received.append(b"(connected)")

    def _datagrams(self) -> None:
        self.udp.settimeout(0.2)
        while self.running:
            try:
                self.received.append(self.udp.recv(1024))
            except (TimeoutError, OSError):
                continue

    def close(self) -> list[bytes]:
        self.running = False
        for thread in self.threads:
            thread.join()
        for sock in (self.tcp, self.udp, self.unix):
            sock.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(attacks.UNIX_SOCKET)
        self.lock.close()  # and with it the lock
        return self.received


class Arena:
    def __init__(self, folder: Path):
        self.root = folder / attacks.CANARY
        self.checkout = self.root / "checkout"
        for part in ("grader", "tiny_models", "data"):
            shutil.copytree(ROOT / part, self.checkout / part, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(ROOT / "tests" / "assignment", self.checkout / "tests" / "assignment",
                        ignore=shutil.ignore_patterns("__pycache__"))
        layout.copy_suite_root(self.checkout / "tests")
        pack = self.checkout / LORA_BERT.folder.relative_to(ROOT)  # its spec and contract: no solution here
        pack.mkdir(parents=True)
        for path in (LORA_BERT.spec_file, LORA_BERT.contract):
            shutil.copy(path, pack / path.name)
        (self.root / attacks.ANSWER_KEY).write_text(SECRET)
        self.tmp = self.root / "tmp"
        self.tmp.mkdir()
        self.out = self.root / "out"
        self.models = fingerprint(self.checkout / "tiny_models")

    def grade(self, paths: list[Path], *options: str, disabled: str = "", timeout: int = 900, prefix=()):
        """``lora-grader grade`` from the copied checkout, its temporary folders inside the arena; ``prefix``: a
        command it runs under."""
        submissions = self.root / "submissions"
        shutil.rmtree(submissions, ignore_errors=True)
        submissions.mkdir()
        for path in paths:
            (shutil.copytree if path.is_dir() else shutil.copy)(path, submissions / path.name)
        env = {**os.environ, "TMPDIR": str(self.tmp), "LORA_GRADER_DISABLE_LAYERS": disabled}
        command = [*prefix, sys.executable, "-m", "grader", "grade", str(submissions), "--out", str(self.out)]
        return subprocess.run([*command, "--quiet", *options], cwd=self.checkout, env=env, capture_output=True,
                              text=True, timeout=timeout)

    def results(self, name: str) -> dict:
        return json.loads((self.out / name / "results.json").read_text())

    def escaped_files(self) -> list[Path]:
        return sorted(self.root.rglob("escaped.txt"))

    def survivors(self) -> list[str]:
        """Processes of this arena still running: anything whose command line or folder lies in it."""
        found = []
        for process in psutil.process_iter(["pid", "cmdline", "cwd"]):
            text = " ".join(process.info["cmdline"] or ()) + " " + str(process.info["cwd"] or "")
            if str(self.root) in text and process.pid != os.getpid():
                found.append(f"{process.pid}: {text[:200]}")
        return found

    def kill_survivors(self) -> None:
        for process in psutil.process_iter(["cmdline"]):
            if str(self.root) in " ".join(process.info["cmdline"] or ()):
                with contextlib.suppress(psutil.Error):
                    process.kill()


def fingerprint(folder: Path) -> dict[str, str]:
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def outputs(results: dict) -> str:
    return results.get("output", "") + "\n".join(test["output"] for test in results["tests"])
