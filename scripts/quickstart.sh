#!/usr/bin/env bash
# Quickstart, step 1 of 2 (README): on a fresh Debian machine, as root, install the
# system packages and pybuild, make the busybox base image offline from Debian's
# busybox-static, and build the example in testdata/examples/hello/.
#
# pybuild goes into the active virtual environment ($VIRTUAL_ENV), or else into
# ./.venv, linked as /usr/local/bin/pybuild. Nothing is fetched but Debian and PyPI
# packages. PYBUILD_ROOT, if set, chooses the store (default /var/lib/pybuild).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "quickstart: run as root (pybuild builds with overlayfs and namespaces)" >&2
  exit 1
fi

# 1. System packages: what .ci/apt-packages.txt lists (the tests' needs included),
#    plus Python's venv support. Only the missing ones are installed.
export DEBIAN_FRONTEND=noninteractive
pkgs="python3 python3-venv $(grep -v '^\s*#' .ci/apt-packages.txt | tr '\n' ' ')"
missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  echo "quickstart: installing$missing"
  apt-get update -qq
  apt-get install -y -q --no-install-recommends $missing >/tmp/pybuild-apt.log 2>&1 \
    || { tail -30 /tmp/pybuild-apt.log; exit 1; }
fi

# 2. pybuild itself (with the test extras, so step 2 of the Quickstart can run).
if [ -z "${VIRTUAL_ENV:-}" ]; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  VIRTUAL_ENV="$PWD/.venv"
  ln -sf "$VIRTUAL_ENV/bin/pybuild" /usr/local/bin/pybuild
fi
"$VIRTUAL_ENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[test]' 2>&1 \
  | { grep -v '^WARNING: Location' || true; }
pybuild="$VIRTUAL_ENV/bin/pybuild"

# 3. The base image, offline: busybox-static plus its applet links and an /etc/passwd,
#    as a rootfs tar that `pybuild import` turns into busybox:latest.
rootfs=$(mktemp -d /tmp/pybuild-busybox.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
mkdir -p "$rootfs"/root/{bin,etc,tmp,root,proc,sys,dev,usr/bin,usr/sbin,sbin,var/tmp,home}
chmod 1777 "$rootfs"/root/tmp "$rootfs"/root/var/tmp
chmod 700 "$rootfs"/root/root
cp /bin/busybox "$rootfs"/root/bin/busybox
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$rootfs/root/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
  > "$rootfs"/root/etc/passwd
printf 'root:x:0:\nnogroup:x:65534:\n' > "$rootfs"/root/etc/group
tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=@1700000000 \
  -C "$rootfs"/root -cf "$rootfs"/busybox.tar .
"$pybuild" import -m "busybox-static from Debian" \
  -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'CMD ["sh"]' "$rootfs"/busybox.tar busybox:latest >/dev/null

# 4. The example image.
"$pybuild" build -t hello:latest testdata/examples/hello
echo
echo "quickstart: built hello:latest. Try: pybuild run hello:latest"
