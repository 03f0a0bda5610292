//! Harm categories. A verdict reports a score per category, or `None` ("not covered") when no
//! analyser that ran could see that category — an unmeasured category is never reported as 0.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Nudity, sexual services, "sugar baby" offers.
    Sexual,
    /// Fights, weapons, gore, threats.
    Violence,
    /// Hate speech, harassment, insults aimed at people or groups.
    HateHarassment,
    /// Drugs, gambling, scams, predatory loans and other illegal trade.
    DangerousIllegal,
    /// Suicide and self-harm.
    SelfHarm,
}

impl Category {
    pub const ALL: [Category; 5] = [
        Category::Sexual,
        Category::Violence,
        Category::HateHarassment,
        Category::DangerousIllegal,
        Category::SelfHarm,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Sexual => "sexual",
            Category::Violence => "violence",
            Category::HateHarassment => "hate_harassment",
            Category::DangerousIllegal => "dangerous_illegal",
            Category::SelfHarm => "self_harm",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown category `{s}` (expected one of sexual, violence, hate_harassment, dangerous_illegal, self_harm)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_strings_and_json() {
        for c in Category::ALL {
            assert_eq!(c.as_str().parse::<Category>().unwrap(), c);
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
        }
        assert!("drugs".parse::<Category>().is_err());
    }
}
