#!/usr/bin/env bash
# make demo: runs tests/demo.py with the freshly built binary.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec "${PYTHON3:-python3}" "$here/demo.py" "$@"
