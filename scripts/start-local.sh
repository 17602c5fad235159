#!/bin/sh
# Installs dependencies (a no-op when up to date), builds, and runs the service locally.
set -e
cd "$(dirname "$0")/.."
npm install --no-audit --no-fund --loglevel=error
npm run --silent build
exec node scripts/start-local.js
