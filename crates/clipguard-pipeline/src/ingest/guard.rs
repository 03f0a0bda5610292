//! The SSRF guard: URL ingestion (and the crawler, #7) must never become a way into the
//! operator's network. Every address a download connects to is checked — the resolver returns
//! only permitted addresses (so a name that resolves, or later re-resolves, to 10.0.0.1 gets
//! nothing to connect to), IP-literal hosts are checked before the request and at every
//! redirect, and proxies from the environment are ignored (they would hide the target).
//!
//! Refused unless `crawl.allow_private_network` (everything) or `crawl.allow_networks` (CIDRs)
//! allows them: loopback, private (RFC 1918, IPv6 ULA), link-local, CGNAT, unspecified,
//! multicast, broadcast, reserved, documentation and benchmarking ranges, and IPv4 inside
//! IPv6 (mapped, NAT64) by the IPv4 rules.

use clipguard_core::config::CrawlConfig;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    #[error(
        "refused to connect to {ip}: {kind} address (SSRF guard; crawl.allow_networks or \
         crawl.allow_private_network / --allow-private-network allow it)"
    )]
    Refused { ip: IpAddr, kind: &'static str },
    #[error("`{host}` resolves to no permitted address ({reason})")]
    NoAddress { host: String, reason: String },
    #[error("bad crawl.allow_networks entry `{0}` (want CIDR like 127.0.0.0/8)")]
    BadNetwork(String),
}

/// A CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    fn parse(s: &str) -> Option<Net> {
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, p.parse::<u8>().ok()?),
            None => {
                let a = s.trim().parse::<IpAddr>().ok()?;
                (a, if a.is_ipv4() { 32 } else { 128 })
            }
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Net { addr, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        fn bits(ip: IpAddr) -> (u128, u8) {
            match ip {
                IpAddr::V4(v) => (u128::from(u32::from(v)), 32),
                IpAddr::V6(v) => (u128::from(v), 128),
            }
        }
        let ((net, width), (ip, ip_width)) = (bits(self.addr), bits(ip));
        if width != ip_width {
            return false;
        }
        let shift = u32::from(width - self.prefix);
        shift >= 128 || (net >> shift) == (ip >> shift)
    }
}

/// What kind of non-public address `ip` is; `None` for a public one.
pub fn classify(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v) => classify_v4(v),
        IpAddr::V6(v) => classify_v6(v),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "unspecified (0.0.0.0/8)",
        (127, _, _) => "loopback",
        (10, _, _) | (192, 168, _) => "private",
        (172, 16..=31, _) => "private",
        (169, 254, _) => "link-local",
        (100, 64..=127, _) => "shared (CGNAT)",
        (192, 0, 0) => "IETF protocol",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (198, 18..=19, _) => "benchmarking",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved or broadcast",
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let s = ip.segments();
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        // NAT64: the IPv4 address it reaches is what matters.
        let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
        return classify_v4(v4);
    }
    Some(match s[0] {
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_loopback() => "loopback",
        0xfc00..=0xfdff => "private (unique local)",
        0xfe80..=0xfebf => "link-local",
        0xfec0..=0xfeff => "site-local",
        0xff00..=0xffff => "multicast",
        0x2001 if s[1] == 0x0db8 => "documentation",
        // ::/96 (IPv4-compatible, deprecated) and the rest of ::/8.
        0x0000..=0x00ff => "reserved",
        _ => return None,
    })
}

/// Which addresses downloads may connect to.
#[derive(Debug, Clone, Default)]
pub struct NetworkGuard {
    allow_private: bool,
    allow: Vec<Net>,
}

impl NetworkGuard {
    pub fn from_config(config: &CrawlConfig) -> Result<NetworkGuard, GuardError> {
        let allow = config
            .allow_networks
            .iter()
            .map(|s| Net::parse(s).ok_or_else(|| GuardError::BadNetwork(s.clone())))
            .collect::<Result<_, _>>()?;
        Ok(NetworkGuard {
            allow_private: config.allow_private_network,
            allow,
        })
    }

    /// The decision for one address.
    pub fn check(&self, ip: IpAddr) -> Result<(), GuardError> {
        match classify(ip) {
            None => Ok(()),
            Some(_) if self.allow_private || self.allow.iter().any(|n| n.contains(ip)) => Ok(()),
            Some(kind) => Err(GuardError::Refused { ip, kind }),
        }
    }

    /// Checks a URL whose host is an IP literal (names are checked when resolved).
    pub fn check_url(&self, url: &url::Url) -> Result<(), GuardError> {
        match url.host() {
            Some(url::Host::Ipv4(ip)) => self.check(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => self.check(IpAddr::V6(ip)),
            _ => Ok(()),
        }
    }

    /// Keeps the permitted addresses of a resolved name; an error when none is left.
    pub fn filter(
        &self,
        host: &str,
        addrs: Vec<SocketAddr>,
    ) -> Result<Vec<SocketAddr>, GuardError> {
        let mut refused = None;
        let kept: Vec<SocketAddr> = addrs
            .into_iter()
            .filter(|a| match self.check(a.ip()) {
                Ok(()) => true,
                Err(e) => {
                    refused = Some(e);
                    false
                }
            })
            .collect();
        if kept.is_empty() {
            return Err(GuardError::NoAddress {
                host: host.to_string(),
                reason: refused.map_or("it does not resolve".into(), |e| e.to_string()),
            });
        }
        Ok(kept)
    }
}

/// A reqwest resolver that resolves with the system and returns only permitted addresses.
#[derive(Debug)]
pub struct GuardedResolver(pub Arc<NetworkGuard>);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept = guard.filter(&host, addrs)?;
            Ok(Box::new(kept.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(allow_private: bool, allow: &[&str]) -> NetworkGuard {
        NetworkGuard::from_config(&CrawlConfig {
            allow_private_network: allow_private,
            allow_networks: allow.iter().map(|s| s.to_string()).collect(),
            ..clipguard_core::Config::default().crawl
        })
        .unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn private_and_special_addresses_are_refused_public_ones_pass() {
        let g = guard(false, &[]);
        for refused in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "198.18.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2001:db8::1",
            "ff02::1",
        ] {
            assert!(g.check(ip(refused)).is_err(), "{refused} must be refused");
        }
        for public in [
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "8.8.8.8",
            "2606:4700::1111",
        ] {
            assert!(g.check(ip(public)).is_ok(), "{public} is public");
        }
        let e = g.check(ip("169.254.169.254")).unwrap_err().to_string();
        assert!(e.contains("link-local"), "{e}");
    }

    #[test]
    fn allowances_are_explicit_and_narrow() {
        let loopback_only = guard(false, &["127.0.0.0/8", "::1"]);
        assert!(loopback_only.check(ip("127.0.0.1")).is_ok());
        assert!(loopback_only.check(ip("::1")).is_ok());
        assert!(loopback_only.check(ip("10.0.0.1")).is_err());
        assert!(loopback_only.check(ip("::ffff:10.0.0.1")).is_err());
        assert!(guard(true, &[]).check(ip("10.0.0.1")).is_ok());
        assert!(
            NetworkGuard::from_config(&CrawlConfig {
                allow_private_network: false,
                allow_networks: vec!["10.0.0.0/33".into()],
                ..clipguard_core::Config::default().crawl
            })
            .is_err()
        );
    }

    #[test]
    fn resolved_names_keep_only_permitted_addresses() {
        let g = guard(false, &[]);
        let addrs = vec![
            SocketAddr::new(ip("10.0.0.5"), 80),
            SocketAddr::new(ip("93.184.216.34"), 80),
        ];
        assert_eq!(g.filter("x", addrs).unwrap().len(), 1);
        let rebinding = vec![SocketAddr::new(ip("192.168.0.1"), 80)];
        let e = g.filter("evil.example", rebinding).unwrap_err().to_string();
        assert!(e.contains("evil.example") && e.contains("private"), "{e}");
        let url = url::Url::parse("http://[::ffff:127.0.0.1]:8080/x").unwrap();
        assert!(g.check_url(&url).is_err());
    }
}
