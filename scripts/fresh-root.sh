#!/usr/bin/env bash
# Runs a command as a newcomer's brand-new Debian 12 machine would: a minimal bookworm root
# (apt, git and certificates, nothing else) holding a clone of this checkout's committed HEAD
# at /src/supra, with ../shared copied beside it when present. CI runs the README's two
# commands this way (.ci/run), so a package missing from scripts/install-deps.sh fails CI
# instead of hiding behind whatever the CI machine installed earlier.
#
#   scripts/fresh-root.sh [--keep] -- COMMAND [ARGS...]
#   scripts/fresh-root.sh -- ./scripts/generate.sh -p "Once upon a time" -n 20
#
# Needs root (chroot, mounts) and installs mmdebstrap on the host the first time. The base
# root is made once with mmdebstrap from this machine's apt sources and kept as a tarball in
# ${SUPRA_FRESH_ROOT_CACHE:-/var/tmp/supra-fresh-root} (about 240 MB, a minute or two to make);
# every run unpacks its own copy, mounts /proc, /sys and /dev in a private mount namespace (gone
# with the command), and deletes the copy afterwards unless --keep.
set -euo pipefail
keep=0
while [ $# -gt 0 ]; do
  case $1 in
    --keep) keep=1; shift ;;
    --) shift; break ;;
    *) echo "usage: scripts/fresh-root.sh [--keep] -- COMMAND [ARGS...]" >&2; exit 2 ;;
  esac
done
[ $# -gt 0 ] || { echo "fresh-root: no command given" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "fresh-root: must run as root (chroot and mounts)" >&2; exit 2; }
project=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)

cache=${SUPRA_FRESH_ROOT_CACHE:-/var/tmp/supra-fresh-root}
base="$cache/bookworm.tar"
mkdir -p "$cache"
if [ ! -s "$base" ]; then
  if ! command -v mmdebstrap >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
  fi
  echo "fresh-root: making the Debian 12 base root (once; log in $cache/mmdebstrap.log)" >&2
  # This machine's apt sources (deb822 files, else one-line entries) and its Acquire settings
  # (proxies, snapshot validity), so the root reaches the same mirror.
  sources=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$sources" ] || sources=$(grep -h '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
  apt_options=()
  while IFS= read -r line; do apt_options+=(--aptopt="$line"); done < <(
    cat /etc/apt/apt.conf.d/* 2>/dev/null | grep -E '^[[:space:]]*Acquire::(http|https)?:*(Proxy|Check-Valid-Until|Check-Date)' || true)
  printf '%s\n' "$sources" | mmdebstrap --variant=apt --format=tar --include=ca-certificates,git \
    "${apt_options[@]}" bookworm "$cache/partial.tar" - >"$cache/mmdebstrap.log" 2>&1 ||
    { echo "fresh-root: mmdebstrap failed; see $cache/mmdebstrap.log" >&2; exit 2; }
  mv "$cache/partial.tar" "$base"
fi

root=$(mktemp -d /var/tmp/supra-fresh-root.XXXXXX)
remove_root() {
  # The mounts live in the command's private namespace; never delete through a leftover one.
  if findmnt -rn -o TARGET | grep -q "^$root"; then
    echo "fresh-root: mounts remain under $root; left in place" >&2
  elif [ $keep -eq 1 ]; then
    echo "fresh-root: root kept at $root" >&2
  else
    rm -rf --one-file-system "$root"
  fi
}
trap remove_root EXIT
tar -C "$root" -xf "$base"
# This machine's network, as its apt sources above: name resolution, and the certificate
# authorities it added locally (a proxy's, say) with the variable pointing Node.js at them.
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
cp -r /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
mkdir -p "$root/src"
git clone -q "$project" "$root/src/supra"
[ -d "$project/../shared" ] && cp -r "$project/../shared" "$root/src/shared"

echo "fresh-root: running in a new Debian 12 root: $*" >&2
start=$(date +%s)
status=0
unshare --mount --propagation private -- bash -c '
  set -e; root=$1; shift
  mount -t proc proc "$root/proc"
  mount --rbind /sys "$root/sys"
  mount --rbind /dev "$root/dev"
  chroot "$root" update-ca-certificates >/dev/null 2>&1 || true
  exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb CI="${CI:-}" \
    ${NODE_EXTRA_CA_CERTS:+NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt} \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    bash -c "cd /src/supra && exec \"\$@\"" fresh-root "$@"
' fresh-root "$root" "$@" || status=$?
echo "fresh-root: exit status $status after $(( $(date +%s) - start )) s" >&2
# What the run kept for CI (build/artifacts: the chat page's screenshot) outlives the root.
if [ -d "$root/src/supra/build/artifacts" ]; then
  artifacts=${SUPRA_CI_ARTIFACTS:-$project/build-ci-artifacts}
  mkdir -p "$artifacts" && cp -r "$root/src/supra/build/artifacts/." "$artifacts/" &&
    echo "fresh-root: artifacts copied to $artifacts" >&2
fi
exit $status
