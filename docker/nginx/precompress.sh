#!/bin/sh
# Usage: precompress.sh DIR
# Writes a .gz twin beside every compressible file under DIR, for nginx's gzip_static. Run at image
# build time (and by the tests and `make local` on their copy), never per request.
set -eu
if [ "$#" -ne 1 ] || [ ! -d "$1" ]; then
    echo "usage: precompress.sh DIR" >&2
    exit 64
fi
find "$1" -type f \( -name '*.css' -o -name '*.js' -o -name '*.mjs' -o -name '*.map' -o -name '*.svg' \
    -o -name '*.html' -o -name '*.json' -o -name '*.txt' -o -name '*.xml' -o -name '*.ico' \) \
    -exec gzip -9 --keep --force --no-name {} +
