#!/bin/bash
# Run once by the MySQL image on an empty data directory (/docker-entrypoint-initdb.d): one
# database and one user per service, for each <NAME>_DB_PASSWORD in the environment
# (AUTH_DB_PASSWORD makes database `auth` and user 'auth'). A user gets every privilege on its
# own database and none elsewhere, so no service can read another's schema. The databases are
# utf8mb4 with a binary collation, as the services' own creation makes them.
set -euo pipefail

sql_string() { local s=${1//\\/\\\\}; printf "'%s'" "${s//\'/\'\'}"; }

for variable in $(compgen -e | grep -E '^[A-Z0-9_]+_DB_PASSWORD$' || true); do
  name=${variable%_DB_PASSWORD}
  name=${name,,}
  echo "service database: $name"
  MYSQL_PWD=$MYSQL_ROOT_PASSWORD mysql --protocol=socket -uroot <<SQL
CREATE DATABASE IF NOT EXISTS \`$name\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE USER IF NOT EXISTS '$name'@'%' IDENTIFIED BY $(sql_string "${!variable}");
GRANT ALL PRIVILEGES ON \`$name\`.* TO '$name'@'%';
SQL
done
