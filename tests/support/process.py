"""Stopping, killing and checking a service process under test (worker, dispatcher)."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path


class ProcessControl:
    proc: subprocess.Popen[bytes] | None
    log: Path
    label: str = "process"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        """SIGKILL: no clean-up runs, like a crashed pod."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def assert_alive(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(
                f"{self.label} exited {self.proc.returncode}:\n{self.log.read_text()[-5000:]}"
            )
