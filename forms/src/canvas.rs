//! A small drawing surface over printpdf operations: text in the built-in
//! Helvetica faces (WinAnsi, so French accents render and extract), lines,
//! boxes and word wrapping. Coordinates are PDF points from the bottom left.

use printpdf::{
    BuiltinFont, Color, Line, LinePoint, Op, PaintMode, PdfFontHandle, Point, Pt, Rect, Rgb,
    TextItem,
};

use crate::metrics::{Face, text_width};

/// An RGB colour, components from 0 to 1.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rgb3(pub f32, pub f32, pub f32);

/// Near black, for body text.
pub(crate) const INK: Rgb3 = Rgb3(0.09, 0.09, 0.09);
/// The blue of the French State visual identity (#000091).
pub(crate) const BLUE: Rgb3 = Rgb3(0.0, 0.0, 0.569);
/// Grey for secondary text.
pub(crate) const GREY: Rgb3 = Rgb3(0.36, 0.36, 0.36);
/// Grey for the lines of the boxes.
pub(crate) const RULE: Rgb3 = Rgb3(0.45, 0.45, 0.45);
/// Light blue-grey background of section headings.
pub(crate) const BAND: Rgb3 = Rgb3(0.925, 0.925, 0.976);
/// Light grey background of the instructions.
pub(crate) const PANEL: Rgb3 = Rgb3(0.961, 0.961, 0.961);
/// The red of the French State visual identity (#E1000F).
pub(crate) const RED: Rgb3 = Rgb3(0.882, 0.0, 0.059);

fn colour(c: Rgb3) -> Color {
    Color::Rgb(Rgb::new(c.0, c.1, c.2, None))
}

fn point(x: f32, y: f32) -> Point {
    Point { x: Pt(x), y: Pt(y) }
}

/// Collects the operations of one page.
#[derive(Default)]
pub(crate) struct Canvas {
    ops: Vec<Op>,
}

impl Canvas {
    /// The operations drawn so far.
    pub(crate) fn into_ops(self) -> Vec<Op> {
        self.ops
    }

    /// Writes `text` with its baseline starting at (`x`, `y`).
    pub(crate) fn text(&mut self, x: f32, y: f32, size: f32, face: Face, ink: Rgb3, text: &str) {
        let font = match face {
            Face::Regular => BuiltinFont::Helvetica,
            Face::Bold => BuiltinFont::HelveticaBold,
        };
        self.ops.extend([
            Op::StartTextSection,
            Op::SetFillColor { col: colour(ink) },
            Op::SetFont {
                font: PdfFontHandle::Builtin(font),
                size: Pt(size),
            },
            Op::SetTextCursor { pos: point(x, y) },
            Op::ShowText {
                items: vec![TextItem::Text(text.to_owned())],
            },
            Op::EndTextSection,
        ]);
    }

    /// Writes `text` centred on `cx`.
    pub(crate) fn text_centred(
        &mut self,
        cx: f32,
        y: f32,
        size: f32,
        face: Face,
        ink: Rgb3,
        text: &str,
    ) {
        let x = cx - text_width(text, face, size) / 2.0;
        self.text(x, y, size, face, ink, text);
    }

    /// Writes `text` so that it ends at `right`.
    pub(crate) fn text_right(
        &mut self,
        right: f32,
        y: f32,
        size: f32,
        face: Face,
        ink: Rgb3,
        text: &str,
    ) {
        let x = right - text_width(text, face, size);
        self.text(x, y, size, face, ink, text);
    }

    /// A straight line.
    pub(crate) fn line(&mut self, from: (f32, f32), to: (f32, f32), width: f32, ink: Rgb3) {
        self.ops.extend([
            Op::SetOutlineColor { col: colour(ink) },
            Op::SetOutlineThickness { pt: Pt(width) },
            Op::DrawLine {
                line: Line {
                    points: vec![
                        LinePoint {
                            p: point(from.0, from.1),
                            bezier: false,
                        },
                        LinePoint {
                            p: point(to.0, to.1),
                            bezier: false,
                        },
                    ],
                    is_closed: false,
                },
            },
        ]);
    }

    /// The outline of a rectangle whose bottom-left corner is (`x`, `y`).
    pub(crate) fn frame(&mut self, x: f32, y: f32, w: f32, h: f32, width: f32, ink: Rgb3) {
        self.ops.extend([
            Op::SetOutlineColor { col: colour(ink) },
            Op::SetOutlineThickness { pt: Pt(width) },
            Op::DrawRectangle {
                rectangle: rect(x, y, w, h, PaintMode::Stroke),
            },
        ]);
    }

    /// A filled rectangle without outline.
    pub(crate) fn fill(&mut self, x: f32, y: f32, w: f32, h: f32, ink: Rgb3) {
        self.ops.extend([
            Op::SetFillColor { col: colour(ink) },
            Op::DrawRectangle {
                rectangle: rect(x, y, w, h, PaintMode::Fill),
            },
        ]);
    }
}

fn rect(x: f32, y: f32, w: f32, h: f32, mode: PaintMode) -> Rect {
    Rect {
        x: Pt(x),
        y: Pt(y),
        width: Pt(w),
        height: Pt(h),
        mode: Some(mode),
        winding_order: None,
    }
}

/// Splits `text` into lines no wider than `width` points.
pub(crate) fn wrap(text: &str, face: Face, size: f32, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let candidate = if current.is_empty() {
            word.to_owned()
        } else {
            format!("{current} {word}")
        };
        if text_width(&candidate, face, size) > width && !current.is_empty() {
            lines.push(std::mem::replace(&mut current, word.to_owned()));
        } else {
            current = candidate;
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_every_word_and_respects_the_width() {
        let text = "Faites-le signer par le chef d'établissement ou le responsable de l'organisme.";
        let lines = wrap(text, Face::Regular, 10.0, 150.0);
        assert!(lines.len() > 1);
        assert_eq!(lines.join(" "), text);
        assert!(
            lines
                .iter()
                .all(|l| text_width(l, Face::Regular, 10.0) <= 150.0)
        );
    }
}
