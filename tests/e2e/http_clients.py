#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Hostile HTTP clients for the end-to-end tests of emio-bridge's metrics page.

  http_clients.py slowloris PORT CONNECTIONS   keeps CONNECTIONS requests open that never end: one byte a
                                               second each, reopening a closed one at the next tick; runs
                                               until killed and prints "held N closed M" every tick
  http_clients.py burst PORT CONNECTIONS       opens CONNECTIONS connections, all at once, then sends GET
                                               /metrics on each and reads every answer; prints one line,
                                               "200 A 408 B 503 C broken D" (broken: no complete answer)
"""
import socket
import sys
import time

HOST = "127.0.0.1"
REQUEST_HEAD = b"GET /metrics HTTP/1.1\r\nHost: bridge\r\n"
TIMEOUT_S = 60  # as E2E_TIMEOUT_S: generous, for qemu


def still_held(sock):
    try:
        sock.recv(4096)  # an answer (408, 503) or end of stream: the server let the request go
        return False
    except BlockingIOError:
        return True
    except OSError:
        return False


def slowloris(port, connections):
    held = [None] * connections
    closed = 0
    while True:
        for index, sock in enumerate(held):
            if sock is None:
                try:
                    sock = socket.create_connection((HOST, port), timeout=TIMEOUT_S)
                    sock.sendall(REQUEST_HEAD + b"X-Slow: ")
                    sock.setblocking(False)
                    held[index] = sock
                except OSError:
                    pass
                continue
            try:
                if still_held(sock):
                    sock.send(b"x")
                    continue
            except OSError:
                pass
            sock.close()
            held[index] = None
            closed += 1
        print(f"held {sum(s is not None for s in held)} closed {closed}", flush=True)
        time.sleep(1)


def read_answer(sock):
    answer = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    except OSError:
        pass
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next((int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length:")), -1)
    if not answer.startswith(b"HTTP/1.1 ") or len(body) != length:
        return "broken"
    return lines[0].split(b" ")[1].decode()


def burst(port, connections):
    sockets = [socket.create_connection((HOST, port), timeout=TIMEOUT_S) for _ in range(connections)]
    for sock in sockets:
        try:
            sock.sendall(REQUEST_HEAD + b"\r\n")
        except OSError:  # already answered (503) and closed: the answer waits in the receive queue
            pass
    counts = {"200": 0, "408": 0, "503": 0, "broken": 0}
    for sock in sockets:
        status = read_answer(sock)
        counts[status if status in counts else "broken"] += 1
        sock.close()
    print(" ".join(f"{status} {count}" for status, count in counts.items()), flush=True)


if __name__ == "__main__":
    {"slowloris": slowloris, "burst": burst}[sys.argv[1]](int(sys.argv[2]), int(sys.argv[3]))
