//! The audit log: one [`Decision`] per promotion attempt (promoted or refused), forced promotion
//! and rollback, with the numbers it was based on. The seed's updater left no trace of why a
//! model did or did not change; here the log is also what `rollback` replays to find the
//! previous champion, so it is the single history of the `champion` alias.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest reason kept (an operator's free text included); longer ones are cut with `…`.
pub const MAX_REASON_CHARS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The gate moved `champion` to the candidate.
    Promoted,
    /// The gate kept the champion; `reason` says which rule refused.
    Refused,
    /// An operator moved `champion` past the gate.
    Forced,
    /// `champion` went back to the version it had before the last promotion.
    RolledBack,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Promoted => "promoted",
            Action::Refused => "refused",
            Action::Forced => "forced",
            Action::RolledBack => "rolled_back",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub at: DateTime<Utc>,
    /// Registered model name.
    pub name: String,
    pub action: Action,
    /// The version decided on: the candidate, or for a rollback the version restored.
    pub version: String,
    pub champion_before: Option<String>,
    pub champion_after: Option<String>,
    /// F1(harmful) of `version`.
    pub candidate_f1: Option<f64>,
    /// F1(harmful) of `champion_before`.
    pub champion_f1: Option<f64>,
    /// The floor and margin in force (gate decisions only).
    pub floor: Option<f64>,
    pub margin: Option<f64>,
    /// The evaluation set `version` was measured on.
    pub eval_set: Option<String>,
    /// `gate`, or the operator's name for a forced promotion or a rollback.
    pub actor: String,
    pub reason: String,
}

impl Decision {
    /// Whether this decision moved the `champion` alias.
    pub fn changed_champion(&self) -> bool {
        self.champion_before != self.champion_after
    }

    pub(crate) fn cap_reason(reason: &str) -> String {
        if reason.chars().count() <= MAX_REASON_CHARS {
            reason.to_string()
        } else {
            let mut cut: String = reason.chars().take(MAX_REASON_CHARS - 1).collect();
            cut.push('…');
            cut
        }
    }
}

fn opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("-")
}

fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:.4}"))
}

/// One line for the CLI and logs.
impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} v{} {} by {}: champion {} -> {}; f1 {} vs champion {}, floor {}, margin {}: {}",
            self.at.format("%Y-%m-%dT%H:%M:%SZ"),
            self.name,
            self.version,
            self.action.as_str(),
            self.actor,
            opt(&self.champion_before),
            opt(&self.champion_after),
            num(self.candidate_f1),
            num(self.champion_f1),
            num(self.floor),
            num(self.margin),
            self.reason
        )
    }
}
