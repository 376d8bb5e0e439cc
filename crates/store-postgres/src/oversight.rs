//! [`OversightStore`] on PostgreSQL: approval requests, correction
//! requests, the access log (migration `20261122140000_oversight.sql`).
//! Every operation is retried on serialization failures, like the rest.

use healthcode_core::Bilingual;
use healthcode_store::columns::{instant, to_json, utc_instant};
use healthcode_store::oversight::rows::{
    access_from, check_decision, correction_from, request_from,
};
use healthcode_store::oversight::{
    AccessRecord, ApprovalRequest, CorrectionAnswer, CorrectionRequest, OversightStore,
    RequestDecision, RequestKind, RequestState, SessionInfo,
};
use healthcode_store::{PersonId, PhoneHash, Result, StoreError};
use time::OffsetDateTime;

use crate::{get, retrying, sql, Cols, PgStore};

macro_rules! select_request {
    ($rest:literal) => {
        concat!(
            "SELECT id, kind, person_id, requested_by, requested_ns, expires_ns, reason, legal_basis, body, state, decision, outcome FROM approval_requests ",
            $rest
        )
    };
}

macro_rules! select_correction {
    ($rest:literal) => {
        concat!(
            "SELECT id, person_id, topic, body, filed_ns, due_ns, answer FROM correction_requests ",
            $rest
        )
    };
}

const REQ: &str = "approval request";
const COR: &str = "correction request";

impl OversightStore for PgStore {
    async fn create_request(&self, r: &ApprovalRequest) -> Result<()> {
        let decided_ns = match &r.decision {
            Some(d) => instant(d.at)?,
            None => 0,
        };
        let decision = r.decision.as_ref().map(|d| to_json(REQ, d)).transpose()?;
        let reason = to_json(REQ, &r.reason)?;
        let basis = to_json(REQ, &r.legal_basis)?;
        let requested_ns = instant(r.requested_at)?;
        let expires_ns = instant(r.expires_at)?;
        retrying(|| async {
            sqlx::query(
                "INSERT INTO approval_requests (id, kind, person_id, requested_by, requested_ns, expires_ns, \
                 reason, legal_basis, body, state, decided_ns, decision, outcome) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(&r.id)
            .bind(r.kind.as_str())
            .bind(r.person.as_ref().map(PersonId::as_str))
            .bind(&r.requested_by)
            .bind(requested_ns)
            .bind(expires_ns)
            .bind(&reason)
            .bind(&basis)
            .bind(&r.body)
            .bind(r.state.as_str())
            .bind(decided_ns)
            .bind(&decision)
            .bind(&r.outcome)
            .execute(self.pool())
            .await
            .map_err(sql("an approval request with this id"))?;
            Ok(())
        })
        .await
    }

    async fn request(&self, id: &str) -> Result<Option<ApprovalRequest>> {
        retrying(|| async {
            let row = sqlx::query(select_request!("WHERE id = $1"))
                .bind(id)
                .fetch_optional(self.pool())
                .await
                .map_err(sql(REQ))?;
            Ok(row.as_ref().map(|r| request_from(&Cols(r))).transpose()?)
        })
        .await
    }

    async fn requests(
        &self,
        kind: RequestKind,
        state: RequestState,
        limit: u32,
    ) -> Result<Vec<ApprovalRequest>> {
        retrying(|| async {
            let query = if state == RequestState::Pending {
                sqlx::query(select_request!(
                    "WHERE kind = $1 AND state = $2 ORDER BY requested_ns, id LIMIT $3"
                ))
            } else {
                sqlx::query(select_request!(
                    "WHERE kind = $1 AND state = $2 ORDER BY decided_ns DESC, id LIMIT $3"
                ))
            };
            let rows = query
                .bind(kind.as_str())
                .bind(state.as_str())
                .bind(i64::from(limit))
                .fetch_all(self.pool())
                .await
                .map_err(sql(REQ))?;
            Ok(rows
                .iter()
                .map(|r| request_from(&Cols(r)))
                .collect::<Result<Vec<_>>>()?)
        })
        .await
    }

    async fn requests_about(&self, person: &PersonId) -> Result<Vec<ApprovalRequest>> {
        retrying(|| async {
            let rows = sqlx::query(select_request!(
                "WHERE person_id = $1 ORDER BY requested_ns, id"
            ))
            .bind(person.as_str())
            .fetch_all(self.pool())
            .await
            .map_err(sql(REQ))?;
            Ok(rows
                .iter()
                .map(|r| request_from(&Cols(r)))
                .collect::<Result<Vec<_>>>()?)
        })
        .await
    }

    async fn request_times(
        &self,
        official: &str,
        kind: RequestKind,
        since: OffsetDateTime,
    ) -> Result<Vec<OffsetDateTime>> {
        let since = instant(since)?;
        retrying(|| async {
            let rows = sqlx::query(
                "SELECT requested_ns FROM approval_requests \
                 WHERE requested_by = $1 AND kind = $2 AND requested_ns >= $3 ORDER BY requested_ns",
            )
            .bind(official)
            .bind(kind.as_str())
            .bind(since)
            .fetch_all(self.pool())
            .await
            .map_err(sql(REQ))?;
            Ok(rows
                .iter()
                .map(|r| utc_instant(REQ, get(r, "requested_ns")?))
                .collect::<Result<Vec<_>>>()?)
        })
        .await
    }

    async fn decide_request(
        &self,
        id: &str,
        decision: &RequestDecision,
        outcome: Option<&str>,
    ) -> Result<ApprovalRequest> {
        check_decision(decision)?;
        let json = to_json(REQ, decision)?;
        let decided_ns = instant(decision.at)?;
        let updated = retrying(|| async {
            let row = sqlx::query(
                "UPDATE approval_requests SET state = $1, decided_ns = $2, decision = $3, outcome = $5 \
                 WHERE id = $4 AND state = 'pending' RETURNING id, kind, person_id, requested_by, \
                 requested_ns, expires_ns, reason, legal_basis, body, state, decision, outcome",
            )
            .bind(decision.state.as_str())
            .bind(decided_ns)
            .bind(&json)
            .bind(id)
            .bind(outcome)
            .fetch_optional(self.pool())
            .await
            .map_err(sql(REQ))?;
            Ok(row.as_ref().map(|r| request_from(&Cols(r))).transpose()?)
        })
        .await?;
        match updated {
            Some(r) => Ok(r),
            None => match self.request(id).await? {
                Some(_) => Err(StoreError::Conflict("a decision on this request")),
                None => Err(StoreError::NotFound(REQ)),
            },
        }
    }

    async fn set_request_outcome(&self, id: &str, outcome: &str) -> Result<()> {
        retrying(|| async {
            let done = sqlx::query("UPDATE approval_requests SET outcome = $1 WHERE id = $2")
                .bind(outcome)
                .bind(id)
                .execute(self.pool())
                .await
                .map_err(sql(REQ))?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound(REQ).into());
            }
            Ok(())
        })
        .await
    }

    async fn expire_requests(&self, now: OffsetDateTime) -> Result<Vec<ApprovalRequest>> {
        let now_ns = instant(now)?;
        let decision = RequestDecision {
            state: RequestState::Expired,
            by: "system".to_owned(),
            at: now,
            note: Bilingual::new(
                "审批期限已过，申请自动失效。",
                "Not decided before its deadline: the request expired.",
            ),
        };
        let json = to_json(REQ, &decision)?;
        retrying(|| async {
            // One statement: concurrent sweeps never expire a request twice.
            let rows = sqlx::query(
                "UPDATE approval_requests SET state = 'expired', decided_ns = $1, decision = $2 \
                 WHERE state = 'pending' AND expires_ns <= $1 RETURNING id, kind, person_id, requested_by, \
                 requested_ns, expires_ns, reason, legal_basis, body, state, decision, outcome",
            )
            .bind(now_ns)
            .bind(&json)
            .fetch_all(self.pool())
            .await
            .map_err(sql(REQ))?;
            let mut expired = rows
                .iter()
                .map(|r| request_from(&Cols(r)))
                .collect::<Result<Vec<_>>>()?;
            expired.sort_by(|a, b| (a.requested_at, &a.id).cmp(&(b.requested_at, &b.id)));
            Ok(expired)
        })
        .await
    }

    async fn create_correction(&self, c: &CorrectionRequest) -> Result<()> {
        let answer = c.answer.as_ref().map(|a| to_json(COR, a)).transpose()?;
        let topic = to_json(COR, &c.topic)?;
        let filed_ns = instant(c.filed_at)?;
        let due_ns = instant(c.due_at)?;
        retrying(|| async {
            sqlx::query(
                "INSERT INTO correction_requests (id, person_id, topic, body, filed_ns, due_ns, answered, answer) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&c.id)
            .bind(c.person.as_str())
            .bind(&topic)
            .bind(&c.text)
            .bind(filed_ns)
            .bind(due_ns)
            .bind(i64::from(answer.is_some()))
            .bind(&answer)
            .execute(self.pool())
            .await
            .map_err(sql("a correction request with this id"))?;
            Ok(())
        })
        .await
    }

    async fn correction(&self, id: &str) -> Result<Option<CorrectionRequest>> {
        retrying(|| async {
            let row = sqlx::query(select_correction!("WHERE id = $1"))
                .bind(id)
                .fetch_optional(self.pool())
                .await
                .map_err(sql(COR))?;
            Ok(row
                .as_ref()
                .map(|r| correction_from(&Cols(r)))
                .transpose()?)
        })
        .await
    }

    async fn open_corrections(&self, limit: u32) -> Result<Vec<CorrectionRequest>> {
        retrying(|| async {
            let rows = sqlx::query(select_correction!(
                "WHERE answered = 0 ORDER BY filed_ns, id LIMIT $1"
            ))
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await
            .map_err(sql(COR))?;
            Ok(rows
                .iter()
                .map(|r| correction_from(&Cols(r)))
                .collect::<Result<Vec<_>>>()?)
        })
        .await
    }

    async fn corrections_about(&self, person: &PersonId) -> Result<Vec<CorrectionRequest>> {
        retrying(|| async {
            let rows = sqlx::query(select_correction!(
                "WHERE person_id = $1 ORDER BY filed_ns DESC, id"
            ))
            .bind(person.as_str())
            .fetch_all(self.pool())
            .await
            .map_err(sql(COR))?;
            Ok(rows
                .iter()
                .map(|r| correction_from(&Cols(r)))
                .collect::<Result<Vec<_>>>()?)
        })
        .await
    }

    async fn answer_correction(
        &self,
        id: &str,
        answer: &CorrectionAnswer,
    ) -> Result<CorrectionRequest> {
        let json = to_json(COR, answer)?;
        let updated = retrying(|| async {
            let row = sqlx::query(
                "UPDATE correction_requests SET answered = 1, answer = $1 WHERE id = $2 AND answered = 0 \
                 RETURNING id, person_id, topic, body, filed_ns, due_ns, answer",
            )
            .bind(&json)
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(sql(COR))?;
            Ok(row.as_ref().map(|r| correction_from(&Cols(r))).transpose()?)
        })
        .await?;
        match updated {
            Some(c) => Ok(c),
            None => match self.correction(id).await? {
                Some(_) => Err(StoreError::Conflict("an answer to this correction request")),
                None => Err(StoreError::NotFound(COR)),
            },
        }
    }

    async fn record_access(&self, a: &AccessRecord) -> Result<()> {
        let at_ns = instant(a.at)?;
        retrying(|| async {
            sqlx::query(
                "INSERT INTO access_log (person_id, at_ns, official, roles, what, purpose) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(a.person.as_str())
            .bind(at_ns)
            .bind(&a.official)
            .bind(&a.roles)
            .bind(&a.what)
            .bind(&a.purpose)
            .execute(self.pool())
            .await
            .map_err(sql("access record"))?;
            Ok(())
        })
        .await
    }

    async fn accesses_about(&self, person: &PersonId, limit: u32) -> Result<Vec<AccessRecord>> {
        retrying(|| async {
            let rows = sqlx::query(
                "SELECT person_id, at_ns, official, roles, what, purpose FROM access_log \
                 WHERE person_id = $1 ORDER BY at_ns DESC LIMIT $2",
            )
            .bind(person.as_str())
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await
            .map_err(sql("access record"))?;
            Ok(rows
                .iter()
                .map(|r| access_from(&Cols(r)))
                .collect::<Result<Vec<_>>>()?)
        })
        .await
    }

    async fn sessions_of_phone(
        &self,
        phone: &PhoneHash,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionInfo>> {
        let now = instant(now)?;
        retrying(|| async {
            let rows = sqlx::query(
                "SELECT created_ns, expires_ns FROM sessions WHERE subject_phone = $1 AND expires_ns > $2 \
                 ORDER BY created_ns",
            )
            .bind(&phone.0[..])
            .bind(now)
            .fetch_all(self.pool())
            .await
            .map_err(sql("session"))?;
            Ok(rows
                .iter()
                .map(|r| {
                    Ok(SessionInfo {
                        created_at: utc_instant("session", get(r, "created_ns")?)?,
                        expires_at: utc_instant("session", get(r, "expires_ns")?)?,
                    })
                })
                .collect::<Result<Vec<_>>>()?)
        })
        .await
    }

    async fn erase_oversight_person(&self, person: &PersonId) -> Result<u64> {
        retrying(|| async {
            let mut tx = self.pool().begin().await.map_err(sql("erase"))?;
            let mut n = 0;
            for q in [
                "DELETE FROM approval_requests WHERE person_id = $1",
                "DELETE FROM correction_requests WHERE person_id = $1",
                "DELETE FROM access_log WHERE person_id = $1",
            ] {
                n += sqlx::query(q)
                    .bind(person.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(sql("erase"))?
                    .rows_affected();
            }
            tx.commit().await.map_err(sql("erase"))?;
            Ok(n)
        })
        .await
    }
}
