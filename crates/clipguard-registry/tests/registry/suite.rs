//! The one suite every registry backend must pass: registration and version numbering, reads,
//! aliases, fetch and its cache, the gate (floor, margin, eval sets, force, rollback), the
//! audit log and the hot-swap watcher. Written against `dyn Registry` only.

use super::bundles::{self, EVAL_SET, Spec};
use super::failing::AuditDown;
use clipguard_core::manifest::MANIFEST_FILE;
use clipguard_registry::gate::{self, GateError};
use clipguard_registry::{
    Action, CHALLENGER, CHAMPION, ChampionWatcher, GatePolicy, Registry, RegistryError,
};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

fn versions(list: &[clipguard_registry::RegisteredVersion]) -> Vec<&str> {
    list.iter().map(|v| v.version.as_str()).collect()
}

pub async fn run(registry: Arc<dyn Registry>, work: &Path) {
    let started = Instant::now();
    let reg: &dyn Registry = registry.as_ref();
    let src = work.join("bundles");
    let cache = work.join("cache");
    assert!(!reg.describe().is_empty());

    // --- empty registry -------------------------------------------------------------------
    assert!(reg.list_models().await.unwrap().is_empty());
    assert!(reg.list_versions("text").await.unwrap().is_empty());
    assert_eq!(reg.champion_version("text").await.unwrap(), None);
    assert!(reg.get_alias("text", CHAMPION).await.unwrap().is_none());
    assert!(reg.audit_log(None).await.unwrap().is_empty());
    assert!(
        reg.get_version("text", "1")
            .await
            .unwrap_err()
            .is_not_found()
    );
    reg.delete_alias("text", CHAMPION).await.unwrap(); // idempotent, even with no model
    assert!(matches!(
        gate::rollback(reg, "text", "ops").await,
        Err(GateError::NothingToRollBack(_))
    ));

    // --- refused inputs -------------------------------------------------------------------
    for (name, version) in [("Text", "1"), ("text", "01"), ("text", "v1"), ("../x", "1")] {
        assert!(
            matches!(
                reg.get_version(name, version).await,
                Err(RegistryError::InvalidName { .. })
            ),
            "{name} {version}"
        );
    }
    assert!(matches!(
        reg.set_alias("text", "latest", "1").await,
        Err(RegistryError::InvalidName { .. })
    ));
    std::fs::create_dir_all(src.join("empty")).unwrap();
    assert!(matches!(
        reg.register(&src.join("empty")).await,
        Err(RegistryError::InvalidBundle { .. })
    ));
    let missing = bundles::write(&src, &Spec::new("text", "missing-file", 0.9));
    std::fs::remove_file(missing.join("head.json")).unwrap();
    let err = reg.register(&missing).await.unwrap_err();
    assert!(err.to_string().contains("head.json"), "{err}");
    let mut escaping = Spec::new("text", "escaping", 0.9);
    escaping.files = vec![("sub/../../evil", b"x".to_vec())];
    let escaping = bundles::write(&src, &escaping);
    assert!(matches!(
        reg.register(&escaping).await,
        Err(RegistryError::InvalidBundle { .. })
    ));
    assert!(
        reg.list_models().await.unwrap().is_empty(),
        "nothing registered by failures"
    );

    // --- register: sequential per name --------------------------------------------------
    let b1 = bundles::write(&src, &Spec::new("text", "text-a", 0.70));
    let v1 = reg.register(&b1).await.unwrap();
    assert_eq!((v1.name.as_str(), v1.version.as_str()), ("text", "1"));
    assert_eq!(v1.manifest, bundles::read_manifest(&b1));
    assert!(v1.aliases.is_empty());
    let paths: Vec<&str> = v1.index.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, [MANIFEST_FILE, "head.json"]);

    // A bigger file (several upload chunks) in a sub-folder.
    let weights = bundles::noise(700 * 1024 + 13, 7);
    let mut spec2 = Spec::new("text", "text-b", 0.80);
    spec2.files.push(("weights/adapter.bin", weights.clone()));
    let b2 = bundles::write(&src, &spec2);
    let v2 = reg.register(&b2).await.unwrap();
    assert_eq!(v2.version, "2");
    let vis = reg
        .register(&bundles::write(
            &src,
            &Spec::new("vision", "vision-a", 0.72),
        ))
        .await
        .unwrap();
    assert_eq!((vis.name.as_str(), vis.version.as_str()), ("vision", "1"));

    // Concurrent registrations get distinct numbers.
    let b3 = bundles::write(&src, &Spec::new("text", "text-c", 0.805));
    let mut spec4 = Spec::new("text", "text-d", 0.90);
    spec4.eval_set = "some-other-eval";
    let b4 = bundles::write(&src, &spec4);
    let (r3, r4) = tokio::join!(reg.register(&b3), reg.register(&b4));
    let (r3, r4) = (r3.unwrap(), r4.unwrap());
    let mut got = vec![r3.version.clone(), r4.version.clone()];
    got.sort();
    assert_eq!(got, ["3", "4"]);
    // Name them by content from here on.
    let (v3, v4) = if r3.manifest.version == "text-c" {
        (r3.version, r4.version)
    } else {
        (r4.version, r3.version)
    };
    let v5 = reg
        .register(&bundles::write(&src, &Spec::new("text", "text-e", 0.90)))
        .await
        .unwrap()
        .version;
    assert_eq!(v5, "5");

    // --- reads -----------------------------------------------------------------------------
    assert_eq!(reg.list_models().await.unwrap(), ["text", "vision"]);
    let listed = reg.list_versions("text").await.unwrap();
    assert_eq!(versions(&listed), ["1", "2", "3", "4", "5"]);
    let got2 = reg.get_version("text", "2").await.unwrap();
    assert_eq!(got2.manifest, bundles::read_manifest(&b2));
    assert_eq!(got2.index, v2.index);
    assert_eq!(listed[1].manifest, got2.manifest);
    assert!((got2.created_at - v2.created_at).num_milliseconds().abs() <= 1);
    assert!(
        reg.get_version("text", "9")
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        reg.get_version("nomodel", "1")
            .await
            .unwrap_err()
            .is_not_found()
    );

    // --- aliases ---------------------------------------------------------------------------
    reg.set_alias("text", CHALLENGER, "2").await.unwrap();
    assert_eq!(
        reg.alias_version("text", CHALLENGER)
            .await
            .unwrap()
            .as_deref(),
        Some("2")
    );
    assert_eq!(
        reg.get_version("text", "2").await.unwrap().aliases,
        [CHALLENGER]
    );
    let listed = reg.list_versions("text").await.unwrap();
    assert_eq!(listed[1].aliases, [CHALLENGER]);
    assert!(listed[0].aliases.is_empty());
    reg.set_alias("text", CHALLENGER, "1").await.unwrap(); // moves
    assert_eq!(
        reg.get_alias("text", CHALLENGER)
            .await
            .unwrap()
            .unwrap()
            .version,
        "1"
    );
    assert!(
        reg.set_alias("text", CHALLENGER, "9")
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        reg.set_alias("nomodel", CHAMPION, "1")
            .await
            .unwrap_err()
            .is_not_found()
    );
    reg.delete_alias("text", CHALLENGER).await.unwrap();
    reg.delete_alias("text", CHALLENGER).await.unwrap();
    assert_eq!(reg.alias_version("text", CHALLENGER).await.unwrap(), None);

    // --- fetch and its cache -----------------------------------------------------------------
    let dir = reg.fetch("text", "2", &cache).await.unwrap();
    assert_eq!(dir, cache.join("text").join("2"));
    assert_eq!(
        std::fs::read(dir.join("weights/adapter.bin")).unwrap(),
        weights
    );
    assert_eq!(
        std::fs::read(dir.join(MANIFEST_FILE)).unwrap(),
        std::fs::read(b2.join(MANIFEST_FILE)).unwrap()
    );
    std::fs::write(dir.join("sentinel"), b"kept while the cache is valid").unwrap();
    assert_eq!(reg.fetch("text", "2", &cache).await.unwrap(), dir);
    assert!(
        dir.join("sentinel").exists(),
        "a valid cached copy is reused"
    );
    // A cached copy that does not match the registered index is replaced.
    std::fs::write(dir.join(".clipguard-index.json"), b"{\"files\":[]}").unwrap();
    assert_eq!(reg.fetch("text", "2", &cache).await.unwrap(), dir);
    assert!(
        !dir.join("sentinel").exists(),
        "a stale copy is fetched again"
    );
    assert_eq!(
        std::fs::read(dir.join("weights/adapter.bin")).unwrap(),
        weights
    );
    assert!(
        reg.fetch("text", "9", &cache)
            .await
            .unwrap_err()
            .is_not_found()
    );
    let leftovers: Vec<_> = std::fs::read_dir(cache.join("text"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "staging folders left: {leftovers:?}");

    // --- the gate ------------------------------------------------------------------------------
    let policy = GatePolicy::default();
    let d = gate::promote(reg, "text", "1", &policy).await.unwrap();
    assert_eq!(d.action, Action::Refused, "{d}");
    assert!(d.reason.contains("floor"), "{d}");
    assert_eq!(reg.champion_version("text").await.unwrap(), None);

    reg.set_alias("text", CHALLENGER, "2").await.unwrap();
    let d = gate::promote(reg, "text", "2", &policy).await.unwrap();
    assert_eq!(d.action, Action::Promoted, "{d}");
    assert_eq!(
        (d.champion_before.as_deref(), d.champion_after.as_deref()),
        (None, Some("2"))
    );
    assert_eq!(
        reg.champion_version("text").await.unwrap().as_deref(),
        Some("2")
    );
    assert_eq!(
        reg.alias_version("text", CHALLENGER).await.unwrap(),
        None,
        "promoted challenger"
    );

    let d = gate::promote(reg, "text", &v3, &policy).await.unwrap();
    assert_eq!(d.action, Action::Refused, "{d}");
    assert!(d.reason.contains("margin"), "{d}");
    assert_eq!(
        (d.candidate_f1, d.champion_f1, d.floor, d.margin),
        (Some(0.805), Some(0.80), Some(0.75), Some(0.01))
    );
    let d = gate::promote(reg, "text", &v4, &policy).await.unwrap();
    assert_eq!(d.action, Action::Refused, "{d}");
    assert!(
        d.reason.contains("some-other-eval") && d.reason.contains(EVAL_SET),
        "{d}"
    );
    let d = gate::promote(reg, "text", "5", &policy).await.unwrap();
    assert_eq!(d.action, Action::Promoted, "{d}");
    assert_eq!(d.champion_before.as_deref(), Some("2"));
    let d = gate::promote(reg, "text", "5", &policy).await.unwrap();
    assert_eq!(d.action, Action::Refused, "{d}");
    assert!(d.reason.contains("already"), "{d}");
    assert!(gate::promote(reg, "text", "9", &policy).await.is_err());
    let mut bad = policy.clone();
    bad.margin = f64::NAN;
    assert!(matches!(
        gate::promote(reg, "text", "5", &bad).await,
        Err(GateError::Policy(_))
    ));

    let d = gate::rollback(reg, "text", "ops").await.unwrap();
    assert_eq!(d.action, Action::RolledBack, "{d}");
    assert_eq!(
        (d.champion_before.as_deref(), d.version.as_str()),
        (Some("5"), "2")
    );
    assert_eq!(
        reg.champion_version("text").await.unwrap().as_deref(),
        Some("2")
    );

    assert!(matches!(
        gate::force(reg, "text", &v3, " ", "why").await,
        Err(GateError::MissingOperator(_))
    ));
    let d = gate::force(
        reg,
        "text",
        &v3,
        "alice",
        "hotfix for a false-positive wave",
    )
    .await
    .unwrap();
    assert_eq!(d.action, Action::Forced, "{d}");
    assert_eq!(d.actor, "alice");
    assert!(d.reason.contains("hotfix"), "{d}");
    assert_eq!(
        reg.champion_version("text").await.unwrap(),
        Some(v3.clone())
    );

    let d = gate::rollback(reg, "text", "ops").await.unwrap();
    assert_eq!(d.version, "2", "{d}");
    assert!(matches!(
        gate::rollback(reg, "text", "ops").await,
        Err(GateError::NothingToRollBack(_))
    ));
    assert_eq!(
        reg.champion_version("text").await.unwrap().as_deref(),
        Some("2")
    );
    assert_eq!(
        reg.get_version("text", "2").await.unwrap().aliases,
        [CHAMPION]
    );

    // A change the audit log cannot record is undone.
    let down = AuditDown(registry.clone());
    let err = gate::promote(&down, "text", "5", &policy)
        .await
        .unwrap_err();
    assert!(matches!(err, GateError::AuditFailed { .. }), "{err}");
    assert!(err.to_string().contains("put back to v2"), "{err}");
    assert_eq!(
        reg.champion_version("text").await.unwrap().as_deref(),
        Some("2")
    );

    // --- the audit log -----------------------------------------------------------------------
    let log = reg.audit_log(Some("text")).await.unwrap();
    let actions: Vec<Action> = log.iter().map(|d| d.action).collect();
    use Action::*;
    assert_eq!(
        actions,
        [
            Refused, Promoted, Refused, Refused, Promoted, Refused, RolledBack, Forced, RolledBack
        ]
    );
    assert!(log.iter().all(|d| d.name == "text" && !d.reason.is_empty()));
    assert_eq!(log[2].candidate_f1, Some(0.805));
    assert_eq!(log[7].actor, "alice");
    assert!(reg.audit_log(Some("vision")).await.unwrap().is_empty());
    assert_eq!(reg.audit_log(None).await.unwrap().len(), log.len());

    // --- the hot-swap watcher -----------------------------------------------------------------
    let mut watcher = ChampionWatcher::new(registry.clone(), "text", cache.clone(), None);
    let change = watcher.poll().await.unwrap().expect("a champion to load");
    assert_eq!(change.version.version, "2");
    assert!(change.dir.join("weights/adapter.bin").is_file());
    assert!(
        watcher.poll().await.unwrap().is_some(),
        "offered until marked loaded"
    );
    watcher.mark_loaded("2");
    assert!(watcher.poll().await.unwrap().is_none());
    gate::force(reg, "text", "5", "bob", "test the swap")
        .await
        .unwrap();
    let change = watcher.poll().await.unwrap().expect("the new champion");
    assert_eq!(change.version.version, "5");
    assert_eq!(change.version.manifest.version, "text-e");
    let no_champion = ChampionWatcher::new(registry.clone(), "vision", cache.clone(), None);
    assert!(no_champion.poll().await.unwrap().is_none());

    eprintln!(
        "{}: suite passed in {:.1?}",
        reg.describe(),
        started.elapsed()
    );
}
