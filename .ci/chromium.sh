#!/usr/bin/env bash
# Called by .ci/run: installs Debian's chromium if it is missing, so that
# the browser test of cmd/messaging (TestBrowserTwoUsers, which skips when
# no Chromium is installed) always runs in CI.
set -euo pipefail

if [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1; then
	exit 0
fi
echo "== installing chromium"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
