/**
 * Connection slots per endpoint shared by every process on one database:
 * a partner who allows N connections gets at most N in total, however many
 * replicas run. Adapter: src/adapters/store/postgres-slots.ts (advisory
 * locks, freed by the database when a process dies); a single instance on
 * SQLite needs none (its pools already cap it).
 */
export interface ConnectionSlots {
  /** Waits for one of the endpoint's `max` slots; resolves with the function that frees it. */
  acquire(endpoint: string, max: number, signal?: AbortSignal): Promise<() => Promise<void>>
  close(): Promise<void>
}
