//! The budget of one untrusted PDF, for the whole document: bytes inflated
//! (object streams, page contents, form XObjects, fonts), objects, object
//! streams, nesting and wall time. It is checked while lopdf reads, not
//! after: lopdf inflates every `/ObjStm` during `load`, so the load goes
//! through [`admit`], a filter called on every object before lopdf inflates
//! it, which inflates object streams itself against what is left of the
//! budget and drops whatever goes over. A pre-scan of the raw bytes refuses
//! documents whose shape alone is hostile (too many objects or streams,
//! nesting deep enough to exhaust the parser's stack, long filter chains).
//!
//! lopdf's filter is a plain `fn`, so the budget of the document being read
//! lives in a thread-local for the duration of one [`Budget::run`].

use std::cell::RefCell;
use std::time::{Duration, Instant};

use lopdf::{DecompressError, Object, ObjectId};

use crate::read::Limits;

/// What was used and what is left while one document is read.
#[derive(Debug)]
pub(crate) struct Budget {
    max_inflated: usize,
    max_objects: usize,
    max_object_streams: usize,
    max_nesting: usize,
    max_tokens: usize,
    deadline: Instant,
    tokens: usize,
    inflated: usize,
    objects: usize,
    object_streams: usize,
    exceeded: Option<&'static str>,
}

thread_local! {
    static CURRENT: RefCell<Option<Budget>> = const { RefCell::new(None) };
}

impl Budget {
    /// Runs `read` with a fresh budget from `limits`; `Err` names the limit
    /// that was reached (French, for staff) when the budget ran out.
    pub(crate) fn run<T>(limits: &Limits, read: impl FnOnce() -> T) -> Result<T, &'static str> {
        let budget = Budget {
            max_inflated: limits.max_total_inflated_bytes,
            max_objects: limits.max_objects,
            max_object_streams: limits.max_object_streams,
            max_nesting: limits.max_nesting,
            max_tokens: limits.max_tokens,
            tokens: 0,
            deadline: Instant::now() + Duration::from_millis(limits.max_millis),
            inflated: 0,
            objects: 0,
            object_streams: 0,
            exceeded: None,
        };
        CURRENT.with(|c| *c.borrow_mut() = Some(budget));
        // Cleared even when `read` panics (the caller catches the panic).
        struct Clear;
        impl Drop for Clear {
            fn drop(&mut self) {
                CURRENT.with(|c| *c.borrow_mut() = None);
            }
        }
        let _clear = Clear;
        let value = read();
        match CURRENT.with(|c| c.borrow().as_ref().and_then(|b| b.exceeded)) {
            Some(what) => Err(what),
            None => Ok(value),
        }
    }
}

fn with<R>(f: impl FnOnce(&mut Budget) -> R) -> Option<R> {
    CURRENT.with(|c| c.borrow_mut().as_mut().map(f))
}

impl Budget {
    fn exceed(&mut self, what: &'static str) -> bool {
        self.exceeded.get_or_insert(what);
        false
    }

    fn in_time(&mut self) -> bool {
        self.exceeded.is_none()
            && (Instant::now() < self.deadline || self.exceed("le temps de lecture"))
    }
}

/// True while the budget holds (always, outside [`Budget::run`]).
pub(crate) fn ok() -> bool {
    with(|b| b.in_time()).unwrap_or(true)
}

/// The most bytes the next inflation may produce: what is left, capped by `cap`.
pub(crate) fn room(cap: usize) -> usize {
    with(|b| cap.min(b.max_inflated.saturating_sub(b.inflated))).unwrap_or(cap)
}

/// Charges `bytes` inflated bytes; false once the budget is spent.
pub(crate) fn charge(bytes: usize) -> bool {
    with(|b| {
        b.inflated = b.inflated.saturating_add(bytes);
        b.in_time() && (b.inflated <= b.max_inflated || b.exceed("le volume total décompressé"))
    })
    .unwrap_or(true)
}

/// lopdf's load filter: counts objects, inflates object streams within the
/// budget (lopdf then finds them already plain), and drops what is over.
pub(crate) fn admit(id: ObjectId, object: &mut Object) -> Option<(ObjectId, Object)> {
    let admitted = with(|b| {
        b.objects += 1;
        if b.objects > b.max_objects {
            return b.exceed("le nombre d'objets");
        }
        if !b.in_time() {
            return false;
        }
        let Object::Stream(stream) = object else {
            return true;
        };
        if !stream.dict.has_type(b"ObjStm") {
            return true;
        }
        b.object_streams += 1;
        if b.object_streams > b.max_object_streams {
            return b.exceed("le nombre de flux d'objets");
        }
        let room = b.max_inflated.saturating_sub(b.inflated);
        let plain = match stream.get_plain_content_with_limit(room) {
            Ok(plain) => plain,
            // Emptied either way, so that lopdf does not inflate it again.
            Err(lopdf::Error::Decompress(DecompressError::MemoryLimitExceeded { .. })) => {
                stream.set_plain_content(Vec::new());
                return b.exceed("le volume total décompressé");
            }
            Err(_) => {
                stream.set_plain_content(Vec::new());
                return true;
            }
        };
        b.inflated += plain.len();
        let shape = shape(&plain);
        b.tokens += shape.tokens;
        if shape.depth > b.max_nesting || b.tokens > b.max_tokens {
            stream.set_plain_content(Vec::new());
            return b.exceed(if shape.depth > b.max_nesting {
                "l'imbrication"
            } else {
                "le nombre d'éléments"
            });
        }
        stream.set_plain_content(plain);
        true
    })
    .unwrap_or(true);
    if !admitted {
        if let Object::Stream(stream) = object {
            stream.set_plain_content(Vec::new());
        }
        return None;
    }
    // lopdf keeps the object as the filter left it (a stream now plain);
    // what the filter returns only says that it is kept (vendor/README.md).
    Some((id, Object::Null))
}

/// The shape of some PDF syntax: its deepest nesting of arrays and
/// dictionaries and its number of tokens, strings and comments skipped (an
/// upper bound of what lopdf's recursive parser will see and build: each
/// token becomes an `Object` of some 40 bytes, whatever its own size).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    pub(crate) depth: usize,
    pub(crate) tokens: usize,
}

/// Whitespace (`is_ascii_whitespace`) and the PDF delimiters, by byte.
static DELIMITER: [bool; 256] = {
    let mut table = [false; 256];
    let delimiters = b" \t\n\x0C\r()<>[]{}/%";
    let mut k = 0;
    while k < delimiters.len() {
        table[delimiters[k] as usize] = true;
        k += 1;
    }
    table
};

pub(crate) fn shape(bytes: &[u8]) -> Shape {
    let (mut depth, mut string) = (0usize, 0usize);
    let mut shape = Shape::default();
    let mut in_token = false;
    let mut i = 0;
    while i < bytes.len() {
        if string > 0 {
            // Inside a string only these three bytes count.
            let Some(at) = memchr::memchr3(b'\\', b'(', b')', &bytes[i..]) else {
                break;
            };
            i += at;
            match bytes[i] {
                b'\\' => i += 1,
                b'(' => string += 1,
                _ => string -= 1,
            }
            i += 1;
            continue;
        }
        let c = bytes[i];
        let delimiter = DELIMITER[usize::from(c)];
        if !delimiter && !in_token {
            shape.tokens += 1;
        }
        in_token = !delimiter;
        match c {
            b'(' => {
                string = 1;
                shape.tokens += 1;
            }
            b'[' => depth += 1,
            b'<' if bytes.get(i + 1) == Some(&b'<') => {
                depth += 1;
                i += 1;
            }
            b']' => depth = depth.saturating_sub(1),
            b'>' if bytes.get(i + 1) == Some(&b'>') => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'%' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            _ => {}
        }
        shape.depth = shape.depth.max(depth);
        i += 1;
    }
    shape
}

/// Refuses a raw document whose shape alone is over the limits: more
/// `obj` or `stream` keywords than the budget admits, nesting outside
/// streams deeper than `max_nesting`, or a filter chain longer than 2.
pub(crate) fn prescan(bytes: &[u8], limits: &Limits) -> Result<(), &'static str> {
    let mut objects = 0usize;
    let mut streams = 0usize;
    let mut outside = Vec::with_capacity(bytes.len().min(1 << 20));
    let mut rest = bytes;
    while let Some(at) = find(rest, b"stream") {
        let (before, after) = rest.split_at(at);
        let keyword_ends = matches!(after.get(6), Some(b'\r' | b'\n'));
        let is_end = before.ends_with(b"end");
        if keyword_ends && !is_end {
            streams += 1;
            outside.extend_from_slice(before);
            // Skip the stream data up to its `endstream`.
            rest = match find(after, b"endstream") {
                Some(end) => &after[end + 9..],
                None => &[],
            };
        } else {
            outside.extend_from_slice(&after[..6.min(after.len())]);
            outside.extend_from_slice(before);
            rest = &after[6.min(after.len())..];
        }
    }
    outside.extend_from_slice(rest);
    objects += count(&outside, b" obj");
    if objects + streams > limits.max_objects {
        return Err("le nombre d'objets");
    }
    if streams > limits.max_streams {
        return Err("le nombre de flux");
    }
    let shape = shape(&outside);
    if shape.depth > limits.max_nesting {
        return Err("l'imbrication");
    }
    if shape.tokens > limits.max_tokens {
        return Err("le nombre d'éléments");
    }
    if long_filter_chain(&outside) {
        return Err("une chaîne de filtres");
    }
    Ok(())
}

// memchr's substring search: comparing every window was a tenth of the
// CPU time of intake (issue 15's profile).
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    memchr::memmem::find_iter(hay, needle).count()
}

/// True when some `/Filter [ … ]` array names more than two filters.
fn long_filter_chain(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    while let Some(at) = find(rest, b"/Filter") {
        rest = &rest[at + 7..];
        let trimmed = rest
            .iter()
            .position(|c| !c.is_ascii_whitespace())
            .map_or(&[][..], |p| &rest[p..]);
        if trimmed.first() == Some(&b'[') {
            let end = trimmed
                .iter()
                .position(|&c| c == b']')
                .unwrap_or(trimmed.len());
            if trimmed[..end].iter().filter(|&&c| c == b'/').count() > 2 {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_counts_nesting_and_tokens_not_strings_or_comments() {
        assert_eq!(
            shape(b"<< /A [1 [2] (x[[[) ] >>"),
            Shape {
                depth: 3,
                tokens: 4
            }
        );
        assert_eq!(
            shape(b"% [[[[\n[1]"),
            Shape {
                depth: 1,
                tokens: 1
            }
        );
        assert_eq!(shape(b"(\\)[[[)").depth, 0);
        assert_eq!(shape(b"[0 0 0 0]").tokens, 4);
    }

    #[test]
    fn the_prescan_skips_stream_data_and_refuses_long_filter_chains() {
        let limits = Limits::default();
        let pdf = b"1 0 obj << /Length 4 >>\nstream\n[[[[[[[[\nendstream endobj";
        assert_eq!(prescan(pdf, &limits), Ok(()));
        let chain = b"1 0 obj << /Filter [/FlateDecode /FlateDecode /FlateDecode] >> endobj";
        assert_eq!(prescan(chain, &limits), Err("une chaîne de filtres"));
        let deep = [b"[".repeat(100), b"]".repeat(100)].concat();
        assert_eq!(prescan(&deep, &limits), Err("l'imbrication"));
    }
}
