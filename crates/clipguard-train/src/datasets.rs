//! Labelled text sets, read from `CLIPGUARD_DATASETS` (never committed to the project):
//! - ViHSD (`free_text,label_id`: 0 clean, 1 offensive, 2 hate) → harmful = offensive or hate;
//! - the seed's TikTok text splits (`…,label,text`, comments joined by ` [SEP] `, 1 = harmful);
//! - any CSV given a text column, a label column and the label values that mean harmful.
//!
//! Test splits are refused for training by name: the seed's `test_split.csv` is evaluation only.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Example {
    pub text: String,
    pub harmful: bool,
    /// The dataset's own label, kept for reports (e.g. ViHSD's `hate`).
    pub label: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error(
        "dataset file `{0}` not found (set CLIPGUARD_DATASETS to the folder holding vihsd/ and seed-tiktok/)"
    )]
    Missing(String),
    #[error("{path}: {message}")]
    Read { path: String, message: String },
    #[error("`{0}` is a test split: it is for evaluation only, never for training or tuning")]
    TestSplit(String),
    #[error("unknown dataset `{0}` (known: vihsd, seed-tiktok)")]
    Unknown(String),
}

/// How to read a CSV of labelled text.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvSpec {
    pub text_col: String,
    pub label_col: String,
    /// Label values meaning harmful; every other non-empty value means safe.
    pub harmful_values: Vec<String>,
}

pub fn read_csv(path: &Path, spec: &CsvSpec) -> Result<Vec<Example>, DatasetError> {
    if !path.is_file() {
        return Err(DatasetError::Missing(path.display().to_string()));
    }
    let err = |message: String| DatasetError::Read {
        path: path.display().to_string(),
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| err(e.to_string()))?;
    let headers = reader.headers().map_err(|e| err(e.to_string()))?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| {
                err(format!(
                    "no column `{name}` (columns: {})",
                    headers.iter().collect::<Vec<_>>().join(",")
                ))
            })
    };
    let (t, l) = (col(&spec.text_col)?, col(&spec.label_col)?);
    let mut out = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.map_err(|e| err(format!("line {}: {e}", i + 2)))?;
        let (Some(text), Some(label)) = (row.get(t), row.get(l)) else {
            continue;
        };
        let (text, label) = (text.trim(), label.trim());
        if text.is_empty() || label.is_empty() {
            continue;
        }
        out.push(Example {
            text: text.to_string(),
            harmful: spec.harmful_values.iter().any(|v| v == label),
            label: label.to_string(),
        });
    }
    Ok(out)
}

/// A named dataset split under the datasets folder.
pub fn named(root: &Path, dataset: &str, split: &str) -> Result<(PathBuf, CsvSpec), DatasetError> {
    let (file, spec) = match dataset {
        "vihsd" => (
            root.join("vihsd").join(format!("{split}.csv")),
            CsvSpec {
                text_col: "free_text".into(),
                label_col: "label_id".into(),
                harmful_values: vec!["1".into(), "2".into()],
            },
        ),
        "seed-tiktok" => {
            let name = match split {
                "train" => "train_data_viet.csv".to_string(),
                "eval" | "dev" | "validation" => "eval_split.csv".to_string(),
                other => format!("{other}_split.csv"),
            };
            (
                root.join("seed-tiktok").join(name),
                CsvSpec {
                    text_col: "text".into(),
                    label_col: "label".into(),
                    harmful_values: vec!["1".into()],
                },
            )
        }
        other => return Err(DatasetError::Unknown(other.into())),
    };
    Ok((file, spec))
}

/// Like [`named`], for training: refuses test splits.
pub fn for_training(root: &Path, dataset: &str, split: &str) -> Result<Vec<Example>, DatasetError> {
    if split.contains("test") {
        return Err(DatasetError::TestSplit(format!("{dataset}/{split}")));
    }
    let (path, spec) = named(root, dataset, split)?;
    read_csv(&path, &spec)
}

/// A fingerprint of training data (recorded in model manifests).
pub fn fingerprint(examples: &[Example]) -> String {
    let mut h = Sha256::new();
    for e in examples {
        h.update(e.text.as_bytes());
        h.update([0, u8::from(e.harmful)]);
    }
    hex::encode(h.finalize())[..16].to_string()
}

/// A deterministic subsample keeping at most `n` examples, balanced toward harmful ones
/// (at most half harmful when available), chosen by a hash of the text and `seed`.
pub fn subsample(examples: &[Example], n: usize, seed: u64) -> Vec<Example> {
    let key = |e: &Example| {
        let mut h = Sha256::new();
        h.update(seed.to_le_bytes());
        h.update(e.text.as_bytes());
        let d = h.finalize();
        u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
    };
    let mut pos: Vec<&Example> = examples.iter().filter(|e| e.harmful).collect();
    let mut neg: Vec<&Example> = examples.iter().filter(|e| !e.harmful).collect();
    pos.sort_by_key(|e| key(e));
    neg.sort_by_key(|e| key(e));
    let take_pos = pos.len().min(n / 2);
    let take_neg = neg.len().min(n - take_pos);
    let mut out: Vec<Example> = pos[..take_pos]
        .iter()
        .chain(&neg[..take_neg])
        .map(|e| (*e).clone())
        .collect();
    out.sort_by_key(key);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_csv_with_a_label_mapping_and_test_splits_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.csv");
        std::fs::write(
            &p,
            "id,body,tag\n1,\"hello, world\",ok\n2,bad words,toxic\n3,,toxic\n4,spam,SPAM\n",
        )
        .unwrap();
        let spec = CsvSpec {
            text_col: "body".into(),
            label_col: "tag".into(),
            harmful_values: vec!["toxic".into(), "SPAM".into()],
        };
        let ex = read_csv(&p, &spec).unwrap();
        assert_eq!(ex.len(), 3);
        assert_eq!(ex.iter().filter(|e| e.harmful).count(), 2);
        assert!(matches!(
            for_training(dir.path(), "seed-tiktok", "test"),
            Err(DatasetError::TestSplit(_))
        ));
        let bad = CsvSpec {
            text_col: "nope".into(),
            ..spec
        };
        assert!(
            read_csv(&p, &bad)
                .unwrap_err()
                .to_string()
                .contains("no column `nope`")
        );
    }

    #[test]
    fn subsampling_is_deterministic_and_balanced() {
        let ex: Vec<Example> = (0..100)
            .map(|i| Example {
                text: format!("t{i}"),
                harmful: i % 10 == 0,
                label: String::new(),
            })
            .collect();
        let a = subsample(&ex, 20, 7);
        assert_eq!(a, subsample(&ex, 20, 7));
        assert_eq!(a.len(), 20);
        assert_eq!(a.iter().filter(|e| e.harmful).count(), 10);
        assert_ne!(fingerprint(&a), fingerprint(&subsample(&ex, 20, 8)));
    }
}
