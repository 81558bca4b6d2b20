"""A real CUPS server for a test: its own ``cupsd`` on a free loopback port, with a temporary
configuration, and a ``cups-pdf`` virtual printer writing each job as a PDF into a temp folder.

Debian's ``cups`` and ``printer-driver-cups-pdf`` (``make cups``). cups-pdf refuses to run
unless cupsd runs as root, and reads its settings only from ``/etc/cups/cups-pdf-<instance>.conf``
(compiled in): each server writes its own instance file there, named after its temp folder,
and removes it when it stops. The jobs go through CUPS's real filter chain (pdftops, then
Ghostscript back to PDF), so what lands in ``output`` is what a printer would have printed.

The policy is CUPS's default (``JobPrivateValues default``): job names are shown only to the
job's owner, which for an unauthenticated request is its ``requesting-user-name``; the agent
submits and looks up under one name (``--cups-user``), so it sees its own jobs' names.
"""

from __future__ import annotations

import contextlib
import os
import plistlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.smtp_sink import free_port
from tests.support.worker_process import wait_until

PPD = Path("/usr/share/ppd/cups-pdf/CUPS-PDF_opt.ppd")
REQUESTS = Path(__file__).resolve().parents[2] / "badges" / "agent" / "ipp"

CUPS_FILES = """\
ServerRoot {root}/etc
RequestRoot {root}/spool
TempDir {root}/spool/tmp
StateDir {root}/run
CacheDir {root}/cache
ServerBin /usr/lib/cups
DataDir /usr/share/cups
DocumentRoot /usr/share/cups/doc-root
AccessLog {root}/log/access_log
ErrorLog {root}/log/error_log
PageLog {root}/log/page_log
Printcap {root}/run/printcap
SystemGroup root
User lp
Group lp
"""

CUPSD = """\
Listen 127.0.0.1:{port}
LogLevel info
WebInterface No
Browsing No
BrowseLocalProtocols none
DefaultShared No
PreserveJobHistory Yes
PreserveJobFiles No
MaxJobs 0
<Location />
  Order allow,deny
  Allow from all
</Location>
<Policy default>
  JobPrivateAccess default
  JobPrivateValues default
  <Limit All>
    Order deny,allow
    Allow from all
  </Limit>
</Policy>
"""

CUPS_PDF = """\
Out {out}
AnonDirName {out}
Label 1
UserUMask 0000
Log {root}/log
LogType 3
"""


def missing() -> str | None:
    """Why this machine cannot run the CUPS tests, or None."""
    for tool in ("cupsd", "lpadmin", "ipptool"):
        if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists():
            return f"{tool} is missing: run `make cups` (Debian's cups, cups-ipp-utils)"
    if not Path("/usr/lib/cups/backend/cups-pdf").exists() or not PPD.exists():
        return "cups-pdf is missing: run `make cups` (Debian's printer-driver-cups-pdf)"
    if os.geteuid() != 0:
        return "cups-pdf prints only under a cupsd running as root: run the CUPS tests as root"
    return None


@dataclass
class CupsServer:
    address: str  # host:port, for the agent's --cups-server
    root: Path
    output: Path
    queue: str
    process: subprocess.Popen

    @property
    def uri(self) -> str:
        return f"ipp://{self.address}/printers/{self.queue}"

    def printed(self) -> list[Path]:
        """The PDFs cups-pdf wrote, oldest first."""
        return sorted(self.output.glob("*.pdf"), key=lambda p: p.stat().st_mtime_ns)

    def jobs(self, requester: str = "varco-agent") -> list[dict]:
        """Every job in the queue's history: job-id, job-name (of ``requester``'s jobs),
        job-state, ..."""
        done = subprocess.run(
            ["ipptool", "-X", "-T", "10", "-d", f"requester={requester}", self.uri,
             str(REQUESTS / "get-jobs.test")], capture_output=True, timeout=40, check=True)
        groups = plistlib.loads(done.stdout)["Tests"][0]["ResponseAttributes"][1:]
        return [group for group in groups if "job-id" in group]

    def wait_finished(self, count: int, timeout: float = 60) -> list[dict]:
        """Wait until ``count`` jobs have completed (state 9) and cups-pdf wrote their files."""
        def done() -> bool:
            finished = [j for j in self.jobs() if j.get("job-state") in (7, 8, 9)]
            return len(finished) >= count and len(self.printed()) >= count
        assert wait_until(done, timeout=timeout), (self.jobs(), self.log()[-3000:])
        return self.jobs()

    def log(self) -> str:
        path = self.root / "log" / "error_log"
        return path.read_text(errors="replace") if path.exists() else ""


def cupsd_log(root: Path) -> str:
    return "\n".join(path.read_text(errors="replace")[-3000:]
                     for path in (root / "log" / "cupsd.out", root / "log" / "error_log")
                     if path.exists())


@contextlib.contextmanager
def cups_server(queue: str = "badges") -> Iterator[CupsServer]:
    reason = missing()
    assert reason is None, reason
    root = Path(tempfile.mkdtemp(prefix="varco-cups-"))
    instance = "varco" + root.name.removeprefix("varco-cups-").replace("_", "")
    instance_conf = Path(f"/etc/cups/cups-pdf-{instance}.conf")
    process = None
    try:
        # the filters run as lp: every folder they read or write must be reachable by it
        root.chmod(0o755)
        for sub in ("etc", "spool", "run", "cache", "log"):
            (root / sub).mkdir(mode=0o755)
        (root / "spool" / "tmp").mkdir(mode=0o1777)
        output = root / "out"
        output.mkdir()
        output.chmod(0o1777)
        port = free_port()
        (root / "etc" / "cups-files.conf").write_text(CUPS_FILES.format(root=root))
        (root / "etc" / "cupsd.conf").write_text(CUPSD.format(port=port))
        instance_conf.write_text(CUPS_PDF.format(out=output, root=root))
        log = open(root / "log" / "cupsd.out", "wb")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen(
            ["cupsd", "-f", "-c", str(root / "etc" / "cupsd.conf"),
             "-s", str(root / "etc" / "cups-files.conf")],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        address = f"127.0.0.1:{port}"

        def answers() -> bool:
            return subprocess.run(["lpstat", "-h", address, "-r"], capture_output=True,
                                  timeout=10, check=False).returncode == 0
        assert wait_until(answers, timeout=20), cupsd_log(root)
        tries: list[str] = []

        def add_queue() -> bool:
            # lpadmin right after start-up sometimes fails to connect ("Bad file
            # descriptor") though lpstat got an answer: try again for a while
            added = subprocess.run(["lpadmin", "-h", address, "-p", queue, "-E", "-v",
                                    f"cups-pdf:/{instance}", "-P", str(PPD)],
                                   capture_output=True, text=True, timeout=30, check=False)
            tries.append(added.stderr)
            return added.returncode == 0
        assert wait_until(add_queue, timeout=20), (tries, cupsd_log(root))
        yield CupsServer(address, root, output, queue, process)
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        instance_conf.unlink(missing_ok=True)
        shutil.rmtree(root, ignore_errors=True)
