//! Label-anchored extraction from plain text: mail bodies and the page text
//! of flattened PDFs (`N° abonné : 12345`).
//!
//! Each line is scanned for the labels of the form definition and their
//! variants, ignoring case, accents and apostrophe style. A text label
//! counts only when a `:` (or `=`) follows it, possibly after a bracketed
//! hint and a `*`; its value runs to the next label on the line or to the
//! end of the line. A check box counts as ticked when a mark (`X`, `[x]`,
//! `☒`, `✓`…) comes right before its label, when `: oui` follows it, or
//! when it is the answer after a colon (`Situation : nouveau sur le poste`).

use std::sync::OnceLock;

use crate::definition::{FieldKind, definition};
use crate::values::FormValues;

/// Text beyond this many bytes is ignored.
const MAX_TEXT_BYTES: usize = 512 * 1024;
/// Lines longer than this many characters are cut.
const MAX_LINE_CHARS: usize = 4000;

/// Reads field values from plain text such as a mail body.
///
/// A label alone at the end of its line takes the next line as its value
/// when that line holds no label (`Nouvelle adresse mél :` then the address).
pub fn read_text(text: &str) -> FormValues {
    extract(text, true)
}

/// Reads field values from the text of a flattened PDF page (no value is
/// taken from the next line: on the form an empty box is followed by the
/// next row).
pub(crate) fn read_page_text(text: &str) -> FormValues {
    extract(text, false)
}

/// One wording of one field, normalised.
struct Wording {
    field: usize,
    kind: FieldKind,
    chars: Vec<char>,
}

/// All wordings of all fields, longest first.
fn wordings() -> &'static [Wording] {
    static WORDINGS: OnceLock<Vec<Wording>> = OnceLock::new();
    WORDINGS.get_or_init(|| {
        let mut all: Vec<Wording> = definition()
            .fields()
            .enumerate()
            .flat_map(|(field, def)| {
                def.wordings().map(move |w| Wording {
                    field,
                    kind: def.kind,
                    chars: normalise(w).chars,
                })
            })
            .filter(|w| !w.chars.is_empty())
            .collect();
        all.sort_by_key(|w| std::cmp::Reverse(w.chars.len()));
        all
    })
}

/// A line folded for matching, with the byte offset in the original line of
/// each folded character.
struct Folded {
    chars: Vec<char>,
    origin: Vec<usize>,
}

fn normalise(line: &str) -> Folded {
    let mut folded = Folded {
        chars: Vec::with_capacity(line.len()),
        origin: Vec::with_capacity(line.len()),
    };
    for (at, c) in line.char_indices().take(MAX_LINE_CHARS) {
        let mut push = |c: char| {
            if c == ' ' && folded.chars.last().is_none_or(|last| *last == ' ') {
                return;
            }
            folded.chars.push(c);
            folded.origin.push(at);
        };
        match c {
            'à' | 'â' | 'ä' | 'á' | 'ã' | 'À' | 'Â' | 'Ä' | 'Á' => push('a'),
            'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => push('e'),
            'î' | 'ï' | 'í' | 'Î' | 'Ï' => push('i'),
            'ô' | 'ö' | 'ó' | 'õ' | 'Ô' | 'Ö' => push('o'),
            'ù' | 'û' | 'ü' | 'ú' | 'Ù' | 'Û' | 'Ü' => push('u'),
            'ç' | 'Ç' => push('c'),
            'ÿ' | 'Ÿ' => push('y'),
            'ñ' | 'Ñ' => push('n'),
            'œ' | 'Œ' => ['o', 'e'].into_iter().for_each(&mut push),
            'æ' | 'Æ' => ['a', 'e'].into_iter().for_each(&mut push),
            '’' | '‘' | '`' | '´' | 'ʼ' => push('\''),
            '°' | 'º' => push('o'),
            '№' => ['n', 'o'].into_iter().for_each(&mut push),
            '：' => push(':'),
            c if c.is_whitespace() => push(' '),
            c => c.to_lowercase().for_each(&mut push),
        }
    }
    if folded.chars.last() == Some(&' ') {
        folded.chars.pop();
        folded.origin.pop();
    }
    folded
}

/// A label found on a line.
struct Found {
    field: usize,
    kind: FieldKind,
    /// Folded index of the first character of the label.
    start: usize,
    /// Folded index just after the label.
    label_end: usize,
    /// Folded index where a text value starts (after the separator).
    value_start: usize,
}

/// Matches `word` at `at`; spaces in `word` are optional in the line.
/// Returns the folded index just after the match.
fn match_at(line: &[char], at: usize, word: &[char]) -> Option<usize> {
    let mut j = at;
    for &w in word {
        if w == ' ' {
            if line.get(j) == Some(&' ') {
                j += 1;
            }
            continue;
        }
        if line.get(j) != Some(&w) {
            return None;
        }
        j += 1;
    }
    let boundary = line.get(j).is_none_or(|c| !c.is_alphanumeric());
    boundary.then_some(j)
}

/// After a text label: `. (hint) * :` — returns the index after the separator.
fn separator(line: &[char], mut j: usize) -> Option<usize> {
    let skip_spaces = |j: &mut usize| {
        while line.get(*j) == Some(&' ') {
            *j += 1;
        }
    };
    if line.get(j) == Some(&'.') {
        j += 1;
    }
    skip_spaces(&mut j);
    if line.get(j) == Some(&'(') {
        let close = line[j..].iter().take(80).position(|c| *c == ')')?;
        j += close + 1;
        skip_spaces(&mut j);
    }
    if line.get(j) == Some(&'*') {
        j += 1;
        skip_spaces(&mut j);
    }
    matches!(line.get(j), Some(':' | '=')).then_some(j + 1)
}

/// Finds the labels of a line, left to right, the longest at each place.
fn find_labels(line: &[char]) -> Vec<Found> {
    let mut found = Vec::new();
    let mut at = 0;
    while at < line.len() {
        let boundary = at == 0 || !line[at - 1].is_alphanumeric();
        let hit = boundary
            .then(|| {
                wordings().iter().find_map(|w| {
                    let end = match_at(line, at, &w.chars)?;
                    let value_start = match w.kind {
                        FieldKind::Text => separator(line, end)?,
                        FieldKind::Checkbox => end,
                    };
                    Some(Found {
                        field: w.field,
                        kind: w.kind,
                        start: at,
                        label_end: end,
                        value_start,
                    })
                })
            })
            .flatten();
        match hit {
            Some(hit) => {
                at = hit.value_start.max(at + 1);
                found.push(hit);
            }
            None => at += 1,
        }
    }
    found
}

const MARKS: [&str; 12] = [
    "[x]", "(x)", "x", "☒", "☑", "✓", "✔", "✗", "✘", "■", "⊠", "[ x ]",
];
const YES: [&str; 8] = ["oui", "x", "[x]", "☒", "✓", "✔", "yes", "cochee"];

fn ends_with_mark(before: &[char]) -> bool {
    let text: String = before.iter().collect();
    let text = text.trim_end();
    MARKS.iter().any(|mark| {
        text.strip_suffix(mark).is_some_and(|rest| {
            rest.chars()
                .next_back()
                .is_none_or(|c| !c.is_alphanumeric())
        })
    })
}

fn ticked(line: &[char], hit: &Found, previous: Option<&Found>) -> bool {
    if ends_with_mark(&line[..hit.start]) {
        return true;
    }
    let after: String = line[hit.label_end..].iter().collect();
    let after = after.trim();
    let says = |answer: &str, words: &[&str]| {
        words.iter().any(|word| {
            answer
                .strip_prefix(word)
                .is_some_and(|rest| rest.chars().next().is_none_or(|c| !c.is_alphanumeric()))
        })
    };
    // "Nouveau sur le poste : oui", or a mark closing the line.
    let answered = match after.strip_prefix([':', '=']) {
        Some(answer) => says(answer.trim_start(), &YES),
        None => MARKS.iter().any(|mark| *mark != "x" && after == *mark),
    };
    if answered {
        return true;
    }
    // "Situation : nouveau sur le poste": the answer after a colon that is
    // not the separator of a text label.
    let before: String = line[..hit.start].iter().collect();
    before.trim_end().ends_with(':') && previous.is_none_or(|p| p.kind != FieldKind::Text)
}

/// Cleans a value: trims and drops fill-in placeholders (`____`, `.....`).
fn clean(value: &str) -> &str {
    let placeholder = |c: char| c == '_' || c == '…' || c.is_whitespace();
    let value = value.trim_matches(placeholder);
    let dotted = value.chars().all(|c| c == '.' || placeholder(c));
    if dotted {
        ""
    } else {
        value.trim_end_matches("....").trim()
    }
}

fn extract(text: &str, value_on_next_line: bool) -> FormValues {
    let text = match text.char_indices().find(|(i, _)| *i >= MAX_TEXT_BYTES) {
        Some((cut, _)) => &text[..cut],
        None => text,
    };
    let def = definition();
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.trim_start_matches(|c: char| c == '>' || c == ' '))
        .collect();
    let mut values = FormValues::new();
    let mut pending: Option<usize> = None;
    for line in lines {
        let folded = normalise(line);
        let found = find_labels(&folded.chars);
        if let Some(field) = pending.take()
            && found.is_empty()
            && !line.trim().is_empty()
        {
            let name = &def.fields[field].name;
            if values.get(name).is_none() {
                values.insert(name, clean(line));
            }
        }
        for (i, hit) in found.iter().enumerate() {
            let name = &def.fields[hit.field].name;
            match hit.kind {
                FieldKind::Checkbox => {
                    let previous = i.checked_sub(1).and_then(|p| found.get(p));
                    if ticked(&folded.chars, hit, previous) {
                        values.check(name);
                    }
                }
                FieldKind::Text => {
                    let next = found[i + 1..].iter().find(|f| f.kind == FieldKind::Text);
                    let from = folded
                        .origin
                        .get(hit.value_start)
                        .copied()
                        .unwrap_or(line.len());
                    let to = next
                        .and_then(|n| folded.origin.get(n.start).copied())
                        .unwrap_or(line.len());
                    let value = clean(line.get(from..to.max(from)).unwrap_or(""));
                    if values.get(name).is_none() && !values.insert(name, value) && next.is_none() {
                        pending = value_on_next_line.then_some(hit.field);
                    }
                }
            }
        }
    }
    values
}

#[cfg(test)]
#[path = "text_tests.rs"]
mod tests;
