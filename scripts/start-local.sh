#!/bin/sh
# Installs dependencies and builds when something changed (scripts/prepare.sh), then runs the service locally.
set -e
cd "$(dirname "$0")/.."
sh scripts/prepare.sh
exec node scripts/start-local.js
