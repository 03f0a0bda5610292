//! The promotion gate: the only way `champion` moves, and every move (or refusal) is audited.
//!
//! - [`promote`]: a candidate becomes champion only if its F1(harmful) is ≥ the model's floor
//!   and ≥ the champion's + the margin, both measured on the same frozen evaluation set;
//! - [`force`]: an operator's override, past the rules, recorded with the operator's name and
//!   reason;
//! - [`rollback`]: `champion` goes back to the version it had before the last promotion still
//!   in effect. The history is the audit log itself (promotions push the champion they replaced,
//!   rollbacks pop), so rolling back twice walks two steps back on either backend.
//!
//! The alias moves first and the decision is written second; if the audit write fails the alias
//! is put back, so the log never misses a change it would need to roll back.

use crate::audit::{Action, Decision};
use crate::error::RegistryError;
use crate::names::{CHALLENGER, CHAMPION};
use crate::policy::GatePolicy;
use crate::registry::Registry;
use crate::version::RegisteredVersion;
use chrono::Utc;

/// The actor recorded for the gate's own decisions.
pub const GATE_ACTOR: &str = "gate";

/// Float slack so "0.81 ≥ 0.80 + 0.01" holds despite binary rounding.
const EPSILON: f64 = 1e-9;

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("invalid gate policy: {0}")]
    Policy(String),
    #[error("model `{0}` has no earlier champion to roll back to")]
    NothingToRollBack(String),
    #[error("{0}")]
    MissingOperator(&'static str),
    #[error(
        "model `{name}`: champion moved to v{version} but the audit log could not be written \
         ({source}); champion put back to {restored}"
    )]
    AuditFailed {
        name: String,
        version: String,
        restored: String,
        source: RegistryError,
    },
}

/// The gate's verdict on a candidate, before anything moves.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub accept: bool,
    pub reason: String,
    pub floor: Option<f64>,
    pub candidate_f1: Option<f64>,
    pub champion_f1: Option<f64>,
}

/// Applies the rules to a candidate and the current champion (pure: no registry access).
pub fn evaluate(
    policy: &GatePolicy,
    candidate: &RegisteredVersion,
    champion: Option<&RegisteredVersion>,
) -> Evaluation {
    let floor = policy.floor(&candidate.name);
    let candidate_f1 = candidate.f1_harmful().filter(|f| f.is_finite());
    let champion_f1 = champion
        .and_then(|c| c.f1_harmful())
        .filter(|f| f.is_finite());
    let verdict = |accept: bool, reason: String| Evaluation {
        accept,
        reason,
        floor,
        candidate_f1,
        champion_f1,
    };
    let Some(f1) = candidate_f1 else {
        return verdict(
            false,
            "the candidate has no finite f1_harmful metric".into(),
        );
    };
    let Some(floor) = floor else {
        return verdict(
            false,
            format!("no F1 floor is configured for model `{}`", candidate.name),
        );
    };
    if f1 + EPSILON < floor {
        return verdict(
            false,
            format!("F1(harmful) {f1:.4} is below the floor {floor:.4}"),
        );
    }
    let Some(champion) = champion else {
        return verdict(
            true,
            format!("F1(harmful) {f1:.4} ≥ floor {floor:.4}; there was no champion"),
        );
    };
    if champion.version == candidate.version {
        return verdict(
            false,
            format!("v{} is already the champion", champion.version),
        );
    }
    if champion.manifest.eval_set != candidate.manifest.eval_set {
        return verdict(
            false,
            format!(
                "not comparable: the candidate was measured on `{}`, champion v{} on `{}`; \
                 evaluate both on the same frozen set",
                candidate.manifest.eval_set, champion.version, champion.manifest.eval_set
            ),
        );
    }
    let Some(champion_f1) = champion_f1 else {
        return verdict(
            false,
            format!(
                "champion v{} has no finite f1_harmful to compare with (only a forced promotion can replace it)",
                champion.version
            ),
        );
    };
    let needed = champion_f1 + policy.margin;
    if f1 + EPSILON < needed {
        return verdict(
            false,
            format!(
                "F1(harmful) {f1:.4} does not beat champion v{} ({champion_f1:.4}) by the margin {:.4} (needs {needed:.4})",
                champion.version, policy.margin
            ),
        );
    }
    verdict(
        true,
        format!(
            "F1(harmful) {f1:.4} ≥ floor {floor:.4} and ≥ champion v{} {champion_f1:.4} + margin {:.4}",
            champion.version, policy.margin
        ),
    )
}

async fn champion(
    registry: &dyn Registry,
    name: &str,
) -> Result<Option<RegisteredVersion>, RegistryError> {
    registry.get_alias(name, CHAMPION).await
}

/// Moves `champion` to `version`, writes `decision`, and puts the alias back if the write fails.
async fn move_and_audit(
    registry: &dyn Registry,
    decision: Decision,
) -> Result<Decision, GateError> {
    let name = decision.name.as_str();
    registry
        .set_alias(name, CHAMPION, &decision.version)
        .await?;
    if let Err(source) = registry.append_audit(&decision).await {
        let restored = match &decision.champion_before {
            Some(previous) => registry.set_alias(name, CHAMPION, previous).await,
            None => registry.delete_alias(name, CHAMPION).await,
        };
        let restored = match (restored, &decision.champion_before) {
            (Ok(()), Some(v)) => format!("v{v}"),
            (Ok(()), None) => "no champion".to_string(),
            (Err(e), _) => format!("nothing (restoring failed too: {e})"),
        };
        return Err(GateError::AuditFailed {
            name: name.to_string(),
            version: decision.version.clone(),
            restored,
            source,
        });
    }
    // A promoted challenger is no longer a challenger.
    if matches!(decision.action, Action::Promoted | Action::Forced)
        && registry.alias_version(name, CHALLENGER).await?.as_deref()
            == Some(decision.version.as_str())
    {
        registry.delete_alias(name, CHALLENGER).await?;
    }
    tracing::info!(%decision, "champion changed");
    Ok(decision)
}

/// Runs the gate on `candidate_version` of `name`: promotes it or refuses, and audits either.
pub async fn promote(
    registry: &dyn Registry,
    name: &str,
    candidate_version: &str,
    policy: &GatePolicy,
) -> Result<Decision, GateError> {
    promote_remeasured(registry, name, candidate_version, policy, None).await
}

/// The champion's F1(harmful) measured again, now, on the candidate's evaluation set. For
/// models that are cheap to re-evaluate and whose labelled set grows (fusion, fitted on
/// reviewers' labels), this keeps "same frozen set" true without freezing the labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Remeasured {
    pub eval_set: String,
    pub f1_harmful: f64,
}

/// [`promote`], comparing with the champion's re-measured F1 when `champion_now` is given.
pub async fn promote_remeasured(
    registry: &dyn Registry,
    name: &str,
    candidate_version: &str,
    policy: &GatePolicy,
    champion_now: Option<Remeasured>,
) -> Result<Decision, GateError> {
    policy.validate().map_err(GateError::Policy)?;
    let candidate = registry.get_version(name, candidate_version).await?;
    let current = champion(registry, name).await?.map(|mut c| {
        if let Some(r) = &champion_now {
            c.manifest.eval_set = r.eval_set.clone();
            c.manifest
                .metrics
                .insert("f1_harmful".to_string(), r.f1_harmful);
        }
        c
    });
    let mut evaluation = evaluate(policy, &candidate, current.as_ref());
    if champion_now.is_some() && current.is_some() {
        evaluation
            .reason
            .push_str(" (champion re-measured on the same set)");
    }
    let before = current.as_ref().map(|c| c.version.clone());
    let decision = Decision {
        at: Utc::now(),
        name: name.to_string(),
        action: if evaluation.accept {
            Action::Promoted
        } else {
            Action::Refused
        },
        version: candidate.version.clone(),
        champion_after: if evaluation.accept {
            Some(candidate.version.clone())
        } else {
            before.clone()
        },
        champion_before: before,
        candidate_f1: evaluation.candidate_f1,
        champion_f1: evaluation.champion_f1,
        floor: evaluation.floor,
        margin: Some(policy.margin),
        eval_set: Some(candidate.manifest.eval_set.clone()),
        actor: GATE_ACTOR.to_string(),
        reason: Decision::cap_reason(&evaluation.reason),
    };
    if !evaluation.accept {
        registry.append_audit(&decision).await?;
        tracing::info!(%decision, "promotion refused");
        return Ok(decision);
    }
    move_and_audit(registry, decision).await
}

/// An operator makes `version` champion regardless of the rules; audited as `forced` with the
/// operator's name, reason and the numbers the gate would have looked at.
pub async fn force(
    registry: &dyn Registry,
    name: &str,
    version: &str,
    operator: &str,
    reason: &str,
) -> Result<Decision, GateError> {
    if operator.trim().is_empty() || reason.trim().is_empty() {
        return Err(GateError::MissingOperator(
            "a forced promotion needs the operator's name and a reason",
        ));
    }
    let candidate = registry.get_version(name, version).await?;
    let current = champion(registry, name).await?;
    let decision = Decision {
        at: Utc::now(),
        name: name.to_string(),
        action: Action::Forced,
        version: candidate.version.clone(),
        champion_before: current.as_ref().map(|c| c.version.clone()),
        champion_after: Some(candidate.version.clone()),
        candidate_f1: candidate.f1_harmful(),
        champion_f1: current.as_ref().and_then(|c| c.f1_harmful()),
        floor: None,
        margin: None,
        eval_set: Some(candidate.manifest.eval_set.clone()),
        actor: operator.trim().to_string(),
        reason: Decision::cap_reason(&format!("operator override: {}", reason.trim())),
    };
    move_and_audit(registry, decision).await
}

/// The champion `rollback` would restore: replays the audit log (promotions and forced
/// promotions push the champion they replaced, rollbacks pop). `None` when there is none.
pub fn rollback_target(log: &[Decision], name: &str) -> Option<String> {
    let mut stack: Vec<Option<String>> = Vec::new();
    for d in log.iter().filter(|d| d.name == name) {
        match d.action {
            Action::Promoted | Action::Forced => stack.push(d.champion_before.clone()),
            Action::RolledBack => {
                stack.pop();
            }
            Action::Refused => {}
        }
    }
    stack.pop().flatten()
}

/// Restores the champion `name` had before its last promotion still in effect; audited.
pub async fn rollback(
    registry: &dyn Registry,
    name: &str,
    actor: &str,
) -> Result<Decision, GateError> {
    if actor.trim().is_empty() {
        return Err(GateError::MissingOperator(
            "a rollback needs the actor's name",
        ));
    }
    let log = registry.audit_log(Some(name)).await?;
    let target = rollback_target(&log, name)
        .ok_or_else(|| GateError::NothingToRollBack(name.to_string()))?;
    let restored = registry.get_version(name, &target).await?;
    let current = champion(registry, name).await?;
    let before = current.as_ref().map(|c| c.version.clone());
    let reason = match &before {
        Some(v) => format!("rolled back from v{v} to v{target}, the champion before v{v}"),
        None => format!("no champion was set; restored v{target} from the history"),
    };
    let decision = Decision {
        at: Utc::now(),
        name: name.to_string(),
        action: Action::RolledBack,
        version: restored.version.clone(),
        champion_before: before,
        champion_after: Some(restored.version.clone()),
        candidate_f1: restored.f1_harmful(),
        champion_f1: current.as_ref().and_then(|c| c.f1_harmful()),
        floor: None,
        margin: None,
        eval_set: Some(restored.manifest.eval_set.clone()),
        actor: actor.trim().to_string(),
        reason,
    };
    move_and_audit(registry, decision).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::BundleIndex;
    use clipguard_core::manifest::ModelManifest;

    fn version(name: &str, v: &str, f1: Option<f64>, eval_set: &str) -> RegisteredVersion {
        RegisteredVersion {
            name: name.into(),
            version: v.into(),
            manifest: ModelManifest {
                name: name.into(),
                modality: "text".into(),
                version: format!("t{v}"),
                parent: None,
                base_model: None,
                data_fingerprint: "fp".into(),
                data: Default::default(),
                metrics: f1
                    .map(|f| ("f1_harmful".to_string(), f))
                    .into_iter()
                    .collect(),
                eval_set: eval_set.into(),
                thresholds: Default::default(),
                params: Default::default(),
                files: vec![],
                code_version: "0".into(),
                created_at: Utc::now(),
            },
            aliases: vec![],
            created_at: Utc::now(),
            index: BundleIndex { files: vec![] },
        }
    }

    #[test]
    fn rules() {
        let p = GatePolicy::default();
        let e = |c: &RegisteredVersion, ch: Option<&RegisteredVersion>| evaluate(&p, c, ch);
        assert!(!e(&version("text", "1", Some(0.74), "s"), None).accept);
        assert!(e(&version("text", "1", Some(0.75), "s"), None).accept);
        assert!(!e(&version("text", "1", None, "s"), None).accept);
        assert!(!e(&version("text", "1", Some(f64::NAN), "s"), None).accept);
        assert!(!e(&version("unknown", "1", Some(0.99), "s"), None).accept);
        let champ = version("text", "1", Some(0.80), "s");
        // Exactly champion + margin passes despite 0.80 + 0.01 != 0.81 in binary.
        assert!(e(&version("text", "2", Some(0.81), "s"), Some(&champ)).accept);
        let r = e(&version("text", "2", Some(0.805), "s"), Some(&champ));
        assert!(!r.accept && r.reason.contains("margin"), "{}", r.reason);
        let r = e(&version("text", "2", Some(0.95), "other"), Some(&champ));
        assert!(
            !r.accept && r.reason.contains("not comparable"),
            "{}",
            r.reason
        );
        assert!(!e(&champ, Some(&champ)).accept);
        let no_f1 = version("text", "1", None, "s");
        assert!(!e(&version("text", "2", Some(0.9), "s"), Some(&no_f1)).accept);
    }

    fn decision(action: Action, before: Option<&str>, version: &str) -> Decision {
        Decision {
            at: Utc::now(),
            name: "text".into(),
            action,
            version: version.into(),
            champion_before: before.map(str::to_string),
            champion_after: Some(version.into()),
            candidate_f1: None,
            champion_f1: None,
            floor: None,
            margin: None,
            eval_set: None,
            actor: "t".into(),
            reason: String::new(),
        }
    }

    #[test]
    fn rollback_replays_the_log() {
        use Action::*;
        let mut log = vec![decision(Promoted, None, "1")];
        assert_eq!(rollback_target(&log, "text"), None);
        log.push(decision(Refused, Some("1"), "2"));
        log.push(decision(Promoted, Some("1"), "3"));
        log.push(decision(Forced, Some("3"), "4"));
        assert_eq!(rollback_target(&log, "text").as_deref(), Some("3"));
        log.push(decision(RolledBack, Some("4"), "3"));
        assert_eq!(rollback_target(&log, "text").as_deref(), Some("1"));
        log.push(decision(RolledBack, Some("3"), "1"));
        assert_eq!(rollback_target(&log, "text"), None);
        assert_eq!(rollback_target(&log, "vision"), None);
    }
}
