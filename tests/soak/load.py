# SPDX-License-Identifier: MIT
"""The soak's load generator and checker (scripts/soak.sh runs it): plain epoll, no emio, so it checks the
daemons independently of the code under test.

Echo: --connections clients each send a random-size slice of a random pool and expect it back byte for byte,
then send the next. Bridge: --bridge-clients clients; the serial side (the far end of socat's pty pair) writes
the pool cyclically and every client checks the stream it gets from the point it joined; one client at a time
(round robin) sends a random-size message that the serial side must read back exactly. Every second some
clients of each daemon are reset (SO_LINGER 0: an RST, not a FIN) and reconnect. Every second it samples
each daemon's RSS, open fds and the bridge's /metrics, and at the end prints a summary and one check per line
"soak-check: NAME ok|FAILED detail". Exits 1 if any check failed."""
import argparse
import errno
import os
import random
import select
import socket
import struct
import sys
import termios
import time
import tty

POOL_BYTES = 1 << 20  # the bridge stream repeats every POOL_BYTES; a client finds its place by its first bytes
SYNC_BYTES = 64  # bytes a joining bridge client matches against the pool (random: unique w.h.p.)
MAX_MESSAGE_BYTES = 4096
RECV_BYTES = 65536
DRAIN_S = 10.0  # after the load stops, time for every byte in flight to arrive


def parse_address(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def reset(sock):
    """Close with an RST: SO_LINGER on with a zero timeout drops the unsent data and skips TIME_WAIT."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def receive(client, daemon):
    """The bytes waiting on client's socket, or None: none yet, or the connection failed (client.lost called)."""
    try:
        data = client.sock.recv(RECV_BYTES)
    except BlockingIOError:
        return None
    except OSError as error:
        client.lost(f"{daemon} recv: {error}")
        return None
    if not data:
        client.lost(f"{daemon}: the daemon closed a connection")
        return None
    return data


class Failures:
    def __init__(self):
        self.lines = []

    def add(self, text):
        if len(self.lines) < 20:
            print("soak: " + text, file=sys.stderr)
        self.lines.append(text)


class EchoClient:
    """One echo connection: a message in flight at a time, its echo checked against what was sent."""

    def __init__(self, load):
        self.load = load
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.connected = False
        self.expected = b""  # bytes sent and not echoed yet
        self.unsent = b""
        err = self.sock.connect_ex(load.echo_address)
        if err not in (0, errno.EINPROGRESS):
            self.sock.close()
            raise OSError(err, os.strerror(err))
        load.watch(self, select.EPOLLOUT)

    def on_event(self, events):
        if not self.connected:
            err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err != 0:
                self.load.failures.add(f"echo connect failed: {os.strerror(err)}")
                self.load.replace_echo(self, graceful=True)
                return
            self.connected = True
            self.load.echo_connects += 1
            self.send_next()
            return
        if events & select.EPOLLOUT:
            self.flush()
        if events & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
            self.receive()

    def send_next(self):
        size = self.load.rng.randint(1, MAX_MESSAGE_BYTES)
        start = self.load.rng.randrange(0, POOL_BYTES - size)
        message = self.load.pool[start : start + size]
        self.expected = message
        self.unsent = message
        self.flush()

    def flush(self):
        try:
            sent = self.sock.send(self.unsent) if self.unsent else 0
        except BlockingIOError:
            sent = 0
        except OSError as error:
            self.lost(f"echo send: {error}")
            return
        self.unsent = self.unsent[sent:]
        self.load.rewatch(self, select.EPOLLIN | (select.EPOLLOUT if self.unsent else 0))

    def receive(self):
        data = receive(self, "echo")
        if data is None:
            return
        if not self.expected.startswith(data):
            self.lost(f"echo: {len(data)} bytes differ from those sent")
            return
        self.expected = self.expected[len(data) :]
        self.load.echo_bytes_checked += len(data)
        if not self.expected and not self.load.stopping:
            self.send_next()

    def lost(self, text):
        self.load.failures.add(text)
        self.load.replace_echo(self, graceful=True)


class BridgeClient:
    """One bridge client: checks the serial stream it receives, and sends to the serial side when its turn."""

    def __init__(self, load):
        self.load = load
        self.sock = socket.create_connection(load.bridge_address, timeout=5)
        self.sock.setblocking(False)
        self.joined_at = load.serial_written  # the stream's offset when it connected
        self.head = b""  # first bytes, until SYNC_BYTES of them locate the client in the stream
        self.offset = None  # absolute stream offset of the next byte expected
        load.bridge_connects += 1
        load.watch(self, select.EPOLLIN)

    def on_event(self, events):
        data = receive(self, "bridge")
        if data is None:
            return
        if self.offset is None:
            self.head += data
            if len(self.head) < SYNC_BYTES:
                return
            data, self.head = self.head, b""
            if not self.locate(data):
                return
        if not self.load.stream_matches(self.offset, data):
            self.lost(f"bridge: {len(data)} serial bytes at offset {self.offset} differ or are out of order")
            return
        self.offset += len(data)
        self.load.bridge_bytes_checked += len(data)

    def locate(self, data):
        """The absolute offset of data's first byte: the pool position, in the window around joined_at."""
        position = self.load.pool_twice.find(data[:SYNC_BYTES])
        if position < 0:
            self.lost("bridge: a joining client's first bytes are not in the serial stream")
            return False
        lowest = max(0, self.joined_at - POOL_BYTES // 2)
        self.offset = lowest + (position - lowest) % POOL_BYTES
        return True

    def send(self, message):
        self.sock.setblocking(True)
        self.sock.sendall(message)
        self.sock.setblocking(False)

    def lost(self, text):
        self.load.failures.add(text)
        self.load.replace_bridge(self)


class Load:
    def __init__(self, options):
        self.options = options
        self.rng = random.Random(options.seed)
        self.pool = self.rng.randbytes(POOL_BYTES)
        self.pool_twice = self.pool + self.pool[:SYNC_BYTES]
        self.echo_address = parse_address(options.echo)
        self.bridge_address = parse_address(options.bridge)
        self.epoll = select.epoll()
        self.owners = {}
        self.failures = Failures()
        self.stopping = False
        self.echo_clients = []
        self.bridge_clients = []
        self.echo_connects = self.echo_resets = self.echo_bytes_checked = 0
        self.bridge_connects = self.bridge_resets = self.bridge_bytes_checked = 0
        self.serial_written = 0
        self.serial_expected = b""  # a client's message the serial side has not read back yet
        self.serial_messages = 0
        self.turn = 0
        self.serial = self.open_serial(options.serial)
        self.samples = []

    def open_serial(self, path):
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(fd)  # no echo, no line discipline: the bytes as they are
        attributes = termios.tcgetattr(fd)
        termios.tcsetattr(fd, termios.TCSANOW, attributes)
        self.epoll.register(fd, select.EPOLLIN)
        return fd

    def watch(self, client, events):
        self.owners[client.sock.fileno()] = client
        self.epoll.register(client.sock.fileno(), events)

    def rewatch(self, client, events):
        self.epoll.modify(client.sock.fileno(), events)

    def forget(self, client):
        fd = client.sock.fileno()
        self.epoll.unregister(fd)
        del self.owners[fd]

    def replace_echo(self, client, graceful):
        self.forget(client)
        if graceful:
            client.sock.close()
        else:
            reset(client.sock)
            self.echo_resets += 1
        index = self.echo_clients.index(client)
        self.echo_clients[index] = EchoClient(self)

    def replace_bridge(self, client):
        self.forget(client)
        reset(client.sock)
        self.bridge_resets += 1
        index = self.bridge_clients.index(client)
        self.bridge_clients[index] = BridgeClient(self)

    def stream_matches(self, offset, data):
        position = offset % POOL_BYTES
        while data:
            length = min(len(data), POOL_BYTES - position)
            if self.pool[position : position + length] != data[:length]:
                return False
            data = data[length:]
            position = 0
        return True

    def write_serial(self, budget_bytes):
        if budget_bytes <= 0:
            return
        position = self.serial_written % POOL_BYTES
        chunk = self.pool[position : position + min(budget_bytes, POOL_BYTES - position)]
        try:
            self.serial_written += os.write(self.serial, chunk)
        except BlockingIOError:
            pass

    def read_serial(self):
        try:
            data = os.read(self.serial, RECV_BYTES)
        except BlockingIOError:
            return
        if not self.serial_expected.startswith(data):
            self.failures.add(f"bridge: {len(data)} bytes on the serial side differ from the client's message")
            self.serial_expected = b""
        else:
            self.serial_expected = self.serial_expected[len(data) :]
        if not self.serial_expected:
            self.serial_messages += 1

    def send_to_serial(self):
        """The next client in turn sends a message the serial side must read back (one at a time: the bridge
        interleaves clients' bytes in any order)."""
        if self.serial_expected or self.stopping:
            return
        self.turn = (self.turn + 1) % len(self.bridge_clients)
        size = self.rng.randint(1, MAX_MESSAGE_BYTES)
        start = self.rng.randrange(0, POOL_BYTES - size)
        self.serial_expected = self.pool[start : start + size]
        self.bridge_clients[self.turn].send(self.serial_expected)

    def churn(self):
        for _ in range(self.options.echo_resets_per_second):
            client = self.rng.choice(self.echo_clients)
            if client.connected:
                self.replace_echo(client, graceful=False)
        for _ in range(self.options.bridge_resets_per_second):
            index = self.rng.randrange(len(self.bridge_clients))
            if index != self.turn or not self.serial_expected:  # its message must reach the port first
                self.replace_bridge(self.bridge_clients[index])

    def sample(self, elapsed_s):
        row = {"t": round(elapsed_s, 1)}
        for name, pid in (("echo", self.options.echo_pid), ("bridge", self.options.bridge_pid)):
            row[name + "_rss_kib"] = read_rss_kib(pid)
            row[name + "_fds"] = len(os.listdir(f"/proc/{pid}/fd"))
        metrics = read_metrics(self.options.metrics)
        row["bridge_clients"] = metrics.get("emio_bridge_clients_connected", -1)
        row["bridge_serial_read"] = metrics.get("emio_bridge_serial_read_bytes_total", -1)
        row["bridge_dropped"] = metrics.get("emio_bridge_slow_client_dropped_bytes_total", -1)
        row["echo_checked"] = self.echo_bytes_checked
        row["echo_open"] = sum(1 for client in self.echo_clients if client.connected)
        self.samples.append(row)
        if self.options.verbose:
            print("soak-sample: " + " ".join(f"{key}={value}" for key, value in row.items()), flush=True)

    def connect_all(self):
        while len(self.echo_clients) < self.options.connections:
            self.echo_clients.append(EchoClient(self))
            if len(self.echo_clients) % 256 == 0:
                self.poll(0.005)  # let the accepts through: the listener's backlog is finite
        self.bridge_clients = [BridgeClient(self) for _ in range(self.options.bridge_clients)]

    def poll(self, timeout_s):
        for fd, events in self.epoll.poll(timeout_s, 4096):
            if fd == self.serial:
                self.read_serial()
            else:
                owner = self.owners.get(fd)
                if owner is not None:
                    owner.on_event(events)

    def run(self):
        self.connect_all()
        started = time.monotonic()
        next_second = started
        while time.monotonic() - started < self.options.seconds:
            now = time.monotonic()
            if now >= next_second:
                self.sample(now - started)
                self.churn()
                next_second += 1.0
            # Paced by the clock, not by loop turns: under 10,000 echo clients a turn takes longer.
            self.write_serial(int((now - started) * self.options.serial_bytes_per_second) - self.serial_written)
            self.send_to_serial()
            self.poll(0.01)
        self.drain()
        self.sample(time.monotonic() - started)

    def drain(self):
        self.stopping = True
        deadline = time.monotonic() + DRAIN_S
        while time.monotonic() < deadline and not self.drained():
            self.poll(0.05)

    def drained(self):
        echo_done = all(not client.expected for client in self.echo_clients if client.connected)
        bridge_done = all(client.offset in (None, self.serial_written) for client in self.bridge_clients)
        return echo_done and bridge_done and not self.serial_expected


def read_rss_kib(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def read_metrics(address):
    """GET /metrics, the value of each plain (unlabelled) sample; {} if the bridge does not answer in time."""
    try:
        with socket.create_connection(parse_address(address), timeout=1) as sock:
            sock.sendall(b"GET /metrics HTTP/1.0\r\nHost: soak\r\n\r\n")
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
    except OSError:
        return {}
    values = {}
    for line in reply.decode("ascii", "replace").splitlines():
        parts = line.split()
        if len(parts) == 2 and not line.startswith("#") and parts[1].isdigit():
            values[parts[0]] = int(parts[1])
    return values


def growth(samples, key):
    """How much the last third of the samples' peak is above the first third's: a leak grows it every second,
    while churn only moves the count up and down within the same range."""
    third = max(1, len(samples) // 3)
    return max(row[key] for row in samples[-third:]) - max(row[key] for row in samples[:third])


def check_flat(samples, key, tolerance):
    grown = growth(samples, key)
    return grown <= tolerance, f"grew {grown} after warm-up (tolerance {tolerance})"


def checks(load, warmup_s):
    after_warmup = [row for row in load.samples if row["t"] >= warmup_s]
    echo_failures = [line for line in load.failures.lines if line.startswith("echo")]
    bridge_failures = [line for line in load.failures.lines if line.startswith("bridge")]
    undelivered_echo = sum(len(client.expected) for client in load.echo_clients if client.connected)
    behind = [c for c in load.bridge_clients if c.offset is not None and c.offset != load.serial_written]
    dropped = load.samples[-1]["bridge_dropped"]
    fd_tolerance = load.options.echo_resets_per_second + 16  # connections closing and opening as we sample
    rss_tolerance_kib = 1024
    results = [
        ("echo-bytes", not echo_failures and undelivered_echo == 0,
         f"{len(echo_failures)} failures, {undelivered_echo} bytes never echoed"),
        ("bridge-bytes", not bridge_failures and not behind and not load.serial_expected and dropped == 0,
         f"{len(bridge_failures)} failures, {len(behind)} clients short of the stream, "
         f"{len(load.serial_expected)} client bytes never reached the port, {dropped} dropped"),
    ]
    if len(after_warmup) < 3:
        return results + [("samples", False, f"only {len(after_warmup)} samples after the {warmup_s} s warm-up")]
    for name in ("echo", "bridge"):
        results.append((name + "-rss", *check_flat(after_warmup, name + "_rss_kib", rss_tolerance_kib)))
        results.append((name + "-fds", *check_flat(after_warmup, name + "_fds", fd_tolerance)))
    return results


def print_summary(load):
    keys = [key for key in load.samples[0] if key != "t"]
    print(f"soak: {len(load.samples)} samples, one a second")
    for key in keys:
        values = [row[key] for row in load.samples]
        print(f"soak: {key:20} min {min(values):>12} max {max(values):>12}")
    print(f"soak: echo: {load.echo_connects} connects, {load.echo_resets} resets, "
          f"{load.echo_bytes_checked} bytes echoed and checked")
    print(f"soak: bridge: {load.bridge_connects} connects, {load.bridge_resets} resets, "
          f"{load.serial_written} serial bytes broadcast, {load.bridge_bytes_checked} received and checked, "
          f"{load.serial_messages} client messages read back on the serial side")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--echo", required=True, help="emio-echo's ADDR:PORT")
    parser.add_argument("--bridge", required=True, help="emio-bridge's client ADDR:PORT")
    parser.add_argument("--metrics", required=True, help="emio-bridge's metrics ADDR:PORT")
    parser.add_argument("--serial", required=True, help="the far end of the bridge's pty pair")
    parser.add_argument("--echo-pid", type=int, required=True)
    parser.add_argument("--bridge-pid", type=int, required=True)
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--warmup-seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=10000)
    parser.add_argument("--bridge-clients", type=int, default=64)
    parser.add_argument("--echo-resets-per-second", type=int, default=100)
    parser.add_argument("--bridge-resets-per-second", type=int, default=2)
    parser.add_argument("--serial-bytes-per-second", type=int, default=100000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--verbose", action="store_true", help="print every sample")
    options = parser.parse_args()
    load = Load(options)
    load.run()
    print_summary(load)
    failed = 0
    for name, passed, detail in checks(load, options.warmup_seconds):
        print(f"soak-check: {name} {'ok' if passed else 'FAILED'} ({detail})")
        failed += 0 if passed else 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
