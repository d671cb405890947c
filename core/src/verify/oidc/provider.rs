//! The CI providers npm trusts and the claims each is matched on (the `npm trust` shapes).

use serde::Serialize;
use serde_json::{Map, Value};

use super::{Issuers, TrustedPublishingConfig};
use crate::contract::error::InputError;

/// A CI provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// GitHub Actions.
    Github,
    /// GitLab CI/CD.
    Gitlab,
    /// CircleCI.
    Circleci,
}

const CIRCLE_KEYS: [&str; 5] = [
    "oidc.circleci.com/org-id",
    "oidc.circleci.com/project-id",
    "oidc.circleci.com/pipeline-definition-id",
    "oidc.circleci.com/vcs-origin",
    "oidc.circleci.com/context-ids",
];

impl Provider {
    /// Its `npm trust` type name.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Github => "github",
            Provider::Gitlab => "gitlab",
            Provider::Circleci => "circleci",
        }
    }

    /// The provider whose issuer `iss` is (CircleCI's issuer ends with the token's org id).
    pub fn of_issuer(
        issuers: &Issuers,
        iss: &str,
        claims: &Map<String, Value>,
    ) -> Option<Provider> {
        if iss == issuers.github {
            return Some(Provider::Github);
        }
        if iss == issuers.gitlab {
            return Some(Provider::Gitlab);
        }
        let org = claims
            .get("oidc.circleci.com/org-id")
            .and_then(Value::as_str)?;
        (iss.strip_prefix(issuers.circleci.as_str()) == Some(org) && !org.is_empty())
            .then_some(Provider::Circleci)
    }

    /// Trigger and runner checks that do not depend on the package.
    pub fn check_runner(
        self,
        cfg: &TrustedPublishingConfig,
        c: &Map<String, Value>,
    ) -> Result<(), String> {
        let s = |k: &str| c.get(k).and_then(Value::as_str);
        if self == Provider::Github
            && let Some(event) = s("event_name")
            && cfg.refuse_events.iter().any(|e| e == event)
        {
            return Err(format!(
                "workflows triggered by {event} may not publish (they can run untrusted code)"
            ));
        }
        if cfg.require_hosted_runner && self != Provider::Circleci {
            let hosted = match self {
                Provider::Github => "github-hosted",
                _ => "gitlab-hosted",
            };
            if s("runner_environment") != Some(hosted) {
                return Err(format!("only {hosted} runners may publish"));
            }
        }
        Ok(())
    }
}

/// One trusted-publisher configuration of a package, as `npm trust` writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustEntry {
    /// Which provider.
    pub provider: Provider,
    /// Claim → expected value (a string, or for CircleCI context ids a list).
    pub claims: Map<String, Value>,
    /// `createPackage` and/or `createStagedPackage`.
    pub permissions: Vec<String>,
}

fn file_of_github_ref(r: &str) -> Option<&str> {
    // owner/repo/.github/workflows/<file>@<ref>
    let (_, rest) = r.split_once("/.github/workflows/")?;
    rest.split_once('@').map(|(f, _)| f)
}

fn file_of_gitlab_ref(r: &str) -> Option<&str> {
    // gitlab.com/<ns>/<project>//<file>@<ref>
    let (_, rest) = r.split_once("//")?;
    rest.rsplit_once('@').map(|(f, _)| f)
}

/// Parses the trust array, naming the first bad field.
pub fn parse_trust(trust: &[Value]) -> Result<Vec<TrustEntry>, InputError> {
    if trust.len() > 16 {
        return Err(InputError::new("trust", "at most 16 entries"));
    }
    trust
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let p = format!("trust[{i}]");
            let obj = t
                .as_object()
                .ok_or_else(|| InputError::new(&p, "expected an object"))?;
            for k in obj.keys() {
                if !["type", "claims", "permissions"].contains(&k.as_str()) {
                    return Err(InputError::new(format!("{p}.{k}"), "unknown field"));
                }
            }
            let provider = match obj.get("type").and_then(Value::as_str) {
                Some("github") => Provider::Github,
                Some("gitlab") => Provider::Gitlab,
                Some("circleci") => Provider::Circleci,
                _ => {
                    return Err(InputError::new(
                        format!("{p}.type"),
                        "expected github, gitlab or circleci",
                    ));
                }
            };
            let claims = obj
                .get("claims")
                .and_then(Value::as_object)
                .cloned()
                .ok_or_else(|| InputError::new(format!("{p}.claims"), "expected an object"))?;
            let need = |k: &str| -> Result<(), InputError> {
                let v = claims.get(k);
                let file = v.and_then(|v| v.get("file")).and_then(Value::as_str);
                if v.and_then(Value::as_str).is_some_and(|s| !s.is_empty())
                    || file.is_some_and(|f| !f.is_empty())
                {
                    Ok(())
                } else {
                    Err(InputError::new(format!("{p}.claims.{k}"), "required"))
                }
            };
            match provider {
                Provider::Github => {
                    need("repository")?;
                    need("workflow_ref")?;
                }
                Provider::Gitlab => {
                    need("project_path")?;
                    need("ci_config_ref_uri")?;
                }
                Provider::Circleci => {
                    for k in claims.keys() {
                        if !CIRCLE_KEYS.contains(&k.as_str()) {
                            return Err(InputError::new(
                                format!("{p}.claims.{k}"),
                                "not a CircleCI claim stepup matches",
                            ));
                        }
                    }
                    need("oidc.circleci.com/org-id")?;
                    need("oidc.circleci.com/project-id")?;
                }
            }
            let permissions = match obj.get("permissions") {
                None | Some(Value::Null) => vec!["createPackage".to_owned()],
                Some(Value::Array(a)) if !a.is_empty() => a
                    .iter()
                    .map(|v| match v.as_str() {
                        Some(s @ ("createPackage" | "createStagedPackage")) => Ok(s.to_owned()),
                        _ => Err(InputError::new(
                            format!("{p}.permissions"),
                            "expected createPackage and/or createStagedPackage",
                        )),
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => {
                    return Err(InputError::new(
                        format!("{p}.permissions"),
                        "expected a non-empty list",
                    ));
                }
            };
            Ok(TrustEntry {
                provider,
                claims,
                permissions,
            })
        })
        .collect()
}

impl TrustEntry {
    /// Whether the token's claims satisfy this entry; the first mismatch otherwise.
    pub fn matches(&self, c: &Map<String, Value>) -> Result<(), String> {
        let got = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or_default();
        let want = |k: &str| self.claims.get(k);
        let exact = |k: &str, have: &str| -> Result<(), String> {
            match want(k) {
                Some(w) if w.as_str() != Some(have) => Err(format!(
                    "the token's {k} does not match the trusted publisher"
                )),
                _ => Ok(()),
            }
        };
        let file = |k: &str, have: Option<&str>| -> Result<(), String> {
            let w = want(k).and_then(|v| v.get("file")).and_then(Value::as_str);
            match w {
                Some(w) if Some(w) != have => Err(format!(
                    "the workflow file in the token's {k} does not match the trusted publisher"
                )),
                _ => Ok(()),
            }
        };
        match self.provider {
            Provider::Github => {
                exact("repository", got("repository"))?;
                file("workflow_ref", file_of_github_ref(got("workflow_ref")))?;
                exact("environment", got("environment"))
            }
            Provider::Gitlab => {
                exact("project_path", got("project_path"))?;
                file(
                    "ci_config_ref_uri",
                    file_of_gitlab_ref(got("ci_config_ref_uri")),
                )?;
                exact("environment", got("environment"))
            }
            Provider::Circleci => {
                for k in CIRCLE_KEYS {
                    match (want(k), c.get(k)) {
                        (None, _) => {}
                        (Some(Value::Array(w)), Some(Value::Array(have))) => {
                            if !w.iter().all(|x| have.contains(x)) {
                                return Err(format!(
                                    "the token's {k} does not include the trusted contexts"
                                ));
                            }
                        }
                        (Some(w), have) if Some(w) == have => {}
                        _ => {
                            return Err(format!(
                                "the token's {k} does not match the trusted publisher"
                            ));
                        }
                    }
                }
                Ok(())
            }
        }
    }
}
