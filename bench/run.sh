#!/usr/bin/env bash
# The benchmark of issues 6 and 17 (see bench/run.py for what it measures and how):
#
#   bash bench/run.sh [--quick] [--runs N] [--trees DIR] [--profiles sparse,dense] [--no-tools] [SIZES...]
#
# Default sizes 10000 100000 in the sparse and dense profiles (--quick: 1000 10000). Needs cargo, python3 and
# /usr/bin/time; yamllint and checkov are pip-installed into a throwaway venv
# (/tmp/kml-bench-venv) and reported as "not measured" if that fails.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 bench/run.py "$@"
