"""The embedded broker (no Redis: ``make run``, the embedded event day): kombu's filesystem
transport, with each message made visible whole.

Why not kombu's own as it is (kombu 5.7): its ``_put`` creates the message file in the folder
the worker reads and only then writes the bytes, and its ``_get`` takes any file of the queue
there. A worker polling in between takes an empty file; decoding it raised JSONDecodeError,
which Celery treats as unrecoverable: the worker's main process exited and no ticket was e-mailed
for the rest of the day (seen in the embedded event day: a ticket reissued after that moment
never arrived). A writer killed between the two steps left such a file for good, killing every
worker started after it.

Here a message is written under a name the reader passes over (``.part`` after the queue's
``.msg``) and renamed into place, which is atomic: a reader sees no file or a whole one. A file
the reader cannot decode anyway (left by an older writer, or damaged) is logged and skipped, as
kombu already removed it, and the next message is read. tests/worker/test_broker.py.

Selected by backend/settings.py (``CELERY_BROKER_TRANSPORT``) when there is no REDIS_URL.
"""

from __future__ import annotations

import logging
import os
import uuid
from time import monotonic

from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

log = logging.getLogger(__name__)

PARTIAL = ".part"  # a message still being written: "<ms>_<uuid>.<queue>.msg.part"


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload, **kwargs) -> None:
        # kombu's name, so that its reader orders and selects the messages as it always has
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + PARTIAL
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _get(self, queue: str):
        while True:  # each failed read has removed its file: this ends, with a message or Empty
            try:
                return super()._get(queue)
            except ValueError as exc:  # json.JSONDecodeError
                log.error("Skipped an unreadable message file of queue %s: %s", queue, exc)


class Transport(filesystem.Transport):
    Channel = Channel
