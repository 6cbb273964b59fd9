#!/bin/sh
# The build stage of every service image (services/*/Dockerfile, gateway/Dockerfile):
# installs the production dependencies of PACKAGE and the workspace packages it uses, then
# copies into OUT only what the process runs: the root manifest, node_modules, and the
# source of those workspace packages (no tests).
#   docker/build-service.sh @tms/auth /app
# Workspace packages stay symlinks to packages/* (not `pnpm deploy`, which copies them under
# node_modules, where Node refuses to strip TypeScript types).
set -eu
package=$1
out=$2

# `pnpm fetch` (the Dockerfile's cached layer) filled node_modules with the dependencies of every
# workspace package, test tools included: start over from its store with this package's only.
rm -rf node_modules
pnpm install --offline --frozen-lockfile --prod --filter-prod "$package..."

mkdir -p "$out"
cp -a package.json pnpm-workspace.yaml node_modules "$out/"
pnpm --filter-prod "$package..." ls --depth -1 --json |
  node -e '
    let text = ""
    process.stdin.on("data", (chunk) => (text += chunk))
    process.stdin.on("end", () => {
      for (const p of JSON.parse(text)) console.log(require("node:path").relative(process.cwd(), p.path))
    })' |
  while read -r dir; do
    tar -c --exclude="$dir/test" --exclude="$dir/Dockerfile" --exclude="$dir/.taprc" "$dir" |
      tar -x -C "$out"
  done
