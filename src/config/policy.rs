//! `[approval]`, `[retention]`, `[privacy]`: the rules of the procedure.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Approval {
    /// The approver must differ from the staff member who verified.
    pub four_eyes: bool,
    /// Approval waits this many hours after the alert to the registered
    /// address, so that it can object (0: no wait).
    pub objection_window_hours: u64,
}

impl Default for Approval {
    fn default() -> Self {
        Self {
            four_eyes: true,
            objection_window_hours: 0,
        }
    }
}

impl Approval {
    /// The rules of [`crate::domain::decide`] these settings give.
    pub fn rules(&self) -> crate::domain::Rules {
        crate::domain::Rules {
            four_eyes: self.four_eyes,
            objection_window: chrono::Duration::hours(
                i64::try_from(self.objection_window_hours.min(24 * 365)).unwrap_or(0),
            ),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    pub closed_request_days: u64,
    pub ignored_mail_days: u64,
    pub decision_record_years: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            closed_request_days: 183,
            ignored_mail_days: 30,
            decision_record_years: 5,
        }
    }
}

/// What the « Données personnelles » page says about the controller (RGPD).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Privacy {
    pub controller: String,
    pub controller_address: String,
    pub dpo_contact: String,
    pub contact: String,
}

impl Default for Privacy {
    fn default() -> Self {
        Self {
            controller:
                "Rectorat de l'académie de Montpellier — Division des affaires générales (DAG)"
                    .into(),
            controller_address: "31 rue de l'Université, 34064 Montpellier Cedex 2".into(),
            dpo_contact: "dpd@ac-montpellier.fr".into(),
            contact: "bareme@ac-montpellier.fr".into(),
        }
    }
}
