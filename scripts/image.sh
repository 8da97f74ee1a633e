#!/usr/bin/env bash
# Builds the system's one image without Docker, with buildah (`make image`).
#
#   bash scripts/image.sh            build $CCHC_IMAGE (default cchc:dev)
#   CCHC_IMAGE_BASE=python:3.11-slim bash scripts/image.sh   build on a registry's base
#
# Without CCHC_IMAGE_BASE the base is made once from Debian's own packages
# (mmdebstrap, then `podman import`) and kept in the local image store, so the build
# needs no registry. buildah, podman and mmdebstrap come from Debian when missing.
# Prints the image's size at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${CCHC_IMAGE:-cchc:dev}
# The Debian base: python3-venv for the build stage's venv, the fonts the summary PDF is
# drawn in (so the final stage needs no apt), no manuals, translations or docs (but the
# copyright files). Its tag carries a hash of this recipe: a changed recipe, a new base.
DEBIAN_PACKAGES=python3,python3-venv,fonts-dejavu-core,ca-certificates
DPKG_OPTS=(
    --dpkgopt='path-exclude=/usr/share/man/*'
    --dpkgopt='path-exclude=/usr/share/locale/*'
    --dpkgopt='path-include=/usr/share/locale/locale.alias'
    --dpkgopt='path-exclude=/usr/share/doc/*'
    --dpkgopt='path-include=/usr/share/doc/*/copyright'
    --dpkgopt='path-exclude=/usr/share/info/*'
)
recipe=$(printf '%s\n' bookworm minbase "$DEBIAN_PACKAGES" "${DPKG_OPTS[@]}" | sha256sum | cut -c1-12)
DEBIAN_BASE=localhost/cchc-base:bookworm-$recipe
BASE=${CCHC_IMAGE_BASE:-$DEBIAN_BASE}

log() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

missing=()
for tool in buildah podman mmdebstrap; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if (( ${#missing[@]} )); then
    log "installing ${missing[*]} from Debian"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

# The containers' default ulimits need a setrlimit these machines do not permit.
mkdir -p var/image
if [[ -z "${CONTAINERS_CONF:-}" ]]; then
    printf '[containers]\ndefault_ulimits = []\n' > var/image/containers.conf
    export CONTAINERS_CONF=$PWD/var/image/containers.conf
fi

if [[ $BASE == "$DEBIAN_BASE" ]] && ! buildah inspect --type image "$BASE" >/dev/null 2>&1; then
    log "making the base $BASE from Debian's packages (once)"
    mmdebstrap --quiet --variant=minbase --include="$DEBIAN_PACKAGES" "${DPKG_OPTS[@]}" \
        bookworm var/image/rootfs.tar
    podman import --quiet var/image/rootfs.tar "$BASE" >/dev/null
    rm -f var/image/rootfs.tar
fi

# pip in the build trusts what this machine trusts (a network inspecting TLS adds its CA
# to the host's bundle); the bundle is mounted for the RUN steps, never copied in.
mounts=()
ca=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}
[[ -f $ca ]] && mounts+=(--volume "$(readlink -f "$ca"):/run/cchc-build/ca.crt:ro")

log "building $IMAGE on $BASE"
buildah bud --quiet --isolation chroot --layers "${mounts[@]}" --build-arg "BASE=$BASE" \
    -t "$IMAGE" . >/dev/null
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
log "$IMAGE built: $(numfmt --to=iec-i --suffix=B "$size") ($size bytes)"
