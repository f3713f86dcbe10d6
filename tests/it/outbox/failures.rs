//! When the listener is down, refuses for good (5xx) or for now (4xx), and
//! what the operator sees and does about it (`outbox list|retry`, `mail test`).

use super::{drain, queue, rows, sink::Sink, smtp_settings, worker};
use crate::{
    harness::{TestDb, cmd, free_port, run},
    on_both_databases,
};
use bareme_mel::store::Db;
use chrono::Utc;
use std::time::{Duration, Instant};

on_both_databases!(
    a_stopped_listener_keeps_mails_pending_until_it_is_back,
    |db: Db| async move {
        let Some(mut sink) = Sink::start(None) else {
            return;
        };
        sink.stop();
        let settings = smtp_settings(sink.port);
        let ids = queue(&db, &settings, 3).await;
        let w = worker(&db, settings);
        let pass = w.run_once().await.unwrap();
        assert_eq!((pass.claimed, pass.retried), (3, 3));
        for r in rows(&db).await {
            assert_eq!((r.state.as_str(), r.attempts), ("pending", 1));
            assert!(r.next_attempt_at > r.created_at);
            assert!(
                r.last_error
                    .as_deref()
                    .unwrap_or_default()
                    .contains("refused"),
                "{:?}",
                r.last_error
            );
        }
        sink.restart(None, 0).unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        while rows(&db).await.iter().any(|r| r.state != "sent") {
            assert!(
                Instant::now() < deadline,
                "not delivered after the listener came back"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
            w.run_once().await.unwrap();
        }
        let received = sink.message_ids();
        for id in ids {
            assert_eq!(received.get(&id), Some(&1), "{id}");
        }
        let r = &rows(&db).await[0];
        assert!(
            r.server_reply
                .as_deref()
                .unwrap_or_default()
                .starts_with("250"),
            "{:?}",
            r.server_reply
        );
        assert!(r.sent_at.is_some());
    }
);

on_both_databases!(
    a_5xx_answer_fails_the_mail_with_the_server_text,
    |db: Db| async move {
        let Some(sink) = Sink::start(Some("550 5.1.1 Recipient address rejected by the test"))
        else {
            return;
        };
        let settings = smtp_settings(sink.port);
        queue(&db, &settings, 1).await;
        drain(&worker(&db, settings), Duration::from_secs(10)).await;
        let r = &rows(&db).await[0];
        assert_eq!((r.state.as_str(), r.attempts), ("failed", 1));
        let error = r.last_error.as_deref().unwrap_or_default();
        assert!(
            error.contains("550") && error.contains("Recipient address rejected by the test"),
            "{error}"
        );
        assert!(sink.messages().is_empty());
    }
);

on_both_databases!(
    a_4xx_answer_is_retried_later_and_fails_once_the_budget_is_spent,
    |db: Db| async move {
        let Some(sink) = Sink::start(Some("451 4.3.0 Try again later (test)")) else {
            return;
        };
        let mut settings = smtp_settings(sink.port);
        settings.mail.retry_base_secs = 600;
        settings.mail.retry_max_secs = 3600;
        queue(&db, &settings, 1).await;
        let before = Utc::now();
        drain(&worker(&db, settings.clone()), Duration::from_secs(10)).await;
        let r = &rows(&db).await[0];
        assert_eq!((r.state.as_str(), r.attempts), ("pending", 1));
        assert!(
            r.next_attempt_at >= before + chrono::Duration::seconds(299),
            "backoff: {}",
            r.next_attempt_at
        );
        assert!(
            r.last_error
                .as_deref()
                .unwrap_or_default()
                .contains("Try again later (test)")
        );
        assert!(r.locked_by.is_none() && r.lease_until.is_none());

        // With no budget left, the next temporary failure is final and visible.
        settings.mail.retry_budget_hours = 0;
        bareme_mel::store::outbox::retry(
            db.conn(),
            &bareme_mel::store::outbox::RetryTarget::One(r.id.to_string()),
        )
        .await
        .unwrap();
        drain(&worker(&db, settings), Duration::from_secs(10)).await;
        let r = &rows(&db).await[0];
        assert_eq!((r.state.as_str(), r.attempts), ("failed", 2));
        let error = r.last_error.as_deref().unwrap_or_default();
        assert!(
            error.contains("abandon") && error.contains("Try again later (test)"),
            "{error}"
        );
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_list_shows_failed_mails_and_retry_queues_them_again() {
    let Some(sink) = Sink::start(Some("554 5.7.1 Relay access denied (test)")) else {
        return;
    };
    let t = TestDb::sqlite().await;
    let settings = smtp_settings(sink.port);
    let ids = queue(&t.db, &settings, 2).await;
    drain(&worker(&t.db, settings), Duration::from_secs(10)).await;
    let dir = tempfile::tempdir().unwrap();
    let outbox = |args: &[&str]| {
        let mut c = cmd(dir.path());
        c.arg("outbox")
            .args(args)
            .env("BAREME_MEL__DATABASE__URL", &t.url);
        run(c)
    };
    let listed = outbox(&["list", "--state", "failed", "--json"]);
    assert_eq!(listed.status, 0, "{}", listed.stderr);
    let json: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);
    assert!(
        json[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("Relay access denied (test)")
    );
    assert!(
        json[0].get("body_text").is_none(),
        "bodies (reset links) are not listed"
    );
    let table = outbox(&["list"]);
    assert!(
        table.stdout.contains("failed") && table.stdout.contains(&ids[0]),
        "{}",
        table.stdout
    );
    assert_eq!(outbox(&["list", "--state", "nimporte"]).status, 64);

    let one = outbox(&["retry", &ids[0]]);
    assert_eq!(one.status, 0, "{}", one.stderr);
    assert!(one.stdout.contains("1 message(s)"));
    let all = outbox(&["retry", "--all-failed"]);
    assert!(all.stdout.contains("1 message(s)"), "{}", all.stdout);
    assert!(rows(&t.db).await.iter().all(|r| r.state == "pending"));
    assert_ne!(outbox(&["retry", "absent@nulle.part"]).status, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_test_sends_now_or_explains_the_failure_in_french() {
    let Some(sink) = Sink::start(None) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mail_test = |port: u16, tls: &str| {
        let mut c = cmd(dir.path());
        c.args(["mail", "test", "--to", "essai@lycee.fr"])
            .env("BAREME_MEL__MAIL__TRANSPORT", "smtp")
            .env("BAREME_MEL__MAIL__SMTP__HOST", "127.0.0.1")
            .env("BAREME_MEL__MAIL__SMTP__PORT", port.to_string())
            .env("BAREME_MEL__MAIL__SMTP__TLS", tls)
            .env("BAREME_MEL__MAIL__SMTP__TIMEOUT_SECS", "3");
        run(c)
    };
    let ok = mail_test(sink.port, "none");
    assert_eq!(ok.status, 0, "{}", ok.stderr);
    assert!(ok.stdout.contains("réponse : 250"), "{}", ok.stdout);
    let received = sink.messages();
    assert_eq!(received.len(), 1);
    assert!(String::from_utf8_lossy(&received[0]).contains("X-Bareme-Mel-Loop: 1"));

    let refused = mail_test(free_port(), "none");
    assert_ne!(refused.status, 0);
    assert!(
        refused.stderr.contains("conseil : connexion refusée"),
        "{}",
        refused.stderr
    );

    let tls = mail_test(sink.port, "tls");
    assert_ne!(tls.status, 0);
    assert!(
        tls.stderr.contains("conseil : le mode TLS"),
        "{}",
        tls.stderr
    );

    let mut c = cmd(dir.path());
    c.args(["mail", "test", "--to", "a@b.fr\r\nBcc: c@d.fr"]);
    assert_eq!(run(c).status, 64, "header injection refused");
}
