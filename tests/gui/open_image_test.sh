#!/usr/bin/env bash
# GUI test (ctest label `gui`): opening images. Under Xvfb: digits-gui started with a photo-like JPEG of
# "2024" (made here by number_photo) reads 2024 from it; drawing on it starts a new drawing (the title and the
# log say so); File > Open (Ctrl+O, through the file dialog) of a file that is not an image shows a message
# box and leaves the window working; opening the photo through the dialog reads 2024 again.
#   usage: tests/gui/open_image_test.sh DIGITS_GUI MODEL_FILE
set -u

# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
gui_test_begin "gui open-image test" open 150 "$@"
command -v convert >/dev/null || xdraw_fail "ImageMagick's convert not found (apt-get install imagemagick)"
photo=$WORK/number.jpg
number_photo "$photo" 2024
echo "not an image" >"$WORK/broken.png"

# open_with_dialog PATH: Ctrl+O, then the path typed into the file chooser's location field.
open_with_dialog() {
  local dlg
  gui_key ctrl+o
  dlg=$(wait_window '^Open an image$') || exit 1
  sleep 0.5  # the chooser takes its focus after it maps
  xdotool windowfocus --sync "$dlg" key ctrl+l type --delay 5 "$1" || xdraw_fail "xdotool could not type the path"
  sleep 0.3
  xdotool key Return || xdraw_fail "xdotool could not press Return"
}

title_is() {
  local t
  t=$(xdotool getwindowname "$GUI_WID")
  [ "$t" = "$1" ] || { xdraw_show_logs; xdraw_fail "expected the title '$1', it is '$t'"; }
  echo "title: '$t'"
}

gui_start "$WORK" "$GUI" --model "$MODEL" --device cpu "$photo"
since=0
expect_read "opened number.jpg at start" 2024 "$since"
case "$READ_LINE" in *'"source":"image"'*) ;; *) xdraw_fail "the answer is not from the image: $READ_LINE" ;; esac
title_is "digits - number.jpg"

since=$(log_lines)
glyph 1 $((CW / 2)) $((CH / 5)) $((CH * 6 / 10))
expect_read "drew a 1 over the image" 1 "$since"
case "$READ_LINE" in *'"source":"drawing","strokes":1,'*) ;; *) xdraw_fail "the image was not replaced by the drawing: $READ_LINE" ;; esac
title_is "digits"

open_with_dialog "$WORK/broken.png"
box=$(wait_window 'cannot open the image') || exit 1
echo "message box for broken.png"
grep -q "cannot open .*broken.png" "$GUI_ERR" || { xdraw_show_logs; xdraw_fail "no error line for broken.png"; }
xdotool windowfocus --sync "$box" key Return || xdraw_fail "xdotool could not close the message box"
sleep 0.5
kill -0 "$GUI_PID" 2>/dev/null || xdraw_fail "digits-gui died after the message box"
title_is "digits"

since=$(log_lines)
open_with_dialog "$photo"
expect_read "opened number.jpg with File > Open" 2024 "$since"
title_is "digits - number.jpg"
quit_gui
echo "$XDRAW_WHO: PASS"
