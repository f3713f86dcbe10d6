"""Makes scans of the filled form for the scan-reading tests.

Usage: python scans.py SPEC.json OUT_DIR

SPEC.json: {"blank": path of the blank form PDF, "cases": [{"name", "values"
(field -> value; check boxes "/Yes"), "dpi", "mode" ("L", "RGB" or "1"),
"angle" (degrees), "jpeg" (quality or 0), "speckle" (share of pixels),
"perspective" (bool), "container" ("png", "jpeg", "pdf-image", "pdf-jpeg",
"pdf-ccitt", "pdf-two-pages"), "hand" (optional: a font file; the text
values are then hand-printed in capitals in that font, box by box, and the
check boxes ticked with a pen stroke, instead of filled on screen)}]}. Each case is written to OUT_DIR/<name>
with the extension of its container. Needs pypdf, Pillow and pdftoppm.
"""

import io
import json
import random
import subprocess
import sys
import zlib

from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfReader, PdfWriter


def fill(blank, values):
    writer = PdfWriter(clone_from=blank)
    writer.update_page_form_field_values(writer.pages[0], values, auto_regenerate=False)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def rasterise(pdf, dpi, colour):
    args = ["pdftoppm", "-r", str(dpi), "-png", "-singlefile", "-"]
    if not colour:
        args.insert(1, "-gray")
    png = subprocess.run(args, input=pdf, capture_output=True, check=True).stdout
    return Image.open(io.BytesIO(png)).convert("RGB" if colour else "L")


def widget_rects(pdf):
    """Field name -> [x0, y0, x1, y1] in points, and the page's top edge."""
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    rects = {}
    for annot in page.get("/Annots", []):
        annot = annot.get_object()
        name = annot.get("/T")
        if name is None and "/Parent" in annot:
            name = annot["/Parent"].get_object().get("/T")
        if name is not None and "/Rect" in annot:
            rects[str(name)] = [float(v) for v in annot["/Rect"]]
    return rects, float(page.mediabox.left), float(page.mediabox.top)


def hand_print(image, pdf, values, dpi, font_path, rng):
    """Writes `values` in capitals into their boxes as a hand would: a
    handwriting font, each letter a little bigger or smaller, higher or
    lower, further or closer, in ballpoint ink; ticks are two pen strokes."""
    rects, left, top = widget_rects(pdf)
    scale = dpi / 72
    draw = ImageDraw.Draw(image)
    ink = (35, 45, 115) if image.mode == "RGB" else 45
    for name, value in values.items():
        x0, y0, x1, y1 = rects[name]
        px0, px1 = (x0 - left) * scale, (x1 - left) * scale
        py0, py1 = (top - y1) * scale, (top - y0) * scale
        w, h = px1 - px0, py1 - py0
        if value.startswith("/"):
            m = min(w, h) * 0.2
            j = lambda: rng.uniform(-m / 2, m / 2)
            width = max(2, int(scale * 1.1))
            draw.line([(px0 + m + j(), py0 + m + j()), (px1 - m + j(), py1 - m + j())], fill=ink, width=width)
            draw.line([(px1 - m + j(), py0 + m + j()), (px0 + m + j(), py1 - m + j())], fill=ink, width=width)
            continue
        text = value.upper()
        size = h * 0.8
        font = ImageFont.truetype(font_path, int(size))
        while font.getlength(text) * 1.12 > w - 6 * scale and size > 6:
            size *= 0.93
            font = ImageFont.truetype(font_path, int(size))
        x = px0 + 3 * scale + rng.uniform(0, 2) * scale
        baseline = py0 + h * 0.8 + rng.uniform(-0.04, 0.04) * h
        slope = rng.uniform(-0.012, 0.012)
        for ch in text:
            s = size * rng.uniform(0.92, 1.08)
            f = ImageFont.truetype(font_path, int(s))
            y = baseline + (x - px0) * slope + rng.uniform(-0.04, 0.04) * size
            draw.text((x, y), ch, fill=ink, font=f, anchor="ls")
            x += f.getlength(ch) * rng.uniform(1.02, 1.14)
    return image


def perspective(image, rng):
    """A phone photo: the far edge smaller, a little skew, grey background."""
    w, h = image.size
    d = 0.035
    src = [(0, 0), (w, 0), (w, h), (0, h)]
    dst = [
        (w * d, h * d * 0.5),
        (w * (1 - d * 1.6), h * d),
        (w * (1 - d * 0.4), h * (1 - d * 0.3)),
        (w * d * 0.2, h * (1 - d * 0.6)),
    ]
    coeffs = find_coeffs(dst, src)
    fill_colour = (190, 190, 185) if image.mode == "RGB" else 190
    canvas = image.transform((w, h), Image.PERSPECTIVE, coeffs, Image.BICUBIC, fillcolor=fill_colour)
    # Uneven light, as under a desk lamp.
    shade = Image.linear_gradient("L").resize((w, h)).point(lambda v: 255 - v // 6)
    if canvas.mode == "RGB":
        shade = shade.convert("RGB")
    from PIL import ImageChops
    return ImageChops.multiply(canvas, shade)


def find_coeffs(dst, src):
    """Coefficients for Image.transform(PERSPECTIVE) mapping dst -> src."""
    rows = []
    rhs = []
    for (x, y), (u, v) in zip(dst, src):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.extend([u, v])
    n = 8
    a = [row + [b] for row, b in zip(rows, rhs)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        p = a[col][col]
        a[col] = [v / p for v in a[col]]
        for r in range(n):
            if r != col:
                f = a[r][col]
                a[r] = [v - f * pv for v, pv in zip(a[r], a[col])]
    return [a[i][n] for i in range(n)]


def speckle(image, share, rng):
    draw = ImageDraw.Draw(image)
    w, h = image.size
    dark = (40, 40, 40) if image.mode == "RGB" else 40
    for _ in range(int(w * h * share)):
        x, y = rng.randrange(w), rng.randrange(h)
        r = rng.choice([0, 0, 1])
        draw.rectangle([x, y, x + r, y + r], fill=dark)
    return image


def flate_pdf(image, dpi):
    """A one-page PDF holding `image` (grey) as a Flate-compressed image."""
    w, h = image.size
    pw, ph = w * 72 / dpi, h * 72 / dpi
    data = zlib.compress(image.tobytes())
    content = f"q {pw:.2f} 0 0 {ph:.2f} 0 0 cm /Im0 Do Q".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {pw:.2f} {ph:.2f}] "
        f"/Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>".encode(),
        f"<< /Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace /DeviceGray "
        f"/BitsPerComponent 8 /Filter /FlateDecode /Length {len(data)} >>\nstream\n".encode()
        + data + b"\nendstream",
        f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


LETTER = [
    "Lycée Jean-Moulin, Béziers",
    "Objet : commande de manuels scolaires",
    "Madame, Monsieur,",
    "Veuillez trouver ci-joint notre bon de commande n° 2026-118",
    "pour la rentrée : quarante exemplaires du Barème de Montpellier.",
    "Nous vous prions d'agréer nos salutations distinguées.",
    "Le gestionnaire, Jean Dupont",
]


def letter_page(size):
    """A cover page or an unrelated letter: lines of text, no form."""
    page = Image.new("L", size, 255)
    draw = ImageDraw.Draw(page)
    scale = size[0] / 1654
    try:
        font = ImageFont.load_default(size=int(34 * scale))
    except TypeError:
        font = ImageFont.load_default()
    for i, line in enumerate(LETTER):
        draw.text((int(150 * scale), int((300 + i * 90) * scale)), line, fill=20, font=font)
    draw.rectangle([size[0] - 400 * scale, 120 * scale, size[0] - 150 * scale, 220 * scale], fill=30)
    return page


def make(case, blank, out_dir):
    rng = random.Random(case["name"])
    if case.get("letter"):
        image = letter_page((int(8.27 * case["dpi"]), int(11.69 * case["dpi"])))
    elif case.get("hand"):
        pdf = open(case.get("blank", blank), "rb").read()
        image = rasterise(pdf, case["dpi"], case["mode"] == "RGB")
        image = hand_print(image, pdf, case["values"], case["dpi"], case["hand"], rng)
    else:
        pdf = fill(case.get("blank", blank), case["values"])
        image = rasterise(pdf, case["dpi"], case["mode"] == "RGB")
    if case.get("perspective"):
        image = perspective(image, rng)
    if case.get("angle"):
        white = (255, 255, 255) if image.mode == "RGB" else 255
        image = image.rotate(case["angle"], Image.BICUBIC, expand=True, fillcolor=white)
    if case.get("speckle"):
        image = speckle(image, case["speckle"], rng)
    if case["mode"] == "1":
        # An office scanner's black & white mode: a threshold, no dithering.
        image = image.convert("L").point(lambda v: 255 if v > 150 else 0).convert("1", dither=Image.Dither.NONE)
    dpi = (case["dpi"], case["dpi"])
    container = case["container"]
    path = f"{out_dir}/{case['name']}"
    if container == "png":
        image.save(path + ".png", dpi=dpi)
    elif container == "jpeg":
        image.convert("L" if image.mode == "1" else image.mode).save(
            path + ".jpg", quality=case.get("jpeg") or 85, dpi=dpi
        )
    elif container == "pdf-jpeg":
        image.convert("L" if image.mode == "1" else image.mode).save(
            path + ".pdf", "PDF", resolution=case["dpi"], quality=case.get("jpeg") or 85
        )
    elif container == "pdf-ccitt":
        # Pillow writes a 1-bit image into a PDF as CCITT group 4.
        image.convert("1").save(path + ".pdf", "PDF", resolution=case["dpi"])
    elif container == "pdf-image":
        if case.get("jpeg"):
            buffer = io.BytesIO()
            image.save(buffer, "JPEG", quality=case["jpeg"])
            image = Image.open(buffer)
        with open(path + ".pdf", "wb") as f:
            f.write(flate_pdf(image.convert("L"), case["dpi"]))
    elif container == "pdf-two-pages":
        cover = letter_page(image.size).convert(image.mode)
        cover.save(path + ".pdf", "PDF", resolution=case["dpi"], save_all=True, append_images=[image])
    else:
        raise SystemExit(f"unknown container {container}")


def main():
    spec = json.load(open(sys.argv[1]))
    for case in spec["cases"]:
        make(case, spec["blank"], sys.argv[2])


if __name__ == "__main__":
    main()
