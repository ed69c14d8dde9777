#!/usr/bin/env bash
# `make images`: the member and operator OCI images, built with buildah from a root filesystem laid
# out here (hack/images/Containerfile; no base image, no registry). Writes, under .cache/images/:
#   tsetcd.docker.tar  tsetcd-operator.docker.tar   docker-archive: podman load, docker load,
#                                                   ctr import, kind load image-archive
#   tsetcd.oci.tar     tsetcd-operator.oci.tar      oci-archive: podman load, skopeo copy, ctr import
# both tagged $IMAGE_REGISTRY/<name>:<package.json version> (default ghcr.io/tsetcd).
#
# Why not debootstrap: a minbase rootfs is ~100 MB of dpkg, apt and a shell the images never use,
# it changes with the mirror's state on the day, and Debian 12's nodejs is 18 while the project
# needs 20. The rootfs here is the node binary this machine runs (stripped), the 7 libraries
# `ldd` lists for it, CA certificates, passwd/group/nsswitch, and the app: its versions are
# recorded in /usr/share/doc/tsetcd-image/packages.txt.
#
# Reproducible: every timestamp is SOURCE_DATE_EPOCH (default: the last commit's time), file
# lists are sorted, owners and modes are fixed; the same commit on the same machine image gives
# the same image IDs (the summary prints them).
# Needs: root, buildah (apt-get install buildah), node >= 20, strip (binutils).
# Env: IMAGE_REGISTRY (default ghcr.io/tsetcd), IMAGE_TAG (default the package.json version),
#      SOURCE_DATE_EPOCH. --context-only stops after laying out .cache/images/context.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/../.."
root="$PWD"
out="$root/.cache/images"
work="$out/work"
ctx="$out/context"
context_only=false
[[ "${1:-}" == "--context-only" ]] && context_only=true

fail() { echo "images: $*" >&2; exit 1; }
step() { printf '\n=== images: %s (%ss)\n' "$*" "$SECONDS"; }

node_bin="$(readlink -f "$(command -v node)")" || fail "node is not on PATH"
node_major="$("$node_bin" -p 'process.versions.node.split(".")[0]')"
(( node_major >= 20 )) || fail "node $("$node_bin" --version) at $node_bin: the images need Node 20 or newer"
version="$(node -p 'require("./package.json").version')"
tag="${IMAGE_TAG:-$version}"
registry="${IMAGE_REGISTRY:-ghcr.io/tsetcd}"
epoch="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}"
revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
git diff --quiet HEAD -- 2>/dev/null || revision="$revision-dirty"
created="$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)"
ca_bundle=/etc/ssl/certs/ca-certificates.crt
[[ -f "$ca_bundle" ]] || fail "$ca_bundle missing (apt-get install ca-certificates)"
if ! $context_only; then
  command -v buildah > /dev/null || fail "buildah not found (apt-get install buildah)"
  [[ "$(id -u)" == 0 ]] || fail "run as root (buildah here uses a private store with the vfs driver, no rootless setup)"
fi

rm -rf "$work" "$ctx"
mkdir -p "$work" "$ctx"

step "compile (tsc) into $work/dist"
[[ -x node_modules/.bin/tsc ]] || fail "node_modules/.bin/tsc missing (make setup)"
node_modules/.bin/tsc -p tsconfig.build.json --outDir "$work/dist"

# The production install, cached by the hash of package.json + package-lock.json.
step "production node_modules (npm ci --omit=dev)"
lock_hash="$(cat package.json package-lock.json | sha256sum | cut -c1-16)"
mods="$out/npm-$lock_hash"
if [[ ! -f "$mods/node_modules/.package-lock.json" ]]; then
  rm -rf "$out"/npm-*
  mkdir -p "$mods"
  cp package.json package-lock.json "$mods/"
  (cd "$mods" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund)
else
  echo "cached: $mods"
fi

# tar with fixed order, times, owners and modes: mktar DIR OUT.tar OWNER MODE [-r] PATH...
mktar() {
  local dir="$1" file="$2" owner="$3" mode="$4"; shift 4
  local op=-c; if [[ "$1" == "-r" ]]; then op=-r; shift; fi
  tar -C "$dir" "$op" -f "$file" --format=gnu --sort=name --mtime="@$epoch" \
    --owner="$owner" --group="$owner" --numeric-owner --mode="$mode" "$@"
}

step "base layer: node, its libraries, /etc"
base="$work/base"
mkdir -p "$base/usr/bin" "$base/usr/local/bin" "$base/etc/ssl/certs" "$base/var/lib" "$base/home" \
  "$base/usr/share/doc/tsetcd-image"
ln -s usr/bin "$base/bin"
ln -s usr/lib "$base/lib"
ln -s usr/lib64 "$base/lib64"
if command -v strip > /dev/null; then
  strip --strip-all -o "$base/usr/bin/node" "$node_bin"
else
  echo "strip not found (binutils): node goes in unstripped" >&2
  cp "$node_bin" "$base/usr/bin/node"
fi
sources=("$node_bin" "$ca_bundle")
# Every path ldd prints (libraries and the interpreter), as a regular file at its /usr path.
while read -r lib; do
  rel="${lib#/}"; rel="usr/${rel#usr/}"
  mkdir -p "$base/$(dirname "$rel")"
  cp -L "$lib" "$base/$rel"
  sources+=("$lib" "$(readlink -f "$lib")")
done < <(ldd "$node_bin" | grep -oE '/[^ ]+' | sort -u)
cp "$ca_bundle" "$base/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$base/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$base/etc/group"
printf 'hosts: files dns\n' > "$base/etc/nsswitch.conf"
# Provenance and licences of what was copied from this machine's Debian packages.
: > "$base/usr/share/doc/tsetcd-image/packages.txt"
if command -v dpkg-query > /dev/null; then
  # (ca-certificates.crt is generated by update-ca-certificates: no package owns the file itself)
  mapfile -t pkgs < <({ for s in "${sources[@]}"; do { dpkg-query -S "$s" 2>/dev/null || true; } | cut -d: -f1; done
    dpkg-query -W -f '${Package}\n' ca-certificates 2>/dev/null || true; } | sort -u)
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f '${Package} ${Version} ${Architecture}\n' "$p" >> "$base/usr/share/doc/tsetcd-image/packages.txt"
    if [[ -f "/usr/share/doc/$p/copyright" ]]; then
      mkdir -p "$base/usr/share/doc/$p"
      cp "/usr/share/doc/$p/copyright" "$base/usr/share/doc/$p/copyright"
    fi
  done
fi
printf 'node %s %s\n' "$("$node_bin" --version)" "$(sha256sum "$node_bin" | cut -c1-16)" >> "$base/usr/share/doc/tsetcd-image/packages.txt"
cat "$base/usr/share/doc/tsetcd-image/packages.txt"
mkdir -p "$work/owned/tmp" "$work/owned/var/lib/tsetcd" "$work/owned/home/nonroot"
mktar "$base" "$ctx/base.tar" 0 go-w,a+rX $(cd "$base" && ls -A)
mktar "$work/owned" "$ctx/base.tar" 0 1777 -r tmp
mktar "$work/owned" "$ctx/base.tar" 65532 0700 -r var/lib/tsetcd home/nonroot

# /app of one image: stage_app NAME ENTRY [NODE_FLAG]
stage_app() {
  local name="$1" entry="$2" flag="${3:+ $3}" dir="$work/$1"
  mkdir -p "$dir/usr/local/bin"
  node "$work/dist/hack/images/stage-app.js" --dist "$work/dist" --modules "$mods/node_modules" \
    --lock package-lock.json --entry "$entry" --out "$dir/app"
  # No shell in the image: the command is a script node runs (one shebang argument is allowed).
  printf '#!/usr/bin/node%s\n// %s in the image: the command the operator and the chart run.\nimport("/app/dist/%s");\n' \
    "$flag" "$name" "$entry" > "$dir/usr/local/bin/$name"
  chmod 0755 "$dir/usr/local/bin/$name"
}
step "app layers: module graph + dependency closure"
# --heap-growing-percent is refused in NODE_OPTIONS: the one member flag on the shebang line (hack/lib/member-node-args.ts).
stage_app tsetcd node/main.js --heap-growing-percent=100
mkdir -p "$work/tsetcd/app/node"
cp -r node/proto "$work/tsetcd/app/node/proto"
stage_app tsetcd-operator operator/main.js --enable-source-maps
for name in tsetcd tsetcd-operator; do
  mktar "$work/$name" "$ctx/$name.tar" 0 go-w,a+rX app usr
done
ls -l "$ctx"
$context_only && { echo "context ready: $ctx"; exit 0; }

step "buildah build"
store=("--root=$out/storage" "--runroot=$out/run" "--storage-driver=vfs")
rm -rf "$out/storage" "$out/run"
cleanup() { buildah "${store[@]}" rmi --all --force > /dev/null 2>&1 || true; rm -rf "$out/storage" "$out/run"; }
trap cleanup EXIT
summary=()
for name in tsetcd tsetcd-operator; do
  ref="$registry/$name:$tag"
  buildah "${store[@]}" build --quiet --timestamp "$epoch" --identity-label=false --layers=false \
    --build-arg "VERSION=$version" --build-arg "REVISION=$revision" --build-arg "CREATED=$created" \
    -f hack/images/Containerfile --target "$name" -t "$ref" "$ctx" > /dev/null
  rm -f "$out/$name.docker.tar" "$out/$name.oci.tar"
  buildah "${store[@]}" push --quiet "$ref" "docker-archive:$out/$name.docker.tar:$ref"
  # oci-archive: would stamp the outer tar with the current time; an oci: layout tarred here does not.
  rm -rf "$work/oci-$name"
  buildah "${store[@]}" push --quiet "$ref" "oci:$work/oci-$name:$ref"
  mktar "$work/oci-$name" "$out/$name.oci.tar" 0 go-w,a+rX oci-layout index.json blobs
  id="$(buildah "${store[@]}" images --noheading --no-trunc --format '{{.ID}}' "$ref")"
  size="$(buildah "${store[@]}" images --noheading --format '{{.Size}}' "$ref")"
  summary+=("$ref  id ${id#sha256:}  size $size")
done
step "done"
printf '%s\n' "${summary[@]}"
ls -l "$out"/*.tar
