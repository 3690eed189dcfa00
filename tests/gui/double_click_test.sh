#!/usr/bin/env bash
# GUI test (ctest label `gui`): quick strokes. A "4" written fast in two strokes, the second pressed within
# GTK's double-click time (400 ms) and distance (5 px) of the first press, which GTK reports as a double click
# instead of a press. The window must draw both strokes ("strokes":2 in its log) and read 4. Drawn under Xvfb
# with xdotool in one burst; a burst that took too long to make a double click is retried, then fails.
#   usage: tests/gui/double_click_test.sh DIGITS_GUI MODEL_FILE
set -u

GUI=${1:-}
MODEL=${2:-}
XDRAW_WHO="gui double-click test"
# shellcheck source=xdraw.sh
. "$(dirname "$0")/xdraw.sh"
check_gui_args "$GUI" "$MODEL"

[ -n "${DIGITS_DCLICK_UNDER_XVFB:-}" ] || run_under_xvfb DIGITS_DCLICK_UNDER_XVFB 120 "$0" "$@"

# ---- inside Xvfb ----
work=$(mktemp -d "${TMPDIR:-/tmp}/digits-gui-dclick.XXXXXX")
trap 'gui_stop; rm -rf "$work"' EXIT
gui_start "$work" "$GUI" --model "$MODEL" --device cpu
echo "canvas at $CX,$CY size ${CW}x${CH}"

S=$((CH * 6 / 10))
BX=$(((CW - S * 6 / 10) / 2)); BY=$(((CH - S) / 2))
nudge=$((200 / S + 1))  # 0..100 box units: 2 pixels (or a little more), well inside the 5-pixel distance

# Stroke 1: from the apex down to the left and along the bar; stroke 2: from (almost) the same apex straight
# down. Big steps and no pauses: the second press comes well within 400 ms of the first.
quick_four() {
  XDRAW_CMD=()
  XDRAW_STEP=24 XDRAW_PAUSE=0 stroke_cmd "$BX" "$BY" "$S" 40 0 0 64 62 64
  XDRAW_STEP=24 XDRAW_PAUSE=0 stroke_cmd "$BX" "$BY" "$S" $((40 + nudge)) 0 $((40 + nudge)) 100
  local t0 t1
  t0=$(now_ms)
  xdotool "${XDRAW_CMD[@]}" || xdraw_fail "xdotool could not draw"
  t1=$(now_ms)
  BURST_MS=$((t1 - t0))
}

for attempt in 1 2 3; do
  since=$(log_lines)
  quick_four
  echo "attempt $attempt: both strokes within $BURST_MS ms (from before the first press to after the last release)"
  [ "$BURST_MS" -lt 300 ] && break
  since=$(log_lines)
  xdotool windowfocus --sync "$GUI_WID" key Escape || xdraw_fail "xdotool could not press Esc"
  settled_line "$since" >/dev/null || exit 1
  [ $attempt -lt 3 ] || xdraw_fail "the machine is too busy: 3 bursts took >= 300 ms, no double click was made"
done

expect_read "a quick two-stroke 4" 4 "$since"
case "$READ_LINE" in
  *'"source":"drawing","strokes":2,'*) echo "both strokes drawn" ;;
  *) xdraw_show_logs; xdraw_fail "expected 2 strokes on the canvas, the log says: $(echo "$READ_LINE" | cut -c1-60)" ;;
esac
quit_gui
echo "$XDRAW_WHO: PASS"
