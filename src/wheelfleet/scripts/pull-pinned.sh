#!/bin/sh
# pull-pinned ENGINE REF WANT_DIGEST LOCAL_NAME TIMEOUT [TAG_REF]
#
# Pull one image by digest, prove the store holds exactly those bytes, then give it its stable
# local name.  On any failure nothing new stays tagged, and one line on stderr says which image,
# the digest expected and the digest found (or why none was).  Installed by roles/linux_builder.
set -u
engine=$1 ref=$2 want=$3 local=$4 limit=$5 tagref=${6:-}

say() { echo "wheelfleet: image $ref: $*" >&2; }

served_digest() {
    # What the registry's tag serves now: the usual cause of a pinned digest going missing.
    [ -n "$tagref" ] || return 0
    command -v skopeo >/dev/null 2>&1 || return 0
    timeout 30 skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$tagref" 2>/dev/null
}

if ! out=$(timeout "$limit" "$engine" pull -q "$ref" 2>&1); then
    status=$?
    now=$(served_digest)
    if [ "$status" = 124 ]; then
        say "pull timed out after ${limit}s (registry down or unreachable?); expected $want"
    elif [ -n "$now" ]; then
        say "expected digest $want, but the registry serves $now under ${tagref##*/}; $(echo "$out" | tail -n 1)"
    else
        say "pull failed; expected digest $want: $(echo "$out" | tail -n 1)"
    fi
    exit 1
fi

got=$("$engine" image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$ref" 2>/dev/null \
      | sed -n 's/.*@//p' | sort -u | tr '\n' ' ')
case " $got" in
    *" $want "*) ;;
    *)
        # Different bytes than pinned: drop them so nothing half-pulled stays usable.
        "$engine" rmi -f "$ref" >/dev/null 2>&1
        say "expected digest $want, got ${got:-none}"
        exit 1
        ;;
esac

"$engine" tag "$ref" "$local" || { say "could not tag as $local"; exit 1; }
echo "pulled $ref as $local"
