#!/usr/bin/env bash
# Debian's chromium and chromium-driver, for the status page's browser test. Installed when
# missing (as root, or through passwordless sudo); if that is not possible the test is skipped
# with the reason, except where STREAMVANE_REQUIRE_BROWSER is set (CI), where it fails.
set -uo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
as_root=""; [ "$(id -u)" = 0 ] || as_root="sudo -n"
log=/tmp/streamvane-apt.log
if ($as_root apt-get update -q && $as_root apt-get install -y -q chromium chromium-driver) >"$log" 2>&1; then
  echo "browser: installed chromium and chromium-driver"
else
  echo "browser: could not install chromium/chromium-driver (see $log); the browser test will skip"
fi
exit 0
