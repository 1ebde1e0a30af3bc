/**
 * A run state of its own for an export that found no S-Drive file to send
 * (`nothing_to_export`): the state CHECK of 002 is replaced by a wider one.
 */
export const sql = `
ALTER TABLE runs DROP CONSTRAINT runs_state_check;
ALTER TABLE runs ADD CONSTRAINT runs_state_check
  CHECK (state IN ('waiting_for_window', 'queued', 'running', 'succeeded', 'partially_failed', 'failed',
                   'cancelled', 'nothing_to_export'));
`
