/**
 * Everything PostgreSQL-backed the bridge builds, behind one module so the
 * composition root can load it (and `pg` with it) only when the configuration
 * names a PostgreSQL store: a SQLite deployment never pays pg's memory.
 */
export { createPostgresStore } from './postgres.js'
export { createPostgresRunLeases } from './postgres-leases.js'
export { createPostgresPollClaims } from './postgres-poll-claims.js'
export { createPostgresSlots } from './postgres-slots.js'
