#!/bin/sh
# `npm test`: unit and e2e tests against PostgreSQL and Redis on localhost and an s3rver it starts.
# Installs dependencies (a no-op when up to date) and builds first: some tests run the built service as separate processes.
set -e
cd "$(dirname "$0")/.."
npm install --no-audit --no-fund --loglevel=error
npm run --silent build
NODE_OPTIONS=--experimental-vm-modules exec jest --runInBand "$@"
