/**
 * The node flags the service runs with: the Dockerfile's CMD, `npm start` and the benchmarks all
 * start it with these (test/unit/container.test.ts keeps them in step).
 *
 * `--max-semi-space-size=8` (MiB; V8's default is 16 on 64-bit): after the start-up collection
 * (startup-gc.ts) the old generation holds ~40 MiB and V8 sets its next limit ~23 MiB above that.
 * V8 starts incremental marking whenever that headroom is smaller than the young generation's
 * capacity, and a long transfer grows the young generation to its 16 MiB maximum; from then on
 * the service marked and compacted its whole heap 11–14 times a second, and a 2 GiB SFTP export
 * cost 11–14 s of CPU per GiB instead of 3.5 (measured: 3 of 4 runs of 3 + 3 passes). With at
 * most 8 MiB that trigger is gone (2 runs: every pass 3.2–4.5 s/GiB, no mark-compact after
 * start-up) and the resting RSS is ~16 MiB lower. It does not end every storm: large SFTP
 * transfers can still enter one (BENCHMARKS.md, "GC storm").
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8']
