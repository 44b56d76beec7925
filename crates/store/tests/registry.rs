//! The registry takes in only device keys both verifiers agree under: Ed25519 public keys of
//! prime order (`dampwatch_wire::public_key`).

use dampwatch_pg::PrivatePostgres;
use dampwatch_store::registry::{add_device, device_exists, NewDevice, RegistryError};

/// RFC 8032, section 7.1, test 1: a key made from a seed.
const SEED_MADE: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
/// From the ed25519-speccheck set (firmware/tests/data): case 0's key is of small order, case
/// 2's of mixed order; `ring` and ed25519-compact answer differently under both.
const SMALL_ORDER: &str = "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa";
const MIXED_ORDER: &str = "f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43";

fn device<'a>(id: &'a str, key: &'a [u8]) -> NewDevice<'a> {
    NewDevice { id, landlord: "acme", public_key: key, key_id: 1, cert_serial: None, provisioned_at: None }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_key_not_of_prime_order_is_refused_and_nothing_is_registered() {
    let pg = tokio::task::spawn_blocking(PrivatePostgres::temporary).await.expect("join").expect("postgres");
    dampwatch_store::prepare_database(&pg.url()).await.expect("schema");
    let db = dampwatch_store::connect(&pg.url()).await.expect("connect");

    for (id, key) in [("small", SMALL_ORDER), ("mixed", MIXED_ORDER)] {
        let key = hex::decode(key).unwrap();
        let err = add_device(&db, &device(id, &key)).await.expect_err("refused");
        assert!(matches!(err, RegistryError::KeyNotPrimeOrder(_)), "{id}: {err}");
        assert!(err.to_string().contains("prime order"), "{err}");
        assert!(!device_exists(&db, id).await.unwrap(), "{id} is not registered");
    }
    let short = add_device(&db, &device("short", &[7; 31])).await.expect_err("31 bytes");
    assert!(matches!(short, RegistryError::BadKey(31)), "{short}");

    let key = hex::decode(SEED_MADE).unwrap();
    add_device(&db, &device("honest", &key)).await.expect("a key made from a seed is registered");
    assert!(device_exists(&db, "honest").await.unwrap());
}
