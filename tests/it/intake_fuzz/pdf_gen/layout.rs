//! How a case's objects are written to the file: a classic xref table, an
//! xref stream, or object streams, each with the damage a reader meets
//! there (wrong offsets, `/Prev` loops, `/W` widths, huge `/Size` and
//! `/Index`, object streams nested or listed inside themselves).

use super::*;

/// An xref-stream entry field written big-endian on `width` bytes.
fn field(out: &mut Vec<u8>, value: u64, width: usize) {
    for i in (0..width).rev() {
        out.push(if i >= 8 { 0 } else { (value >> (8 * i)) as u8 });
    }
}

pub(super) fn lay_out(r: &mut Rng, layout: Layout, objects: Vec<(u64, Vec<u8>)>) -> Vec<u8> {
    let version = pick(r, &["1.4", "1.5", "1.7", "2.0", "9.9"]);
    let mut out = format!("%PDF-{version}\n%\u{e2}\u{e3}\n").into_bytes();
    // id -> (type, field2, field3): 1 = offset, 2 = (stream, index).
    let mut entries: Vec<(u64, u8, u64, u64)> = Vec::new();
    let packable = |body: &Vec<u8>| !body.windows(6).any(|w| w == b"stream");
    let (packed, top): (Vec<_>, Vec<_>) = if layout == Layout::ObjectStreams {
        objects.into_iter().partition(|(_, body)| packable(body))
    } else {
        (Vec::new(), objects)
    };
    let write_object = |out: &mut Vec<u8>, id: u64, body: &[u8]| -> u64 {
        let at = out.len() as u64;
        out.extend_from_slice(format!("{id} 0 obj\n").as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
        at
    };
    for (id, body) in &top {
        let at = write_object(&mut out, *id, body);
        entries.push((*id, 1, at, 0));
    }
    // Object streams: the packed objects in one to three streams.
    let mut next_id = 200_000u64;
    if !packed.is_empty() {
        let n_streams = 1 + r.below(3);
        let per = packed.len().div_ceil(n_streams);
        let mut stream_ids = Vec::new();
        for chunk in packed.chunks(per) {
            let sid = next_id;
            next_id += 1;
            stream_ids.push(sid);
            let mut header = String::new();
            let mut body = Vec::new();
            for (index, (id, obj)) in chunk.iter().enumerate() {
                let offset = if one_in(r, 30) {
                    huge_number(r)
                } else {
                    body.len().to_string()
                };
                let listed = if one_in(r, 40) { sid } else { *id };
                header.push_str(&format!("{listed} {offset} "));
                body.extend_from_slice(obj);
                body.push(b'\n');
                entries.push((*id, 2, sid, index as u64));
            }
            let mut data = header.clone().into_bytes();
            data.extend_from_slice(&body);
            let n = if one_in(r, 6) {
                huge_number(r)
            } else if one_in(r, 6) {
                (chunk.len() + 1 + r.below(5)).to_string()
            } else {
                chunk.len().to_string()
            };
            let first = if one_in(r, 6) {
                let huge = huge_number(r);
                pick(
                    r,
                    &[
                        "0".to_string(),
                        huge,
                        (data.len() + 5).to_string(),
                        "-3".into(),
                    ],
                )
                .clone()
            } else {
                header.len().to_string()
            };
            let extends = match r.below(8) {
                0 => format!("/Extends {sid} 0 R"),
                1 => format!("/Extends {} 0 R", stream_ids[0]),
                _ => String::new(),
            };
            let dict = format!("/Type /ObjStm /N {n} /First {first} {extends}");
            let s = stream(r, &dict, &data);
            let at = write_object(&mut out, sid, &s);
            // Nested: the object stream said to live in another object stream.
            if one_in(r, 12) {
                entries.push((sid, 2, stream_ids[0], 0));
            } else if one_in(r, 20) {
                entries.push((sid, 2, sid, 0));
            } else {
                entries.push((sid, 1, at, 0));
            }
        }
    }
    // Wrong offsets.
    if one_in(r, 5) {
        for _ in 0..1 + r.below(4) {
            if entries.is_empty() {
                break;
            }
            let i = r.below(entries.len());
            entries[i].2 = match r.below(3) {
                0 => entries[i].2.wrapping_add(1 + r.below(40) as u64),
                1 => entries[i].2.saturating_sub(1 + r.below(40) as u64),
                _ => r.next() >> r.below(64),
            };
        }
    }
    entries.sort_by_key(|e| e.0);
    let size = entries.last().map_or(1, |e| e.0 + 1);
    let size_text = if one_in(r, 8) {
        let huge = huge_number(r);
        pick(
            r,
            &[
                "2147483647".to_string(),
                "99999999999".into(),
                "-1".into(),
                "0".into(),
                huge,
            ],
        )
        .clone()
    } else {
        size.to_string()
    };
    let prev_kind = r.below(10); // 0: self loop, 1: two-section loop, 2: wild
    let xref_at = out.len() as u64;
    let prev_placeholder = "/Prev 0000000000";
    let prev = match prev_kind {
        0 => format!("/Prev {xref_at}"),
        1 => prev_placeholder.to_string(),
        2 => format!("/Prev {}", huge_number(r)),
        _ => String::new(),
    };
    let root = if one_in(r, 20) { "30 0 R" } else { "1 0 R" };
    if layout == Layout::Table && !one_in(r, 20) {
        out.extend_from_slice(b"xref\n");
        // One subsection per run of consecutive ids.
        let mut i = 0;
        let first_line = if one_in(r, 10) {
            Some(format!("0 {}\n", size_text))
        } else {
            None
        };
        out.extend_from_slice(b"0 1\n0000000000 65535 f \n");
        if let Some(line) = first_line {
            out.extend_from_slice(line.as_bytes());
        }
        while i < entries.len() {
            let mut j = i;
            while j + 1 < entries.len() && entries[j + 1].0 == entries[j].0 + 1 {
                j += 1;
            }
            out.extend_from_slice(format!("{} {}\n", entries[i].0, j - i + 1).as_bytes());
            for e in &entries[i..=j] {
                out.extend_from_slice(
                    format!("{:010} 00000 n \n", e.2 % 10_000_000_000).as_bytes(),
                );
            }
            i = j + 1;
        }
        out.extend_from_slice(
            format!(
                "trailer\n<< /Size {size_text} /Root {root} {prev} {} >>\n",
                extra(r)
            )
            .as_bytes(),
        );
    } else {
        let widths = if one_in(r, 6) {
            pick(
                r,
                &[
                    [0usize, 0, 0],
                    [1, 0, 0],
                    [9, 9, 9],
                    [1, 40, 1],
                    [1, 1, 1],
                    [4, 8, 4],
                ],
            )
            .to_vec()
        } else {
            vec![1, 4, 2]
        };
        let w_text = match r.below(20) {
            0 => "[1 2]".to_string(),
            1 => "[-1 4 2]".into(),
            2 => format!("[1 {} 2]", huge_number(r)),
            _ => format!("[{} {} {}]", widths[0], widths[1], widths[2]),
        };
        let xref_id = next_id;
        let mut data = Vec::new();
        let mut index = Vec::new();
        let mut all = entries.clone();
        all.push((xref_id, 1, xref_at, 0));
        all.insert(0, (0, 0, 0, 65535));
        let mut i = 0;
        while i < all.len() {
            let mut j = i;
            while j + 1 < all.len() && all[j + 1].0 == all[j].0 + 1 {
                j += 1;
            }
            index.push(format!("{} {}", all[i].0, j - i + 1));
            for e in &all[i..=j] {
                field(&mut data, u64::from(e.1), widths[0]);
                field(&mut data, e.2, widths[1]);
                field(&mut data, e.3, widths[2]);
            }
            i = j + 1;
        }
        let index_text = match r.below(12) {
            0 => "/Index [0 4294967295]".to_string(),
            1 => format!("/Index [{} {}]", huge_number(r), huge_number(r)),
            2 => "/Index [0]".into(),
            _ => format!("/Index [{}]", index.join(" ")),
        };
        let dict = format!(
            "/Type /XRef /Size {} /W {w_text} {index_text} /Root {root} {prev}",
            if size_text == size.to_string() {
                (xref_id + 1).to_string()
            } else {
                size_text.clone()
            }
        );
        let s = stream(r, &dict, &data);
        write_object(&mut out, xref_id, &s);
    }
    if prev_kind == 1 {
        // A second section whose /Prev is the first, the first's the second.
        let second = out.len() as u64;
        out.extend_from_slice(
            format!("xref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size 1 /Prev {xref_at} >>\n")
                .as_bytes(),
        );
        let patched = format!("/Prev {second:010}");
        if let Some(at) = out
            .windows(prev_placeholder.len())
            .position(|w| w == prev_placeholder.as_bytes())
        {
            out[at..at + patched.len()].copy_from_slice(patched.as_bytes());
        }
    }
    let startxref = if one_in(r, 15) {
        huge_number(r)
    } else {
        xref_at.to_string()
    };
    out.extend_from_slice(format!("startxref\n{startxref}\n%%EOF\n").as_bytes());
    out
}
