//! The HTTPS server certificate of the landlord API listener (`DIR/web/{cert,key}.pem`): the
//! names browsers and landlords' systems reach the API by, signed by the development CA, EKU
//! serverAuth. [`crate::init`] makes one for loopback; [`issue_web`] one for any names.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rcgen::{Issuer, KeyPair, SanType};

use crate::ca;
use crate::error::PkiError;
use crate::index::{subject_key, Index};
use crate::leaf::{self, Profile};
use crate::paths::Paths;
use crate::service::IssueOptions;
use crate::validity::{check_days, validity};

/// The longest DNS name (RFC 1035: 253 characters in text form).
const MAX_DNS_NAME: usize = 253;

/// The host names and addresses a web certificate is valid for (its subject alternative names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebNames {
    pub dns: Vec<String>,
    pub ips: Vec<IpAddr>,
}

impl WebNames {
    /// `localhost`, `127.0.0.1` and `::1`: what `dampwatch pki init` issues for, enough for a
    /// listener on loopback.
    pub fn loopback() -> Self {
        WebNames {
            dns: vec!["localhost".to_owned()],
            ips: vec![IpAddr::from([127, 0, 0, 1]), IpAddr::from(std::net::Ipv6Addr::LOCALHOST)],
        }
    }

    /// Refuses an empty list and anything that is not a DNS name (letters, digits, hyphens,
    /// dots; a leading `*.` for a wildcard). An address given as a DNS name is refused too:
    /// clients match addresses only against IP entries.
    pub fn check(&self) -> Result<(), PkiError> {
        if self.dns.is_empty() && self.ips.is_empty() {
            return Err(PkiError::InvalidHostName { name: String::new(), reason: "no names given" });
        }
        for name in &self.dns {
            check_dns_name(name)?;
        }
        Ok(())
    }

    pub(crate) fn subject_alt_names(&self) -> Result<Vec<SanType>, PkiError> {
        self.check()?;
        let mut names = Vec::with_capacity(self.dns.len() + self.ips.len());
        for name in &self.dns {
            names.push(SanType::DnsName(name.as_str().try_into()?));
        }
        names.extend(self.ips.iter().copied().map(SanType::IpAddress));
        Ok(names)
    }
}

fn check_dns_name(name: &str) -> Result<(), PkiError> {
    let bad = |reason| Err(PkiError::InvalidHostName { name: name.to_owned(), reason });
    if name.parse::<IpAddr>().is_ok() {
        return bad("is an address: give it with --ip");
    }
    if name.is_empty() || name.len() > MAX_DNS_NAME {
        return bad("must have 1 to 253 characters");
    }
    let host = name.strip_prefix("*.").unwrap_or(name);
    let labels_ok = host.split('.').all(|label| {
        (1..=63).contains(&label.len())
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    if !labels_ok {
        return bad("must be dot-separated labels of letters, digits and inner hyphens");
    }
    Ok(())
}

/// What was issued to the API listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedWeb {
    pub serial: u64,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub names: WebNames,
}

/// Issues `DIR/web/{cert,key}.pem` for `names` (refused over an existing certificate unless
/// `options.force`; the old serial stays in the index). A running collector reads the files
/// when it starts.
pub fn issue_web(dir: &Path, names: &WebNames, options: IssueOptions) -> Result<IssuedWeb, PkiError> {
    names.check()?;
    check_days(options.validity_days)?;
    let _lock = crate::dir_lock::lock(dir, false)?;
    let paths = Paths::new(dir);
    let ca = ca::load(&paths)?;
    let cert = paths.web_cert();
    if cert.exists() && !options.force {
        return Err(PkiError::WebAlreadyIssued { path: cert });
    }
    let mut index = Index::load(&paths.index())?;
    issue_with(&paths, &mut index, &ca, names, options.validity_days, Utc::now())
}

/// Reserves a serial (saving the index), then writes the key and certificate.
pub(crate) fn issue_with(
    paths: &Paths,
    index: &mut Index,
    ca: &Issuer<'_, KeyPair>,
    names: &WebNames,
    validity_days: u32,
    now: DateTime<Utc>,
) -> Result<IssuedWeb, PkiError> {
    let index_path = paths.index();
    let serial = index.issue(&subject_key("web", None), now, &index_path)?;
    index.save(&index_path)?;
    let (cert, key) = (paths.web_cert(), paths.web_key());
    leaf::issue(Profile::Web { names }, serial, validity(now, validity_days)?, ca, &cert, &key)?;
    Ok(IssuedWeb { serial, cert, key, names: names.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_follow_the_dns_rules() {
        for good in ["localhost", "api.example.org", "*.example.org", "a-b.c1"] {
            check_dns_name(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        for bad in ["", "127.0.0.1", "::1", "a..b", "-a.b", "a_b", "a b", "*", "a.*.b", "é.org"] {
            assert!(check_dns_name(bad).is_err(), "{bad:?} must be refused");
        }
        let none = WebNames { dns: vec![], ips: vec![] };
        assert!(none.check().is_err());
        WebNames::loopback().check().unwrap();
    }
}
