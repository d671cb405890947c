//! The actions a registry asks about, and the classes the rules are written in (SPEC §2).

use serde::{Deserialize, Serialize};

macro_rules! actions {
    ($($variant:ident = $name:literal => $class:ident,)*) => {
        /// One registry operation, named as in SPEC §2.
        #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum ActionKind {
            $(
                #[doc = concat!("`", $name, "`")]
                #[serde(rename = $name)]
                $variant,
            )*
        }

        impl ActionKind {
            /// Every action kind, in SPEC order.
            pub const ALL: &'static [ActionKind] = &[$(ActionKind::$variant,)*];

            /// The wire name, e.g. `package.publish`.
            pub const fn as_str(self) -> &'static str {
                match self { $(ActionKind::$variant => $name,)* }
            }

            /// The class the rules are written against.
            pub const fn class(self) -> ActionClass {
                match self { $(ActionKind::$variant => ActionClass::$class,)* }
            }
        }
    };
}

actions! {
    PackageRead = "package.read" => Read,
    ProfileRead = "profile.read" => Read,
    TokenList = "token.list" => Read,
    OrgRead = "org.read" => Read,
    Login = "login" => Login,
    ProfileUpdate = "profile.update" => Account,
    EmailChange = "email.change" => Account,
    PasswordChange = "password.change" => Account,
    TfaEnable = "tfa.enable" => Account,
    TfaModeChange = "tfa.mode-change" => Account,
    TfaDisable = "tfa.disable" => Account,
    RecoveryCodesRegenerate = "recovery-codes.regenerate" => Account,
    TokenCreate = "token.create" => Tokens,
    TokenRevoke = "token.revoke" => Tokens,
    PackagePublish = "package.publish" => Publish,
    PackageStagePublish = "package.stage-publish" => Publish,
    PackageUnpublish = "package.unpublish" => PackageWrite,
    PackageDeprecate = "package.deprecate" => PackageWrite,
    DistTagAdd = "dist-tag.add" => PackageWrite,
    DistTagRemove = "dist-tag.remove" => PackageWrite,
    PackageStar = "package.star" => PackageWrite,
    OwnerAdd = "owner.add" => PackageGovernance,
    OwnerRemove = "owner.remove" => PackageGovernance,
    AccessVisibility = "access.visibility" => PackageGovernance,
    AccessGrant = "access.grant" => PackageGovernance,
    AccessRevoke = "access.revoke" => PackageGovernance,
    AccessPublishingSetting = "access.publishing-setting" => PackageGovernance,
    TrustConfigure = "trust.configure" => PackageGovernance,
    PackageStageApprove = "package.stage-approve" => PackageGovernance,
    OrgMemberAdd = "org.member.add" => OrgGovernance,
    OrgMemberRemove = "org.member.remove" => OrgGovernance,
    OrgTeamChange = "org.team.change" => OrgGovernance,
    OrgTfaEnforcement = "org.tfa-enforcement" => OrgGovernance,
}

/// The action classes of SPEC §2.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionClass {
    /// Reads: never need a second factor by themselves.
    Read,
    /// `login`.
    Login,
    /// Profile, email, password and 2FA settings.
    Account,
    /// Token creation and revocation.
    Tokens,
    /// `package.publish`, `package.stage-publish`.
    Publish,
    /// Unpublish, deprecate, dist-tags, star.
    PackageWrite,
    /// Owners, access, trust, stage approval.
    PackageGovernance,
    /// Org membership, teams, org 2FA enforcement.
    OrgGovernance,
}

impl ActionClass {
    /// Whether the class changes state (everything but reads and login).
    pub const fn mutates(self) -> bool {
        !matches!(self, ActionClass::Read | ActionClass::Login)
    }

    /// Whether the class targets a package (and so uses a granular token's packages axis).
    pub const fn targets_package(self) -> bool {
        matches!(
            self,
            ActionClass::Publish | ActionClass::PackageWrite | ActionClass::PackageGovernance
        )
    }
}
