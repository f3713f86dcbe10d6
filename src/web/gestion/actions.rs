//! `POST /gestion/demandes/{reference}/{action}`: every decision on a
//! request. Each form carries the CSRF token and the `version` of the page
//! it was shown on; a stale page gets a 409 in French.

use super::{
    Staff, check_csrf, fail, forbidden,
    request::{Refusal, request_page},
    request_url, see_other,
};
use crate::{
    backoffice::{approval, corrections, decisions},
    domain::Action,
    store::StoreError,
    web::AppState,
};
use axum::{
    Form,
    extract::{Path, State},
    http::HeaderMap,
    response::Response,
};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct ActionForm {
    csrf: String,
    version: i32,
    #[serde(default)]
    methode: String,
    #[serde(default)]
    commentaire: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    motif: String,
    #[serde(default)]
    champ: String,
    #[serde(default)]
    valeur: String,
}

/// Reason codes of « Rejeter »: (code, French label).
pub use crate::vocabulary::labels::REJECTION_REASONS as REJECTION_CODES;

pub async fn request_action_post(
    State(state): State<AppState>,
    staff: Staff,
    Path((reference, action)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<ActionForm>,
) -> Response {
    if let Some(r) = check_csrf(&state, &headers, &form.csrf) {
        return r;
    }
    let back = request_url(&reference);
    let (db, settings, actor, v) = (
        &state.db,
        state.settings.as_ref(),
        staff.actor(),
        form.version,
    );
    let result = match action.as_str() {
        "prendre-en-charge" => decisions::claim(db, settings, &reference, v, &actor).await,
        "complement" => {
            decisions::request_information(db, settings, &reference, v, &form.message, &actor).await
        }
        "verifier" => {
            decisions::verify(
                db,
                settings,
                &reference,
                v,
                &form.methode,
                &form.commentaire,
                &actor,
            )
            .await
        }
        "approuver" => {
            if !staff.role.can_approve() {
                return forbidden(
                    "Seul un approbateur ou un administrateur peut approuver une demande.",
                );
            }
            approval::approve(db, settings, &reference, v, &actor).await
        }
        "rejeter" => {
            if !REJECTION_CODES.iter().any(|(c, _)| *c == form.motif) {
                let refusal = refusal(&action, &form, "Choisissez un motif de rejet.".into());
                return request_page(&state, &staff, &reference, refusal).await;
            }
            decisions::reject(
                db,
                settings,
                &reference,
                v,
                &form.motif,
                &form.message,
                &actor,
            )
            .await
        }
        "renvoyer-lien" => {
            if !staff.role.can_approve() {
                return forbidden(
                    "Seul un approbateur ou un administrateur peut renvoyer le lien.",
                );
            }
            approval::resend_link(db, settings, &reference, v, &actor).await
        }
        "classer" => {
            decisions::simple_transition(
                db,
                settings,
                &reference,
                v,
                Action::Cancel,
                &form.commentaire,
                &actor,
            )
            .await
        }
        "remettre" => {
            decisions::simple_transition(
                db,
                settings,
                &reference,
                v,
                Action::ReturnToReview,
                &form.commentaire,
                &actor,
            )
            .await
        }
        "lever-opposition" => {
            decisions::lift_contest(db, settings, &reference, v, &form.commentaire, &actor).await
        }
        "champ" => {
            let (field, value) = (&form.champ, &form.valeur);
            corrections::edit_field(db, settings, &reference, v, field, value, &actor).await
        }
        "confirmer-lecture" => corrections::confirm_scan(db, settings, &reference, v, &actor).await,
        "note" => decisions::add_note(db, settings, &reference, v, &form.commentaire, &actor).await,
        _ => {
            return fail(
                crate::store::StoreError::NotFound("action inconnue".into()),
                &back,
            );
        }
    };
    match result {
        Ok(()) => see_other(&back),
        Err(StoreError::Invalid(message)) => match refusal(&action, &form, message.clone()) {
            Some(r) => request_page(&state, &staff, &reference, Some(r)).await,
            None => fail(StoreError::Invalid(message), &back),
        },
        Err(e) => fail(e, &back),
    }
}

/// A refusal of `action` for what was typed, shown at its form and tied to
/// the field it is about; `None` for the decisions without a text field.
fn refusal(action: &str, form: &ActionForm, message: String) -> Option<Refusal> {
    // What `decisions` refuses in a text: nothing typed, or control characters.
    let bad = |text: &str| {
        text.trim().is_empty()
            || text
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    };
    let (at, field, typed): (
        &'static str,
        Option<&'static str>,
        Vec<(&'static str, &str)>,
    ) = match action {
        "verifier" => (
            "verifier",
            Some(if bad(&form.methode) {
                "methode"
            } else {
                "commentaire-verif"
            }),
            vec![
                ("methode", &form.methode),
                ("commentaire", &form.commentaire),
            ],
        ),
        "complement" => (
            "complement",
            bad(&form.message).then_some("message-complement"),
            vec![("message", &form.message)],
        ),
        "rejeter" => (
            "rejeter",
            Some(if REJECTION_CODES.iter().any(|(c, _)| *c == form.motif) {
                "message-rejet"
            } else {
                "motif"
            }),
            vec![("motif", &form.motif), ("message", &form.message)],
        ),
        "remettre" | "classer" => (
            "remettre",
            Some("commentaire-autre"),
            vec![("commentaire", &form.commentaire)],
        ),
        "lever-opposition" => (
            "lever-opposition",
            Some("commentaire-opposition"),
            vec![("commentaire", &form.commentaire)],
        ),
        "champ" => (
            "champ",
            Some("valeur"),
            vec![("champ", &form.champ), ("valeur", &form.valeur)],
        ),
        "note" => (
            "note",
            Some("note"),
            vec![("commentaire", &form.commentaire)],
        ),
        _ => return None,
    };
    Some(Refusal {
        form: at,
        field,
        message,
        typed: typed.into_iter().map(|(n, v)| (n, v.to_string())).collect(),
    })
}
