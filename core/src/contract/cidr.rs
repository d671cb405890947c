//! IP allow-lists: CIDR parsing and matching for IPv4 and IPv6.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A network in CIDR notation. IPv4-mapped IPv6 networks (`::ffff:a.b.c.d/n`, n ≥ 96) are
/// stored as the IPv4 network they denote, so one rule matches both spellings of a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cidr {
    /// An IPv4 network: address with host bits cleared, prefix length 0–32.
    V4(u32, u8),
    /// An IPv6 network: address with host bits cleared, prefix length 0–128.
    V6(u128, u8),
}

impl Cidr {
    /// Parses `addr/len`. Host bits are cleared (`192.0.2.7/24` is `192.0.2.0/24`), as npm and
    /// GitHub do; a missing or out-of-range length is an error.
    pub fn parse(text: &str) -> Option<Cidr> {
        let (addr, len) = text.split_once('/')?;
        if len.is_empty() || len.len() > 3 || !len.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let len: u8 = len.parse().ok()?;
        match IpAddr::from_str(addr).ok()? {
            IpAddr::V4(a) => (len <= 32).then(|| Cidr::V4(u32::from(a) & mask32(len), len)),
            IpAddr::V6(a) => {
                if len > 128 {
                    return None;
                }
                let bits = u128::from(a);
                if len >= 96 && bits >> 32 == 0xffff {
                    let v4 = (bits & 0xffff_ffff) as u32;
                    let l4 = len - 96;
                    return Some(Cidr::V4(v4 & mask32(l4), l4));
                }
                Some(Cidr::V6(bits & mask128(len), len))
            }
        }
    }

    /// Builds a network from an address and prefix length (typed bindings); host bits are
    /// cleared and IPv4-mapped networks become IPv4, exactly as [`Cidr::parse`] does.
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Cidr> {
        Cidr::parse(&format!("{addr}/{prefix}"))
    }

    /// Whether `ip` is inside this network; IPv4-mapped IPv6 clients match IPv4 networks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self, canonical(ip)) {
            (Cidr::V4(net, len), IpAddr::V4(a)) => u32::from(a) & mask32(*len) == *net,
            (Cidr::V6(net, len), IpAddr::V6(a)) => u128::from(a) & mask128(*len) == *net,
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cidr::V4(a, l) => write!(f, "{}/{l}", Ipv4Addr::from(*a)),
            Cidr::V6(a, l) => write!(f, "{}/{l}", Ipv6Addr::from(*a)),
        }
    }
}

/// Maps `::ffff:a.b.c.d` to `a.b.c.d`; other addresses are returned as they are.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

fn mask32(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len.min(32)))
    }
}

fn mask128(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len.min(128)))
    }
}

/// Written as `addr/len`, the form parsing reads back.
impl Serialize for Cidr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Cidr;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a CIDR such as 192.0.2.0/24 or 2001:db8::/32")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Cidr, E> {
                Cidr::parse(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_str(V)
    }
}

/// A client address from a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl<'de> Deserialize<'de> for ClientIp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ClientIp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an IPv4 or IPv6 address")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ClientIp, E> {
                IpAddr::from_str(v)
                    .map(ClientIp)
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        IpAddr::from_str(s).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }

    #[test]
    fn v4_boundaries() {
        let c = Cidr::parse("192.0.2.0/24");
        assert_eq!(c, Some(Cidr::V4(0xc000_0200, 24)));
        let c = c.unwrap_or(Cidr::V4(0, 32));
        assert!(c.contains(ip("192.0.2.0")));
        assert!(c.contains(ip("192.0.2.255")));
        assert!(!c.contains(ip("192.0.3.0")));
        assert!(!c.contains(ip("192.0.1.255")));
        assert!(c.contains(ip("::ffff:192.0.2.9")));
        assert!(!c.contains(ip("2001:db8::1")));
    }

    #[test]
    fn v6_and_mapped() {
        let c = Cidr::parse("2001:db8::/32").unwrap_or(Cidr::V4(0, 32));
        assert!(c.contains(ip("2001:db8:ffff::1")));
        assert!(!c.contains(ip("2001:db9::1")));
        assert_eq!(
            Cidr::parse("::ffff:10.0.0.0/104"),
            Cidr::parse("10.0.0.0/8")
        );
        assert_eq!(Cidr::parse("0.0.0.0/0"), Some(Cidr::V4(0, 0)));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "10.0.0.0",
            "10.0.0.0/33",
            "10.0.0.0/",
            "/8",
            "10.0.0/8",
            "::/129",
            "10.0.0.0/+8",
            "10.0.0.0/0008",
            "a/8",
        ] {
            assert_eq!(Cidr::parse(bad), None, "{bad}");
        }
        assert_eq!(Cidr::parse("10.1.2.3/8"), Some(Cidr::V4(0x0a00_0000, 8)));
    }
}
