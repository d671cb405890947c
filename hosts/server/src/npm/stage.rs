//! Staged publishing (`npm stage publish|list|view|download|approve|reject`, npm ≥ 11.15) kept
//! by the gateway, since the registries behind it have no staging: a maintainer (or a CI job
//! with a trust that allows it) stages a version without a second factor, and a maintainer
//! approves it with one, at which point the gateway publishes the kept document upstream with
//! the approver's credential. The engine decides both (`package.stage-publish` never needs a
//! proof, `package.stage-approve` always does); this module keeps the documents and speaks
//! npm's stage endpoints.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use base64::Engine as _;
use serde_json::{Value, json};

use stepup_core::contract::request::{Action, Credential};
use stepup_core::{ActionKind, Effect};

use super::decide::{Call, decide};
use super::gate::Classified;
use super::{Identity, error_answer, json_answer};
use crate::App;
use crate::error::ServeError;
use crate::store::{StageRefusal, Staged};

/// The stage routes the gateway answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StageRoute {
    /// `POST /-/stage/package/PKG`.
    Publish,
    /// `GET /-/stage?page&perPage[&package]`.
    List,
    /// `GET /-/stage/ID`.
    View(String),
    /// `GET /-/stage/ID/tarball`.
    Tarball(String),
    /// `POST /-/stage/ID/approve`.
    Approve(String),
    /// `DELETE /-/stage/ID`.
    Reject(String),
}

impl StageRoute {
    /// The staged publish the route names, if any.
    pub fn id(&self) -> Option<&str> {
        match self {
            StageRoute::View(id)
            | StageRoute::Tarball(id)
            | StageRoute::Approve(id)
            | StageRoute::Reject(id) => Some(id),
            StageRoute::Publish | StageRoute::List => None,
        }
    }

    /// Approving and rejecting act on the staged package: their decision names it.
    pub fn decides_package(&self) -> bool {
        matches!(self, StageRoute::Approve(_) | StageRoute::Reject(_))
    }
}

/// The stage route of a classified request.
pub fn route(method: &Method, c: &Classified) -> Option<StageRoute> {
    let path = c.path.split('?').next().unwrap_or_default();
    // Every gateway request asks: most are packages, answered without splitting the path.
    if !(path == "/-/stage" || path.starts_with("/-/stage/")) {
        return None;
    }
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method.as_str(), segs.as_slice()) {
        ("POST", ["-", "stage", "package", ..]) if c.route == "stage-publish" => {
            Some(StageRoute::Publish)
        }
        ("GET" | "HEAD", ["-", "stage"]) => Some(StageRoute::List),
        ("GET" | "HEAD", ["-", "stage", id]) => Some(StageRoute::View((*id).to_owned())),
        ("GET" | "HEAD", ["-", "stage", id, "tarball"]) => {
            Some(StageRoute::Tarball((*id).to_owned()))
        }
        ("POST", ["-", "stage", id, "approve"]) => Some(StageRoute::Approve((*id).to_owned())),
        ("DELETE", ["-", "stage", id]) => Some(StageRoute::Reject((*id).to_owned())),
        _ => None,
    }
}

/// npm's answer for an id it does not know (or may not see).
pub fn not_found() -> Response<Body> {
    error_answer(StatusCode::NOT_FOUND, "No staged package with this id.")
}

/// A staged publish as `npm stage list|view` print it.
fn stage_item(s: &Staged) -> Value {
    json!({
        "id": s.id,
        "packageName": s.package,
        "version": s.version,
        "tag": s.tag,
        "createdAt": super::iso(s.created),
        "actor": s.account,
        "actorType": s.actor_type,
        "shasum": s.shasum,
    })
}

/// A version-4 UUID from the host's entropy (`npm stage` checks the id's shape).
fn uuid() -> Result<String, ServeError> {
    let e = super::entropy()?;
    let mut b = [0u8; 16];
    b.copy_from_slice(e.get(..16).unwrap_or(&[0; 16]));
    // RFC 9562: version 4, variant 10.
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = |r: std::ops::Range<usize>| {
        stepup_core::wire::encoding::hex_encode(b.get(r).unwrap_or_default())
    };
    Ok(format!(
        "{}-{}-{}-{}-{}",
        hex(0..4),
        hex(4..6),
        hex(6..8),
        hex(8..10),
        hex(10..16)
    ))
}

/// What a publish document stages: `(version, tag, shasum)`, or why it cannot be staged. The
/// document is checked as the approver will see it: one version of the package its URL names,
/// one dist-tag pointing at it, one tarball whose digests match the manifest's — so what `npm
/// stage view` and `download` show is exactly what an approval publishes.
fn staged_version(doc: &Value, package: &str) -> Result<(String, String, String), &'static str> {
    let versions = doc
        .get("versions")
        .and_then(Value::as_object)
        .filter(|v| v.len() == 1)
        .ok_or("a staged publish carries exactly one version")?;
    let (version, manifest) = versions.iter().next().ok_or("no version")?;
    let names = [doc.get("name"), doc.get("_id"), manifest.get("name")];
    if names.iter().flatten().any(|n| n.as_str() != Some(package)) {
        return Err("the publish document names another package than its URL");
    }
    if manifest
        .get("version")
        .is_some_and(|v| v.as_str() != Some(version.as_str()))
    {
        return Err("the manifest's version differs from its key");
    }
    let tag = match doc.get("dist-tags").and_then(Value::as_object) {
        None => "latest".to_owned(),
        Some(tags) if tags.len() == 1 => {
            let (tag, points) = tags.iter().next().ok_or("no dist-tag")?;
            if points.as_str() != Some(version.as_str()) {
                return Err("the dist-tag points at another version than the one staged");
            }
            tag.clone()
        }
        Some(_) => return Err("a staged publish sets exactly one dist-tag"),
    };
    doc.get("_attachments")
        .and_then(Value::as_object)
        .filter(|a| a.len() == 1)
        .ok_or("a staged publish carries its tarball, and only it")?;
    let tarball = staged_tarball(doc).ok_or("the tarball is not base64")?;
    let shasum = manifest
        .pointer("/dist/shasum")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    use sha1::Digest as _;
    if !shasum.is_empty()
        && !shasum.eq_ignore_ascii_case(&stepup_core::wire::encoding::hex_encode(
            &sha1::Sha1::digest(&tarball),
        ))
    {
        return Err("the tarball does not match the manifest's shasum");
    }
    if let Some(sri) = manifest
        .pointer("/dist/integrity")
        .and_then(Value::as_str)
        .and_then(|i| i.strip_prefix("sha512-"))
        && sri != base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(&tarball))
    {
        return Err("the tarball does not match the manifest's integrity");
    }
    let packed =
        tarball_manifest(&tarball).ok_or("the tarball holds no readable package/package.json")?;
    if packed.get("name").and_then(Value::as_str) != Some(package)
        || packed.get("version").and_then(Value::as_str) != Some(version.as_str())
    {
        return Err("the tarball's package.json names another package or version");
    }
    if declared_dependencies(manifest) != declared_dependencies(&packed) {
        return Err(
            "the manifest's dependencies differ from the tarball's package.json: an approver reviewing the tarball would not see what installs pull",
        );
    }
    Ok((version.clone(), tag, shasum))
}

/// The tarball a publish document carries (its first attachment with data), decoded: what
/// staging checks and what `npm stage download` gets.
fn staged_tarball(doc: &Value) -> Option<Vec<u8>> {
    let data = doc
        .get("_attachments")
        .and_then(Value::as_object)?
        .values()
        .find_map(|v| v.get("data").and_then(Value::as_str))?;
    base64::engine::general_purpose::STANDARD.decode(data).ok()
}

/// Largest `package.json` read from a staged tarball.
const MAX_PACKAGE_JSON: u64 = 1 << 20;

/// The `package.json` at the tarball's top folder (`package/` for npm's packs).
fn tarball_manifest(tarball: &[u8]) -> Option<Value> {
    use std::io::Read as _;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tarball));
    for entry in archive.entries().ok()? {
        let mut entry = entry.ok()?;
        let path = entry.path().ok()?.into_owned();
        let parts: Vec<_> = path.components().collect();
        if parts.len() == 2 && path.file_name().is_some_and(|n| n == "package.json") {
            let mut text = String::new();
            entry
                .by_ref()
                .take(MAX_PACKAGE_JSON)
                .read_to_string(&mut text)
                .ok()?;
            return serde_json::from_str(&text).ok();
        }
    }
    None
}

/// What a manifest makes installs pull, as npm normalises it for the registry: optional
/// dependencies are also listed as dependencies, peer dependencies stay apart.
fn declared_dependencies(m: &Value) -> [std::collections::BTreeMap<String, Value>; 3] {
    let map = |k: &str| -> std::collections::BTreeMap<String, Value> {
        m.get(k)
            .and_then(Value::as_object)
            .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    };
    let optional = map("optionalDependencies");
    let mut all = map("dependencies");
    for (k, v) in &optional {
        all.entry(k.clone()).or_insert_with(|| v.clone());
    }
    [all, optional, map("peerDependencies")]
}

/// Answers an allowed stage request. `item` is the staged publish the route names (looked up,
/// and its visibility checked, before the decision).
#[expect(
    clippy::too_many_arguments,
    reason = "one request's parts, each read by some route"
)]
pub async fn apply(
    app: &App,
    route: &StageRoute,
    classified: &Classified,
    query: &str,
    body: &Bytes,
    id: &Identity,
    call: &Call,
    item: Option<Staged>,
) -> Result<Response<Body>, ServeError> {
    let Some(upstream) = app.upstream.clone() else {
        return Ok(not_found());
    };
    match (route, item) {
        (StageRoute::Publish, _) => {
            let Some(pkg) = classified.package.clone() else {
                return Ok(not_found());
            };
            // As on npm's registry, staging is for packages that exist.
            if upstream
                .packument(&pkg, id.upstream_auth(app)?.as_deref())
                .await?
                .is_none()
            {
                return Ok(error_answer(
                    StatusCode::NOT_FOUND,
                    &format!(
                        "{pkg} does not exist yet: publish its first version, then stage the next ones."
                    ),
                ));
            }
            let doc: Value = match serde_json::from_slice(body) {
                Ok(d) => d,
                Err(e) => {
                    return Ok(error_answer(
                        StatusCode::BAD_REQUEST,
                        &format!("the publish document is not JSON: {e}"),
                    ));
                }
            };
            let (version, tag, shasum) = match staged_version(&doc, &pkg) {
                Ok(v) => v,
                Err(why) => return Ok(error_answer(StatusCode::BAD_REQUEST, why)),
            };
            let staged = Staged {
                id: uuid()?,
                package: pkg,
                version,
                tag,
                account: id.account.clone(),
                actor_type: if matches!(
                    id.credential,
                    stepup_core::contract::request::Credential::Oidc { .. }
                ) {
                    "oidc".into()
                } else {
                    "user".into()
                },
                shasum,
                created: crate::now(),
                body: String::from_utf8_lossy(body).into_owned(),
            };
            if let Err(full) = app.store.stage(&staged, &app.stage_limits).await? {
                let limits = &app.stage_limits;
                let why = match full {
                    StageRefusal::PackageFull => format!(
                        "{} already has {} staged versions waiting: approve or reject some first (npm stage list).",
                        staged.package, limits.per_package
                    ),
                    StageRefusal::AccountFull => format!(
                        "your staged versions waiting for approval would exceed {} MiB: approve or reject some first (npm stage list).",
                        limits.bytes_per_account >> 20
                    ),
                };
                // 403, not 429: npm retries a 429, and waiting frees nothing here.
                return Ok(error_answer(StatusCode::FORBIDDEN, &why));
            }
            tracing::info!(account = %id.account, package = %staged.package, version = %staged.version, stage = %staged.id, "publish staged");
            Ok(json_answer(
                StatusCode::CREATED,
                &json!({"stageId": staged.id}),
            ))
        }
        (StageRoute::List, _) => {
            let q: std::collections::HashMap<String, String> =
                form_urlencoded::parse(query.as_bytes())
                    .into_owned()
                    .collect();
            let page = q
                .get("page")
                .and_then(|p| p.parse::<i64>().ok())
                .unwrap_or(0)
                .max(0);
            let per_page = q
                .get("perPage")
                .and_then(|p| p.parse::<i64>().ok())
                .unwrap_or(100)
                .clamp(1, 100);
            let since = crate::now() - app.stage_limits.ttl;
            let package = q.get("package").map(String::as_str);
            let (items, total) = if matches!(id.credential, Credential::GranularToken { .. }) {
                // A granular token reads only the packages its scope covers: each package on
                // the list is the engine's to allow, then the page is cut from what is left.
                let (all, _) = app
                    .store
                    .staged_list(&id.account, package, since, 0, i64::MAX)
                    .await?;
                let mut look = call.clone();
                look.code = None;
                look.write = false;
                look.operation = None;
                let mut readable = std::collections::HashMap::new();
                let mut kept = Vec::new();
                for s in all {
                    let ok = match readable.get(&s.package) {
                        Some(ok) => *ok,
                        None => {
                            let read = Action::on_package(ActionKind::PackageRead, &s.package);
                            let d = decide(app, &look, &id.account, &id.credential, &read).await?;
                            let ok = d.allowed()
                                && !d.decision.effects.contains(&Effect::ReadAnonymously);
                            readable.insert(s.package.clone(), ok);
                            ok
                        }
                    };
                    if ok {
                        kept.push(s);
                    }
                }
                let total = i64::try_from(kept.len()).unwrap_or(i64::MAX);
                let start = usize::try_from(page.saturating_mul(per_page)).unwrap_or(usize::MAX);
                let take = usize::try_from(per_page).unwrap_or(100);
                (kept.into_iter().skip(start).take(take).collect(), total)
            } else {
                app.store
                    .staged_list(&id.account, package, since, page, per_page)
                    .await?
            };
            Ok(json_answer(
                StatusCode::OK,
                &json!({"items": items.iter().map(stage_item).collect::<Vec<_>>(), "total": total}),
            ))
        }
        (StageRoute::View(_), Some(s)) => Ok(json_answer(StatusCode::OK, &stage_item(&s))),
        (StageRoute::Tarball(_), Some(s)) => {
            let doc: Value = serde_json::from_str(&s.body)
                .map_err(|e| ServeError::Store(format!("staged document: {e}")))?;
            let Some(bytes) = staged_tarball(&doc) else {
                return Ok(error_answer(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "the staged tarball is not base64",
                ));
            };
            let mut r = Response::new(Body::from(bytes));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            Ok(r)
        }
        (StageRoute::Approve(stage), Some(s)) => {
            // Opened before the claim, so a credential that cannot be opened claims nothing.
            let upstream_auth = id.upstream_auth(app)?;
            // Claimed first, so two approvals at once publish it once; given back if the
            // registry refuses it, so the maintainer may retry or reject it.
            if !app.store.unstage(stage).await? {
                return Ok(not_found());
            }
            let mut headers = HeaderMap::new();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            headers.insert("npm-command", HeaderValue::from_static("publish"));
            let path = format!(
                "/{}",
                crate::upstream::encode_component(&s.package).replace("%40", "@")
            );
            let answer = match upstream
                .forward(
                    Method::PUT,
                    &path,
                    &headers,
                    Bytes::from(s.body.clone()),
                    upstream_auth.as_deref(),
                    None,
                )
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    app.store.restage(&s).await?;
                    return Ok(crate::upstream::bad_gateway(&e));
                }
            };
            if !answer.status().is_success() {
                app.store.restage(&s).await?;
                return Ok(answer);
            }
            let doc: Value = serde_json::from_str(&s.body).unwrap_or(Value::Null);
            // The approver published it (with their credential): staging never makes its
            // author a maintainer.
            super::gateway::published(app, &s.package, &id.account, &doc, upstream_auth.as_deref())
                .await?;
            tracing::info!(account = %id.account, package = %s.package, version = %s.version, stage = %stage, "staged publish approved and published");
            Ok(json_answer(
                StatusCode::OK,
                &json!({"ok": true, "id": stage, "packageName": s.package, "version": s.version}),
            ))
        }
        (StageRoute::Reject(stage), Some(s)) => {
            if !app.store.unstage(stage).await? {
                return Ok(not_found());
            }
            tracing::info!(account = %id.account, package = %s.package, version = %s.version, stage = %stage, "staged publish rejected");
            Ok(json_answer(StatusCode::OK, &json!({"ok": true})))
        }
        _ => Ok(not_found()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_ids_are_version_4_uuids() {
        let id = uuid().unwrap_or_default();
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(id.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()));
        assert!(parts[2].starts_with('4'), "{id}");
        assert!(
            matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'),
            "{id}"
        );
        assert_ne!(id, uuid().unwrap_or_default());
    }

    #[test]
    fn a_staged_document_carries_one_version_of_its_package_and_a_matching_tarball() {
        use sha1::Digest as _;
        let pack = |json: &Value| {
            let text = json.to_string();
            let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
                Vec::new(),
                flate2::Compression::default(),
            ));
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, "package/package.json", text.as_bytes())
                .unwrap();
            tar.into_inner().unwrap().finish().unwrap()
        };
        let tarball =
            &pack(&json!({"name": "p", "version": "1.1.0", "dependencies": {"a": "^1"}}))[..];
        let data = base64::engine::general_purpose::STANDARD.encode(tarball);
        let shasum = stepup_core::wire::encoding::hex_encode(&sha1::Sha1::digest(tarball));
        let sri = format!(
            "sha512-{}",
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha512::digest(tarball))
        );
        let doc = |over: Value| {
            let mut d = json!({"name": "p", "versions": {"1.1.0": {"name": "p", "version": "1.1.0",
                "dependencies": {"a": "^1"}, "dist": {"shasum": shasum, "integrity": sri}}}, "dist-tags": {"next": "1.1.0"},
                "_attachments": {"p-1.1.0.tgz": {"data": data}}});
            if let (Some(d), Some(o)) = (d.as_object_mut(), over.as_object()) {
                for (k, v) in o {
                    d.insert(k.clone(), v.clone());
                }
            }
            d
        };
        assert_eq!(
            staged_version(&doc(json!({})), "p"),
            Ok(("1.1.0".into(), "next".into(), shasum.clone()))
        );
        for (bad, why) in [
            (json!({"name": "q"}), "another package"),
            (
                json!({"versions": {"1": {}, "2": {}}}),
                "exactly one version",
            ),
            (
                json!({"dist-tags": {"next": "1.1.0", "latest": "1.1.0"}}),
                "exactly one dist-tag",
            ),
            (json!({"dist-tags": {"latest": "9.9.9"}}), "another version"),
            (json!({"_attachments": {}}), "its tarball"),
            (
                json!({"_attachments": {"p-1.1.0.tgz": {"data": "dGFtcGVyZWQ="}}}),
                "shasum",
            ),
        ] {
            let e = staged_version(&doc(bad.clone()), "p").unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        // A dependency the tarball's package.json does not declare: an approver reading the
        // tarball would never see it.
        let mut injected = doc(json!({}));
        injected["versions"]["1.1.0"]["dependencies"] = json!({"a": "^1", "evil": "*"});
        assert!(
            staged_version(&injected, "p")
                .unwrap_err()
                .contains("dependencies differ")
        );
        // A tarball that is not a package.
        let junk = base64::engine::general_purpose::STANDARD.encode(b"not a tarball");
        let mut bare = doc(json!({"_attachments": {"p-1.1.0.tgz": {"data": junk}}}));
        bare["versions"]["1.1.0"]["dist"] = json!({});
        assert!(
            staged_version(&bare, "p")
                .unwrap_err()
                .contains("package.json")
        );
        let mut wrong_sri = doc(json!({}));
        wrong_sri["versions"]["1.1.0"]["dist"] = json!({"integrity": "sha512-AAAA"});
        assert!(
            staged_version(&wrong_sri, "p")
                .unwrap_err()
                .contains("integrity")
        );
        assert!(staged_version(&doc(json!({})), "other").is_err());
    }
}
