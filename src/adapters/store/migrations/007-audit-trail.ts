/**
 * The audit trail (\`GET /v1/audit\`): file outcomes listed by their last
 * change, keyset-paged. A partial index holds only items in an outcome
 * state, in the listing's order, so a page is an index range scan however
 * many items the store holds, and items still moving cost it nothing.
 */
export const sql = `
CREATE INDEX items_outcomes ON items (updated_at, id) WHERE state IN ('done', 'skipped', 'failed');
`
