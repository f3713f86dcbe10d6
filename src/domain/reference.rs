//! Request references such as `BM-2026-00042`.

use super::InvalidValue;
use std::fmt;

/// The reference of a change request: year and a per-year sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    year: i32,
    sequence: u32,
}

impl Reference {
    pub fn new(year: i32, sequence: u32) -> Result<Self, InvalidValue> {
        if !(2000..=9999).contains(&year) || sequence == 0 {
            return Err(InvalidValue(format!(
                "Référence impossible : année {year}, numéro {sequence}."
            )));
        }
        Ok(Self { year, sequence })
    }

    /// Parses `BM-2026-00042` (case-insensitive prefix, at least five digits).
    pub fn parse(input: &str) -> Result<Self, InvalidValue> {
        let err = || {
            InvalidValue(format!(
                "« {input} » n'est pas une référence de la forme BM-AAAA-NNNNN."
            ))
        };
        let rest = input.trim();
        let rest = rest
            .strip_prefix("BM-")
            .or_else(|| rest.strip_prefix("bm-"))
            .ok_or_else(err)?;
        let (year, seq) = rest.split_once('-').ok_or_else(err)?;
        if year.len() != 4 || seq.len() < 5 || seq.len() > 9 {
            return Err(err());
        }
        if !year.bytes().chain(seq.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let year = year.parse().map_err(|_| err())?;
        let sequence = seq.parse().map_err(|_| err())?;
        Self::new(year, sequence).map_err(|_| err())
    }

    /// Finds the first `[BM-YYYY-NNNNN]` (brackets optional) in a subject line.
    pub fn find_in(text: &str) -> Option<Self> {
        let upper = text.to_ascii_uppercase();
        let mut from = 0;
        while let Some(pos) = upper[from..].find("BM-") {
            let start = from + pos;
            let candidate: String = upper[start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            if let Ok(r) = Self::parse(&candidate) {
                return Some(r);
            }
            from = start + 3;
        }
        None
    }

    pub fn year(&self) -> i32 {
        self.year
    }

    pub fn sequence(&self) -> u32 {
        self.sequence
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BM-{}-{:05}", self.year, self.sequence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_five_digits_and_parses_back() {
        let r = Reference::new(2026, 42).unwrap();
        assert_eq!(r.to_string(), "BM-2026-00042");
        assert_eq!(Reference::parse("BM-2026-00042").unwrap(), r);
        assert_eq!(
            Reference::new(2026, 123456).unwrap().to_string(),
            "BM-2026-123456"
        );
    }

    #[test]
    fn malformed_references_are_refused() {
        for bad in [
            "",
            "BM-26-00042",
            "BM-2026-42",
            "XX-2026-00042",
            "BM-2026-0004a",
            "BM-2026-00000",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn is_found_inside_a_subject() {
        let r = Reference::find_in("RE: Votre demande [BM-2026-00042] reçue").unwrap();
        assert_eq!(r.to_string(), "BM-2026-00042");
        assert!(Reference::find_in("RE: BM-2026 rien").is_none());
    }
}
