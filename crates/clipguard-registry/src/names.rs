//! The names the registry accepts, checked once here before any backend sees them, so both
//! backends refuse the same inputs and nothing user-supplied reaches a URL, an SQL string or a
//! file path unchecked.
//!
//! - model names: `[a-z][a-z0-9_-]{0,63}` (`text`, `vision`, `fusion`); starting with a letter
//!   leaves `_…` free for the registry's own bookkeeping (the MLflow audit experiment);
//! - aliases: `[a-z][a-z0-9_-]{0,63}`, not `latest` and not `v<digits>` (both mean something
//!   else to MLflow);
//! - versions: the registry's sequence numbers, `1`, `2`, … (no leading zero);
//! - bundle file paths: relative, `/`-separated segments of `[A-Za-z0-9._-]`, no `.`/`..`
//!   segment, no hidden file: they become media-store keys, URL paths and local paths.

use crate::error::RegistryError;

/// The alias that serves: workers load the version it points to.
pub const CHAMPION: &str = "champion";
/// The alias under evaluation (shadow scoring, dashboards).
pub const CHALLENGER: &str = "challenger";

const NAME_RULE: &str = "expected a lower-case letter then up to 63 of [a-z0-9_-]";

fn is_identifier(value: &str) -> bool {
    let mut chars = value.chars();
    matches!(chars.next(), Some('a'..='z'))
        && value.len() <= 64
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_' | '-'))
}

pub fn check_model_name(name: &str) -> Result<(), RegistryError> {
    if is_identifier(name) {
        Ok(())
    } else {
        Err(RegistryError::InvalidName {
            what: "model name",
            value: name.to_string(),
            rule: NAME_RULE,
        })
    }
}

pub fn check_alias(alias: &str) -> Result<(), RegistryError> {
    let version_like =
        alias.len() > 1 && alias.starts_with('v') && alias[1..].chars().all(|c| c.is_ascii_digit());
    if !is_identifier(alias) {
        return Err(RegistryError::InvalidName {
            what: "alias",
            value: alias.to_string(),
            rule: NAME_RULE,
        });
    }
    if alias == "latest" || version_like {
        return Err(RegistryError::InvalidName {
            what: "alias",
            value: alias.to_string(),
            rule: "`latest` and `v<digits>` are reserved by MLflow",
        });
    }
    Ok(())
}

/// Parses a registry version number ("1", "2", …).
pub fn parse_version(version: &str) -> Result<u64, RegistryError> {
    let invalid = || RegistryError::InvalidName {
        what: "version",
        value: version.to_string(),
        rule: "expected a registry version number: 1, 2, …",
    };
    if version.is_empty() || version.starts_with('0') || version.len() > 18 {
        return Err(invalid());
    }
    version.parse::<u64>().map_err(|_| invalid())
}

/// Checks a file path listed in a manifest (relative to the bundle folder).
pub fn check_bundle_path(path: &str) -> Result<(), String> {
    if path.is_empty() || path.len() > 200 {
        return Err(format!(
            "file path `{path}` is empty or longer than 200 bytes"
        ));
    }
    for segment in path.split('/') {
        let ok_chars = segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if segment.is_empty() || segment.starts_with('.') || !ok_chars {
            return Err(format!(
                "file path `{path}`: expected relative `/`-separated segments of [A-Za-z0-9._-], \
                 none empty or starting with `.`"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_aliases_versions_and_paths() {
        assert!(check_model_name("text").is_ok() && check_model_name("fusion-v2").is_ok());
        for bad in ["", "Text", "_audit", "a b", "../x", "1abc"] {
            assert!(check_model_name(bad).is_err(), "{bad}");
        }
        assert!(check_alias(CHAMPION).is_ok() && check_alias(CHALLENGER).is_ok());
        for bad in ["latest", "v1", "v22", "", "Champion"] {
            assert!(check_alias(bad).is_err(), "{bad}");
        }
        assert!(check_alias("v").is_ok() && check_alias("vip").is_ok());
        assert_eq!(parse_version("12").unwrap(), 12);
        for bad in ["0", "01", "", "-1", "1.0", "x"] {
            assert!(parse_version(bad).is_err(), "{bad}");
        }
        assert!(check_bundle_path("head.safetensors").is_ok());
        assert!(check_bundle_path("tok/tokenizer.json").is_ok());
        for bad in [
            "", "/abs", "a/../b", "./a", ".hidden", "a//b", "a b", "a\\b", "é",
        ] {
            assert!(check_bundle_path(bad).is_err(), "{bad}");
        }
    }
}
