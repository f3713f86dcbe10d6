//! CSV exports for staff. Every cell that a spreadsheet would read as a
//! formula (`=`, `+`, `-`, `@`, tab, carriage return) gets a leading `'`:
//! mail content is attacker-controlled.

/// The cell as written in the export.
pub fn cell(value: &str) -> String {
    match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{value}"),
        _ => value.to_string(),
    }
}

/// Writes `header` then `rows` as CSV (`;`-free, comma separated, quoted as needed).
pub fn write(
    header: &[&str],
    rows: impl IntoIterator<Item = Vec<String>>,
) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header)?;
    for row in rows {
        w.write_record(row.iter().map(|v| cell(v)))?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_prefixes_are_neutralised() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("+33 4"), "'+33 4");
        assert_eq!(cell("-1"), "'-1");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("BM-2026-00001"), "BM-2026-00001");
        let out = String::from_utf8(write(&["a"], vec![vec!["=1+1".into()]]).unwrap()).unwrap();
        assert_eq!(out, "a\n'=1+1\n");
    }
}
