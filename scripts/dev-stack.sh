#!/usr/bin/env bash
# `npm run dev`: deploy the dev stack (Pulumi.dev.yaml: local mode, the Docker daemon DOCKER_HOST
# or the default socket names) in one command, the README's quick start.
#
#   npm run dev [-- FLAGS...]      FLAGS go to `pulumi up` (e.g. --diff, --refresh)
#
# 1. Checks that the Pulumi CLI, `npm ci`'s packages and a Docker daemon are there.
# 2. Logs in to the local state backend (`pulumi login --local`: ~/.pulumi) when no backend is
#    logged in and PULUMI_BACKEND_URL is unset. A `backend.url` in Pulumi.yaml would do the same
#    for every stack of the project, the CI workflow's too, so the login is left to each machine.
# 3. Selects the stack `dev`, creating it the first time. With the local backend, Pulumi asks
#    for a passphrase that encrypts the stack's secrets (and again on later commands), unless
#    PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE is set.
# 4. Runs `pulumi up --yes` on it: the preview is printed, then applied without a question.
# 5. Waits until the running edge serves the files that `pulumi up` just wrote (a new certificate,
#    users, nginx.conf): `pulumi up` ends once they are written, and the edge takes a complete set
#    within about a second (docs/operations.md). The next command then meets the new files.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
    echo "npm run dev: $*" >&2
    exit 1
}

command -v pulumi >/dev/null 2>&1 ||
    fail "no pulumi on PATH: install the Pulumi CLI first (README.md, Prerequisites)"
[ -d node_modules/@pulumi/pulumi ] || fail "no node_modules/@pulumi/pulumi: run npm ci first"
command -v docker >/dev/null 2>&1 || fail "no docker on PATH: install Docker first (README.md, Prerequisites)"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
    fail "the Docker daemon at ${DOCKER_HOST:-the default socket} does not answer (try: docker version)"

if [ -z "${PULUMI_BACKEND_URL:-}" ] && ! pulumi whoami --non-interactive >/dev/null 2>&1; then
    echo "npm run dev: no Pulumi backend logged in: using the local one (pulumi login --local)" >&2
    pulumi login --local
fi
pulumi stack select --create dev
pulumi up --yes --stack dev "$@"

# The edge's files holder names its set in its manifest; the edge's `live` link names the set it serves.
edge="$(pulumi config get --stack dev namePrefix 2>/dev/null || echo registry)-edge"
written=$(docker exec "$edge" sed -n 's/^# set //p' /etc/nginx/files/manifest)
for _ in $(seq 1 300); do
    [ "$(docker exec "$edge" readlink /run/edge/live 2>/dev/null)" = "$written" ] && exit 0
    sleep 0.2
done
fail "the edge ($edge) did not take the files of set $written within 60 s: docker logs $edge says why"
