//! [`OversightStore`] on SQLite: approval requests, correction requests,
//! the access log (migration `20261122140000_oversight.sql`).

use healthcode_store::columns::utc_instant;
use healthcode_store::columns::{instant, to_json};
use healthcode_store::oversight::rows::{
    access_from, check_decision, correction_from, request_from, ACCESS_COLUMNS, CORRECTION_COLUMNS,
    REQUEST_COLUMNS,
};
use healthcode_store::oversight::{
    AccessRecord, ApprovalRequest, CorrectionAnswer, CorrectionRequest, OversightStore,
    RequestDecision, RequestKind, RequestState, SessionInfo,
};
use healthcode_store::{PersonId, PhoneHash, Result, StoreError};
use time::OffsetDateTime;

use crate::{error, get, Cols, SqliteStore};

impl OversightStore for SqliteStore {
    async fn create_request(&self, r: &ApprovalRequest) -> Result<()> {
        let decided_ns = match &r.decision {
            Some(d) => instant(d.at)?,
            None => 0,
        };
        let decision = r
            .decision
            .as_ref()
            .map(|d| to_json("approval request", d))
            .transpose()?;
        sqlx::query(
            "INSERT INTO approval_requests (id, kind, person_id, requested_by, requested_ns, expires_ns, \
             reason, legal_basis, body, state, decided_ns, decision, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&r.id)
        .bind(r.kind.as_str())
        .bind(r.person.as_ref().map(PersonId::as_str))
        .bind(&r.requested_by)
        .bind(instant(r.requested_at)?)
        .bind(instant(r.expires_at)?)
        .bind(to_json("approval request", &r.reason)?)
        .bind(to_json("approval request", &r.legal_basis)?)
        .bind(&r.body)
        .bind(r.state.as_str())
        .bind(decided_ns)
        .bind(decision)
        .bind(&r.outcome)
        .execute(self.pool())
        .await
        .map_err(|e| error(e, "an approval request with this id"))?;
        Ok(())
    }

    async fn request(&self, id: &str) -> Result<Option<ApprovalRequest>> {
        let sql = format!("SELECT {REQUEST_COLUMNS} FROM approval_requests WHERE id = ?");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(|e| error(e, "approval request"))?;
        row.as_ref().map(|r| request_from(&Cols(r))).transpose()
    }

    async fn requests(
        &self,
        kind: RequestKind,
        state: RequestState,
        limit: u32,
    ) -> Result<Vec<ApprovalRequest>> {
        let order = if state == RequestState::Pending {
            "requested_ns, id"
        } else {
            "decided_ns DESC, id"
        };
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM approval_requests WHERE kind = ? AND state = ? ORDER BY {order} LIMIT ?"
        );
        let rows = sqlx::query(&sql)
            .bind(kind.as_str())
            .bind(state.as_str())
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await
            .map_err(|e| error(e, "approval request"))?;
        rows.iter().map(|r| request_from(&Cols(r))).collect()
    }

    async fn requests_about(&self, person: &PersonId) -> Result<Vec<ApprovalRequest>> {
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM approval_requests WHERE person_id = ? ORDER BY requested_ns, id"
        );
        let rows = sqlx::query(&sql)
            .bind(person.as_str())
            .fetch_all(self.pool())
            .await
            .map_err(|e| error(e, "approval request"))?;
        rows.iter().map(|r| request_from(&Cols(r))).collect()
    }

    async fn request_times(
        &self,
        official: &str,
        kind: RequestKind,
        since: OffsetDateTime,
    ) -> Result<Vec<OffsetDateTime>> {
        let rows = sqlx::query(
            "SELECT requested_ns FROM approval_requests \
             WHERE requested_by = ? AND kind = ? AND requested_ns >= ? ORDER BY requested_ns",
        )
        .bind(official)
        .bind(kind.as_str())
        .bind(instant(since)?)
        .fetch_all(self.pool())
        .await
        .map_err(|e| error(e, "approval request"))?;
        rows.iter()
            .map(|r| utc_instant("approval request", get(r, "requested_ns")?))
            .collect()
    }

    async fn decide_request(
        &self,
        id: &str,
        decision: &RequestDecision,
        outcome: Option<&str>,
    ) -> Result<ApprovalRequest> {
        check_decision(decision)?;
        let json = to_json("approval request", decision)?;
        let sql = format!(
            "UPDATE approval_requests SET state = ?, decided_ns = ?, decision = ?, outcome = ? \
             WHERE id = ? AND state = 'pending' RETURNING {REQUEST_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(decision.state.as_str())
            .bind(instant(decision.at)?)
            .bind(json)
            .bind(outcome)
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(|e| error(e, "approval request"))?;
        match row {
            Some(row) => request_from(&Cols(&row)),
            None => match self.request(id).await? {
                Some(_) => Err(StoreError::Conflict("a decision on this request")),
                None => Err(StoreError::NotFound("approval request")),
            },
        }
    }

    async fn set_request_outcome(&self, id: &str, outcome: &str) -> Result<()> {
        let done = sqlx::query("UPDATE approval_requests SET outcome = ? WHERE id = ?")
            .bind(outcome)
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(|e| error(e, "approval request"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("approval request"));
        }
        Ok(())
    }

    async fn expire_requests(&self, now: OffsetDateTime) -> Result<Vec<ApprovalRequest>> {
        let now_ns = instant(now)?;
        let mut tx = self
            .pool()
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| error(e, "approval request"))?;
        let sql = format!(
            "SELECT {REQUEST_COLUMNS} FROM approval_requests WHERE state = 'pending' AND expires_ns <= ? ORDER BY requested_ns, id"
        );
        let rows = sqlx::query(&sql)
            .bind(now_ns)
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| error(e, "approval request"))?;
        let mut expired = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut r = request_from(&Cols(row))?;
            let decision = RequestDecision {
                state: RequestState::Expired,
                by: "system".to_owned(),
                at: now,
                note: healthcode_core::Bilingual::new(
                    "审批期限已过，申请自动失效。",
                    "Not decided before its deadline: the request expired.",
                ),
            };
            sqlx::query(
                "UPDATE approval_requests SET state = 'expired', decided_ns = ?, decision = ? WHERE id = ?",
            )
            .bind(now_ns)
            .bind(to_json("approval request", &decision)?)
            .bind(&r.id)
            .execute(&mut *tx)
            .await
            .map_err(|e| error(e, "approval request"))?;
            r.state = RequestState::Expired;
            r.decision = Some(decision);
            expired.push(r);
        }
        tx.commit()
            .await
            .map_err(|e| error(e, "approval request"))?;
        Ok(expired)
    }

    async fn create_correction(&self, c: &CorrectionRequest) -> Result<()> {
        let answer = c
            .answer
            .as_ref()
            .map(|a| to_json("correction request", a))
            .transpose()?;
        sqlx::query(
            "INSERT INTO correction_requests (id, person_id, topic, body, filed_ns, due_ns, answered, answer) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&c.id)
        .bind(c.person.as_str())
        .bind(to_json("correction request", &c.topic)?)
        .bind(&c.text)
        .bind(instant(c.filed_at)?)
        .bind(instant(c.due_at)?)
        .bind(i64::from(answer.is_some()))
        .bind(answer)
        .execute(self.pool())
        .await
        .map_err(|e| error(e, "a correction request with this id"))?;
        Ok(())
    }

    async fn correction(&self, id: &str) -> Result<Option<CorrectionRequest>> {
        let sql = format!("SELECT {CORRECTION_COLUMNS} FROM correction_requests WHERE id = ?");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(|e| error(e, "correction request"))?;
        row.as_ref().map(|r| correction_from(&Cols(r))).transpose()
    }

    async fn open_corrections(&self, limit: u32) -> Result<Vec<CorrectionRequest>> {
        let sql = format!(
            "SELECT {CORRECTION_COLUMNS} FROM correction_requests WHERE answered = 0 ORDER BY filed_ns, id LIMIT ?"
        );
        let rows = sqlx::query(&sql)
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await
            .map_err(|e| error(e, "correction request"))?;
        rows.iter().map(|r| correction_from(&Cols(r))).collect()
    }

    async fn corrections_about(&self, person: &PersonId) -> Result<Vec<CorrectionRequest>> {
        let sql = format!(
            "SELECT {CORRECTION_COLUMNS} FROM correction_requests WHERE person_id = ? ORDER BY filed_ns DESC, id"
        );
        let rows = sqlx::query(&sql)
            .bind(person.as_str())
            .fetch_all(self.pool())
            .await
            .map_err(|e| error(e, "correction request"))?;
        rows.iter().map(|r| correction_from(&Cols(r))).collect()
    }

    async fn answer_correction(
        &self,
        id: &str,
        answer: &CorrectionAnswer,
    ) -> Result<CorrectionRequest> {
        let sql = format!(
            "UPDATE correction_requests SET answered = 1, answer = ? WHERE id = ? AND answered = 0 \
             RETURNING {CORRECTION_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(to_json("correction request", answer)?)
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(|e| error(e, "correction request"))?;
        match row {
            Some(row) => correction_from(&Cols(&row)),
            None => match self.correction(id).await? {
                Some(_) => Err(StoreError::Conflict("an answer to this correction request")),
                None => Err(StoreError::NotFound("correction request")),
            },
        }
    }

    async fn record_access(&self, a: &AccessRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO access_log (person_id, at_ns, official, roles, what, purpose) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(a.person.as_str())
        .bind(instant(a.at)?)
        .bind(&a.official)
        .bind(&a.roles)
        .bind(&a.what)
        .bind(&a.purpose)
        .execute(self.pool())
        .await
        .map_err(|e| error(e, "access record"))?;
        Ok(())
    }

    async fn accesses_about(&self, person: &PersonId, limit: u32) -> Result<Vec<AccessRecord>> {
        let sql = format!(
            "SELECT {ACCESS_COLUMNS} FROM access_log WHERE person_id = ? ORDER BY at_ns DESC, id DESC LIMIT ?"
        );
        let rows = sqlx::query(&sql)
            .bind(person.as_str())
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await
            .map_err(|e| error(e, "access record"))?;
        rows.iter().map(|r| access_from(&Cols(r))).collect()
    }

    async fn sessions_of_phone(
        &self,
        phone: &PhoneHash,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionInfo>> {
        let rows = sqlx::query(
            "SELECT created_ns, expires_ns FROM sessions WHERE subject_phone = ? AND expires_ns > ? \
             ORDER BY created_ns",
        )
        .bind(&phone.0[..])
        .bind(instant(now)?)
        .fetch_all(self.pool())
        .await
        .map_err(|e| error(e, "session"))?;
        rows.iter()
            .map(|r| {
                Ok(SessionInfo {
                    created_at: utc_instant("session", get(r, "created_ns")?)?,
                    expires_at: utc_instant("session", get(r, "expires_ns")?)?,
                })
            })
            .collect()
    }

    async fn erase_oversight_person(&self, person: &PersonId) -> Result<u64> {
        let mut tx = self.pool().begin().await.map_err(|e| error(e, "erase"))?;
        let mut n = 0;
        for sql in [
            "DELETE FROM approval_requests WHERE person_id = ?",
            "DELETE FROM correction_requests WHERE person_id = ?",
            "DELETE FROM access_log WHERE person_id = ?",
        ] {
            n += sqlx::query(sql)
                .bind(person.as_str())
                .execute(&mut *tx)
                .await
                .map_err(|e| error(e, "erase"))?
                .rows_affected();
        }
        tx.commit().await.map_err(|e| error(e, "erase"))?;
        Ok(n)
    }
}
