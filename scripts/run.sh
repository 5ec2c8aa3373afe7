#!/usr/bin/env bash
# The main job: installs what is missing, builds the release, and opens the Relais desktop app
# on a ready demo: a local relais-server (its own store, on a loopback port) with a demo
# structure, an administrator whose device publishes the places, and an advisor's device (the
# app's store) enrolled to it, which pulls them, holds a few help sessions and a collected
# laptop, and syncs in the background while the app is open. Without a display, the app's
# screens are written to PNG files instead (under Xvfb).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"

cli=build/release/bin/relais-cli
server=build/release/bin/relais-server
demo=${RELAIS_DEMO_DIR:-build/demo}
db="$demo/relais.db"
admin_db="$demo/admin.db"
server_db="$demo/server.db"
mkdir -p "$demo"

# The server, on any free loopback port, stopped when this script ends.
first_run=false
if [ ! -f "$server_db" ]; then
  first_run=true
  structure=$("$server" --db "$server_db" admin add-structure --name "Médiathèque Jean-Macé")
  "$server" --db "$server_db" admin add-user --structure "$structure" --role mediateur \
    --name Benali --first-name Samia > "$demo/advisor.id"
  "$server" --db "$server_db" admin add-user --structure "$structure" --role admin \
    --name Martin --first-name Louis > "$demo/admin.id"
fi
"$server" --db "$server_db" --listen 127.0.0.1:0 2> "$demo/server.log" &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  grep -q "listening on" "$demo/server.log" && break
  sleep 0.1
done
url="http://127.0.0.1:$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$demo/server.log")"
echo "relais-server: $url (store $server_db)"

if $first_run; then
  rm -f "$db" "$admin_db"
  # The administrator publishes the places of activity.
  "$cli" --db "$admin_db" enroll --server "$url" \
    --code "$("$server" --db "$server_db" admin enroll-code --user "$(cat "$demo/admin.id")")"
  "$cli" --db "$admin_db" place add --json scripts/demo/places.json >/dev/null
  "$cli" --db "$admin_db" sync --server "$url"
  # The advisor's device gets them, then records its work.
  "$cli" --db "$db" enroll --server "$url" \
    --code "$("$server" --db "$server_db" admin enroll-code --user "$(cat "$demo/advisor.id")")"
  "$cli" --db "$db" sync --server "$url"
  "$cli" --db "$db" session add --json scripts/demo/sessions.json >/dev/null
  "$cli" --db "$db" equipment add --json scripts/demo/equipment.json >/dev/null
  # What the app's first-run screen would ask: the advisor's usual place (the first demo place).
  place=$("$cli" --db "$db" list --kind place --format json | sed -n 's/.*"id": "\([0-9a-f-]*\)".*/\1/p' | head -n 1)
  sqlite3 "$db" "INSERT OR REPLACE INTO meta (key, value) VALUES ('app_lieu_id', '$place'), ('app_setup_done', 'server')"
  echo "Demo stores created in $demo"
fi

echo
echo "== Accompagnements =="
"$cli" --db "$db" list --kind session
echo
echo "== Collecte de matériel =="
"$cli" --db "$db" list --kind equipment
echo
"$cli" --db "$db" export --format csv --out "$demo/accompagnements.csv"
"$cli" --db "$db" export --format xlsx --what impact --out "$demo/impact.xlsx"
echo
echo "== Statistiques =="
"$cli" --db "$db" stats | sed -n "1,9p"  # sed reads it all (no SIGPIPE under pipefail)
echo
echo "== Synchronisation =="
"$cli" --db "$db" sync --server "$url"
"$cli" --db "$db" status
echo
echo "Try the CLI too: $cli --db $db --help"

# The desktop app on the demo store, syncing with the local server while it is open.
app=build/release/bin/relais
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -z "${CI:-}" ]; then
  echo "Opening the app: $app --db $db (close its window to stop the demo server)"
  "$app" --db "$db"
else
  echo "No display: writing the app's screens to $demo/*.png (under Xvfb)"
  for view in session workshop equipment history sync settings statistics exports; do
    xvfb-run -a -s "-screen 0 1366x768x24" "$app" --db "$db" --screenshot "$demo/$view.png" --view "$view" --size 1366x768
  done
  ls "$demo"/*.png
fi
