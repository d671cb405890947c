//! Staged publishes: kept until a maintainer approves (the gateway then publishes the kept
//! document upstream) or rejects them.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::Store;
use crate::error::ServeError;

/// One staged publish.
#[derive(Clone, Debug)]
pub struct Staged {
    /// The stage id (a UUID, as `npm stage` checks).
    pub id: String,
    /// Package name.
    pub package: String,
    /// The staged version.
    pub version: String,
    /// The dist-tag it will get.
    pub tag: String,
    /// Who staged it (for OIDC, the maintainer who set the trust).
    pub account: String,
    /// `user` or `oidc`.
    pub actor_type: String,
    /// SHA-1 of the tarball, as the manifest gives it.
    pub shasum: String,
    /// Unix seconds.
    pub created: i64,
    /// The publish document; empty in lists.
    pub body: String,
}

fn staged(r: &AnyRow, with_body: bool) -> Result<Staged, sqlx::Error> {
    Ok(Staged {
        id: r.try_get("id")?,
        package: r.try_get("package")?,
        version: r.try_get("version")?,
        tag: r.try_get("tag")?,
        account: r.try_get("account")?,
        actor_type: r.try_get("actor_type")?,
        shasum: r.try_get("shasum")?,
        created: r.try_get("created")?,
        body: if with_body {
            r.try_get("body")?
        } else {
            String::new()
        },
    })
}

/// What one package and one account may have waiting, so staging — which needs no second
/// factor — cannot fill the store.
#[derive(Clone, Copy, Debug)]
pub struct StageLimits {
    /// Seconds a staged publish waits for approval; older ones are gone.
    pub ttl: i64,
    /// Staged publishes one package may have waiting.
    pub per_package: i64,
    /// Bytes of staged documents one account may have waiting.
    pub bytes_per_account: i64,
}

/// Why a staged publish was not kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StageRefusal {
    /// The package has `per_package` staged publishes waiting.
    PackageFull,
    /// The account's waiting documents would exceed its bytes.
    AccountFull,
}

impl Store {
    /// Keeps a staged publish if the package and the account stay within `limits` (counting
    /// only what has not expired at `s.created`). The row is written first and the limits
    /// counted with it, so on SQLite the write lock orders concurrent stagings; on PostgreSQL
    /// concurrent ones may overrun a limit by at most their number.
    pub async fn stage(
        &self,
        s: &Staged,
        limits: &StageLimits,
    ) -> Result<Result<(), StageRefusal>, ServeError> {
        let since = s.created.saturating_sub(limits.ttl);
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO staged (id, package, version, tag, account, actor_type, shasum, body, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .bind(&s.id)
            .bind(&s.package)
            .bind(&s.version)
            .bind(&s.tag)
            .bind(&s.account)
            .bind(&s.actor_type)
            .bind(&s.shasum)
            .bind(&s.body)
            .bind(s.created)
            .execute(&mut *tx)
            .await?;
        let waiting: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM staged WHERE package = $1 AND created > $2")
                .bind(&s.package)
                .bind(since)
                .fetch_one(&mut *tx)
                .await?;
        if waiting > limits.per_package {
            return Ok(Err(StageRefusal::PackageFull));
        }
        let bytes: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(LENGTH(body)), 0) AS BIGINT) FROM staged WHERE account = $1 AND created > $2",
        )
        .bind(&s.account)
        .bind(since)
        .fetch_one(&mut *tx)
        .await?;
        if bytes > limits.bytes_per_account {
            return Ok(Err(StageRefusal::AccountFull));
        }
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Puts back a staged publish taken for approval whose publish failed upstream: it was
    /// within the limits when staged, and keeps its age.
    pub async fn restage(&self, s: &Staged) -> Result<(), ServeError> {
        let unbounded = StageLimits {
            ttl: i64::MAX,
            per_package: i64::MAX,
            bytes_per_account: i64::MAX,
        };
        self.stage(s, &unbounded).await.map(|_| ())
    }

    /// One staged publish with its document, unless it was staged at or before `since`
    /// (expired).
    pub async fn staged(&self, id: &str, since: i64) -> Result<Option<Staged>, ServeError> {
        let row = sqlx::query("SELECT id, package, version, tag, account, actor_type, shasum, body, created FROM staged WHERE id = $1 AND created > $2")
            .bind(id)
            .bind(since)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| staged(&r, true)).transpose()?)
    }

    /// The staged publishes `account` may see (of packages it maintains, or staged by it),
    /// optionally of one package, staged after `since`, oldest first: one page and the total.
    pub async fn staged_list(
        &self,
        account: &str,
        package: Option<&str>,
        since: i64,
        page: i64,
        per_page: i64,
    ) -> Result<(Vec<Staged>, i64), ServeError> {
        // The same filter in both statements: what the account may see, then the package.
        let total: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM staged s WHERE (s.account = $1 OR EXISTS (SELECT 1 FROM maintainers m WHERE m.package = s.package AND m.account = $1)) AND ($2 = '' OR s.package = $2) AND s.created > $3",
        )
        .bind(account)
        .bind(package.unwrap_or_default())
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        let rows = sqlx::query(
            "SELECT s.id, s.package, s.version, s.tag, s.account, s.actor_type, s.shasum, s.created FROM staged s WHERE (s.account = $1 OR EXISTS (SELECT 1 FROM maintainers m WHERE m.package = s.package AND m.account = $1)) AND ($2 = '' OR s.package = $2) AND s.created > $3 ORDER BY s.created, s.id LIMIT $4 OFFSET $5",
        )
        .bind(account)
        .bind(package.unwrap_or_default())
        .bind(since)
        .bind(per_page)
        .bind(page.saturating_mul(per_page))
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(|r| staged(r, false))
            .collect::<Result<_, sqlx::Error>>()?;
        Ok((items, total))
    }

    /// Drops a staged publish; `true` for the one caller that did (approval and rejection
    /// happen once).
    pub async fn unstage(&self, id: &str) -> Result<bool, ServeError> {
        let r = sqlx::query("DELETE FROM staged WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Deletes the staged publishes staged at or before `since` (expired); how many.
    pub async fn prune_staged(&self, since: i64) -> Result<u64, ServeError> {
        let r = sqlx::query("DELETE FROM staged WHERE created <= $1")
            .bind(since)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }
}
