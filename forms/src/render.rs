//! Renders the change-of-address form as a one-page A4 PDF: the page is
//! drawn with printpdf (so that it prints well for hand filling), then the
//! AcroForm fields are laid over the drawn boxes with lopdf (acroform.rs).

use printpdf::{Mm, PdfDocument, PdfPage, PdfSaveOptions};

use crate::acroform::{self, Placement};
use crate::canvas::{BAND, BLUE, Canvas, GREY, INK, PANEL, RED, RULE, wrap};
use crate::definition::{Column, FieldDef, FieldKind, FormDefinition, definition};
use crate::marks;
use crate::metrics::{Face, text_width};

/// What varies from one copy of the form to another.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// Address the signed form is to be mailed to (configuration).
    pub send_to: String,
    /// Subscriber number to pre-fill, already validated by the caller.
    pub subscriber_number: Option<String>,
}

/// Why the form could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum FormError {
    /// The subscriber number is not a short printable ASCII string.
    #[error("numéro d'abonné inutilisable pour le formulaire")]
    InvalidSubscriberNumber,
    /// The destination address is empty or holds control characters.
    #[error("adresse d'envoi du formulaire invalide")]
    InvalidSendTo,
    /// Writing the PDF failed.
    #[error("écriture du PDF impossible : {0}")]
    Write(#[from] std::io::Error),
}

const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const LEFT: f32 = 45.0;
const RIGHT: f32 = PAGE_W - 45.0;
const MID: f32 = (LEFT + RIGHT) / 2.0;
/// Height of a drawn input box and of one row of the form.
const BOX_H: f32 = 18.0;
const ROW_H: f32 = 23.0;
const LABEL_SIZE: f32 = 9.5;
/// Size of the field values (AcroForm `DA`), also used for the pre-fill.
pub(crate) const VALUE_SIZE: f32 = 10.0;

/// Renders the form; the bytes are a complete PDF file.
pub fn render(opts: &RenderOptions) -> Result<Vec<u8>, FormError> {
    let send_to = opts.send_to.trim();
    if send_to.is_empty() || send_to.len() > 254 || send_to.chars().any(char::is_control) {
        return Err(FormError::InvalidSendTo);
    }
    let prefill = match opts.subscriber_number.as_deref().map(str::trim) {
        Some("") => None,
        Some(n) if n.len() <= 20 && n.chars().all(|c| c.is_ascii_graphic()) => Some(n),
        Some(_) => return Err(FormError::InvalidSubscriberNumber),
        None => None,
    };

    let def = definition();
    let mut canvas = Canvas::default();
    let mut placements = Vec::with_capacity(def.fields.len());
    draw_page(&mut canvas, def, send_to, prefill, &mut placements);

    let mut document = PdfDocument::new(&def.title);
    document.with_pages(vec![PdfPage::new(Mm(210.0), Mm(297.0), canvas.into_ops())]);
    let mut warnings = Vec::new();
    let mut pdf = document.to_lopdf_document(&PdfSaveOptions::default(), &mut warnings);

    let prefill = prefill.map(|n| ("numero_abonne", n));
    acroform::add_fields(&mut pdf, def, &placements, prefill, send_to);
    pdf.prune_objects();
    pdf.compress();
    let mut bytes = Vec::with_capacity(24 * 1024);
    pdf.save_to(&mut bytes)?;
    Ok(bytes)
}

/// Where the boxes of the page are, in points from the bottom left: the
/// fields' boxes, then the stamp and signature zones. The layout does not
/// depend on what varies between copies; the scan reader uses it.
pub(crate) struct PageLayout {
    pub fields: Vec<Placement>,
    pub stamp: [f32; 4],
    pub signature: [f32; 4],
}

/// The page layout of the form, computed once by drawing a throwaway page.
pub(crate) fn page_layout() -> &'static PageLayout {
    static LAYOUT: std::sync::OnceLock<PageLayout> = std::sync::OnceLock::new();
    LAYOUT.get_or_init(|| {
        let mut fields = Vec::new();
        let zones = draw_page(
            &mut Canvas::default(),
            definition(),
            "bareme@ac-montpellier.fr",
            None,
            &mut fields,
        );
        PageLayout {
            fields,
            stamp: zones[0],
            signature: zones[1],
        }
    })
}

/// Draws the whole page top-down and records where each field goes; returns
/// the stamp and signature zones.
fn draw_page(
    c: &mut Canvas,
    def: &FormDefinition,
    send_to: &str,
    prefill: Option<&str>,
    placements: &mut Vec<Placement>,
) -> [[f32; 4]; 2] {
    marks::draw(c, &def.version, prefill);
    let mut zones = [[0.0; 4]; 2];
    let mut y = draw_header(c, def);
    y = draw_instructions(c, y, send_to);
    for section in &def.sections {
        y = draw_section(
            c,
            y,
            &section.title,
            &def.section_fields(&section.id),
            placements,
        );
        if section.id == "visa" {
            (y, zones) = draw_signature_boxes(c, y);
        }
    }
    draw_footer(c, def);
    zones
}

fn draw_header(c: &mut Canvas, def: &FormDefinition) -> f32 {
    let top = PAGE_H - 48.0;
    // The State block, as text: "RÉPUBLIQUE FRANÇAISE" and the motto.
    c.fill(LEFT, top - 26.0, 2.5, 34.0, BLUE);
    c.fill(LEFT + 2.5, top - 26.0, 2.5, 34.0, RED);
    c.text(LEFT + 11.0, top, 10.5, Face::Bold, INK, "RÉPUBLIQUE");
    c.text(LEFT + 11.0, top - 11.5, 10.5, Face::Bold, INK, "FRANÇAISE");
    c.text(
        LEFT + 11.0,
        top - 23.5,
        7.0,
        Face::Regular,
        GREY,
        "Liberté • Égalité • Fraternité",
    );

    c.text_right(
        RIGHT,
        top,
        11.0,
        Face::Bold,
        BLUE,
        "Rectorat de Montpellier",
    );
    c.text_right(
        RIGHT,
        top - 12.5,
        9.0,
        Face::Regular,
        INK,
        "Division des affaires générales",
    );
    c.text_right(
        RIGHT,
        top - 23.5,
        9.0,
        Face::Regular,
        INK,
        "Barème de Montpellier",
    );
    c.line((LEFT, top - 36.0), (RIGHT, top - 36.0), 0.6, RULE);

    // The title, on two balanced lines.
    let mut y = top - 58.0;
    for line in wrap(&def.title, Face::Bold, 15.0, 380.0) {
        c.text_centred(PAGE_W / 2.0, y, 15.0, Face::Bold, INK, &line);
        y -= 19.0;
    }
    c.text_centred(
        PAGE_W / 2.0,
        y - 1.0,
        9.0,
        Face::Regular,
        GREY,
        "Espace Abonné Barème — demande de remplacement de l'adresse mél enregistrée",
    );
    y - 14.0
}

fn draw_instructions(c: &mut Canvas, top: f32, send_to: &str) -> f32 {
    const SIZE: f32 = 8.8;
    const LEAD: f32 = 11.6;
    let width = RIGHT - LEFT - 24.0;
    let intro = "Ce formulaire sert au gestionnaire qui n'a plus accès à l'adresse mél \
                 enregistrée pour le compte de l'abonné.";
    let steps = [
        "Complétez-le à l'écran ou à la main, en lettres capitales. Les champs marqués \
         d'un astérisque (*) sont obligatoires.",
        "Faites-le signer par le chef d'établissement ou le responsable de l'organisme, \
         avec le cachet de l'organisme.",
        "Envoyez-le, signé et numérisé, par courrier électronique à l'adresse :",
    ];
    let mut lines: Vec<(f32, String, Face)> = Vec::new();
    for line in wrap(intro, Face::Regular, SIZE, width) {
        lines.push((0.0, line, Face::Regular));
    }
    for (n, step) in steps.iter().enumerate() {
        for (i, line) in wrap(step, Face::Regular, SIZE, width - 12.0)
            .into_iter()
            .enumerate()
        {
            if i == 0 {
                lines.push((-1.0, format!("{}.", n + 1), Face::Bold));
            }
            lines.push((12.0, line, Face::Regular));
        }
    }
    let after = "Après vérification, la nouvelle adresse est enregistrée et reçoit un lien \
                 pour choisir un nouveau mot de passe.";
    let rows = lines.iter().filter(|l| l.0 >= 0.0).count()
        + 1
        + wrap(after, Face::Regular, SIZE, width).len();
    let height = rows as f32 * LEAD + 16.0;
    let bottom = top - height;
    c.fill(LEFT, bottom, RIGHT - LEFT, height, PANEL);
    c.fill(LEFT, bottom, 3.0, height, BLUE);

    let x = LEFT + 14.0;
    let mut y = top - 15.0;
    for (dx, text, face) in &lines {
        if *dx < 0.0 {
            c.text(x, y, SIZE, *face, BLUE, text);
            continue;
        }
        c.text(x + dx, y, SIZE, *face, INK, text);
        y -= LEAD;
    }
    c.text(x + 12.0, y, 10.0, Face::Bold, BLUE, send_to);
    y -= LEAD;
    for line in wrap(after, Face::Regular, SIZE, width) {
        c.text(x, y, SIZE, Face::Regular, GREY, &line);
        y -= LEAD;
    }
    bottom - 12.0
}

/// The printed label of a field: `Label (hint) * :`.
fn printed_label(field: &FieldDef) -> String {
    let mut label = field.label.clone();
    if let Some(hint) = &field.hint {
        label.push_str(&format!(" ({hint})"));
    }
    if field.required {
        label.push_str(" *");
    }
    if field.kind == FieldKind::Text {
        label.push_str(" :");
    }
    label
}

fn draw_section(
    c: &mut Canvas,
    top: f32,
    title: &str,
    fields: &[&FieldDef],
    placements: &mut Vec<Placement>,
) -> f32 {
    c.fill(LEFT, top - 17.0, RIGHT - LEFT, 17.0, BAND);
    c.text(LEFT + 6.0, top - 12.0, 10.0, Face::Bold, BLUE, title);

    // Boxes of the left column start at one x for the whole section.
    let label_col = fields
        .iter()
        .filter(|f| f.column != Column::Right && f.kind == FieldKind::Text)
        .map(|f| text_width(&printed_label(f), Face::Regular, LABEL_SIZE))
        .fold(0.0_f32, f32::max);
    let box_left = LEFT + 4.0 + label_col + 8.0;
    // A half-width box never gets narrower than this; its label sets its start.
    let min_half = 140.0;

    let mut y = top - 17.0 - 6.0;
    let mut row = None;
    for field in fields {
        if row.is_some_and(|r| r != field.row) {
            y -= ROW_H;
        }
        row = Some(field.row);
        let (x0, x1) = match field.column {
            Column::Full => (LEFT, RIGHT),
            Column::Left => (LEFT, MID - 10.0),
            Column::Right => (MID + 10.0, RIGHT),
        };
        let box_bottom = y - BOX_H;
        let baseline = box_bottom + 5.5;
        let label = printed_label(field);
        let rect = match field.kind {
            FieldKind::Checkbox => {
                let size = 11.0;
                let bx = x0 + 6.0;
                let by = box_bottom + 2.5;
                c.frame(bx, by, size, size, 0.8, INK);
                c.text(
                    bx + size + 7.0,
                    baseline,
                    LABEL_SIZE + 0.5,
                    Face::Regular,
                    INK,
                    &label,
                );
                [bx, by, bx + size, by + size]
            }
            FieldKind::Text => {
                let lx = if field.column == Column::Right {
                    x0
                } else {
                    LEFT + 4.0
                };
                c.text(lx, baseline, LABEL_SIZE, Face::Regular, INK, &label);
                let own = lx + text_width(&label, Face::Regular, LABEL_SIZE) + 8.0;
                let bx = match field.column {
                    Column::Right => own,
                    Column::Left if x1 - box_left < min_half => own,
                    _ => box_left,
                };
                c.frame(bx, box_bottom, x1 - bx, BOX_H, 0.6, RULE);
                [bx, box_bottom, x1, box_bottom + BOX_H]
            }
        };
        placements.push(Placement {
            name: field.name.clone(),
            rect,
        });
    }
    y - ROW_H - 4.0
}

fn draw_signature_boxes(c: &mut Canvas, top: f32) -> (f32, [[f32; 4]; 2]) {
    let height = 84.0;
    let bottom = top + 4.0 - height;
    let gap = 12.0;
    let stamp_w = (RIGHT - LEFT - gap) * 0.42;
    c.frame(LEFT, bottom, stamp_w, height, 0.8, INK);
    c.text(
        LEFT + 6.0,
        top - 8.0,
        8.5,
        Face::Regular,
        GREY,
        "Cachet de l'organisme *",
    );
    let sx = LEFT + stamp_w + gap;
    c.frame(sx, bottom, RIGHT - sx, height, 0.8, INK);
    c.text(
        sx + 6.0,
        top - 8.0,
        8.5,
        Face::Regular,
        GREY,
        "Signature du chef d'établissement ou du responsable *",
    );
    let zones = [
        [LEFT, bottom, LEFT + stamp_w, top + 4.0],
        [sx, bottom, RIGHT, top + 4.0],
    ];
    (bottom - 10.0, zones)
}

fn draw_footer(c: &mut Canvas, def: &FormDefinition) {
    let privacy = "Données personnelles : les informations de ce formulaire sont utilisées par le \
                   Rectorat de Montpellier (DAG) uniquement pour traiter votre demande ; elles sont \
                   conservées pour une durée limitée. Voir la page « Données personnelles » de \
                   l'Espace Abonné Barème pour exercer vos droits.";
    let mut y = 62.0;
    for line in wrap(privacy, Face::Regular, 7.0, RIGHT - LEFT) {
        c.text(LEFT, y, 7.0, Face::Regular, GREY, &line);
        y -= 8.5;
    }
    c.line((LEFT, 38.0), (RIGHT, 38.0), 0.5, RULE);
    c.text(
        LEFT,
        28.0,
        7.5,
        Face::Regular,
        GREY,
        "Rectorat de Montpellier — Division des affaires générales — Barème de Montpellier",
    );
    c.text_right(
        RIGHT,
        28.0,
        7.5,
        Face::Regular,
        GREY,
        &format!("Formulaire version {} — page 1/1", def.version),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> RenderOptions {
        RenderOptions {
            send_to: "bareme@ac-montpellier.fr".into(),
            subscriber_number: None,
        }
    }

    #[test]
    fn the_form_is_a_small_pdf() {
        let pdf = render(&opts()).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(pdf.len() <= 40 * 1024, "{} bytes", pdf.len());
    }

    #[test]
    fn an_unusable_subscriber_number_is_refused() {
        let bad = RenderOptions {
            subscriber_number: Some("12\n34".into()),
            ..opts()
        };
        assert!(matches!(
            render(&bad),
            Err(FormError::InvalidSubscriberNumber)
        ));
    }

    #[test]
    fn a_blank_destination_is_refused() {
        let bad = RenderOptions {
            send_to: " ".into(),
            ..opts()
        };
        assert!(matches!(render(&bad), Err(FormError::InvalidSendTo)));
    }
}
