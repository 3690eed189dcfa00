# Shared by the gui tests (tests/gui/*_test.sh; sourced, not run): the start-up every test makes (its two
# arguments, the run inside a fresh Xvfb display under a deadline, a work directory removed on exit together
# with the window) and the keys they all press. Sources xdraw.sh (starting the window, drawing, reading).
#   . "$(dirname "$0")/lib.sh"
#   gui_test_begin "gui xyz test" xyz SECONDS "$@"      # sets GUI, MODEL, WORK
#   gui_start "$WORK" "$GUI" --model "$MODEL" --device cpu

# shellcheck source=xdraw.sh
. "$(dirname "${BASH_SOURCE[0]}")/xdraw.sh"

# gui_test_begin WHO NAME SECONDS ARGS...: checks the test's arguments (DIGITS_GUI MODEL_FILE) and sets GUI and
# MODEL; outside Xvfb, runs the calling script again inside a fresh virtual display, all of it within SECONDS,
# and exits with its status; inside, makes WORK (a temporary directory, removed with the window on exit).
gui_test_begin() {
  XDRAW_WHO=$1
  local name=$2 seconds=$3
  shift 3
  GUI=${1:-}
  MODEL=${2:-}
  check_gui_args "$GUI" "$MODEL"
  [ -n "${DIGITS_GUI_UNDER_XVFB:-}" ] || run_under_xvfb DIGITS_GUI_UNDER_XVFB "$seconds" "$0" "$@"
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/digits-gui-$name.XXXXXX") || xdraw_fail "cannot make a temporary directory"
  trap 'gui_stop; rm -rf "$WORK"' EXIT
}

# gui_key KEY...: presses keys in the window (xdotool key names: Escape, ctrl+l, alt+m b).
gui_key() {
  xdotool windowfocus --sync "$GUI_WID" key "$@" || xdraw_fail "xdotool could not press $*"
}

# clear_canvas: Esc, then waits for the window's settled answer and leaves it in READ_LINE.
clear_canvas() {
  local since
  since=$(log_lines)
  gui_key Escape
  READ_LINE=$(settled_line "$since") || exit 1
}
