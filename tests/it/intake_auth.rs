//! Sender authentication (SPEC §4, issue 12): only `dmarc=pass`, or an SPF
//! or DKIM pass aligned with the From organisational domain, authenticates;
//! anything else is flagged, and an unauthenticated reply changes nothing.

use crate::{intake_support::*, on_both_databases};
use bareme_mel::store::{
    Db,
    inbox::Disposition,
    requests::{self, CheckOutcome},
};

const UNAUTHENTICATED: &str = "expediteur_non_authentifie";

async fn request_with(db: &Db, auth_results: &str) -> requests::Detail {
    let headers = format!("Authentication-Results: {auth_results}\r\n");
    let outcome = ingest(db, &mail(SENDER, "Demande", &headers, &form_body(SENDER))).await;
    assert_eq!(outcome.disposition, Disposition::RequestCreated);
    requests::show(db.conn(), &outcome.reference.unwrap())
        .await
        .unwrap()
}

fn authenticated(detail: &requests::Detail) -> CheckOutcome {
    detail
        .checks
        .iter()
        .find(|c| c.code == "sender_authenticated")
        .unwrap()
        .outcome
}

on_both_databases!(
    an_spf_or_dkim_pass_for_another_domain_does_not_authenticate_the_from_address,
    |db: Db| async move {
        seed_subscriber(&db).await;
        for header in [
            "mx.ac-montpellier.fr; spf=pass smtp.mailfrom=evil.test; dmarc=none",
            "mx.ac-montpellier.fr; dkim=pass header.d=evil.test; dmarc=none",
            "mx.ac-montpellier.fr; spf=pass smtp.mailfrom=x@lycee-jean-moulin.fr.evil.test; dmarc=none",
        ] {
            let detail = request_with(&db, header).await;
            assert_eq!(authenticated(&detail), CheckOutcome::Mismatch, "{header}");
            assert!(
                detail.summary.flags.iter().any(|f| f == UNAUTHENTICATED),
                "{header}: {:?}",
                detail.summary.flags
            );
        }
        // Aligned: same organisational domain (a subdomain of the From domain).
        for header in [
            "mx.ac-montpellier.fr; spf=pass smtp.mailfrom=bounces@mail.lycee-jean-moulin.fr; dmarc=none",
            "mx.ac-montpellier.fr; dkim=fail header.d=evil.test; dkim=pass header.d=lycee-jean-moulin.fr",
            "mx.ac-montpellier.fr; spf=fail smtp.mailfrom=evil.test; dmarc=pass header.from=lycee-jean-moulin.fr",
        ] {
            let detail = request_with(&db, header).await;
            assert_eq!(authenticated(&detail), CheckOutcome::Match, "{header}");
            assert!(
                !detail.summary.flags.iter().any(|f| f == UNAUTHENTICATED),
                "{header}"
            );
        }
    }
);

on_both_databases!(
    a_spoofed_reply_is_threaded_flagged_and_leaves_the_request_waiting,
    |db: Db| async move {
        let reference = awaiting_requester(&db).await.reference;
        // Same From as the requester, but SPF and DMARC fail at our MTA.
        let spoofed = mail(
            SENDER,
            &format!("Re: [{reference}] Barème de Montpellier"),
            "Authentication-Results: mx.ac-montpellier.fr; spf=fail smtp.mailfrom=evil.test; dmarc=fail header.from=lycee-jean-moulin.fr\r\n",
            "Voici ma nouvelle adresse : pirate@evil.test",
        );
        let outcome = ingest(&db, &spoofed).await;
        assert_eq!(outcome.disposition, Disposition::Threaded);
        let detail = requests::show(db.conn(), &reference).await.unwrap();
        assert_eq!(detail.summary.state, "awaiting_requester");
        assert!(
            detail.summary.flags.iter().any(|f| f == UNAUTHENTICATED),
            "{:?}",
            detail.summary.flags
        );
        let row = record_of(&db, &outcome).await;
        assert!(row.flags.contains(UNAUTHENTICATED), "{}", row.flags);
        // An authenticated reply still moves it back to « À instruire ».
        let genuine = mail(
            SENDER,
            &format!("Re: [{reference}] Barème de Montpellier"),
            "Authentication-Results: mx.ac-montpellier.fr; dkim=pass header.d=lycee-jean-moulin.fr; dmarc=pass\r\n",
            "Voici le formulaire.",
        );
        assert_eq!(
            ingest(&db, &genuine).await.disposition,
            Disposition::Threaded
        );
        let detail = requests::show(db.conn(), &reference).await.unwrap();
        assert_eq!(detail.summary.state, "pending_review");
    }
);

on_both_databases!(
    a_message_id_without_an_at_sign_creates_the_request_and_is_kept_as_received,
    |db: Db| async move {
        seed_subscriber(&db).await;
        let raw = String::from_utf8(mail(SENDER, "Demande", "", &form_body(SENDER))).unwrap();
        let start = raw.find("Message-ID: ").unwrap();
        let end = start + raw[start..].find("\r\n").unwrap();
        let raw = format!("{}Message-ID: <abcdef>{}", &raw[..start], &raw[end..]);
        let outcome = ingest(&db, raw.as_bytes()).await;
        assert_eq!(
            outcome.disposition,
            Disposition::RequestCreated,
            "{outcome:?}"
        );
        let row = record_of(&db, &outcome).await;
        assert_eq!(row.message_id.as_deref(), Some("abcdef"));
        assert_eq!(row.from_address.as_deref(), Some(SENDER));
        let request = requests::find(db.conn(), outcome.reference.as_deref().unwrap())
            .await
            .unwrap();
        let acks = outbox_rows(&db, request.id).await;
        assert!(!acks.is_empty());
        assert!(acks.iter().all(|o| o.message_id.contains('@')));
    }
);
