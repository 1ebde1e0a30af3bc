/**
 * The node flags the service runs with: the Dockerfile's CMD, `npm start` and the benchmarks all
 * start it with these (test/unit/container.test.ts keeps them in step). Both answer one fault,
 * measured in BENCHMARKS.md ("GC storm"): during long transfers V8 marked and compacted the whole
 * heap 11–14 times a second, and a 2 GiB SFTP transfer cost 11–14 s of CPU per GiB instead of ~4.
 * V8 starts incremental marking whenever the old generation's headroom (its next limit minus its
 * size) is smaller than the young generation's capacity. After the start-up collection
 * (startup-gc.ts) the old generation holds ~40–45 MiB and V8 set the headroom at only 10–23 MiB.
 *
 * `--max-semi-space-size=8` (MiB; V8's default is 16 on 64-bit) keeps the young generation below a
 * 23 MiB headroom: with it alone, repeat runs no longer stormed and the resting RSS fell ~16 MiB,
 * but after a reducing collection the headroom dropped to 10–16 MiB and G2's SFTP passes stormed
 * again (377–827 mark-compacts a run).
 *
 * `--heap-growing-percent=100` sets the next limit at twice the live old generation (~40 MiB of
 * headroom here): the same G2 run made 7 mark-compacts instead of 377–827, and the service's CPU
 * per GiB went from 12.0 / 13.8 (SFTP in / out) to 5.6 / 4.8, with peak RSS growth no larger.
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8', '--heap-growing-percent=100']
