//! `/models`: every registered model's versions with their metrics and aliases, the gate's
//! audit log, and (for admins) promote and rollback buttons that call the API.

use crate::WebState;
use crate::auth::{AuthError, Caller};
use crate::escape::{html, time};
use crate::pages::{shell, signed_in};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use clipguard_core::stage::Role;
use clipguard_registry::{Decision, RegisteredVersion};
use std::fmt::Write;

pub async fn models(State(s): State<WebState>, caller: Result<Caller, AuthError>) -> Response {
    let caller = match signed_in(caller, Role::Viewer) {
        Ok(c) => c,
        Err(denied) => return denied.into_response(),
    };
    let loaded = async {
        let mut out = Vec::new();
        for name in s.registry.list_models().await? {
            let versions = s.registry.list_versions(&name).await?;
            let audit = s.registry.audit_log(Some(&name)).await?;
            out.push((name, versions, audit));
        }
        Ok::<_, clipguard_registry::RegistryError>(out)
    }
    .await;
    match loaded {
        Ok(models) => Html(shell(
            "Models",
            &caller,
            &body(&models, &caller),
            Some("models.js"),
        ))
        .into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("registry: {e}")).into_response(),
    }
}

type ModelRows = (String, Vec<RegisteredVersion>, Vec<Decision>);

fn body(models: &[ModelRows], caller: &Caller) -> String {
    let admin = caller.require(Role::Admin).is_ok();
    let mut p = crate::pages::heading(caller, "Models");
    if admin {
        p.push_str("<p><button type=\"button\" id=\"retrain\">Retrain now</button> <span class=\"muted\">(a running <code>clipguard run</code> starts it at its next schedule check; the outcome appears in the gate decisions and on the pipeline page)</span></p>");
    }
    if models.is_empty() {
        p.push_str("<p class=\"muted\">No model registered yet (`clipguard train …` then `clipguard models register`).</p>");
    }
    for (name, versions, audit) in models {
        let _ = write!(p, "<h2>{}</h2>", html(name));
        if admin {
            let _ = write!(
                p,
                "<p><button type=\"button\" class=\"rollback\" data-model=\"{}\">Roll back {}</button></p>",
                html(name),
                html(name)
            );
        }
        p.push_str("<table><tr><th>version</th><th>trained as</th><th>F1(harmful)</th><th>eval set</th><th>aliases</th><th>registered</th><th></th></tr>");
        for v in versions.iter().rev() {
            let f1 = v
                .f1_harmful()
                .map(|f| format!("{f:.3}"))
                .unwrap_or_else(|| "—".into());
            let action = if admin && !v.has_alias("champion") {
                format!(
                    "<button type=\"button\" class=\"promote\" data-model=\"{}\" data-version=\"{}\">Promote</button>",
                    html(name),
                    html(&v.version)
                )
            } else {
                String::new()
            };
            let _ = write!(
                p,
                "<tr id=\"{}-v{}\"><td>v{}</td><td>{}</td><td>{f1}</td><td>{}</td><td>{}</td><td>{}</td><td>{action}</td></tr>",
                html(name),
                html(&v.version),
                html(&v.version),
                html(&v.manifest.version),
                html(&v.manifest.eval_set),
                html(&v.aliases.join(", ")),
                time(&v.created_at.to_rfc3339()),
            );
        }
        p.push_str("</table>");
        // The newest version's plots, when its bundle carries them.
        if let Some(v) = versions
            .iter()
            .rev()
            .find(|v| v.manifest.files.iter().any(|f| f == "pr_curve.svg"))
        {
            let _ = write!(
                p,
                "<h3>v{} on {}</h3><p>",
                html(&v.version),
                html(&v.manifest.eval_set)
            );
            for file in crate::api::PLOTS {
                let _ = write!(
                    p,
                    "<img src=\"/api/v1/models/{}/{}/plots/{file}\" width=\"320\" alt=\"{file}\"> ",
                    html(name),
                    html(&v.version)
                );
            }
            p.push_str("</p>");
        }
        p.push_str("<h3>Gate decisions</h3><ul>");
        for d in audit.iter().rev().take(20) {
            let _ = write!(p, "<li>{}</li>", html(&d.to_string()));
        }
        p.push_str("</ul>");
    }
    p
}
