#!/bin/sh
# Installs dependencies and builds, each only when needed: `npm install` when package.json or
# package-lock.json changed since the last install, `npm run build` when anything it compiles changed
# since the last build (or there is none). A fresh clone gets both.
set -e
cd "$(dirname "$0")/.."

installed=node_modules/.package-lock.json
if [ ! -f "$installed" ] || [ package.json -nt "$installed" ] || [ package-lock.json -nt "$installed" ]; then
  npm install --no-audit --no-fund --loglevel=error
  # npm leaves its record untouched when nothing changed; mark the tree as checked against these files.
  touch "$installed"
fi

# The stamp is taken before building, so a file saved during the build makes the next start build again.
built=dist/.build-stamp
if [ ! -f "$built" ] || [ ! -f dist/src/main.js ] \
  || [ -n "$(find src migrations package.json package-lock.json tsconfig.json tsconfig.build.json nest-cli.json -newer "$built" -print -quit)" ]; then
  mkdir -p dist
  touch "$built.next"
  npm run --silent build
  mv "$built.next" "$built"
fi
