//! Package maintainers: governance the gateway keeps itself (`npm owner ls|add|rm`). Registries
//! behind it either keep no maintainer list (Verdaccio 6 refuses the owner document with 422
//! and ignores `maintainers` on every other write) or would let a write through the gateway's
//! decision change it. Once the gateway keeps a list for a package, that list is who maintains
//! it: the full package document shows it, owner changes edit it, and package writes by anyone
//! else are refused before they reach the upstream.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Response, StatusCode};
use serde_json::{Value, json};

use super::gate::Classified;
use super::{Identity, Maintainer, error_answer, json_answer};
use crate::error::ServeError;
use crate::{App, Shared};

/// `GET /-/user/org.couchdb.user:NAME` (`npm owner add` looks the new owner up): the account's
/// public name and e-mail, to logged-in callers, for accounts this gateway knows.
pub async fn user(
    State(app): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response<Body> {
    let run = async {
        match super::caller(&app, &headers).await? {
            super::Caller::Anonymous => return Ok(super::need_login()),
            super::Caller::Unknown => return Ok(super::unknown_token()),
            who => {
                if let Err(answer) = super::identity_of(&app, who).await? {
                    return Ok(answer);
                }
            }
        }
        let Some(name) = id.strip_prefix("org.couchdb.user:") else {
            return Ok(error_answer(StatusCode::NOT_FOUND, "Not found."));
        };
        Ok::<_, ServeError>(match app.store.account(name).await? {
            Some(a) => json_answer(
                StatusCode::OK,
                &json!({"_id": format!("org.couchdb.user:{name}"), "name": a.name, "email": a.email}),
            ),
            None => error_answer(
                StatusCode::NOT_FOUND,
                &format!("User {name} not found: they must log in to this registry once."),
            ),
        })
    };
    run.await.unwrap_or_else(super::internal)
}

/// `maintainers` as npm shows them, from the gateway's list; `None` when it keeps none.
pub async fn listed(app: &App, package: &str) -> Result<Option<Value>, ServeError> {
    let list = app.store.maintainers(package).await?;
    if list.is_empty() {
        return Ok(None);
    }
    Ok(Some(Value::Array(
        list.into_iter()
            .map(|(name, email)| json!({"name": name, "email": email}))
            .collect(),
    )))
}

/// A package document with the gateway's maintainers in place of the upstream's.
pub async fn with_listed(app: &App, package: &str, mut doc: Value) -> Result<Value, ServeError> {
    if let Some(list) = listed(app, package).await? {
        crate::json_set(&mut doc, "maintainers", list);
    }
    Ok(doc)
}

/// Whether `account` may write to `package` as far as the gateway's list says: yes when it
/// keeps none (the upstream's own rules decide) or lists the account.
pub async fn may_write(app: &App, package: &str, account: &str) -> Result<bool, ServeError> {
    let list = app.store.maintainers(package).await?;
    Ok(list.is_empty() || list.iter().any(|(n, _)| n == account))
}

/// The names in a `maintainers` value (`[{name}]` or plain strings).
fn names(v: Option<&Value>) -> Vec<String> {
    let mut out: Vec<String> = v
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("name").and_then(Value::as_str).or_else(|| m.as_str()))
        .map(str::to_owned)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Applies an owner change the policy allowed: the body's `maintainers` become the list. The
/// caller must maintain the package, every new owner must be an account of this registry, and
/// a package keeps at least one owner. Never forwarded.
pub async fn change(
    app: &App,
    classified: &Classified,
    body: &Value,
    id: &Identity,
) -> Result<Response<Body>, ServeError> {
    let Some(pkg) = classified.package.clone() else {
        return Ok(error_answer(
            StatusCode::BAD_REQUEST,
            "An owner change names its package.",
        ));
    };
    // Owner changes travel alone (npm owner sends `_id`, `_rev`, `maintainers`): anything else
    // in the document would be lost here, so it is refused rather than dropped.
    if let Some(extra) = body.as_object().and_then(|o| {
        o.keys()
            .find(|k| !matches!(k.as_str(), "_id" | "_rev" | "maintainers"))
    }) {
        return Ok(error_answer(
            StatusCode::BAD_REQUEST,
            &format!(
                "Change owners on their own (npm owner add|rm); this document also sets {extra}."
            ),
        ));
    }
    if super::maintainer_of(app, &pkg, id).await? != Maintainer::Yes {
        return Ok(error_answer(
            StatusCode::FORBIDDEN,
            &format!("You may not change the owners of {pkg}."),
        ));
    }
    let mut next = names(body.get("maintainers"));
    // The first change of a package the gateway kept no list for starts from the upstream's
    // view, which may list nobody: the maintainer adding someone stays an owner.
    if classified
        .action
        .as_ref()
        .is_some_and(|a| a.kind == stepup_core::ActionKind::OwnerAdd)
        && app.store.maintainers(&pkg).await?.is_empty()
        && !next.contains(&id.account)
    {
        next.push(id.account.clone());
        next.sort();
    }
    if next.is_empty() {
        return Ok(error_answer(
            StatusCode::BAD_REQUEST,
            "Cannot remove all owners of a package. Add someone else first.",
        ));
    }
    for name in &next {
        if app.store.account(name).await?.is_none() {
            return Ok(error_answer(
                StatusCode::NOT_FOUND,
                &format!("User {name} not found: they must log in to this registry once."),
            ));
        }
    }
    app.store.set_maintainers(&pkg, &next).await?;
    crate::impact::rebuilt(app).await;
    tracing::info!(account = %id.account, package = %pkg, owners = ?next, "owners changed");
    Ok(json_answer(
        StatusCode::OK,
        &json!({"ok": "updated package", "id": pkg, "rev": body.get("_rev").cloned().unwrap_or(Value::Null)}),
    ))
}
