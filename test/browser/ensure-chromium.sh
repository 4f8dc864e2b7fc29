#!/usr/bin/env bash
# Browser tests drive Debian's chromium with playwright-core. On a fresh machine of this kind
# (Debian, root, apt reachable) install it; elsewhere say how, and the browser test skips.
set -u
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian chromium for the browser tests..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "Could not install chromium; the browser test will be skipped."
else
  echo "No /usr/bin/chromium: the browser test will be skipped (on Debian: apt-get install chromium)."
fi
exit 0
