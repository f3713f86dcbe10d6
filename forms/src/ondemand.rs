//! A returned form's fields, read without loading the whole document.
//!
//! Loading a PDF parses every object in it: the page's content, its fonts,
//! one appearance stream per field. The fields need a handful of them (the
//! catalog, the AcroForm dictionary, the fields and their values): reading
//! only those took the read of the workload's filled form from 165 to
//! 110 µs (issue 15: at intake's group commit, reading the form was a
//! quarter of all the CPU time).
//!
//! The walk over the field tree is the one the whole document gets
//! ([`crate::read`]), run over [`OnDemand`]: an object not read yet is
//! noted as missing instead of found, the missing objects are read (each
//! through the document's budget, as a load would read it), and the walk
//! starts again, until it misses nothing. A walk is a few hundred lookups
//! at most and the tree a few levels deep, so the rounds cost little next
//! to parsing. Whatever this cannot do (an encrypted document, an object
//! that cannot be read by its number — a cross-reference table that points
//! at the wrong place, which a load survives —, a walk that does not
//! settle) is left to the full load.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashSet};

use lopdf::xref::XrefEntry;
use lopdf::{Dictionary, Document, Object, ObjectId, ObjectStream, Reader};

use crate::budget;
use crate::read::Limits;

/// Where the walk over the fields finds objects: the loaded document, or
/// the objects read so far by [`read_fields`].
pub(crate) trait Objects {
    /// The object `id`, when it is there.
    fn object(&self, id: ObjectId) -> Option<&Object>;
    /// The document's trailer.
    fn trailer(&self) -> &Dictionary;
}

impl Objects for Document {
    fn object(&self, id: ObjectId) -> Option<&Object> {
        self.get_object(id).ok()
    }

    fn trailer(&self) -> &Dictionary {
        &self.trailer
    }
}

/// The objects read so far; the ones asked for and not read yet are noted.
struct OnDemand<'a> {
    doc: &'a Document,
    /// Asked for before, and not in the document (or unreadable).
    absent: &'a HashSet<ObjectId>,
    missing: RefCell<BTreeSet<ObjectId>>,
}

impl Objects for OnDemand<'_> {
    fn object(&self, id: ObjectId) -> Option<&Object> {
        let found = self.doc.objects.get(&id);
        if found.is_none() && !self.absent.contains(&id) {
            self.missing.borrow_mut().insert(id);
        }
        found
    }

    fn trailer(&self) -> &Dictionary {
        &self.doc.trailer
    }
}

/// Most walks over the field tree: a chain of references is read one
/// object per walk.
const MAX_ROUNDS: usize = 48;

/// Runs `walk` over the objects of `bytes` that it asks for, read on
/// demand; `None` when the document is encrypted or unreadable this way, an
/// object it asked for could not be read, or the walk does not settle (the
/// caller then loads the whole document).
pub(crate) fn read_fields<T>(
    bytes: &[u8],
    limits: &Limits,
    walk: impl Fn(&dyn Objects) -> T,
) -> Option<T> {
    let mut reader = Reader {
        buffer: bytes,
        document: Document::new(),
        encryption_state: None,
        raw_objects: BTreeMap::new(),
        password: None,
        strict: false,
        max_decompressed_size: Some(limits.max_stream_bytes),
        keep_going: Some(budget::ok),
    };
    reader.read_xref().ok()?;
    if reader.document.trailer.has(b"Encrypt") {
        return None;
    }
    let mut absent = HashSet::new();
    let mut containers_read = HashSet::new();
    for _ in 0..MAX_ROUNDS {
        let view = OnDemand {
            doc: &reader.document,
            absent: &absent,
            missing: RefCell::default(),
        };
        let found = walk(&view);
        let missing = view.missing.into_inner();
        if !budget::ok() {
            return Some(found);
        }
        if missing.is_empty() {
            // An object asked for and not read may be one the table
            // misplaces, which a load finds by the number before its `obj`.
            return absent.is_empty().then_some(found);
        }
        for id in missing {
            read_object(&mut reader, id, &mut containers_read);
            if !reader.document.objects.contains_key(&id) {
                absent.insert(id);
            }
            if !budget::ok() {
                break;
            }
        }
    }
    None
}

/// Reads object `id` into `reader.document.objects` as a load would: through
/// the budget's filter, and, for an object stored in an object stream, with
/// every object the cross-reference table places in that stream.
fn read_object(reader: &mut Reader<'_>, id: ObjectId, containers_read: &mut HashSet<u32>) {
    match reader.document.reference_table.get(id.0) {
        Some(XrefEntry::Normal { .. }) => {
            if let Some(object) = read_plain(reader, id) {
                reader.document.objects.insert(id, object);
            }
        }
        Some(&XrefEntry::Compressed { container, .. }) if containers_read.insert(container) => {
            read_object_stream(reader, container);
        }
        _ => {}
    }
}

/// An object stored on its own, admitted by the budget.
fn read_plain(reader: &Reader<'_>, id: ObjectId) -> Option<Object> {
    let mut object = reader.get_object(id, &mut HashSet::new()).ok()?;
    budget::admit(id, &mut object)?;
    Some(object)
}

/// The objects of object stream `container` that the cross-reference table
/// places there (an older copy of an object elsewhere is not taken).
fn read_object_stream(reader: &mut Reader<'_>, container: u32) {
    let Some(mut object) = read_plain(reader, (container, 0)) else {
        return;
    };
    let Ok(stream) = object.as_stream_mut() else {
        return;
    };
    if !stream.dict.has_type(b"ObjStm") {
        return;
    }
    // The budget's filter left its content inflated (or emptied).
    let Ok(objects) = ObjectStream::new_with_limit(stream, reader.max_decompressed_size) else {
        return;
    };
    for (id, mut object) in objects.objects {
        let here = matches!(
            reader.document.reference_table.get(id.0),
            Some(&XrefEntry::Compressed { container: c, .. }) if c == container
        );
        if here
            && !reader.document.objects.contains_key(&id)
            && budget::admit(id, &mut object).is_some()
        {
            reader.document.objects.insert(id, object);
        }
    }
}
