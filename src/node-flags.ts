/**
 * The node flags the service runs with: the Dockerfile's CMD, `npm start` and the benchmarks all
 * start it with these (test/unit/container.test.ts keeps them in step).
 *
 * `--max-semi-space-size=8` (MiB; V8's default is 16 on 64-bit): after the start-up collection
 * (startup-gc.ts) the old generation holds ~40 MiB and V8 sets its next limit ~23 MiB above that.
 * V8 starts incremental marking whenever that headroom is smaller than the young generation's
 * capacity, and a long transfer grows the young generation to its 16 MiB maximum, so from then on
 * the service marked and compacted its whole heap 11–14 times a second: the CPU per GiB of a
 * 2 GiB SFTP export went from 3.5 s to 11–14 s, in the middle of a transfer or from one transfer
 * to the next (issue 17's "second transfer costs twice the CPU"). With at most 8 MiB the young
 * generation stays below the headroom: 2 mark-compacts (those of start-up) in six 2 GiB passes
 * instead of 376, every pass 3.2–4.5 s/GiB.
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8']
