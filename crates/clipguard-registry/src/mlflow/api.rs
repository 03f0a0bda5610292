//! The parts of MLflow's REST messages this backend reads (unknown fields are ignored, so
//! newer servers keep working).

use serde::{Deserialize, Deserializer};

/// MLflow's JSON renders int64 as a number; proto3 JSON renders it as a string. Accept both.
fn int64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Int {
        Number(i64),
        Text(String),
    }
    match Int::deserialize(d)? {
        Int::Number(n) => Ok(n),
        Int::Text(s) => s.parse().map_err(serde::de::Error::custom),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub error_code: String,
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Experiment {
    pub experiment_id: String,
    #[serde(default)]
    pub lifecycle_stage: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct GetExperiment {
    pub experiment: Experiment,
}

#[derive(Debug, Deserialize)]
pub(crate) struct CreateExperiment {
    pub experiment_id: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Tag {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RunInfo {
    pub run_id: String,
    pub artifact_uri: String,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RunData {
    #[serde(default)]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Run {
    pub info: RunInfo,
    #[serde(default)]
    pub data: RunData,
}

#[derive(Debug, Deserialize)]
pub(crate) struct CreateRun {
    pub run: Run,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SearchRuns {
    #[serde(default)]
    pub runs: Vec<Run>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ModelVersion {
    pub version: String,
    #[serde(deserialize_with = "int64")]
    pub creation_timestamp: i64,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct GetModelVersion {
    pub model_version: ModelVersion,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SearchModelVersions {
    #[serde(default)]
    pub model_versions: Vec<ModelVersion>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AliasRef {
    pub alias: String,
    pub version: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RegisteredModel {
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<AliasRef>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct GetRegisteredModel {
    pub registered_model: RegisteredModel,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SearchRegisteredModels {
    #[serde(default)]
    pub registered_models: Vec<RegisteredModel>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}
