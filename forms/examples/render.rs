//! Writes the form to the file given as first argument (default
//! `changement-adresse-mel.pdf`), optionally pre-filled with the second.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .unwrap_or_else(|| bareme_forms::DOWNLOAD_FILENAME.to_owned());
    let opts = bareme_forms::RenderOptions {
        send_to: "bareme@ac-montpellier.fr".into(),
        subscriber_number: args.next(),
    };
    std::fs::write(&path, bareme_forms::render(&opts)?)?;
    Ok(())
}
