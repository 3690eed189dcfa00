#!/usr/bin/env bash
# GUI test (ctest label `gui`): quick strokes. A "4" written fast, its second stroke pressed within GTK's
# double-click time (400 ms) and distance (5 px) of the first press, which GTK reports as a double click
# instead of a press. The window must draw every stroke ("strokes":3 in its log) and read 4; four quick strokes
# from one point must all be drawn. Drawn under Xvfb with xdotool in one burst; a burst that took too long to
# make a double click is retried, then fails.
#   usage: tests/gui/double_click_test.sh DIGITS_GUI MODEL_FILE
set -u

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
gui_test_begin "gui double-click test" dclick 120 "$@"
gui_start "$WORK" "$GUI" --model "$MODEL" --device cpu

S=$((CH * 6 / 10))
BX=$(((CW - S * 6 / 10) / 2)); BY=$(((CH - S) / 2))
nudge=$((200 / S + 1))  # 0..100 box units: 2 pixels (or a little more), well inside the 5-pixel distance

# draw_quickly WHAT STROKE...: draws the strokes (each "x0 y0 x1 y1" in 0..100 of the digit box) in one xdotool
# burst: big steps, 1 ms pauses, so each press comes well within 400 ms of the one before. Each stroke is one
# straight line: the window gets only some of the motion events of so fast a burst (README, "The window"), but every
# press and release, which fix a straight stroke exactly. A burst that
# took 300 ms or more is cleared and tried again (3 tries). Leaves the settled answer in READ_LINE.
draw_quickly() {
  local what=$1 attempt t0 burst_ms pts
  shift
  for attempt in 1 2 3; do
    since=$(log_lines)
    XDRAW_CMD=()
    for pts in "$@"; do
      # shellcheck disable=SC2086 # the points are words
      XDRAW_STEP=24 XDRAW_PAUSE=0.001 stroke_cmd "$BX" "$BY" "$S" $pts
    done
    t0=$(now_ms)
    xdotool "${XDRAW_CMD[@]}" || xdraw_fail "xdotool could not draw"
    burst_ms=$(($(now_ms) - t0))
    echo "$what, attempt $attempt: $# strokes in $burst_ms ms (before the first press to after the last release)"
    [ "$burst_ms" -lt 300 ] && break
    clear_canvas
    [ "$attempt" -lt 3 ] || xdraw_fail "the machine is too busy: 3 bursts took >= 300 ms, no double click was made"
  done
  READ_LINE=$(settled_line "$since") || exit 1
}

expect_strokes() {
  case "$READ_LINE" in
    *'"source":"drawing","strokes":'"$1"','*) echo "all $1 strokes drawn" ;;
    *) xdraw_show_logs; xdraw_fail "expected $1 strokes on the canvas, the log says: $(echo "$READ_LINE" | cut -c1-60)" ;;
  esac
}

# A "4" in three straight strokes: from the apex down to the left; from (almost) the same apex straight down,
# the press GTK reports as a double click; the bar.
a=$((40 + nudge))
draw_quickly "a quick three-stroke 4" "40 0 0 64" "$a 0 $a 100" "0 64 62 64"
expect_strokes 3
got=$(digits_of "$READ_LINE")
echo "read '$got'"
[ "$got" = 4 ] || { xdraw_show_logs; xdraw_fail "a quick three-stroke 4: the window read '$got'"; }

# Four quick strokes from (almost) one point, as a fast hand adds them: each one is a stroke (wxGTK reports
# the 2nd as a double click, the 3rd and 4th as presses and double clicks again).
clear_canvas
draw_quickly "four quick strokes from one point" "40 0 0 64" "$a 0 $a 100" "40 $nudge 62 40" "$a $nudge 10 20"
expect_strokes 4
quit_gui
echo "$XDRAW_WHO: PASS"
