#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Hostile-load clients for the end-to-end tests, each bounded in time and checking every byte.

  load_probes.py flood-latency PORT SECONDS   one client floods the echo server with 4 KiB writes while a
                                              probe client sends small pings; prints the probe's p50/p99 ms
  load_probes.py accept-storm PORT SECONDS    storm clients connect and close at once while real clients
                                              do echo round trips; prints how many real ones were refused

Prints one result line ("name value ...") and exits 0; exits 1 with a reason when bytes come back wrong.
"""
import signal
import socket
import subprocess
import sys
import threading
import time

CHUNK = bytes(range(256)) * 16  # 4 KiB, a full read of emio-echo's buffer


def connect(port, timeout_s=10.0):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def flood(port, stop, errors):
    """Writes as fast as the server takes it and reads the echo back as fast, so that the server's reads
    stay full and its writes keep succeeding: two socat processes share the one connection, one only
    writing zeros and one only reading (a single process alternating both ways lets the server's writes
    meet a full socket now and then, and the starvation comes and goes). Python could not keep up. The
    flood's bytes are only counted by the server: the probe's bytes are the ones checked."""
    sock = connect(port)
    ends = [subprocess.Popen(["socat", "-u", "-b", "65536", source, target], pass_fds=[sock.fileno()],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            for source, target in (("OPEN:/dev/zero", "FD:%d" % sock.fileno()),
                                   ("FD:%d" % sock.fileno(), "OPEN:/dev/null"))]
    sock.close()  # the two socat processes hold it now
    stop.wait()
    for end in ends:
        end.terminate()
    for end in ends:
        _, stderr = end.communicate(timeout=30)
        if end.returncode not in (0, -signal.SIGTERM, 143):
            errors.append("flood: socat exited %d: %s" % (end.returncode, stderr.decode().strip()))


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def flood_latency(port, seconds):
    stop = threading.Event()
    errors = []
    flooder = threading.Thread(target=flood, args=(port, stop, errors))
    probe = connect(port, timeout_s=seconds + 30)
    flooder.start()
    time.sleep(0.2)  # the flood is under way
    latencies_ms = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ping = b"ping %06d\n" % len(latencies_ms)
        started = time.monotonic()
        probe.sendall(ping)
        reply = b""
        while len(reply) < len(ping):
            data = probe.recv(len(ping) - len(reply))
            if not data:
                errors.append("probe: connection closed")
                break
            reply += data
        latencies_ms.append((time.monotonic() - started) * 1000.0)
        if reply != ping:
            errors.append("probe: got %r for %r" % (reply, ping))
            break
        time.sleep(0.01)
    stop.set()
    flooder.join()
    probe.close()
    if errors:
        print("; ".join(errors))
        return 1
    print("probe_ms p50 %.1f p99 %.1f pings %d" % (percentile(latencies_ms, 0.5), percentile(latencies_ms, 0.99),
                                                   len(latencies_ms)))
    return 0


def storm(port, stop, counts):
    while not stop.is_set():
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.close()
            counts["storm"] += 1
        except OSError:
            counts["storm_failed"] += 1


def real_client(port, stop, counts, errors, number):
    message = b"real client %d\n" % number
    while not stop.is_set():
        try:
            sock = connect(port)
            sock.sendall(message)
            reply = b""
            while len(reply) < len(message):
                data = sock.recv(64)
                if not data:
                    break
                reply += data
            sock.close()
        except OSError as error:
            errors.append("real client %d: %s" % (number, error))
            counts["refused"] += 1
            continue
        if reply == message:
            counts["served"] += 1
        elif reply == b"":
            counts["refused"] += 1  # accepted and closed at once: turned away
            errors.append("real client %d: closed without an echo" % number)
        else:
            errors.append("real client %d got %r" % (number, reply))


def accept_storm(port, seconds):
    stop = threading.Event()
    counts = {"storm": 0, "storm_failed": 0, "served": 0, "refused": 0}
    errors = []
    threads = [threading.Thread(target=storm, args=(port, stop, counts)) for _ in range(4)]
    threads += [threading.Thread(target=real_client, args=(port, stop, counts, errors, n)) for n in range(5)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    print("storm %d real_served %d real_refused %d" % (counts["storm"], counts["served"], counts["refused"]))
    for error in errors[:3]:
        print("  " + error, file=sys.stderr)
    if any(not error.startswith("real client") or "got" in error for error in errors):
        print("; ".join(errors))
        return 1
    return 0


def main():
    if len(sys.argv) != 4:
        print(__doc__.strip())
        return 2
    port, seconds = int(sys.argv[2]), float(sys.argv[3])
    if sys.argv[1] == "flood-latency":
        return flood_latency(port, seconds)
    if sys.argv[1] == "accept-storm":
        return accept_storm(port, seconds)
    print("unknown probe: %s" % sys.argv[1])
    return 2


if __name__ == "__main__":
    sys.exit(main())
