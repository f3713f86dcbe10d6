//! The MAPI property block of `attAttachment`, read only as far as needed
//! to find `PR_ATTACH_LONG_FILENAME` (0x3707, PT_STRING8 or PT_UNICODE).
//! A property of a type this reader does not know ends the walk: the
//! caller then keeps the 8.3 title.

use super::{clean_name, cp1252, read_u32};

const PR_ATTACH_LONG_FILENAME: u16 = 0x3707;
const PT_STRING8: u16 = 0x001E;
const PT_UNICODE: u16 = 0x001F;
const PT_BINARY: u16 = 0x0102;
const PT_OBJECT: u16 = 0x000D;
const MV_FLAG: u16 = 0x1000;

/// The long file name in a property block, if it is there and readable.
pub(super) fn long_filename(block: &[u8]) -> Option<String> {
    let mut r = Reader { data: block, at: 0 };
    let count = r.u32()?;
    for _ in 0..count {
        let ptype = r.u16()?;
        let pid = r.u16()?;
        if pid >= 0x8000 {
            // A named property: GUID, then a numeric id or a padded UTF-16 name.
            r.skip(16)?;
            match r.u32()? {
                0 => r.skip(4)?,
                _ => {
                    let len = r.u32()?;
                    r.skip_padded(len)?;
                }
            }
        }
        let base = ptype & !MV_FLAG;
        let variable = matches!(base, PT_STRING8 | PT_UNICODE | PT_BINARY | PT_OBJECT);
        let values = if ptype & MV_FLAG != 0 || variable {
            r.u32()?
        } else {
            1
        };
        for i in 0..values {
            if variable {
                let len = r.u32()?;
                let bytes = r.take(len)?;
                if pid == PR_ATTACH_LONG_FILENAME && i == 0 {
                    let name = match base {
                        PT_STRING8 => cp1252(super::until_nul(bytes)),
                        PT_UNICODE => utf16(bytes),
                        _ => return None,
                    };
                    return Some(name).filter(|n| !n.is_empty());
                }
                r.pad();
            } else {
                r.skip(fixed_size(base)?)?;
            }
        }
    }
    None
}

/// The size in the block of one value of a fixed-size type (short ones padded to 4).
fn fixed_size(ptype: u16) -> Option<u32> {
    match ptype {
        0x0002 | 0x0003 | 0x0004 | 0x000A | 0x000B => Some(4),
        0x0005 | 0x0006 | 0x0007 | 0x0014 | 0x0040 => Some(8),
        0x0048 => Some(16),
        _ => None,
    }
}

/// UTF-16LE up to the first NUL, invalid units replaced.
fn utf16(bytes: &[u8]) -> String {
    let units = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0);
    clean_name(char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)))
}

/// A cursor that never reads past the end.
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn u16(&mut self) -> Option<u16> {
        let v = super::read_u16(self.data, self.at)?;
        self.at += 2;
        Some(v)
    }

    fn u32(&mut self) -> Option<u32> {
        let v = read_u32(self.data, self.at)?;
        self.at += 4;
        Some(v)
    }

    fn take(&mut self, n: u32) -> Option<&'a [u8]> {
        let end = self.at.checked_add(usize::try_from(n).ok()?)?;
        let bytes = self.data.get(self.at..end)?;
        self.at = end;
        Some(bytes)
    }

    fn skip(&mut self, n: u32) -> Option<()> {
        self.take(n).map(|_| ())
    }

    /// Moves to the next multiple of 4 (values are padded), or to the end.
    fn pad(&mut self) {
        self.at = self.at.next_multiple_of(4).min(self.data.len());
    }

    /// Skips `n` bytes and their padding.
    fn skip_padded(&mut self, n: u32) -> Option<()> {
        self.skip(n)?;
        self.pad();
        Some(())
    }
}
