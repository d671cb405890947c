//! The request document of SPEC §2, parsed and checked once so rules read typed data.

use serde::{Deserialize, Serialize};

use crate::contract::action::ActionKind;
use crate::contract::cidr::{Cidr, ClientIp};
use crate::contract::error::{InputError, index, join};
use crate::contract::factor::{Factor, FactorSet};
use crate::contract::time::{Count, Timestamp};
use crate::wire::json::nullable;

/// Longest string accepted in a request (names, ids, tags).
pub const MAX_STRING: usize = 512;
/// Longest list accepted in a request (orgs, proofs, CIDRs, token names).
pub const MAX_LIST: usize = 1024;
/// Most failure times accepted per list; more than any throttle window needs.
pub const MAX_FAILURES: usize = 4096;

/// A decision request (SPEC §2).
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// The host's clock, unix seconds.
    pub now: Timestamp,
    /// What is being attempted.
    pub action: Action,
    /// Who is attempting it.
    pub account: Account,
    /// How the request authenticated.
    pub credential: Credential,
    /// Where it came from.
    pub client: Client,
    /// The target package, when there is one.
    pub package: Option<Package>,
    /// The account's orgs.
    pub orgs: Vec<Org>,
    /// Factors the host already verified, with when.
    pub proofs: Vec<Proof>,
    /// Recent failed codes.
    pub failures: Failures,
}

/// The request as written: the credential is checked after parsing so its errors get exact
/// paths (serde_json cannot position an error raised once a nested value is complete).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(rename = "Request", description = "A decision request (SPEC §2).")
)]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RequestDoc {
    pub(crate) now: Timestamp,
    pub(crate) action: Action,
    pub(crate) account: Account,
    pub(crate) credential: CredentialDoc,
    #[serde(default, deserialize_with = "nullable")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Client>"))]
    pub(crate) client: Client,
    #[serde(default)]
    pub(crate) package: Option<Package>,
    #[serde(default, deserialize_with = "nullable")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<Org>>"))]
    #[cfg_attr(feature = "schema", schemars(length(max = MAX_LIST)))]
    pub(crate) orgs: Vec<Org>,
    #[serde(default, deserialize_with = "nullable")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<Proof>>"))]
    #[cfg_attr(feature = "schema", schemars(length(max = MAX_LIST)))]
    pub(crate) proofs: Vec<Proof>,
    #[serde(default, deserialize_with = "nullable")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Failures>"))]
    pub(crate) failures: Failures,
}

impl RequestDoc {
    /// Checks the credential and sizes, naming fields under `prefix` (`""` or `request`).
    pub(crate) fn into_request(self, prefix: &str) -> Result<Request, InputError> {
        let at = |e: InputError| {
            if prefix.is_empty() {
                e
            } else {
                e.within(prefix)
            }
        };
        let credential = self
            .credential
            .into_checked()
            .map_err(|(field, msg)| at(InputError::new(join("credential", field), msg)))?;
        Request {
            now: self.now,
            action: self.action,
            account: self.account,
            credential,
            client: self.client,
            package: self.package,
            orgs: self.orgs,
            proofs: self.proofs,
            failures: self.failures,
        }
        .checked()
        .map_err(at)
    }
}

/// `action`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// The action kind.
    pub kind: ActionKind,
    /// Target package name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(max = MAX_STRING)))]
    pub package: Option<String>,
    /// Dist-tag, for `dist-tag.*` and publishes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(max = MAX_STRING)))]
    pub tag: Option<String>,
    /// Target org.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(max = MAX_STRING)))]
    pub org: Option<String>,
    /// Target account for owner/member changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(max = MAX_STRING)))]
    pub target_account: Option<String>,
}

impl Action {
    /// An action of `kind` with no target (hosts that build requests in code).
    pub fn new(kind: ActionKind) -> Action {
        Action {
            kind,
            package: None,
            tag: None,
            org: None,
            target_account: None,
        }
    }

    /// An action of `kind` on `package`.
    pub fn on_package(kind: ActionKind, package: impl Into<String>) -> Action {
        Action {
            package: Some(package.into()),
            ..Action::new(kind)
        }
    }

    /// The operation one accepted code covers (SPEC §9.5); `subject` tells apart requests the
    /// action's fields do not (the stage id and verb, the team). See [`operation_key`].
    pub fn operation(&self, subject: Option<&str>) -> String {
        operation_key(
            self.kind,
            [
                self.package.as_deref(),
                self.tag.as_deref(),
                self.org.as_deref(),
                self.target_account.as_deref(),
            ],
            subject,
        )
    }
}

/// The operation one accepted code covers (SPEC §9.5): the action kind and every target it
/// names — package, dist-tag, org, target account — and the subject only the path names (which
/// staged publish, approved or rejected; which team). A code spent adding a member to one org
/// therefore adds nobody to another, and approving one staged version approves no other; the
/// requests of one npm command (unpublish's PUT and DELETE) share all of these. JSON text, so no
/// two different operations read the same.
pub fn operation_key(
    kind: ActionKind,
    targets: [Option<&str>; 4],
    subject: Option<&str>,
) -> String {
    serde_json::to_string(&(kind.as_str(), targets, subject)).unwrap_or_default()
}

/// The subject an [`operation_key`] names, read back (a host describing what a code or an
/// approval covers); `None` for text that is not an operation key or names no subject.
pub fn operation_subject(key: &str) -> Option<String> {
    serde_json::from_str::<(String, [Option<String>; 4], Option<String>)>(key)
        .ok()
        .and_then(|(_, _, subject)| subject)
}

/// `account`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// Stable account id (also the rollout bucket input).
    #[cfg_attr(feature = "schema", schemars(length(max = MAX_STRING)))]
    pub id: String,
    /// 2FA state; `null` means none.
    #[serde(default)]
    pub tfa: Option<Tfa>,
    /// Has ever had publish rights.
    #[serde(default, deserialize_with = "nullable")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<bool>"))]
    pub publisher: bool,
    /// Most impactful packages the account maintains.
    #[serde(default)]
    pub impact: Option<Impact>,
    /// End of the temporary read-only safeguard.
    #[serde(default)]
    pub safeguard_until: Option<Timestamp>,
}

impl Account {
    /// Whether the account has 2FA on (`tfa.mode` other than `disabled`).
    pub fn has_tfa(&self) -> bool {
        self.mode() != TfaMode::Disabled
    }

    /// The account's 2FA mode, `disabled` when absent.
    pub fn mode(&self) -> TfaMode {
        self.tfa.as_ref().map_or(TfaMode::Disabled, |t| t.mode)
    }

    /// Enrolled factors; `recovery-code` counts whenever totp or webauthn does (SPEC §8.2).
    pub fn enrolled(&self) -> FactorSet {
        match &self.tfa {
            Some(t) if t.mode != TfaMode::Disabled => {
                let mut s: FactorSet = t.factors.iter().copied().collect();
                if s.contains(Factor::Totp) || s.contains(Factor::Webauthn) {
                    s.insert(Factor::RecoveryCode);
                }
                s
            }
            _ => FactorSet::EMPTY,
        }
    }
}

/// `account.tfa`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tfa {
    /// The mode.
    pub mode: TfaMode,
    /// Enrolled factors.
    #[serde(default, deserialize_with = "nullable")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<Factor>>"))]
    #[cfg_attr(feature = "schema", schemars(length(max = 8)))]
    pub factors: Vec<Factor>,
}

/// npm's 2FA modes.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TfaMode {
    /// No 2FA.
    Disabled,
    /// Second factor for login, account and token actions.
    AuthOnly,
    /// Also for writes.
    AuthAndWrites,
}

impl TfaMode {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            TfaMode::Disabled => "disabled",
            TfaMode::AuthOnly => "auth-only",
            TfaMode::AuthAndWrites => "auth-and-writes",
        }
    }

    /// The mode a wire name names (hosts that store the mode as text).
    pub fn from_name(name: &str) -> Option<TfaMode> {
        [TfaMode::Disabled, TfaMode::AuthOnly, TfaMode::AuthAndWrites]
            .into_iter()
            .find(|m| m.as_str() == name)
    }
}

/// Reach figures, for an account (its best package) or a package.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Impact {
    /// Weekly downloads.
    #[serde(default)]
    pub weekly_downloads: Option<Count>,
    /// Number of dependents.
    #[serde(default)]
    pub dependents: Option<Count>,
    /// Rank by dependents, 1 = most depended upon.
    #[serde(default)]
    pub dependents_rank: Option<Count>,
}

/// `credential`, as written; turned into [`Credential`] after field checks.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(
        rename = "Credential",
        description = "How the request authenticated (SPEC §2); each kind takes its own fields."
    )
)]
#[cfg_attr(feature = "schema", schemars(transform = credential_rules))]
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CredentialDoc {
    pub(crate) kind: CredentialKind,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub(crate) token_type: Option<LegacyType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) bypass_2fa: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) expires_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(max = MAX_LIST)))]
    pub(crate) cidr_whitelist: Option<Vec<Cidr>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) packages: Option<PackagesAxis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) orgs: Option<OrgsAxis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(max = MAX_STRING)))]
    pub(crate) package: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(length(max = 2)))]
    pub(crate) permissions: Option<Vec<OidcPermission>>,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum CredentialKind {
    Session,
    Basic,
    LegacyToken,
    GranularToken,
    Oidc,
}

/// Legacy ("classic") token types.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LegacyType {
    /// Everything the user can do, with OTP per account mode.
    Publish,
    /// Reads only.
    ReadOnly,
    /// Bypasses 2FA.
    Automation,
}

/// Granular-token permission on one axis.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Permission {
    /// Nothing.
    #[default]
    NoAccess,
    /// Reads.
    ReadOnly,
    /// Reads and writes.
    ReadWrite,
}

/// A granular token's packages-and-scopes axis.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PackagesAxis {
    /// Covers every package the user can access.
    #[serde(default, deserialize_with = "nullable")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<bool>"))]
    pub all: bool,
    /// Exact package names.
    #[serde(default, deserialize_with = "nullable")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    #[cfg_attr(feature = "schema", schemars(length(max = MAX_LIST), inner(length(max = MAX_STRING))))]
    pub names: Vec<String>,
    /// Scopes such as `@acme`, covering `@acme/*`.
    #[serde(default, deserialize_with = "nullable")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    #[cfg_attr(feature = "schema", schemars(length(max = MAX_LIST), inner(length(max = MAX_STRING), regex(pattern = "^@[^/]+$"))))]
    pub scopes: Vec<String>,
    /// Permission on what it covers.
    #[serde(default, deserialize_with = "nullable")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Permission>"))]
    pub permission: Permission,
}

/// A granular token's orgs axis.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OrgsAxis {
    /// Org names.
    #[serde(default, deserialize_with = "nullable")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<String>>"))]
    #[cfg_attr(feature = "schema", schemars(length(max = MAX_LIST), inner(length(max = MAX_STRING))))]
    pub names: Vec<String>,
    /// Permission on them.
    #[serde(default, deserialize_with = "nullable")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Permission>"))]
    pub permission: Permission,
}

/// Trusted-publishing permissions.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum OidcPermission {
    /// `npm publish`.
    #[serde(rename = "createPackage")]
    CreatePackage,
    /// `npm stage publish`.
    #[serde(rename = "createStagedPackage")]
    CreateStagedPackage,
}

/// How the request authenticated (SPEC §2 `credential`).
#[derive(Clone, Debug, PartialEq)]
pub enum Credential {
    /// Interactive login session.
    Session,
    /// Username and password on the request.
    Basic,
    /// A classic token.
    LegacyToken {
        /// Its type.
        token_type: LegacyType,
        /// Optional expiry.
        expires_at: Option<Timestamp>,
        /// IP allow-list; empty = anywhere.
        cidr_whitelist: Vec<Cidr>,
    },
    /// A granular access token.
    GranularToken {
        /// Skips 2FA where permitted.
        bypass_2fa: bool,
        /// Expiry.
        expires_at: Option<Timestamp>,
        /// IP allow-list; empty = anywhere.
        cidr_whitelist: Vec<Cidr>,
        /// Packages axis.
        packages: PackagesAxis,
        /// Orgs axis.
        orgs: OrgsAxis,
    },
    /// A trusted-publishing credential exchanged for one package.
    Oidc {
        /// The package it was exchanged for.
        package: String,
        /// What it may do; absent means `createPackage` (SPEC §8.6).
        permissions: Vec<OidcPermission>,
        /// Optional expiry.
        expires_at: Option<Timestamp>,
    },
}

impl Credential {
    /// Expiry, for the kinds that have one.
    pub fn expires_at(&self) -> Option<Timestamp> {
        match self {
            Credential::LegacyToken { expires_at, .. }
            | Credential::GranularToken { expires_at, .. }
            | Credential::Oidc { expires_at, .. } => *expires_at,
            _ => None,
        }
    }

    /// The IP allow-list (empty when none).
    pub fn cidr_whitelist(&self) -> &[Cidr] {
        match self {
            Credential::LegacyToken { cidr_whitelist, .. }
            | Credential::GranularToken { cidr_whitelist, .. } => cidr_whitelist,
            _ => &[],
        }
    }

    /// Whether this credential skips 2FA (granular with `bypass_2fa`, legacy automation).
    pub fn is_bypass(&self) -> bool {
        matches!(
            self,
            Credential::GranularToken {
                bypass_2fa: true,
                ..
            } | Credential::LegacyToken {
                token_type: LegacyType::Automation,
                ..
            }
        )
    }

    /// Whether this is a token for the `tfa-no-tokens` rule (any token but OIDC).
    pub fn is_token(&self) -> bool {
        matches!(
            self,
            Credential::LegacyToken { .. } | Credential::GranularToken { .. }
        )
    }
}

impl Credential {
    /// Parses and checks a credential document on its own (hosts that store a token's
    /// credential and read it back for every request); errors are placed under `credential`.
    pub fn parse(text: &str) -> Result<Credential, InputError> {
        crate::wire::json::parse::<CredentialDoc>(text)
            .map_err(|e| e.within("credential"))?
            .into_checked()
            .map_err(|(field, msg)| InputError::new(join("credential", field), msg))
    }

    /// [`Credential::parse`] for a document already parsed as JSON (an engine answer's
    /// `credential`, such as the token form's).
    pub fn from_value(value: &serde_json::Value) -> Result<Credential, InputError> {
        Credential::parse(&value.to_string())
    }

    /// The credential as its document: what [`Credential::parse`] reads back to an equal value.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

/// Written as its SPEC document (only the fields its kind takes), so hosts can store it.
impl Serialize for Credential {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut doc = CredentialDoc::blank();
        match self {
            Credential::Session => {}
            Credential::Basic => doc.kind = CredentialKind::Basic,
            Credential::LegacyToken {
                token_type,
                expires_at,
                cidr_whitelist,
            } => {
                doc.kind = CredentialKind::LegacyToken;
                doc.token_type = Some(*token_type);
                doc.expires_at = *expires_at;
                doc.cidr_whitelist = Some(cidr_whitelist.clone()).filter(|c| !c.is_empty());
            }
            Credential::GranularToken {
                bypass_2fa,
                expires_at,
                cidr_whitelist,
                packages,
                orgs,
            } => {
                doc.kind = CredentialKind::GranularToken;
                doc.bypass_2fa = Some(*bypass_2fa);
                doc.expires_at = *expires_at;
                doc.cidr_whitelist = Some(cidr_whitelist.clone()).filter(|c| !c.is_empty());
                doc.packages = Some(packages.clone());
                doc.orgs = Some(orgs.clone());
            }
            Credential::Oidc {
                package,
                permissions,
                expires_at,
            } => {
                doc.kind = CredentialKind::Oidc;
                doc.package = Some(package.clone());
                doc.permissions = Some(permissions.clone());
                doc.expires_at = *expires_at;
            }
        }
        doc.serialize(s)
    }
}

impl CredentialDoc {
    /// A document with only the kind set (to session), for readers that fill it field by field.
    pub(crate) fn blank() -> Self {
        CredentialDoc {
            kind: CredentialKind::Session,
            token_type: None,
            bypass_2fa: None,
            expires_at: None,
            cidr_whitelist: None,
            packages: None,
            orgs: None,
            package: None,
            permissions: None,
        }
    }

    /// The credential, with every check parsing makes; an error names the field under
    /// `credential` and what was wrong.
    pub(crate) fn into_checked(self) -> Result<Credential, (&'static str, String)> {
        self.into_credential().and_then(|c| c.check().map(|()| c))
    }

    fn into_credential(self) -> Result<Credential, (&'static str, String)> {
        let kind = self.kind;
        match kind {
            CredentialKind::Session | CredentialKind::Basic => {
                self.refuse_others()?;
                Ok(if kind == CredentialKind::Session {
                    Credential::Session
                } else {
                    Credential::Basic
                })
            }
            CredentialKind::LegacyToken => {
                let token_type = self.token_type.ok_or((
                    "type",
                    "required for legacy-token: publish, read-only or automation".to_owned(),
                ))?;
                self.refuse_others()?;
                Ok(Credential::LegacyToken {
                    token_type,
                    expires_at: self.expires_at,
                    cidr_whitelist: self.cidr_whitelist.unwrap_or_default(),
                })
            }
            CredentialKind::GranularToken => {
                self.refuse_others()?;
                Ok(Credential::GranularToken {
                    bypass_2fa: self.bypass_2fa.unwrap_or(false),
                    expires_at: self.expires_at,
                    cidr_whitelist: self.cidr_whitelist.unwrap_or_default(),
                    packages: self.packages.unwrap_or_default(),
                    orgs: self.orgs.unwrap_or_default(),
                })
            }
            CredentialKind::Oidc => {
                self.refuse_others()?;
                let package = self.package.ok_or((
                    "package",
                    "required for oidc: the package the credential was exchanged for".to_owned(),
                ))?;
                check_string(&package).map_err(|m| ("package", m))?;
                let permissions = self
                    .permissions
                    .unwrap_or_else(|| vec![OidcPermission::CreatePackage]);
                if permissions.len() > 2 {
                    return Err((
                        "permissions",
                        "at most createPackage and createStagedPackage".to_owned(),
                    ));
                }
                Ok(Credential::Oidc {
                    package,
                    permissions,
                    expires_at: self.expires_at,
                })
            }
        }
    }

    /// The optional fields present, in document order.
    fn present(&self) -> [(&'static str, bool); 8] {
        [
            ("type", self.token_type.is_some()),
            ("bypass_2fa", self.bypass_2fa.is_some()),
            ("expires_at", self.expires_at.is_some()),
            ("cidr_whitelist", self.cidr_whitelist.is_some()),
            ("packages", self.packages.is_some()),
            ("orgs", self.orgs.is_some()),
            ("package", self.package.is_some()),
            ("permissions", self.permissions.is_some()),
        ]
    }

    /// Refuses the first field present that the kind does not take.
    fn refuse_others(&self) -> Result<(), (&'static str, String)> {
        let kind = self.kind;
        match self
            .present()
            .into_iter()
            .find(|(field, present)| *present && !kind.fields().contains(field))
        {
            Some((field, _)) => Err((field, format!("not allowed for kind {}", kind.as_str()))),
            None => Ok(()),
        }
    }
}

impl CredentialKind {
    /// Every kind, in SPEC order.
    #[cfg(any(test, feature = "schema"))]
    pub(crate) const ALL: [CredentialKind; 5] = [
        CredentialKind::Session,
        CredentialKind::Basic,
        CredentialKind::LegacyToken,
        CredentialKind::GranularToken,
        CredentialKind::Oidc,
    ];

    /// The wire name.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Session => "session",
            CredentialKind::Basic => "basic",
            CredentialKind::LegacyToken => "legacy-token",
            CredentialKind::GranularToken => "granular-token",
            CredentialKind::Oidc => "oidc",
        }
    }

    /// The fields besides `kind` this kind takes (SPEC §2); any other is refused. Parsing and
    /// the JSON Schema's per-kind rules both read this list.
    pub(crate) const fn fields(self) -> &'static [&'static str] {
        match self {
            CredentialKind::Session | CredentialKind::Basic => &[],
            CredentialKind::LegacyToken => &["type", "expires_at", "cidr_whitelist"],
            CredentialKind::GranularToken => &[
                "bypass_2fa",
                "expires_at",
                "cidr_whitelist",
                "packages",
                "orgs",
            ],
            CredentialKind::Oidc => &["package", "permissions", "expires_at"],
        }
    }

    /// The field this kind cannot do without, besides `kind` (parsing names it in its error).
    #[cfg(any(test, feature = "schema"))]
    pub(crate) const fn required(self) -> Option<&'static str> {
        match self {
            CredentialKind::LegacyToken => Some("type"),
            CredentialKind::Oidc => Some("package"),
            _ => None,
        }
    }
}

impl Credential {
    /// Limits and shapes serde cannot express: list sizes, name lengths, scope syntax, safe
    /// integers. Returns the offending field (relative to `credential`) and what was wrong.
    fn check(&self) -> Result<(), (&'static str, String)> {
        if let Some(e) = self.expires_at() {
            safe(e.0).map_err(|m| ("expires_at", m))?;
        }
        if self.cidr_whitelist().len() > MAX_LIST {
            return Err(("cidr_whitelist", format!("at most {MAX_LIST} entries")));
        }
        match self {
            Credential::GranularToken { packages, orgs, .. } => {
                check_names(&packages.names).map_err(|m| ("packages", m))?;
                check_names(&packages.scopes).map_err(|m| ("packages", m))?;
                if let Some(s) = packages
                    .scopes
                    .iter()
                    .find(|s| !s.starts_with('@') || s.len() < 2 || s.contains('/'))
                {
                    return Err(("packages", format!("scope {s:?} must look like @name")));
                }
                check_names(&orgs.names).map_err(|m| ("orgs", m))
            }
            Credential::Oidc {
                package,
                permissions,
                ..
            } => {
                check_string(package).map_err(|m| ("package", m))?;
                if permissions.len() > 2 {
                    return Err((
                        "permissions",
                        "at most createPackage and createStagedPackage".to_owned(),
                    ));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

fn safe(v: u64) -> Result<(), String> {
    if v > crate::contract::time::MAX_SAFE_INTEGER {
        Err("expected an integer of at most 2^53 - 1".to_owned())
    } else {
        Ok(())
    }
}

fn check_string(s: &str) -> Result<(), String> {
    if s.len() > MAX_STRING {
        Err(format!("longer than {MAX_STRING} bytes"))
    } else {
        Ok(())
    }
}

fn check_names(v: &[String]) -> Result<(), String> {
    if v.len() > MAX_LIST {
        return Err(format!("at most {MAX_LIST} names"));
    }
    v.iter().try_for_each(|s| check_string(s))
}

/// `client`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    /// The client's address.
    #[serde(default)]
    pub ip: Option<ClientIp>,
}

/// Package publishing-access settings (SPEC §2).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PublishingAccess {
    /// Legacy "don't require 2FA".
    None,
    /// 2FA, or a granular token with bypass.
    TfaOrToken,
    /// 2FA, and no tokens at all.
    TfaNoTokens,
}

impl PublishingAccess {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            PublishingAccess::None => "none",
            PublishingAccess::TfaOrToken => "tfa-or-token",
            PublishingAccess::TfaNoTokens => "tfa-no-tokens",
        }
    }

    /// The setting a wire name names (hosts that store it as text).
    pub fn from_name(name: &str) -> Option<PublishingAccess> {
        [
            PublishingAccess::None,
            PublishingAccess::TfaOrToken,
            PublishingAccess::TfaNoTokens,
        ]
        .into_iter()
        .find(|a| a.as_str() == name)
    }
}

/// `package`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Package {
    /// Package name.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(length(max = MAX_STRING)))]
    pub name: Option<String>,
    /// Publishing access; absent = the preset's default (SPEC §8.1).
    #[serde(default)]
    pub publishing_access: Option<PublishingAccess>,
    /// Weekly downloads.
    #[serde(default)]
    pub weekly_downloads: Option<Count>,
    /// Number of dependents.
    #[serde(default)]
    pub dependents: Option<Count>,
    /// Rank by dependents.
    #[serde(default)]
    pub dependents_rank: Option<Count>,
}

/// One of the account's orgs.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Org {
    /// Org name.
    #[cfg_attr(feature = "schema", schemars(length(max = MAX_STRING)))]
    pub name: String,
    /// Whether the org enforces 2FA on its members.
    #[serde(default, deserialize_with = "nullable")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<bool>"))]
    pub enforce_tfa: bool,
}

/// A factor the host has verified.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proof {
    /// Which factor.
    pub factor: Factor,
    /// When it was verified.
    pub verified_at: Timestamp,
}

/// Recent failed codes.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failures {
    /// For this account.
    #[serde(default, deserialize_with = "nullable")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<Timestamp>>"))]
    #[cfg_attr(feature = "schema", schemars(length(max = MAX_FAILURES)))]
    pub account: Vec<Timestamp>,
    /// From this client IP.
    #[serde(default, deserialize_with = "nullable")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Vec<Timestamp>>"))]
    #[cfg_attr(feature = "schema", schemars(length(max = MAX_FAILURES)))]
    pub ip: Vec<Timestamp>,
}

impl Request {
    /// Parses and checks a request document.
    pub fn parse(text: &str) -> Result<Request, InputError> {
        crate::wire::json::parse::<RequestDoc>(text)?.into_request("")
    }

    /// Checks an already-parsed JSON value (hosts that hold JSON objects).
    pub fn from_value(value: &serde_json::Value) -> Result<Request, InputError> {
        crate::wire::json::from_value::<RequestDoc>(value)?.into_request("")
    }

    /// The target package: `action.package`, else `package.name`.
    pub fn target_package(&self) -> Option<&str> {
        self.action
            .package
            .as_deref()
            .or_else(|| self.package.as_ref().and_then(|p| p.name.as_deref()))
    }

    /// Checks a request built in code (a typed binding) exactly as parsing checks JSON: safe
    /// integers, sizes and credential shape, reported with field paths.
    pub fn validate(self) -> Result<Request, InputError> {
        let ts = |v: Option<Timestamp>, p: &str| {
            v.map_or(Ok(()), |t| safe(t.0).map_err(|m| InputError::new(p, m)))
        };
        let cnt = |v: Option<Count>, p: &str| {
            v.map_or(Ok(()), |t| safe(t.0).map_err(|m| InputError::new(p, m)))
        };
        ts(Some(self.now), "now")?;
        ts(self.account.safeguard_until, "account.safeguard_until")?;
        if let Some(i) = &self.account.impact {
            cnt(i.weekly_downloads, "account.impact.weekly_downloads")?;
            cnt(i.dependents, "account.impact.dependents")?;
            cnt(i.dependents_rank, "account.impact.dependents_rank")?;
        }
        self.credential
            .check()
            .map_err(|(f, m)| InputError::new(join("credential", f), m))?;
        if let Some(p) = &self.package {
            cnt(p.weekly_downloads, "package.weekly_downloads")?;
            cnt(p.dependents, "package.dependents")?;
            cnt(p.dependents_rank, "package.dependents_rank")?;
        }
        // Per item, the path is made only for an error: a request carries up to 4096 failure
        // times per list, and each path is an allocation.
        for (i, p) in self.proofs.iter().enumerate() {
            safe(p.verified_at.0)
                .map_err(|m| InputError::new(join(&index("proofs", i), "verified_at"), m))?;
        }
        for (list, v) in [
            ("failures.account", &self.failures.account),
            ("failures.ip", &self.failures.ip),
        ] {
            for (i, t) in v.iter().enumerate() {
                safe(t.0).map_err(|m| InputError::new(index(list, i), m))?;
            }
        }
        self.checked()
    }

    /// Size checks serde cannot express, reported with paths.
    pub(crate) fn checked(self) -> Result<Request, InputError> {
        self.check_sizes().map(|()| self)
    }

    /// [`Self::checked`] on a request kept in place (the packed reader fills one per call).
    pub(crate) fn check_sizes(&self) -> Result<(), InputError> {
        let s = |v: &Option<String>, p: &str| match v {
            Some(v) => check_string(v).map_err(|m| InputError::new(p, m)),
            None => Ok(()),
        };
        s(&self.action.package, "action.package")?;
        s(&self.action.tag, "action.tag")?;
        s(&self.action.org, "action.org")?;
        s(&self.action.target_account, "action.target_account")?;
        check_string(&self.account.id).map_err(|m| InputError::new("account.id", m))?;
        if let Some(t) = &self.account.tfa
            && t.factors.len() > 8
        {
            return Err(InputError::new("account.tfa.factors", "at most 8 entries"));
        }
        if let Some(p) = &self.package {
            s(&p.name, "package.name")?;
        }
        for (list, len, path, max) in [
            ("orgs", self.orgs.len(), "orgs", MAX_LIST),
            ("proofs", self.proofs.len(), "proofs", MAX_LIST),
            (
                "failures.account",
                self.failures.account.len(),
                "failures.account",
                MAX_FAILURES,
            ),
            (
                "failures.ip",
                self.failures.ip.len(),
                "failures.ip",
                MAX_FAILURES,
            ),
        ] {
            if len > max {
                return Err(InputError::new(
                    path,
                    format!("{list}: at most {max} entries"),
                ));
            }
        }
        for (i, o) in self.orgs.iter().enumerate() {
            check_string(&o.name)
                .map_err(|m| InputError::new(join(&index("orgs", i), "name"), m))?;
        }
        Ok(())
    }
}

/// Adds the per-kind credential rules to the credential object: each kind's required field and
/// the fields it refuses, from the table parsing uses.
#[cfg(feature = "schema")]
pub(crate) fn credential_rules(schema: &mut schemars::Schema) {
    use serde_json::{Map, Value, json};
    let all: Vec<&str> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| {
            p.keys()
                .map(String::as_str)
                .filter(|k| *k != "kind")
                .collect()
        })
        .unwrap_or_default();
    let rules: Vec<Value> = CredentialKind::ALL
        .iter()
        .map(|kind| {
            let refused: Vec<Value> = all
                .iter()
                .filter(|f| !kind.fields().contains(f))
                .map(|f| json!({"required": [f]}))
                .collect();
            let mut then = Map::new();
            if let Some(field) = kind.required() {
                then.insert("required".into(), json!([field]));
            }
            then.insert("not".into(), json!({"anyOf": refused}));
            json!({
                "if": {"properties": {"kind": {"const": kind.as_str()}}},
                "then": then,
            })
        })
        .collect();
    schema.insert("allOf".into(), Value::Array(rules));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The per-kind table (which the JSON Schema is generated from) says what parsing does:
    /// each field outside a kind's list is refused by name, each field in it is taken, and a
    /// kind's required field is the one its error names when missing.
    /// A request built in code is refused where its JSON form is, at the same path: the
    /// per-item paths of failure times and proofs are made only for an error, and must still
    /// name the item.
    #[test]
    fn validate_names_the_item_json_names() {
        let big = crate::contract::time::MAX_SAFE_INTEGER + 1;
        let base = r#"{"now":1780315200,"action":{"kind":"package.publish","package":"p"},"account":{"id":"a"},"credential":{"kind":"session"}"#;
        for (extra, path) in [
            (
                format!(r#","failures":{{"account":[1],"ip":[1,{big}]}}}}"#),
                "failures.ip[1]",
            ),
            (
                format!(r#","proofs":[{{"factor":"totp","verified_at":{big}}}]}}"#),
                "proofs[0].verified_at",
            ),
        ] {
            let text = format!("{base}{extra}");
            let json = Request::parse(&text).unwrap_err();
            assert_eq!(json.path, path, "{text}");
            let mut typed = Request::parse(&format!("{base}}}")).unwrap();
            if path.starts_with("failures") {
                typed.failures.account = vec![Timestamp(1)];
                typed.failures.ip = vec![Timestamp(1), Timestamp(big)];
            } else {
                typed.proofs = vec![Proof {
                    factor: crate::contract::factor::Factor::Totp,
                    verified_at: Timestamp(big),
                }];
            }
            assert_eq!(typed.validate().unwrap_err().path, path);
        }
        let ok = Request::parse(&format!("{base}}}")).unwrap();
        assert_eq!(ok.clone().validate().unwrap(), ok);
    }

    #[test]
    fn credential_table_matches_parsing() {
        let values = [
            ("type", "\"publish\""),
            ("bypass_2fa", "true"),
            ("expires_at", "1"),
            ("cidr_whitelist", "[]"),
            ("packages", "{}"),
            ("orgs", "{}"),
            ("package", "\"p\""),
            ("permissions", "[]"),
        ];
        for kind in CredentialKind::ALL {
            let base = match kind.required() {
                Some(field) => {
                    let value = values.iter().find(|(f, _)| *f == field).map(|(_, v)| *v);
                    let missing = parse_credential(&format!("{{\"kind\":\"{}\"}}", kind.as_str()));
                    assert_eq!(
                        missing.map(|_| ()).map_err(|e| e.path),
                        Err(format!("credential.{field}"))
                    );
                    format!(",\"{field}\":{}", value.unwrap_or("null"))
                }
                None => String::new(),
            };
            for (field, value) in values {
                if kind.required() == Some(field) {
                    continue;
                }
                let doc = format!(
                    "{{\"kind\":\"{}\"{base},\"{field}\":{value}}}",
                    kind.as_str()
                );
                let result = parse_credential(&doc);
                if kind.fields().contains(&field) {
                    assert!(result.is_ok(), "{doc}: {result:?}");
                } else {
                    let e = result.err().map(|e| e.path);
                    assert_eq!(e, Some(format!("credential.{field}")), "{doc}");
                }
            }
        }
    }

    /// A credential written out parses back to itself, for every kind and every optional
    /// field, and the standalone parser places errors under `credential` as the request's does.
    #[test]
    fn credentials_round_trip_through_their_documents() {
        let docs = [
            r#"{"kind":"session"}"#,
            r#"{"kind":"basic"}"#,
            r#"{"kind":"legacy-token","type":"automation"}"#,
            r#"{"kind":"legacy-token","type":"read-only","expires_at":9,"cidr_whitelist":["192.0.2.7/24","::ffff:10.0.0.0/104","2001:db8::/32"]}"#,
            r#"{"kind":"granular-token"}"#,
            r#"{"kind":"granular-token","bypass_2fa":true,"expires_at":5,"cidr_whitelist":["10.0.0.0/8"],"packages":{"all":false,"names":["a","@s/b"],"scopes":["@s"],"permission":"read-write"},"orgs":{"names":["o"],"permission":"read-only"}}"#,
            r#"{"kind":"oidc","package":"p"}"#,
            r#"{"kind":"oidc","package":"@s/p","permissions":["createStagedPackage"],"expires_at":7}"#,
        ];
        for doc in docs {
            let parsed = Credential::parse(doc).unwrap_or_else(|e| panic!("{doc}: {e:?}"));
            let written = parsed.to_json();
            assert_eq!(
                Credential::parse(&written).as_ref(),
                Ok(&parsed),
                "{doc} -> {written}"
            );
            let inside = parse_credential(doc).map(|r| r.credential);
            assert_eq!(inside, Ok(parsed), "{doc}");
        }
        for bad in [
            r#"{"kind":"session","type":"publish"}"#,
            r#"{"kind":"legacy-token"}"#,
            r#"{"kind":"oidc","package":"p","packages":{}}"#,
            r#"{"kind":"nope"}"#,
        ] {
            let alone = Credential::parse(bad).map_err(|e| e.path);
            let inside = parse_credential(bad)
                .map(|r| r.credential)
                .map_err(|e| e.path);
            assert!(alone.is_err(), "{bad}");
            assert_eq!(alone, inside, "{bad}");
        }
    }

    /// The names hosts store modes and settings under are the names parsing reads.
    #[test]
    fn stored_names_are_wire_names() {
        for m in [TfaMode::Disabled, TfaMode::AuthOnly, TfaMode::AuthAndWrites] {
            let parsed: TfaMode = serde_json::from_str(&format!("\"{}\"", m.as_str())).unwrap();
            assert_eq!((parsed, TfaMode::from_name(m.as_str())), (m, Some(m)));
        }
        for a in [
            PublishingAccess::None,
            PublishingAccess::TfaOrToken,
            PublishingAccess::TfaNoTokens,
        ] {
            let parsed: PublishingAccess =
                serde_json::from_str(&format!("\"{}\"", a.as_str())).unwrap();
            assert_eq!(
                (parsed, PublishingAccess::from_name(a.as_str())),
                (a, Some(a))
            );
        }
        assert_eq!(TfaMode::from_name("auth_only"), None);
        assert_eq!(PublishingAccess::from_name("None"), None);
    }

    fn parse_credential(credential: &str) -> Result<Request, InputError> {
        Request::parse(&format!(
            "{{\"now\":1,\"action\":{{\"kind\":\"login\"}},\"account\":{{\"id\":\"a\"}},\"credential\":{credential}}}"
        ))
    }
}
