//! Route: after parsing and dedup, the steps that decide what a message
//! is — automatic (and a bounce to record), a reply on a request, or a new
//! request with its checks, acknowledgement and alert.

use super::Outcome;
use super::{
    auth, classify, extract, matching, notify, parse,
    pipeline::{Draft, Intake},
    record,
    thread::{self, Thread},
    validate::{self, flag},
};
use crate::{
    domain::{Action, MailAddress, RequestState},
    mail::outbox::message_id_domain,
    store::{
        StoreError,
        entities::change_request,
        inbox::Disposition,
        requests::{self, Actor, NewRequest, TransitionInput},
    },
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, sea_query::Expr,
};

impl Intake {
    /// Classify, thread or create.
    pub(super) async fn route(
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
            if v.failed() {
                draft.flags.push(auth::UNAUTHENTICATED.into());
            }
        }
        // No acknowledgement to a From address our MTA saw forged (backscatter).
        let dmarc_failed = verdicts
            .as_ref()
            .is_some_and(|v| v.dmarc.as_deref() == Some("fail"));
        match thread::find(txn, mail, &message_id_domain(s)).await? {
            Thread::Request(request) => {
                return self
                    .threaded(txn, mail, &sender, *request, draft, dmarc_failed)
                    .await;
            }
            Thread::UnknownReference => draft.flags.push(thread::UNKNOWN_REFERENCE.into()),
            Thread::None => {}
        }
        let extraction = match draft.extraction {
            Some(read) => read.clone(),
            None => extract::extract(mail),
        };
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
        if !dmarc_failed {
            notify::acknowledge(txn, s, &sender, &request, mail.message_id.as_deref()).await?;
        }
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
        dmarc_failed: bool,
    ) -> Result<Outcome, StoreError> {
        // Not authenticated: shown and flagged, but it decides nothing.
        let unauthenticated = draft.flags.iter().any(|f| f == auth::UNAUTHENTICATED);
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
        if current.state == RequestState::AwaitingRequester.as_str() && !unauthenticated {
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
        if unauthenticated {
            add_request_flag(txn, &current, auth::UNAUTHENTICATED).await?;
        }
        if !dmarc_failed && !notify::acknowledged_recently(txn, sender).await? {
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
