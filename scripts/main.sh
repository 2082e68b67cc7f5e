#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job, from a fresh Debian 12 machine as root: installs what is missing, builds everything, and runs
# emio-bridge against a pseudo-terminal standing in for a board's UART, with real clients both ways
# (scripts/main-job.sh says what it checks). Ends with "main-job: OK" and exit 0.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
exec bash scripts/main-job.sh "$@"
