#!/usr/bin/env bash
# Machine packages the local Airflow needs: PostgreSQL server binaries (initdb, pg_ctl).
# Installed from Debian when missing and we are root; otherwise say what to install.
set -euo pipefail
if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing PostgreSQL (for the local Airflow 3)..." >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
else
  echo "PostgreSQL server binaries (initdb, pg_ctl) are needed: install the 'postgresql' package" >&2
  exit 1
fi
