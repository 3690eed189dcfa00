#!/usr/bin/env bash
# Makes docs/screenshot.png: starts digits-gui under Xvfb, draws a multi-digit number with synthetic mouse
# strokes (or opens an image file instead), waits for the answer, and captures the window (import -window
# root, cropped to the frame). DIGITS_SCREENSHOT=FILE writes elsewhere.
#   usage: scripts/screenshot.sh [DIGITS_GUI [MODEL_FILE [NUMBER | IMAGE_FILE]]]
#   defaults: build/digits-gui, data/models/default.safetensors, 2024
# Needs xvfb-run, xdotool and ImageMagick's import (apt-get install xvfb xauth xdotool imagemagick).
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
GUI=${1:-$ROOT/build/digits-gui}
MODEL=${2:-$ROOT/data/models/default.safetensors}
NUMBER=${3:-2024}
OUT=${DIGITS_SCREENSHOT:-$ROOT/docs/screenshot.png}
XDRAW_WHO=screenshot
# shellcheck source=../tests/gui/xdraw.sh
. "$ROOT/tests/gui/xdraw.sh"

[ -x "$GUI" ] || xdraw_fail "$GUI is not an executable: build the digits-gui target (or pass its path)"
[ -f "$MODEL" ] || xdraw_fail "model file '$MODEL' not found: train one with digits train --out $MODEL (or pass its path)"
IMAGE=
case "$NUMBER" in
  *[!0-9]* | "")
    [ -f "$NUMBER" ] || xdraw_fail "the third argument must be digits or an image file, got '$NUMBER'"
    IMAGE=$(realpath "$NUMBER") ;;
esac
command -v import >/dev/null || xdraw_fail "import not found (apt-get install imagemagick)"
[ -n "${DIGITS_SCREENSHOT_UNDER_XVFB:-}" ] ||
  run_under_xvfb DIGITS_SCREENSHOT_UNDER_XVFB 120 "$0" "$GUI" "$MODEL" "$NUMBER"

work=$(mktemp -d "${TMPDIR:-/tmp}/digits-screenshot.XXXXXX")
trap 'gui_stop; rm -rf "$work"' EXIT

# draw_number: lays the digits out in a row across the canvas, on a slightly wavy baseline like handwriting.
draw_number() {
  local n S pitch x i
  n=${#NUMBER}
  S=$((CH * 45 / 100))
  pitch=$((S * 78 / 100))
  if [ $((pitch * n)) -gt $((CW * 90 / 100)) ]; then
    pitch=$((CW * 90 / 100 / n))
    S=$((pitch * 100 / 78))
  fi
  x=$(((CW - pitch * n + S * 18 / 100) / 2))
  for ((i = 0; i < n; i++)); do
    glyph "${NUMBER:i:1}" $((x + i * pitch)) $(((CH - S) / 2 + (i % 2) * S / 20)) $S
  done
}

if [ -n "$IMAGE" ]; then
  gui_start "$work" "$GUI" --model "$MODEL" "$IMAGE"
  since=0
else
  gui_start "$work" "$GUI" --model "$MODEL"
  since=$(log_lines)
  draw_number
fi
line=$(settled_line "$since") || exit 1
echo "${IMAGE:-drew $NUMBER}: the window read '$(digits_of "$line")'"

capture_window "$OUT"
