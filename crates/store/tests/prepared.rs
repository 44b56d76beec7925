//! A connection's prepared statements (src/prepared.rs): prepared once, run again without a
//! round trip to prepare, and still there after the transaction that prepared one rolls back.

use dampwatch_pg::PrivatePostgres;
use dampwatch_store::Prepared;

const NEXT: &str = "SELECT $1::int8 + 1";

#[tokio::test]
async fn a_statement_is_prepared_once_and_outlives_the_transaction_that_prepared_it() {
    let pg = tokio::task::spawn_blocking(|| PrivatePostgres::temporary().expect("start PostgreSQL"))
        .await
        .expect("join");
    let mut client = dampwatch_store::connect(&pg.url()).await.expect("connect");
    let mut prepared = Prepared::default();

    let tx = client.transaction().await.expect("begin");
    let first = prepared.statement(&tx, NEXT).await.expect("prepare");
    assert_eq!(tx.query_one(&first, &[&1_i64]).await.expect("run").get::<_, i64>(0), 2);
    tx.rollback().await.expect("roll back");

    let tx = client.transaction().await.expect("begin");
    let again = prepared.statement(&tx, NEXT).await.expect("kept");
    assert_eq!(tx.query_one(&again, &[&41_i64]).await.expect("run after a rollback").get::<_, i64>(0), 42);
    tx.commit().await.expect("commit");

    assert_eq!(prepared.len(), 1);
    let on_server: i64 = client
        .query_one("SELECT count(*) FROM pg_prepared_statements WHERE statement = $1", &[&NEXT])
        .await
        .expect("prepared statements")
        .get(0);
    // Both handles are alive: had the text been prepared twice, the server would hold it twice.
    assert_eq!(on_server, 1, "PostgreSQL holds the statement once");
    drop((first, again));
}
