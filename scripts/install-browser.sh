#!/usr/bin/env bash
# Debian's Chromium and ChromeDriver, for the dashboard's browser test (a test tool's own browser
# download does not work offline). Does nothing when both are already installed.
set -euo pipefail
command -v chromium >/dev/null && command -v chromedriver >/dev/null && exit 0
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || {
  $SUDO apt-get update -q >/dev/null
  $SUDO apt-get install -y -q chromium chromium-driver >/dev/null
}
