//! Structure-aware PDF generator for the fuzzer: each case is a form-like
//! document (catalog, page tree, content, font, form XObject, AcroForm
//! fields) laid out with a classic xref table, an xref stream or object
//! streams, and then damaged where a reader is weakest: object streams
//! (bad `/N`, `/First`, offsets, nested, self-referencing, `/Extends`
//! loops), cross-reference data (wrong offsets, `/Prev` loops, `/W`
//! widths, huge `/Size` and `/Index`), filters (bad Flate data, chains,
//! unknown filters, predictors, ASCIIHex, ASCII85, LZW, RunLength),
//! nesting (deep arrays and dictionaries, reference cycles, `/Kids` loops
//! in the page tree and the field tree) and huge numbers and lengths.
//! Everything comes from the [`Rng`] given, so a case is replayed from its
//! seed alone.

mod layout;

use super::Rng;
use layout::lay_out;
use std::io::Write;

/// Decides `1 in n`.
fn one_in(r: &mut Rng, n: usize) -> bool {
    r.below(n) == 0
}

/// A count up to `max` now and then, mostly up to `max / 100`: large
/// inputs are costly to build and read, a few of them find what they find.
fn big(r: &mut Rng, max: usize) -> usize {
    let cap = if one_in(r, 10) { max } else { max / 100 + 1 };
    r.below(cap)
}

fn pick<'a, T>(r: &mut Rng, items: &'a [T]) -> &'a T {
    &items[r.below(items.len())]
}

#[derive(Clone, Copy, Debug)]
enum Filter {
    Flate,
    /// Flate with a PNG predictor over rows of `columns` bytes.
    FlatePng {
        columns: usize,
    },
    Hex,
    A85,
    Lzw,
    RunLength,
    /// A filter no reader knows.
    Unknown,
}

impl Filter {
    fn name(self) -> &'static str {
        match self {
            Filter::Flate | Filter::FlatePng { .. } => "/FlateDecode",
            Filter::Hex => "/ASCIIHexDecode",
            Filter::A85 => "/ASCII85Decode",
            Filter::Lzw => "/LZWDecode",
            Filter::RunLength => "/RunLengthDecode",
            Filter::Unknown => "/BrotliDecode",
        }
    }

    fn encode(self, data: &[u8]) -> Vec<u8> {
        match self {
            Filter::Flate => deflate(data),
            Filter::FlatePng { columns } => {
                let mut rows = Vec::with_capacity(data.len() + data.len() / columns + 1);
                for row in data.chunks(columns) {
                    rows.push(0); // PNG "None": the row as it is.
                    rows.extend_from_slice(row);
                    rows.resize(rows.len() + columns - row.len(), 0);
                }
                deflate(&rows)
            }
            Filter::Hex => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                let mut out = Vec::with_capacity(data.len() * 2 + 1);
                for b in data {
                    out.push(HEX[usize::from(b >> 4)]);
                    out.push(HEX[usize::from(b & 15)]);
                }
                out.push(b'>');
                out
            }
            Filter::A85 => ascii85(data),
            Filter::Lzw => lzw(data),
            Filter::RunLength => {
                let mut out = Vec::with_capacity(data.len() + data.len() / 128 + 2);
                for chunk in data.chunks(128) {
                    out.push((chunk.len() - 1) as u8);
                    out.extend_from_slice(chunk);
                }
                out.push(128);
                out
            }
            Filter::Unknown => data.to_vec(),
        }
    }

    /// The `/DecodeParms` entry of this filter (`null` when it has none).
    fn parms(self, r: &mut Rng) -> String {
        match self {
            Filter::FlatePng { columns } => {
                if one_in(r, 3) {
                    // Parameters that do not match the data.
                    let columns = pick(r, &[0i64, -1, 1, 7, 4096, 1 << 31, 99_999_999_999]);
                    let colors = pick(r, &[1i64, 0, 3, 4, 255, 1 << 20]);
                    let bits = pick(r, &[8i64, 1, 2, 16, 0, 3, 64]);
                    let predictor = pick(r, &[12i64, 2, 10, 15, 1, 0, 99]);
                    format!(
                        "<< /Predictor {predictor} /Columns {columns} /Colors {colors} /BitsPerComponent {bits} >>"
                    )
                } else {
                    format!("<< /Predictor 12 /Columns {columns} >>")
                }
            }
            Filter::Lzw => {
                format!("<< /EarlyChange {} >>", pick(r, &[1, 1, 1, 0, 7]))
            }
            _ => "null".into(),
        }
    }
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(data).expect("deflate into memory");
    z.finish().expect("deflate into memory")
}

fn ascii85(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() * 5 / 4 + 4);
    for chunk in data.chunks(4) {
        let mut group = [0u8; 4];
        group[..chunk.len()].copy_from_slice(chunk);
        let mut n = u32::from_be_bytes(group);
        if chunk.len() == 4 && n == 0 {
            out.push(b'z');
            continue;
        }
        let mut digits = [0u8; 5];
        for d in digits.iter_mut().rev() {
            *d = (n % 85) as u8 + b'!';
            n /= 85;
        }
        out.extend_from_slice(&digits[..chunk.len() + 1]);
    }
    out.extend_from_slice(b"~>");
    out
}

/// LZW as PDF reads it (9-bit codes, early change): literal codes only,
/// with a clear code often enough that the code width never grows.
fn lzw(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() * 9 / 8 + 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    let mut emit = |code: u32, out: &mut Vec<u8>| {
        acc = (acc << 9) | code;
        bits += 9;
        while bits >= 8 {
            out.push((acc >> (bits - 8)) as u8);
            bits -= 8;
        }
        acc &= (1 << bits) - 1;
    };
    emit(256, &mut out);
    for (i, &b) in data.iter().enumerate() {
        if i > 0 && i % 250 == 0 {
            emit(256, &mut out);
        }
        emit(u32::from(b), &mut out);
    }
    emit(257, &mut out);
    if bits > 0 {
        out.push((acc << (8 - bits)) as u8);
    }
    out
}

/// Damages encoded bytes: bit flips, truncation, random bytes.
fn damage(r: &mut Rng, data: &mut Vec<u8>) {
    match r.below(4) {
        0 if !data.is_empty() => {
            for _ in 0..1 + r.below(4) {
                let i = r.below(data.len());
                data[i] ^= 1 << r.below(8);
            }
        }
        1 => {
            let keep = r.below(data.len() + 1);
            data.truncate(keep);
        }
        2 => {
            let n = r.below(256);
            *data = (0..n).map(|_| r.next() as u8).collect();
        }
        _ => {
            let at = r.below(data.len() + 1);
            let noise: Vec<u8> = (0..r.below(32)).map(|_| r.next() as u8).collect();
            data.splice(at..at, noise);
        }
    }
}

/// A number a reader may choke on.
fn huge_number(r: &mut Rng) -> String {
    match r.below(9) {
        0 => "99999999999999999999999999999999".into(),
        1 => "-2147483649".into(),
        2 => "4294967296".into(),
        3 => "1e400".into(),
        4 => "340282366920938463463374607431768211457.5".into(),
        5 => "9".repeat(1 + big(r, 4000)),
        6 => "-0".into(),
        7 => ".".into(),
        _ => format!("{}", r.next() as i64),
    }
}

/// A value to slip into a dictionary: deep nesting, huge numbers, cycles,
/// long names and strings.
fn hostile_value(r: &mut Rng) -> String {
    let depth = *pick(r, &[8usize, 60, 63, 64, 65, 100, 500, 5_000, 50_000]);
    match r.below(9) {
        0 => format!("{}{}", "[".repeat(depth), "]".repeat(depth)),
        1 => format!("{}{}", "<< /A ".repeat(depth), ">>".repeat(depth)),
        2 => {
            // Unclosed, or closed the wrong way.
            let open = if one_in(r, 2) { "[" } else { "<<" };
            open.repeat(depth)
        }
        3 => huge_number(r),
        4 => format!("{} 0 R", pick(r, &[30, 31, 32, 0, 99_999, 2_147_483_647])),
        5 => format!("/{}", "N".repeat(1 + big(r, 70_000))),
        6 => format!("({})", "(".repeat(1 + big(r, 5_000))),
        7 => format!("<{}>", "F".repeat(1 + big(r, 10_000))),
        _ => format!("[{}]", "0 ".repeat(big(r, 20_000))),
    }
}

/// Sometimes an extra key with a hostile value.
fn extra(r: &mut Rng) -> String {
    if one_in(r, 6) {
        format!(" /X {} ", hostile_value(r))
    } else {
        String::new()
    }
}

/// A stream object: `data` encoded with a random filter chain, possibly
/// damaged, with a right or wrong `/Length`.
fn stream(r: &mut Rng, dict: &str, data: &[u8]) -> Vec<u8> {
    let chain: Vec<Filter> = match r.below(10) {
        0 => vec![],
        1..=3 => vec![Filter::Flate],
        4 => vec![Filter::FlatePng {
            columns: *pick(r, &[1, 4, 5, 17, 80]),
        }],
        5 => vec![*pick(
            r,
            &[Filter::Hex, Filter::A85, Filter::Lzw, Filter::RunLength],
        )],
        6 => vec![Filter::Unknown],
        _ => (0..2 + {
            let more = if one_in(r, 4) { 6 } else { 2 };
            r.below(more)
        })
            .map(|_| {
                *pick(
                    r,
                    &[
                        Filter::Flate,
                        Filter::Hex,
                        Filter::A85,
                        Filter::Lzw,
                        Filter::RunLength,
                        Filter::FlatePng { columns: 3 },
                    ],
                )
            })
            .collect(),
    };
    let mut encoded = data.to_vec();
    for f in chain.iter().rev() {
        encoded = f.encode(&encoded);
    }
    if one_in(r, 6) {
        damage(r, &mut encoded);
    }
    let filter = match chain.len() {
        0 => String::new(),
        1 => format!(
            "/Filter {} /DecodeParms {}",
            chain[0].name(),
            chain[0].parms(r)
        ),
        _ => {
            let names: Vec<_> = chain.iter().map(|f| f.name()).collect();
            let parms: Vec<_> = chain.iter().map(|f| f.parms(r)).collect();
            format!(
                "/Filter [{}] /DecodeParms [{}]",
                names.join(" "),
                parms.join(" ")
            )
        }
    };
    let length = match r.below(12) {
        0 => huge_number(r),
        1 => format!("{}", encoded.len() + 1 + r.below(100)),
        2 => format!("{}", encoded.len().saturating_sub(1 + r.below(100))),
        3 => "33 0 R".into(),
        _ => encoded.len().to_string(),
    };
    let mut out = format!("<< {dict} {filter} /Length {length} >>\nstream\n").into_bytes();
    out.extend_from_slice(&encoded);
    out.extend_from_slice(b"\nendstream");
    out
}

/// How the objects are laid out in the file.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Layout {
    Table,
    XrefStream,
    ObjectStreams,
}

/// The page content: the form's labels with values, as a flattened copy
/// would show them, plus operators with hostile operands.
fn content(r: &mut Rng) -> Vec<u8> {
    let mut c = b"BT /F1 11 Tf 50 760 Td (N\\260 abonn\\351 : 12345) Tj 0 -20 Td (Nouvelle adresse : agent@ac-montpellier.fr) Tj ET\n".to_vec();
    for _ in 0..r.below(4) {
        let op: String = match r.below(8) {
            0 => format!("{} 0 0 {} 0 0 cm\n", huge_number(r), huge_number(r)),
            1 => "/X1 Do\n".into(),
            2 => format!(
                "BT /F1 {} Tf ({}) Tj ET\n",
                huge_number(r),
                "x".repeat(big(r, 5000))
            ),
            3 => "q ".repeat(big(r, 100_000)),
            4 => format!("BT {} TJ ET\n", hostile_value(r)),
            5 => "0 0 m 1 1 l S\n".repeat(big(r, 50_000)),
            6 => format!("BT ({}) ' ET\n", "\\".repeat(r.below(3))),
            _ => "BT /F1 12 Tf 0 Tc 0 Tw 100 Tz T* ET\n".into(),
        };
        c.extend_from_slice(op.as_bytes());
    }
    c
}

/// A ToUnicode CMap, well formed or not.
fn cmap(r: &mut Rng) -> Vec<u8> {
    let mut c = b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n1 begincodespacerange <00> <FF> endcodespacerange\n".to_vec();
    match r.below(4) {
        0 => c.extend_from_slice(b"1 beginbfrange <00> <FF> <0041> endbfrange\n"),
        1 => c.extend_from_slice(
            format!(
                "{} beginbfchar <{}> <{}> endbfchar\n",
                huge_number(r),
                "0".repeat(r.below(64)),
                "D8".repeat(r.below(64))
            )
            .as_bytes(),
        ),
        2 => c.extend_from_slice(b"1 beginbfrange <0000> <FFFF> [<0041>] endbfrange\n"),
        _ => c.extend_from_slice(b"1 beginbfrange <FF> <00> <FFFFFFFF> endbfrange\n"),
    }
    c.extend_from_slice(b"endcmap CMapName currentdict /CMap defineresource pop end end\n");
    c
}

/// One structure-aware case.
pub fn structured_pdf(r: &mut Rng) -> Vec<u8> {
    let mut objects: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut add = |id: u64, body: Vec<u8>| objects.push((id, body));

    // 1 catalog, 2 page tree, 3 page, 4 content, 5 font, 6 AcroForm,
    // 7 and 8 fields, 9 form XObject, 10 field kid, 30–32 reference cycle,
    // 33 a length, 34 ToUnicode.
    add(
        1,
        format!(
            "<< /Type /Catalog /Pages 2 0 R /AcroForm {} {} >>",
            if one_in(r, 8) { "1 0 R" } else { "6 0 R" },
            extra(r)
        )
        .into_bytes(),
    );
    let page_kids = match r.below(8) {
        0 => "[3 0 R 2 0 R]".to_string(),
        1 => "[3 0 R 3 0 R 3 0 R]".into(),
        2 => format!("[{}]", "3 0 R ".repeat(big(r, 20_000))),
        3 => "2 0 R".into(),
        _ => "[3 0 R]".into(),
    };
    let count = if one_in(r, 6) {
        huge_number(r)
    } else {
        "1".into()
    };
    add(
        2,
        format!(
            "<< /Type /Pages /Kids {page_kids} /Count {count} {} >>",
            extra(r)
        )
        .into_bytes(),
    );
    let page = if one_in(r, 10) {
        // A page that is a tree node pointing back up.
        "<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 1 /Parent 3 0 R >>".to_string()
    } else {
        let contents = match r.below(8) {
            0 => format!("[{}]", "4 0 R ".repeat(1 + big(r, 5_000))),
            1 => "3 0 R".into(),
            2 => "30 0 R".into(),
            _ => "4 0 R".into(),
        };
        format!(
            "<< /Type /Page /Parent {} /MediaBox [0 0 {} 842] /Contents {contents} /Resources << /Font << /F1 5 0 R >> /XObject << /X1 9 0 R >> >> {} >>",
            if one_in(r, 8) { "3 0 R" } else { "2 0 R" },
            if one_in(r, 8) {
                huge_number(r)
            } else {
                "595".into()
            },
            extra(r)
        )
    };
    add(3, page.into_bytes());
    let c = content(r);
    add(4, stream(r, "", &c));
    let font = format!(
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding {} {} {} >>",
        match r.below(6) {
            0 => format!(
                "<< /Type /Encoding /Differences [{} /eacute {} /degree] >>",
                huge_number(r),
                huge_number(r)
            ),
            1 => "30 0 R".into(),
            2 => "/Identity-H".into(),
            _ => "/WinAnsiEncoding".into(),
        },
        if one_in(r, 4) {
            "/ToUnicode 34 0 R"
        } else {
            ""
        },
        extra(r)
    );
    add(5, font.into_bytes());
    let cm = cmap(r);
    add(34, stream(r, "", &cm));
    add(
        6,
        format!(
            "<< /Fields {} /NeedAppearances true {} >>",
            match r.below(8) {
                0 => "[7 0 R 8 0 R 6 0 R 1 0 R]".to_string(),
                1 => format!("[{}]", "7 0 R ".repeat(big(r, 20_000))),
                2 => "31 0 R".into(),
                _ => "[7 0 R 8 0 R]".into(),
            },
            extra(r)
        )
        .into_bytes(),
    );
    let kids = match r.below(6) {
        0 => "/Kids [7 0 R]",
        1 => "/Kids [10 0 R]",
        2 => "/Kids [10 0 R 7 0 R 10 0 R]",
        _ => "",
    };
    add(
        7,
        format!(
            "<< /FT /Tx /T (numero_abonne) /V {} {kids} /Parent {} {} >>",
            match r.below(6) {
                0 => "32 0 R".to_string(),
                1 => "(\\376\\377\\000".to_string() + "1)",
                2 => hostile_value(r),
                _ => "(12345)".into(),
            },
            if one_in(r, 4) { "7 0 R" } else { "6 0 R" },
            extra(r)
        )
        .into_bytes(),
    );
    add(
        10,
        format!(
            "<< /FT /Tx /T (numero_abonne) /Kids [7 0 R 10 0 R] /Parent 7 0 R {} >>",
            extra(r)
        )
        .into_bytes(),
    );
    let value = if one_in(r, 4) {
        "35 0 R".to_string()
    } else {
        "(agent@ac-montpellier.fr)".to_string()
    };
    add(
        8,
        format!(
            "<< /FT /Tx /T (nouvelle_adresse_mel) /V {value} {} >>",
            extra(r)
        )
        .into_bytes(),
    );
    let rich = b"agent@ac-montpellier.fr".repeat(1 + r.below(3));
    add(35, stream(r, "", &rich));
    let xobject = format!(
        "/Type /XObject /Subtype /Form /BBox [0 0 100 100] /Resources << /XObject << /X1 9 0 R >> /Font << /F1 5 0 R >> >> /Matrix [{} 0 0 1 0 0]",
        if one_in(r, 4) {
            huge_number(r)
        } else {
            "1".into()
        }
    );
    let xdata = b"BT /F1 9 Tf (Nom : Dupont) Tj ET /X1 Do".to_vec();
    add(9, stream(r, &xobject, &xdata));
    // A reference cycle, and a length that is an object.
    add(30, b"31 0 R".to_vec());
    add(31, b"32 0 R".to_vec());
    add(32, b"30 0 R".to_vec());
    add(33, huge_number(r).into_bytes());
    // Filler objects: a few, or very many.
    let fillers = if one_in(r, 100) {
        r.below(150_000)
    } else {
        r.below(20)
    };
    for i in 0..fillers {
        add(100 + i as u64, format!("[{i} (filler)]").into_bytes());
    }
    if one_in(r, 12) {
        // A high object number.
        add(
            *pick(r, &[8_388_607u64, 2_147_483_647, 4_294_967_295, 99_999_999]),
            b"<< /Huge true >>".to_vec(),
        );
    }

    let layout = *pick(
        r,
        &[Layout::Table, Layout::XrefStream, Layout::ObjectStreams],
    );
    lay_out(r, layout, objects)
}

/// Byte-level damage on top of a structured case, now and then.
pub fn maybe_damage(r: &mut Rng, pdf: &mut Vec<u8>) {
    if one_in(r, 5) {
        for _ in 0..1 + r.below(3) {
            damage(r, pdf);
            if pdf.len() < 16 {
                break;
            }
        }
        if !pdf.starts_with(b"%PDF-") && one_in(r, 2) {
            pdf.splice(0..0, b"%PDF-1.7\n".iter().copied());
        }
    }
}
