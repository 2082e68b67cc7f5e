#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A stand-in for systemd's notification socket: receives sd_notify datagrams on PATH and appends each
to OUT as one line (newlines inside a message become spaces), until SIGTERM or SECONDS pass.

  notify_listener.py PATH OUT SECONDS
"""
import os
import socket
import sys
import time

path, out, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(path)
sock.settimeout(0.2)
deadline = time.monotonic() + seconds
with open(out, "a", buffering=1) as log:
    log.write("listening\n")
    while time.monotonic() < deadline:
        try:
            message = sock.recv(4096)
        except socket.timeout:
            continue
        log.write(message.decode(errors="replace").replace("\n", " ") + "\n")
os.unlink(path)
