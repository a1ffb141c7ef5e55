#!/bin/sh
# fetch-verified URL SHA256 DEST [TIMEOUT]
#
# Download URL to DEST only if its bytes hash to SHA256.  The file is fetched beside DEST under a
# temporary name, hashed, and moved into place only on a match; on a mismatch it is deleted and
# one line on stderr names the URL, the hash expected and the hash served.  Nothing that uses
# DEST ever sees an unverified file.  Installed by roles/macos_base (works on Linux too).
set -u
url=$1 want=$2 dest=$3 limit=${4:-1800}
part="$dest.part.$$"
say() { echo "wheelfleet: download $url: $*" >&2; }

case "$want" in
    *[!0-9a-f]*|"") say "expected sha256 must be 64 lowercase hex digits, got '$want'"; exit 2 ;;
esac
[ "${#want}" = 64 ] || { say "expected sha256 must be 64 hex digits, got '$want'"; exit 2; }

sha256_of() {
    if command -v shasum >/dev/null 2>&1; then shasum -a 256 "$1"; else sha256sum "$1"; fi \
        | awk '{print $1}'
}

mkdir -p "$(dirname "$dest")" || exit 1
trap 'rm -f "$part"' EXIT INT TERM
if ! curl --fail --silent --show-error --location --max-time "$limit" --retry 2 \
        --output "$part" "$url"; then
    say "download failed (see the line above); nothing was installed"
    exit 1
fi
got=$(sha256_of "$part")
if [ "$got" != "$want" ]; then
    say "sha256 mismatch: expected $want, got $got; the file was deleted and nothing was installed"
    exit 1
fi
mv -f "$part" "$dest" && trap - EXIT INT TERM
