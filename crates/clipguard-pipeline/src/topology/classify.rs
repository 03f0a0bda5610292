//! `classify`: one file or URL straight through prepare → analyse → decide, with no queue and
//! nothing stored. Errors become a `failed` verdict exactly as in the worker.

use super::worker::analyse_and_decide;
use crate::analyse::AnalyserSet;
use crate::ingest::{download, video_from};
use crate::sources::{self, MediaRef};
use clipguard_core::Verdict;
use clipguard_core::config::Config;

pub async fn classify(spec: &str, analysers: &AnalyserSet, config: &Config) -> Verdict {
    let failed = |id: &str, reason: String| {
        let mut v = Verdict::failed(
            id,
            reason,
            config.decide.threshold,
            analysers.pipeline_version(),
        );
        v.model_versions = analysers.versions();
        v
    };
    let candidates = match sources::discover(spec, &config.ingest.allowed_schemes) {
        Ok(c) => c,
        Err(e) => return failed(spec, e.to_string()),
    };
    let [mut candidate] = <[_; 1]>::try_from(candidates).unwrap_or_else(|c: Vec<_>| {
        [sources::Candidate {
            meta: sources::Metadata::default(),
            media: MediaRef::Unavailable(format!(
                "`{spec}` holds {} videos; classify takes one file or URL (use `run --once` for folders)",
                c.len()
            )),
        }]
    });
    crate::ingest::normalise::normalise(&mut candidate.meta);
    let id = candidate
        .meta
        .platform_id
        .as_ref()
        .map(|pid| {
            format!(
                "{}:{pid}",
                candidate.meta.platform.as_deref().unwrap_or("file")
            )
        })
        .unwrap_or_else(|| format!("classify:{spec}"));
    let video = video_from(&candidate, id.clone());
    let temp_dir;
    let path = match &candidate.media {
        MediaRef::File(p) => p.clone(),
        MediaRef::Unavailable(reason) | MediaRef::Invalid(reason) => {
            return failed(&id, reason.clone());
        }
        MediaRef::Url(url) => {
            temp_dir = match tempfile::tempdir() {
                Ok(d) => d,
                Err(e) => return failed(&id, format!("temp folder: {e}")),
            };
            let dest = temp_dir.path().join("media");
            if let Err(e) = download::download(url, &dest, config).await {
                return failed(&id, format!("download {url}: {e}"));
            }
            dest
        }
    };
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    if size > config.ingest.max_file_bytes {
        return failed(
            &id,
            format!(
                "media is {size} bytes, over the {}-byte limit (ingest.max_file_bytes)",
                config.ingest.max_file_bytes
            ),
        );
    }
    match analyse_and_decide(&video, Some(&path), analysers, config).await {
        Ok(v) => v,
        Err(e) => failed(&id, e.message),
    }
}
