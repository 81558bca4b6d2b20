"""``python -m badges.agent`` as a real process for a test: started in its own process group
with its log in a file, its journal read back, stopped by SIGTERM or killed by SIGKILL."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.worker_process import ROOT, wait_until


@dataclass
class AgentProcess:
    process: subprocess.Popen
    log_path: Path
    journal: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def steps(self) -> list[dict]:
        """The journal's lines (a torn last line left out)."""
        if not self.journal.exists():
            return []
        lines = []
        for line in self.journal.read_text().splitlines():
            with contextlib.suppress(ValueError):
                lines.append(json.loads(line))
        return lines

    def wait_step(self, job: int, step: str, timeout: float = 30) -> None:
        def reached() -> bool:
            return any(s["job"] == job and s["step"] == step for s in self.steps())
        assert wait_until(reached, timeout=timeout), (self.steps(), self.log()[-3000:])

    def kill(self, *, group: bool = False) -> None:
        """SIGKILL the agent (``group``: and the ipptool it may be running)."""
        if group:
            os.killpg(self.process.pid, signal.SIGKILL)
        else:
            self.process.kill()
        self.process.wait(timeout=10)

    def group_gone(self) -> bool:
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return True
        return False

    def terminate(self, timeout: float = 30) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


def start_agent(tmp_path: Path, server: str, token: str, *args: str, run: int = 1,
                journal: Path | None = None) -> AgentProcess:
    journal = journal or tmp_path / "agent" / "journal.jsonl"
    log_path = tmp_path / f"agent-{run}.log"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VARCO_", "DJANGO_", "DATABASE_URL", "REDIS_URL"))}
    env["VARCO_STATION_TOKEN"] = token
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "badges.agent", "--server", server, "--journal",
             str(journal), "--wait", "1", *args],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return AgentProcess(process, log_path, journal)
