//! TNEF (`winmail.dat`, `application/ms-tnef`): Outlook in RTF mode wraps a
//! mail's attachments in one such file. This is a bounded reader of its
//! attachment records — enough to hand the inner files (the filled form PDF
//! above all) to extraction and to staff; the message-level attributes (the
//! RTF body, dates, …) are skipped.
//!
//! Layout: signature `0x223E9F78` (u32 LE), legacy key (u16), then attributes
//! `level u8, id u32 LE, length u32 LE, data[length], checksum u16` (the sum
//! of the data bytes mod 65536). An attachment starts at `attAttachRendData`;
//! `attAttachTitle` gives its 8.3 name, `attAttachData` its bytes, and
//! `attAttachment` its MAPI properties, where the long file name may be.
//!
//! Every length is checked against the bytes that remain, nothing allocated
//! is larger than the input, and no input makes it panic.

mod mapi;
#[cfg(test)]
mod tests;

use super::parse::Attachment;

/// `0x223E9F78`, little endian.
pub const SIGNATURE: u32 = 0x223E_9F78;
/// A larger blob is not read (the message size limit is 25 MiB).
pub const MAX_INPUT: usize = 32 * 1024 * 1024;
/// At most this many inner files are returned.
pub const MAX_FILES: usize = 32;

const ATT_ATTACH_REND_DATA: u32 = 0x0006_9002;
const ATT_ATTACH_TITLE: u32 = 0x0001_8010;
const ATT_ATTACH_DATA: u32 = 0x0006_800F;
const ATT_ATTACHMENT: u32 = 0x0006_9005;
const LEVEL_ATTACHMENT: u8 = 2;
/// A file name longer than this (in characters) is cut.
const MAX_NAME_CHARS: usize = 255;

/// One file found inside a TNEF blob.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct File<'a> {
    /// The long file name when the MAPI properties give one, else the 8.3 title.
    pub name: Option<String>,
    /// The file's bytes, borrowed from the blob.
    pub data: &'a [u8],
}

/// What was read, and what was wrong with the blob.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decoded<'a> {
    pub files: Vec<File<'a>>,
    /// Attributes whose checksum did not match (read anyway).
    pub checksum_errors: usize,
    /// The blob ended inside an attribute, or held more than [`MAX_FILES`] files.
    pub truncated: bool,
}

/// Why a blob was not read at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TnefError {
    #[error("pas un fichier TNEF (signature absente)")]
    NotTnef,
    #[error("fichier TNEF trop volumineux")]
    TooLarge,
}

/// True when `data` starts with the TNEF signature.
pub fn is_tnef(data: &[u8]) -> bool {
    read_u32(data, 0) == Some(SIGNATURE)
}

/// Reads the attachment records of a TNEF blob.
pub fn read(data: &[u8]) -> Result<Decoded<'_>, TnefError> {
    if !is_tnef(data) {
        return Err(TnefError::NotTnef);
    }
    if data.len() > MAX_INPUT {
        return Err(TnefError::TooLarge);
    }
    let mut out = Decoded::default();
    // Signature (4) and legacy key (2).
    let mut at = 6;
    let mut current: Option<Pending<'_>> = None;
    while at < data.len() {
        let Some((level, id, body, next)) = attribute(data, at) else {
            out.truncated = true;
            break;
        };
        let stored = read_u16(data, next - 2).unwrap_or(0);
        if checksum(body) != stored {
            out.checksum_errors += 1;
        }
        at = next;
        if level != LEVEL_ATTACHMENT {
            // Message-level attributes (level 1: body, dates, …) are skipped.
            continue;
        }
        match id {
            ATT_ATTACH_REND_DATA => {
                if let Some(done) = current.take() {
                    done.finish(&mut out);
                }
                if out.files.len() >= MAX_FILES {
                    out.truncated = true;
                    return Ok(out);
                }
                current = Some(Pending::default());
            }
            ATT_ATTACH_TITLE => {
                let p = current.get_or_insert_with(Pending::default);
                p.title = Some(cp1252(until_nul(body)));
            }
            ATT_ATTACH_DATA => current.get_or_insert_with(Pending::default).data = Some(body),
            ATT_ATTACHMENT => {
                let p = current.get_or_insert_with(Pending::default);
                p.long_name = mapi::long_filename(body);
            }
            _ => {}
        }
    }
    if let Some(done) = current.take() {
        if out.files.len() < MAX_FILES {
            done.finish(&mut out);
        } else {
            out.truncated = true;
        }
    }
    Ok(out)
}

/// The files of a TNEF attachment as attachments of the mail (same depth),
/// typed from their names; empty when `a` is not TNEF or holds nothing.
pub fn inner_attachments(a: &Attachment, room: usize) -> Vec<Attachment> {
    let looks_tnef = a.content_type.ends_with("ms-tnef")
        || a.filename
            .as_deref()
            .is_some_and(|f| f.eq_ignore_ascii_case("winmail.dat"))
        || is_tnef(&a.data);
    if !looks_tnef {
        return Vec::new();
    }
    let decoded = match read(&a.data) {
        Ok(d) => d,
        Err(e) => {
            tracing::info!(error = %e, "winmail.dat not read");
            return Vec::new();
        }
    };
    if decoded.checksum_errors > 0 || decoded.truncated {
        tracing::info!(
            checksum_errors = decoded.checksum_errors,
            truncated = decoded.truncated,
            "winmail.dat damaged, read what could be read"
        );
    }
    decoded
        .files
        .into_iter()
        .take(room)
        .map(|f| Attachment {
            content_type: content_type_for(f.name.as_deref()).into(),
            filename: f.name,
            data: f.data.to_vec(),
            depth: a.depth,
        })
        .collect()
}

/// A file type from a file name's extension, for the types intake cares about.
fn content_type_for(name: Option<&str>) -> &'static str {
    let ext = name
        .and_then(|n| n.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "tif" | "tiff" => "image/tiff",
        "gif" => "image/gif",
        "txt" => "text/plain",
        _ => "application/octet-stream",
    }
}

/// One attachment being read: its parts arrive as separate attributes.
#[derive(Default)]
struct Pending<'a> {
    title: Option<String>,
    long_name: Option<String>,
    data: Option<&'a [u8]>,
}

impl<'a> Pending<'a> {
    fn finish(self, out: &mut Decoded<'a>) {
        // An attachment without attAttachData (an OLE object, an embedded
        // message) has no file to hand on.
        if let Some(data) = self.data {
            let name = self.long_name.or(self.title).filter(|n| !n.is_empty());
            out.files.push(File { name, data });
        }
    }
}

/// One attribute at `at`: `(level, id, data, offset after the checksum)`,
/// or `None` when the blob ends before the attribute does.
fn attribute(data: &[u8], at: usize) -> Option<(u8, u32, &[u8], usize)> {
    let level = *data.get(at)?;
    let id = read_u32(data, at.checked_add(1)?)?;
    let len = usize::try_from(read_u32(data, at.checked_add(5)?)?).ok()?;
    let start = at.checked_add(9)?;
    let end = start.checked_add(len)?;
    let next = end.checked_add(2)?;
    if next > data.len() {
        return None;
    }
    Some((level, id, data.get(start..end)?, next))
}

/// The TNEF checksum: the sum of the bytes, mod 65536.
pub fn checksum(bytes: &[u8]) -> u16 {
    bytes
        .iter()
        .fold(0u16, |sum, &b| sum.wrapping_add(u16::from(b)))
}

pub(super) fn read_u16(data: &[u8], at: usize) -> Option<u16> {
    let b = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

pub(super) fn read_u32(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// The bytes before the first NUL.
fn until_nul(bytes: &[u8]) -> &[u8] {
    bytes.split(|&b| b == 0).next().unwrap_or_default()
}

/// A windows-1252 name, without control characters, cut to [`MAX_NAME_CHARS`].
fn cp1252(bytes: &[u8]) -> String {
    let bytes = &bytes[..bytes.len().min(MAX_NAME_CHARS * 4)];
    let text = match mail_parser::decoders::charsets::map::charset_decoder(b"windows-1252") {
        Some(decode) => decode(bytes),
        None => bytes.iter().map(|&b| char::from(b)).collect(),
    };
    clean_name(text.chars())
}

/// A file name from characters: control characters dropped, length bounded, trimmed.
fn clean_name(chars: impl Iterator<Item = char>) -> String {
    let name: String = chars
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect();
    name.trim().to_string()
}
