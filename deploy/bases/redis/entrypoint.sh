#!/bin/sh
# As the official image, whose redis-server is built with protected mode off: the container network
# is the boundary, and compose's own command line must not need to know this.
set -eu
if [ "${1:-}" = "redis-server" ]; then
    shift
    exec redis-server --protected-mode no "$@"
fi
exec "$@"
