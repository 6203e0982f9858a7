#!/usr/bin/env bash
# Builds, from Debian's archive, the images that cannot be pulled where no image
# registry answers: a Debian base (debootstrap minbase, `docker import`), then
# Node, nats-server and nginx from Debian's packages on it (images/*.Dockerfile).
# The product files keep the official images as defaults; these local tags are
# passed in through NODE_IMAGE, NATS_IMAGE and NGINX_IMAGE (the last lines
# printed, KEY=value, for `env` or `export`).
#
# Cached between runs: each image carries a label with the hash of its inputs
# (recipe, suite, mirror, the host's CA bundle, the base it builds on) and is
# skipped when the tag exists with the same hash.
#
# The host's CA certificates go into the base image (/usr/local/share/ca-certificates
# and the bundle): builds in this sandbox reach the npm registry through an
# intercepting proxy whose CA only the host trusts. These are test images; the
# product Dockerfile knows nothing of it.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SUITE=${CONCLAVE_BASE_SUITE:-unstable}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
HOST_CA=${CONCLAVE_HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
REPO=${CONCLAVE_LOCAL_IMAGE_REPO:-conclave-local}
LABEL=org.conclave.inputs
start=$(date +%s%N)
elapsed() { echo "$((($(date +%s%N) - $1) / 1000000)) ms"; }

hash_of() { sha256sum | cut -c1-16; }
current() { docker image inspect --format "{{ index .Config.Labels \"$LABEL\" }}" "$1" 2>/dev/null || true; }

# --- the Debian base --------------------------------------------------------
base_tag="$REPO/debian:$SUITE"
base_hash=$({
  sed -n '/^# --- the Debian base/,/^# --- end of base/p' "$0"
  echo "$SUITE $MIRROR"
  cat "$HOST_CA" /usr/local/share/ca-certificates/*.crt 2>/dev/null || true
} | hash_of)
if [ "$(current "$base_tag")" = "$base_hash" ]; then
  echo "image $base_tag: cached" >&2
else
  t=$(date +%s%N)
  root=$(mktemp -d /var/tmp/conclave-rootfs.XXXXXX)
  trap 'rm -rf "$root"' EXIT
  debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$root.log" 2>&1 || {
    tail -n 30 "$root.log" >&2
    exit 1
  }
  rm -f "$root.log"
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
  mkdir -p "$root/etc/ssl/certs" && cp "$HOST_CA" "$root/etc/ssl/certs/ca-certificates.crt"
  # Like Debian's official images: no recommends, no docs, apt lists dropped after use.
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$root/etc/apt/apt.conf.d/90conclave"
  # The host's apt may be told to accept an archive snapshot whose Release file has
  # expired (a frozen mirror); the images read the same archive, so they inherit that.
  apt-config dump | grep -E '^Acquire::Check-(Valid-Until|Date) "false";$' >>"$root/etc/apt/apt.conf.d/90conclave" || true
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
  tar -C "$root" -c . | docker import \
    --change "LABEL $LABEL=$base_hash" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
    --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["bash"]' - "$base_tag" >/dev/null
  rm -rf "$root"
  trap - EXIT
  echo "image $base_tag: built in $(elapsed "$t")" >&2
fi
# --- end of base ------------------------------------------------------------

base_id=$(docker image inspect --format '{{.Id}}' "$base_tag")
build() { # name tag
  local name=$1 tag=$2 recipe="$HERE/images/$1.Dockerfile" hash t
  hash=$({ cat "$recipe"; echo "$base_id"; } | hash_of)
  if [ "$(current "$tag")" = "$hash" ]; then
    echo "image $tag: cached" >&2
    return
  fi
  t=$(date +%s%N)
  if ! docker build --progress=plain --build-arg "BASE=$base_tag" --label "$LABEL=$hash" -t "$tag" \
    -f "$recipe" "$HERE/images" >"/tmp/conclave-build-$name.log" 2>&1; then
    tail -n 30 "/tmp/conclave-build-$name.log" >&2
    echo "image $tag: build failed (log: /tmp/conclave-build-$name.log)" >&2
    return 1
  fi
  echo "image $tag: built in $(elapsed "$t")" >&2
}
build node "$REPO/node:$SUITE" &
build nats "$REPO/nats:$SUITE" &
build nginx "$REPO/nginx:$SUITE" &
failed=0
for job in $(jobs -p); do wait "$job" || failed=1; done
[ "$failed" -eq 0 ] || exit 1
echo "images ready in $(elapsed "$start")" >&2
echo "NODE_IMAGE=$REPO/node:$SUITE"
echo "NATS_IMAGE=$REPO/nats:$SUITE"
echo "NGINX_IMAGE=$REPO/nginx:$SUITE"
