#!/usr/bin/env bash
# The main job: installs what is missing, builds the release, and shows Relais at work on a
# demo store: records a place, help sessions and a collected laptop, lists them and exports
# the sessions as a CSV file that Excel opens by double-click.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"

cli=build/release/bin/relais-cli
demo=${RELAIS_DEMO_DIR:-build/demo}
db="$demo/relais.db"
mkdir -p "$demo"

if [ ! -f "$db" ]; then
  "$cli" --db "$db" init
  "$cli" --db "$db" place add --json scripts/demo/places.json >/dev/null
  "$cli" --db "$db" session add --json scripts/demo/sessions.json >/dev/null
  "$cli" --db "$db" equipment add --json scripts/demo/equipment.json >/dev/null
  echo "Demo store created: $db"
fi

echo
echo "== Accompagnements =="
"$cli" --db "$db" list --kind session
echo
echo "== Collecte de matériel =="
"$cli" --db "$db" list --kind equipment
echo
"$cli" --db "$db" export --format csv --out "$demo/accompagnements.csv"
echo
echo "Try it: $cli --db $db --help"
