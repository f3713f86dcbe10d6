//! The DAG back-office under `/gestion`: sign-in, the queue, the request
//! page and its decisions, quarantine, other mail (not a request),
//! subscribers, staff, the audit log.
//! Handlers are thin: extract, check the session, role and CSRF token, call
//! `crate::backoffice`, render one askama page or redirect (POST → 303).

mod access;
mod account;
mod actions;
mod audit;
mod auth;
mod awaiting_mail;
mod first_admin;
mod mail;
mod queue;
mod request;
mod staff;
mod subscribers;
mod two_factor;

pub use auth::Staff;

use super::{
    AppState,
    pages::{MessagePage, render},
};
use crate::store::StoreError;
use axum::{
    Router,
    http::{HeaderMap, Method, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};

/// The back-office routes, nested under `/gestion` by `web::router`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(queue::queue_get))
        .route("/export.csv", get(queue::export_csv_get))
        .route(
            "/connexion",
            get(auth::sign_in_get).post(auth::sign_in_post),
        )
        .route(
            "/connexion/code",
            get(two_factor::code_get).post(two_factor::code_post),
        )
        .route("/deconnexion", post(auth::sign_out_post))
        .route("/compte", get(account::account_get))
        .route("/compte/totp", post(account::totp_enable_post))
        .route("/compte/totp/desactiver", post(account::totp_disable_post))
        .route(
            "/premier-compte/{token}",
            get(first_admin::first_admin_get).post(first_admin::first_admin_post),
        )
        .route("/demandes/{reference}", get(request::request_detail_get))
        .route(
            "/demandes/{reference}/{action}",
            post(actions::request_action_post),
        )
        .route(
            "/demandes/{reference}/images/{id}",
            get(request::scan_image_get),
        )
        .route("/pieces-jointes/{id}", get(mail::attachment_get))
        .route("/courriels/{id}/html", get(mail::mail_html_get))
        .route("/quarantaine", get(awaiting_mail::quarantine_list_get))
        .route(
            "/quarantaine/{id}",
            get(awaiting_mail::quarantine_detail_get),
        )
        .route(
            "/quarantaine/{id}/{action}",
            post(awaiting_mail::quarantine_action_post),
        )
        .route("/autres-courriels", get(awaiting_mail::other_list_get))
        .route(
            "/autres-courriels/{id}",
            get(awaiting_mail::other_detail_get),
        )
        .route(
            "/autres-courriels/{id}/{action}",
            post(awaiting_mail::other_action_post),
        )
        .route("/abonnes", get(subscribers::subscribers_get))
        .route("/abonnes/{number}", get(subscribers::subscriber_detail_get))
        .route(
            "/agents",
            get(staff::staff_list_get).post(staff::staff_add_post),
        )
        .route("/agents/{id}/desactiver", post(staff::staff_disable_post))
        .route(
            "/droit-acces",
            get(access::access_get).post(access::access_post),
        )
        .route("/journal", get(audit::audit_log_get))
        .route("/journal.csv", get(audit::audit_csv_get))
}

/// What every signed-in page shows around its content.
pub struct Chrome {
    pub csrf: String,
    pub name: String,
    pub role_label: &'static str,
    pub is_admin: bool,
}

impl Chrome {
    pub fn of(staff: &Staff) -> Self {
        Self {
            csrf: staff.csrf.clone(),
            name: staff.display_name.clone(),
            role_label: crate::vocabulary::role_label(staff.role),
            is_admin: staff.role == crate::domain::Role::Admin,
        }
    }
}

/// 403 with a French page.
pub fn forbidden(message: &str) -> Response {
    render(
        StatusCode::FORBIDDEN,
        &MessagePage::new("Action refusée", "error", message)
            .link("/gestion", "Retour à la file des demandes"),
    )
}

/// `Some(403 page)` when the form's CSRF token does not match.
pub fn check_csrf(state: &AppState, headers: &HeaderMap, token: &str) -> Option<Response> {
    (!super::csrf::verify(state, headers, &Method::POST, token)).then(|| {
        forbidden(
            "Le formulaire a expiré ou ne vient pas de ce site. Rechargez la page et recommencez.",
        )
    })
}

/// A store error as a French page with the right status; `back` is where to
/// return. The mapping is [`crate::web::AppError`]'s, the one of the whole edge.
pub fn fail(e: StoreError, back: &str) -> Response {
    crate::web::AppError::from(e).page(back)
}

/// After a successful POST: back to a page with GET.
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// `/gestion/demandes/{reference}` with the reference made safe for a URL.
pub fn request_url(reference: &str) -> String {
    let safe: String = reference
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    format!("/gestion/demandes/{safe}")
}
