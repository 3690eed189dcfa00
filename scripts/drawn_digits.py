#!/usr/bin/env python3
"""Digits drawn the way people draw them, and how well `digits predict` reads them.

  generate: scripts/drawn_digits.py generate [--out /tmp/drawn] [--per 10] [--seed 1]
  evaluate: scripts/drawn_digits.py eval --bin build/digits --model M [--model M2 ...] [--dir /tmp/drawn]
  contact sheet: scripts/drawn_digits.py sheet [--dir /tmp/drawn] [--out docs/drawn_samples.png]

Python 3 standard library only (PNG written with zlib; ImageMagick's `convert`, when present, renders the
`font` category and `montage` makes the contact sheet).

How a drawn digit is made: each digit has several writing styles (open and closed 4, 7 with and without a
crossbar or a hook, 1 as a bar, with a flag, with flag and base, 9 with a straight, curved or slanted tail,
8 as one figure-eight stroke or two stacked loops, a 5 drawn in one stroke or with a separate (sometimes
lifted) flag, 0 closed, overlapping or with a gap, 6 with a small loop, ...). A style is a list of pen strokes; a stroke is pieces of control points in a unit box,
smooth (Catmull-Rom) within a piece and with a corner between pieces. Every control point is jittered, the
box gets a random aspect, then slant (shear), rotation, size and placement, and the strokes are rendered as
anti-aliased round-capped capsules (coverage = clamp(r + 0.5 - distance, 0, 1), like the window's pen) in
black on white (the window's colours) unless the category says otherwise. Categories (one varied factor
each, the others at everyday values):

  normal     pen 6-14% of the digit height, digit 45-80% of the canvas, slant +-8 deg, rotation +-4 deg
  thin       pen 1.5-4% of the digit height (never under 2 px)
  thick      pen 16-30% of the digit height
  slanted    slant 12-20 deg either way, rotation 5-10 deg either way
  small      digit 10-20% of the canvas height
  huge       digit 82-92% of the canvas height
  offcentre  digit 30-50% of the canvas, placed well away from the centre (near an edge or a corner)
  inverted   white ink on black
  canvas64   a 64x64 canvas (pen 2-6 px)
  shaky      a trembling hand: larger jitter plus a slow wobble along the strokes
  mixed      all of the above drawn at once, each anywhere in its range (a fifth on 64x64, a quarter inverted)
  font       a digit from an installed font (ImageMagick), size 25-80% of the canvas, off-centre a little
  tilted     the whole digit rotated 12-25 deg either way (a page held at an angle)
  hurried    scrawled: control points jittered 2.5x more, a wobbling hand, pen 8-20%, slant up to 18 deg

Canvases are those of the window (560x420 is its default), 400x400, 633x582 and 800x600, except canvas64.
Each (category, digit) cell has --per images cycling through the digit's styles; each image has its own
seeded generator, so the set is reproducible (fonts depend on what is installed).
"""

import argparse
import collections
import csv
import json
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import zlib

# ---------------------------------------------------------------------------------------------------------
# glyphs: digit -> {style: [stroke, ...]}; stroke = [piece, ...]; piece = [(u, v), ...] in the unit box,
# u to the right, v down. Smooth within a piece, corners between pieces (the last point of a piece is the
# first of the next).


def arc(cx, cy, rx, ry, a0, a1, n=None):
    """Points on an ellipse from angle a0 to a1 (degrees; 0 = right, 90 = down, increasing clockwise)."""
    n = n or max(3, int(abs(a1 - a0) / 40))  # few points: jitter bends the curve, not its edge
    return [(cx + rx * math.cos(math.radians(a0 + (a1 - a0) * i / n)),
             cy + ry * math.sin(math.radians(a0 + (a1 - a0) * i / n))) for i in range(n + 1)]


GLYPHS = {
    0: {
        "oval": [[arc(0.5, 0.5, 0.5, 0.5, -95, -95 - 365)]],
        "overlap": [[arc(0.5, 0.5, 0.5, 0.5, -60, -60 - 380)]],
        "gap": [[arc(0.5, 0.5, 0.5, 0.5, -70, -70 - 330)]],
        "pointed": [[[(0.55, 0.0), (0.15, 0.2), (0.0, 0.55), (0.2, 0.92), (0.55, 1.0), (0.9, 0.8), (1.0, 0.45),
                      (0.85, 0.12), (0.5, 0.0)]]],
    },
    1: {
        "bar": [[[(0.5, 0.0), (0.5, 1.0)]]],
        "flag": [[[(0.05, 0.25), (0.6, 0.0)], [(0.6, 0.0), (0.6, 1.0)]]],
        "flag_base": [[[(0.1, 0.22), (0.55, 0.0)], [(0.55, 0.0), (0.55, 1.0)]], [[(0.1, 1.0), (1.0, 1.0)]]],
    },
    2: {
        "curve": [[[(0.05, 0.28), (0.25, 0.05), (0.55, 0.0), (0.88, 0.15), (0.9, 0.4), (0.6, 0.7), (0.05, 1.0)],
                   [(0.05, 1.0), (1.0, 0.97)]]],
        "loop": [[[(0.05, 0.25), (0.3, 0.02), (0.7, 0.02), (0.9, 0.25), (0.75, 0.55), (0.35, 0.85),
                   (0.12, 0.98), (0.1, 0.85), (0.28, 0.8), (0.45, 0.95), (0.7, 1.0), (1.0, 0.95)]]],
        "z": [[[(0.0, 0.2), (0.35, 0.0), (0.8, 0.05), (0.92, 0.3)], [(0.92, 0.3), (0.0, 1.0)],
               [(0.0, 1.0), (1.0, 1.0)]]],
    },
    3: {
        "round": [[[(0.05, 0.15), (0.4, 0.0), (0.85, 0.1), (0.85, 0.33), (0.35, 0.48)],
                   [(0.35, 0.48), (0.85, 0.6), (0.92, 0.85), (0.5, 1.0), (0.05, 0.88)]]],
        "flat": [[[(0.05, 0.0), (0.95, 0.0)], [(0.95, 0.0), (0.4, 0.4)],
                  [(0.4, 0.4), (0.85, 0.52), (0.95, 0.78), (0.6, 1.0), (0.05, 0.9)]]],
        "smooth": [[[(0.1, 0.12), (0.5, 0.0), (0.88, 0.18), (0.7, 0.42), (0.45, 0.5), (0.8, 0.58),
                     (0.92, 0.82), (0.5, 1.0), (0.08, 0.85)]]],
    },
    4: {
        "open": [[[(0.5, 0.0), (0.02, 0.63)], [(0.02, 0.63), (1.0, 0.63)]], [[(0.72, 0.25), (0.72, 1.0)]]],
        "closed": [[[(0.72, 1.0), (0.72, 0.0)], [(0.72, 0.0), (0.0, 0.65)], [(0.0, 0.65), (1.0, 0.65)]]],
        "upright": [[[(0.12, 0.0), (0.05, 0.55)], [(0.05, 0.55), (0.98, 0.55)]], [[(0.78, 0.02), (0.78, 1.0)]]],
    },
    5: {
        "flag": [[[(0.15, 0.02), (0.1, 0.45)], [(0.1, 0.45), (0.45, 0.37), (0.85, 0.5), (0.9, 0.75), (0.6, 0.98),
                                                 (0.08, 0.9)]], [[(0.15, 0.02), (0.92, 0.0)]]],
        "lifted": [[[(0.12, 0.06), (0.08, 0.45)], [(0.08, 0.45), (0.45, 0.38), (0.85, 0.5), (0.9, 0.75),
                                                   (0.6, 0.98), (0.08, 0.9)]], [[(0.28, 0.0), (0.95, 0.0)]]],
        "one_stroke": [[[(0.92, 0.0), (0.15, 0.02)], [(0.15, 0.02), (0.1, 0.45)],
                        [(0.1, 0.45), (0.45, 0.37), (0.85, 0.5), (0.9, 0.75), (0.6, 0.98), (0.08, 0.9)]]],
    },
    6: {
        "curve": [[[(0.8, 0.05), (0.45, 0.05), (0.15, 0.35), (0.05, 0.7), (0.3, 0.98), (0.7, 0.95), (0.9, 0.72),
                    (0.65, 0.5), (0.3, 0.52), (0.1, 0.7)]]],
        "straight": [[[(0.75, 0.0), (0.45, 0.25), (0.15, 0.6), (0.2, 0.9), (0.5, 1.0), (0.85, 0.85), (0.8, 0.6),
                       (0.5, 0.5), (0.2, 0.65)]]],
        "small_loop": [[[(0.8, 0.0), (0.4, 0.2), (0.15, 0.55), (0.15, 0.85), (0.4, 1.0), (0.75, 0.9), (0.75, 0.7),
                         (0.45, 0.65), (0.15, 0.8)]]],
    },
    7: {
        "plain": [[[(0.0, 0.03), (1.0, 0.0)], [(1.0, 0.0), (0.35, 1.0)]]],
        "crossbar": [[[(0.0, 0.03), (1.0, 0.0)], [(1.0, 0.0), (0.35, 1.0)]], [[(0.35, 0.5), (0.95, 0.48)]]],
        "hook": [[[(0.02, 0.18), (0.0, 0.0)], [(0.0, 0.0), (1.0, 0.02)], [(1.0, 0.02), (0.7, 0.4), (0.5, 1.0)]]],
    },
    8: {
        "figure": [[[(0.85, 0.12), (0.5, 0.0), (0.15, 0.12), (0.2, 0.35), (0.5, 0.5), (0.85, 0.68), (0.85, 0.9),
                     (0.5, 1.0), (0.15, 0.9), (0.15, 0.68), (0.5, 0.5), (0.8, 0.32), (0.85, 0.12)]]],
        "snowman": [[arc(0.5, 0.25, 0.38, 0.25, -90, 270)], [arc(0.5, 0.73, 0.5, 0.27, -90, 270)]],
    },
    9: {
        "straight": [[arc(0.45, 0.28, 0.45, 0.28, 0, -360), [(0.9, 0.28), (0.9, 1.0)]]],
        "curved": [[arc(0.45, 0.28, 0.45, 0.28, 0, -360), [(0.9, 0.28), (0.88, 0.7), (0.65, 0.98), (0.25, 0.95)]]],
        "slanted": [[arc(0.5, 0.28, 0.45, 0.28, 10, -350), [(0.93, 0.33), (0.5, 1.0)]]],
        "open": [[arc(0.45, 0.3, 0.45, 0.3, 20, -300), [(0.9, 0.2), (0.9, 1.0)]]],
    },
}

# width of the box relative to its height (before a random factor); a bare 1 is a line
ASPECT = {0: 0.65, 1: 0.35, 2: 0.62, 3: 0.58, 4: 0.68, 5: 0.6, 6: 0.6, 7: 0.62, 8: 0.58, 9: 0.6}

CATEGORIES = ["normal", "thin", "thick", "slanted", "small", "huge", "offcentre", "inverted", "canvas64",
              "shaky", "mixed", "font", "tilted", "hurried"]
WINDOW_CANVASES = [(560, 420), (400, 400), (633, 582), (800, 600)]

# ---------------------------------------------------------------------------------------------------------
# geometry


def catmull_rom(pts, step):
    """Points along a Catmull-Rom spline through pts, about `step` apart."""
    if len(pts) < 3:
        out = [pts[0]]
        for a, b in zip(pts, pts[1:]):
            n = max(1, int(math.hypot(b[0] - a[0], b[1] - a[1]) / step))
            out += [(a[0] + (b[0] - a[0]) * i / n, a[1] + (b[1] - a[1]) * i / n) for i in range(1, n + 1)]
        return out
    ext = [pts[0]] + list(pts) + [pts[-1]]
    out = [pts[0]]
    for i in range(1, len(ext) - 2):
        p0, p1, p2, p3 = ext[i - 1], ext[i], ext[i + 1], ext[i + 2]
        n = max(1, int(math.hypot(p2[0] - p1[0], p2[1] - p1[1]) / step))
        for k in range(1, n + 1):
            t = k / n
            t2, t3 = t * t, t * t * t
            out.append(tuple(0.5 * (2 * p1[j] + (-p0[j] + p2[j]) * t + (2 * p0[j] - 5 * p1[j] + 4 * p2[j] - p3[j]) * t2
                                    + (-p0[j] + 3 * p1[j] - 3 * p2[j] + p3[j]) * t3) for j in (0, 1)))
    return out


class Canvas:
    """Coverage in [0, 1], max-combined anti-aliased capsules."""

    def __init__(self, w, h):
        self.w, self.h = w, h
        self.cov = [bytearray(w) for _ in range(h)]  # 0..255

    def capsule(self, ax, ay, bx, by, r):
        R = r + 0.5
        dx, dy = bx - ax, by - ay
        L2 = dx * dx + dy * dy
        y0 = max(0, int(math.floor(min(ay, by) - R)))
        y1 = min(self.h - 1, int(math.ceil(max(ay, by) + R)))
        for y in range(y0, y1 + 1):
            py = y + 0.5
            # x-range of the capsule (convex) on this row: the two end discs and the band between them
            lo, hi = math.inf, -math.inf
            for cx, cy in ((ax, ay), (bx, by)):
                q = R * R - (py - cy) ** 2
                if q >= 0:
                    s = math.sqrt(q)
                    lo, hi = min(lo, cx - s), max(hi, cx + s)
            if L2 > 0 and dy != 0:
                L = math.sqrt(L2)
                # band: |cross| <= R*L and 0 <= t <= 1, each linear in px
                xs = []
                for c in (R * L, -R * L):  # dx*(py-ay) - dy*(px-ax) = c
                    xs.append(ax + (dx * (py - ay) - c) / dy)
                for t in (0.0, 1.0):  # (px-ax)*dx + (py-ay)*dy = t*L2
                    xs.append(ax + (t * L2 - (py - ay) * dy) / dx if dx != 0 else None)
                b_lo, b_hi = min(xs[0], xs[1]), max(xs[0], xs[1])
                if dx != 0:
                    t_lo, t_hi = min(xs[2], xs[3]), max(xs[2], xs[3])
                    b_lo, b_hi = max(b_lo, t_lo), min(b_hi, t_hi)
                elif not (min(ay, by) <= py <= max(ay, by)):
                    b_lo, b_hi = math.inf, -math.inf
                if b_lo <= b_hi:
                    lo, hi = min(lo, b_lo), max(hi, b_hi)
            elif L2 > 0:  # horizontal segment
                if abs(py - ay) <= R:
                    lo, hi = min(lo, min(ax, bx)), max(hi, max(ax, bx))
            if lo > hi:
                continue
            xa, xb = max(0, int(lo - 0.5)), min(self.w - 1, int(hi + 0.5))
            row = self.cov[y]
            for x in range(xa, xb + 1):
                px = x + 0.5
                if L2 > 0:
                    t = ((px - ax) * dx + (py - ay) * dy) / L2
                    t = 0.0 if t < 0 else (1.0 if t > 1 else t)
                    d = math.hypot(px - ax - t * dx, py - ay - t * dy)
                else:
                    d = math.hypot(px - ax, py - ay)
                c = r + 0.5 - d
                if c > 0:
                    v = 255 if c >= 1 else int(c * 255 + 0.5)
                    if v > row[x]:
                        row[x] = v

    def polyline(self, pts, r):
        if len(pts) == 1:
            self.capsule(pts[0][0], pts[0][1], pts[0][0], pts[0][1], r)
        for a, b in zip(pts, pts[1:]):
            self.capsule(a[0], a[1], b[0], b[1], r)

    def grey(self, paper, ink):
        return [bytes(int(paper + (ink - paper) * v / 255 + 0.5) for v in row) for row in self.cov]


def write_png(path, rows, w, h):
    raw = b"".join(b"\x00" + bytes(r) for r in rows)
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


# ---------------------------------------------------------------------------------------------------------
# one drawn digit


def params_for(cat, rng):
    """Everyday values, then the category's one varied factor."""
    p = dict(canvas=rng.choice(WINDOW_CANVASES), size=rng.uniform(0.45, 0.8), pen=rng.uniform(0.06, 0.14),
             slant=rng.uniform(-8, 8), rot=rng.uniform(-4, 4), jitter=0.025, wobble=0.0, offcentre=False,
             inverted=False, min_pen_px=2.0)
    if cat == "thin":
        p["pen"] = rng.uniform(0.015, 0.04)
    elif cat == "thick":
        p["pen"] = rng.uniform(0.16, 0.30)
    elif cat == "slanted":
        p["slant"] = rng.choice([-1, 1]) * rng.uniform(12, 20)
        p["rot"] = rng.choice([-1, 1]) * rng.uniform(5, 10)
    elif cat == "small":
        p["size"] = rng.uniform(0.10, 0.20)
    elif cat == "huge":
        p["size"] = rng.uniform(0.82, 0.92)
    elif cat == "offcentre":
        p["size"], p["offcentre"] = rng.uniform(0.3, 0.5), True
    elif cat == "inverted":
        p["inverted"] = True
    elif cat == "canvas64":
        p["canvas"], p["min_pen_px"] = (64, 64), 1.0
        p["pen"] = rng.uniform(2.0, 6.0) / (p["size"] * 64)
    elif cat == "shaky":
        p["jitter"], p["wobble"] = 0.04, rng.uniform(0.01, 0.02)
    elif cat == "tilted":  # the whole digit turned, as on a page held at an angle
        p["rot"] = rng.choice([-1, 1]) * rng.uniform(12, 25)
    elif cat == "hurried":  # scrawled: loose strokes, a wobbling hand, a heavier pen, a strong slant
        p["jitter"], p["wobble"] = 0.065, rng.uniform(0.015, 0.03)
        p["pen"] = rng.uniform(0.08, 0.2)
        p["slant"] = rng.uniform(-18, 18)
    elif cat == "mixed":  # everything at once, anywhere in its range
        if rng.random() < 0.2:
            p["canvas"], p["min_pen_px"] = (64, 64), 1.0
        p["size"] = rng.uniform(0.12, 0.9)
        p["pen"] = math.exp(rng.uniform(math.log(0.015), math.log(0.3)))
        p["slant"], p["rot"] = rng.uniform(-20, 20), rng.uniform(-10, 10)
        p["offcentre"] = p["size"] < 0.6 and rng.random() < 0.5
        p["inverted"] = rng.random() < 0.25
        if rng.random() < 0.3:
            p["jitter"], p["wobble"] = 0.04, rng.uniform(0.01, 0.02)
    return p


def draw_digit(digit, style, cat, rng, tweak=None, glyphs=None):
    """tweak(p, rng), when given, changes the category's parameters in place (personal styles); glyphs, when
    given, is the digit's glyph table to draw `style` from (default: GLYPHS[digit])."""
    p = params_for(cat, rng)
    if tweak:
        tweak(p, rng)
    W, H = p["canvas"]
    aspect = ASPECT[digit] * rng.uniform(0.8, 1.25)
    strokes = []
    for stroke in (glyphs or GLYPHS[digit])[style]:
        pieces = []
        moved = {}
        for piece in stroke:
            jp = []
            for (u, v) in piece:
                # shared corners stay shared: the first point of a piece is the last of the previous one
                key = (round(u, 6), round(v, 6))
                if key not in moved:
                    moved[key] = (u + rng.gauss(0, p["jitter"]) / aspect * 0.6, v + rng.gauss(0, p["jitter"]))
                jp.append(moved[key])
            pieces.append(jp)
        strokes.append(pieces)
    # unit box -> digit units (height 1), then slant and rotation about the centre
    sh = math.tan(math.radians(p["slant"]))
    ca, sa = math.cos(math.radians(p["rot"])), math.sin(math.radians(p["rot"]))

    def tf(u, v):
        x, y = (u - 0.5) * aspect, v - 0.5
        x += sh * (-y)  # positive slant leans the top to the right
        return (x * ca - y * sa, x * sa + y * ca)

    dense = []  # per stroke, a polyline in digit units
    for pieces in strokes:
        line = []
        for piece in pieces:
            pts = catmull_rom([tf(u, v) for (u, v) in piece], 0.01)
            line += pts if not line else pts[1:]
        dense.append(line)
    if p["wobble"] > 0:  # a slow tremor along each stroke, different per stroke
        for k, line in enumerate(dense):
            f1, f2 = rng.uniform(1.5, 4), rng.uniform(1.5, 4)  # half-waves per digit height of stroke
            ph1, ph2 = rng.uniform(0, 6.3), rng.uniform(0, 6.3)
            s, out = 0.0, []
            for i, (x, y) in enumerate(line):
                if i:
                    s += math.hypot(x - line[i - 1][0], y - line[i - 1][1])
                out.append((x + p["wobble"] * math.sin(f1 * s * math.pi + ph1),
                            y + p["wobble"] * math.sin(f2 * s * math.pi + ph2)))
            dense[k] = out
    # size: the glyph's drawn height is size * canvas height; the pen is `pen` of that height
    ys = [y for line in dense for _, y in line]
    xs = [x for line in dense for x, _ in line]
    gh, gw = max(ys) - min(ys), max(xs) - min(xs)
    scale = p["size"] * H / gh
    r = max(p["min_pen_px"], p["pen"] * p["size"] * H) / 2
    # keep it on the canvas (with its pen), shrinking if needed
    margin = r + 2
    scale = min(scale, (W - 2 * margin) / max(gw, 1e-6), (H - 2 * margin) / gh)
    bw, bh = gw * scale + 2 * r, gh * scale + 2 * r
    free_x, free_y = max(0.0, W - bw - 4), max(0.0, H - bh - 4)
    if p["offcentre"]:  # near an edge or a corner: at least 70% of the way from the middle on one axis
        fx, fy = rng.uniform(0, 1), rng.uniform(0, 1)
        side = rng.choice(["x", "y", "xy"])
        if "x" in side:
            fx = rng.choice([rng.uniform(0, 0.15), rng.uniform(0.85, 1)])
        if "y" in side:
            fy = rng.choice([rng.uniform(0, 0.15), rng.uniform(0.85, 1)])
    else:  # roughly centred, like someone aiming at the middle
        fx, fy = min(1, max(0, rng.gauss(0.5, 0.08))), min(1, max(0, rng.gauss(0.5, 0.08)))
    left, top = 2 + fx * free_x + r, 2 + fy * free_y + r
    cv = Canvas(W, H)
    for line in dense:
        pts = [(left + (x - min(xs)) * scale, top + (y - min(ys)) * scale) for x, y in line]
        # thin the polyline to steps of about a third of the pen (at least 1.5 px) for speed
        step = max(1.5, r / 3)
        keep, last = [pts[0]], pts[0]
        for q in pts[1:-1]:
            if math.hypot(q[0] - last[0], q[1] - last[1]) >= step:
                keep.append(q)
                last = q
        keep.append(pts[-1])
        cv.polyline(keep, r)
    paper, ink = (0, 255) if p["inverted"] else (255, 0)
    return cv.grey(paper, ink), W, H, p


def font_list():
    try:
        out = subprocess.run(["fc-list", "--format", "%{file}\n"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    bad = ("Symbol", "D050000L", "Dingbat", "Fallback")
    return sorted({f for f in out.split() if f.endswith((".ttf", ".otf")) and not any(b in f for b in bad)})


def draw_font_digit(digit, path, rng, fonts):
    W, H = rng.choice(WINDOW_CANVASES)
    font = rng.choice(fonts)
    h = rng.uniform(0.25, 0.8) * H  # digit height; a font's figures are about 0.72 of its point size
    dx, dy = rng.gauss(0, 0.1) * (W - h) / 2, rng.gauss(0, 0.1) * (H - h) / 2
    subprocess.run(["convert", "-size", f"{W}x{H}", "xc:white", "-font", font, "-pointsize", f"{h / 0.72:.1f}",
                    "-fill", "black", "-gravity", "center", "-annotate", f"{dx:+.0f}{dy:+.0f}", str(digit),
                    "-colorspace", "Gray", "-depth", "8", path], check=True)
    return os.path.basename(font)


def generate(args):
    os.makedirs(args.out, exist_ok=True)
    fonts = font_list() if shutil.which("convert") else []
    if not fonts:
        print("note: no ImageMagick convert or no fonts: the font category is skipped", file=sys.stderr)
    rows = []
    for cat in CATEGORIES:
        if cat == "font" and not fonts:
            continue
        for digit in range(10):
            styles = sorted(GLYPHS[digit])
            for i in range(args.per):
                rng = random.Random(f"{args.seed}/{cat}/{digit}/{i}")
                name = f"{cat}_{digit}_{i:03d}.png"
                path = os.path.join(args.out, name)
                if cat == "font":
                    style = draw_font_digit(digit, path, rng, fonts)
                else:
                    style = styles[(i + CATEGORIES.index(cat)) % len(styles)]  # balanced over the set
                    rows_px, W, H, _ = draw_digit(digit, style, cat, rng)
                    write_png(path, rows_px, W, H)
                rows.append((name, digit, cat, style))
        print(f"  {cat}: {10 * args.per} images", file=sys.stderr)
    with open(os.path.join(args.out, "labels.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "label", "category", "style"])
        w.writerows(rows)
    print(f"wrote {len(rows)} images and labels.csv to {args.out}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------------------
# evaluation


def read_labels(d):
    with open(os.path.join(d, "labels.csv")) as f:
        return list(csv.DictReader(f))


def run_predict(args, model, files, single):
    out = {}
    for i in range(0, len(files), args.batch):
        batch = files[i:i + args.batch]
        cmd = [args.bin, "predict", "--json", "--device", args.device, "--threads", str(args.threads), "--model", model]
        cmd += (["--single"] if single else []) + batch
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            sys.exit(f"digits predict failed ({res.returncode}): {res.stderr.strip()}")
        for line in res.stdout.splitlines():
            j = json.loads(line)
            out[j["file"]] = j
    return out


def pct(a, n):
    return f"{100.0 * a / n:6.2f}%" if n else "     -"


def evaluate(args):
    labels = read_labels(args.dir)
    files = [os.path.join(args.dir, r["file"]) for r in labels]
    for model in args.model:
        single = run_predict(args, model, files, True)
        multi = run_predict(args, model, files, False)
        results = []
        for r, f in zip(labels, files):
            s, m = single[f], multi[f]
            pred = s["predictions"][0]["digit"] if s["predictions"] else -1
            conf = s["predictions"][0]["confidence"] if s["predictions"] else 0.0
            results.append(dict(file=r["file"], label=int(r["label"]), category=r["category"], style=r["style"],
                                pred=pred, conf=conf, text=m["digits"] if not m["empty"] else ""))
        name = os.path.splitext(os.path.basename(model))[0]
        with open(os.path.join(args.dir, f"results-{name}.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(results[0]))
            w.writeheader()
            w.writerows(results)
        report(model, results, args)


def report(model, results, args):
    def table(title, key, keys=None):
        groups = collections.defaultdict(list)
        for r in results:
            groups[key(r)].append(r)
        keys = keys or sorted(groups)
        print(f"\n{title:<22} {'n':>5} {'--single':>8} {'segmented':>10}  {'mean conf':>9}")
        for k in keys:
            g = groups.get(k, [])
            if not g:
                continue
            ok = sum(r["pred"] == r["label"] for r in g)
            seg = sum(r["text"] == str(r["label"]) for r in g)
            conf = sum(r["conf"] for r in g) / len(g)
            print(f"{str(k):<22} {len(g):>5} {pct(ok, len(g)):>8} {pct(seg, len(g)):>10}  {conf:9.3f}")

    n = len(results)
    ok = sum(r["pred"] == r["label"] for r in results)
    seg = sum(r["text"] == str(r["label"]) for r in results)
    drawn = [r for r in results if r["category"] != "font"]
    print(f"\n=== {model}: {n} images")
    print(f"overall   --single {pct(ok, n)}   segmented (reads exactly the one digit) {pct(seg, n)}")
    if drawn and len(drawn) != n:
        dok = sum(r["pred"] == r["label"] for r in drawn)
        print(f"drawn only (no fonts): --single {pct(dok, len(drawn))} of {len(drawn)}")
    table("category", lambda r: r["category"], [c for c in CATEGORIES])
    table("digit", lambda r: r["label"])
    table("digit/style (drawn)", lambda r: f"{r['label']}/{r['style']}" if r["category"] != "font" else "font")
    conf = collections.Counter((r["label"], r["pred"]) for r in results if r["pred"] != r["label"])
    print("\ntop confusions (true -> read, --single):")
    for (t, p), c in conf.most_common(args.top):
        where = collections.Counter(r["category"] for r in results if r["label"] == t and r["pred"] == p)
        print(f"  {t} -> {p}: {c:3d}   ({', '.join(f'{k} {v}' for k, v in where.most_common())})")
    segerr = collections.Counter("none" if not r["text"] else ("several" if len(r["text"]) > 1 else "other")
                                 for r in results if r["text"] != str(r["label"]))
    print("segmented mode, not exactly the digit: " + (", ".join(f"{k} {v}" for k, v in segerr.items()) or "none"))
    several = [r for r in results if len(r["text"]) > 1]
    for r in several[:args.top]:
        print(f"  read as '{r['text']}': {r['file']} ({r['style']})")
    if args.errors:
        print("\nmisread (--single):")
        for r in sorted(results, key=lambda r: r["conf"], reverse=True):
            if r["pred"] != r["label"]:
                print(f"  {r['file']:<28} {r['label']} -> {r['pred']} ({100 * r['conf']:.1f}%) {r['style']}")


def sheet(args):
    """A contact sheet: 4 samples per digit from different categories, labelled."""
    labels = read_labels(args.dir)
    by = collections.defaultdict(list)
    for r in labels:
        by[(int(r["label"]), r["category"])].append(r)
    rng = random.Random(args.seed)
    cats = [c for c in CATEGORIES if any((0, c) == k for k in by)]
    picks = []
    for d in range(10):
        for c in rng.sample(cats, 4):
            picks.append(rng.choice(by[(d, c)]))
    cmd = ["montage"]
    for r in picks:
        cmd += ["-label", f"{r['label']} {r['category']}", os.path.join(args.dir, r["file"])]
    cmd += ["-resize", "96x96", "-tile", "10x", "-geometry", "96x96+3+3", "-pointsize", "11",
            "-background", "#d8d8d8", "-colorspace", "Gray", "-depth", "8", args.out]
    subprocess.run(cmd, check=True)
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes)", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate", help="make the labelled set")
    g.add_argument("--out", default="/tmp/drawn")
    g.add_argument("--per", type=int, default=10, help="images per (category, digit)")
    g.add_argument("--seed", default="1")
    e = sub.add_parser("eval", help="run digits predict on the set and print the tables")
    e.add_argument("--bin", required=True, help="the digits executable")
    e.add_argument("--model", action="append", required=True, help="model file (repeatable)")
    e.add_argument("--dir", default="/tmp/drawn")
    e.add_argument("--device", default="cpu")
    e.add_argument("--threads", type=int, default=1)
    e.add_argument("--batch", type=int, default=100)
    e.add_argument("--top", type=int, default=12)
    e.add_argument("--errors", action="store_true", help="list every misread file")
    s = sub.add_parser("sheet", help="contact sheet of 40 samples (ImageMagick montage)")
    s.add_argument("--dir", default="/tmp/drawn")
    s.add_argument("--out", default="docs/drawn_samples.png")
    s.add_argument("--seed", default="1")
    args = ap.parse_args()
    {"generate": generate, "eval": evaluate, "sheet": sheet}[args.cmd](args)


if __name__ == "__main__":
    main()
