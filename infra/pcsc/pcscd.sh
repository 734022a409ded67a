#!/usr/bin/env bash
# pcscd with vsmartcard's vpcd readers (8 slots) and the quickack route for the card link.
# Usage: bash infra/pcsc/pcscd.sh start|restart|stop|status   (start is idempotent; needs root)
set -euo pipefail
cd "$(dirname "$0")/../.."
exec npx tsx infra/pcsc/main.ts "${1:-start}"
