//! The form definition: sections and fields of the change-of-address form,
//! parsed once from the embedded `changement-adresse-mel.toml`.
//!
//! Everything that knows about the fields (the PDF renderer, the AcroForm
//! reader, the text reader, the lead's back-office) reads them from here.

use std::sync::OnceLock;

use serde::Deserialize;

/// The embedded definition file.
const SOURCE: &str = include_str!("../changement-adresse-mel.toml");

/// The whole form: metadata, sections and fields in reading order.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormDefinition {
    /// Version printed in the footer, e.g. `2026.1`.
    pub version: String,
    /// Date of this version (`YYYY-MM-DD`), used as the PDF creation date.
    pub date: String,
    /// Title printed on the form and stored as the PDF title.
    pub title: String,
    /// Sections in page order.
    pub sections: Vec<Section>,
    /// Fields in reading (and tab) order.
    pub fields: Vec<FieldDef>,
}

/// A titled block of the form.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// Identifier referenced by [`FieldDef::section`].
    pub id: String,
    /// Heading printed on the form.
    pub title: String,
}

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    /// A one-line text field.
    Text,
    /// A check box; read back as `"oui"` when ticked.
    Checkbox,
}

/// Horizontal placement of a field in its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Column {
    /// The whole width of the page.
    Full,
    /// The left half.
    Left,
    /// The right half.
    Right,
}

/// One field of the form.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldDef {
    /// AcroForm field name and key of the values read back (SPEC §3).
    pub name: String,
    /// French label, as printed on the form.
    pub label: String,
    /// The label shown to staff when the printed one needs its context
    /// (« Le » → « Date de signature »); `label` otherwise.
    #[serde(default)]
    pub staff_label: Option<String>,
    /// Text field or check box.
    pub kind: FieldKind,
    /// Whether the manager must fill it in.
    pub required: bool,
    /// Accessible description (PDF `TU` entry).
    pub tooltip: String,
    /// Words printed in brackets after the label (`si connue`).
    #[serde(default)]
    pub hint: Option<String>,
    /// Other wordings of the label, for reading mails and flattened copies.
    #[serde(default)]
    pub variants: Vec<String>,
    /// Maximum length of a text field (PDF `MaxLen`).
    #[serde(default)]
    pub max_len: Option<u32>,
    /// Identifier of the section the field belongs to.
    pub section: String,
    /// Row inside the section, from 1.
    pub row: u32,
    /// Placement inside the row.
    pub column: Column,
}

impl FieldDef {
    /// The label and its variants: every wording the text reader accepts.
    pub fn wordings(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.label.as_str()).chain(self.variants.iter().map(String::as_str))
    }
}

impl FormDefinition {
    /// Fields in reading order.
    pub fn fields(&self) -> impl Iterator<Item = &FieldDef> {
        self.fields.iter()
    }

    /// The field called `name`, if the form has one.
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Fields of one section, ordered by row then column.
    pub fn section_fields(&self, section: &str) -> Vec<&FieldDef> {
        let mut fields: Vec<&FieldDef> = self
            .fields
            .iter()
            .filter(|f| f.section == section)
            .collect();
        fields.sort_by_key(|f| (f.row, f.column == Column::Right));
        fields
    }

    /// Checks the references between fields and sections.
    fn check(&self) -> Result<(), String> {
        for field in &self.fields {
            if !self.sections.iter().any(|s| s.id == field.section) {
                return Err(format!(
                    "field {} is in unknown section {}",
                    field.name, field.section
                ));
            }
            if self.fields.iter().filter(|f| f.name == field.name).count() != 1 {
                return Err(format!("field {} is defined twice", field.name));
            }
        }
        Ok(())
    }
}

/// Parses a definition from TOML text and checks it.
pub(crate) fn parse(source: &str) -> Result<FormDefinition, String> {
    let def: FormDefinition = toml::from_str(source).map_err(|e| e.to_string())?;
    def.check()?;
    Ok(def)
}

/// The change-of-address form definition, parsed at first use.
pub fn definition() -> &'static FormDefinition {
    static DEFINITION: OnceLock<FormDefinition> = OnceLock::new();
    DEFINITION.get_or_init(|| match parse(SOURCE) {
        Ok(def) => def,
        // The file is compiled in and parsed by a unit test: this cannot
        // depend on any input.
        Err(e) => panic!("embedded form definition is invalid: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC_NAMES: [&str; 15] = [
        "numero_abonne",
        "organisme",
        "situation_nouveau",
        "situation_oubli",
        "nom",
        "prenom",
        "fonction",
        "telephone",
        "ancienne_adresse_mel",
        "nouvelle_adresse_mel",
        "nouvelle_adresse_mel_confirmation",
        "signataire_nom",
        "signataire_qualite",
        "fait_a",
        "date",
    ];

    #[test]
    fn embedded_definition_parses_and_is_consistent() {
        let def = parse(SOURCE).unwrap();
        assert_eq!(def.fields.len(), SPEC_NAMES.len());
    }

    #[test]
    fn fields_carry_exactly_the_spec_names() {
        let mut names: Vec<&str> = definition().fields().map(|f| f.name.as_str()).collect();
        names.sort_unstable();
        let mut spec = SPEC_NAMES.to_vec();
        spec.sort_unstable();
        assert_eq!(names, spec);
    }

    #[test]
    fn the_two_situations_are_check_boxes() {
        let def = definition();
        for name in ["situation_nouveau", "situation_oubli"] {
            assert_eq!(def.field(name).map(|f| f.kind), Some(FieldKind::Checkbox));
        }
        assert_eq!(
            def.fields()
                .filter(|f| f.kind == FieldKind::Checkbox)
                .count(),
            2
        );
    }

    #[test]
    fn a_field_in_an_unknown_section_is_rejected() {
        let bad = SOURCE.replace("section = \"visa\"", "section = \"nulle-part\"");
        assert!(parse(&bad).is_err());
    }
}
