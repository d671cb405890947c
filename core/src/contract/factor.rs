//! Second factors and small ordered sets of them.

use serde::ser::SerializeSeq;
use serde::{Deserialize, Serialize, Serializer};

/// A kind of second factor (or the emailed login code of enhanced login verification).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Factor {
    /// A security key or passkey: the only phishing-resistant factor.
    Webauthn,
    /// An RFC 6238 authenticator code.
    Totp,
    /// A single-use recovery code.
    RecoveryCode,
    /// An emailed login-verification code (accounts without 2FA).
    EmailOtp,
}

impl Factor {
    /// The canonical order of SPEC §8.2.
    pub const ORDER: [Factor; 4] = [
        Factor::Webauthn,
        Factor::Totp,
        Factor::RecoveryCode,
        Factor::EmailOtp,
    ];

    const fn bit(self) -> u8 {
        match self {
            Factor::Webauthn => 1,
            Factor::Totp => 2,
            Factor::RecoveryCode => 4,
            Factor::EmailOtp => 8,
        }
    }

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Factor::Webauthn => "webauthn",
            Factor::Totp => "totp",
            Factor::RecoveryCode => "recovery-code",
            Factor::EmailOtp => "email-otp",
        }
    }
}

/// A set of factors that always lists in the canonical order, without allocating.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub struct FactorSet(u8);

impl FactorSet {
    /// No factor.
    pub const EMPTY: FactorSet = FactorSet(0);
    /// The second factors of a 2FA step-up: webauthn, totp, recovery-code.
    pub const SECOND_FACTORS: FactorSet = FactorSet(1 | 2 | 4);
    /// Phishing-resistant factors only.
    pub const STRONG: FactorSet = FactorSet(1);
    /// The emailed login code.
    pub const EMAIL: FactorSet = FactorSet(8);

    /// The set holding exactly `f`.
    pub const fn of(f: Factor) -> FactorSet {
        FactorSet(f.bit())
    }
    /// Adds `f`.
    pub fn insert(&mut self, f: Factor) {
        self.0 |= f.bit();
    }
    /// Whether `f` is in the set.
    pub const fn contains(self, f: Factor) -> bool {
        self.0 & f.bit() != 0
    }
    /// Intersection.
    #[must_use]
    pub const fn and(self, other: FactorSet) -> FactorSet {
        FactorSet(self.0 & other.0)
    }
    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// The members in canonical order.
    pub fn iter(self) -> impl Iterator<Item = Factor> {
        Factor::ORDER.into_iter().filter(move |f| self.contains(*f))
    }
}

impl FromIterator<Factor> for FactorSet {
    fn from_iter<I: IntoIterator<Item = Factor>>(iter: I) -> Self {
        let mut s = FactorSet::EMPTY;
        for f in iter {
            s.insert(f);
        }
        s
    }
}

impl Serialize for FactorSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.count_ones() as usize))?;
        for f in self.iter() {
            seq.serialize_element(&f)?;
        }
        seq.end()
    }
}
