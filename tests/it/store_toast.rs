//! Issue 15, PostgreSQL: raw mail, attachments and scan images are stored
//! out of line and uncompressed. `pglz` compressing each mail took 40 % of
//! the server's CPU during intake, for little gain (attachments and the
//! base64 that carries them are already compressed).

use crate::{harness::TestDb, intake_support::*};
use bareme_mel::intake::{Incoming, Origin};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

#[tokio::test]
async fn on_postgresql_a_mail_is_stored_uncompressed() {
    let Some(t) = TestDb::postgres().await else {
        return;
    };
    // 60 KB of text: what pglz compresses best.
    let body = "Bonjour, je souhaite changer l'adresse de l'abonnement.\r\n".repeat(1000);
    let raw = mail(SENDER, "Une longue lettre", "", &body);
    intake(&t.db)
        .ingest(Incoming::whole(raw.clone(), Origin::new("file", None)))
        .await
        .unwrap();
    let row =
        t.db.conn()
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT octet_length(raw)::bigint AS size, pg_column_compression(raw) AS method \
             FROM inbound_messages",
            ))
            .await
            .unwrap()
            .expect("the mail is recorded");
    let size: i64 = row.try_get("", "size").unwrap();
    let method: Option<String> = row.try_get("", "method").unwrap();
    assert_eq!(size, raw.len() as i64, "stored whole");
    assert_eq!(method, None, "stored uncompressed");
    // Attachments and scan images too (`e`: external, uncompressed).
    for (table, column) in [("blobs", "data"), ("scan_readings", "image_png")] {
        let row =
            t.db.conn()
                .query_one_raw(Statement::from_string(
                    DbBackend::Postgres,
                    format!(
                        "SELECT attstorage::text AS storage FROM pg_attribute \
                     WHERE attrelid = '{table}'::regclass AND attname = '{column}'"
                    ),
                ))
                .await
                .unwrap()
                .unwrap();
        let storage: String = row.try_get("", "storage").unwrap();
        assert_eq!(storage, "e", "{table}.{column}");
    }
}
