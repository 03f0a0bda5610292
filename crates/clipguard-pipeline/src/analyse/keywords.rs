//! Keyword rules: the `keywords` analyser. It scans a video's caption (with hashtags) and its
//! comments for the phrases of a rules file (`config/rules.toml`, compiled in, or the file named
//! by `[rules] path`) and reports per-category scores plus one piece of evidence per hit.
//!
//! # Matching
//!
//! The seed system matched substrings, so `ke` (ketamine slang) fired on "kem", "kẹo" and
//! "kế hoạch", and `pod` on "podcast". Here a phrase only matches whole words:
//!
//! * text is NFC-normalised; every offset ([`RuleHit::start`], [`RuleHit::end`]) is a byte offset
//!   into that normalised text (see [`normalise`]);
//! * words are found at Unicode word boundaries (UAX #29), lowercased; `_` and `.` inside a token
//!   split it too (`#danh_nhau` → `danh nhau`, `ma.túy` → `ma túy`), `+` is a word of its own
//!   (`18+`), other punctuation and emoji are skipped;
//! * a phrase matches a run of consecutive words; sentence punctuation (`. , ! ? ; : …`, newline)
//!   between two words breaks the run;
//! * old and new Vietnamese tone placement compare equal (`tuý` = `túy`): tone marks are compared
//!   as a set per word, not by the letter that carries them;
//! * with diacritic folding on, a text word typed without any diacritic matches a rule word whose
//!   accent-stripped form (NFD, marks U+0300–U+036F dropped, `đ` → `d`) equals it; a text word
//!   with diacritics must match exactly, so "kế" never matches rule "ke" and "chết" never matches
//!   "chét". Rules marked `exact = true` never match stripped text (their stripped form is an
//!   innocent word: "tự tử" → "tu tu" = "từ từ").
//!
//! Overlapping hits of one category are resolved to the strongest (then longest) one, so a phrase
//! and a longer phrase containing it count once.
//!
//! # Scoring
//!
//! * Caption: for each category, `1 − Π(1 − weight)` over the distinct rules that hit.
//! * Comments: each comment is scanned on its own; a rule that hit in `k` distinct comments
//!   contributes `weight · (1 − ½^k)` (one comment gives half the weight, two ¾, …: comments are
//!   other people's words, so one comment alone rarely flags a video, while the same phrase in
//!   many comments approaches the rule's weight); a category is `1 − Π(1 − contribution)`.
//! * `harmful` is the highest category score. Every category gets a score (0 when nothing hit).
//!
//! # Bounds
//!
//! Work is linear in the text: one hash lookup per word, then at most a handful of candidate
//! phrases of at most [`MAX_PHRASE_WORDS`] words each. [`KeywordRules::find`] stops after
//! [`MAX_HITS`] raw hits. The analyser scans at most [`MAX_CAPTION_CHARS`] of the caption and the
//! first [`MAX_COMMENTS`] non-empty comments, each cut to [`MAX_COMMENT_CHARS`] characters (an
//! `Info` evidence says when it cut), and keeps at most [`MAX_EVIDENCE_PER_MODALITY`] rule
//! evidence items per modality (each rule's first hit first, strongest rules first).

use async_trait::async_trait;
use clipguard_core::config::RulesConfig;
use clipguard_core::error::{Classify, ErrorClass};
use clipguard_core::stage::{Analyser, AnalyserOutput, AnalysisInput};
use clipguard_core::{
    Category, Evidence, EvidenceKind, Modality, ModalityScore, StageError, Video,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::ops::Range;
use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;

/// The built-in rules, `config/rules.toml` at the workspace root.
pub const BUILTIN_RULES: &str = include_str!("../../../../config/rules.toml");

/// The analyser's name (the key in a verdict's `model_versions`).
pub const ANALYSER_NAME: &str = "keywords";
/// Longest phrase a rule may list, in words.
pub const MAX_PHRASE_WORDS: usize = 8;
/// [`KeywordRules::find`] stops scanning after this many hits.
pub const MAX_HITS: usize = 10_000;
/// Characters of context kept on each side of a hit in an excerpt.
pub const EXCERPT_CONTEXT_CHARS: usize = 40;
/// The matched words themselves are shortened to this many characters in an excerpt.
const EXCERPT_MATCH_CHARS: usize = 120;
/// Caption (with hashtags) characters scanned.
pub const MAX_CAPTION_CHARS: usize = 20_000;
/// Non-empty comments scanned per video (the first ones, in the source's order).
pub const MAX_COMMENTS: usize = 500;
/// Characters scanned per comment.
pub const MAX_COMMENT_CHARS: usize = 2_000;
/// Rule evidence items kept per modality.
pub const MAX_EVIDENCE_PER_MODALITY: usize = 50;
/// Per extra comment a rule hits in, the remaining distance to its full weight shrinks by this.
const COMMENT_REPEAT_FACTOR: f64 = 0.5;

/// Vietnamese tone marks (grave, acute, tilde, hook above, dot below). They are compared as a
/// set per word, so the letter that carries them does not matter ("tuý" = "túy").
const TONE_MARKS: [char; 5] = ['\u{300}', '\u{301}', '\u{303}', '\u{309}', '\u{323}'];

// ───────────────────────────── rules file ─────────────────────────────

/// Why a rules file was refused.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("rules file `{path}`: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("rules file: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("rules file has no [[rule]] entries")]
    NoRules,
    #[error("rules file: rule #{index} has an empty id")]
    EmptyId { index: usize },
    #[error("rule `{rule_id}`: duplicate id")]
    DuplicateId { rule_id: String },
    #[error(
        "rule `{rule_id}`: unknown category `{category}` (expected one of sexual, violence, hate_harassment, dangerous_illegal, self_harm)"
    )]
    UnknownCategory { rule_id: String, category: String },
    #[error("rule `{rule_id}`: unknown lang `{lang}` (expected vi or en)")]
    UnknownLang { rule_id: String, lang: String },
    #[error("rule `{rule_id}`: no phrases")]
    EmptyPhrases { rule_id: String },
    #[error("rule `{rule_id}`: weight {weight} is outside [0, 1]")]
    BadWeight { rule_id: String, weight: f64 },
    #[error("rule `{rule_id}`: phrase `{phrase}` {reason}")]
    BadPhrase {
        rule_id: String,
        phrase: String,
        reason: String,
    },
    #[error("rule `{rule_id}`: phrase `{phrase}` is already listed by rule `{other}`")]
    DuplicatePhrase {
        rule_id: String,
        phrase: String,
        other: String,
    },
}

impl Classify for RulesError {
    fn class(&self) -> ErrorClass {
        match self {
            RulesError::Io { .. } => ErrorClass::External,
            _ => ErrorClass::Internal,
        }
    }
}

/// The language a rule is written in (informational: every rule is tried on every text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Vi,
    En,
}

impl Lang {
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }
}

/// One validated rule, as written in the file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    pub id: String,
    pub category: Category,
    pub lang: Lang,
    pub phrases: Vec<String>,
    pub weight: f32,
    /// Never match accent-stripped text, even with diacritic folding on.
    pub exact: bool,
    pub note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    version: String,
    #[serde(default)]
    rule: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    category: String,
    lang: String,
    #[serde(default)]
    phrases: Vec<String>,
    weight: f64,
    #[serde(default)]
    exact: bool,
    #[serde(default)]
    note: Option<String>,
}

/// One match of a rule phrase in a text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleHit {
    pub rule_id: String,
    pub category: Category,
    /// The phrase as written in the rules file.
    pub phrase: String,
    pub weight: f32,
    /// Byte offsets of the matched words in the NFC-normalised text ([`normalise`]).
    pub start: usize,
    pub end: usize,
    /// The matched words with up to ~40 characters of context each side, "…" where cut.
    pub excerpt: String,
    /// The matched words themselves (`normalised[start..end]`).
    pub matched: String,
}

/// A rule word, in the two forms matching compares.
#[derive(Debug)]
struct RuleWord {
    /// Lowercase, NFC, tone marks moved to the end.
    key: String,
    /// Accent-stripped (`đ` → `d`); equals `key` when the word has no diacritics.
    folded: String,
}

#[derive(Debug)]
struct CompiledPhrase {
    rule: usize,
    phrase: usize,
    words: Vec<RuleWord>,
    /// May match accent-stripped text (folding on and the rule is not `exact`).
    foldable: bool,
}

/// The compiled keyword rules; also the `keywords` analyser.
pub struct KeywordRules {
    rules: Vec<Rule>,
    phrases: Vec<CompiledPhrase>,
    /// First word's key → phrases starting with it.
    by_key: HashMap<String, Vec<usize>>,
    /// First word's folded form → foldable phrases whose first word has diacritics; looked up
    /// only for text words without diacritics.
    by_folded: HashMap<String, Vec<usize>>,
    diacritic_insensitive: bool,
    version: String,
    file_version: String,
}

impl fmt::Debug for KeywordRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeywordRules")
            .field("version", &self.version)
            .field("file_version", &self.file_version)
            .field("rules", &self.rules.len())
            .field("phrases", &self.phrases.len())
            .finish()
    }
}

impl KeywordRules {
    /// The compiled-in `config/rules.toml`.
    pub fn builtin(diacritic_insensitive: bool) -> Result<Self, RulesError> {
        Self::from_toml(BUILTIN_RULES, diacritic_insensitive)
    }

    /// The built-in rules when `config.path` is empty, else the file it names.
    pub fn load(config: &RulesConfig) -> Result<Self, RulesError> {
        let path = config.path.trim();
        if path.is_empty() {
            return Self::builtin(config.diacritic_insensitive);
        }
        let text = std::fs::read_to_string(path).map_err(|source| RulesError::Io {
            path: path.to_string(),
            source,
        })?;
        Self::from_toml(&text, config.diacritic_insensitive)
    }

    /// Parses and validates a rules file.
    pub fn from_toml(text: &str, diacritic_insensitive: bool) -> Result<Self, RulesError> {
        let raw: RawFile = toml::from_str(text)?;
        if raw.rule.is_empty() {
            return Err(RulesError::NoRules);
        }
        let mut rules = Vec::with_capacity(raw.rule.len());
        let mut phrases = Vec::new();
        let mut ids = HashSet::new();
        // Phrase (as word keys) → the rule that listed it.
        let mut seen_phrases: HashMap<Vec<String>, String> = HashMap::new();
        for (index, r) in raw.rule.into_iter().enumerate() {
            let rule_id = r.id.trim().to_string();
            if rule_id.is_empty() {
                return Err(RulesError::EmptyId { index });
            }
            if !ids.insert(rule_id.clone()) {
                return Err(RulesError::DuplicateId { rule_id });
            }
            let category =
                r.category
                    .trim()
                    .parse::<Category>()
                    .map_err(|_| RulesError::UnknownCategory {
                        rule_id: rule_id.clone(),
                        category: r.category.clone(),
                    })?;
            let lang = match r.lang.trim() {
                "vi" => Lang::Vi,
                "en" => Lang::En,
                _ => {
                    return Err(RulesError::UnknownLang {
                        rule_id,
                        lang: r.lang,
                    });
                }
            };
            if !(0.0..=1.0).contains(&r.weight) {
                return Err(RulesError::BadWeight {
                    rule_id,
                    weight: r.weight,
                });
            }
            if r.phrases.is_empty() {
                return Err(RulesError::EmptyPhrases { rule_id });
            }
            let rule_index = rules.len();
            for (phrase_index, phrase) in r.phrases.iter().enumerate() {
                let bad = |reason: &str| RulesError::BadPhrase {
                    rule_id: rule_id.clone(),
                    phrase: phrase.clone(),
                    reason: reason.to_string(),
                };
                let normalised = normalise(phrase);
                let stream = TokenStream::new(&normalised);
                if stream.tokens.is_empty() {
                    return Err(bad("has no words"));
                }
                if stream.tokens.len() > MAX_PHRASE_WORDS {
                    return Err(bad(&format!("has more than {MAX_PHRASE_WORDS} words")));
                }
                if stream.tokens.iter().skip(1).any(|t| t.break_before) {
                    return Err(bad("contains sentence punctuation (it could never match)"));
                }
                let keys: Vec<String> = (0..stream.tokens.len())
                    .map(|i| stream.key(i).to_string())
                    .collect();
                if let Some(other) = seen_phrases.get(&keys) {
                    return Err(RulesError::DuplicatePhrase {
                        rule_id,
                        phrase: phrase.clone(),
                        other: other.clone(),
                    });
                }
                seen_phrases.insert(keys.clone(), rule_id.clone());
                let words = keys
                    .into_iter()
                    .map(|key| RuleWord {
                        folded: fold_key(&key),
                        key,
                    })
                    .collect();
                phrases.push(CompiledPhrase {
                    rule: rule_index,
                    phrase: phrase_index,
                    words,
                    foldable: diacritic_insensitive && !r.exact,
                });
            }
            rules.push(Rule {
                id: rule_id,
                category,
                lang,
                phrases: r.phrases,
                weight: r.weight as f32,
                exact: r.exact,
                note: r.note,
            });
        }

        let mut by_key: HashMap<String, Vec<usize>> = HashMap::new();
        let mut by_folded: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, p) in phrases.iter().enumerate() {
            let first = &p.words[0];
            by_key.entry(first.key.clone()).or_default().push(i);
            if p.foldable && first.folded != first.key {
                by_folded.entry(first.folded.clone()).or_default().push(i);
            }
        }

        let digest = Sha256::digest(text.as_bytes());
        let hash = hex::encode(digest);
        let version = format!(
            "rules-{}-{}",
            &hash[..12],
            if diacritic_insensitive {
                "fold"
            } else {
                "exact"
            }
        );
        Ok(KeywordRules {
            rules,
            phrases,
            by_key,
            by_folded,
            diacritic_insensitive,
            version,
            file_version: raw.version,
        })
    }

    /// `rules-<first 12 hex of sha256(rules file)>-<fold|exact>`.
    pub fn version(&self) -> String {
        self.version.clone()
    }

    /// The `version = "…"` label written in the rules file.
    pub fn file_version(&self) -> &str {
        &self.file_version
    }

    pub fn diacritic_insensitive(&self) -> bool {
        self.diacritic_insensitive
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Every hit in `text`, in text order. Offsets are into [`normalise`]`(text)`. Overlapping
    /// hits of one category keep the strongest (then longest, then earliest); at most
    /// [`MAX_HITS`] hits are looked for.
    pub fn find(&self, text: &str) -> Vec<RuleHit> {
        let norm = normalise(text);
        let stream = TokenStream::new(&norm);
        let n = stream.tokens.len();

        // (phrase index, first token, last token)
        let mut raw: Vec<(usize, usize, usize)> = Vec::new();
        'scan: for i in 0..n {
            let tok = &stream.tokens[i];
            let key = stream.key(i);
            let exact = self.by_key.get(key).map(Vec::as_slice).unwrap_or(&[]);
            let folded = if self.diacritic_insensitive && tok.plain {
                self.by_folded.get(key).map(Vec::as_slice).unwrap_or(&[])
            } else {
                &[]
            };
            for &p in exact.iter().chain(folded) {
                let phrase = &self.phrases[p];
                let len = phrase.words.len();
                if i + len > n {
                    continue;
                }
                let rest_matches = (1..len).all(|j| {
                    let t = &stream.tokens[i + j];
                    !t.break_before && word_matches(&stream, i + j, &phrase.words[j], phrase)
                });
                if rest_matches {
                    raw.push((p, i, i + len - 1));
                    if raw.len() >= MAX_HITS {
                        break 'scan;
                    }
                }
            }
        }

        // Resolve overlaps per category: strongest, then longest, then earliest wins.
        raw.sort_by(|a, b| {
            let (ra, rb) = (
                &self.rules[self.phrases[a.0].rule],
                &self.rules[self.phrases[b.0].rule],
            );
            rb.weight
                .total_cmp(&ra.weight)
                .then((b.2 - b.1).cmp(&(a.2 - a.1)))
                .then(a.1.cmp(&b.1))
                .then(a.0.cmp(&b.0))
        });
        let mut kept_spans: HashMap<Category, BTreeMap<usize, usize>> = HashMap::new();
        let mut kept: Vec<(usize, usize, usize)> = Vec::new();
        for (p, first, last) in raw {
            let category = self.rules[self.phrases[p].rule].category;
            let spans = kept_spans.entry(category).or_default();
            // Kept spans never overlap, so only the one starting last before `last` can.
            let overlaps = spans
                .range(..=last)
                .next_back()
                .is_some_and(|(_, &end)| end >= first);
            if !overlaps {
                spans.insert(first, last);
                kept.push((p, first, last));
            }
        }
        kept.sort_by_key(|&(p, first, _)| (first, p));

        kept.into_iter()
            .map(|(p, first, last)| {
                let phrase = &self.phrases[p];
                let rule = &self.rules[phrase.rule];
                let start = stream.tokens[first].span.start;
                let end = stream.tokens[last].span.end;
                RuleHit {
                    rule_id: rule.id.clone(),
                    category: rule.category,
                    phrase: rule.phrases[phrase.phrase].clone(),
                    weight: rule.weight,
                    start,
                    end,
                    excerpt: excerpt(&norm, start, end),
                    matched: norm.get(start..end).unwrap_or_default().to_string(),
                }
            })
            .collect()
    }

    /// What [`Analyser::analyse`] does, without the async wrapper: the caption (with hashtags)
    /// as one text, the comments as a crowd.
    pub fn analyse_video(&self, video: &Video) -> AnalyserOutput {
        let mut out = AnalyserOutput::default();
        let caption = video.caption_text();
        let caption = [TextPiece {
            time_s: None,
            text: &caption,
        }];
        out.merge(self.score_pieces(Modality::Caption, &caption, Aggregation::Whole));
        let comments: Vec<TextPiece<'_>> = video
            .comments
            .iter()
            .map(|c| TextPiece {
                time_s: None,
                text: &c.text,
            })
            .collect();
        out.merge(self.score_pieces(Modality::Comments, &comments, Aggregation::Crowd));
        out
    }

    /// Scores the pieces of one modality (a caption, comments, transcript segments, on-screen
    /// text per frame): one `ModalityScore` (none when there is no text) and evidence carrying
    /// each piece's time offset. Pieces are capped at [`MAX_COMMENTS`] × [`MAX_COMMENT_CHARS`]
    /// (a single piece at [`MAX_CAPTION_CHARS`]), with a note when anything was cut.
    pub fn score_pieces(
        &self,
        modality: Modality,
        pieces: &[TextPiece<'_>],
        aggregation: Aggregation,
    ) -> AnalyserOutput {
        let mut out = AnalyserOutput::default();
        let pieces: Vec<&TextPiece<'_>> = pieces
            .iter()
            .filter(|p| !p.text.trim().is_empty())
            .collect();
        if pieces.is_empty() {
            return out;
        }
        let max_chars = if pieces.len() == 1 {
            MAX_CAPTION_CHARS
        } else {
            MAX_COMMENT_CHARS
        };
        let mut per_rule: HashMap<String, (Category, f64, u32)> = HashMap::new();
        let mut located = Vec::new();
        let mut cut_pieces = 0usize;
        for (index, piece) in pieces.iter().take(MAX_COMMENTS).enumerate() {
            let (text, cut) = truncate_chars(piece.text, max_chars);
            cut_pieces += usize::from(cut);
            let hits = self.find(text);
            let mut distinct = HashSet::new();
            for h in &hits {
                if distinct.insert(h.rule_id.as_str()) {
                    let entry = per_rule.entry(h.rule_id.clone()).or_insert((
                        h.category,
                        f64::from(h.weight),
                        0,
                    ));
                    entry.2 += 1;
                }
            }
            located.extend(
                hits.into_iter()
                    .map(|h| ((index, h.start), piece.time_s, h)),
            );
        }
        let contributions = per_rule
            .into_values()
            .map(|(category, weight, k)| match aggregation {
                Aggregation::Whole => (category, weight),
                Aggregation::Crowd => {
                    let k = i32::try_from(k).unwrap_or(i32::MAX);
                    (category, weight * (1.0 - COMMENT_REPEAT_FACTOR.powi(k)))
                }
            });
        out.scores.push(modality_score(modality, contributions));
        if pieces.len() > MAX_COMMENTS || cut_pieces > 0 {
            let scanned = pieces.len().min(MAX_COMMENTS);
            out.evidence.push(info(
                modality,
                format!(
                    "scanned {scanned} of {} texts; {cut_pieces} cut to their first {max_chars} characters",
                    pieces.len()
                ),
            ));
        }
        out.evidence.extend(rule_evidence(modality, located));
        out
    }
}

/// One text of a modality, with where it sits in the media when that is known.
#[derive(Debug, Clone, Copy)]
pub struct TextPiece<'a> {
    pub time_s: Option<f64>,
    pub text: &'a str,
}

/// How hits in several pieces of one modality add up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregation {
    /// The pieces are one text (caption, a transcript, a frame's words): each distinct rule
    /// counts once at its full weight.
    Whole,
    /// The pieces are many voices (comments): a rule hitting in k pieces counts
    /// `weight · (1 − ½^k)`, so one stray comment weighs half and a chorus approaches full.
    Crowd,
}

#[async_trait]
impl Analyser for KeywordRules {
    fn name(&self) -> &str {
        ANALYSER_NAME
    }

    fn version(&self) -> String {
        self.version.clone()
    }

    async fn analyse(&self, input: &AnalysisInput) -> Result<AnalyserOutput, StageError> {
        Ok(self.analyse_video(&input.video))
    }
}

// ───────────────────────────── scoring and evidence ─────────────────────────────

/// `1 − Π(1 − w)` per category over `(category, w)`; every category present; `harmful` = max.
fn modality_score(
    modality: Modality,
    weights: impl IntoIterator<Item = (Category, f64)>,
) -> ModalityScore {
    let mut keep: BTreeMap<Category, f64> = Category::ALL.into_iter().map(|c| (c, 1.0)).collect();
    for (category, w) in weights {
        if let Some(k) = keep.get_mut(&category) {
            *k *= 1.0 - w.clamp(0.0, 1.0);
        }
    }
    let categories: BTreeMap<Category, f32> = keep
        .into_iter()
        .map(|(c, k)| (c, (1.0 - k).clamp(0.0, 1.0) as f32))
        .collect();
    let harmful = categories.values().copied().fold(0.0f32, f32::max);
    ModalityScore {
        modality,
        analyser: ANALYSER_NAME.to_string(),
        harmful,
        categories,
        timeline: Vec::new(),
    }
}

/// Evidence for located hits: each rule's first hit (strongest rules first), then the other hits
/// in text order, at most [`MAX_EVIDENCE_PER_MODALITY`].
fn rule_evidence(
    modality: Modality,
    mut hits: Vec<((usize, usize), Option<f64>, RuleHit)>,
) -> Vec<Evidence> {
    hits.sort_by_key(|(at, _, _)| *at);
    let mut seen = HashSet::new();
    let (mut firsts, rest): (Vec<_>, Vec<_>) = hits
        .into_iter()
        .partition(|(_, _, h)| seen.insert(h.rule_id.clone()));
    firsts.sort_by(|(a_at, _, a), (b_at, _, b)| b.weight.total_cmp(&a.weight).then(a_at.cmp(b_at)));
    firsts
        .into_iter()
        .chain(rest)
        .take(MAX_EVIDENCE_PER_MODALITY)
        .map(|(_, time_s, h)| Evidence {
            kind: EvidenceKind::Rule,
            modality,
            category: Some(h.category),
            time_s,
            excerpt: h.excerpt,
            rule_id: Some(h.rule_id),
            score: Some(h.weight),
            matched: Some(h.matched),
        })
        .collect()
}

fn info(modality: Modality, excerpt: String) -> Evidence {
    Evidence {
        kind: EvidenceKind::Info,
        modality,
        category: None,
        time_s: None,
        excerpt,
        rule_id: None,
        score: None,
        matched: None,
    }
}

/// The first `max` characters of `s`, and whether anything was cut.
fn truncate_chars(s: &str, max: usize) -> (&str, bool) {
    match s.char_indices().nth(max) {
        Some((i, _)) => (&s[..i], true),
        None => (s, false),
    }
}

// ───────────────────────────── text ─────────────────────────────

/// The NFC form of `text`: the text [`RuleHit`] offsets point into.
pub fn normalise(text: &str) -> String {
    text.nfc().collect()
}

/// One word of a text.
#[derive(Debug)]
struct Token {
    /// Byte range in the normalised text.
    span: Range<usize>,
    /// Byte range of the word's key in [`TokenStream::keys`].
    key: Range<usize>,
    /// The word has no diacritics at all (may match a rule word's accent-stripped form).
    plain: bool,
    /// Sentence punctuation separates this word from the previous one.
    break_before: bool,
}

/// The words of a normalised text, with their keys stored in one buffer.
#[derive(Debug)]
struct TokenStream {
    keys: String,
    tokens: Vec<Token>,
}

impl TokenStream {
    fn new(norm: &str) -> TokenStream {
        let mut stream = TokenStream {
            keys: String::with_capacity(norm.len()),
            tokens: Vec::new(),
        };
        let mut scratch = KeyScratch::default();
        let mut pending_break = false;
        for (offset, segment) in norm.split_word_bound_indices() {
            if segment.chars().any(char::is_alphanumeric) {
                // '_' and '.' inside a token separate words too.
                let mut piece_start = 0;
                let ends = segment
                    .char_indices()
                    .filter(|&(_, c)| c == '_' || c == '.')
                    .map(|(i, _)| i)
                    .chain(std::iter::once(segment.len()));
                for piece_end in ends {
                    let piece = &segment[piece_start..piece_end];
                    if piece.chars().any(char::is_alphanumeric) {
                        let start = offset + piece_start;
                        stream.push(
                            start..start + piece.len(),
                            piece,
                            pending_break,
                            &mut scratch,
                        );
                        pending_break = false;
                    }
                    piece_start = piece_end + 1;
                }
            } else if segment == "+" {
                stream.push(offset..offset + 1, segment, pending_break, &mut scratch);
                pending_break = false;
            } else if segment.chars().any(is_break_char) {
                pending_break = true;
            }
        }
        stream
    }

    fn push(
        &mut self,
        span: Range<usize>,
        word: &str,
        break_before: bool,
        scratch: &mut KeyScratch,
    ) {
        let key_start = self.keys.len();
        let plain = push_key(word, &mut self.keys, scratch);
        self.tokens.push(Token {
            span,
            key: key_start..self.keys.len(),
            plain,
            break_before,
        });
    }

    fn key(&self, i: usize) -> &str {
        &self.keys[self.tokens[i].key.clone()]
    }
}

fn word_matches(stream: &TokenStream, i: usize, word: &RuleWord, phrase: &CompiledPhrase) -> bool {
    let key = stream.key(i);
    key == word.key || (phrase.foldable && stream.tokens[i].plain && key == word.folded)
}

fn is_break_char(c: char) -> bool {
    matches!(
        c,
        '.' | ','
            | '!'
            | '?'
            | ';'
            | ':'
            | '…'
            | '。'
            | '，'
            | '！'
            | '？'
            | '；'
            | '：'
            | '\n'
            | '\r'
            | '|'
            | '\u{2028}'
            | '\u{2029}'
    )
}

fn is_diacritic_mark(c: char) -> bool {
    ('\u{300}'..='\u{36f}').contains(&c)
}

#[derive(Default)]
struct KeyScratch {
    base: String,
    tones: String,
}

/// Appends `word`'s key (lowercase, NFC, tone marks moved to the end, curly apostrophes made
/// straight) to `out`; returns whether the word has no diacritics at all.
fn push_key(word: &str, out: &mut String, scratch: &mut KeyScratch) -> bool {
    if word.is_ascii() {
        out.extend(word.chars().map(|c| c.to_ascii_lowercase()));
        return true;
    }
    scratch.base.clear();
    scratch.tones.clear();
    let mut plain = true;
    for c in word.chars().flat_map(char::to_lowercase).nfd() {
        if TONE_MARKS.contains(&c) {
            scratch.tones.push(c);
            plain = false;
        } else if is_diacritic_mark(c) || c == 'đ' {
            scratch.base.push(c);
            plain = false;
        } else if c == '\u{2019}' || c == '\u{2bc}' {
            scratch.base.push('\'');
        } else {
            scratch.base.push(c);
        }
    }
    out.extend(scratch.base.chars().nfc());
    // Keep the tones in a fixed order so "thuận" written either way gives one key.
    let mut tones: Vec<char> = scratch.tones.chars().collect();
    tones.sort_unstable();
    out.extend(tones);
    plain
}

/// A key's accent-stripped form: NFD, marks U+0300–U+036F dropped, `đ`/`Đ` → `d`.
fn fold_key(key: &str) -> String {
    if key.is_ascii() {
        return key.to_string();
    }
    key.nfd()
        .filter(|&c| !is_diacritic_mark(c))
        .map(|c| if c == 'đ' || c == 'Đ' { 'd' } else { c })
        .nfc()
        .collect()
}

/// The matched words with up to [`EXCERPT_CONTEXT_CHARS`] characters of context each side
/// (cut at a space when there is one), whitespace collapsed, control characters removed, "…"
/// where cut.
fn excerpt(text: &str, start: usize, end: usize) -> String {
    let start = start.min(text.len());
    let end = end.clamp(start, text.len());
    if !text.is_char_boundary(start) || !text.is_char_boundary(end) {
        return String::new();
    }
    let mut from = text[..start]
        .char_indices()
        .rev()
        .take(EXCERPT_CONTEXT_CHARS)
        .last()
        .map_or(start, |(i, _)| i);
    let cut_before = from > 0;
    if cut_before && let Some(space) = text[from..start].find(char::is_whitespace) {
        from += space;
    }
    let mut to = text[end..]
        .char_indices()
        .nth(EXCERPT_CONTEXT_CHARS)
        .map_or(text.len(), |(i, _)| end + i);
    let cut_after = to < text.len();
    if cut_after && let Some(space) = text[end..to].rfind(char::is_whitespace) {
        to = end + space;
    }

    let matched = &text[start..end];
    let mut raw = String::with_capacity(to - from + 8);
    raw.push_str(&text[from..start]);
    if matched.chars().count() > EXCERPT_MATCH_CHARS {
        let half = EXCERPT_MATCH_CHARS / 2;
        raw.extend(matched.chars().take(half));
        raw.push_str(" … ");
        let tail: Vec<char> = matched.chars().rev().take(half).collect();
        raw.extend(tail.into_iter().rev());
    } else {
        raw.push_str(matched);
    }
    raw.push_str(&text[end..to]);

    let mut out = String::with_capacity(raw.len() + 8);
    if cut_before {
        out.push('…');
    }
    let mut last_space = true;
    for c in raw.chars() {
        let c = if c.is_control() || is_bidi_control(c) {
            ' '
        } else {
            c
        };
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
        } else {
            out.push(c);
            last_space = false;
        }
    }
    while out.ends_with(' ') {
        out.pop();
    }
    if cut_after {
        out.push('…');
    }
    out
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use clipguard_core::Comment;
    use std::time::{Duration, Instant};

    const TEST_RULES: &str = r#"
version = "test"

[[rule]]
id = "t.ke"
category = "dangerous_illegal"
lang = "vi"
phrases = ["ke"]
weight = 0.9

[[rule]]
id = "t.pod"
category = "dangerous_illegal"
lang = "en"
phrases = ["pod"]
weight = 0.5

[[rule]]
id = "t.danh_nhau"
category = "violence"
lang = "vi"
phrases = ["đánh nhau", "danhnhau"]
weight = 0.7

[[rule]]
id = "t.ke_accented"
category = "hate_harassment"
lang = "vi"
phrases = ["kế"]
weight = 0.3

[[rule]]
id = "t.chet"
category = "self_harm"
lang = "vi"
phrases = ["chết"]
weight = 0.4

[[rule]]
id = "t.chet_sac"
category = "sexual"
lang = "vi"
phrases = ["chét"]
weight = 0.4

[[rule]]
id = "t.tu_tu"
category = "self_harm"
lang = "vi"
phrases = ["tự tử"]
weight = 0.75
exact = true

[[rule]]
id = "t.ma_tuy"
category = "dangerous_illegal"
lang = "vi"
phrases = ["ma túy", "18+"]
weight = 0.85
"#;

    fn rules(fold: bool) -> KeywordRules {
        KeywordRules::from_toml(TEST_RULES, fold).unwrap()
    }

    /// Rule ids that hit, sorted.
    fn ids(rules: &KeywordRules, text: &str) -> Vec<String> {
        let mut ids: Vec<String> = rules.find(text).into_iter().map(|h| h.rule_id).collect();
        ids.sort();
        ids
    }

    fn hit_ids(rules: &KeywordRules, text: &str, rule_id: &str) -> usize {
        rules
            .find(text)
            .iter()
            .filter(|h| h.rule_id == rule_id)
            .count()
    }

    fn video(caption: &str, hashtags: &[&str], comments: &[&str]) -> Video {
        let mut v: Video = toml::from_str(
            r#"
id = "test:1"
platform = "test"
platform_id = "1"
caption = ""
hashtags = []
comments = []
source = "unit test"
ingested_at = "2024-01-01T00:00:00Z"
[counts]
"#,
        )
        .unwrap();
        v.caption = caption.to_string();
        v.hashtags = hashtags.iter().map(|s| s.to_string()).collect();
        v.comments = comments
            .iter()
            .map(|t| Comment {
                text: t.to_string(),
                author: None,
                likes: None,
            })
            .collect();
        v
    }

    #[test]
    fn vietnamese_ke_fires_only_on_the_standalone_word() {
        for fold in [true, false] {
            let r = rules(fold);
            for text in [
                "kem",
                "kẹo",
                "kế hoạch",
                "keo",
                "Kem",
                "kèm theo",
                "kẻ xấu",
                "kẹo kéo",
            ] {
                assert_eq!(
                    hit_ids(&r, text, "t.ke"),
                    0,
                    "`ke` fired on {text:?} (fold {fold})"
                );
            }
            let hits: Vec<RuleHit> = r
                .find("Kem ke")
                .into_iter()
                .filter(|h| h.rule_id == "t.ke")
                .collect();
            assert_eq!(hits.len(), 1, "fold {fold}");
            assert_eq!((hits[0].start, hits[0].end), (4, 6));
            assert_eq!(hits[0].phrase, "ke");
            assert_eq!(hit_ids(&r, "KE.", "t.ke"), 1);
            assert_eq!(hit_ids(&r, "kẹo ke, kem ke", "t.ke"), 2);
        }
    }

    #[test]
    fn english_pod_never_matches_inside_a_word() {
        let r = rules(true);
        for text in [
            "podcast",
            "tripod",
            "iPod",
            "pods",
            "new podcast episode",
            "Tripod stand",
        ] {
            assert!(ids(&r, text).is_empty(), "fired on {text:?}");
        }
        assert_eq!(ids(&r, "my pod is empty"), ["t.pod"]);
        assert_eq!(ids(&r, "#pod"), ["t.pod"]);
        assert_eq!(ids(&r, "POD!"), ["t.pod"]);
    }

    #[test]
    fn danh_nhau_matches_case_folding_hashtags_and_respects_the_fold_flag() {
        let on = rules(true);
        let off = rules(false);

        let text = "Hai nhóm ĐÁNH NHAU ở cổng trường";
        let hits = on.find(text);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].rule_id, "t.danh_nhau");
        assert_eq!(hits[0].category, Category::Violence);
        assert_eq!(&normalise(text)[hits[0].start..hits[0].end], "ĐÁNH NHAU");
        assert_eq!(ids(&off, text), ["t.danh_nhau"]);

        assert_eq!(ids(&on, "danh nhau o cong truong"), ["t.danh_nhau"]);
        assert!(ids(&off, "danh nhau o cong truong").is_empty());

        assert_eq!(ids(&on, "#danh_nhau"), ["t.danh_nhau"]);
        assert!(ids(&off, "#danh_nhau").is_empty());
        assert_eq!(ids(&off, "#đánh_nhau #xuhuong"), ["t.danh_nhau"]);
        assert_eq!(ids(&on, "#danhnhau"), ["t.danh_nhau"]);
        assert_eq!(ids(&off, "#DanhNhau"), ["t.danh_nhau"]);

        // Wrong diacritics, split words, punctuation between the words: no match.
        assert!(ids(&on, "dánh nhau").is_empty());
        assert!(ids(&on, "đánh nhaunhau").is_empty());
        assert!(ids(&on, "đánh. Nhau").is_empty());
        assert!(ids(&on, "đánh, nhau").is_empty());
        assert!(ids(&on, "đánh\nnhau").is_empty());
        // Other separators are fine.
        assert_eq!(ids(&on, "đánh - nhau"), ["t.danh_nhau"]);
        assert_eq!(ids(&on, "đánh 👊 nhau"), ["t.danh_nhau"]);
    }

    #[test]
    fn folding_is_asymmetric() {
        let on = rules(true);
        let off = rules(false);
        // Rule "ke" (no diacritics) never matches accented text.
        assert_eq!(hit_ids(&on, "kế", "t.ke"), 0);
        // Rule "kế" matches unaccented "ke" only when folding, and accented "kế" always.
        assert_eq!(ids(&on, "ke"), ["t.ke", "t.ke_accented"]);
        assert_eq!(ids(&off, "ke"), ["t.ke"]);
        assert_eq!(ids(&on, "kế"), ["t.ke_accented"]);
        assert_eq!(ids(&off, "Kế"), ["t.ke_accented"]);
        assert!(ids(&on, "kề kệ kể").is_empty());

        // "chết" vs "chét": accented text must match exactly.
        assert_eq!(ids(&on, "chết"), ["t.chet"]);
        assert_eq!(ids(&on, "chét"), ["t.chet_sac"]);
        assert_eq!(ids(&on, "chet"), ["t.chet", "t.chet_sac"]);
        assert!(ids(&off, "chet").is_empty());
        assert!(ids(&on, "chệt chẹt").is_empty());

        // `exact = true` rules never match stripped text.
        assert!(ids(&on, "tu tu thoi").is_empty());
        assert_eq!(ids(&on, "Muốn TỰ TỬ"), ["t.tu_tu"]);
        assert!(ids(&on, "từ từ thôi").is_empty());
    }

    #[test]
    fn old_and_new_tone_placement_and_decomposed_input_match() {
        let r = rules(true);
        assert_eq!(ids(&r, "ma tuý"), ["t.ma_tuy"]);
        assert_eq!(ids(&r, "MA TUÝ"), ["t.ma_tuy"]);
        assert_eq!(ids(&r, "ma.túy"), ["t.ma_tuy"]);
        assert_eq!(ids(&r, "phim 18+ nè"), ["t.ma_tuy"]);
        assert!(ids(&r, "18 tuổi").is_empty());

        let decomposed: String = "Hai nhóm đánh nhau ở cổng trường".nfd().collect();
        assert_ne!(decomposed, normalise(&decomposed));
        let hits = r.find(&decomposed);
        assert_eq!(hits.len(), 1);
        assert_eq!(
            &normalise(&decomposed)[hits[0].start..hits[0].end],
            "đánh nhau"
        );
        let decomposed_plain_rule: String = "ke kẹo".nfd().collect();
        assert_eq!(hit_ids(&r, &decomposed_plain_rule, "t.ke"), 1);
    }

    fn one_rule(id: &str, category: &str, phrases: &str, weight: &str) -> String {
        format!(
            "version = \"x\"\n[[rule]]\nid = \"{id}\"\ncategory = \"{category}\"\nlang = \"vi\"\nphrases = {phrases}\nweight = {weight}\n"
        )
    }

    #[test]
    fn invalid_files_are_refused_naming_the_rule() {
        let ok = one_rule("a.ok", "violence", "[\"x y\"]", "0.5");
        assert!(KeywordRules::from_toml(&ok, true).is_ok());

        let dup = format!(
            "{ok}{}",
            one_rule("a.ok", "violence", "[\"z\"]", "0.5").replace("version = \"x\"\n", "")
        );
        let e = KeywordRules::from_toml(&dup, true).unwrap_err();
        assert!(
            matches!(&e, RulesError::DuplicateId { rule_id } if rule_id == "a.ok"),
            "{e}"
        );
        assert!(e.to_string().contains("a.ok"));

        let e = KeywordRules::from_toml(&one_rule("a.cat", "drugs", "[\"x\"]", "0.5"), true)
            .unwrap_err();
        assert!(
            matches!(&e, RulesError::UnknownCategory { rule_id, category } if rule_id == "a.cat" && category == "drugs"),
            "{e}"
        );
        assert!(e.to_string().contains("a.cat"));

        for w in ["1.5", "-0.1", "nan"] {
            let e = KeywordRules::from_toml(&one_rule("a.w", "sexual", "[\"x\"]", w), true)
                .unwrap_err();
            assert!(
                matches!(&e, RulesError::BadWeight { rule_id, .. } if rule_id == "a.w"),
                "{w}: {e}"
            );
            assert!(e.to_string().contains("a.w"));
        }
        assert!(KeywordRules::from_toml(&one_rule("a.w", "sexual", "[\"x\"]", "1"), true).is_ok());

        let e =
            KeywordRules::from_toml(&one_rule("a.empty", "sexual", "[]", "0.5"), true).unwrap_err();
        assert!(
            matches!(&e, RulesError::EmptyPhrases { rule_id } if rule_id == "a.empty"),
            "{e}"
        );
        let missing = ok.replace("phrases = [\"x y\"]\n", "");
        let e = KeywordRules::from_toml(&missing, true).unwrap_err();
        assert!(
            matches!(&e, RulesError::EmptyPhrases { rule_id } if rule_id == "a.ok"),
            "{e}"
        );

        let e =
            KeywordRules::from_toml(&one_rule("a.p", "sexual", "[\"x\", \"!!!\"]", "0.5"), true)
                .unwrap_err();
        assert!(
            matches!(&e, RulesError::BadPhrase { rule_id, .. } if rule_id == "a.p"),
            "{e}"
        );
        let e = KeywordRules::from_toml(&one_rule("a.p", "sexual", "[\"x. y\"]", "0.5"), true)
            .unwrap_err();
        assert!(
            matches!(&e, RulesError::BadPhrase { rule_id, .. } if rule_id == "a.p"),
            "{e}"
        );
        let e = KeywordRules::from_toml(
            &one_rule("a.p", "sexual", "[\"a b c d e f g h i\"]", "0.5"),
            true,
        )
        .unwrap_err();
        assert!(
            matches!(&e, RulesError::BadPhrase { rule_id, .. } if rule_id == "a.p"),
            "{e}"
        );

        // The same phrase (after normalisation) in two rules, or twice in one.
        let two = format!(
            "{ok}{}",
            one_rule("a.two", "sexual", "[\"X  Y\"]", "0.5").replace("version = \"x\"\n", "")
        );
        let e = KeywordRules::from_toml(&two, true).unwrap_err();
        assert!(
            matches!(&e, RulesError::DuplicatePhrase { rule_id, other, .. } if rule_id == "a.two" && other == "a.ok"),
            "{e}"
        );
        let e = KeywordRules::from_toml(
            &one_rule("a.twice", "sexual", "[\"ma tuý\", \"ma túy\"]", "0.5"),
            true,
        )
        .unwrap_err();
        assert!(
            matches!(&e, RulesError::DuplicatePhrase { rule_id, .. } if rule_id == "a.twice"),
            "{e}"
        );

        let e = KeywordRules::from_toml(&ok.replace("lang = \"vi\"", "lang = \"fr\""), true)
            .unwrap_err();
        assert!(
            matches!(&e, RulesError::UnknownLang { rule_id, .. } if rule_id == "a.ok"),
            "{e}"
        );
        assert!(matches!(
            KeywordRules::from_toml("version = \"x\"\n", true),
            Err(RulesError::NoRules)
        ));
        assert!(matches!(
            KeywordRules::from_toml("version = ", true),
            Err(RulesError::Parse(_))
        ));
        assert!(matches!(
            KeywordRules::from_toml(&ok.replace("weight", "wieght = 0.5\nweight"), true),
            Err(RulesError::Parse(_))
        ));
    }

    #[test]
    fn excerpts_show_the_match_with_bounded_context() {
        let r = rules(true);
        let before = "Hôm nay trời đẹp quá mọi người ơi, chúng tôi đi chơi công viên và thấy";
        let after = "ngay trước cổng trường rồi bảo vệ phải ra can ngăn mãi mới xong chuyện";
        let text = format!("{before} hai nhóm đánh nhau {after}");
        let hits = r.find(&text);
        assert_eq!(hits.len(), 1);
        let ex = &hits[0].excerpt;
        assert!(ex.contains("hai nhóm đánh nhau ngay"), "{ex}");
        assert!(ex.starts_with('…') && ex.ends_with('…'), "{ex}");
        assert!(
            ex.chars().count() <= 2 * EXCERPT_CONTEXT_CHARS + "đánh nhau".len() + 2,
            "{ex}"
        );

        let short = r.find("  đánh\n\nnhau?  ");
        assert!(short.is_empty(), "newline breaks the phrase");
        let short = r.find("  Đánh   nhau  \u{202e}rồi ");
        assert_eq!(short[0].excerpt, "Đánh nhau rồi");

        // A hostile gap between the words is shortened.
        let gap = format!("đánh{}nhau", " ".repeat(10_000));
        let h = r.find(&gap);
        assert_eq!(h.len(), 1);
        assert!(h[0].excerpt.chars().count() < 200, "{}", h[0].excerpt);
    }

    #[test]
    fn builtin_rules_parse_cover_every_category_and_language_and_match_themselves() {
        for fold in [true, false] {
            let r = KeywordRules::builtin(fold).unwrap();
            assert!(r.version().starts_with("rules-"));
            for category in Category::ALL {
                for lang in [Lang::Vi, Lang::En] {
                    let n = r
                        .rules()
                        .iter()
                        .filter(|x| x.category == category && x.lang == lang)
                        .count();
                    assert!(n >= 1, "no {} rule for {category}", lang.as_str());
                }
            }
            for rule in r.rules() {
                assert!((0.0..=1.0).contains(&rule.weight));
                for phrase in &rule.phrases {
                    let hits = r.find(phrase);
                    assert!(
                        hits.iter()
                            .any(|h| h.rule_id == rule.id && &h.phrase == phrase),
                        "{} `{phrase}` does not match itself (fold {fold}): {hits:?}",
                        rule.id
                    );
                    // Typed without diacritics, it matches too unless the rule is exact.
                    let stripped = fold_key(&phrase.to_lowercase());
                    let stripped_hit = r
                        .find(&stripped)
                        .iter()
                        .any(|h| h.rule_id == rule.id && &h.phrase == phrase);
                    let expected = fold && !rule.exact || stripped == phrase.to_lowercase();
                    assert_eq!(
                        stripped_hit, expected,
                        "{} `{stripped}` (fold {fold})",
                        rule.id
                    );
                }
            }
        }
    }

    #[test]
    fn builtin_rules_leave_innocent_text_alone() {
        let r = KeywordRules::builtin(true).unwrap();
        let innocent = [
            "Kem dâu ngon quá, kẹo dẻo cũng ngon",
            "kế hoạch đi chơi cuối tuần",
            "ke hoach di choi cuoi tuan, an kem va keo",
            "podcast mới nhất, tripod chụp ảnh",
            "từ từ thôi nhé",
            "tu tu thoi nhe",
            "hạt óc chó tốt cho sức khỏe",
            "hat oc cho tot cho suc khoe",
            "quán cà phê trên đường Nam Kỳ Khởi Nghĩa",
            "lịch sử Bắc Kỳ thời Pháp thuộc",
            "bảo hành 12 tháng, bao hanh chinh hang",
            "lô hàng mới về, lo hang moi ve",
            "bảng giá hôm nay, bang gia re",
            "đồ cho bé, do cho be so sinh",
            "con di hoc ve roi",
            "khach moi den",
            "treo cờ ngày quốc khánh, treo co to quoc",
            "cười muốn chết, nóng muốn chết",
            "food porn, nude makeup look",
            "Suicide Squad trailer",
            "cắt tay áo cho gọn",
            "đê chắn sóng, de chan song",
            "uống thuốc sau ăn, uong thuoc sau an",
            "mệt do ngủ ít, met do ngu it",
            "ca dao Việt Nam, cá đỏ",
            "dành để mua nhà, danh de mua nha",
            "bạn sung sức quá, ban sung suc qua",
            "khuyến mãi drama ma quỷ co giãn",
        ];
        for text in innocent {
            let hits = r.find(text);
            assert!(hits.is_empty(), "{text:?}: {hits:?}");
        }
        let harmful = [
            (
                "Hai nhóm học sinh đánh nhau trước cổng trường",
                "vi.violence.bao_luc_hoc_duong",
            ),
            ("bán ke, kẹo ke giá rẻ", "vi.illegal.thuoc_lac"),
            ("vay tien nhanh chi can cccd", "vi.illegal.vay_nhanh"),
            ("tìm sugar baby #sugarbaby", "vi.sexual.sugar_baby"),
            ("go kill yourself", "en.hate.kys"),
            ("#taixiu #nhacai uy tín", "vi.illegal.nha_cai"),
            ("đồ óc chó", "vi.hate.oc_cho"),
        ];
        for (text, id) in harmful {
            assert!(
                r.find(text).iter().any(|h| h.rule_id == id),
                "{text:?} should hit {id}"
            );
        }
    }

    #[test]
    fn version_names_the_file_hash_and_the_fold_flag() {
        let on = rules(true).version();
        let off = rules(false).version();
        let hash = &on["rules-".len().."rules-".len() + 12];
        assert!(hash.chars().all(|c| c.is_ascii_hexdigit()), "{on}");
        assert_eq!(on, format!("rules-{hash}-fold"));
        assert_eq!(off, format!("rules-{hash}-exact"));
        let other = KeywordRules::from_toml(&TEST_RULES.replace("0.85", "0.8"), true).unwrap();
        assert_ne!(other.version(), on);
        assert_eq!(rules(true).file_version(), "test");
    }

    #[test]
    fn load_uses_builtin_for_an_empty_path_and_reads_files() {
        let builtin = KeywordRules::load(&RulesConfig {
            path: String::new(),
            diacritic_insensitive: true,
        })
        .unwrap();
        assert_eq!(
            builtin.version(),
            KeywordRules::builtin(true).unwrap().version()
        );

        let path =
            std::env::temp_dir().join(format!("clipguard-rules-test-{}.toml", std::process::id()));
        std::fs::write(&path, TEST_RULES).unwrap();
        let loaded = KeywordRules::load(&RulesConfig {
            path: path.to_string_lossy().into_owned(),
            diacritic_insensitive: false,
        });
        std::fs::remove_file(&path).unwrap();
        let loaded = loaded.unwrap();
        assert_eq!(loaded.version(), rules(false).version());
        assert!(!loaded.diacritic_insensitive());

        let e = KeywordRules::load(&RulesConfig {
            path: "/nonexistent/clipguard/rules.toml".into(),
            diacritic_insensitive: true,
        })
        .unwrap_err();
        assert!(matches!(e, RulesError::Io { .. }), "{e}");
        assert_eq!(e.class(), ErrorClass::External);
    }

    #[tokio::test]
    async fn analyser_scores_caption_and_comments_with_rule_evidence() {
        let r = rules(true);
        assert_eq!(Analyser::name(&r), "keywords");
        assert_eq!(Analyser::version(&r), r.version());
        let input = AnalysisInput {
            media_path: None,
            video: video(
                "Hai nhóm đánh nhau, rồi lại đánh nhau",
                &["danh_nhau", "kem"],
                &["đánh nhau thật", "", "danh nhau ghê", "hay quá", "   "],
            ),
            probe: None,
            frames: Vec::new(),
            audio: None,
        };
        let out = r.analyse(&input).await.unwrap();
        assert_eq!(out.scores.len(), 2);

        let caption = out
            .scores
            .iter()
            .find(|s| s.modality == Modality::Caption)
            .unwrap();
        assert_eq!(caption.analyser, "keywords");
        assert_eq!(caption.categories.len(), Category::ALL.len());
        // One rule counts once however often it hits.
        assert!((caption.categories[&Category::Violence] - 0.7).abs() < 1e-6);
        assert_eq!(caption.categories[&Category::Sexual], 0.0);
        assert!((caption.harmful - 0.7).abs() < 1e-6);

        let comments = out
            .scores
            .iter()
            .find(|s| s.modality == Modality::Comments)
            .unwrap();
        // Two comments hit: 0.7 · (1 − ½²).
        assert!(
            (comments.categories[&Category::Violence] - 0.525).abs() < 1e-6,
            "{comments:?}"
        );
        assert!((comments.harmful - 0.525).abs() < 1e-6);

        let caption_evidence: Vec<&Evidence> = out
            .evidence
            .iter()
            .filter(|e| e.modality == Modality::Caption)
            .collect();
        assert_eq!(caption_evidence.len(), 3, "{caption_evidence:?}");
        for e in &caption_evidence {
            assert_eq!(e.kind, EvidenceKind::Rule);
            assert_eq!(e.rule_id.as_deref(), Some("t.danh_nhau"));
            assert_eq!(e.category, Some(Category::Violence));
            assert_eq!(e.score, Some(0.7));
            assert_eq!(e.time_s, None);
        }
        assert!(caption_evidence[0].excerpt.contains("đánh nhau"));
        let comment_evidence = out
            .evidence
            .iter()
            .filter(|e| e.modality == Modality::Comments)
            .count();
        assert_eq!(comment_evidence, 2);
        assert!(out.evidence.iter().all(|e| e.kind == EvidenceKind::Rule));

        // Several rules in one category combine: 1 − (1 − 0.9)(1 − 0.5).
        let out = r.analyse_video(&video("ke and pod", &[], &[]));
        assert_eq!(out.scores.len(), 1);
        assert!((out.scores[0].categories[&Category::DangerousIllegal] - 0.95).abs() < 1e-6);
    }

    #[test]
    fn modalities_without_text_get_no_score_and_caps_are_noted() {
        let r = rules(true);
        let out = r.analyse_video(&video("", &[], &[]));
        assert!(out.scores.is_empty() && out.evidence.is_empty());
        let out = r.analyse_video(&video("  \n", &[], &["", "  "]));
        assert!(out.scores.is_empty() && out.evidence.is_empty());

        // Text without hits still gets a score: every category covered, all zero.
        let out = r.analyse_video(&video("", &["xuhuong"], &["hay"]));
        assert_eq!(out.scores.len(), 2);
        for s in &out.scores {
            assert_eq!(s.harmful, 0.0);
            assert_eq!(s.categories.len(), 5);
        }
        assert!(out.evidence.is_empty());

        let mut many: Vec<String> = (0..600).map(|i| format!("đánh nhau lần {i}")).collect();
        many.push(format!("{} ke", "x".repeat(5000)));
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let out = r.analyse_video(&video("", &[], &refs));
        let comments = &out.scores[0];
        assert_eq!(comments.modality, Modality::Comments);
        assert!(
            comments.categories[&Category::DangerousIllegal] == 0.0,
            "comment 601 is past the cap"
        );
        assert!(comments.categories[&Category::Violence] > 0.69);
        let infos: Vec<&Evidence> = out
            .evidence
            .iter()
            .filter(|e| e.kind == EvidenceKind::Info)
            .collect();
        assert_eq!(infos.len(), 1);
        assert!(
            infos[0].excerpt.contains("500 of 601"),
            "{}",
            infos[0].excerpt
        );
        let rule_evidence = out
            .evidence
            .iter()
            .filter(|e| e.kind == EvidenceKind::Rule)
            .count();
        assert_eq!(rule_evidence, MAX_EVIDENCE_PER_MODALITY);

        let long = format!("{} ke", "x ".repeat(MAX_CAPTION_CHARS));
        let out = r.analyse_video(&video(&long, &[], &[]));
        assert_eq!(out.scores[0].harmful, 0.0);
        assert!(out.evidence.iter().any(|e| e.kind == EvidenceKind::Info));
    }

    #[test]
    fn evidence_lists_each_rule_first_strongest_first() {
        let r = rules(true);
        let caption = format!("{} ke", "pod ".repeat(80));
        let out = r.analyse_video(&video(&caption, &[], &[]));
        assert_eq!(out.evidence.len(), MAX_EVIDENCE_PER_MODALITY);
        assert_eq!(out.evidence[0].rule_id.as_deref(), Some("t.ke"));
        assert_eq!(out.evidence[1].rule_id.as_deref(), Some("t.pod"));
    }

    /// A deterministic pseudo-random generator (no extra crates).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
    }

    fn random_text(bytes: usize, seed: u64) -> String {
        let words = [
            "đánh",
            "nhau",
            "ma",
            "túy",
            "tuý",
            "ke",
            "kẹo",
            "kem",
            "pod",
            "podcast",
            "#danh_nhau",
            "18+",
            "chết",
            "chet",
            "tự",
            "tử",
            "tu",
            "hôm",
            "nay",
            "trời",
            "đẹp",
            "the",
            "kill",
            "yourself",
            "sugar",
            "baby",
            "nhà",
            "cái",
            "_",
            "__",
            ".",
            ",",
            "!",
            "\n",
            "🔥",
            "#",
            "ĐÁNH",
            "a\u{301}\u{323}\u{302}",
            "\u{301}\u{301}",
            "x.y.z",
            "'",
            "’",
            "\u{202e}",
            "bán",
            "súng",
            "vay",
            "nóng",
            "+",
            "đ",
            "Ð",
            "İstanbul",
            "ß",
            "ﬁ",
            "日本語",
            "한국어",
            "🇻🇳",
        ];
        let mut rng = Lcg(seed);
        let mut out = String::with_capacity(bytes + 64);
        while out.len() < bytes {
            match rng.next() % 10 {
                0 => {
                    let c = char::from_u32((rng.next() % 0x11_0000) as u32).unwrap_or('?');
                    out.push(c);
                }
                _ => out.push_str(words[(rng.next() as usize) % words.len()]),
            }
            out.push(if rng.next().is_multiple_of(7) {
                '\t'
            } else {
                ' '
            });
        }
        out
    }

    #[test]
    fn a_megabyte_of_random_ish_text_is_fast_and_never_panics() {
        let r = KeywordRules::builtin(true).unwrap();
        let limit = if cfg!(debug_assertions) {
            Duration::from_secs(5)
        } else {
            Duration::from_secs(1)
        };
        for seed in [1, 2] {
            let text = random_text(1 << 20, seed);
            let t = Instant::now();
            let hits = r.find(&text);
            let elapsed = t.elapsed();
            assert!(elapsed < limit, "1 MB took {elapsed:?}");
            assert!(!hits.is_empty());
            assert!(hits.len() <= MAX_HITS);
            let norm = normalise(&text);
            for h in &hits {
                assert!(norm.is_char_boundary(h.start) && norm.is_char_boundary(h.end));
                assert!(h.start < h.end && h.end <= norm.len());
            }
            let out = r.analyse_video(&video(
                &text,
                &["x"],
                &[&text, truncate_chars(&text, 1000).0],
            ));
            assert_eq!(out.scores.len(), 2);
            assert!(out.evidence.len() <= 2 * (MAX_EVIDENCE_PER_MODALITY + 1));
        }
    }

    #[test]
    fn hostile_inputs_are_bounded() {
        let r = KeywordRules::builtin(true).unwrap();
        let repeated = "ma túy ".repeat(150_000);
        let t = Instant::now();
        let hits = r.find(&repeated);
        assert_eq!(hits.len(), MAX_HITS);
        assert!(t.elapsed() < Duration::from_secs(5));
        for text in [
            "a".repeat(1 << 20),
            "_".repeat(1 << 20),
            "+".repeat(1 << 19),
            format!("a{}", "\u{301}".repeat(1 << 18)),
            "\u{0}\u{ffff}\u{10ffff}".repeat(1000),
        ] {
            let _ = r.find(&text);
            let _ = r.analyse_video(&video(&text, &[], &[&text]));
        }
        assert!(r.find("").is_empty());
    }
}
