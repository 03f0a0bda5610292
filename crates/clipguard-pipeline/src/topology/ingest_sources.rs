//! Ingesting a list of source specs (folders, CSV link lists, files, URLs) into the pipeline:
//! discover every candidate first (so a bad spec fails before anything is queued), then ingest
//! them one by one and log one event summarising the run. Used by `run`, `ingest` and
//! `bench pipeline`.

use super::Backends;
use crate::ingest::{IngestError, IngestOutcome};
use crate::sources::{self, Candidate, SourceError};
use clipguard_core::stage::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum IngestSourcesError {
    #[error("reading source `{spec}`: {source}")]
    Source { spec: String, source: SourceError },
    #[error("ingesting {origin}: {source}")]
    Ingest { origin: String, source: IngestError },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What ingest did with each candidate.
#[derive(Debug, Default)]
pub struct IngestReport {
    pub queued: u64,
    pub duplicates: u64,
    /// (video id, reason): stored with a `failed` verdict.
    pub failed: Vec<(String, String)>,
    /// (origin, reason): not ingested (e.g. a page link only the crawler can fetch).
    pub skipped: Vec<(String, String)>,
}

impl Backends {
    /// Every candidate the specs name, or the first spec that cannot be read.
    pub fn discover(&self, specs: &[String]) -> Result<Vec<Candidate>, IngestSourcesError> {
        let mut candidates = Vec::new();
        for spec in specs {
            let found =
                sources::discover(spec, &self.config.ingest.allowed_schemes).map_err(|source| {
                    IngestSourcesError::Source {
                        spec: spec.clone(),
                        source,
                    }
                })?;
            candidates.extend(found);
        }
        Ok(candidates)
    }

    /// Ingests the candidates (calling `on_each` after each) and logs a summary event.
    pub async fn ingest_candidates(
        &self,
        specs: &[String],
        candidates: Vec<Candidate>,
        on_each: impl Fn(),
    ) -> Result<IngestReport, IngestSourcesError> {
        let ingestor = self.ingestor();
        let mut report = IngestReport::default();
        for candidate in candidates {
            let origin = candidate.meta.origin.clone();
            let outcome = ingestor
                .ingest(candidate)
                .await
                .map_err(|source| IngestSourcesError::Ingest { origin, source })?;
            match outcome {
                IngestOutcome::Queued(_) => report.queued += 1,
                IngestOutcome::DuplicateId(_) | IngestOutcome::DuplicateContent { .. } => {
                    report.duplicates += 1
                }
                IngestOutcome::Failed { id, reason } => report.failed.push((id, reason)),
                IngestOutcome::Skipped { origin, reason } => report.skipped.push((origin, reason)),
            }
            on_each();
        }
        if !specs.is_empty() {
            self.store
                .log_event(
                    "ingest",
                    "info",
                    &format!(
                        "ingested {} source(s): {} queued, {} duplicates, {} failed, {} skipped",
                        specs.len(),
                        report.queued,
                        report.duplicates,
                        report.failed.len(),
                        report.skipped.len()
                    ),
                    serde_json::json!({ "sources": specs }),
                )
                .await?;
        }
        Ok(report)
    }
}
