//! « Droit d'accès » (administrators only): everything held about one
//! subscriber number or one address, downloaded as the ZIP of
//! `access_export::build`, which audits the export.

use super::{Chrome, Staff, check_csrf, fail, forbidden};
use crate::{
    access_export::{self, Subject},
    domain::{MailAddress, Role, SubscriberNumber},
    web::{AppState, pages::render},
};
use askama::Template;
use axum::{
    Form,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "gestion/access.html")]
struct AccessPage {
    chrome: Chrome,
    value: String,
    error: Option<String>,
}

fn admin_only(staff: &Staff) -> Option<Response> {
    (staff.role != Role::Admin).then(|| {
        forbidden("Les exports au titre du droit d'accès sont réservés aux administrateurs.")
    })
}

/// A subscriber number, or an address when the value holds an `@`.
pub fn subject(value: &str) -> Result<Subject, String> {
    let value = value.trim();
    if value.contains('@') {
        MailAddress::parse(value)
            .map(Subject::Address)
            .map_err(|e| e.0)
    } else {
        SubscriberNumber::parse(value)
            .map(Subject::Number)
            .map_err(|e| e.0)
    }
}

/// `GET /gestion/droit-acces`.
pub async fn access_get(me: Staff) -> Response {
    if let Some(r) = admin_only(&me) {
        return r;
    }
    render(
        StatusCode::OK,
        &AccessPage {
            chrome: me.chrome(),
            value: String::new(),
            error: None,
        },
    )
}

#[derive(Deserialize)]
pub struct AccessForm {
    csrf: String,
    personne: String,
}

/// `POST /gestion/droit-acces`: the ZIP, as a download.
pub async fn access_post(
    State(state): State<AppState>,
    me: Staff,
    headers: HeaderMap,
    Form(form): Form<AccessForm>,
) -> Response {
    if let Some(r) = check_csrf(&state, &headers, &form.csrf).or_else(|| admin_only(&me)) {
        return r;
    }
    let subject = match subject(&form.personne) {
        Ok(s) => s,
        Err(error) => {
            return render(
                StatusCode::BAD_REQUEST,
                &AccessPage {
                    chrome: me.chrome(),
                    value: form.personne,
                    error: Some(error),
                },
            );
        }
    };
    match access_export::build(&state.db, &subject, &me.actor().audit_name()).await {
        Ok((zip, _)) => {
            let name = format!(
                "attachment; filename=\"droit-acces-{}.zip\"",
                chrono::Utc::now().format("%Y%m%d-%H%M%S")
            );
            (
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/zip"),
                    ),
                    (
                        header::CONTENT_DISPOSITION,
                        HeaderValue::from_str(&name)
                            .unwrap_or(HeaderValue::from_static("attachment")),
                    ),
                    (
                        header::X_CONTENT_TYPE_OPTIONS,
                        HeaderValue::from_static("nosniff"),
                    ),
                    (
                        header::CACHE_CONTROL,
                        HeaderValue::from_static("private, no-store"),
                    ),
                ],
                zip,
            )
                .into_response()
        }
        Err(e) => fail(e, "/gestion/droit-acces"),
    }
}
