//! Where a webhook may go. URLs are checked when saved (scheme, host, no private address
//! literal) and again at send time after DNS resolution, when a name that resolved to a public
//! address yesterday may resolve to `169.254.169.254` today: a webhook must never become a way
//! into the deployment's own network.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use atelier_platform::outbound::WebhookPolicy;

/// Longest URL accepted.
pub const URL_MAX: usize = 2048;

/// Why a URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not an absolute http(s) URL with a host.
    #[error("must be an absolute https URL")]
    Malformed,
    /// `http://` where only https is allowed.
    #[error("must use https")]
    NotHttps,
    /// Credentials in the URL.
    #[error("must not carry credentials")]
    Credentials,
    /// A private, loopback, link-local or reserved address.
    #[error("must not point at a private, loopback, link-local or reserved address")]
    PrivateAddress,
    /// Longer than [`URL_MAX`].
    #[error("must be at most 2048 characters")]
    TooLong,
}

/// The parts of a checked URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL as given.
    pub uri: http::Uri,
    /// Its host.
    pub host: String,
}

/// Checks `url` against `policy`, before any DNS lookup.
pub fn check(url: &str, policy: WebhookPolicy) -> Result<Target, TargetError> {
    if url.len() > URL_MAX {
        return Err(TargetError::TooLong);
    }
    let uri: http::Uri = url.parse().map_err(|_| TargetError::Malformed)?;
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if policy.allow_plain_http => {}
        Some("http") => return Err(TargetError::NotHttps),
        _ => return Err(TargetError::Malformed),
    }
    let authority = uri.authority().ok_or(TargetError::Malformed)?;
    if authority.as_str().contains('@') {
        return Err(TargetError::Credentials);
    }
    let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    if host.is_empty() {
        return Err(TargetError::Malformed);
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        if !allowed(ip, policy) {
            return Err(TargetError::PrivateAddress);
        }
    } else if (host == "localhost" || host.ends_with(".localhost")) && !policy.allow_loopback {
        return Err(TargetError::PrivateAddress);
    }
    Ok(Target { uri, host })
}

/// Whether a webhook may connect to `ip`.
pub fn allowed(ip: IpAddr, policy: WebhookPolicy) -> bool {
    match ip {
        IpAddr::V4(v4) => allowed_v4(v4, policy),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => allowed_v4(v4, policy),
            None => allowed_v6(v6, policy),
        },
    }
}

fn allowed_v4(ip: Ipv4Addr, policy: WebhookPolicy) -> bool {
    if ip.is_loopback() {
        return policy.allow_loopback;
    }
    let [a, b, ..] = ip.octets();
    !(ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 192 && b == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240)
}

fn allowed_v6(ip: Ipv6Addr, policy: WebhookPolicy) -> bool {
    if ip.is_loopback() {
        return policy.allow_loopback;
    }
    // Global unicast only (2000::/3), without the ranges that tunnel to IPv4 or are not
    // routable: NAT64 and IPv4-compatible addresses fall outside 2000::/3 anyway.
    let [first, second, ..] = ip.segments();
    (first & 0xe000) == 0x2000
        && first != 0x2002 // 6to4
        && !(first == 0x2001 && second == 0) // Teredo
        && !(first == 0x2001 && second == 0x0db8) // documentation
        && !(first == 0x2001 && second < 0x0200) // IETF protocol assignments
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROD: WebhookPolicy = WebhookPolicy { allow_loopback: false, allow_plain_http: false };
    const LOCAL: WebhookPolicy = WebhookPolicy { allow_loopback: true, allow_plain_http: true };

    #[test]
    fn production_takes_public_https_only() {
        assert!(check("https://hooks.example.com/atelier?x=1", PROD).is_ok());
        assert!(check("https://[2606:4700::1111]/hook", PROD).is_ok());
        assert_eq!(check("http://hooks.example.com/", PROD), Err(TargetError::NotHttps));
        assert_eq!(check("ftp://hooks.example.com/", PROD), Err(TargetError::Malformed));
        assert_eq!(check("not a url", PROD), Err(TargetError::Malformed));
        assert_eq!(check("/relative", PROD), Err(TargetError::Malformed));
        assert_eq!(check("https://user:pw@hooks.example.com/", PROD), Err(TargetError::Credentials));
        for private in [
            "https://127.0.0.1/",
            "https://localhost:8080/",
            "https://10.1.2.3/",
            "https://172.16.0.1/",
            "https://192.168.1.1/",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://[fe80::1]/",
            "https://[::ffff:10.0.0.1]/",
            "https://[64:ff9b::a9fe:a9fe]/",
            "https://[2002:a9fe:a9fe::1]/",
            "https://[2001:0:4136:e378::1]/",
            "https://[::a9fe:a9fe]/",
            "https://[fec0::1]/",
        ] {
            assert_eq!(check(private, PROD), Err(TargetError::PrivateAddress), "{private}");
        }
        assert_eq!(
            check(&format!("https://a.example/{}", "x".repeat(URL_MAX)), PROD),
            Err(TargetError::TooLong)
        );
    }

    #[test]
    fn local_use_may_reach_loopback_but_never_the_rest() {
        assert!(check("http://127.0.0.1:9000/hook", LOCAL).is_ok());
        assert!(check("http://localhost:9000/hook", LOCAL).is_ok());
        assert_eq!(check("http://169.254.169.254/", LOCAL), Err(TargetError::PrivateAddress));
        assert_eq!(check("http://10.0.0.1/", LOCAL), Err(TargetError::PrivateAddress));
    }
}
