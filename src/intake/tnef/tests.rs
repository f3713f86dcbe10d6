//! Hand-built TNEF blobs, and a seeded mutation loop showing that no input
//! makes the reader panic or hand back more bytes than it was given.

use super::*;

const ATT_MESSAGE_CLASS: u32 = 0x0007_8008;
const ATT_BODY: u32 = 0x0002_800C;

fn blob() -> Vec<u8> {
    let mut b = SIGNATURE.to_le_bytes().to_vec();
    b.extend_from_slice(&0x0001u16.to_le_bytes());
    b
}

fn attr(b: &mut Vec<u8>, level: u8, id: u32, data: &[u8]) {
    b.push(level);
    b.extend_from_slice(&id.to_le_bytes());
    b.extend_from_slice(&(data.len() as u32).to_le_bytes());
    b.extend_from_slice(data);
    b.extend_from_slice(&checksum(data).to_le_bytes());
}

/// An attachment as Outlook writes it: rendering, title, data, then properties.
fn attachment(b: &mut Vec<u8>, title: &[u8], data: &[u8], props: Option<&[u8]>) {
    attr(
        b,
        2,
        ATT_ATTACH_REND_DATA,
        &[1, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0],
    );
    attr(b, 2, ATT_ATTACH_TITLE, title);
    attr(b, 2, ATT_ATTACH_DATA, data);
    if let Some(p) = props {
        attr(b, 2, ATT_ATTACHMENT, p);
    }
}

fn padded(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
    out.resize(out.len().next_multiple_of(4), 0);
}

/// A property block: a PT_LONG, a named PT_BINARY, then the long name.
fn props(long_name: &[u8], ptype: u16) -> Vec<u8> {
    let mut p = 3u32.to_le_bytes().to_vec();
    p.extend_from_slice(&0x0003u16.to_le_bytes()); // PT_LONG
    p.extend_from_slice(&0x0E21u16.to_le_bytes()); // PR_ATTACH_NUM
    p.extend_from_slice(&7u32.to_le_bytes());
    p.extend_from_slice(&0x0102u16.to_le_bytes()); // PT_BINARY, named
    p.extend_from_slice(&0x8005u16.to_le_bytes());
    p.extend_from_slice(&[0xAB; 16]);
    p.extend_from_slice(&1u32.to_le_bytes()); // by name
    padded(&mut p, &[b'x', 0, b'y', 0, 0, 0]);
    p.extend_from_slice(&1u32.to_le_bytes());
    padded(&mut p, b"abc");
    p.extend_from_slice(&ptype.to_le_bytes());
    p.extend_from_slice(&0x3707u16.to_le_bytes());
    p.extend_from_slice(&1u32.to_le_bytes());
    padded(&mut p, long_name);
    p
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .chain([0])
        .flat_map(u16::to_le_bytes)
        .collect()
}

fn outlook_like() -> Vec<u8> {
    let mut b = blob();
    attr(&mut b, 1, ATT_MESSAGE_CLASS, b"IPM.Microsoft Mail.Note\0");
    attr(&mut b, 1, ATT_BODY, b"Bonjour");
    attachment(
        &mut b,
        b"FORMUL~1.PDF\0",
        b"%PDF-1.7 form",
        Some(&props(&utf16("Formulaire signé.pdf"), 0x001F)),
    );
    attachment(&mut b, b"logo.png\0", b"\x89PNG", None);
    b
}

#[test]
fn attachments_are_read_with_their_long_names() {
    let blob = outlook_like();
    let d = read(&blob).unwrap();
    assert_eq!(d.checksum_errors, 0);
    assert!(!d.truncated);
    assert_eq!(
        d.files,
        [
            File {
                name: Some("Formulaire signé.pdf".into()),
                data: b"%PDF-1.7 form"
            },
            File {
                name: Some("logo.png".into()),
                data: b"\x89PNG"
            },
        ]
    );
}

#[test]
fn an_8bit_long_name_is_windows_1252_and_the_title_a_fallback() {
    let mut b = blob();
    attachment(
        &mut b,
        b"CHANGE~1.PDF\0",
        b"x",
        Some(&props(b"Changement d\x92adresse m\xe9l.pdf\0", 0x001E)),
    );
    attachment(&mut b, b"R\xc9PONSE.PDF\0junk", b"y", Some(&[9, 9]));
    let d = read(&b).unwrap();
    assert_eq!(
        d.files[0].name.as_deref(),
        Some("Changement d’adresse mél.pdf")
    );
    assert_eq!(d.files[1].name.as_deref(), Some("RÉPONSE.PDF"));
}

#[test]
fn checksum_mismatches_are_counted_not_fatal() {
    let mut b = outlook_like();
    let last = b.len() - 1;
    b[last] ^= 0xff;
    let d = read(&b).unwrap();
    assert_eq!(d.checksum_errors, 1);
    assert_eq!(d.files.len(), 2);
}

#[test]
fn a_length_past_the_end_stops_the_walk_and_keeps_what_was_read() {
    let mut b = outlook_like();
    attr(&mut b, 2, ATT_ATTACH_REND_DATA, &[0; 14]);
    b.push(2);
    b.extend_from_slice(&ATT_ATTACH_DATA.to_le_bytes());
    b.extend_from_slice(&u32::MAX.to_le_bytes());
    b.extend_from_slice(b"short");
    let d = read(&b).unwrap();
    assert!(d.truncated);
    assert_eq!(d.files.len(), 2);
}

#[test]
fn attachments_without_data_are_skipped_and_the_count_is_bounded() {
    let mut b = blob();
    attr(&mut b, 2, ATT_ATTACH_REND_DATA, &[0; 14]);
    attr(&mut b, 2, ATT_ATTACH_TITLE, b"OLE\0");
    for i in 0..40u8 {
        attachment(&mut b, b"a.txt\0", &[i], None);
    }
    let d = read(&b).unwrap();
    assert_eq!(d.files.len(), MAX_FILES);
    assert!(d.truncated);
    assert_eq!(d.files[0].data, [0]);
}

#[test]
fn other_bytes_are_not_tnef() {
    assert_eq!(read(b"%PDF-1.7"), Err(TnefError::NotTnef));
    assert_eq!(read(&[]), Err(TnefError::NotTnef));
    assert_eq!(read(&blob()).unwrap(), Decoded::default());
}

#[test]
fn winmail_dat_gives_typed_attachments_at_its_depth() {
    let outer = Attachment {
        filename: Some("winmail.dat".into()),
        content_type: "application/ms-tnef".into(),
        data: outlook_like(),
        depth: 1,
    };
    let inner = inner_attachments(&outer, 10);
    assert_eq!(inner.len(), 2);
    assert_eq!(inner[0].content_type, "application/pdf");
    assert_eq!(inner[0].depth, 1);
    assert_eq!(inner[1].content_type, "image/png");
    assert_eq!(inner_attachments(&outer, 1).len(), 1);
    let pdf = Attachment {
        content_type: "application/pdf".into(),
        ..outer
    };
    assert!(
        inner_attachments(
            &Attachment {
                data: b"%PDF".to_vec(),
                ..pdf
            },
            10
        )
        .is_empty()
    );
}

/// xorshift64*: seeded, so that a failing case can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut m = seed.to_vec();
    for _ in 0..1 + rng.below(6) {
        let at = rng.below(m.len() + 1);
        match rng.below(6) {
            0 if at < m.len() => m[at] ^= 1 << rng.below(8),
            1 => m.truncate(at.max(4)),
            // A length or count field overwritten: small, huge, or just past the end.
            2 if at + 4 <= m.len() => {
                let v = match rng.below(3) {
                    0 => rng.below(64) as u32,
                    1 => u32::MAX - rng.below(16) as u32,
                    _ => (m.len() - at + rng.below(8)) as u32,
                };
                m[at..at + 4].copy_from_slice(&v.to_le_bytes());
            }
            3 => {
                let n = rng.below(32);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                m.splice(at..at, bytes);
            }
            4 if at < m.len() => {
                let end = (at + rng.below(64)).min(m.len());
                m.drain(at..end);
            }
            _ => {
                let from = rng.below(m.len());
                let chunk = m[from..(from + rng.below(40)).min(m.len())].to_vec();
                m.splice(at..at, chunk);
            }
        }
    }
    m
}

#[test]
fn no_mutated_blob_makes_the_reader_panic_or_overreach() {
    let seed = std::env::var("BAREME_MEL_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x7e4e_f00d_u64);
    let cases: usize = std::env::var("BAREME_MEL_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5000);
    let mut rng = Rng(seed | 1);
    let corpus = [outlook_like(), {
        let mut b = blob();
        attachment(
            &mut b,
            b"x.pdf\0",
            b"%PDF",
            Some(&props(b"long.pdf\0", 0x001E)),
        );
        b
    }];
    for case in 0..cases {
        let m = mutate(&mut rng, &corpus[case % corpus.len()]);
        if let Ok(d) = read(&m) {
            let total: usize = d.files.iter().map(|f| f.data.len()).sum();
            assert!(total <= m.len(), "case {case}: more bytes out than in");
            assert!(d.files.len() <= MAX_FILES, "case {case}");
            for f in &d.files {
                let name = f.name.as_deref().unwrap_or_default();
                assert!(name.chars().count() <= MAX_NAME_CHARS, "case {case}");
                assert!(!name.chars().any(char::is_control), "case {case}");
            }
        }
        // Also straight from the mutation's metadata-free bytes.
        let _ = mapi::long_filename(&m);
    }
}
