#!/usr/bin/env python3
"""Personal handwriting styles for `digits finetune`: one person's way of writing, drawn with the stroke
renderer of scripts/drawn_digits.py, in the image-folder layout `digits finetune --samples` reads.

  scripts/personal_styles.py [--out /tmp/styles] [--train 10] [--check 50] [--seed 1] [--style tilted ...]
                             [--canvas WxH]

For each style it writes OUT/<style>/train/<digit>/NNN.png (the samples a user would give, --train per
digit) and OUT/<style>/check/<digit>/NNN.png (more of the same writing, --check per digit, never trained
on: `digits finetune --check` measures on them). Styles (everything else at everyday values, as the
`normal` category of drawn_digits.py):

  tilted    every digit turned 30-40 degrees clockwise (a page held at a steep angle, always the same way)
  european  1 with a long flag (and sometimes a base), 7 with a crossbar; the other digits as usual
  thick     a very thick pen: 35-50% of the digit height

Canvases are the window's sizes (560x420, 400x400, 633x582, 800x600) unless --canvas gives one (160x160
renders about ten times faster: the tests use it).

Python 3 standard library only. Each image has its own seeded generator: the sets are reproducible.
"""

import argparse
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import drawn_digits as dd  # noqa: E402  (the renderer and the glyphs)


def tilted(p, rng):
    p["rot"] = rng.uniform(30, 40)


def thick(p, rng):
    p["pen"] = rng.uniform(0.35, 0.5)


# A continental 1: a long up-stroke from well down the left side to the top, then the bar; and a 7 with a
# crossbar and a bent stem. The bundled model reads MNIST's bar-like 1s; a long flag looks like a 7 to it.
# Only the european style draws them: the other styles use drawn_digits.py's glyphs as they are.
CONTINENTAL = {
    1: {"long_flag": [[[(0.0, 0.5), (0.65, 0.0)], [(0.65, 0.0), (0.65, 1.0)]]]},
    7: {"crossbar_bent": [[[(0.0, 0.05), (1.0, 0.0)], [(1.0, 0.0), (0.6, 0.45), (0.4, 1.0)]],
                          [[(0.3, 0.5), (0.95, 0.45)]]]},
}

# style -> (tweak of the drawing parameters, extra glyphs, digit -> the glyph styles this person uses;
# a digit not named: every glyph of drawn_digits.py, in turn)
STYLES = {
    "tilted": (tilted, {}, {}),
    "european": (None, CONTINENTAL, {1: ["long_flag", "flag_base"], 7: ["crossbar", "crossbar_bent"]}),
    "thick": (thick, {}, {}),
}


def write_set(style, digit, count, seed, part, out, canvas=None):
    style_tweak, extra, glyphs = STYLES[style]

    def tweak(p, rng):
        if canvas:
            p["canvas"] = canvas
        if style_tweak:
            style_tweak(p, rng)
    table = {**dd.GLYPHS[digit], **extra.get(digit, {})}
    styles = glyphs.get(digit) or sorted(table)
    folder = os.path.join(out, style, part, str(digit))
    os.makedirs(folder, exist_ok=True)
    for i in range(count):
        rng = random.Random(f"{seed}/{style}/{part}/{digit}/{i}")
        rows, w, h, _ = dd.draw_digit(digit, styles[i % len(styles)], "normal", rng, tweak, table)
        dd.write_png(os.path.join(folder, f"{i:03d}.png"), rows, w, h)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="/tmp/styles")
    ap.add_argument("--train", type=int, default=10, help="samples per digit to fine-tune on")
    ap.add_argument("--check", type=int, default=50, help="samples per digit to measure on")
    ap.add_argument("--seed", default="1")
    ap.add_argument("--style", action="append", choices=sorted(STYLES), help="default: all")
    ap.add_argument("--canvas", help="WxH of every canvas, e.g. 160x160 (default: the window's sizes)")
    args = ap.parse_args()
    if args.train < 0 or args.check < 0:
        sys.exit("personal_styles.py: --train and --check must be >= 0")
    canvas = None
    if args.canvas:
        try:
            canvas = tuple(int(v) for v in args.canvas.lower().split("x"))
        except ValueError:
            canvas = ()
        if len(canvas) != 2 or min(canvas) < 28:
            sys.exit(f"personal_styles.py: --canvas {args.canvas}: give WxH, each at least 28, e.g. 160x160")
    for style in args.style or list(STYLES):
        for digit in range(10):
            write_set(style, digit, args.train, args.seed, "train", args.out, canvas)
            write_set(style, digit, args.check, args.seed, "check", args.out, canvas)
        print(f"{style}: {10 * args.train} + {10 * args.check} images in {os.path.join(args.out, style)}",
              file=sys.stderr)


if __name__ == "__main__":
    main()
