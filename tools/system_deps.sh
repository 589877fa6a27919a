#!/usr/bin/env bash
# Machine packages the tests need, installed from Debian when missing and we are root; otherwise
# say what to install:
#  - PostgreSQL server binaries (initdb, pg_ctl): the local Airflow 3's database.
#  - chromium and chromium-driver: the headless browser of the UI tests (tests/browser.py).
set -euo pipefail
missing=()
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
# Debian's chromium-driver ships /usr/bin/chromedriver, built for the chromium of the same release.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
# chromium only recommends a font: without one, screenshots show boxes instead of text.
if command -v dpkg >/dev/null 2>&1 && ! dpkg -s fonts-liberation >/dev/null 2>&1; then
  missing+=(fonts-liberation)
fi
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} (for the local Airflow 3 and the browser tests)..." >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "missing system packages: ${missing[*]} (PostgreSQL server binaries for the local Airflow 3," \
       "chromium and chromium-driver for the browser tests): install them with your package manager" >&2
  exit 1
fi
