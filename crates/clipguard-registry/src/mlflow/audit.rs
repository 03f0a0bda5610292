//! The audit log in MLflow: experiment `<prefix>/_audit`, one finished run per decision, so the
//! decisions show up in MLflow's UI beside the candidates (run name `text promoted v3`, metrics
//! candidate/champion F1, floor, margin). The exact entry is the JSON in tag `clipguard.audit`;
//! reading the log searches runs by the `clipguard.name` tag and orders them by the entry's own
//! timestamp (nanoseconds; MLflow's start_time has milliseconds).

use super::MlflowRegistry;
use super::runs::MAX_TAG_VALUE;
use crate::audit::Decision;
use crate::error::RegistryError;
use crate::names::check_model_name;
use serde_json::json;
use std::collections::BTreeMap;

const ENTRY_TAG: &str = "clipguard.audit";
const NAME_TAG: &str = "clipguard.name";

impl MlflowRegistry {
    fn audit_experiment(&self) -> String {
        // Model names start with a letter, so `_audit` can never be a model's experiment.
        format!("{}/_audit", self.config.experiment_prefix)
    }

    pub(crate) async fn append_decision(&self, decision: &Decision) -> Result<(), RegistryError> {
        check_model_name(&decision.name)?;
        let entry =
            serde_json::to_string(decision).map_err(|e| RegistryError::corrupt("decision", e))?;
        if entry.chars().count() > MAX_TAG_VALUE {
            return Err(RegistryError::Unsupported(format!(
                "audit entry of {} characters exceeds MLflow's tag limit of {MAX_TAG_VALUE}",
                entry.chars().count()
            )));
        }
        let experiment = self
            .experiment_id(&self.audit_experiment(), true)
            .await?
            .unwrap_or_default();
        let tags = vec![
            (ENTRY_TAG.to_string(), entry),
            (NAME_TAG.to_string(), decision.name.clone()),
            (
                "clipguard.action".to_string(),
                decision.action.as_str().to_string(),
            ),
            ("clipguard.actor".to_string(), decision.actor.clone()),
        ];
        let run_name = format!(
            "{} {} v{}",
            decision.name,
            decision.action.as_str(),
            decision.version
        );
        let at_ms = decision.at.timestamp_millis();
        let run = self
            .create_run(&experiment, &run_name, at_ms, &tags)
            .await?;
        let metrics: BTreeMap<String, f64> = [
            ("candidate_f1", decision.candidate_f1),
            ("champion_f1", decision.champion_f1),
            ("floor", decision.floor),
            ("margin", decision.margin),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
        .collect();
        self.log_batch(&run.info.run_id, &BTreeMap::new(), &metrics, at_ms)
            .await?;
        self.end_run(&run.info.run_id, true).await
    }

    pub(crate) async fn read_decisions(
        &self,
        name: Option<&str>,
    ) -> Result<Vec<Decision>, RegistryError> {
        if let Some(name) = name {
            check_model_name(name)?;
        }
        let Some(experiment) = self.experiment_id(&self.audit_experiment(), false).await? else {
            return Ok(Vec::new());
        };
        let filter = name
            .map(|n| format!("tags.`{NAME_TAG}` = '{n}'"))
            .unwrap_or_default();
        let mut decisions = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..super::MAX_PAGES {
            let mut body = json!({
                "experiment_ids": [experiment],
                "filter": filter,
                "run_view_type": "ACTIVE_ONLY",
                "max_results": 1000,
                "order_by": ["attributes.start_time ASC"],
            });
            if let Some(t) = &token {
                body["page_token"] = json!(t);
            }
            let page: super::api::SearchRuns = self.client.post("runs/search", &body).await?;
            for run in page.runs {
                let Some(tag) = run.data.tags.iter().find(|t| t.key == ENTRY_TAG) else {
                    tracing::warn!(run_id = %run.info.run_id, "run without an audit entry in the audit experiment; skipped");
                    continue;
                };
                let decision: Decision = serde_json::from_str(&tag.value).map_err(|e| {
                    RegistryError::corrupt(format!("audit run {}", run.info.run_id), e)
                })?;
                decisions.push(decision);
            }
            token = page.next_page_token.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        // Stable: runs already come in start_time order; this refines within a millisecond.
        decisions.sort_by_key(|d| d.at);
        Ok(decisions)
    }
}
