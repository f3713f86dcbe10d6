//! Glyph widths of the built-in Helvetica faces (Adobe AFM, in 1/1000 em),
//! used to centre, right-align and fit text on the form.

/// Widths of the printable ASCII characters 0x20..=0x7E in Helvetica.
const REGULAR: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // ' '../
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0..?
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // @..O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // P.._
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // `..o
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // p..~
];

/// Widths of the printable ASCII characters 0x20..=0x7E in Helvetica-Bold.
const BOLD: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, // ' '../
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, // 0..?
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, // @..O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, // P.._
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, // `..o
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, // p..~
];

/// The Helvetica face a text is set in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Face {
    Regular,
    Bold,
}

/// Width of `text` set in `face` at `size` points, in points.
pub(crate) fn text_width(text: &str, face: Face, size: f32) -> f32 {
    let table = match face {
        Face::Regular => &REGULAR,
        Face::Bold => &BOLD,
    };
    let units: u32 = text.chars().map(|c| u32::from(char_width(c, table))).sum();
    units as f32 * size / 1000.0
}

/// Width of one character; accented letters are as wide as their base letter
/// in Helvetica.
fn char_width(c: char, table: &[u16; 95]) -> u16 {
    let base = match c {
        'à' | 'â' | 'ä' | 'á' => 'a',
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'î' | 'ï' | 'í' => 'i',
        'ô' | 'ö' | 'ó' => 'o',
        'ù' | 'û' | 'ü' | 'ú' => 'u',
        'ç' => 'c',
        'ÿ' => 'y',
        'À' | 'Â' | 'Ä' => 'A',
        'É' | 'È' | 'Ê' | 'Ë' => 'E',
        'Î' | 'Ï' => 'I',
        'Ô' | 'Ö' => 'O',
        'Ù' | 'Û' | 'Ü' => 'U',
        'Ç' => 'C',
        '’' | '‘' => return 222,
        '«' | '»' | '–' | '€' => return 556,
        '—' | 'œ' | 'Œ' => return 1000,
        '°' => return 400,
        '•' => return 350,
        '\u{a0}' => ' ',
        other => other,
    };
    let index = (base as u32).wrapping_sub(0x20) as usize;
    table.get(index).copied().unwrap_or(556)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accented_letters_are_as_wide_as_their_base_letter() {
        assert_eq!(
            text_width("é", Face::Regular, 10.0),
            text_width("e", Face::Regular, 10.0)
        );
        assert!((text_width("Nom", Face::Bold, 10.0) - 22.22).abs() < 0.01);
    }
}
