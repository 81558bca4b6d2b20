"""``python -m badges.agent``: the print agent, run next to a printer (docs/badges.md).

    VARCO_STATION_TOKEN=... python -m badges.agent --server https://tickets.example.org \\
        [--token-file FILE] [--journal FILE] [--cups-server HOST:PORT] [--wait SECONDS]

The station's token comes from the environment or a file (never the command line, which
``ps`` shows to every user). Where to print comes from the server (the station's ``output``):
a CUPS queue (on ``--cups-server``, default ``localhost:631``) or a Brother QL at host:port.
A station whose output is ``browser`` is refused. SIGTERM or SIGINT stops it after the job in
hand (at once when idle). Exit status: 0 stopped, 2 a configuration the agent cannot use.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from pathlib import Path

from badges.agent.client import (
    MAX_WAIT,
    AgentError,
    Refused,
    Station,
    StationClient,
    Unavailable,
)
from badges.agent.journal import Journal, JournalError
from badges.agent.loop import Agent, Stopped
from badges.agent.outputs import Printer
from badges.agent.outputs.brother import BrotherPrinter
from badges.agent.outputs.cups import CupsPrinter

logger = logging.getLogger("badges.agent")

TOKEN_ENV = "VARCO_STATION_TOKEN"
MAX_TOKEN = 200


class ConfigError(Exception):
    """Something the person starting the agent must fix; printed without a traceback."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m badges.agent",
                                     description="Varco's print agent: prints the badges a "
                                                 "print station's gates admit.")
    parser.add_argument("--server", default=os.environ.get("VARCO_SERVER_URL"),
                        help="Varco's address, e.g. https://tickets.example.org "
                             "(default: $VARCO_SERVER_URL)")
    parser.add_argument("--token-file", type=Path,
                        help=f"a file holding the station token (default: ${TOKEN_ENV})")
    parser.add_argument("--journal", type=Path, default=Path("var/print-agent/journal.jsonl"),
                        help="the agent's write-ahead journal (default: %(default)s)")
    parser.add_argument("--cups-server", default=os.environ.get("CUPS_SERVER", "localhost:631"),
                        help="CUPS's host:port for a cups station (default: $CUPS_SERVER "
                             "or localhost:631)")
    parser.add_argument("--cups-user", default="varco-agent",
                        help="the user name CUPS jobs are submitted as (default: %(default)s)")
    parser.add_argument("--wait", type=int, default=MAX_WAIT, choices=range(0, MAX_WAIT + 1),
                        metavar=f"0..{MAX_WAIT}",
                        help="seconds to long-poll for a job (default: %(default)s)")
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "INFO"),
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser.parse_args(argv)


def read_token(args: argparse.Namespace) -> str:
    from_env = os.environ.get(TOKEN_ENV, "").strip()
    if args.token_file is not None:
        if from_env:
            raise ConfigError(f"give the token once: --token-file or ${TOKEN_ENV}, not both")
        try:
            token = args.token_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"cannot read the token file {args.token_file}: {error}") from None
    else:
        token = from_env
    if not token:
        raise ConfigError(f"no station token: set ${TOKEN_ENV} or pass --token-file "
                          "(the console shows it once when the station is created)")
    if len(token) > MAX_TOKEN or any(c.isspace() or not c.isprintable() for c in token):
        raise ConfigError("the station token is not a token (spaces, control characters, "
                          f"or longer than {MAX_TOKEN} characters)")
    return token


def make_printer(station: Station, args: argparse.Namespace) -> Printer:
    output = station.output
    try:
        if output.kind == "cups":
            return CupsPrinter(args.cups_server, output.queue, requester=args.cups_user)
        if output.kind == "brother_ql":
            if not output.host:
                raise ValueError("the station's Brother QL output has no host")
            return BrotherPrinter(output.host, output.port, output.model, output.label)
    except ValueError as error:
        raise ConfigError(f"station {station.name!r}: {error}") from None
    raise ConfigError(f"station {station.name!r} prints with output {output.kind!r}: the agent "
                      "prints to cups or brother_ql (a browser station uses the print page)")


def whoami(client: StationClient) -> Station:
    """The station, waiting for the server to answer (an agent may boot before it)."""
    delay = 1.0
    while True:
        try:
            return client.whoami()
        except Unavailable as error:
            logger.warning("the server does not answer (%s); again in %.0f s", error, delay)
            time.sleep(delay)
            delay = min(delay * 2, 30.0)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    agent: Agent | None = None
    stop_requested = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True
        logger.info("signal %s: stopping after the job in hand", signal.Signals(signum).name)
        if agent is not None:
            agent.request_stop()
        else:
            raise Stopped

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        if not args.server or not args.server.startswith(("http://", "https://")):
            raise ConfigError("--server (or $VARCO_SERVER_URL) must be Varco's http(s):// "
                              "address")
        client = StationClient(args.server, read_token(args))
        station = whoami(client)
        printer = make_printer(station, args)
        logger.info("station %r of %s, gates %s: printing to %s", station.name, station.event,
                    ", ".join(station.gates) or "(none)", printer.describe())
        with Journal.open(args.journal) as journal:
            agent = Agent(client, printer, journal, wait=args.wait)
            if stop_requested:
                return 0
            agent.run()
        return 0
    except Stopped:
        return 0
    except (ConfigError, JournalError) as error:
        print(f"badges.agent: {error}", file=sys.stderr)
        return 2
    except Refused as error:
        if error.status in (401, 403):
            print(f"badges.agent: the server refused the station token ({error})",
                  file=sys.stderr)
        else:
            print(f"badges.agent: the server refused a request: {error}", file=sys.stderr)
        return 2
    except AgentError as error:
        print(f"badges.agent: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
