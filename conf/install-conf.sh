#!/bin/sh
# install-conf.sh - meson install script: put the annotated example
# configuration in place as SYSCONFDIR/spoolgate/spoolgate.conf only when
# there is no file there yet, so an administrator's edits survive every
# reinstall. The example itself is always installed to the doc directory.
#   install-conf.sh EXAMPLE TARGET   (TARGET absolute; DESTDIR honoured)
set -eu
example=$1
target=${DESTDIR:-}$2
if [ -e "$target" ]; then
  [ -n "${MESON_INSTALL_QUIET:-}" ] || echo "Keeping existing $target"
  exit 0
fi
mkdir -p "$(dirname "$target")"
# 0644: nothing secret belongs in it (credentials go in password_file).
install -m 0644 "$example" "$target"
[ -n "${MESON_INSTALL_QUIET:-}" ] || echo "Installing $example to $target"
