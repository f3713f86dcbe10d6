//! `bareme-mel form [--abonne N] -o FILE`: writes the fillable form.

use super::{CliError, CliResult};
use crate::{config::Settings, domain::SubscriberNumber};
use std::path::Path;

pub fn run(settings: &Settings, abonne: Option<&str>, output: &Path) -> CliResult {
    let subscriber_number = match abonne {
        Some(raw) => Some(
            SubscriberNumber::parse(raw)
                .map_err(|e| CliError::with_status(e.0, 64))?
                .to_string(),
        ),
        None => None,
    };
    let opts = bareme_forms::RenderOptions {
        send_to: settings.intake.address.clone(),
        subscriber_number,
    };
    let pdf =
        bareme_forms::render(&opts).map_err(|e| CliError::internal(format!("formulaire : {e}")))?;
    std::fs::write(output, &pdf).map_err(|e| {
        CliError::file(
            format_args!("écriture de {} impossible", output.display()),
            e,
        )
    })?;
    println!(
        "formulaire écrit dans {} ({} octets)",
        output.display(),
        pdf.len()
    );
    Ok(())
}
