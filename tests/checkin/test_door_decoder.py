"""The door camera reads every ticket code (issue 11's camera; the flake that found it: a CI
run whose ticket the camera filmed for 90 s without reading it).

ZXing's JavaScript port misses about 1 ticket code in 12 in a clean, steady frame: a run in the
code's data that looks like a corner is taken for one (zxing-js/library#653). The door page
installs the Java ZXing's finder rules on it (``checkin/frontend/src/zxing-finder.js``) and reads
every other frame turned by 180° (``src/camera.js``). ``node --test
checkin/frontend/test/decoder.test.mjs`` draws a sample of ticket codes as the PDF draws them
(``tickets.documents.qr.matrix``) and checks every one reads, upright or turned, and that none the
port read is lost. The codes are made as ``tickets.signing`` makes them (payload + Ed25519-sized
signature, base32), with random ids and signature bytes from a fixed seed: the same sample every
run.
"""

from __future__ import annotations

import base64
import json
import random
import shutil
import struct
import subprocess
from pathlib import Path

from tickets import signing
from tickets.documents.qr import matrix

ROOT = Path(__file__).resolve().parents[2]
TEST = ROOT / "checkin" / "frontend" / "test" / "decoder.test.mjs"
SAMPLE = 300
_PAYLOAD = struct.Struct(">BIIIH")  # tickets.signing's layout (tests/tickets/test_code_format.py)


def _codes(count: int, seed: int = 11) -> list[str]:
    draw = random.Random(seed)
    signature_bytes = signing.CODE_BYTES - _PAYLOAD.size
    codes = []
    for _ in range(count):
        payload = _PAYLOAD.pack(signing.FORMAT, draw.randrange(1, 50), draw.randrange(1, 5000),
                                draw.randrange(1, 2**31), draw.randrange(1, 5))
        raw = payload + draw.randbytes(signature_bytes)
        codes.append(base64.b32encode(raw).decode()[: signing.CODE_LENGTH])
    return codes


def test_the_door_camera_reads_every_ticket_code(tmp_path):
    node = shutil.which("node")
    assert node, "node is needed for the door page's tests (Debian: apt-get install nodejs)"
    codes = _codes(SAMPLE)
    assert all(signing.parse_code(code) for code in codes)  # well-formed, as real ones
    # 7 pixels per module in a 640x480 frame: the size where the port missed the most
    sample = {"width": 640, "height": 480, "scale": 7, "codes": [
        {"code": code, "rows": ["".join("1" if dark else "0" for dark in row)
                                for row in matrix(code)]}
        for code in codes
    ]}
    path = tmp_path / "codes.json"
    path.write_text(json.dumps(sample))
    done = subprocess.run([node, "--test", str(TEST)], capture_output=True, text=True,
                          timeout=300, env={"PATH": "/usr/bin:/bin",
                                            "VARCO_DECODER_CODES": str(path)})
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "# pass 1" in done.stdout and "# fail 0" in done.stdout
    print(next(line for line in done.stdout.splitlines() if "the port read" in line))
