"""The embedded broker (worker/broker.py) shows a reader whole messages only, and a worker
survives a message file it cannot read."""

from __future__ import annotations

import logging
import os

import pytest
from kombu import Connection
from kombu.transport import filesystem
from kombu.utils.json import dumps

from worker import broker

QUEUE = "deliveries"


@pytest.fixture
def channel(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder),
               "processed_folder": str(tmp_path / "processed"), "store_processed": False,
               "control_folder": str(tmp_path / "control")}
    with Connection("filesystem://localhost/", transport="worker.broker:Transport",
                    transport_options=options) as connection:
        channel = connection.default_channel
        assert isinstance(channel, broker.Channel)
        yield channel


def test_a_reader_never_sees_a_message_being_written(channel, monkeypatch):
    seen_mid_write = []
    rename = os.replace

    def replace(source, target):
        # the bytes are written, the message not yet in place: a worker polling now...
        with pytest.raises(filesystem.Empty):
            channel._get(QUEUE)
        seen_mid_write.append(sorted(os.listdir(channel.data_folder_in)))
        rename(source, target)

    monkeypatch.setattr(broker.os, "replace", replace)
    channel._put(QUEUE, {"task": "tickets.send_deliveries", "n": 1})
    [[partial]] = seen_mid_write
    assert partial.endswith(f".{QUEUE}.msg{broker.PARTIAL}")
    # ...and once renamed, it reads whole
    assert channel._get(QUEUE) == {"task": "tickets.send_deliveries", "n": 1}
    assert os.listdir(channel.data_folder_in) == []


def test_kombus_own_writer_shows_an_empty_file_to_a_reader(channel, monkeypatch):
    """What this transport prevents: kombu's writer creates the file, then writes to it, and a
    reader in between decodes an empty file. (If kombu ever writes atomically, this fails: then
    worker/broker.py can go.)"""
    def write_after_a_read(file, data):
        with pytest.raises(ValueError):  # the empty file, taken and decoded by a reader
            channel._get_unguarded(QUEUE)
        return len(data)

    monkeypatch.setattr(broker.Channel, "_get_unguarded",
                        lambda self, queue: filesystem.Channel._get(self, queue), raising=False)
    monkeypatch.setattr(filesystem, "open", _opener(write_after_a_read), raising=False)
    filesystem.Channel._put(channel, QUEUE, {"n": 1})


def _opener(write):
    real_open = open

    def open_(path, mode="r", *args, **kwargs):
        file = real_open(path, mode, *args, **kwargs)
        if "w" in mode:
            file.write = lambda data: write(file, data)
        return file
    return open_


def test_an_unreadable_message_file_is_skipped_and_the_next_one_read(channel, caplog):
    folder = channel.data_folder_in
    with open(os.path.join(folder, f"1_a.{QUEUE}.msg"), "wb"):
        pass  # empty: what kombu's writer left when killed between creating and writing
    with open(os.path.join(folder, f"2_b.{QUEUE}.msg"), "wb") as file:
        file.write(dumps({"n": 2}).encode())
    with caplog.at_level(logging.ERROR, logger="worker.broker"):
        assert channel._get(QUEUE) == {"n": 2}
    assert "unreadable message file" in caplog.text
    with pytest.raises(filesystem.Empty):
        channel._get(QUEUE)
