#!/usr/bin/env bash
# Starts a throwaway PostgreSQL (Debian's packages, installed when missing) on a loopback port and
# prints its URL. The data folder lives under $1 (default: /tmp/stepup-postgres, which the
# `postgres` user can reach even when the checkout cannot be); stop it with `scripts/postgres.sh stop [DIR]`.
set -euo pipefail
cmd=start
if [ "${1:-}" = stop ]; then cmd=stop; shift; fi
dir="$(realpath -m "${1:-/tmp/stepup-postgres}")"
port="${STEPUP_PG_PORT:-55432}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
if [ -z "$bin" ] || [ ! -x "$bin/postgres" ]; then
  echo "postgres.sh: installing Debian's postgresql" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2
  bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
fi
# PostgreSQL refuses to run as root: run it as the `postgres` user when we are root.
as() { if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }
if [ "$cmd" = stop ]; then
  as "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
  exit 0
fi
mkdir -p "$dir"
if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
if [ ! -f "$dir/data/PG_VERSION" ]; then
  as "$bin/initdb" -D "$dir/data" -U stepup --auth=trust >/dev/null
fi
if ! as "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
  as "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" start >/dev/null
fi
as "$bin/psql" -h 127.0.0.1 -p "$port" -U stepup -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='stepup'" | grep -q 1 \
  || as "$bin/psql" -h 127.0.0.1 -p "$port" -U stepup -d postgres -qc "CREATE DATABASE stepup" >/dev/null
echo "postgres://stepup@127.0.0.1:$port/stepup"
