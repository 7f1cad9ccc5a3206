#!/usr/bin/env bash
# Empty engine → first grade of the kv-store reference, then a second grade of the same source.
# Peer, measured in the same run: a plain host `cargo build --release` of the same source from an empty
# target folder (what the sandboxed build costs on top of compiling).
#
# Destructive for the harness's own state: removes its images, crate cache and Debian root.
set -euo pipefail
cd "$(dirname "$0")/.."
reference=exercises/kv-store/reference

docker images --format '{{.Repository}}:{{.Tag}}' | grep '^harness/' | xargs -r docker rmi -f >/dev/null
docker volume rm -f harness-crate-cache >/dev/null 2>&1 || true
rm -rf "${HARNESS_CACHE:-$HOME/.cache/harness}"

seconds() { local start=$SECONDS; "$@" >/dev/null 2>&1; echo $((SECONDS - start)); }

first=$(seconds harness grade "$reference" -e kv-store --out /tmp/bench-first)
second=$(seconds harness grade "$reference" -e kv-store --out /tmp/bench-second)
scratch=$(mktemp -d)
cp -r "$reference"/. "$scratch"/ && rm -rf "$scratch/target"
host=$(seconds cargo build --release --quiet --manifest-path "$scratch/Cargo.toml")
rm -rf "$scratch"

echo "| empty engine → first grade of the reference | ${first} s |"
echo "| second grade of the same source | ${second} s |"
echo "| peer: host cargo build --release, empty target | ${host} s |"
