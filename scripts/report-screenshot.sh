#!/usr/bin/env bash
# Renders a calibd night report in headless Chromium and saves a full-page
# screenshot, to check by eye that the page and its plots display.
#
#   scripts/report-screenshot.sh REPORT_DIR/index.html OUT.png
# Needs Debian's chromium (apt-get install chromium).
set -euo pipefail
page=$(realpath "$1"); out=$2
command -v chromium >/dev/null || { echo "chromium is not installed (apt-get install chromium)" >&2; exit 2; }
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,2400 \
  --screenshot="$out" "file://$page" 2>/dev/null
echo "$out"
