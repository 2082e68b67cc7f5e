#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# emio-echo.exe under wine serves a native Linux client over 127.0.0.1, and a Ctrl-C stops it: wine turns
# the SIGINT sent to the program's process into the console's CTRL_C_EVENT, which the runtime's console
# signal source (runtime/src/signals_windows.cc) hands to the loop. Every byte sent comes back, in order,
# on each of several connections at once; the program then exits 0 and says how many bytes it echoed.
# Bounded in time: each step has a deadline, and the program is killed if the test fails.
#   Usage: echo_windows_test.py WINE_RUN EMIO_ECHO_EXE
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time

STEP_TIMEOUT_S = 60  # wine's first start in a fresh WINEPREFIX takes 8-11 s; a loaded machine more
CONNECTIONS = 4
BYTES_PER_CONNECTION = 256 * 1024


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def read_line_matching(program, pattern, deadline):
    """The first line of the program's stdout that matches `pattern`, echoed to ours."""
    selector = selectors.DefaultSelector()
    selector.register(program.stdout, selectors.EVENT_READ)
    buffered = b""
    while time.monotonic() < deadline:
        if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
            continue
        chunk = os.read(program.stdout.fileno(), 4096)
        if not chunk:
            fail(f"emio-echo.exe ended before printing /{pattern}/ (exit {program.wait()})")
        buffered += chunk
        while b"\n" in buffered:
            line, buffered = buffered.split(b"\n", 1)
            text = line.decode(errors="replace").rstrip("\r")
            print(text)
            match = re.search(pattern, text)
            if match:
                return match
    fail(f"no line /{pattern}/ from emio-echo.exe within {STEP_TIMEOUT_S} s")


def pattern_bytes(seed, size):
    """Bytes that differ per connection and per position, so a misplaced or foreign byte is seen."""
    return bytes((seed * 131 + index * 7 + index // 251) & 0xFF for index in range(size))


def echo_all(port):
    """Sends every connection's bytes, interleaved, and checks each echoed byte as it comes back."""
    selector = selectors.DefaultSelector()
    states = []
    for seed in range(CONNECTIONS):
        client = socket.create_connection(("127.0.0.1", port), timeout=STEP_TIMEOUT_S)
        client.setblocking(False)
        state = {"socket": client, "data": pattern_bytes(seed, BYTES_PER_CONNECTION), "sent": 0, "received": 0}
        selector.register(client, selectors.EVENT_READ | selectors.EVENT_WRITE, state)
        states.append(state)
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while any(state["received"] < BYTES_PER_CONNECTION for state in states):
        if time.monotonic() > deadline:
            fail(f"echo incomplete after {STEP_TIMEOUT_S} s: {[state['received'] for state in states]}")
        for key, events in selector.select(timeout=1.0):
            state = key.data
            if events & selectors.EVENT_WRITE and state["sent"] < BYTES_PER_CONNECTION:
                state["sent"] += state["socket"].send(state["data"][state["sent"] : state["sent"] + 16384])
                if state["sent"] == BYTES_PER_CONNECTION:
                    selector.modify(state["socket"], selectors.EVENT_READ, state)
            if events & selectors.EVENT_READ:
                got = state["socket"].recv(65536)
                if not got:
                    fail(f"connection closed after {state['received']} echoed bytes")
                expected = state["data"][state["received"] : state["received"] + len(got)]
                if got != expected:
                    fail(f"byte {state['received']}: echoed bytes differ from those sent")
                state["received"] += len(got)
    for state in states:
        state["socket"].close()


def main():
    wine_run, echo_exe = sys.argv[1], sys.argv[2]
    program = subprocess.Popen([wine_run, echo_exe, "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE)
    try:
        listening = read_line_matching(program, r"listening on 127\.0\.0\.1:(\d+)", time.monotonic() + STEP_TIMEOUT_S)
        echo_all(int(listening.group(1)))
        # wine-run.sh execs wine, which becomes the Windows process: the SIGINT reaches it.
        program.send_signal(signal.SIGINT)
        stopped = read_line_matching(program, r"stopped: (\d+) connections served, \d+ turned away, (\d+) bytes echoed",
                                     time.monotonic() + STEP_TIMEOUT_S)
        if int(stopped.group(1)) != CONNECTIONS or int(stopped.group(2)) != CONNECTIONS * BYTES_PER_CONNECTION:
            fail(f"emio-echo.exe counted {stopped.group(1)} connections and {stopped.group(2)} bytes")
        code = program.wait(timeout=STEP_TIMEOUT_S)
        if code != 0:
            fail(f"emio-echo.exe exited {code} after Ctrl-C, not 0")
        print(f"ok: {CONNECTIONS} connections echoed {BYTES_PER_CONNECTION} bytes each; Ctrl-C stopped it (exit 0)")
    finally:
        if program.poll() is None:
            program.kill()
            program.wait()


if __name__ == "__main__":
    main()
