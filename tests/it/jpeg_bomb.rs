//! JPEGs built on the fly for the image-budget tests (`forms/tests/image_bomb.rs`
//! includes this file): flat images of any declared size, baseline or
//! progressive, a few bytes a block.

#![allow(dead_code)]

/// A JPEG of `w × h` pixels and `components` components (1:1 sampling)
/// whose every block is flat: one quantisation table of ones, one Huffman
/// table with the single code `0` (DC difference 0, and end of block for a
/// baseline scan), so the data is a run of zero bits, one or two per block.
/// `progressive` writes a progressive frame (`SOF2`) with its first scan,
/// the DC coefficients of all components; `blocks` caps the data written
/// (a bomb declares more than it carries).
pub fn flat_jpeg(
    w: u16,
    h: u16,
    components: u8,
    progressive: bool,
    blocks: Option<usize>,
) -> Vec<u8> {
    fn segment(out: &mut Vec<u8>, marker: u8, data: &[u8]) {
        out.extend_from_slice(&[0xFF, marker]);
        out.extend_from_slice(&(data.len() as u16 + 2).to_be_bytes());
        out.extend_from_slice(data);
    }
    let mut out = vec![0xFF, 0xD8];
    segment(&mut out, 0xDB, &[[0u8].as_slice(), &[1; 64]].concat());
    let mut frame = vec![8];
    frame.extend_from_slice(&h.to_be_bytes());
    frame.extend_from_slice(&w.to_be_bytes());
    frame.push(components);
    for c in 1..=components {
        frame.extend_from_slice(&[c, 0x11, 0]);
    }
    segment(&mut out, if progressive { 0xC2 } else { 0xC0 }, &frame);
    let mut one_code = [0u8; 16];
    one_code[0] = 1; // one code of length 1…
    for table in [0x00u8, 0x10] {
        // …for symbol 0: DC difference 0 (table 0x00), end of block (0x10).
        segment(
            &mut out,
            0xC4,
            &[[table].as_slice(), &one_code, &[0]].concat(),
        );
    }
    let mut scan = vec![components];
    for c in 1..=components {
        scan.extend_from_slice(&[c, 0x00]);
    }
    scan.extend_from_slice(if progressive { &[0, 0, 0] } else { &[0, 63, 0] });
    segment(&mut out, 0xDA, &scan);
    let all = usize::from(w.div_ceil(8)) * usize::from(h.div_ceil(8)) * usize::from(components);
    let bits = blocks.unwrap_or(all) * if progressive { 1 } else { 2 };
    out.resize(out.len() + bits.div_ceil(8), 0);
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}
