#!/usr/bin/env bash
# Accuracy of `digits predict` on digits drawn the way people draw (scripts/drawn_digits.py describes the set:
# thin and thick strokes, slanted, tilted, hurried, small, huge, off-centre, inverted, 64x64, shaky, all mixed,
# and fonts),
# through the same preprocessing as the window: once with --single (the classifier) and once segmented
# (whether the image reads as exactly that one digit). Prints the tables per category, digit and writing
# style, the top confusions, and every misread file; writes DIR/results-<model>.csv.
#   usage: scripts/eval_drawn.sh [MODEL...]     (default: every data/models/*.safetensors)
#   env:   DIGITS_BIN (default build/digits), DRAWN_DIR (default /tmp/drawn), DRAWN_PER (images per category
#          and digit, default 9: 14 x 10 x 9 = 1260 images), DRAWN_SEED (default 1), DRAWN_REGEN=1 to remake
# The set is generated on the first run (about 2 minutes of one core) and reused afterwards.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${DIGITS_BIN:-$ROOT/build/digits}
DIR=${DRAWN_DIR:-/tmp/drawn}
PER=${DRAWN_PER:-9}
SEED=${DRAWN_SEED:-1}
PY=${PYTHON:-python3}

[ -x "$BIN" ] || { echo "eval_drawn: $BIN is not an executable: build the digits target or set DIGITS_BIN" >&2; exit 1; }
if [ $# -eq 0 ]; then
  set -- "$ROOT"/data/models/*.safetensors
  [ -f "$1" ] || { echo "eval_drawn: no model in data/models: pass a model file" >&2; exit 1; }
fi

stamp="per=$PER seed=$SEED set=2"  # set 2: the tilted and hurried categories
if [ "${DRAWN_REGEN:-0}" = 1 ] || [ ! -f "$DIR/labels.csv" ] || [ "$(cat "$DIR/.params" 2>/dev/null)" != "$stamp" ]; then
  rm -f "$DIR"/*.png "$DIR"/labels.csv "$DIR"/results-*.csv
  echo "eval_drawn: generating the set in $DIR ($stamp)" >&2
  "$PY" "$ROOT/scripts/drawn_digits.py" generate --out "$DIR" --per "$PER" --seed "$SEED"
  echo "$stamp" >"$DIR/.params"
fi

args=()
for m in "$@"; do args+=(--model "$m"); done
exec "$PY" "$ROOT/scripts/drawn_digits.py" eval --bin "$BIN" --dir "$DIR" --errors "${args[@]}"
