#!/usr/bin/env bash
# GUI smoke test (ctest label `gui`): starts digits-gui under Xvfb with --log-predictions, draws digits with
# synthetic mouse events (xdotool), and checks the JSON lines it logs: "1", empty after Esc, "7", "0", and
# "17" drawn side by side, still "17" after the window is made narrower, lower and its size again; then quits
# with Ctrl+Q. Every wait has a deadline and the whole run is under
# `timeout`, so a broken window fails the test instead of hanging it.
#   usage: tests/gui/smoke_test.sh DIGITS_GUI MODEL_FILE
set -u

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
gui_test_begin "gui smoke test" smoke "${DIGITS_SMOKE_TIMEOUT:-120}" "$@"
gui_start "$WORK" "$GUI" --model "$MODEL" --device cpu

# clear_empty: Esc must clear the canvas: the answer is "no digit".
clear_empty() {
  clear_canvas
  case "$READ_LINE" in
    *'"empty":true'*) echo "Esc: canvas cleared, 'no digit'" ;;
    *) xdraw_show_logs; xdraw_fail "after Esc expected an empty prediction, got: $READ_LINE" ;;
  esac
}

S=$((CH * 6 / 10))                                  # one digit's box: 60% of the canvas height
BX=$(((CW - S * 6 / 10) / 2)); BY=$(((CH - S) / 2))  # centred

since=$(log_lines); glyph 1 $BX $BY $S; expect_read "drew a 1" 1 "$since"
clear_empty
since=$(log_lines); glyph 7 $BX $BY $S; expect_read "drew a 7" 7 "$since"
clear_empty
since=$(log_lines); glyph 0 $BX $BY $S; expect_read "drew a 0" 0 "$since"
clear_empty
S2=$((CW * 45 / 100 < S ? CW * 45 / 100 : S))
since=$(log_lines)
glyph 1 $((CW / 2 - S2 * 70 / 100)) $(((CH - S2) / 2)) $S2
glyph 7 $((CW / 2 + S2 * 5 / 100)) $(((CH - S2) / 2)) $S2
expect_read "drew 1 and 7 side by side" 17 "$since"

# Resizing keeps the whole drawing, scaled to the new canvas: a window too narrow for the 7 where it was drawn
# still reads 17, and so does the window at its old size again.
read -r WW WH <<<"$(xdotool getwindowgeometry --shell "$GUI_WID" | awk -F= '/^WIDTH/{w=$2}/^HEIGHT/{h=$2}END{print w, h}')"
for size in "$((WW * 6 / 10)) $WH" "$WW $((WH * 6 / 10))" "$WW $WH"; do
  since=$(log_lines)
  xdotool windowsize --sync "$GUI_WID" $size || xdraw_fail "xdotool could not resize the window"
  expect_read "the window resized to ${size/ /x}" 17 "$since"
done

# Quit through the menu accelerator: the process must end by itself, with status 0.
quit_gui
echo "$XDRAW_WHO: PASS"
