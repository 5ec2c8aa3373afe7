#!/usr/bin/env bash
# Checks the packages made by scripts/package.sh as an IT helper would use them (docs/install.md):
# installs the three .deb files with dpkg, runs the installed binaries from a clean environment,
# starts relais-server as its unit does against a fresh store and enrolls a device to it,
# renders an app screen under Xvfb, does the same from the .tar.gz unpacked (and moved) in a
# temporary folder, then removes and purges the packages and checks that nothing is left
# running and that the server's data was kept.
#
# Root only, and it installs and removes system packages: meant for CI and throw-away machines.
# It refuses to run where Relais packages are already installed (RELAIS_CHECK_FORCE=1 to
# replace them anyway). Usage: bash scripts/check-packages.sh [PACKAGES_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
source_dir=$(pwd)
packages=$(realpath "${1:-build/package/packages}")

step() { echo "check-packages: $*"; }
fail() { echo "check-packages: FAILED: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "run as root (it installs and removes packages)"
debs=("$packages"/relais_*.deb "$packages"/relais-common_*.deb "$packages"/relais-server_*.deb)
archive=$(ls "$packages"/relais-*-linux-*.tar.gz)
for file in "${debs[@]}" "$archive"; do [ -f "$file" ] || fail "$file is missing (bash scripts/package.sh)"; done
for package in relais relais-common relais-server; do
  if dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" && [ "${RELAIS_CHECK_FORCE:-}" != 1 ]; then
    fail "$package is already installed here; RELAIS_CHECK_FORCE=1 to replace it"
  fi
done

work=$(mktemp -d /tmp/relais-check.XXXXXX)
chmod 755 "$work"
server_pid=""
store=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
  if [ -n "$store" ]; then rm -rf "$store"; fi
}
trap cleanup EXIT

# Every Relais binary runs in a clean environment (no RELAIS_ASSETS_DIR), from a folder outside
# the clone, and, when the machine allows a private mount namespace, with the clone hidden under
# an empty tmpfs: what it reads must come from where it is installed.
mkdir -p "$work/home"
hide=()
if unshare -m true 2>/dev/null; then
  printf '#!/bin/sh\nmount -t tmpfs none "%s" && exec "$@"\n' "$source_dir" > "$work/hide-clone"
  chmod 755 "$work/hide-clone"
  hide=(unshare -m "$work/hide-clone")
fi
run_clean() { (cd "$work" && env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$work/home" LANG=C.UTF-8 "${hide[@]}" "$@"); }

# A screenshot of the app's session form, PNG, checked to be a real frame (an empty or failed
# render is a few kilobytes at most).
screenshot() {
  local app=$1 out=$2
  run_clean xvfb-run -a -s "-screen 0 1366x768x24" "$app" --db "$work/$(basename "$out" .png).db" \
    --screenshot "$out" --view session --size 1366x768 2> "$out.log" || { cat "$out.log" >&2; fail "$app --screenshot"; }
  if grep -q "fonts missing" "$out.log"; then cat "$out.log" >&2; fail "$app: fonts missing"; fi
  [ -f "$out" ] || fail "$app wrote no $out"
  local size
  size=$(stat -c %s "$out")
  [ "$size" -gt 20000 ] || fail "$out is only $size bytes"
  file "$out" | grep -q "PNG image data, 1366 x 768" || fail "$out: $(file -b "$out")"
  step "screenshot $out: $size bytes"
}

# A store the CLI makes and fills: the assets (vocabulary, translations) must be found.
use_cli() {
  local cli=$1 db=$2
  run_clean "$cli" --db "$db" init >/dev/null
  echo '{"type": "individuel", "date": "2026-11-20", "duree": 30, "type_lieu": "a_distance", "thematiques": ["email"]}' \
    | run_clean "$cli" --db "$db" session add >/dev/null
  run_clean "$cli" --db "$db" list --lang en | grep -q "2026-11-20" || fail "$cli list does not show the session"
}

# [SECTION] Install ------------------------------------------------------------------------------
step "installing ${debs[*]##*/}"
if ! dpkg -i "${debs[@]}"; then
  step "dpkg left dependencies missing: apt-get install -f"
  DEBIAN_FRONTEND=noninteractive apt-get install -f -y -q --no-install-recommends
fi
for package in relais relais-common relais-server; do
  dpkg-query -W -f='${Status}' "$package" | grep -q "install ok installed" || fail "$package is not installed"
done
[ -f /etc/relais/relais-server.conf ] || fail "no /etc/relais/relais-server.conf"
dpkg-query -W -f='${Conffiles}\n' relais-server | grep -q "^ /etc/relais/relais-server.conf " \
  || fail "/etc/relais/relais-server.conf is not a conffile"
getent passwd relais >/dev/null || fail "no relais user"
[ "$(stat -c %U /var/lib/relais)" = relais ] || fail "/var/lib/relais does not belong to relais"

# [SECTION] The installed files --------------------------------------------------------------------
run_clean relais-cli --version
run_clean relais --version
run_clean relais-server --help >/dev/null
for binary in /usr/bin/relais /usr/bin/relais-cli /usr/bin/relais-server; do
  if grep -q -a -F "$source_dir" "$binary"; then fail "$binary holds the path of the clone $source_dir"; fi
  if readelf -d "$binary" | grep -q -E "RPATH|RUNPATH"; then fail "$binary has an RPATH/RUNPATH"; fi
done
use_cli relais-cli "$work/cli.db"
step "relais-cli works from the install prefix${hide:+, with the clone hidden}"
if command -v appstreamcli >/dev/null; then
  appstreamcli validate --no-net /usr/share/metainfo/io.github.relais.Relais.metainfo.xml
fi
if command -v desktop-file-validate >/dev/null; then
  desktop-file-validate /usr/share/applications/io.github.relais.Relais.desktop
fi
[ -f /usr/share/icons/hicolor/scalable/apps/io.github.relais.Relais.svg ] || fail "no scalable icon"
screenshot relais "$work/installed.png"

# Optional: a store made by an older relais-cli (RELAIS_OLD_CLI, e.g. built from an older commit
# as docs/install.md, "Upgrades", shows) is migrated by the installed one, with a copy first.
if [ -n "${RELAIS_OLD_CLI:-}" ]; then
  old_db="$work/old.db"
  "$RELAIS_OLD_CLI" --db "$old_db" init >/dev/null
  echo '{"type": "individuel", "date": "2026-10-02", "duree": 45, "type_lieu": "a_distance", "thematiques": ["email"]}' \
    | "$RELAIS_OLD_CLI" --db "$old_db" session add >/dev/null
  run_clean relais-cli --db "$old_db" list --lang en | grep -q "2026-10-02" || fail "the migrated store lost its session"
  backup=$(ls "$old_db".before-v*.bak 2>/dev/null) || fail "no .before-vN.bak copy after opening an older store"
  step "a store from $("$RELAIS_OLD_CLI" --version) was migrated, copy kept in ${backup##*/}"
fi

# [SECTION] The server, as its unit runs it ------------------------------------------------------------
unit=/usr/lib/systemd/system/relais-server.service
[ -f "$unit" ] || fail "no $unit"
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify "$unit"
  step "systemd-analyze verify $unit: ok"
fi
store=/var/lib/relais/check-$$
install -d -o relais -g relais -m 0750 "$store"
if [ -d /run/systemd/system ]; then
  # A real systemd: the service the package started, on the configured address.
  systemctl is-active --quiet relais-server || { journalctl -u relais-server --no-pager | tail -20; fail "relais-server.service is not active"; }
  listen=$(. /etc/relais/relais-server.conf && echo "$RELAIS_LISTEN")
  url="http://$listen"
  db=$(. /etc/relais/relais-server.conf && echo "$RELAIS_DB")
  step "relais-server.service is active on $url"
else
  # No systemd (a container): the unit's command line, as the relais user, with the unit's
  # variables taken from the configuration file, on any free loopback port and a fresh store.
  exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
  db="$store/server.db"
  # setpriv execs (runuser would fork): $server_pid is the server itself.
  setpriv --reuid relais --regid relais --init-groups \
    env -i RELAIS_LISTEN=127.0.0.1:0 RELAIS_DB="$db" /bin/sh -c "exec $exec_start" 2> "$work/server.log" &
  server_pid=$!
  for _ in $(seq 1 100); do
    grep -q "listening on" "$work/server.log" && break
    sleep 0.1
  done
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/server.log")
  [ -n "$port" ] || { cat "$work/server.log" >&2; fail "relais-server did not start"; }
  url="http://127.0.0.1:$port"
  step "no systemd here: started ExecStart ($exec_start) as relais on $url"
fi
curl -fsS --max-time 10 "$url/healthz" > "$work/healthz" || fail "GET $url/healthz"
step "GET /healthz: $(cat "$work/healthz")"

# The admin commands as the relais user, and a device enrolled with the installed CLI.
admin() { runuser -u relais -- relais-server --db "$db" admin "$@"; }
structure=$(admin add-structure --name "Check")
user=$(admin add-user --structure "$structure" --role mediateur --name Check)
code=$(admin enroll-code --user "$user")
run_clean relais-cli --db "$work/cli.db" enroll --server "$url" --code "$code"
run_clean relais-cli --db "$work/cli.db" sync --server "$url"
run_clean relais-cli --db "$work/cli.db" status
step "a device enrolled and synced with the installed server"

# [SECTION] The relocatable archive -----------------------------------------------------------------
mkdir "$work/unpacked"
tar -xzf "$archive" -C "$work/unpacked"
top=$(ls "$work/unpacked")
for binary in "$work/unpacked/$top"/bin/*; do
  if readelf -d "$binary" | grep -q -E "RPATH|RUNPATH"; then fail "$binary has an RPATH/RUNPATH"; fi
done
mv "$work/unpacked/$top" "$work/moved"  # wherever it is unpacked, then moved
run_clean "$work/moved/bin/relais-cli" --version
use_cli "$work/moved/bin/relais-cli" "$work/archive.db"
[ ! -L "$work/moved/share/relais/assets/fonts/DejaVuSans.ttf" ] || fail "the archive's fonts are links"
screenshot "$work/moved/bin/relais" "$work/archive.png"
step "the archive runs from $work/moved"

# [SECTION] Remove and purge -------------------------------------------------------------------------
if [ -n "$server_pid" ]; then
  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
fi
dpkg -r relais relais-server relais-common
[ -f "$db" ] || fail "removing relais-server deleted its store $db"
# Nothing left running: no live process of the relais user, none running an installed binary
# or one from the archive.
# (From /proc: containers often have no ps.)
leftovers() {
  local relais_uid dir state uid target
  relais_uid=$(id -u relais)
  for dir in /proc/[0-9]*; do
    state=$(awk '/^State:/ {print $2}' "$dir/status" 2>/dev/null) || continue
    [ -n "$state" ] && [ "$state" != Z ] || continue
    uid=$(awk '/^Uid:/ {print $2}' "$dir/status" 2>/dev/null) || continue
    target=$(readlink "$dir/exe" 2>/dev/null) || target=""
    if [ "$uid" = "$relais_uid" ]; then echo "${dir#/proc/} (user relais): $target"; continue; fi
    case "$target" in /usr/bin/relais*|"$work"/*) echo "${dir#/proc/}: $target" ;; esac
  done
}
if [ -n "$(leftovers)" ]; then
  leftovers >&2
  fail "a Relais process is still running after removal"
fi
step "removed: nothing running, $db kept"
dpkg -P relais-server  # the other two have no configuration files: removed is purged
[ ! -e /etc/relais ] || fail "/etc/relais is still there after purge"
[ -f "$db" ] || fail "purging relais-server deleted its store $db"
for package in relais relais-common relais-server; do
  if dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "installed"; then fail "$package is still installed"; fi
done
step "purged: /etc/relais gone, /var/lib/relais kept (the server's data)"
rm -rf "$store"
rmdir /var/lib/relais 2>/dev/null || true
step "all checks passed"
