#!/usr/bin/env bash
# Makes a Docker engine with Compose v2 answer on this machine, from Debian's
# archive only (like libs/testkit's nats-server provisioning: the project
# installs what it needs itself). Idempotent: an engine that already answers is
# left alone; installed packages are not reinstalled. Needs root for the install
# and for dockerd. Prints what it did and how long it took.
#
# What gets installed, and from where:
# * docker.io, containerd, runc, iptables, debootstrap: Debian bookworm, the
#   machine's own release (security-supported, built against its libraries).
# * docker-compose (Compose v2, the `docker compose` plugin) and docker-buildx:
#   Debian unstable, because bookworm only carries Compose 1.29 (Python, no
#   `docker compose`). Both are static Go binaries that depend on libc6 >= 2.34
#   alone (bookworm has 2.36), so taking them from unstable pulls in nothing else.
#   The pin below makes that safe: every other unstable package gets priority 1
#   (never installed or upgraded unless named), these two get 600 (above
#   bookworm's 500). Without it, `apt-get -t unstable` would upgrade libc6 and
#   half the system.
# dockerd then runs in the background (its own containerd), logging to
# $CONCLAVE_DOCKERD_LOG; it outlives this script and is left running.
set -euo pipefail

MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
LOG=${CONCLAVE_DOCKERD_LOG:-/var/log/conclave-dockerd.log}
SOURCES=/etc/apt/sources.list.d/conclave-unstable.sources
PIN=/etc/apt/preferences.d/conclave-unstable
start=$(date +%s%N)
elapsed() { echo "$((($(date +%s%N) - start) / 1000000)) ms"; }

engine_answers() { docker info >/dev/null 2>&1; }
tools_present() {
  command -v dockerd >/dev/null && command -v debootstrap >/dev/null &&
    docker compose version >/dev/null 2>&1 && docker buildx version >/dev/null 2>&1
}

if engine_answers && tools_present; then
  echo "engine: already running ($(docker version --format '{{.Server.Version}}'), $(docker compose version --short) compose), checked in $(elapsed)"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "provision-engine: no Docker engine answers and installing one needs root" >&2
  exit 1
fi

if ! tools_present; then
  cat >"$SOURCES" <<SOURCES_EOF
Types: deb
URIs: $MIRROR
Suites: unstable
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES_EOF
  cat >"$PIN" <<'PIN_EOF'
# Written by deploy/containers/provision-engine.sh: only Compose v2 and buildx come from unstable.
Package: *
Pin: release a=unstable
Pin-Priority: 1

Package: docker-compose docker-buildx
Pin: release a=unstable
Pin-Priority: 600
PIN_EOF
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    docker.io docker-compose docker-buildx debootstrap >/dev/null
  echo "engine: packages installed in $(elapsed)"
fi

if ! engine_answers; then
  # setsid + nohup: dockerd must not die with the shell or the test run that called this.
  setsid nohup dockerd >>"$LOG" 2>&1 </dev/null &
  for _ in $(seq 1 150); do
    engine_answers && break
    sleep 0.2
  done
  if ! engine_answers; then
    echo "provision-engine: dockerd did not answer within 30 s; see $LOG" >&2
    tail -n 20 "$LOG" >&2
    exit 1
  fi
fi
echo "engine: running ($(docker version --format '{{.Server.Version}}'), compose $(docker compose version --short)) after $(elapsed)"
