#!/usr/bin/env bash
# The README's two commands on a machine that has never seen pybuild: make a clean
# Debian 12 root with debootstrap, clone this repository into it (committed state
# only), and run `bash scripts/quickstart.sh` then `bash .ci/run` inside it, as root,
# with /proc, /sys, /dev and the cgroup hierarchies mounted. Prints both exit codes and
# the test summary. Slow (a debootstrap and the whole suite), so not part of CI.
#
#   bash scripts/fresh-machine.sh [WORKDIR]     (as root; WORKDIR default /var/tmp/pybuild-fresh)
#
# The Debian mirror is $MIRROR, else the first one this host's apt sources name. The
# host lends only its network (resolv.conf, and the CA bundle pip is told to use).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/var/tmp/pybuild-fresh}
root="$work/root"
log="$work/log"

if [ "$(id -u)" != 0 ]; then
  echo "fresh-machine: run as root (debootstrap, chroot, mounts)" >&2
  exit 1
fi
command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -q debootstrap >/dev/null; }
if [ -z "${MIRROR:-}" ]; then
  MIRROR=$(grep -hoE '^(URIs:|deb) *(\[[^]]*\] *)?https?://[^ ]+' \
    /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
    | grep -v security | head -1 | grep -oE 'https?://[^ ]+' || true)
fi
[ -n "$MIRROR" ] || { echo "fresh-machine: no Debian mirror: set MIRROR" >&2; exit 1; }

mounted=()
cleanup() {
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
bind() {  # bind SRC DST [ro]
  mkdir -p "$2"
  mount --rbind "$1" "$2"
  mount --make-rslave "$2"
  mounted+=("$2")
}

# 1. A clean Debian 12 root (kept between runs: remove WORKDIR for a new one).
mkdir -p "$work" "$log"
if [ ! -x "$root/usr/bin/apt-get" ]; then
  rm -rf "$root"
  echo "fresh-machine: debootstrap bookworm from $MIRROR"
  debootstrap --variant=minbase --include=ca-certificates,git,python3,python3-venv \
    bookworm "$root" "$MIRROR" >"$log/debootstrap.log" 2>&1 \
    || { tail -20 "$log/debootstrap.log"; exit 1; }
  echo "deb $MIRROR bookworm main" >"$root/etc/apt/sources.list"
fi

# 2. The repository, cloned as a user clones it: what is committed, nothing beside it.
rm -rf "$root/src"
git clone -q "$repo" "$root/src/pybuild"
echo "fresh-machine: cloned $(git -C "$root/src/pybuild" log -1 --format='%h %s')"

# 3. The machine's kernel interfaces, as a booted Debian has them.
# Its / is a mount point (the sandbox's pivot_root needs one), then /proc, /sys, /dev.
mount --bind "$root" "$root"
mounted+=("$root")
bind /proc "$root/proc"
bind /sys "$root/sys"
bind /dev "$root/dev"
mkdir -p "$root/run" "$root/tmp"
mount -t tmpfs tmpfs "$root/run" && mounted+=("$root/run")
cp /etc/resolv.conf "$root/etc/resolv.conf"
# Packages are installed, not started: a chroot has no init, and a dockerd started by
# docker.io's postinst would change the host's network (docker0, iptables).
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
env_pass=()
for v in PIP_CERT REQUESTS_CA_BUNDLE SSL_CERT_FILE; do
  f=${!v:-}
  if [ -n "$f" ] && [ -f "$f" ]; then
    mkdir -p "$root/etc/fresh-machine"
    cp "$f" "$root/etc/fresh-machine/$v.pem"
    env_pass+=("$v=/etc/fresh-machine/$v.pem")
  fi
done

# 4. The README's two commands.
# Inside: a mount namespace of its own whose root is the new machine's (pivot_root, not a
# bare chroot: the kernel refuses user namespaces to a chrooted process, and the
# rootless tests need them), the host's tree detached.
inside() {
  unshare --mount --propagation private -- /bin/sh -c '
    set -e
    cd "$1"
    mkdir -p .old-root
    pivot_root . .old-root
    cd /
    umount -l /.old-root
    rmdir /.old-root
    shift
    exec /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
  ' sh "$root" "${env_pass[@]}" bash -c "cd /src/pybuild && $1"
}
set +e
inside "bash scripts/quickstart.sh" >"$log/quickstart.log" 2>&1
qs=$?
inside "CI=true bash .ci/run </dev/null" >"$log/ci.log" 2>&1
ci=$?
set -e

echo "fresh-machine: bash scripts/quickstart.sh exit $qs ($log/quickstart.log)"
tail -3 "$log/quickstart.log" | sed 's/^/  /'
echo "fresh-machine: bash .ci/run exit $ci ($log/ci.log)"
grep -E '^static-checks:|passed|failed|error' "$log/ci.log" | tail -8 | sed 's/^/  /'
[ "$qs" = 0 ] && [ "$ci" = 0 ]
