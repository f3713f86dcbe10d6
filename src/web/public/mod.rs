//! The Espace Abonné Barème (SPEC §6, public side): sign-in, forgotten
//! password, reset link, reactivation, objection, help and the form.

mod account;
mod forgot;
mod info;
mod objection;
mod reset;
mod signin;

use super::{AppState, csrf::CsrfToken};
use axum::{
    Router,
    routing::{get, post},
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(signin::signin_get))
        .route(
            "/connexion",
            get(signin::signin_get).post(signin::signin_post),
        )
        .route("/deconnexion", post(account::signout_post))
        .route("/compte", get(account::account_get))
        .route("/compte/mot-de-passe", post(account::password_post))
        .route(
            "/mot-de-passe-oublie",
            get(forgot::forgot_get).post(forgot::forgot_post),
        )
        .route(
            "/reactivation",
            get(forgot::reactivation_get).post(forgot::reactivation_post),
        )
        .route(
            "/reinitialisation/{token}",
            get(reset::reset_get).post(reset::reset_post),
        )
        .route(
            "/opposition/{token}",
            get(objection::objection_get).post(objection::objection_post),
        )
        .route("/aide", get(info::help_get))
        .route("/informations", get(info::info_get))
        .route("/donnees-personnelles", get(info::privacy_get))
        .route(
            "/formulaire/changement-adresse-mel.pdf",
            get(info::form_pdf_get),
        )
}

/// The CSRF token the middleware put in the request, for the page's forms.
pub(crate) fn csrf_of(token: Option<axum::Extension<CsrfToken>>) -> String {
    token.map(|t| t.0.0.clone()).unwrap_or_default()
}

/// The same 403 page for every refused form.
pub(crate) fn csrf_refused() -> axum::response::Response {
    super::pages::render(
        axum::http::StatusCode::FORBIDDEN,
        &super::pages::MessagePage::new(
            "Formulaire expiré",
            "error",
            "Le formulaire a expiré ou ne vient pas de ce site. Rechargez la page et recommencez.",
        )
        .link("/", "Retour à la page de connexion"),
    )
}
