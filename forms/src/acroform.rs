//! Adds the AcroForm to the document printpdf produced: one merged
//! field/widget per definition field over the box drawn for it, check boxes
//! with their own appearances, the `AcroForm` dictionary, and document
//! metadata (title, language, a stable file identifier).

use lopdf::{
    Dictionary, Document, Object, ObjectId, Stream, StringFormat, dictionary, text_string,
};

use crate::definition::{FieldKind, FormDefinition};
use crate::render::VALUE_SIZE;

/// Where a field goes on the page: `[x1, y1, x2, y2]` of its drawn box.
pub(crate) struct Placement {
    pub name: String,
    pub rect: [f32; 4],
}

/// Export value of a ticked check box.
const ON: &str = "Yes";

/// Adds the fields to the first page and the AcroForm to the catalog.
/// `prefill` gives one text field a value (the subscriber number).
pub(crate) fn add_fields(
    doc: &mut Document,
    def: &FormDefinition,
    placements: &[Placement],
    prefill: Option<(&str, &str)>,
    send_to: &str,
) {
    let Some(page_id) = doc.page_iter().next() else {
        return;
    };
    let helv = doc.add_object(font("Helvetica", Some("WinAnsiEncoding")));
    let hebo = doc.add_object(font("Helvetica-Bold", Some("WinAnsiEncoding")));
    let zadb = doc.add_object(font("ZapfDingbats", None));
    let fonts = dictionary! { "Helv" => helv, "HeBo" => hebo, "ZaDb" => zadb };
    let (check_on, check_off) = check_appearances(doc, hebo);

    let mut widgets = Vec::with_capacity(placements.len());
    for placement in placements {
        let Some(field) = def.field(&placement.name) else {
            continue;
        };
        let [x1, y1, x2, y2] = placement.rect;
        let mut widget = dictionary! {
            "Type" => "Annot",
            "Subtype" => "Widget",
            "T" => Object::string_literal(field.name.as_str()),
            "TU" => text_string(&field.tooltip),
            "F" => 4,
            "P" => page_id,
        };
        match field.kind {
            FieldKind::Text => {
                // The widget sits just inside the drawn box, which stays visible.
                widget.set("Rect", rect([x1 + 1.0, y1 + 1.0, x2 - 1.0, y2 - 1.0]));
                widget.set("FT", "Tx");
                widget.set(
                    "DA",
                    Object::string_literal(format!("/Helv {VALUE_SIZE} Tf 0 g")),
                );
                widget.set("MK", Dictionary::new());
                if let Some(max) = field.max_len {
                    widget.set("MaxLen", i64::from(max));
                }
                if let Some((_, value)) = prefill.filter(|(name, _)| *name == field.name) {
                    widget.set("V", text_string(value));
                    let ap = text_appearance(doc, helv, value, x2 - x1 - 2.0, y2 - y1 - 2.0);
                    widget.set("AP", dictionary! { "N" => ap });
                }
            }
            FieldKind::Checkbox => {
                widget.set("Rect", rect([x1, y1, x2, y2]));
                widget.set("FT", "Btn");
                widget.set("V", "Off");
                widget.set("AS", "Off");
                widget.set("DA", Object::string_literal("/ZaDb 0 Tf 0 g"));
                widget.set(
                    "MK",
                    dictionary! { "CA" => Object::string_literal("8"), "BC" => vec![0.into()] },
                );
                widget.set("BS", dictionary! { "W" => 1, "S" => "S" });
                widget.set(
                    "AP",
                    dictionary! { "N" => dictionary! { ON => check_on, "Off" => check_off } },
                );
            }
        }
        widgets.push(Object::Reference(doc.add_object(widget)));
    }

    if let Ok(page) = doc.get_dictionary_mut(page_id) {
        let mut annots = match page.get(b"Annots") {
            Ok(Object::Array(existing)) => existing.clone(),
            _ => Vec::new(),
        };
        annots.extend(widgets.iter().cloned());
        page.set("Annots", annots);
        page.set("Tabs", "R");
    }

    let acroform = dictionary! {
        "Fields" => widgets,
        "NeedAppearances" => true,
        "DA" => Object::string_literal("/Helv 0 Tf 0 g"),
        "DR" => dictionary! { "Font" => fonts },
    };
    let acroform_id = doc.add_object(acroform);
    if let Ok(catalog) = doc.catalog_mut() {
        catalog.set("AcroForm", acroform_id);
        catalog.set("Lang", Object::string_literal("fr-FR"));
        catalog.set(
            "ViewerPreferences",
            dictionary! { "DisplayDocTitle" => true },
        );
    }
    set_info(doc, def, prefill.map(|(_, v)| v), send_to);
}

fn font(base: &str, encoding: Option<&str>) -> Dictionary {
    let mut dict = dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => base };
    if let Some(encoding) = encoding {
        dict.set("Encoding", encoding);
    }
    dict
}

fn rect(r: [f32; 4]) -> Object {
    Object::Array(r.iter().map(|v| Object::Real(*v)).collect())
}

/// The `Yes` appearance draws a bold X (it survives flattening as the text
/// "X", which the text reader understands); `Off` draws nothing, the box
/// itself is part of the page.
fn check_appearances(doc: &mut Document, hebo: ObjectId) -> (ObjectId, ObjectId) {
    let form = |content: Vec<u8>, resources: Dictionary| {
        let dict = dictionary! {
            "Type" => "XObject",
            "Subtype" => "Form",
            "BBox" => vec![0.into(), 0.into(), 11.into(), 11.into()],
            "Resources" => resources,
        };
        Stream::new(dict, content)
    };
    let on = b"q 0 g BT /HeBo 10 Tf 2.2 1.9 Td (X) Tj ET Q".to_vec();
    let on = doc.add_object(form(
        on,
        dictionary! { "Font" => dictionary! { "HeBo" => hebo } },
    ));
    let off = doc.add_object(form(Vec::new(), Dictionary::new()));
    (on, off)
}

/// A normal appearance showing `value`, for viewers that do not regenerate
/// appearances (the pre-filled subscriber number).
fn text_appearance(doc: &mut Document, helv: ObjectId, value: &str, w: f32, h: f32) -> ObjectId {
    let mut content = format!(
        "/Tx BMC q 1 1 {} {} re W n BT /Helv {VALUE_SIZE} Tf 0 g 2 {} Td (",
        w - 2.0,
        h - 2.0,
        (h - VALUE_SIZE * 0.72) / 2.0
    )
    .into_bytes();
    for byte in win_ansi(value) {
        if matches!(byte, b'(' | b')' | b'\\') {
            content.push(b'\\');
        }
        content.push(byte);
    }
    content.extend_from_slice(b") Tj ET Q EMC");
    let dict = dictionary! {
        "Type" => "XObject",
        "Subtype" => "Form",
        "BBox" => vec![0.into(), 0.into(), Object::Real(w), Object::Real(h)],
        "Resources" => dictionary! { "Font" => dictionary! { "Helv" => helv } },
    };
    doc.add_object(Stream::new(dict, content))
}

/// WinAnsi bytes of `text`; characters outside the encoding become `?`.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            ' '..='~' => c as u8,
            '€' => 0x80,
            '’' => 0x92,
            'œ' => 0x9c,
            'Œ' => 0x8c,
            '\u{a0}'..='ÿ' => c as u32 as u8,
            _ => b'?',
        })
        .collect()
}

/// Title, author, dates from the definition; an identifier derived from the
/// content, so that the same options always give the same bytes.
fn set_info(doc: &mut Document, def: &FormDefinition, prefill: Option<&str>, send_to: &str) {
    let date = format!("D:{}000000Z", def.date.replace('-', ""));
    let info = dictionary! {
        "Title" => text_string(&def.title),
        "Author" => text_string("Rectorat de Montpellier — Division des affaires générales"),
        "Subject" => text_string("Barème de Montpellier — formulaire de changement de l'adresse mél"),
        "Keywords" => text_string("Barème de Montpellier, Espace Abonné Barème, adresse mél"),
        "Creator" => Object::string_literal("bareme-mel"),
        "Producer" => Object::string_literal("bareme-forms (printpdf, lopdf)"),
        "CreationDate" => Object::string_literal(date.clone()),
        "ModDate" => Object::string_literal(date),
    };
    let info_id = doc.add_object(info);
    doc.trailer.set("Info", info_id);
    let seed = format!("{}|{}|{}", def.version, send_to, prefill.unwrap_or(""));
    let id = format!(
        "{:016x}{:016x}",
        fnv1a(seed.as_bytes(), 0),
        fnv1a(seed.as_bytes(), 1)
    );
    let id = Object::String(id.into_bytes(), StringFormat::Hexadecimal);
    doc.trailer.set("ID", vec![id.clone(), id]);
}

fn fnv1a(bytes: &[u8], salt: u64) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64 ^ salt;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}
