#!/bin/sh
# Like nginx's /docker-entrypoint.sh: hooks in /docker-entrypoint.d run only when starting nginx itself.
set -e
if [ "$1" = "nginx" ] || [ "$1" = "nginx-debug" ]; then
    for hook in /docker-entrypoint.d/*.sh; do
        [ -x "$hook" ] || continue
        echo "$0: running $hook"
        "$hook"
    done
fi
exec "$@"
