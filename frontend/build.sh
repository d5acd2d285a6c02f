#!/bin/sh
# Rebuilds the upload page's bundle (webapp/pages/static/pages/vendor/uppy-upload.*)
# from frontend/src with the exact package versions in package-lock.json.
# Needs Node.js 18+ and npm; `make run` does not (the built files are committed).
#   frontend/build.sh          install the locked packages and build
#   frontend/build.sh --check  fail when the committed bundle differs from a fresh build
set -eu
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
node build.mjs "$@"
