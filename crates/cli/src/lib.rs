//! The operator's commands that are also used as a library: the device registry from the
//! command line ([`devices`]), which the end-to-end tests drive as an operator would, the
//! audit log's export and verification ([`audit`]), a case's evidence pack ([`evidence`]) and
//! encrypted backups and their restore ([`backup`]), the retention policy and legal holds
//! ([`retention`]), and tenants' personal data sealed per landlord ([`privacy`]).

pub mod audit;
pub mod backup;
pub mod devices;
pub mod evidence;
pub mod people;
pub mod privacy;
pub mod retention;
