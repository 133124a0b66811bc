"""Shared by the gaon-bench and Python-package tests: paths, a PNG decoder
(zlib only, for screenshot checks) and running a command on a terminal."""

import os
import pty
import shutil
import struct
import subprocess
import zlib

SOURCE_DIR = os.environ.get(
    "GAON_SOURCE_DIR",
    os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))
TINY_GPT = os.path.join(SOURCE_DIR, "examples", "tiny_gpt")
TINY_SHAPES = ["input_ids=1x16", "attention_mask=1x16"]


def chromium():
    """The headless browser, or None (the HTML tests are then skipped)."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def run_chromium(browser, args, timeout=120):
    # --no-sandbox: the tests may run as root (CI containers); nothing
    # untrusted is opened.
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu",
           "--hide-scrollbars", "--no-first-run", "--disable-extensions"] + args
    return subprocess.run(cmd, capture_output=True, timeout=timeout)


def decode_png(data):
    """(width, height, rows of RGB(A) pixel tuples) of an 8-bit RGB/RGBA PNG,
    non-interlaced (what chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, header
    channels = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, prev = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
        rows.append([tuple(line[x * channels:x * channels + 3])
                     for x in range(width)])
        prev = line
    return width, height, rows


def run_on_terminal(cmd, env=None, timeout=300):
    """Runs `cmd` with stderr on a pseudo-terminal (stdout a pipe); returns
    (exit status, stdout bytes, stderr bytes as the terminal saw them)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    out = proc.stdout.read()
    proc.wait(timeout=timeout)
    return proc.returncode, out, seen
