-- Durable workflows (src/workflow, docs/workflows.md) and the exception queue.
-- Times are integer milliseconds since the Unix epoch (UTC) on both engines:
-- the engine's injected clock alone decides what is due, so tests can drive
-- retries and timers with a manual clock.

CREATE TABLE trueup_workflow (
    id               TEXT PRIMARY KEY,
    type             TEXT NOT NULL,
    correlation_key  TEXT NOT NULL,
    dedupe_key       TEXT NOT NULL,
    state            TEXT NOT NULL,          -- pending running waiting retrying paused failed compensated completed cancelled
    phase            TEXT NOT NULL DEFAULT 'forward',  -- forward | compensating
    step_index       INTEGER NOT NULL DEFAULT 0,       -- forward: next step to run; compensating: step to undo
    attempt          INTEGER NOT NULL DEFAULT 0,       -- failed attempts of the current step
    run              INTEGER NOT NULL DEFAULT 1,       -- bumped when a retry starts over (idempotency keys change)
    input            TEXT NOT NULL,                    -- JSON
    context          TEXT NOT NULL,                    -- JSON, written when a step completes
    wait_signal      TEXT,                             -- the signal a waiting step waits for
    wait_until       BIGINT,                           -- a waiting step's timer or signal timeout
    pending_signals  INTEGER NOT NULL DEFAULT 0,       -- rows in trueup_workflow_signal for it
    due_at           BIGINT,                           -- runnable from then; NULL: not runnable
    lease_owner      TEXT,                             -- the instance running it
    lease_until      BIGINT,
    lease_token      BIGINT NOT NULL DEFAULT 0,        -- fencing: bumped by every claim
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    end_state        TEXT,                             -- where compensation ends: compensated | cancelled
    last_error       TEXT,
    failed_step      TEXT,
    had_exception    INTEGER NOT NULL DEFAULT 0,
    log_seq          BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (type, dedupe_key)
);

CREATE INDEX trueup_workflow_due_idx ON trueup_workflow (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX trueup_workflow_state_idx ON trueup_workflow (state, type);
CREATE INDEX trueup_workflow_correlation_idx ON trueup_workflow (correlation_key);

-- The last N attempts per workflow (the engine trims older rows).
CREATE TABLE trueup_workflow_step (
    workflow_id TEXT NOT NULL REFERENCES trueup_workflow (id),
    seq         BIGINT NOT NULL,
    step        TEXT NOT NULL,
    phase       TEXT NOT NULL,                 -- run | compensate
    attempt     INTEGER NOT NULL,
    outcome     TEXT NOT NULL,                 -- done retry failed waiting sleeping timeout
    error       TEXT,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    PRIMARY KEY (workflow_id, seq)
);

-- Signals delivered to a workflow and not yet consumed by a step.
CREATE TABLE trueup_workflow_signal (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow_id TEXT NOT NULL REFERENCES trueup_workflow (id),
    name        TEXT NOT NULL,
    payload     TEXT NOT NULL,
    received_at BIGINT NOT NULL
);

CREATE INDEX trueup_workflow_signal_idx ON trueup_workflow_signal (workflow_id, name, id);

-- The exception queue: what a person has to look at.
CREATE TABLE trueup_exception (
    id                TEXT PRIMARY KEY,
    kind              TEXT NOT NULL,           -- workflow_failed, unmapped_sku, ...
    severity          TEXT NOT NULL,           -- info warning error critical
    ref_type          TEXT NOT NULL,           -- workflow message sku order ...
    ref_id            TEXT NOT NULL,
    reason            TEXT NOT NULL,           -- plain words
    details           TEXT NOT NULL,           -- JSON
    state             TEXT NOT NULL,           -- open resolved ignored
    occurrences       INTEGER NOT NULL DEFAULT 1,
    opened_at         BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    resolved_at       BIGINT,
    resolved_by       TEXT,
    resolution        TEXT,                    -- retry resolve ignore
    resolution_reason TEXT
);

CREATE UNIQUE INDEX trueup_exception_open_idx ON trueup_exception (kind, ref_type, ref_id) WHERE state = 'open';
CREATE INDEX trueup_exception_state_idx ON trueup_exception (state, kind);
