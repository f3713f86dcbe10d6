//! Static public pages: help (« Avez-vous accès à l'adresse mél enregistrée ? »),
//! information, and the change-of-address form as a PDF.

use crate::{
    domain::SubscriberNumber,
    web::{AppState, pages},
};
use askama::Template;
use axum::{
    extract::{Query, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "public/help.html")]
struct HelpPage<'a> {
    intake_address: &'a str,
}

#[derive(Template)]
#[template(path = "public/info.html")]
struct InfoPage<'a> {
    intake_address: &'a str,
}

#[derive(Template)]
#[template(path = "public/privacy.html")]
struct PrivacyPage<'a> {
    privacy: &'a crate::config::Privacy,
    retention: &'a crate::config::Retention,
}

/// `GET /donnees-personnelles`: controller, purpose, legal basis, retention, rights, contact.
pub async fn privacy_get(State(state): State<AppState>) -> Response {
    pages::render(
        StatusCode::OK,
        &PrivacyPage {
            privacy: &state.settings.privacy,
            retention: &state.settings.retention,
        },
    )
}

pub async fn help_get(State(state): State<AppState>) -> Response {
    pages::render(
        StatusCode::OK,
        &HelpPage {
            intake_address: &state.settings.intake.address,
        },
    )
}

pub async fn info_get(State(state): State<AppState>) -> Response {
    pages::render(
        StatusCode::OK,
        &InfoPage {
            intake_address: &state.settings.intake.address,
        },
    )
}

#[derive(Deserialize)]
pub struct FormQuery {
    abonne: Option<String>,
}

/// `GET /formulaire/changement-adresse-mel.pdf[?abonne=NNN]`: generated on
/// each request; only the subscriber number is ever pre-filled (public page).
pub async fn form_pdf_get(State(state): State<AppState>, Query(q): Query<FormQuery>) -> Response {
    let number = match q.abonne.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => match SubscriberNumber::parse(raw) {
            Ok(n) => Some(n.to_string()),
            Err(e) => {
                return pages::render(
                    StatusCode::BAD_REQUEST,
                    &pages::MessagePage::new(
                        "Numéro d'abonné invalide",
                        "error",
                        format!("{} Le formulaire peut aussi être téléchargé vierge.", e.0),
                    )
                    .link(
                        "/formulaire/changement-adresse-mel.pdf",
                        "Télécharger le formulaire vierge",
                    ),
                );
            }
        },
    };
    let opts = bareme_forms::RenderOptions {
        send_to: state.settings.intake.address.clone(),
        subscriber_number: number,
    };
    match bareme_forms::render(&opts) {
        Ok(pdf) => (
            [
                (header::CONTENT_TYPE, "application/pdf".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!(
                        "attachment; filename=\"{}\"",
                        bareme_forms::DOWNLOAD_FILENAME
                    ),
                ),
                (header::CACHE_CONTROL, "public, max-age=3600".to_string()),
            ],
            pdf,
        )
            .into_response(),
        Err(e) => {
            crate::web::AppError::Internal(anyhow::anyhow!("form rendering: {e}")).into_response()
        }
    }
}
