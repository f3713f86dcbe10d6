//! The whole domain in one first migration: subscribers and their address
//! history, staff, change requests, inbound mail and attachments, notes, the
//! hash-chained audit log, the outbox, tokens, sessions and the small
//! coordination tables (reference counters, leases, IMAP positions).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn created_at() -> ColumnDef {
    timestamp_with_time_zone("created_at")
}

fn index(
    table: &'static str,
    name: &'static str,
    cols: &[&'static str],
    unique: bool,
) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(*col);
    }
    if unique {
        stmt.unique();
    }
    stmt.to_owned()
}

fn fk(from: &'static str, col: &'static str, to: &'static str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from, col)
        .to(to, "id")
        .on_delete(ForeignKeyAction::Restrict)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("subscribers")
                .col(big_pk_auto("id"))
                .col(string_uniq("number"))
                .col(string("organisation"))
                .col(string_null("manager_name"))
                .col(string_null("email"))
                .col(string_null("known_domain"))
                .col(string_null("password_hash"))
                .col(boolean("disabled").default(false))
                .col(timestamp_with_time_zone_null("password_changed_at"))
                .col(created_at())
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "subscribers",
            "idx_subscribers_email",
            &["email"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("staff")
                .col(big_pk_auto("id"))
                .col(string_uniq("username"))
                .col(string("display_name"))
                .col(string_null("email"))
                .col(string("role"))
                .col(string("password_hash"))
                .col(string_null("totp_secret"))
                .col(boolean("disabled").default(false))
                .col(created_at())
                .col(timestamp_with_time_zone_null("last_login_at"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("reference_counters")
                .col(integer("year").primary_key())
                .col(big_integer("last_value"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("change_requests")
                .col(big_pk_auto("id"))
                .col(string_uniq("reference"))
                .col(string("state"))
                .col(string_null("claimed_number"))
                .col(big_integer_null("subscriber_id"))
                .col(string_null("requester_email"))
                .col(string_null("new_email"))
                .col(string_null("situation"))
                .col(text("fields").default("{}"))
                .col(text("checks").default("[]"))
                .col(text("flags").default("[]"))
                .col(boolean("contested").default(false))
                .col(boolean("manual_entry").default(false))
                .col(big_integer_null("assignee_id"))
                .col(big_integer_null("verified_by"))
                .col(string_null("verification_method"))
                .col(text_null("verification_comment"))
                .col(big_integer_null("approved_by"))
                .col(string_null("rejection_code"))
                .col(text_null("closing_message"))
                .col(big_integer_null("origin_message_id"))
                .col(integer("version").default(0))
                .col(created_at())
                .col(timestamp_with_time_zone("updated_at"))
                .col(timestamp_with_time_zone_null("closed_at"))
                .foreign_key(&mut fk("change_requests", "subscriber_id", "subscribers"))
                .foreign_key(&mut fk("change_requests", "assignee_id", "staff"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "change_requests",
            "idx_requests_state_created",
            &["state", "created_at"],
            false,
        ))
        .await?;
        m.create_index(index(
            "change_requests",
            "idx_requests_claimed_number",
            &["claimed_number"],
            false,
        ))
        .await?;
        m.create_index(index(
            "change_requests",
            "idx_requests_new_email",
            &["new_email"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("subscriber_addresses")
                .col(big_pk_auto("id"))
                .col(big_integer("subscriber_id"))
                .col(string_null("email"))
                .col(timestamp_with_time_zone("valid_from"))
                .col(timestamp_with_time_zone_null("valid_to"))
                .col(string("source"))
                .col(big_integer_null("request_id"))
                .foreign_key(&mut fk(
                    "subscriber_addresses",
                    "subscriber_id",
                    "subscribers",
                ))
                .foreign_key(&mut fk(
                    "subscriber_addresses",
                    "request_id",
                    "change_requests",
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "subscriber_addresses",
            "idx_addresses_subscriber",
            &["subscriber_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("inbound_messages")
                .col(big_pk_auto("id"))
                .col(timestamp_with_time_zone("received_at"))
                .col(string("source"))
                .col(string_null("source_position"))
                .col(string_null("message_id"))
                .col(string("content_hash"))
                .col(big_integer("size"))
                .col(blob_null("raw"))
                .col(string_null("from_address"))
                .col(text_null("subject"))
                .col(string("disposition"))
                .col(text_null("reason"))
                .col(big_integer_null("request_id"))
                .col(text("auth_results").default("{}"))
                .col(text("flags").default("[]"))
                .col(timestamp_with_time_zone_null("purged_at"))
                .foreign_key(&mut fk("inbound_messages", "request_id", "change_requests"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "inbound_messages",
            "uq_inbound_source_position",
            &["source_position"],
            true,
        ))
        .await?;
        m.create_index(index(
            "inbound_messages",
            "idx_inbound_message_id",
            &["message_id"],
            false,
        ))
        .await?;
        m.create_index(index(
            "inbound_messages",
            "idx_inbound_request",
            &["request_id"],
            false,
        ))
        .await?;
        m.create_index(index(
            "inbound_messages",
            "idx_inbound_disposition",
            &["disposition", "received_at"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("blobs")
                .col(string("sha256").primary_key())
                .col(big_integer("size"))
                .col(blob_null("data"))
                .col(created_at())
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("attachments")
                .col(big_pk_auto("id"))
                .col(big_integer("inbound_message_id"))
                .col(integer("position"))
                .col(text_null("filename"))
                .col(string("content_type"))
                .col(string("sha256"))
                .col(big_integer("size"))
                .foreign_key(&mut fk(
                    "attachments",
                    "inbound_message_id",
                    "inbound_messages",
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "attachments",
            "idx_attachments_message",
            &["inbound_message_id"],
            false,
        ))
        .await?;
        m.create_index(index(
            "attachments",
            "idx_attachments_sha256",
            &["sha256"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("notes")
                .col(big_pk_auto("id"))
                .col(big_integer("request_id"))
                .col(big_integer("staff_id"))
                .col(text("body"))
                .col(created_at())
                .foreign_key(&mut fk("notes", "request_id", "change_requests"))
                .foreign_key(&mut fk("notes", "staff_id", "staff"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("audit_events")
                .col(big_integer("seq").primary_key())
                .col(timestamp_with_time_zone("at"))
                .col(string("actor"))
                .col(string("action"))
                .col(big_integer_null("request_id"))
                .col(string_null("subject"))
                .col(string_null("from_state"))
                .col(string_null("to_state"))
                .col(text_null("reason"))
                .col(text("details").default("{}"))
                .col(string("prev_hash"))
                .col(string_uniq("hash"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "audit_events",
            "idx_audit_request",
            &["request_id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("audit_head")
                .col(integer("id").primary_key())
                .col(big_integer("seq"))
                .col(string("hash"))
                .to_owned(),
        )
        .await?;
        m.exec_stmt(
            Query::insert()
                .into_table("audit_head")
                .columns(["id", "seq", "hash"])
                .values_panic([1.into(), 0i64.into(), GENESIS_HASH.into()])
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("outbox")
                .col(big_pk_auto("id"))
                .col(string_uniq("message_id"))
                .col(string("template"))
                .col(string("recipient"))
                .col(text("subject"))
                .col(text("body_text"))
                .col(text("body_html"))
                .col(text("headers").default("{}"))
                .col(big_integer_null("request_id"))
                .col(string("state"))
                .col(integer("attempts").default(0))
                .col(timestamp_with_time_zone("next_attempt_at"))
                .col(timestamp_with_time_zone_null("lease_until"))
                .col(string_null("locked_by"))
                .col(text_null("last_error"))
                .col(text_null("server_reply"))
                .col(created_at())
                .col(timestamp_with_time_zone_null("sent_at"))
                .col(timestamp_with_time_zone_null("bounced_at"))
                .col(text_null("bounce_diagnostic"))
                .foreign_key(&mut fk("outbox", "request_id", "change_requests"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "outbox",
            "idx_outbox_due",
            &["state", "next_attempt_at"],
            false,
        ))
        .await?;
        m.create_index(index(
            "outbox",
            "idx_outbox_recipient",
            &["recipient", "template"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("tokens")
                .col(big_pk_auto("id"))
                .col(string("kind"))
                .col(string_uniq("hash"))
                .col(big_integer_null("subscriber_id"))
                .col(big_integer_null("request_id"))
                .col(big_integer_null("staff_id"))
                .col(timestamp_with_time_zone("expires_at"))
                .col(timestamp_with_time_zone_null("used_at"))
                .col(timestamp_with_time_zone_null("voided_at"))
                .col(created_at())
                .foreign_key(&mut fk("tokens", "subscriber_id", "subscribers"))
                .foreign_key(&mut fk("tokens", "request_id", "change_requests"))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "tokens",
            "idx_tokens_subscriber",
            &["subscriber_id", "kind"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table("sessions")
                .col(string("id").primary_key())
                .col(text("data"))
                .col(timestamp_with_time_zone("expires_at"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("leases")
                .col(string("name").primary_key())
                .col(string("holder"))
                .col(timestamp_with_time_zone("until"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("imap_positions")
                .col(string("mailbox").primary_key())
                .col(big_integer("uid_validity"))
                .col(big_integer("last_uid"))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;

        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "imap_positions",
            "leases",
            "sessions",
            "tokens",
            "outbox",
            "audit_head",
            "audit_events",
            "notes",
            "attachments",
            "blobs",
            "inbound_messages",
            "subscriber_addresses",
            "change_requests",
            "reference_counters",
            "staff",
            "subscribers",
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

/// The `prev_hash` of the first audit event: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
