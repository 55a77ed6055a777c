#!/usr/bin/env bash
# Builds the project and runs every test: installs missing Debian packages
# (as root), builds with warnings as errors, runs the suite with ctest.
#
#   scripts/test.sh            build in ./build, run all tests
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/lib.sh"

install_missing
build_project "$ROOT/build"

step "running the tests (ctest, 2 at a time)"
cd "$ROOT/build"
ctest --output-on-failure -j2 --timeout 300
