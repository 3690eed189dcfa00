#!/usr/bin/env python3
"""Digits written on paper and photographed with a phone, and how well `digits predict` reads them.

  generate: scripts/photo_digits.py generate [--out /tmp/photos] [--per 10] [--seed 1] [--jobs 2] [--only CATS]
  evaluate: scripts/photo_digits.py eval --bin build/digits --model M [--model M2 ...] [--dir /tmp/photos]
  contact sheet: scripts/photo_digits.py sheet [--dir /tmp/photos] [--out docs/photo_samples.png]
  one photo: scripts/photo_digits.py one --text 2024 --category numbers [--index 0] [--seed 1] --out FILE.jpg

Needs numpy and Pillow (scripts/eval_photos.sh makes a virtual environment with them); never uses MNIST.
The digit shapes come from scripts/drawn_digits.py (its writing styles and stroke renderer, category
"normal" or, for a fine pen, "thin"); this script only photographs them. A photo is a physical model:

  image = 255 * light(x, y) * paper(x, y) * ink(x, y) * lines(x, y), then blur, sensor noise, JPEG

  light   uneven: a gradient across the sheet, a vignette, and in some categories a soft shadow (a hand or
          the phone) darkening part of the sheet by 25-50%
  paper   grey-white (reflectance 0.68-0.92) with fibre texture and grain
  ink     ballpoint, felt pen or pencil: 10-40% of the paper's reflectance (chalk on a dark board: inverted)
  lines   ruled paper: grey-blue lines every 1.15-1.6 digit heights (the digits sit on them), a margin line

Categories (one factor varied, the others at everyday values: digit 20-45% of the frame height, light
falling off by up to 25%, rotation +-2 deg, blur sigma 0.5-1, noise sigma 1.5-3 levels, JPEG quality 70-90):

  even       everyday values only
  gradient   light falling off by 35-60% across the sheet plus a vignette of 15-30%
  shadow     a soft-edged shadow over 20-60% of the sheet, 25-50% darker
  texture    strong paper texture and grain, dust specks, noise sigma 4-7
  blur       out of focus (sigma 1.5-2.5) and JPEG quality 40-60
  ruled      lined paper with a margin line; the digit sits on a line, which often runs through it
  small      digit 10-15% of the frame height
  large      digit 45-60% of the frame height
  rotated    the sheet turned 5-10 deg
  inverted   chalk on a dark board (light on dark)
  edge       the sheet does not fill the frame: a darker table shows along one or two sides
  numbers    2 to 5 digits in a row ("2024" among them), on plain or lined paper
  mixed      every factor at once, anywhere in its range (light-on-dark a fifth of the time)

Frames are 1000x750, 800x600, 640x480 and 750x1000; files are JPEG. Each image has its own
seeded generator, so the set is reproducible.
"""

import argparse
import collections
import csv
import io
import math
import multiprocessing
import os
import random
import subprocess
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import drawn_digits as dd  # noqa: E402  (the stroke renderer and writing styles)

CATEGORIES = ["even", "gradient", "shadow", "texture", "blur", "ruled", "small", "large", "rotated", "inverted",
              "edge", "numbers", "mixed"]
FRAMES = [(1000, 750), (800, 600), (640, 480), (750, 1000)]
dd.WINDOW_CANVASES = [(224, 224)]  # render the strokes on a mid-size canvas; the photo rescales them

# ---------------------------------------------------------------------------------------------------------
# parameters


def params_for(cat, rng):
    """Everyday values, then the category's one varied factor."""
    p = dict(frame=rng.choice(FRAMES), size=rng.uniform(0.2, 0.45), falloff=rng.uniform(0, 0.25),
             vignette=rng.uniform(0, 0.12), shadow=0.0, texture=rng.uniform(0.01, 0.03), grain=0.01, dust=0,
             noise=rng.uniform(1.5, 3), blur=rng.uniform(0.5, 1.0), quality=rng.randint(70, 90),
             rot=rng.uniform(-2, 2), ruled=False, inverted=False, edge=False, count=1)
    if cat == "gradient":
        p["falloff"], p["vignette"] = rng.uniform(0.35, 0.6), rng.uniform(0.15, 0.3)
    elif cat == "shadow":
        p["shadow"] = rng.uniform(0.25, 0.5)
    elif cat == "texture":
        p["texture"], p["grain"], p["dust"], p["noise"] = rng.uniform(0.04, 0.07), 0.03, rng.randint(20, 60), \
            rng.uniform(4, 7)
    elif cat == "blur":
        p["blur"], p["quality"] = rng.uniform(1.5, 2.5), rng.randint(40, 60)
    elif cat == "ruled":
        p["ruled"] = True
    elif cat == "small":
        p["size"] = rng.uniform(0.10, 0.15)
    elif cat == "large":
        p["size"] = rng.uniform(0.45, 0.60)
    elif cat == "rotated":
        p["rot"] = rng.choice([-1, 1]) * rng.uniform(5, 10)
    elif cat == "inverted":
        p["inverted"] = True
    elif cat == "edge":
        p["edge"] = True
    elif cat == "numbers":
        p["count"], p["ruled"] = rng.randint(2, 5), rng.random() < 0.5
        p["size"] = rng.uniform(0.12, 0.3)
    elif cat == "mixed":
        p.update(size=rng.uniform(0.1, 0.6), falloff=rng.uniform(0, 0.6), vignette=rng.uniform(0, 0.3),
                 shadow=rng.choice([0.0, rng.uniform(0.25, 0.5)]), texture=rng.uniform(0.01, 0.07),
                 grain=rng.uniform(0.01, 0.03), dust=rng.randint(0, 40), noise=rng.uniform(1.5, 7),
                 blur=rng.uniform(0.5, 2.5), quality=rng.randint(40, 90), rot=rng.uniform(-10, 10),
                 ruled=rng.random() < 0.3, inverted=rng.random() < 0.2, edge=rng.random() < 0.3)
    return p


# ---------------------------------------------------------------------------------------------------------
# the written page (coverage in [0, 1])


def glyph(digit, rng, pen=None):
    """One handwritten digit from drawn_digits.py, cropped to its ink: (coverage array, style, pen). The pen is
    drawn_digits' category "thin" (a ballpoint) 30% of the time, else "normal", unless given."""
    style = rng.choice(sorted(dd.GLYPHS[digit]))
    u = rng.random()
    pen = pen or ("thin" if u < 0.3 else "normal")
    rows, _, _, _ = dd.draw_digit(digit, style, pen, rng)
    cov = 1.0 - np.frombuffer(b"".join(rows), np.uint8).reshape(len(rows), -1).astype(np.float32) / 255.0
    ys, xs = np.nonzero(cov > 0)
    return cov[ys.min():ys.max() + 1, xs.min():xs.max() + 1], style, pen


def resize(a, w, h):
    return np.asarray(Image.fromarray(a, "F").resize((max(1, w), max(1, h)), Image.BILINEAR, reducing_gap=2.0))


def write_text(text, p, rng, W, H):
    """Coverage of the written digits and, for ruled paper, of the lines; the digits' baseline y."""
    cov = np.zeros((H, W), np.float32)
    # on the sheet: away from the frame, and where the table may show (p["edge"]), away from that too
    mx, my = (0.22 * W, 0.22 * H) if p["edge"] else (0.08 * min(W, H), 0.08 * min(W, H))
    raw = [glyph(int(text[0]), rng)]  # one pen for the whole number
    raw += [glyph(int(ch), rng, raw[0][2]) for ch in text[1:]]
    raw = [(g, style) for g, style, _ in raw]
    heights = [rng.uniform(0.92, 1.08) for _ in raw]
    gap_f = [rng.uniform(0.12, 0.35) for _ in raw[1:]]
    # a long number is written smaller so that it fits across the sheet
    width = sum(g.shape[1] / g.shape[0] * k for (g, _), k in zip(raw, heights)) + sum(gap_f)  # in digit heights
    p["size"] = min(p["size"], (W - 2 * mx) / (width * H))
    dh = p["size"] * H
    glyphs = [(resize(g, int(round(g.shape[1] * dh * k / g.shape[0])), int(round(dh * k))), style)
              for (g, style), k in zip(raw, heights)]
    gaps = [dh * k for k in gap_f]
    total = sum(g.shape[1] for g, _ in glyphs) + sum(gaps)
    x = rng.uniform(mx, max(mx, W - mx - total))
    base = rng.uniform(my + dh, max(my + dh, H - my))
    for i, (g, _) in enumerate(glyphs):
        y = int(base - g.shape[0] + rng.gauss(0, 0.03 * dh))
        x0, y0 = int(x), max(0, y)
        x1, y1 = min(W, x0 + g.shape[1]), min(H, y0 + g.shape[0])
        cov[y0:y1, x0:x1] = np.maximum(cov[y0:y1, x0:x1], g[:y1 - y0, :x1 - x0])
        x += g.shape[1] + (gaps[i] if i < len(gaps) else 0)
    return cov, base, [s for _, s in glyphs]


def ruled_lines(p, rng, W, H, base):
    """Ruled paper: horizontal lines through the baseline, spaced 1.15-1.6 digit heights, and a margin line."""
    lines = np.zeros((H, W), np.float32)
    spacing = p["size"] * H * rng.uniform(1.15, 1.6)
    thick = rng.uniform(1.0, 2.5)
    y = base + rng.uniform(-0.04, 0.04) * p["size"] * H
    ys = np.arange(H, dtype=np.float32)[:, None]
    while y > spacing:
        y -= spacing
    while y < H:
        lines = np.maximum(lines, np.clip(thick / 2 + 0.5 - np.abs(ys - y), 0, 1))
        y += spacing
    if rng.random() < 0.6:
        xm = rng.uniform(0.05, 0.12) * W
        xs = np.arange(W, dtype=np.float32)[None, :]
        lines = np.maximum(lines, np.clip(thick / 2 + 0.5 - np.abs(xs - xm), 0, 1))
    return lines * rng.uniform(0.3, 0.55)  # lines are fainter than ink


def rotate(a, deg):
    return np.asarray(Image.fromarray(a, "F").rotate(deg, Image.BILINEAR))


# ---------------------------------------------------------------------------------------------------------
# the photograph


def gaussian_blur(a, sigma):
    """Separable Gaussian blur (edges extended), weighted sums of shifted copies."""
    r = max(1, int(math.ceil(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    for axis in (0, 1):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (r, r)
        b = np.pad(a, pad, mode="edge")
        n = a.shape[axis]
        a = sum(w * (b[i:i + n] if axis == 0 else b[:, i:i + n]) for i, w in enumerate(k)).astype(np.float32)
    return a


def smooth_noise(rng, W, H, sigma):
    """Unit-variance noise smooth over about sigma pixels (made at a lower resolution when sigma is large)."""
    nrng = np.random.default_rng(rng.getrandbits(32))
    f = max(1, int(sigma / 1.5))
    h, w = -(-H // f), -(-W // f)
    n = gaussian_blur(nrng.standard_normal((h, w)).astype(np.float32), sigma / f)
    n = resize(n, w * f, h * f)[:H, :W] if f > 1 else n
    return n / max(1e-6, float(n.std()))


def lighting(p, rng, W, H):
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    a = rng.uniform(0, 2 * math.pi)
    t = ((xs - W / 2) * math.cos(a) + (ys - H / 2) * math.sin(a)) / math.hypot(W, H) + 0.5  # 0..1 across
    light = rng.uniform(0.75, 1.05) * (1 - p["falloff"] * t)
    r2 = ((xs - W / 2) ** 2 + (ys - H / 2) ** 2) / ((W / 2) ** 2 + (H / 2) ** 2)
    light *= 1 - p["vignette"] * r2
    if p["shadow"] > 0:  # a soft half-plane (a hand or the phone), penumbra 3-12% of the frame
        b = rng.uniform(0, 2 * math.pi)
        d = (xs - W / 2) * math.cos(b) + (ys - H / 2) * math.sin(b)
        edge = rng.uniform(-0.3, 0.3) * min(W, H)
        soft = rng.uniform(0.03, 0.12) * min(W, H)
        light *= 1 - p["shadow"] * 0.5 * (1 + np.tanh((d - edge) / (soft / 2)))  # a logistic step
    return light


def paper_edge(rng, W, H):
    """1 on the sheet, 0 on the table: one or two straight edges at a slight angle, 5-20% inside."""
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    sheet = np.ones((H, W), np.float32)
    for side in rng.sample(["left", "right", "top", "bottom"], rng.choice([1, 2])):
        f, tilt = rng.uniform(0.05, 0.2), math.tan(math.radians(rng.uniform(-4, 4)))
        if side == "left":
            d = xs - (f * W + tilt * (ys - H / 2))
        elif side == "right":
            d = ((1 - f) * W + tilt * (ys - H / 2)) - xs
        elif side == "top":
            d = ys - (f * H + tilt * (xs - W / 2))
        else:
            d = ((1 - f) * H + tilt * (xs - W / 2)) - ys
        sheet = np.minimum(sheet, np.clip(d + 0.5, 0, 1))
    return sheet


def photograph(cov, lines, p, rng, W, H):
    """Reflectances under uneven light, then the camera: blur, noise, JPEG. Returns JPEG bytes."""
    tex = p["texture"] * smooth_noise(rng, W, H, rng.uniform(2, 6)) + p["grain"] * smooth_noise(rng, W, H, 0.7)
    if p["inverted"]:  # chalk on a dark board: a patchy, light stroke
        board, chalk = rng.uniform(0.08, 0.2), rng.uniform(0.6, 0.85)
        cov = cov * np.clip(0.8 + 0.2 * smooth_noise(rng, W, H, 1.0), 0.4, 1)
        refl = board * (1 + tex) + (chalk - board) * np.maximum(cov, lines)
    else:
        paper = rng.uniform(0.68, 0.92)
        ink = rng.uniform(0.1, 0.4)  # of the paper's reflectance
        refl = paper * (1 + tex) * (1 - (1 - ink) * cov) * (1 - lines)
    if p["dust"]:
        nrng = np.random.default_rng(rng.getrandbits(32))
        for _ in range(p["dust"]):
            x, y, r = nrng.integers(0, W), nrng.integers(0, H), nrng.uniform(0.6, 1.8)
            y0, y1, x0, x1 = max(0, int(y - r)), min(H, int(y + r) + 1), max(0, int(x - r)), min(W, int(x + r) + 1)
            refl[y0:y1, x0:x1] *= nrng.uniform(0.5, 0.85)
    if p["edge"]:
        sheet = paper_edge(rng, W, H)
        table = rng.uniform(0.1, 0.45) * (1 + 0.5 * tex)
        refl = sheet * refl + (1 - sheet) * table
    img = 255.0 * lighting(p, rng, W, H) * refl
    img = gaussian_blur(img.astype(np.float32), p["blur"])
    nrng = np.random.default_rng(rng.getrandbits(32))
    img = img + nrng.standard_normal(img.shape).astype(np.float32) * p["noise"] * np.sqrt(np.maximum(img, 1) / 128)
    out = io.BytesIO()
    Image.fromarray(np.clip(img + 0.5, 0, 255).astype(np.uint8), "L").save(out, "JPEG", quality=p["quality"])
    return out.getvalue()


def make_photo(job):
    """One labelled photo: job = (seed, category, index, text) -> (file name, text, category, styles)."""
    seed, cat, i, text, out_dir = job
    rng = random.Random(f"{seed}/{cat}/{i}")
    p = params_for(cat, rng)
    W, H = p["frame"]
    cov, base, styles = write_text(text, p, rng, W, H)
    lines = ruled_lines(p, rng, W, H, base) if p["ruled"] else np.zeros_like(cov)
    if p["rot"]:
        cov, lines = rotate(cov, p["rot"]), rotate(lines, p["rot"])
    name = f"{cat}_{i:03d}_{text}.jpg"
    with open(os.path.join(out_dir, name), "wb") as f:
        f.write(photograph(cov, lines, p, rng, W, H))
    return name, text, cat, "+".join(styles)


def number_text(i, rng):
    """Numbers: "2024" every fifth, otherwise 2-5 random digits."""
    if i % 5 == 0:
        return "2024"
    return "".join(str(rng.randrange(10)) for _ in range(rng.randint(2, 5)))


def generate(args):
    os.makedirs(args.out, exist_ok=True)
    only = args.only.split(",") if args.only else CATEGORIES
    if any(c not in CATEGORIES for c in only):
        sys.exit(f"photo_digits: --only takes categories from: {','.join(CATEGORIES)}")
    kept = [] if not args.only else [r for r in dd.read_labels(args.out) if r["category"] not in only]
    jobs = []
    for cat in only:
        for i in range(10 * args.per):
            text = number_text(i, random.Random(f"{args.seed}/text/{i}")) if cat == "numbers" else str(i % 10)
            jobs.append((args.seed, cat, i, text, args.out))
    with multiprocessing.Pool(args.jobs) as pool:
        rows = pool.map(make_photo, jobs, chunksize=4)
    rows = [(r["file"], r["label"], r["category"], r["style"]) for r in kept] + rows
    rows.sort(key=lambda r: (CATEGORIES.index(r[2]), r[0]))
    with open(os.path.join(args.out, "labels.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "label", "category", "style"])
        w.writerows(rows)
    print(f"wrote {len(rows)} photos and labels.csv to {args.out}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------------------
# evaluation: the segmented reading (what `digits predict` prints) must be exactly the written text


def evaluate(args):
    labels = dd.read_labels(args.dir)
    files = [os.path.join(args.dir, r["file"]) for r in labels]
    for model in args.model:
        read = dd.run_predict(args, model, files, False)
        results = [dict(r, text=read[f]["digits"] if not read[f]["empty"] else "") for r, f in zip(labels, files)]
        name = os.path.splitext(os.path.basename(model))[0]
        with open(os.path.join(args.dir, f"results-{name}.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(results[0]))
            w.writeheader()
            w.writerows(results)
        report(model, results)


def report(model, results):
    groups = collections.defaultdict(list)
    for r in results:
        groups[r["category"]].append(r)
    ok = sum(r["text"] == r["label"] for r in results)
    print(f"\n=== {model}: {len(results)} photos")
    print(f"overall: reads exactly the written digits {dd.pct(ok, len(results))} ({ok}/{len(results)})")
    print(f"\n{'category':<12} {'n':>5} {'read right':>10}")
    for cat in CATEGORIES:
        g = groups.get(cat, [])
        if g:
            good = sum(r["text"] == r["label"] for r in g)
            print(f"{cat:<12} {len(g):>5} {dd.pct(good, len(g)):>10}")
    bad = [r for r in results if r["text"] != r["label"]]
    print(f"\nmisread ({len(bad)}):")
    for r in bad:
        print(f"  {r['file']:<28} {r['label']} -> '{r['text']}' ({r['style']})")


def sheet(args):
    """A contact sheet: three photos of each category, labelled."""
    labels = dd.read_labels(args.dir)
    rng = random.Random(args.seed)
    by = collections.defaultdict(list)
    for r in labels:
        by[r["category"]].append(r)
    fonts = dd.font_list()
    cmd = ["montage"] + (["-font", fonts[0]] if fonts else [])
    for cat in CATEGORIES:
        for r in rng.sample(by[cat], 3):
            cmd += ["-label", f"{cat}: {r['label']}", os.path.join(args.dir, r["file"])]
    cmd += ["-resize", "200x150", "-tile", "9x", "-geometry", "200x150+3+3", "-pointsize", "12",
            "-background", "#d8d8d8", "-colorspace", "Gray", "-depth", "8", args.out]
    subprocess.run(cmd, check=True)
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes)", file=sys.stderr)


def one(args):
    """One photo of --text, as photo number --index of --category would be made (for tests and trying out)."""
    if args.category not in CATEGORIES or not args.text.isdigit():
        sys.exit(f"photo_digits: --category is one of {','.join(CATEGORIES)} and --text is digits")
    out_dir = os.path.dirname(os.path.abspath(args.out))
    name, _, _, styles = make_photo((args.seed, args.category, args.index, args.text, out_dir))
    os.replace(os.path.join(out_dir, name), args.out)
    print(f"wrote {args.out} ({styles})", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate", help="make the labelled set")
    g.add_argument("--out", default="/tmp/photos")
    g.add_argument("--per", type=int, default=10, help="photos per (category, digit)")
    g.add_argument("--seed", default="1")
    g.add_argument("--jobs", type=int, default=2, help="worker processes")
    g.add_argument("--only", help="remake only these categories (comma-separated) in an existing set")
    e = sub.add_parser("eval", help="run digits predict on the set and print the tables")
    e.add_argument("--bin", required=True, help="the digits executable")
    e.add_argument("--model", action="append", required=True, help="model file (repeatable)")
    e.add_argument("--dir", default="/tmp/photos")
    e.add_argument("--device", default="cpu")
    e.add_argument("--threads", type=int, default=1)
    e.add_argument("--batch", type=int, default=100)
    s = sub.add_parser("sheet", help="contact sheet of 39 photos (ImageMagick montage)")
    s.add_argument("--dir", default="/tmp/photos")
    s.add_argument("--out", default="docs/photo_samples.png")
    s.add_argument("--seed", default="1")
    o = sub.add_parser("one", help="one photo of a given text")
    o.add_argument("--text", required=True)
    o.add_argument("--category", default="numbers")
    o.add_argument("--index", type=int, default=0)
    o.add_argument("--seed", default="1")
    o.add_argument("--out", required=True)
    args = ap.parse_args()
    {"generate": generate, "eval": evaluate, "sheet": sheet, "one": one}[args.cmd](args)


if __name__ == "__main__":
    main()
