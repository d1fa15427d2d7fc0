#!/usr/bin/env bash
# Installs calibd: binaries, man pages, shell completions, configuration,
# instrument profiles, static files, line lists, JSON schemas and the systemd unit.
#
#   scripts/install.sh [--bin-dir DIR]        PREFIX=/usr/local DESTDIR= (both as usual)
#
# Without --bin-dir it builds the release binaries first; with it, it installs
# the binaries already in DIR (the tests install a debug build this way).
# An existing configuration (calibd.yaml, instruments/) is never overwritten:
# the shipped one is always in $PREFIX/share/calibd/config to compare with.
#
# Layout (PREFIX=/usr/local):
#   $PREFIX/bin/{calibd,calibctl,calib-bench}
#   $PREFIX/share/man/man1/calibd.1, calibctl.1, calibctl-<verb>.1, calibctl-<verb>-<sub>.1
#   $PREFIX/share/bash-completion/completions/{calibd,calibctl}
#   $PREFIX/share/zsh/site-functions/{_calibd,_calibctl}
#   $PREFIX/share/fish/vendor_completions.d/{calibd,calibctl}.fish
#   $PREFIX/share/calibd/config/   the shipped configuration tree (profiles, static/, linelists/, simulator/)
#   $PREFIX/share/calibd/schema/   JSON Schemas of calibctl's --json answers
#   $SYSCONFDIR/calibd/            calibd.yaml, instruments/ (yours to edit), links to static/, linelists/, simulator/
#   $UNITDIR/calibd.service
# SYSCONFDIR is /etc and UNITDIR /etc/systemd/system for PREFIX /usr or /usr/local,
# otherwise $PREFIX/etc and $PREFIX/lib/systemd/system.
set -euo pipefail
cd "$(dirname "$0")/.."
bindir_from=""
while (($#)); do
  case "$1" in
    --bin-dir) bindir_from=$2; shift 2 ;;
    -h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: scripts/install.sh [--bin-dir DIR]   (PREFIX=… DESTDIR=…)" >&2; exit 64 ;;
  esac
done
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
case "$PREFIX" in
  /usr|/usr/local) SYSCONFDIR=${SYSCONFDIR:-/etc}; UNITDIR=${UNITDIR:-/etc/systemd/system} ;;
  *) SYSCONFDIR=${SYSCONFDIR:-$PREFIX/etc}; UNITDIR=${UNITDIR:-$PREFIX/lib/systemd/system} ;;
esac

if [[ -z "$bindir_from" ]]; then
  echo "building (release)…"
  swift build -c release --product calibd
  swift build -c release --product calibctl
  swift build -c release --product calib-bench
  bindir_from=$(swift build -c release --show-bin-path)
fi
for tool in calibd calibctl calib-bench; do
  [[ -x "$bindir_from/$tool" ]] || { echo "install.sh: no $tool in $bindir_from (build it first)" >&2; exit 66; }
done

root="$DESTDIR$PREFIX"
share="$root/share/calibd"
etc="$DESTDIR$SYSCONFDIR/calibd"
install -d "$root/bin" "$root/share/man/man1" "$share/config" "$share/schema" "$etc" "$DESTDIR$UNITDIR" \
  "$root/share/bash-completion/completions" "$root/share/zsh/site-functions" "$root/share/fish/vendor_completions.d"

for tool in calibd calibctl calib-bench; do install -m 0755 "$bindir_from/$tool" "$root/bin/$tool"; done

# Man pages and completions come from the binaries' own argument definitions.
for tool in calibctl calibd; do
  "$root/bin/$tool" --experimental-dump-help | "$root/bin/calibctl" generate-manpages "$root/share/man/man1" --dump - > /dev/null
done
for tool in calibd calibctl; do
  "$root/bin/$tool" --generate-completion-script bash > "$root/share/bash-completion/completions/$tool"
  "$root/bin/$tool" --generate-completion-script zsh > "$root/share/zsh/site-functions/_$tool"
  "$root/bin/$tool" --generate-completion-script fish > "$root/share/fish/vendor_completions.d/$tool.fish"
done

# The shipped tree, always refreshed; the editable copy only where none exists.
cp -R config/. "$share/config/"
install -m 0644 docs/schema/*.schema.json "$share/schema/"
if [[ ! -e "$etc/calibd.yaml" ]]; then
  # The workspace of an installed daemon is its systemd StateDirectory, not a path beside /etc.
  sed 's|^workspace: .*|workspace: /var/lib/calibd|' config/calibd.yaml > "$etc/calibd.yaml"
  chmod 0644 "$etc/calibd.yaml"
else
  echo "kept $SYSCONFDIR/calibd/calibd.yaml (the shipped one is in $PREFIX/share/calibd/config/)"
fi
[[ -e "$etc/instruments" ]] || cp -R config/instruments "$etc/instruments"
# Static maps, line lists and the simulator model are data, not settings: linked, so upgrades reach them.
for data in static linelists simulator; do
  [[ -e "$etc/$data" || -L "$etc/$data" ]] || ln -s "$PREFIX/share/calibd/config/$data" "$etc/$data"
done
if [[ ! -e "$DESTDIR$UNITDIR/calibd.service" ]]; then
  sed -e "s|/usr/local/bin/calibd|$PREFIX/bin/calibd|" -e "s|/etc/calibd/calibd.yaml|$SYSCONFDIR/calibd/calibd.yaml|" \
    config/calibd.service > "$DESTDIR$UNITDIR/calibd.service"
else
  echo "kept $UNITDIR/calibd.service"
fi
echo "installed calibd $("$root/bin/calibctl" --version) into ${DESTDIR:-/}${DESTDIR:+ }(PREFIX=$PREFIX, configuration in $SYSCONFDIR/calibd)"
