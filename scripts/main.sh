#!/usr/bin/env bash
# The main job: sets everything up on a fresh Debian 12 machine (as root) and runs it.
# Today: the dispatch benchmark (driver against raw epoll). The runtime issue replaces it with the
# emio-bridge daemon run against a pseudo-terminal.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
exec bash scripts/bench-dispatch.sh "$@"
