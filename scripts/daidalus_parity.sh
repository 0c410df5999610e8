#!/usr/bin/env bash
# Run NASA DAIDALUS (v2.0.4, Java) on our .daa encounters and keep its alert series as test data.
#
#   scripts/daidalus_parity.sh /tmp/daidalus [tests/data/daa]
#
# /tmp/daidalus is a checkout of github.com/nasa/daidalus at tag v2.0.4, outside this repository,
# built with `make -C /tmp/daidalus/Java lib examples` (javac). Nothing of DAIDALUS is copied
# here: only its answers on our encounters, as <name>.daidalus.csv with the columns
# time,ownship,traffic,level,t_in_1,t_in_2,t_in_3 (seconds; t_in_k is DAIDALUS's "time to
# volume of alert k", empty when none).
set -euo pipefail
daidalus=${1:?path to a DAIDALUS v2.0.4 checkout}
data=${2:-tests/data/daa}
conf="$daidalus/Configurations/DO_365B_no_SUM.conf"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for f in "$data"/*.daa; do
  name=$(basename "$f" .daa)
  (cd "$daidalus/Java" && ./DaidalusAlerting --conf "$conf" --out "$tmp" "$(realpath "$OLDPWD/$f")") >/dev/null 2>&1
  {
    echo "time,ownship,traffic,level,t_in_1,t_in_2,t_in_3"
    tail -n +3 "$tmp" | awk -F', *' 'BEGIN{OFS=","} {print $1,$2,$3,$5,$6,$7,$8}'
  } > "$data/$name.daidalus.csv"
  echo "$data/$name.daidalus.csv"
done
