#!/bin/bash
# The official MySQL image's start-up, for MariaDB: on an empty data directory, initialise it,
# set the root account, create MYSQL_DATABASE / MYSQL_USER and run /docker-entrypoint-initdb.d
# against a server that listens on its socket only; then start the real server.
set -euo pipefail

if [[ "${1:-}" == -* ]]; then set -- mariadbd "$@"; fi
if [[ "${1:-}" != mariadbd && "${1:-}" != mysqld ]]; then exec "$@"; fi
shift

note() { echo "$(date -u +%FT%TZ) [Entrypoint]: $*"; }
sql_string() { local s=${1//\\/\\\\}; printf "'%s'" "${s//\'/\'\'}"; }

datadir=/var/lib/mysql
if [[ ! -d "$datadir/mysql" ]]; then
  if [[ -z "${MYSQL_ROOT_PASSWORD:-}" && -z "${MYSQL_ALLOW_EMPTY_PASSWORD:-}" && -z "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]]; then
    note "set MYSQL_ROOT_PASSWORD, MYSQL_ALLOW_EMPTY_PASSWORD or MYSQL_RANDOM_ROOT_PASSWORD" >&2
    exit 1
  fi
  note "initialising $datadir"
  mariadb-install-db --datadir="$datadir" --skip-test-db --auth-root-authentication-method=normal \
    --skip-name-resolve >/dev/null
  # The default socket, as in the official image, so init scripts reach it with a plain client.
  socket=/run/mysqld/mysqld.sock
  mariadbd --datadir="$datadir" --skip-networking --socket="$socket" "$@" &
  init_pid=$!
  for _ in $(seq 1 60); do
    mariadb-admin --socket="$socket" -uroot ping >/dev/null 2>&1 && break
    sleep 0.5
  done
  client=(mariadb --socket="$socket" -uroot --batch)

  root_password=${MYSQL_ROOT_PASSWORD:-}
  if [[ -n "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]]; then
    root_password=$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32)
    note "GENERATED ROOT PASSWORD: $root_password"
  fi
  {
    echo "DELETE FROM mysql.global_priv WHERE User NOT IN ('root', 'mariadb.sys', 'mysql') OR Host NOT IN ('localhost');"
    echo "DELETE FROM mysql.proxies_priv WHERE Host NOT IN ('localhost');"
    echo "FLUSH PRIVILEGES;"
    echo "CREATE USER 'root'@'%' IDENTIFIED BY $(sql_string "$root_password");"
    echo "GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;"
    echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $(sql_string "$root_password");"
    if [[ -n "${MYSQL_DATABASE:-}" ]]; then
      echo "CREATE DATABASE IF NOT EXISTS \`$MYSQL_DATABASE\`;"
    fi
    if [[ -n "${MYSQL_USER:-}" ]]; then
      echo "CREATE USER '$MYSQL_USER'@'%' IDENTIFIED BY $(sql_string "${MYSQL_PASSWORD:-}");"
      [[ -n "${MYSQL_DATABASE:-}" ]] && echo "GRANT ALL ON \`$MYSQL_DATABASE\`.* TO '$MYSQL_USER'@'%';"
    fi
    echo "FLUSH PRIVILEGES;"
  } | "${client[@]}"
  # From here on root has its password, as the official image's init scripts expect.
  client+=(--password="$root_password")
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sh) note "running $f"; if [[ -x "$f" ]]; then "$f"; else . "$f"; fi ;;
      *.sql) note "running $f"; "${client[@]}" <"$f" ;;
      *.sql.gz) note "running $f"; gunzip -c "$f" | "${client[@]}" ;;
      */\*) ;;
      *) note "ignoring $f" ;;
    esac
  done
  mariadb-admin --socket="$socket" -uroot --password="$root_password" shutdown
  wait "$init_pid"
  note "initialised; starting the server"
fi

exec mariadbd --datadir="$datadir" "$@"
