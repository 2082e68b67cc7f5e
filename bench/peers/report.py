#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Turns the raw data of scripts/bench-peers.sh into docs/benchmarks.md and the plot of the ratios.

Reads RESULTS/runs.txt (one line per load run: pass, round, server and the load generator's key=value
figures), RESULTS/instructions.txt (callgrind totals after N and 2N requests) and RESULTS/machine.txt.
Standard library only; the plot is drawn by gnuplot.
"""

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

# Every server the script knows, in the order of the tables, with the name the tables give it.
SERVER_LABELS = {
    "raw-epoll": "raw epoll loop",
    "raw-uring": "raw liburing (multishot accept + recv, buffer ring)",
    "libev": "libev",
    "libuv": "libuv",
    "contract-floor": "the waker contract's floor (coroutines on epoll)",
    "emio-epoll": "emio-echo --backend epoll",
    "emio-uring": "emio-echo --backend uring",
    "emio-uring-sqpoll": "emio-echo --backend uring-sqpoll",
}
BASELINE = "raw-epoll"
MISSING = "n/a"


def read_records(path):
    """Each line of key=value words as a dict; a missing file gives no records."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        words = [word.split("=", 1) for word in line.split() if "=" in word]
        if words:
            records.append(dict(words))
    return records


def read_machine(path):
    """machine.txt: one key=value a line; values may hold spaces."""
    machine = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, _, value = line.partition("=")
            machine[key] = value
    return machine


def median_or_none(values):
    return statistics.median(values) if values else None


class Figures:
    """The figures of one server at one connection count, each a list over rounds."""

    def __init__(self):
        self.requests_per_s = []
        self.rps_ratio = []
        self.cpu_us_by_round = {}  # round: server CPU us / request, to pair with another server's round
        self.user_us_by_round = {}  # round: the user-space part of it (utime's share of utime + stime)
        self.system_share = []
        self.p50_us = []
        self.p99_us = []
        self.idle_rss_kib = []
        self.peak_rss_kib = []
        self.syscalls_per_request = []
        self.instructions_per_request = None
        self.d1_misses_per_request = None

    @property
    def cpu_us_per_request(self):
        return list(self.cpu_us_by_round.values())

    @property
    def user_us_per_request(self):
        return list(self.user_us_by_round.values())

    def cpu_ratios_to(self, baseline):
        """The server's CPU per request over the baseline's, a ratio per round both ran: load from elsewhere on
        the machine falls on both servers of a round alike, and much less on one round than on another (the
        medians of two servers' own figures came out 2 % apart one run and 2 % the other way the next)."""
        return [mine / baseline.cpu_us_by_round[round_name] for round_name, mine in sorted(self.cpu_us_by_round.items())
                if baseline.cpu_us_by_round.get(round_name)]

    def cpu_ratio_to(self, baseline):
        return median_or_none(self.cpu_ratios_to(baseline))

    def instructions_ratio_to(self, baseline):
        mine, theirs = self.instructions_per_request, baseline.instructions_per_request
        return mine / theirs if mine is not None and theirs else None


class Results:
    def __init__(self, results_dir):
        self.machine = read_machine(results_dir / "machine.txt")
        runs = read_records(results_dir / "runs.txt")
        self.servers = [name for name in SERVER_LABELS if any(run["server"] == name for run in runs)]
        self.connection_counts = sorted({int(run["connections"]) for run in runs if run["pass"] != "memory"})
        self.figures = {(server, count): Figures() for server in self.servers for count in self.connection_counts}
        self._take_throughput([run for run in runs if run["pass"] == "throughput"])
        self._take_syscalls([run for run in runs if run["pass"] == "syscalls"])
        self._take_instructions(read_records(results_dir / "instructions.txt"))
        # server: (connections, RSS KiB before they connected, RSS KiB with them all open)
        self.idle_connections = {run["server"]: (int(run["connections"]), int(run["server_idle_rss_kib"]),
                                                 int(run["server_rss_kib"]))
                                 for run in runs if run["pass"] == "memory"}

    def at(self, server, count):
        return self.figures.get((server, count), Figures())

    def _take_throughput(self, runs):
        baseline_rps = {(run["round"], run["connections"]): float(run["requests_per_s"])
                        for run in runs if run["server"] == BASELINE}
        for run in runs:
            figures = self.at(run["server"], int(run["connections"]))
            requests = int(run["requests"])
            rps = float(run["requests_per_s"])
            figures.requests_per_s.append(rps)
            baseline = baseline_rps.get((run["round"], run["connections"]))
            if baseline:
                figures.rps_ratio.append(rps / baseline)
            ticks = int(run["server_user_ticks"]) + int(run["server_system_ticks"])
            if ticks > 0:
                figures.system_share.append(int(run["server_system_ticks"]) / ticks)
            if requests > 0:
                cpu_us = int(run["server_cpu_ns"]) / 1e3 / requests
                figures.cpu_us_by_round[run["round"]] = cpu_us
                if ticks > 0:
                    figures.user_us_by_round[run["round"]] = cpu_us * int(run["server_user_ticks"]) / ticks
            figures.p50_us.append(float(run["p50_us"]))
            figures.p99_us.append(float(run["p99_us"]))
            figures.idle_rss_kib.append(int(run["server_idle_rss_kib"]))
            figures.peak_rss_kib.append(int(run["server_peak_rss_kib"]))

    def _take_syscalls(self, runs):
        for run in runs:
            calls, requests = int(run["server_syscalls"]), int(run["requests"])
            if calls >= 0 and requests > 0:
                self.at(run["server"], int(run["connections"])).syscalls_per_request.append(calls / requests)

    def _take_instructions(self, records):
        totals = {}
        for record in records:
            key = (record["server"], int(record["connections"]))
            # Records of runs before the cache model was on have no d1_misses.
            totals.setdefault(key, {})[int(record["requests"])] = (int(record["instructions"]),
                                                                   int(record.get("d1_misses", -1)))
        for (server, count), by_requests in totals.items():
            if len(by_requests) != 2 or (server, count) not in self.figures:
                continue
            fewer, more = sorted(by_requests)
            (instructions_fewer, misses_fewer), (instructions_more, misses_more) = by_requests[fewer], by_requests[more]
            figures = self.figures[(server, count)]
            figures.instructions_per_request = (instructions_more - instructions_fewer) / (more - fewer)
            if misses_fewer >= 0 and misses_more >= 0:
                # A server that misses almost never can come out a hair below zero (the longer run found a
                # few lines warm that the shorter one missed): none.
                figures.d1_misses_per_request = max(0.0, (misses_more - misses_fewer) / (more - fewer))


# ---- formatting ----

def number(value, digits=2):
    return MISSING if value is None else f"{value:.{digits}f}"


def whole(value):
    return MISSING if value is None else f"{value:,.0f}"


def with_spread(values, digits=0):
    """Median and the range over rounds: 41,230 (39,800-42,100)."""
    if not values:
        return MISSING
    if len(values) == 1:
        return f"{values[0]:,.{digits}f}"
    return f"{statistics.median(values):,.{digits}f} ({min(values):,.{digits}f}-{max(values):,.{digits}f})"


def bold_if_emio(server, text):
    return f"**{text}**" if server.startswith("emio-") and text != MISSING else text


def summary_table(results):
    pair = [count for count in (16, 256) if count in results.connection_counts]
    both = " / ".join(str(count) for count in pair) or MISSING
    lines = [
        f"| server | user-space instructions / request (16 conns) | system calls / request ({both} conns) "
        f"| server CPU us / request ({both}) |",
        "|---|---|---|---|",
    ]
    for server in results.servers:
        instructions = results.at(server, 16).instructions_per_request
        calls = " / ".join(number(median_or_none(results.at(server, count).syscalls_per_request)) for count in pair)
        cpu = " / ".join(number(median_or_none(results.at(server, count).cpu_us_per_request)) for count in pair)
        lines.append(f"| {SERVER_LABELS[server]} | {bold_if_emio(server, whole(instructions))} | {calls or MISSING} "
                     f"| {cpu or MISSING} |")
    return lines


def connection_table(results, count):
    rounds = results.machine.get("rounds", "?")
    lines = [
        f"| server | requests/s: median (range), {rounds} rounds | ratio to raw epoll | p50 us | p99 us "
        "| server CPU us / request | CPU ratio to raw epoll | kernel share of CPU | system calls / request "
        "| instructions / request | instruction ratio to raw epoll | L1 data misses / request |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    baseline = results.at(BASELINE, count)
    for server in results.servers:
        figures = results.at(server, count)
        share = median_or_none(figures.system_share)
        lines.append(" | ".join([
            f"| {SERVER_LABELS[server]}",
            with_spread(figures.requests_per_s),
            with_spread(figures.rps_ratio, 2),
            number(median_or_none(figures.p50_us), 1),
            number(median_or_none(figures.p99_us), 1),
            number(median_or_none(figures.cpu_us_per_request)),
            with_spread(figures.cpu_ratios_to(baseline), 2),
            MISSING if share is None else f"{100 * share:.0f} %",
            number(median_or_none(figures.syscalls_per_request)),
            whole(figures.instructions_per_request),
            number(figures.instructions_ratio_to(baseline)),
            number(figures.d1_misses_per_request, 1),
        ]) + " |")
    return lines


def memory_table(results):
    counts = " / ".join(str(count) for count in results.connection_counts)
    held = results.machine.get("idle_connections", "0")
    lines = [f"| server | idle RSS KiB | peak RSS KiB at {counts} connections | RSS KiB before / with {held} idle "
             "connections | growth per idle connection, bytes | all RSS / idle connections, bytes |",
             "|---|---|---|---|---|---|"]
    for server in results.servers:
        idle = [kib for count in results.connection_counts for kib in results.at(server, count).idle_rss_kib]
        peaks = " / ".join(whole(median_or_none(results.at(server, count).peak_rss_kib))
                           for count in results.connection_counts)
        held_rss, growth, share = MISSING, MISSING, MISSING
        if server in results.idle_connections:
            connections, before, after = results.idle_connections[server]
            held_rss = f"{before:,} / {after:,}"
            growth = f"{1024 * (after - before) / connections:,.0f}"
            share = f"{1024 * after / connections:,.0f}"
        lines.append(f"| {SERVER_LABELS[server]} | {whole(median_or_none(idle))} | {peaks} | {held_rss} | {growth} "
                     f"| {share} |")
    return lines


def verdict(value, limit, what):
    if value is None or limit is None:
        return f"not measured ({what})"
    return ("met" if value <= limit else "NOT met") + f": {what}"


def paired(ratios):
    """What a CPU verdict rests on: the median of the per-round ratios, their range and how many rounds."""
    if not ratios:
        return "no round with both servers"
    return f"ratio {with_spread(ratios, 3)} over {len(ratios)} rounds"


def targets(results):
    """Issue 9's targets, each with the figures it compares."""
    lines = []
    emio_epoll = results.at("emio-epoll", 16)
    libev = results.at("libev", 16)
    mine, theirs = emio_epoll.instructions_per_request, libev.instructions_per_request
    lines.append("- emio-echo on epoll at or under libev's user-space instructions per request (16 connections): "
                 + verdict(mine, theirs, f"{whole(mine)} against {whole(theirs)}"))
    floor = results.at("contract-floor", 16).instructions_per_request
    if floor is not None and theirs is not None:
        lines.append(f"  - the floor of that target: the waker contract with coroutines and none of emio's layers "
                     f"(emio_peer_contract_floor) takes {whole(floor)}, {floor / theirs:.2f}x libev's")
    for count in (16, 256):
        ratios = results.at("emio-epoll", count).cpu_ratios_to(results.at(BASELINE, count))
        lines.append(f"- emio-echo on epoll, server CPU per request within 3 % of raw epoll's ({count} connections): "
                     + verdict(median_or_none(ratios), 1.03, paired(ratios)))
    for count, limit in ((16, 0.3), (256, 0.15)):
        calls = median_or_none(results.at("emio-uring", count).syscalls_per_request)
        lines.append(f"- emio-echo on uring, at most {limit} system calls per request ({count} connections): "
                     + verdict(calls, limit, f"{number(calls)}"))
    for count in (16, 256):
        emio_uring, raw_uring = results.at("emio-uring", count), results.at("raw-uring", count)
        ratios = emio_uring.cpu_ratios_to(raw_uring)
        lines.append(f"- emio-echo on uring, server CPU per request at or under raw liburing's ({count} connections): "
                     + verdict(median_or_none(ratios), 1.0, paired(ratios)))
        mine, theirs = median_or_none(emio_uring.user_us_per_request), median_or_none(raw_uring.user_us_per_request)
        if mine is not None and theirs is not None:
            lines.append(f"  - of it in user space (utime's share, median over rounds): {number(mine)} us against "
                         f"{number(theirs)} us per request")
    return lines


METHOD = """\
## How each figure is taken
Every run starts a fresh server process pinned to core 0 (`taskset -c 0`; a kernel thread the server owns,
such as SQPOLL's `iou-sqp`, inherits that pinning) and the load generator `emio_peer_load` pinned to core 1.
The load generator opens the connections, then keeps one 64-byte request in flight on each: it sends a
request, reads the echo back whole, compares every byte with what it sent (each request has bytes of its
own, derived from its connection and sequence number), and sends the next. A wrong byte, a closed
connection or 10 s without a reply fails the run and the script.

- **requests/s**: requests completed in the measured window (after a warm-up) divided by its length, on the
  load generator's clock. Each server runs once per round; the rounds interleave the servers (the order
  rotates from round to round) and the connection counts, so that load from elsewhere on the machine falls
  on all of them alike. The table gives the median and the range over the rounds.
- **ratio to raw epoll**: the server's requests/s over raw epoll's in the same round and at the same
  connection count; the median (and range) of those per-round ratios. On two cores the load generator
  saturates its own core, so requests/s measures the client as much as the server (field-notes.md, section
  8): server CPU, system calls and instructions per request are the figures that tell the servers apart.
- **p50 / p99 latency**: the round trip of each request in the window as the load generator sees it (send
  to the last byte of the echo, timestamps taken once per `epoll_wait` return), in a log-linear histogram
  with buckets at most 3 % wide; the median over rounds.
- **server CPU us / request**: the run time of all of the server's threads over the window, from
  `/proc/PID/task/*/schedstat` (nanoseconds: user and kernel time, SQPOLL's kernel thread included), divided
  by the window's requests; the median over rounds. The kernel share is stime over utime + stime from
  `/proc/PID/stat` (clock ticks, so rough at short windows). Work the kernel does for the server in softirq
  context on the other core is not in it, nor the load generator's own work.
- **CPU ratio to raw epoll**: as the requests/s ratio, per round: the server's CPU per request over raw
  epoll's in the same round, the median (and range) of those ratios. The CPU targets below are judged the
  same way, against the peer they name: on this shared machine a round's load from elsewhere moves every
  server's CPU figure by several per cent, and falls on all servers of a round alike.
- **system calls / request**: the `raw_syscalls:sys_enter` tracepoint counted by `perf_event_open` on each of
  the server's threads, enabled only over the measured window, divided by its requests. A pass of its own,
  after the throughput rounds, so that the counting does not weigh on the figures above. The figure
  depends on batching: a server that falls behind finds more events per wait (or completions per enter)
  and makes fewer calls per request, so it moves with the machine's load.
- **instructions / request**: user-space instructions (callgrind's Ir: the kernel side of system calls is in
  no one's figure) of the server under `valgrind --tool=callgrind`, one process per server: a dump after
  start-up (`callgrind_control --dump`), then for each connection count a run of N requests and a run of 2N,
  each followed by a dump. Both runs open and close the same connections, so the difference of their totals
  divided by N is the cost of a request with start-up and connection set-up differenced out. Instruction
  counts do not depend on the machine's load; they vary a little with how many events one wait returns.
- **L1 data misses / request**: from the same callgrind runs (`--cache-sim=yes`), differenced the same way:
  the reads and writes that miss callgrind's model of a 32 KiB, 8-way, 64-byte-line first-level data cache.
  A model, not the hardware's counters (this machine has none), but like the instruction count it does not
  move with the machine's load. It tells what instructions alone do not: at 256 connections each request
  touches its connection's state cold, and a server that touches more lines per request pays for each miss.
- **idle RSS**: VmRSS of the fresh server before the load generator connects (the median over runs).
  **Peak RSS**: VmHWM at the end of a run at that connection count (median over rounds).
- **idle connections**: a fresh server (emio-echo started with slots for all of them), then the load
  generator opens the connections, echoes one request on each (so each has been read into and written
  from) and, with all of them still open, reads VmRSS. The growth per connection is that RSS less the one
  read before they connected, divided by their number; memory a server commits at start-up for its
  connection table (emio-echo does: its slots are fixed at init) is in the "before" figure and not in the
  growth, so the last column divides all of the RSS by the connections. RSS is user-space memory only: the
  kernel's socket buffers are in no one's figure.

Every server follows one contract (bench/peers/peer_contract.h): the port as its argument, 127.0.0.1, one
thread, TCP_NODELAY on every connection, reads of up to 16 KiB, exit 0 on SIGTERM, its own time bound. The
raw epoll loop is level-triggered with every fd kept registered, one recv and one send per request; libev
(epoll backend) and libuv follow the same pattern in their own idiom (libuv: `uv_try_write`, and a queued
`uv_write` only for a partial write); raw liburing uses one multishot accept, one multishot recv per
connection from a shared ring of 512 provided 16 KiB buffers, and a send straight from that buffer, with
`SINGLE_ISSUER | DEFER_TASKRUN` and one `io_uring_submit_and_wait` a turn. The waker contract's floor
(bench/peers/contract_floor_echo.cc) is emio-echo's loop, a coroutine per connection awaiting a read and a
write, on the smallest runtime that keeps emio's waker contract (generation-checked tokens, one readiness
word per connection with a tick, waiters claimed and the wake marked running in one compare-and-swap, the
running mark released after the waker call), edge-triggered, with no recv to see EAGAIN: no runtime that
keeps that contract with coroutines goes below its instructions. emio-echo is the daemon of
examples/echo as built by the release preset, run with `--max-connections 1024`: its buffer is its own
4 KiB per connection, not 16 KiB (it has no flag for it), which makes no difference to 64-byte requests.
emio-echo has no time bound of its own: the script stops it, and kills it when it is interrupted.

With `--backend uring-sqpoll` the SQPOLL kernel thread inherits the server's pinning to core 0, so it
shares that core with the server and its polling is counted in the server's CPU per request; its system
calls are the server thread's only (the kernel thread makes none).

The other benchmarks stay as they were: `scripts/bench-echo.sh` drives emio's driver directly in its
completion modes (uring-ops, uring-multishot, bypass), not the daemon, and `scripts/bench-dispatch.sh`
measures the driver's dispatch loop against raw epoll, and against the floor of the waker contract
(bench/dispatch/contract_floor_loop.h), over socketpairs; ctest's `bench.dispatch.*` tests check that each
of its loops does the whole ping-pong.
"""


def machine_section(results):
    machine = results.machine
    return [
        "## The machine and the run",
        f"- {machine.get('nproc', '?')} cores, {machine.get('cpu', '?')}, kernel {machine.get('kernel', '?')}",
        f"- {machine.get('compiler', '?')}; libev {machine.get('libev', '?')}, libuv {machine.get('libuv', '?')}, "
        f"liburing {machine.get('liburing', '?')} (Debian's packages)",
        f"- the tree at commit {machine.get('commit', '?')}, run on {machine.get('date', '?')} in "
        f"{machine.get('mode', '?')} mode: {machine.get('rounds', '?')} throughput rounds of "
        f"{machine.get('seconds', '?')} s after {machine.get('warmup_seconds', '?')} s of warm-up, "
        f"{machine.get('syscall_rounds', '?')} system-call round(s) of {machine.get('syscall_seconds', '?')} s, "
        f"N = {machine.get('instruction_requests', '?')} requests for the instruction counts, "
        f"{machine.get('idle_connections', '?')} idle connections for the memory pass; "
        f"{machine.get('elapsed_seconds', '?')} s in all",
        f"- load average at the end: {machine.get('load_average', '?')}: other jobs shared the machine. The "
        "requests/s, latency and CPU figures carry their noise; system calls per request depend on how many "
        "events one wait returns, so on timing too; instruction counts barely move.",
    ]


def kept_section(path, title, introduction, fenced=False):
    """A section quoting a file kept beside the raw data, or nothing when there is none."""
    if not path.exists():
        return []
    body = path.read_text().strip("\n").splitlines()
    if fenced:
        body = ["```"] + body + ["```"]
    return [title, "", introduction, ""] + body + [""]


def markdown(results, results_dir, plot_name):
    quick = results.machine.get("mode") == "quick"
    lines = [
        "# Benchmarks",
        "",
        "Written by `scripts/bench-peers.sh` (do not edit by hand: run it again). The raw data of this run is in",
        "`bench/results/peers/` (runs.txt: one line per load run; instructions.txt: the callgrind totals;",
        "machine.txt); callgrind profiles and server logs stay in `build/bench-peers/`.",
        "",
        "## emio-echo beside its peers: 64-byte echo over loopback, one request in flight per connection",
        "",
    ]
    if quick:
        lines += ["This is a **quick** run (`--quick`): few, short rounds and instruction counts at 16 connections",
                  "only. Run `bash scripts/bench-peers.sh` for the full one.", ""]
    lines += ["The table of issue 9, measured again:", ""] + summary_table(results) + [""]
    lines += ["### Issue 9's targets", ""] + targets(results) + [""]
    for count in results.connection_counts:
        lines += [f"### {count} connection{'s' if count != 1 else ''}", ""] + connection_table(results, count) + [""]
    lines += ["### Memory", ""] + memory_table(results) + [""]
    lines += ["### The ratios to raw epoll", "", f"![ratios to raw epoll]({plot_name})", ""]
    lines += kept_section(results_dir.parent / "dispatch.txt", "## The driver's dispatch loop (`scripts/bench-dispatch.sh`)",
                          "Its last run, as it printed it (kept in bench/results/dispatch.txt):", fenced=True)
    lines += kept_section(results_dir.parent / "lean-path.md", "## The lean readiness path, change by change",
                          "Kept by hand in bench/results/lean-path.md, each figure from the commands it names:")
    lines += [METHOD] + machine_section(results) + [""]
    lines += [
        "## Running it",
        "```",
        "bash scripts/bench-peers.sh --quick   # under 3 minutes",
        "bash scripts/bench-peers.sh           # the full run, under 15 minutes",
        "bash scripts/bench-peers.sh --servers \"raw-epoll emio-epoll\" --connections 16 --rounds 3",
        "```",
        "It installs what is missing (scripts/install-deps.sh), builds the release preset in build/bench-peers,",
        "and exits non-zero only when something fails to build or run: the figures are reported, never enforced.",
        "The suite checks that the benchmark still builds and serves: ctest's `bench.peers.smoke.*` tests send a",
        "few hundred checked requests to every server (emio-echo on each backend included).",
        "",
    ]
    return "\n".join(lines)


# ---- the plot ----

def write_plot_data(results, path):
    """Three blocks (requests/s, CPU per request, instructions per request), each a row per connection count
    and a column per server: the ratio to raw epoll."""
    def block(title, ratio_of):
        rows = [" ".join(["connections"] + [f'"{server}"' for server in results.servers])]
        for count in results.connection_counts:
            baseline = results.at(BASELINE, count)
            values = [ratio_of(results.at(server, count), baseline) for server in results.servers]
            rows.append(" ".join([f'"{count} conn"'] + ["NaN" if value is None else f"{value:.4f}" for value in values]))
        return f"# {title}\n" + "\n".join(rows)

    blocks = [
        block("requests/s", lambda figures, _: median_or_none(figures.rps_ratio)),
        block("server CPU per request", lambda figures, baseline: figures.cpu_ratio_to(baseline)),
        block("instructions per request", lambda figures, baseline: figures.instructions_ratio_to(baseline)),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n\n".join(blocks) + "\n")


GNUPLOT = """\
set terminal pngcairo size 1500,600 font "sans,10"
set output "{output}"
set multiplot layout 1,3 title "emio-echo and its peers, ratio to the raw epoll loop (1.0 = raw epoll), {date}"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set yrange [0:*]
set grid ytics
set key below horizontal maxcols 4 font ",9"
set xtics nomirror
set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead dashtype 2 linecolor rgb "black" front
set title "requests/s (higher is better)"
plot for [column=2:{last}] "{data}" index 0 using column:xtic(1) title columnheader(column)
set title "server CPU per request (lower is better)"
plot for [column=2:{last}] "{data}" index 1 using column:xtic(1) title columnheader(column)
set title "user-space instructions per request (lower is better)"
plot for [column=2:{last}] "{data}" index 2 using column:xtic(1) title columnheader(column)
unset multiplot
"""


def draw_plot(results, data_path, plot_path):
    write_plot_data(results, data_path)
    script = GNUPLOT.format(output=plot_path, data=data_path, last=len(results.servers) + 1,
                            date=results.machine.get("date", ""))
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as error:
        print(f"report: no plot ({error}); install gnuplot-nox", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, required=True, help="folder with runs.txt, instructions.txt, machine.txt")
    parser.add_argument("--markdown", type=Path, required=True, help="the page to write")
    parser.add_argument("--plot", type=Path, required=True, help="the PNG to draw")
    parser.add_argument("--plot-data", type=Path, required=True, help="where gnuplot's input goes")
    arguments = parser.parse_args()
    results = Results(arguments.results)
    if not results.servers:
        print(f"report: no runs in {arguments.results}/runs.txt", file=sys.stderr)
        return 1
    arguments.markdown.write_text(markdown(results, arguments.results, arguments.plot.name))
    draw_plot(results, arguments.plot_data, arguments.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
