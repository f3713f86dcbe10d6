//! The request page `/gestion/demandes/{reference}`.

use super::{Chrome, Staff, fail};
use crate::{
    backoffice::{
        corrections::EDITABLE_FIELDS,
        fmt_date,
        mailview::{self, MessageView},
        queue::{staff_names, staff_names_by_username},
        sender_auth::SenderAuth,
    },
    domain::{RequestState, Role},
    store::requests::{self, CheckOutcome, SubscriberRecord},
    vocabulary,
    web::{AppState, pages::render},
};
use askama::Template;
use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Response,
};

/// The label staff read for a claimed field: the form definition's, or
/// `None` for keys that are not form fields (`_source`…), never shown.
pub fn field_label(name: &str) -> Option<&'static str> {
    crate::vocabulary::field_label(name)
}

pub struct CheckView {
    pub label: String,
    pub class: &'static str,
    pub verdict: &'static str,
    pub detail: String,
}

pub struct OutView {
    pub at: String,
    pub to: String,
    pub subject: String,
    pub status: String,
}

pub struct EventView {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub change: String,
    pub reason: String,
}

/// Which actions the page offers.
pub struct Offers {
    pub claim: bool,
    pub information: bool,
    pub verify: bool,
    pub approve: bool,
    pub reject: bool,
    pub resend: bool,
    pub cancel: bool,
    pub back_to_review: bool,
    pub edit: bool,
}

#[derive(Template)]
#[template(path = "gestion/request.html")]
struct RequestPage {
    chrome: Chrome,
    reference: String,
    url: String,
    version: i32,
    state_label: &'static str,
    assignee: String,
    contested: bool,
    /// While the objection window runs: when approval becomes possible.
    approval_wait: Option<String>,
    flags: Vec<String>,
    situation: String,
    claimed: Vec<(String, String)>,
    subscriber: Option<SubscriberRecord>,
    checks: Vec<CheckView>,
    auth: SenderAuth,
    verification: Option<VerificationView>,
    scan: Option<ScanPanel>,
    messages: Vec<MessageView>,
    outgoing: Vec<OutView>,
    notes: Vec<(String, String, String)>,
    timeline: Vec<EventView>,
    offers: Offers,
    editable: Vec<(&'static str, &'static str)>,
    rejection_reasons: &'static [(&'static str, &'static str)],
    /// A decision just refused for what was typed, shown at its form.
    refusal: Option<Refusal>,
}

/// A decision refused for what was typed (an empty comment, a value the
/// field does not accept): the page is shown again with the message in the
/// decision's form, tied to the field it is about, and what was typed kept.
pub struct Refusal {
    /// The form: the action's path segment (« classer » is the « remettre » form).
    pub form: &'static str,
    /// The HTML id of the field the message is about, if it is about one.
    pub field: Option<&'static str>,
    pub message: String,
    /// What was typed in the form, by field name.
    pub typed: Vec<(&'static str, String)>,
}

/// The id of a refusal's message, which its field points to.
const REFUSAL_ID: &str = "erreur-decision";

impl RequestPage {
    /// The refusal's message when it belongs to `form`.
    fn refused_at(&self, form: &str) -> Option<&str> {
        self.refusal
            .as_ref()
            .filter(|r| r.form == form)
            .map(|r| r.message.as_str())
    }

    /// The attributes that tie the field `id` to the refusal's message.
    fn tie(&self, id: &str) -> String {
        match &self.refusal {
            Some(r) if r.field == Some(id) => {
                format!(r#" aria-describedby="{REFUSAL_ID}" aria-invalid="true""#)
            }
            _ => String::new(),
        }
    }

    /// What was typed in `name` of `form`, if that form was refused.
    fn kept(&self, form: &str, name: &str) -> &str {
        self.refusal
            .as_ref()
            .filter(|r| r.form == form)
            .and_then(|r| r.typed.iter().find(|(n, _)| *n == name))
            .map_or("", |(_, v)| v.as_str())
    }
}

/// One box of the « Formulaire numérisé » panel.
pub struct ScanRowView {
    pub label: String,
    pub value: String,
    pub confidence: String,
    pub source: &'static str,
    pub uncertain: bool,
    pub image: String,
}

/// The « Formulaire numérisé » panel: each value read beside its box.
pub struct ScanPanel {
    pub rows: Vec<ScanRowView>,
    pub signature: Option<String>,
    pub stamp: Option<String>,
    /// Values read under the threshold are still to be confirmed.
    pub to_confirm: bool,
}

fn scan_panel(
    reference: &str,
    readings: &[crate::store::entities::scan_reading::Model],
    flags: &[String],
) -> Option<ScanPanel> {
    use crate::store::scan_readings::{SIGNATURE, STAMP};
    if readings.is_empty() {
        return None;
    }
    let url = |id: i64| format!("{}/images/{id}", super::request_url(reference));
    let zone = |name: &str| {
        readings
            .iter()
            .find(|r| r.name == name && !r.image_png.is_empty())
            .map(|r| url(r.id))
    };
    let rows = readings
        .iter()
        .filter_map(|r| {
            let label = field_label(&r.name)?;
            Some(ScanRowView {
                label: label.to_string(),
                value: match (r.source.as_str(), r.value.as_deref()) {
                    ("ink", Some(_)) => "Case cochée".into(),
                    ("ink", None) => "Case vide".into(),
                    (_, Some(v)) => v.to_string(),
                    (_, None) => "(rien de lu)".into(),
                },
                confidence: format!("{:.0} %", (r.confidence * 100.0).clamp(0.0, 100.0)),
                source: match r.source.as_str() {
                    "qr_code" => "QR code du formulaire",
                    "ink" => "Encre dans la case",
                    _ => "Reconnaissance du texte",
                },
                uncertain: r.uncertain,
                image: url(r.id),
            })
        })
        .collect();
    Some(ScanPanel {
        rows,
        signature: zone(SIGNATURE),
        stamp: zone(STAMP),
        to_confirm: flags
            .iter()
            .any(|f| f == crate::intake::extract::UNCERTAIN_READING),
    })
}

/// `GET /gestion/demandes/{reference}/images/{id}`: one image of the
/// scanned form (a PNG the service cut out and encoded itself).
pub async fn scan_image_get(
    State(state): State<AppState>,
    _staff: Staff,
    Path((reference, id)): Path<(String, i64)>,
) -> Response {
    use axum::{
        http::{HeaderValue, header},
        response::IntoResponse,
    };
    let db = state.db.conn();
    let found = async {
        let model = requests::find(db, &reference).await?;
        crate::store::scan_readings::image(db, model.id, id).await
    };
    match found.await {
        Ok(Some(png)) if !png.is_empty() => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("image/png")),
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("private, no-store"),
                ),
            ],
            png,
        )
            .into_response(),
        Ok(_) => fail(
            crate::store::StoreError::NotFound("image introuvable".into()),
            &super::request_url(&reference),
        ),
        Err(e) => fail(e, "/gestion"),
    }
}

/// « Vérification d'identité »: who, how, and the comment, each said once.
pub struct VerificationView {
    pub by: String,
    pub method: String,
    pub comment: String,
}

fn offers(state: RequestState, role: Role, closed: bool) -> Offers {
    use RequestState as S;
    let open = matches!(state, S::PendingReview | S::AwaitingRequester | S::Verified);
    Offers {
        claim: open,
        information: state == S::PendingReview,
        verify: state == S::PendingReview,
        approve: state == S::Verified && role.can_approve(),
        reject: open,
        resend: state == S::Approved && role.can_approve(),
        cancel: matches!(state, S::PendingReview | S::AwaitingRequester),
        back_to_review: matches!(state, S::AwaitingRequester | S::Verified),
        edit: open && !closed,
    }
}

/// `GET /gestion/demandes/{reference}`.
pub async fn request_detail_get(
    State(state): State<AppState>,
    staff: Staff,
    Path(reference): Path<String>,
) -> Response {
    request_page(&state, &staff, &reference, None).await
}

/// The request page; with a refusal, shown again with 400 and the refusal
/// at its form.
pub(super) async fn request_page(
    state: &AppState,
    staff: &Staff,
    reference: &str,
    refusal: Option<Refusal>,
) -> Response {
    let reference = reference.to_string();
    let db = state.db.conn();
    let load = async {
        let model = requests::find(db, &reference).await?;
        let detail = requests::show(db, &reference).await?;
        let messages = mailview::for_request(db, model.id).await?;
        let notes = crate::store::notes::for_request(db, model.id).await?;
        let names = staff_names(db).await?;
        let usernames = staff_names_by_username(db).await?;
        let rules = state.settings.approval.rules();
        let alerted_at = if rules.objection_window > chrono::Duration::zero() {
            crate::store::request_facts::alerted_at(db, model.id).await?
        } else {
            None
        };
        let readings = crate::store::scan_readings::for_request(db, model.id).await?;
        Ok::<_, crate::store::StoreError>((
            model, detail, messages, notes, names, usernames, alerted_at, readings,
        ))
    };
    let (model, detail, messages, notes, names, usernames, alerted_at, readings) = match load.await
    {
        Ok(v) => v,
        Err(e) => return fail(e, "/gestion"),
    };
    let name = |id: Option<i64>| id.and_then(|i| names.get(&i).cloned()).unwrap_or_default();
    let st = RequestState::parse(&model.state).unwrap_or(RequestState::PendingReview);
    let auth = model
        .origin_message_id
        .and_then(|id| messages.iter().find(|m| m.id == id))
        .or(messages.first())
        .map(|m| m.auth.clone())
        .unwrap_or_else(|| crate::backoffice::sender_auth::describe("", ""));
    let page = RequestPage {
        chrome: staff.chrome(),
        url: super::request_url(&model.reference),
        reference: model.reference.clone(),
        version: model.version,
        state_label: st.label(),
        assignee: name(model.assignee_id),
        contested: model.contested,
        approval_wait: if matches!(
            st,
            RequestState::PendingReview | RequestState::AwaitingRequester | RequestState::Verified
        ) {
            let now = chrono::Utc::now();
            crate::domain::approvable_after(alerted_at, &state.settings.approval.rules())
                .filter(|at| *at > now)
                .map(|at| vocabulary::time::approval_wait(now, at))
        } else {
            None
        },
        flags: detail
            .summary
            .flags
            .iter()
            .map(|f| vocabulary::flag_label(f))
            .collect(),
        situation: match detail.situation.as_deref() {
            Some(code) => vocabulary::situation_label(code)
                .map(str::to_string)
                .unwrap_or_else(|| vocabulary::readable(code)),
            None => "Non précisée".into(),
        },
        // In the form's order, form fields only.
        claimed: bareme_forms::definition()
            .fields()
            .filter_map(|f| {
                let value = detail.fields.get(&f.name)?;
                Some((field_label(&f.name)?.to_string(), value.clone()))
            })
            .collect(),
        subscriber: detail.subscriber.clone(),
        checks: detail
            .checks
            .iter()
            .map(|c| {
                let (class, verdict) = match c.outcome {
                    CheckOutcome::Match => ("fr-badge--success", "Conforme"),
                    CheckOutcome::Mismatch => ("fr-badge--error", "Non conforme"),
                    CheckOutcome::Unknown => ("fr-badge--info", "Inconnu"),
                };
                CheckView {
                    label: c.label.clone(),
                    class,
                    verdict,
                    detail: c.detail.clone().unwrap_or_default(),
                }
            })
            .collect(),
        auth,
        verification: detail
            .verification_method
            .clone()
            .map(|method| VerificationView {
                by: name(model.verified_by),
                method,
                comment: detail.verification_comment.clone().unwrap_or_default(),
            }),
        scan: scan_panel(&model.reference, &readings, &detail.summary.flags),
        messages,
        outgoing: detail
            .thread
            .iter()
            .filter(|t| t.direction == "out")
            .map(|t| OutView {
                at: fmt_date(t.at),
                to: t.party.clone().unwrap_or_default(),
                subject: t.subject.clone().unwrap_or_default(),
                status: vocabulary::labels::outbox_state_label(&t.status),
            })
            .collect(),
        notes: notes
            .into_iter()
            .map(|n| (fmt_date(n.created_at), name(Some(n.staff_id)), n.body))
            .collect(),
        timeline: detail
            .timeline
            .iter()
            .map(|e| EventView {
                at: fmt_date(e.at),
                actor: vocabulary::actor_label(&e.actor, &usernames),
                action: vocabulary::action_label(&e.action),
                change: match (&e.from_state, &e.to_state) {
                    (Some(f), Some(t)) => format!("{} → {}", label(f), label(t)),
                    (None, Some(t)) => label(t).to_string(),
                    _ => String::new(),
                },
                reason: e.reason.clone().unwrap_or_default(),
            })
            .collect(),
        offers: offers(st, staff.role, model.closed_at.is_some()),
        editable: EDITABLE_FIELDS
            .iter()
            .filter_map(|f| Some((f.name(), field_label(f.name())?)))
            .collect(),
        rejection_reasons: vocabulary::labels::REJECTION_REASONS,
        refusal,
    };
    let status = if page.refusal.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(status, &page)
}

fn label(state: &str) -> &'static str {
    RequestState::parse(state)
        .map(RequestState::label)
        .unwrap_or("?")
}
