//! Experiments and runs: get-or-create an experiment by name (memoised), create a run with tags,
//! log params and metrics in batches within MLflow's limits, and close the run.

use super::MlflowRegistry;
use super::api::{CreateExperiment, CreateRun, GetExperiment, Run};
use super::client::{is_already_exists, is_not_found};
use super::record::{clip, mlflow_key};
use crate::error::RegistryError;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// MLflow's log-batch limits.
const MAX_PARAMS_PER_BATCH: usize = 100;
const MAX_METRICS_PER_BATCH: usize = 1000;
const MAX_PARAM_VALUE: usize = 6000;
pub(crate) const MAX_TAG_VALUE: usize = 5000;

fn tags_json(tags: &[(String, String)]) -> Value {
    Value::Array(
        tags.iter()
            .map(|(k, v)| json!({"key": mlflow_key(k), "value": clip(v, MAX_TAG_VALUE)}))
            .collect(),
    )
}

impl MlflowRegistry {
    /// The id of experiment `name`; created when missing if `create`, else `None`.
    pub(crate) async fn experiment_id(
        &self,
        name: &str,
        create: bool,
    ) -> Result<Option<String>, RegistryError> {
        if let Some(id) = self.experiments.lock().unwrap().get(name) {
            return Ok(Some(id.clone()));
        }
        for _attempt in 0..2 {
            match self
                .client
                .get::<GetExperiment>("experiments/get-by-name", &[("experiment_name", name)])
                .await
            {
                Ok(found) => {
                    if found.experiment.lifecycle_stage.as_deref() == Some("deleted") {
                        return Err(RegistryError::Unsupported(format!(
                            "MLflow experiment `{name}` is deleted; restore it or change \
                             experiment_prefix"
                        )));
                    }
                    let id = found.experiment.experiment_id;
                    self.experiments
                        .lock()
                        .unwrap()
                        .insert(name.to_string(), id.clone());
                    return Ok(Some(id));
                }
                Err(e) if is_not_found(&e) && !create => return Ok(None),
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(e),
            }
            match self
                .client
                .post::<CreateExperiment>("experiments/create", &json!({ "name": name }))
                .await
            {
                Ok(created) => {
                    let id = created.experiment_id;
                    self.experiments
                        .lock()
                        .unwrap()
                        .insert(name.to_string(), id.clone());
                    return Ok(Some(id));
                }
                // Created concurrently: look it up again.
                Err(e) if is_already_exists(&e) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(RegistryError::Unsupported(format!(
            "MLflow experiment `{name}` could neither be found nor created"
        )))
    }

    pub(crate) async fn create_run(
        &self,
        experiment_id: &str,
        run_name: &str,
        start_ms: i64,
        tags: &[(String, String)],
    ) -> Result<Run, RegistryError> {
        let body = json!({
            "experiment_id": experiment_id,
            "run_name": clip(run_name, 250),
            "start_time": start_ms,
            "tags": tags_json(tags),
        });
        Ok(self
            .client
            .post::<CreateRun>("runs/create", &body)
            .await?
            .run)
    }

    /// Logs params and metrics (non-finite metrics skipped: JSON cannot carry them), in
    /// batches MLflow accepts. Keys are made MLflow-safe; duplicates after that keep the last.
    pub(crate) async fn log_batch(
        &self,
        run_id: &str,
        params: &BTreeMap<String, String>,
        metrics: &BTreeMap<String, f64>,
        timestamp_ms: i64,
    ) -> Result<(), RegistryError> {
        let params: BTreeMap<String, String> = params
            .iter()
            .map(|(k, v)| (mlflow_key(k), clip(v, MAX_PARAM_VALUE)))
            .collect();
        let metrics: BTreeMap<String, f64> = metrics
            .iter()
            .filter(|(_, v)| v.is_finite())
            .map(|(k, v)| (mlflow_key(k), *v))
            .collect();
        let params: Vec<Value> = params
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        let metrics: Vec<Value> = metrics
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v, "timestamp": timestamp_ms, "step": 0}))
            .collect();
        for chunk in params.chunks(MAX_PARAMS_PER_BATCH) {
            let body = json!({"run_id": run_id, "params": chunk});
            self.client.post::<Value>("runs/log-batch", &body).await?;
        }
        for chunk in metrics.chunks(MAX_METRICS_PER_BATCH) {
            let body = json!({"run_id": run_id, "metrics": chunk});
            self.client.post::<Value>("runs/log-batch", &body).await?;
        }
        Ok(())
    }

    /// Closes a run as `FINISHED` or `FAILED`.
    pub(crate) async fn end_run(&self, run_id: &str, ok: bool) -> Result<(), RegistryError> {
        let body = json!({
            "run_id": run_id,
            "status": if ok { "FINISHED" } else { "FAILED" },
            "end_time": chrono::Utc::now().timestamp_millis(),
        });
        self.client
            .post::<Value>("runs/update", &body)
            .await
            .map(drop)
    }
}
