//! Values read back from a form: only the form's field names, only
//! non-empty trimmed values, check boxes as `"oui"`.

use std::collections::BTreeMap;

use crate::definition::definition;

/// The value stored for a ticked check box.
pub const CHECKED: &str = "oui";

/// Longest value kept for one field, in characters. The reader does not
/// validate, but it does not carry megabytes around either.
const MAX_VALUE_CHARS: usize = 1000;

/// Field values keyed by the SPEC §3 field names.
///
/// Holds only names of the form definition and only non-empty, trimmed
/// values; a ticked check box holds [`CHECKED`], an unticked one is absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormValues(BTreeMap<String, String>);

impl FormValues {
    /// An empty set of values.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `value` (trimmed, cut to 1000 characters) under `name`.
    ///
    /// Returns `false`, storing nothing, when `name` is not a field of the
    /// form or the trimmed value is empty. An existing value is replaced.
    pub fn insert(&mut self, name: &str, value: &str) -> bool {
        if definition().field(name).is_none() {
            return false;
        }
        let value = value.trim();
        if value.is_empty() {
            return false;
        }
        let value = match value.char_indices().nth(MAX_VALUE_CHARS) {
            Some((cut, _)) => value[..cut].trim_end(),
            None => value,
        };
        self.0.insert(name.to_owned(), value.to_owned());
        true
    }

    /// Marks the check box `name` as ticked.
    pub fn check(&mut self, name: &str) -> bool {
        self.insert(name, CHECKED)
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Whether the check box `name` is ticked.
    pub fn is_checked(&self, name: &str) -> bool {
        self.get(name) == Some(CHECKED)
    }

    /// Number of fields holding a value.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no field holds a value.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `(name, value)` pairs in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The underlying map.
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// Consumes the values into the underlying map.
    pub fn into_map(self) -> BTreeMap<String, String> {
        self.0
    }
}

impl IntoIterator for FormValues {
    type Item = (String, String);
    type IntoIter = std::collections::btree_map::IntoIter<String, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_and_blank_values_are_not_stored() {
        let mut values = FormValues::new();
        assert!(!values.insert("mot_de_passe", "secret"));
        assert!(!values.insert("nom", "   "));
        assert!(values.insert("nom", "  Dupont \n"));
        assert_eq!(values.get("nom"), Some("Dupont"));
        assert_eq!(values.len(), 1);
    }

    #[test]
    fn very_long_values_are_cut() {
        let mut values = FormValues::new();
        values.insert("organisme", &"é".repeat(5000));
        assert_eq!(
            values.get("organisme").map(|v| v.chars().count()),
            Some(1000)
        );
    }
}
