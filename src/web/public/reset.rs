//! `/reinitialisation/{token}`: opening the page does not use the token
//! (mail scanners follow links); the POST hands the form to
//! [`self_service::reset_password`], which uses it atomically.

use super::{csrf_of, csrf_refused};
use crate::{
    backoffice::self_service::{self, LinkState, ResetOutcome},
    web::{AppError, AppState, client::ClientIp, csrf, csrf::CsrfToken, pages},
};
use askama::Template;
use axum::{
    Extension, Form,
    extract::{Path, State},
    http::{HeaderMap, Method, StatusCode},
    response::Response,
};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "public/reset.html")]
struct ResetPage {
    csrf: String,
    token: String,
    done: bool,
    error_password: Option<String>,
    error_repeat: Option<String>,
}

/// The page for a link that cannot be used, saying what to do next.
fn unusable(state: LinkState) -> Response {
    let why = match state {
        LinkState::Expired => "Ce lien a expiré.",
        LinkState::Used => "Ce lien a déjà été utilisé.",
        LinkState::Voided => "Ce lien a été remplacé par un lien plus récent ou annulé.",
        _ => "Ce lien n'est pas valide.",
    };
    pages::render(
        StatusCode::GONE,
        &pages::MessagePage::new(
            "Lien de réinitialisation inutilisable",
            "warning",
            format!("{why} Demandez un nouveau lien depuis la page de connexion (« Réinitialisation ou mot de passe oublié ? »). Si vous n'avez plus accès à l'adresse mél enregistrée, suivez la procédure de changement d'adresse."),
        )
        .link("/mot-de-passe-oublie", "Demander un nouveau lien")
        .link("/aide", "Je n'ai plus accès à l'adresse mél enregistrée"),
    )
}

pub async fn reset_get(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(secret): Path<String>,
    token: Option<Extension<CsrfToken>>,
) -> Result<Response, AppError> {
    if !state.limits.per_client.allow(&format!("token:{ip}")) {
        return Ok(too_many());
    }
    match self_service::link_state(&state.db, &secret).await? {
        LinkState::Valid => Ok(pages::render(
            StatusCode::OK,
            &ResetPage {
                csrf: csrf_of(token),
                token: secret,
                done: false,
                error_password: None,
                error_repeat: None,
            },
        )),
        other => Ok(unusable(other)),
    }
}

fn too_many() -> Response {
    pages::render(
        StatusCode::TOO_MANY_REQUESTS,
        &pages::MessagePage::new(
            "Trop de tentatives",
            "error",
            "Trop de tentatives depuis votre connexion : patientez quinze minutes puis recommencez.",
        ),
    )
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    mot_de_passe: String,
    #[serde(default)]
    repetition: String,
}

pub async fn reset_post(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(secret): Path<String>,
    token: Option<Extension<CsrfToken>>,
    method: Method,
    headers: HeaderMap,
    Form(form): Form<ResetForm>,
) -> Result<Response, AppError> {
    if !csrf::verify(&state, &headers, &method, &form.csrf) {
        return Ok(csrf_refused());
    }
    if !state.limits.per_client.allow(&format!("token:{ip}")) {
        return Ok(too_many());
    }
    let outcome = self_service::reset_password(
        &state.db,
        &state.settings,
        &secret,
        form.mot_de_passe,
        &form.repetition,
    )
    .await?;
    let (error_password, error_repeat) = match outcome {
        ResetOutcome::Done => {
            return Ok(pages::render(
                StatusCode::OK,
                &ResetPage {
                    csrf: csrf_of(token),
                    token: String::new(),
                    done: true,
                    error_password: None,
                    error_repeat: None,
                },
            ));
        }
        ResetOutcome::Unusable(why) => return Ok(unusable(why)),
        ResetOutcome::WeakPassword(why) => (Some(why), None),
        ResetOutcome::Mismatch => (
            None,
            Some("Les deux mots de passe sont différents : saisissez deux fois le même.".into()),
        ),
    };
    Ok(pages::render(
        StatusCode::BAD_REQUEST,
        &ResetPage {
            csrf: csrf_of(token),
            token: secret,
            done: false,
            error_password,
            error_repeat,
        },
    ))
}
