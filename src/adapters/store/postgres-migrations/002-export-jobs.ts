/**
 * Export jobs: a run may wait for its flow's delivery window, remembers what
 * was asked for, and may be started by an outbound message. Both columns are
 * nullable, so existing runs stay as they are; the two CHECK constraints of
 * 001 (named by PostgreSQL's rule, table_column_check) are replaced by wider
 * ones.
 *
 * runs_waiting serves findRuns(['waiting_for_window']): an index scan already in
 * created_at order, where runs_by_state_created (state = ANY, DESC order) needs
 * a bitmap scan and a sort. It holds only waiting jobs, so it stays small
 * however many runs are kept. (pg sends unnamed statements, planned with their
 * parameter values, so state = ANY($1) with {waiting_for_window} can use it.)
 */
export const sql = `
ALTER TABLE runs DROP CONSTRAINT runs_state_check;
ALTER TABLE runs ADD CONSTRAINT runs_state_check
  CHECK (state IN ('waiting_for_window', 'queued', 'running', 'succeeded', 'partially_failed', 'failed',
                   'cancelled'));
ALTER TABLE runs DROP CONSTRAINT runs_trigger_check;
ALTER TABLE runs ADD CONSTRAINT runs_trigger_check
  CHECK (trigger IN ('api', 'schedule', 'retry', 'startup', 'outbound-message'));
ALTER TABLE runs ADD COLUMN request jsonb;
ALTER TABLE runs ADD COLUMN not_before timestamptz;
CREATE INDEX runs_waiting ON runs (created_at, id) WHERE state = 'waiting_for_window';
`
