#!/bin/sh
# `npm test`: unit and e2e tests against PostgreSQL and Redis on localhost and an s3rver it starts.
# Installs dependencies and builds first when something changed (scripts/prepare.sh): some tests run the built service as separate processes.
set -e
cd "$(dirname "$0")/.."
sh scripts/prepare.sh
NODE_OPTIONS=--experimental-vm-modules exec jest --runInBand "$@"
