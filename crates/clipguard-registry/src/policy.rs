//! The promotion gate's rules: an F1(harmful) floor per model and the margin a candidate must
//! beat the champion by. Defaults are the seed's floors (text 0.75, video 0.70, fusion 0.80),
//! which the seed never reached; they stay configurable, but are now applied to the right
//! metric (`f1_harmful`, not "the first metric whose name contains f1").

use clipguard_core::manifest::names;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Default margin over the champion's F1(harmful).
pub const DEFAULT_MARGIN: f64 = 0.01;

/// The seed's floor for a model name, if it had one.
pub fn seed_floor(name: &str) -> Option<f64> {
    match name {
        names::TEXT => Some(0.75),
        names::VISION => Some(0.70),
        names::FUSION => Some(0.80),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GatePolicy {
    /// F1(harmful) floors by model name. Names given here override the seed defaults one by
    /// one; a model with neither is refused (no floor is not "any score will do").
    pub floors: BTreeMap<String, f64>,
    /// How much a candidate must beat the champion's F1(harmful) by.
    pub margin: f64,
}

impl Default for GatePolicy {
    fn default() -> Self {
        GatePolicy {
            floors: BTreeMap::new(),
            margin: DEFAULT_MARGIN,
        }
    }
}

impl GatePolicy {
    pub fn floor(&self, name: &str) -> Option<f64> {
        self.floors.get(name).copied().or_else(|| seed_floor(name))
    }

    /// Refuses values that would make the gate meaningless.
    pub fn validate(&self) -> Result<(), String> {
        for (name, floor) in &self.floors {
            if !(0.0..=1.0).contains(floor) {
                return Err(format!("floor for `{name}` is {floor}, expected 0..=1"));
            }
        }
        if !(0.0..1.0).contains(&self.margin) {
            return Err(format!(
                "margin is {}, expected 0 <= margin < 1",
                self.margin
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_defaults_and_overrides() {
        let p = GatePolicy::default();
        assert_eq!(p.floor("text"), Some(0.75));
        assert_eq!(p.floor("vision"), Some(0.70));
        assert_eq!(p.floor("fusion"), Some(0.80));
        assert_eq!(p.floor("other"), None);
        assert_eq!(p.margin, 0.01);
        let p: GatePolicy = toml_like(r#"{"floors":{"text":0.6,"other":0.5}}"#);
        assert_eq!(p.floor("text"), Some(0.6));
        assert_eq!(p.floor("fusion"), Some(0.80));
        assert_eq!(p.floor("other"), Some(0.5));
        assert!(p.validate().is_ok());
        let bad: GatePolicy = toml_like(r#"{"margin":-0.1}"#);
        assert!(bad.validate().is_err());
    }

    fn toml_like(json: &str) -> GatePolicy {
        serde_json::from_str(json).unwrap()
    }
}
