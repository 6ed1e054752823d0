#!/usr/bin/env bash
# Pin every image of the compose stack that still has a tag only to tag@digest, in place:
#   docker/pin-images.sh
# Needs Docker with buildx (the registry's answer for the tag's multi-platform index). Run it when
# bumping a tag; then drop the image from DIGEST_PENDING in tests/deploy/test_compose_files.py.
set -euo pipefail
cd "$(dirname "$0")/.."

files=(docker-compose.yml docker/*.Dockerfile)
mapfile -t images < <(grep -hoE '^\s*(image:|FROM)\s+[^ @]+:[^ @]+\s*($|AS|as)' "${files[@]}" \
    | awk '{print $2}' | grep -v '^payment-fleet/' | sort -u)

for image in "${images[@]}"; do
    digest=$(docker buildx imagetools inspect "$image" --format '{{json .Manifest.Digest}}' | tr -d '"')
    case "$digest" in
        sha256:*) ;;
        *) echo "$0: no digest for $image" >&2; exit 1 ;;
    esac
    echo "$image@$digest"
    # Replace "image: <tag>" / "FROM <tag>" only where no digest follows yet.
    sed -i -E "s#(image:|FROM)([[:space:]]+)${image//./\\.}([[:space:]]|\$)#\\1\\2${image}@${digest}\\3#" "${files[@]}"
done
