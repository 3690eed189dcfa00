#!/usr/bin/env bash
# Accuracy of `digits predict` on photographs of handwritten digits (scripts/photo_digits.py describes the
# set: uneven light, shadows, paper texture, dust, blur, JPEG 40-90, ruled lines, rotation, chalk on a board,
# the table beside the sheet, small and large digits, numbers such as 2024). A photo counts as read when the
# segmented reading is exactly the written digits. Prints the table per category and every misread photo;
# writes DIR/results-<model>.csv.
#   usage: scripts/eval_photos.sh [MODEL...]     (default: data/models/default.safetensors)
#   env:   DIGITS_BIN (default build/digits), PHOTO_DIR (default /tmp/photos), PHOTO_PER (photos per category
#          and digit, default 8: 13 x 10 x 8 = 1040), PHOTO_SEED (default 1), PHOTO_REGEN=1 to remake,
#          PHOTO_VENV (default ~/.cache/digits/photo-venv: made here with numpy and Pillow from PyPI)
# The set is generated on the first run (a few minutes on 2 cores) and reused afterwards.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${DIGITS_BIN:-$ROOT/build/digits}
DIR=${PHOTO_DIR:-/tmp/photos}
PER=${PHOTO_PER:-8}
SEED=${PHOTO_SEED:-1}
VENV=${PHOTO_VENV:-$HOME/.cache/digits/photo-venv}

[ -x "$BIN" ] || { echo "eval_photos: $BIN is not an executable: build the digits target or set DIGITS_BIN" >&2; exit 1; }
[ $# -gt 0 ] || set -- "$ROOT/data/models/default.safetensors"
if ! "$VENV/bin/python" -c "import numpy, PIL" 2>/dev/null; then
  echo "eval_photos: making $VENV (numpy, Pillow)" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q numpy pillow
fi
PY="$VENV/bin/python"

stamp="per=$PER seed=$SEED set=1"
if [ "${PHOTO_REGEN:-0}" = 1 ] || [ ! -f "$DIR/labels.csv" ] || [ "$(cat "$DIR/.params" 2>/dev/null)" != "$stamp" ]; then
  rm -f "$DIR"/*.jpg "$DIR"/labels.csv "$DIR"/results-*.csv
  echo "eval_photos: generating the set in $DIR ($stamp)" >&2
  "$PY" "$ROOT/scripts/photo_digits.py" generate --out "$DIR" --per "$PER" --seed "$SEED"
  echo "$stamp" >"$DIR/.params"
fi

args=()
for m in "$@"; do args+=(--model "$m"); done
exec "$PY" "$ROOT/scripts/photo_digits.py" eval --bin "$BIN" --dir "$DIR" "${args[@]}"
