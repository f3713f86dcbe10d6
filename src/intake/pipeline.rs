//! The pipeline: one message in, one recorded disposition out, all of its
//! writes in one transaction. A database that cannot be reached gives
//! [`IntakeError::Unavailable`] (the source keeps the message and retries);
//! any other failure still records the message, quarantined with the reason,
//! so that one bad message never blocks the next.

use super::{
    Incoming, IntakeError, Outcome, auth, classify, dedup, extract, matching, notify, parse,
    record::{self, NewInbound},
    thread::{self, Thread},
    validate::{self, flag},
};
use crate::{
    config::Settings,
    domain::{Action, MailAddress, RequestState},
    mail::outbox::message_id_domain,
    store::{
        Db, StoreError,
        entities::change_request,
        inbox::Disposition,
        requests::{self, Actor, NewRequest, TransitionInput},
    },
};
use chrono::Utc;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, sea_query::Expr,
};
use std::sync::Arc;

/// The intake pipeline, cheap to clone, shared by every source.
#[derive(Clone)]
pub struct Intake {
    db: Db,
    settings: Arc<Settings>,
}

/// What the steps decided before anything is written.
struct Draft<'a> {
    incoming: &'a Incoming,
    mail: Option<&'a parse::ParsedMail>,
    disposition: Disposition,
    reason: Option<String>,
    request_id: Option<i64>,
    auth: serde_json::Value,
    flags: Vec<String>,
}

impl Intake {
    pub fn new(db: Db, settings: Arc<Settings>) -> Self {
        Self { db, settings }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Runs one message through the pipeline.
    pub async fn ingest(&self, incoming: Incoming) -> Result<Outcome, IntakeError> {
        match self.run(&incoming).await {
            Ok(outcome) => {
                tracing::info!(
                    source = incoming.origin.source,
                    disposition = outcome.disposition.as_str(),
                    reference = outcome.reference.as_deref().unwrap_or("-"),
                    "incoming mail handled"
                );
                Ok(outcome)
            }
            Err(e) if e.is_unavailable() => Err(IntakeError::Unavailable(e)),
            Err(e) => {
                // A concurrent process may have recorded the same position first.
                let position = incoming.origin.position.as_deref();
                if let Ok(dedup::Seen::SamePosition { id, request_id, .. }) =
                    dedup::check(self.db.conn(), position, None, "").await
                {
                    return self
                        .same_position(id, request_id)
                        .await
                        .map_err(IntakeError::Unavailable);
                }
                tracing::warn!(error = %e, source = incoming.origin.source, "incoming mail failed, quarantined");
                self.quarantine_after_error(&incoming, &e).await
            }
        }
    }

    async fn run(&self, incoming: &Incoming) -> Result<Outcome, StoreError> {
        let mail = if incoming.oversize {
            None
        } else {
            parse::parse(&incoming.bytes)
        };
        let txn = self.db.begin().await?;
        let seen = dedup::check(
            &txn,
            incoming.origin.position.as_deref(),
            mail.as_ref().and_then(|m| m.message_id.as_deref()),
            &incoming.content_hash,
        )
        .await?;
        if let dedup::Seen::SamePosition { id, request_id, .. } = seen {
            txn.rollback().await?;
            return self.same_position(id, request_id).await;
        }
        let mut draft = Draft {
            incoming,
            mail: mail.as_ref(),
            disposition: Disposition::Quarantined,
            reason: None,
            request_id: None,
            auth: serde_json::json!({}),
            flags: Vec::new(),
        };
        let outcome = match (&mail, seen) {
            _ if incoming.oversize => {
                draft.reason = Some(format!(
                    "message trop volumineux ({} octets, limite {}) : seul le début est conservé",
                    incoming.size, self.settings.intake.max_message_bytes
                ));
                self.write(&txn, draft).await?
            }
            (None, _) => {
                draft.reason = Some("message illisible : aucun en-tête de courriel reconnu".into());
                self.write(&txn, draft).await?
            }
            (Some(_), dedup::Seen::SameContent { request_id }) => {
                draft.disposition = Disposition::Duplicate;
                draft.request_id = request_id;
                draft.reason = Some("déjà reçu (même Message-ID, même contenu)".into());
                self.write(&txn, draft).await?
            }
            (Some(mail), seen) => {
                if seen == dedup::Seen::ReusedMessageId {
                    draft.flags.push(dedup::REUSED_MESSAGE_ID.into());
                }
                self.route(&txn, mail, draft).await?
            }
        };
        txn.commit().await?;
        Ok(outcome)
    }

    /// Classify, thread or create.
    async fn route(
        &self,
        txn: &DatabaseTransaction,
        mail: &parse::ParsedMail,
        mut draft: Draft<'_>,
    ) -> Result<Outcome, StoreError> {
        let s = &self.settings;
        let own = [
            s.mail.from.to_ascii_lowercase(),
            s.intake.address.to_ascii_lowercase(),
        ];
        if let Some(auto) = classify::classify(mail, &own) {
            draft.disposition = Disposition::AutoIgnored;
            draft.reason = Some(auto.reason);
            if let Some(report) = &mail.report {
                let suffix = format!("@{}", message_id_domain(s).to_ascii_lowercase());
                let ours: Vec<String> = report
                    .original_ids
                    .iter()
                    .filter(|id| id.to_ascii_lowercase().ends_with(&suffix))
                    .cloned()
                    .collect();
                let failed =
                    report.actions.is_empty() || report.actions.iter().any(|a| a == "failed");
                if failed
                    && notify::mark_bounced(txn, &ours, report.diagnostic.as_deref()).await? > 0
                {
                    draft.flags.push("rebond_signale".into());
                }
            }
            return self.write(txn, draft).await;
        }
        let Some(sender) = mail
            .from
            .as_deref()
            .and_then(|f| MailAddress::parse(f).ok())
        else {
            draft.reason = Some("adresse de l'expéditeur absente ou invalide".into());
            return self.write(txn, draft).await;
        };
        let verdicts = auth::trusted(mail, &s.intake.trusted_authserv_id);
        if let Some(v) = &verdicts {
            draft.auth = serde_json::to_value(v).unwrap_or_default();
        }
        match thread::find(txn, mail, &message_id_domain(s)).await? {
            Thread::Request(request) => {
                return self.threaded(txn, mail, &sender, request, draft).await;
            }
            Thread::UnknownReference => draft.flags.push(thread::UNKNOWN_REFERENCE.into()),
            Thread::None => {}
        }
        let extraction = extract::extract(mail);
        if extraction.source == extract::Source::Nothing
            && mail.attachments.is_empty()
            && mail.texts.is_empty()
        {
            draft.reason = Some("aucun contenu exploitable (ni texte ni pièce jointe)".into());
            return self.write(txn, draft).await;
        }
        let claim = validate::validate(&extraction.values);
        let matched = matching::run(txn, &claim, Some(&sender), verdicts.as_ref()).await?;
        let mut flags = draft.flags.clone();
        flags.extend(claim.flags.iter().cloned());
        let manual = extraction.source == extract::Source::Nothing;
        if manual {
            flags.push(flag::MANUAL_ENTRY.into());
        }
        draft.disposition = Disposition::RequestCreated;
        draft.reason = extraction.notes.first().cloned();
        let inbound_id = self.insert(txn, &draft).await?;
        let mut fields = claim.fields.clone();
        fields.insert("_source".into(), extraction.source.as_str().into());
        let request = requests::create_in(
            txn,
            NewRequest {
                claimed_number: claim.number.as_ref().map(|n| n.to_string()),
                subscriber_id: matched.subscriber.as_ref().map(|s| s.id),
                requester_email: Some(sender.to_string()),
                new_email: claim.new_address.as_ref().map(|a| a.to_string()),
                situation: claim.situation.map(str::to_string),
                fields,
                checks: matched.checks,
                flags,
                manual_entry: manual,
                origin_message_id: Some(inbound_id),
            },
            &Actor::System,
        )
        .await?;
        record::set_request(txn, inbound_id, request.id).await?;
        notify::acknowledge(txn, s, &sender, &request, mail.message_id.as_deref()).await?;
        if let Some(subscriber) = &matched.subscriber {
            notify::alert_registered(txn, s, subscriber, &request).await?;
        }
        Ok(Outcome {
            disposition: Disposition::RequestCreated,
            reference: Some(request.reference),
            inbound_id: Some(inbound_id),
            recorded: true,
        })
    }

    /// A reply on an existing request.
    async fn threaded(
        &self,
        txn: &DatabaseTransaction,
        mail: &parse::ParsedMail,
        sender: &MailAddress,
        request: change_request::Model,
        mut draft: Draft<'_>,
    ) -> Result<Outcome, StoreError> {
        let same_sender = request
            .requester_email
            .as_deref()
            .and_then(|r| MailAddress::parse(r).ok())
            .is_some_and(|r| r.same_mailbox(sender));
        if !same_sender {
            draft.flags.push(thread::OTHER_SENDER.into());
        }
        draft.disposition = Disposition::Threaded;
        draft.request_id = Some(request.id);
        let outcome = self.write(txn, draft).await?;
        let mut current = request;
        if current.state == RequestState::AwaitingRequester.as_str() {
            let input = TransitionInput::new(Action::RequesterReplied);
            current = requests::transition_in(
                txn,
                &current,
                &input,
                &Actor::System,
                self.settings.approval.four_eyes,
            )
            .await?;
        }
        if !same_sender {
            add_request_flag(txn, &current, thread::OTHER_SENDER).await?;
        }
        if !notify::acknowledged_recently(txn, sender).await? {
            notify::acknowledge(
                txn,
                &self.settings,
                sender,
                &current,
                mail.message_id.as_deref(),
            )
            .await?;
        }
        Ok(Outcome {
            reference: Some(current.reference),
            ..outcome
        })
    }

    async fn insert(&self, txn: &DatabaseTransaction, d: &Draft<'_>) -> Result<i64, StoreError> {
        let id = record::insert(
            txn,
            NewInbound {
                received_at: Utc::now(),
                source: d.incoming.origin.source,
                position: d.incoming.origin.position.as_deref(),
                message_id: d.mail.and_then(|m| m.message_id.as_deref()),
                content_hash: &d.incoming.content_hash,
                size: d.incoming.size,
                raw: &d.incoming.bytes,
                from: d.mail.and_then(|m| m.from.as_deref()),
                subject: d.mail.and_then(|m| m.subject.as_deref()),
                disposition: d.disposition,
                reason: d.reason.clone(),
                request_id: d.request_id,
                auth_results: d.auth.clone(),
                flags: &d.flags,
            },
        )
        .await?;
        if let Some(mail) = d.mail {
            record::attachments(txn, id, &mail.attachments).await?;
        }
        Ok(id)
    }

    /// Records a message whose disposition is final as drafted.
    async fn write(&self, txn: &DatabaseTransaction, d: Draft<'_>) -> Result<Outcome, StoreError> {
        let id = self.insert(txn, &d).await?;
        let reference = match d.request_id {
            Some(rid) => reference_of(txn, rid).await?,
            None => None,
        };
        Ok(Outcome {
            disposition: d.disposition,
            reference,
            inbound_id: Some(id),
            recorded: true,
        })
    }

    async fn same_position(&self, id: i64, request_id: Option<i64>) -> Result<Outcome, StoreError> {
        let reference = match request_id {
            Some(rid) => reference_of(self.db.conn(), rid).await?,
            None => None,
        };
        Ok(Outcome {
            disposition: Disposition::Duplicate,
            reference,
            inbound_id: Some(id),
            recorded: false,
        })
    }

    async fn quarantine_after_error(
        &self,
        incoming: &Incoming,
        error: &StoreError,
    ) -> Result<Outcome, IntakeError> {
        let attempt = async {
            let txn = self.db.begin().await?;
            let draft = Draft {
                incoming,
                mail: None,
                disposition: Disposition::Quarantined,
                reason: Some(format!(
                    "erreur de traitement : {}",
                    error.to_string().chars().take(300).collect::<String>()
                )),
                request_id: None,
                auth: serde_json::json!({}),
                flags: vec!["erreur_traitement".into()],
            };
            let outcome = self.write(&txn, draft).await?;
            txn.commit().await?;
            Ok::<_, StoreError>(outcome)
        };
        attempt.await.map_err(IntakeError::Unavailable)
    }
}

async fn reference_of<C: ConnectionTrait>(
    db: &C,
    request_id: i64,
) -> Result<Option<String>, StoreError> {
    Ok(change_request::Entity::find_by_id(request_id)
        .one(db)
        .await?
        .map(|r| r.reference))
}

/// Adds `flag` to a request's flags (no version bump: flags are not a decision).
async fn add_request_flag<C: ConnectionTrait>(
    txn: &C,
    request: &change_request::Model,
    flag: &str,
) -> Result<(), StoreError> {
    let mut flags: Vec<String> = serde_json::from_str(&request.flags).unwrap_or_default();
    if flags.iter().any(|f| f == flag) {
        return Ok(());
    }
    flags.push(flag.to_string());
    change_request::Entity::update_many()
        .col_expr(
            change_request::Column::Flags,
            Expr::value(crate::store::to_json(&flags)),
        )
        .filter(change_request::Column::Id.eq(request.id))
        .exec(txn)
        .await?;
    Ok(())
}
