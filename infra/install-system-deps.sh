#!/usr/bin/env bash
# Installs the Debian packages cardsys needs when they are missing: nats-server for the broker,
# pcscd + vsmartcard-vpcd for the PC/SC stack with a virtual reader, libpcsclite-dev for the
# native pcsclite build, opensc for an independent PC/SC client, openssl to make the TLS certificates
# of head office's private CA, gcc for the power-cut tests' shim, chromium for the console's browser tests
# (Playwright drives Debian's build: it cannot download its own here); and, when no PostgreSQL answers on 127.0.0.1:5432, Debian's
# postgresql, started with trust auth for user postgres on loopback and a database "test" (what the
# PostgreSQL event-store tests use: PG_URL's default).
set -euo pipefail

PG_HOST=127.0.0.1
# CARDSYS_PG_PORT: another port, to try this script beside a server already running on 5432.
PG_PORT=${CARDSYS_PG_PORT:-5432}
pg_answers() { command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; }

need=()
command -v nats-server >/dev/null 2>&1 || need+=(nats-server)
command -v pcscd >/dev/null 2>&1 || need+=(pcscd)
[ -f /usr/include/PCSC/winscard.h ] || need+=(libpcsclite-dev)
[ -f /usr/lib/pcsc/drivers/serial/libifdvpcd.so ] || need+=(vsmartcard-vpcd)
command -v opensc-tool >/dev/null 2>&1 || need+=(opensc)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# gcc and libc headers: the power-cut tests build a small LD_PRELOAD shim (test/support/fsync-shadow.c).
{ command -v gcc >/dev/null 2>&1 && [ -f /usr/include/dlfcn.h ]; } || need+=(gcc libc6-dev)
command -v chromium >/dev/null 2>&1 || need+=(chromium)

start_postgres=false
if ! pg_answers; then
  start_postgres=true
  command -v pg_ctlcluster >/dev/null 2>&1 && ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}" >&2
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# PostgreSQL: the cluster on the port (made with the newest installed version if there is none;
# the package's own may have been made and started by the install), loopback connections of user
# postgres trusted, started or reloaded, and the test database created.
if $start_postgres; then
  cluster=$(pg_lsclusters -h 2>/dev/null | awk -v port="$PG_PORT" '$3 == port { print $1 "/" $2; exit }')
  if [ -z "$cluster" ]; then
    version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
    name=main
    [ -e "/etc/postgresql/$version/main" ] && name=cardsys
    echo "creating PostgreSQL $version cluster $name on port $PG_PORT" >&2
    $SUDO pg_createcluster -p "$PG_PORT" "$version" "$name" >/dev/null
    cluster="$version/$name"
  fi
  hba="/etc/postgresql/$cluster/pg_hba.conf"
  if ! $SUDO grep -q '^# cardsys tests' "$hba"; then
    # Prepended: the first matching line decides. Only loopback, only user postgres.
    $SUDO sed -i "1i # cardsys tests: user postgres from loopback without a password\\nhost all postgres 127.0.0.1/32 trust\\nhost all postgres ::1/128 trust" "$hba"
  fi
  echo "starting PostgreSQL $cluster on $PG_HOST:$PG_PORT" >&2
  if pg_lsclusters -h | awk -v c="$cluster" '$1 "/" $2 == c && $4 == "online" { found = 1 } END { exit !found }'; then
    $SUDO pg_ctlcluster "${cluster%/*}" "${cluster#*/}" reload
  else
    $SUDO pg_ctlcluster "${cluster%/*}" "${cluster#*/}" start
  fi
  for _ in $(seq 1 30); do pg_answers && break; sleep 1; done
  pg_answers || { echo "PostgreSQL $cluster did not start: see /var/log/postgresql/postgresql-${cluster/\//-}.log" >&2; exit 1; }
fi
if pg_answers && psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -Atqc 'SELECT 1' >/dev/null 2>&1; then
  if [ -z "$(psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -Atqc "SELECT 1 FROM pg_database WHERE datname = 'test'")" ]; then
    echo "creating PostgreSQL database test" >&2
    psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -qc 'CREATE DATABASE test' >/dev/null
  fi
fi
