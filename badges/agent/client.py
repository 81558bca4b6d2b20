"""The station API as the agent speaks it (docs/badges.md, "Print stations: the API").

``requests`` (a ``Session``: one kept-alive connection, ``Authorization: Token`` on every
call) with a timeout on every request: connect 10 s, read the long-poll's ``wait`` plus 15 s.
What the server answers is validated here, once: a job whose fields are missing or of the
wrong type is refused as a ``ProtocolError`` rather than half-printed; a PDF is bounded in
size and must start with ``%PDF-``.

Two kinds of failure: ``Unavailable`` (no answer, a 5xx, a 429: try again later, nothing is
lost because every step is conditional on the claim) and ``Refused`` (a 4xx with the one JSON
error body: this request will not succeed as it is; ``status`` and ``code`` tell which).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from core.errors import VarcoError

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
MAX_PDF_BYTES = 20 * 1024 * 1024
MAX_WAIT = 25


class AgentError(VarcoError):
    code = "agent_error"


class Unavailable(AgentError):
    """The server did not answer usefully (network, 5xx, 429): retry later."""

    code = "unavailable"


class Refused(AgentError):
    """A 4xx with the JSON error body."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(f"{status} {code}: {detail}", code)
        self.status = status


class ProtocolError(AgentError):
    """The server answered something the contract does not allow."""

    code = "protocol"


@dataclass(frozen=True)
class Output:
    kind: str  # browser | cups | brother_ql
    queue: str = ""
    host: str = ""
    port: int = 9100
    model: str = ""
    label: str = ""


@dataclass(frozen=True)
class Station:
    id: int
    name: str
    event: str
    gates: tuple[str, ...]
    output: Output


@dataclass(frozen=True)
class Job:
    id: int
    attempt: int
    claim: str
    ticket: str
    name: str
    gate: str
    reprint: bool
    width_mm: float
    height_mm: float
    preset: str
    pdf: str


@dataclass(frozen=True)
class InDoubt:
    id: int
    attempt: int


def _field(data: Any, key: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(key) if isinstance(data, dict) else None
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise ProtocolError(f"the server's answer has no valid {key!r}")
    return value


def parse_station(data: Any) -> Station:
    output = _field(data, "output", dict)
    kind = _field(output, "kind", str)
    port = output.get("port")
    return Station(
        id=_field(data, "id", int), name=_field(data, "name", str),
        event=str(_field(_field(data, "event", dict), "name", str)),
        gates=tuple(str(g) for g in _field(data, "gates", list)),
        output=Output(kind=kind, queue=str(output.get("queue") or ""),
                      host=str(output.get("host") or ""),
                      port=port if isinstance(port, int) and 0 < port < 65536 else 9100,
                      model=str(output.get("model") or ""), label=str(output.get("label") or "")),
    )


def parse_job(data: Any) -> Job:
    job = _field(data, "job", dict)
    layout = _field(job, "layout", dict)
    width, height = (_field(layout, k, (int, float)) for k in ("width_mm", "height_mm"))
    if not (10 <= width <= 1000 and 10 <= height <= 1000):
        raise ProtocolError(f"a badge of {width} x {height} mm is not a badge")
    pdf = _field(job, "pdf", str)
    if not pdf.startswith("/api/v1/badges/station/jobs/"):
        # the token goes with every request: only ever to the server's own station API
        raise ProtocolError(f"the badge's address {pdf[:100]!r} is not the station API's")
    claim = _field(job, "claim", str)
    if not 0 < len(claim) <= 200:
        raise ProtocolError("the claim token is empty or too long")
    return Job(id=_field(job, "id", int), attempt=_field(job, "attempt", int), claim=claim,
               ticket=str(job.get("ticket") or ""), name=str(job.get("name") or ""),
               gate=str(job.get("gate") or ""), reprint=bool(job.get("reprint")),
               width_mm=float(width), height_mm=float(height),
               preset=str(layout.get("preset") or ""), pdf=pdf)


class StationClient:
    def __init__(self, server: str, token: str, session: requests.Session | None = None) -> None:
        self.base = server.rstrip("/")
        self.session = session or requests.Session()
        self.session.headers.update({"Authorization": f"Token {token}",
                                     "Accept": "application/json",
                                     "User-Agent": "varco-print-agent"})

    def close(self) -> None:
        self.session.close()

    def _request(self, method: str, path: str, *, json: dict | None = None,
                 read_timeout: float = READ_TIMEOUT, stream: bool = False,
                 params: dict | None = None) -> requests.Response:
        url = self.base + path
        try:
            response = self.session.request(method, url, json=json, params=params,
                                            timeout=(CONNECT_TIMEOUT, read_timeout),
                                            stream=stream, allow_redirects=False)
        except requests.RequestException as error:
            raise Unavailable(f"{method} {path}: {error}") from error
        if response.status_code >= 500 or response.status_code == 429:
            response.close()
            raise Unavailable(f"{method} {path}: HTTP {response.status_code}")
        if response.status_code >= 400:
            try:
                body = response.json()
                code, detail = str(body["error"]), str(body["detail"])
            except (ValueError, KeyError, TypeError):
                code, detail = "error", response.text[:200]
            raise Refused(response.status_code, code, detail)
        if 300 <= response.status_code < 400:
            raise ProtocolError(f"{method} {path}: unexpected redirect to "
                                f"{response.headers.get('Location', '?')}")
        return response

    def _json(self, response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError as error:
            raise ProtocolError(f"not JSON: {response.text[:200]!r}") from error

    def whoami(self) -> Station:
        return parse_station(self._json(self._request("GET", "/api/v1/badges/station/")))

    def claim(self, wait: int = 0) -> Job | None:
        wait = max(0, min(int(wait), MAX_WAIT))
        response = self._request("POST", "/api/v1/badges/station/claim/", json={"wait": wait},
                                 read_timeout=wait + 15)
        if response.status_code == 204:
            return None
        return parse_job(self._json(response))

    def badge_pdf(self, job: Job) -> bytes:
        response = self._request("GET", job.pdf, params={"claim": job.claim}, stream=True)
        with response:
            chunks, size = [], 0
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > MAX_PDF_BYTES:
                    raise ProtocolError(f"the badge PDF is larger than {MAX_PDF_BYTES} bytes")
                chunks.append(chunk)
        data = b"".join(chunks)
        if not data.startswith(b"%PDF-"):
            raise ProtocolError("the badge is not a PDF")
        return data

    def _job_post(self, job_id: int, step: str, body: dict) -> None:
        self._request("POST", f"/api/v1/badges/station/jobs/{job_id}/{step}/", json=body)

    def handed(self, job_id: int, claim: str) -> None:
        self._job_post(job_id, "handed", {"claim": claim})

    def printed(self, job_id: int, claim: str, printer_job: str | None) -> None:
        self._job_post(job_id, "printed", {"claim": claim, "printer_job": printer_job})

    def failed(self, job_id: int, claim: str, error: str, retry: bool) -> None:
        self._job_post(job_id, "failed", {"claim": claim, "error": error[:1000], "retry": retry})

    def in_doubt(self) -> list[InDoubt]:
        data = self._json(self._request("GET", "/api/v1/badges/station/in-doubt/"))
        rows = data.get("results", data.get("jobs")) if isinstance(data, dict) else data
        if not isinstance(rows, list):
            raise ProtocolError("the in-doubt list is not a list")
        return [InDoubt(id=_field(row, "id", int), attempt=_field(row, "attempt", int))
                for row in rows]

    def resolve(self, job_id: int, printed: bool) -> None:
        self._job_post(job_id, "resolve", {"printed": printed})
