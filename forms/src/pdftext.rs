//! Page text of a PDF, laid out in lines, for the text fallback.
//!
//! lopdf's own `extract_text` breaks lines only at `ET`/`T*`, so text placed
//! side by side (a label and the flattened value of its box) would come out
//! in arbitrary order. This walker follows the text and transformation
//! matrices (including form XObjects, where flattening tools often put field
//! appearances), records where each string is shown, then groups the strings
//! into lines by height and orders them left to right.

use std::collections::BTreeMap;

use lopdf::content::Content;
use lopdf::{Dictionary, Document, Encoding, Object, ObjectId};

use crate::budget;
use crate::read::{Limits, resolve_dict};

type Matrix = [f32; 6];
const IDENTITY: Matrix = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];

fn multiply(a: &Matrix, b: &Matrix) -> Matrix {
    [
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
        a[4] * b[0] + a[5] * b[2] + b[4],
        a[4] * b[1] + a[5] * b[3] + b[5],
    ]
}

/// A string shown at a place on the page (device space).
struct Piece {
    x: f32,
    y: f32,
    text: String,
}

/// Shared state of one page walk.
struct Walk<'a> {
    doc: &'a Document,
    limits: &'a Limits,
    operations: usize,
    pieces: Vec<Piece>,
    /// Form XObjects being walked, against reference cycles.
    open: Vec<ObjectId>,
}

/// The text of the first pages of `doc`, one line per line of text.
pub(crate) fn page_text(doc: &Document, limits: &Limits) -> String {
    let mut out = String::new();
    for page_id in doc.page_iter().take(limits.max_pages) {
        let mut walk = Walk {
            doc,
            limits,
            operations: 0,
            pieces: Vec::new(),
            open: Vec::new(),
        };
        let room = budget::room(limits.max_content_bytes);
        let Ok(content) = doc.get_page_content_with_limit(page_id, room) else {
            continue;
        };
        if !budget::charge(content.len()) {
            break;
        }
        let resources = page_resources(doc, page_id);
        walk.content(&content, resources, IDENTITY, 0);
        out.push_str(&lay_out(walk.pieces));
        out.push('\n');
    }
    out
}

/// The page's resources, inherited from its ancestors when absent.
fn page_resources(doc: &Document, page_id: ObjectId) -> Option<&Dictionary> {
    let mut node = doc.get_dictionary(page_id).ok()?;
    for _ in 0..16 {
        if let Some(resources) = node
            .get(b"Resources")
            .ok()
            .and_then(|r| resolve_dict(doc, r))
        {
            return Some(resources);
        }
        node = node
            .get(b"Parent")
            .ok()
            .and_then(|p| resolve_dict(doc, p))?;
    }
    None
}

fn numbers(operands: &[Object]) -> Vec<f32> {
    operands.iter().filter_map(|o| o.as_float().ok()).collect()
}

fn matrix(operands: &[Object]) -> Option<Matrix> {
    let n = numbers(operands);
    (n.len() == 6 && n.iter().all(|v| v.is_finite())).then(|| [n[0], n[1], n[2], n[3], n[4], n[5]])
}

impl<'a> Walk<'a> {
    fn fonts(&self, resources: Option<&'a Dictionary>) -> BTreeMap<Vec<u8>, Encoding<'a>> {
        let doc = self.doc;
        let Some(fonts) = resources
            .and_then(|r| r.get(b"Font").ok())
            .and_then(|f| resolve_dict(doc, f))
        else {
            return BTreeMap::new();
        };
        fonts
            .iter()
            .take(64)
            .filter_map(|(name, font)| {
                let font = resolve_dict(doc, font)?;
                let room = budget::room(self.limits.max_stream_bytes);
                let encoding = font.get_font_encoding_with_limit(doc, room).ok()?;
                // The encoding's size is not reported: charge the room given.
                budget::charge(room.min(64 * 1024)).then_some(())?;
                Some((name.clone(), encoding))
            })
            .collect()
    }

    fn content(
        &mut self,
        bytes: &[u8],
        resources: Option<&'a Dictionary>,
        ctm: Matrix,
        depth: usize,
    ) {
        let Ok(content) = Content::decode(bytes) else {
            return;
        };
        let fonts = self.fonts(resources);
        let mut ctm = ctm;
        let mut saved: Vec<Matrix> = Vec::new();
        let (mut tm, mut tlm, mut leading) = (IDENTITY, IDENTITY, 0.0_f32);
        let mut encoding: Option<&Encoding> = None;
        let mut last_at: Option<(f32, f32)> = None;
        for op in &content.operations {
            self.operations += 1;
            if self.operations > self.limits.max_operations
                || (self.operations.is_multiple_of(1024) && !budget::ok())
            {
                return;
            }
            let args = &op.operands;
            match op.operator.as_str() {
                "q" if saved.len() < 64 => saved.push(ctm),
                "Q" => ctm = saved.pop().unwrap_or(ctm),
                "cm" => {
                    if let Some(m) = matrix(args) {
                        ctm = multiply(&m, &ctm);
                    }
                }
                "BT" => (tm, tlm) = (IDENTITY, IDENTITY),
                "Tm" => {
                    if let Some(m) = matrix(args) {
                        (tm, tlm) = (m, m);
                    }
                }
                "Td" | "TD" => {
                    let n = numbers(args);
                    if let [tx, ty] = n[..] {
                        tlm = multiply(&[1.0, 0.0, 0.0, 1.0, tx, ty], &tlm);
                        tm = tlm;
                        if op.operator == "TD" {
                            leading = -ty;
                        }
                    }
                }
                "TL" => leading = numbers(args).first().copied().unwrap_or(leading),
                "T*" | "'" | "\"" => {
                    tlm = multiply(&[1.0, 0.0, 0.0, 1.0, 0.0, -leading], &tlm);
                    tm = tlm;
                }
                "Tf" => {
                    encoding = args
                        .first()
                        .and_then(|n| n.as_name().ok())
                        .and_then(|n| fonts.get(n));
                }
                "Do" => {
                    if let Some(name) = args.first().and_then(|n| n.as_name().ok()) {
                        self.xobject(name, resources, ctm, depth);
                    }
                    last_at = None;
                }
                _ => {}
            }
            let shown = match op.operator.as_str() {
                "Tj" | "'" => args.first().map(|s| vec![s]),
                "\"" => args.get(2).map(|s| vec![s]),
                "TJ" => args
                    .first()
                    .and_then(|a| a.as_array().ok())
                    .map(|a| a.iter().collect()),
                _ => None,
            };
            let (Some(items), Some(encoding)) = (shown, encoding) else {
                continue;
            };
            let mut text = String::new();
            for item in items {
                match item {
                    Object::String(bytes, _) => {
                        text.push_str(&Document::decode_text(encoding, bytes).unwrap_or_default());
                    }
                    // A large negative adjustment is a word space. Flattening
                    // tools correct glyph widths with adjustments near -300
                    // (poppler's substitute fonts), so only a wider gap counts.
                    other => {
                        if other.as_float().is_ok_and(|n| n < -400.0) && !text.ends_with(' ') {
                            text.push(' ');
                        }
                    }
                }
            }
            let trm = multiply(&tm, &ctm);
            let at = (trm[4], trm[5]);
            // Consecutive strings with no move in between continue one run.
            match self.pieces.last_mut() {
                Some(last) if last_at == Some(at) => last.text.push_str(&text),
                _ => self.pieces.push(Piece {
                    x: at.0,
                    y: at.1,
                    text,
                }),
            }
            last_at = Some(at);
        }
    }

    fn xobject(
        &mut self,
        name: &[u8],
        resources: Option<&'a Dictionary>,
        ctm: Matrix,
        depth: usize,
    ) {
        let doc = self.doc;
        if depth >= self.limits.max_depth.min(8) {
            return;
        }
        let Some(Ok(id)) = resources
            .and_then(|r| r.get(b"XObject").ok())
            .and_then(|x| resolve_dict(doc, x))
            .and_then(|x| x.get(name).ok())
            .map(Object::as_reference)
        else {
            return;
        };
        if self.open.contains(&id) {
            return;
        }
        let Ok(Object::Stream(stream)) = doc.get_object(id) else {
            return;
        };
        if stream.dict.get(b"Subtype").and_then(Object::as_name).ok() != Some(b"Form".as_slice()) {
            return;
        }
        let room = budget::room(self.limits.max_content_bytes);
        let bytes = match stream.decompressed_content_with_limit(room) {
            Ok(bytes) => bytes,
            // Not compressed at all: the raw content is the content.
            Err(_)
                if !stream.dict.has(b"Filter")
                    && stream.content.len() <= self.limits.max_content_bytes =>
            {
                stream.content.clone()
            }
            Err(_) => return,
        };
        if !budget::charge(bytes.len()) {
            return;
        }
        self.form(id, &bytes, stream, resources, ctm, depth);
    }

    fn form(
        &mut self,
        id: ObjectId,
        bytes: &[u8],
        stream: &'a lopdf::Stream,
        outer: Option<&'a Dictionary>,
        ctm: Matrix,
        depth: usize,
    ) {
        let doc = self.doc;
        let own = stream
            .dict
            .get(b"Resources")
            .ok()
            .and_then(|r| resolve_dict(doc, r));
        let m = stream
            .dict
            .get(b"Matrix")
            .ok()
            .and_then(|m| m.as_array().ok())
            .and_then(|m| matrix(m));
        let ctm = multiply(&m.unwrap_or(IDENTITY), &ctm);
        self.open.push(id);
        self.content(bytes, own.or(outer), ctm, depth + 1);
        self.open.pop();
    }
}

/// Groups pieces into lines (top to bottom), each ordered left to right.
fn lay_out(mut pieces: Vec<Piece>) -> String {
    pieces.retain(|p| p.x.is_finite() && p.y.is_finite() && !p.text.trim().is_empty());
    pieces.sort_by(|a, b| b.y.total_cmp(&a.y));
    let mut out = String::new();
    let mut line: Vec<Piece> = Vec::new();
    let flush = |line: &mut Vec<Piece>, out: &mut String| {
        line.sort_by(|a, b| a.x.total_cmp(&b.x));
        let texts: Vec<&str> = line.iter().map(|p| p.text.trim()).collect();
        out.push_str(&texts.join(" "));
        out.push('\n');
        line.clear();
    };
    for piece in pieces {
        if line.first().is_some_and(|first| first.y - piece.y > 3.5) {
            flush(&mut line, &mut out);
        }
        line.push(piece);
    }
    if !line.is_empty() {
        flush(&mut line, &mut out);
    }
    out
}
