#!/usr/bin/env bash
# What tests/deploy/test_container.py needs on a Debian bookworm CI machine, before it runs with
# VARDE_CONTAINER_TEST=1: podman with the runc runtime, and debootstrap for the local base image (no registry is
# reachable). The test writes its own containers.conf and keeps the base in /var/cache/varde-ci between runs.
# Idempotent and quiet: installs only what is missing; exits non-zero if anything is still missing afterwards.
set -euo pipefail

packages=(podman runc debootstrap uidmap fuse-overlayfs slirp4netns tar)
missing=()
for p in "${packages[@]}"; do
    if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
        missing+=("$p")
    fi
done

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    sudo=(sudo -n)
fi
if [ ${#missing[@]} -gt 0 ]; then
    log=$(mktemp)
    trap 'rm -f "$log"' EXIT
    if ! { "${sudo[@]}" apt-get update -q \
           && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"; } >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        echo "container-tools: could not install ${missing[*]}" >&2
        exit 1
    fi
fi

"${sudo[@]}" mkdir -p /var/cache/varde-ci
for tool in podman runc debootstrap; do
    command -v "$tool" >/dev/null || { echo "container-tools: $tool is not on PATH" >&2; exit 1; }
done
