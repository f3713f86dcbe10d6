//! Route: after parsing and dedup, the steps that decide what a message
//! is — automatic (and a bounce to record), a reply on a request, a mail
//! that is not a change request (triage), or a new request with its checks,
//! acknowledgement and alert.

use super::Outcome;
use super::{
    answer, auth, classify, create, extract, notify, parse,
    pipeline::{Draft, Intake},
    record,
    thread::{self, Thread},
    triage, validate,
};
use crate::{
    domain::{Action, Change, Flag, MailAddress, RequestState},
    mail::outbox::message_id_domain,
    store::{
        StoreError, Txn,
        entities::change_request,
        inbox::Disposition,
        request_write::{self, Record},
        requests::Actor,
    },
};

impl Intake {
    /// Classify, thread or create.
    pub(super) async fn route(
        &self,
        txn: &Txn,
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
            None => extract::extract(mail, &extract::ScanSettings::from_settings(s)),
        };
        // Validated where the mail was read, with its extraction; here
        // otherwise.
        let claim = draft
            .claim
            .take()
            .unwrap_or_else(|| validate::validate(&extraction.values));
        if extraction.source == extract::Source::Nothing
            && mail.attachments.is_empty()
            && mail.texts.is_empty()
        {
            draft.reason = Some("aucun contenu exploitable (ni texte ni pièce jointe)".into());
            return self.write(txn, draft).await;
        }
        let decision = triage::decide(mail, &extraction, &own);
        if !decision.is_request() {
            draft.disposition = Disposition::NotARequest;
            draft.reason = Some(decision.reason().into());
            let authenticated = verdicts.as_ref().and_then(|v| v.authenticated()) == Some(true);
            answer::not_a_request(txn, s, &sender, authenticated, mail.message_id.as_deref())
                .await?;
            return self.write(txn, draft).await;
        }
        draft.disposition = Disposition::RequestCreated;
        draft.reason = extraction.notes.first().cloned();
        // Creating the request updates the record: on SQLite its raw mail
        // is written after that.
        let raw_last = record::raw_written_last(txn);
        let inbound_id = self.insert_with(txn, &draft, !raw_last).await?;
        let request = create::request_from_mail(
            txn,
            s,
            create::FromMail {
                mail,
                extraction: &extraction,
                claim,
                sender: &sender,
                verdicts: verdicts.as_ref(),
                flags: draft.flags.clone(),
                inbound_id,
                actor: &Actor::System,
                acknowledge: !dmarc_failed,
            },
        )
        .await?;
        if raw_last {
            record::raw(txn, inbound_id, &draft.incoming.bytes).await?;
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
        txn: &Txn,
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
        if RequestState::parse(&current.state) == Some(RequestState::AwaitingRequester)
            && !unauthenticated
        {
            let replied = Change::Transition(Action::RequesterReplied);
            current = request_write::apply(
                txn,
                &self.settings,
                &current,
                &replied,
                &Actor::Requester,
                &Record::default(),
            )
            .await?
            .request;
        }
        if !same_sender {
            current = self
                .add_request_flag(txn, current, thread::OTHER_SENDER)
                .await?;
        }
        if unauthenticated {
            current = self
                .add_request_flag(txn, current, auth::UNAUTHENTICATED)
                .await?;
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

impl Intake {
    /// Adds `flag` to a request through the write path (the queue then shows it).
    async fn add_request_flag(
        &self,
        txn: &Txn,
        request: change_request::Model,
        flag: &str,
    ) -> Result<change_request::Model, StoreError> {
        let flag = Flag::new(flag).map_err(|e| StoreError::Invalid(e.0))?;
        let flags: Vec<String> = serde_json::from_str(&request.flags).unwrap_or_default();
        if flags.iter().any(|f| f == flag.as_str()) {
            return Ok(request);
        }
        let change = Change::AddFlag(flag);
        let applied = request_write::apply(
            txn,
            &self.settings,
            &request,
            &change,
            &Actor::System,
            &Record::default(),
        )
        .await?;
        Ok(applied.request)
    }
}
