/**
 * The polling trigger across a crash in one window of a tick (records claimed in Salesforce, no job stored):
 * the service SIGKILLs itself there and is started again; every requested
 * record still gets exactly one job, and its claim. One window per file, so
 * each stays short; the state machine is in docs/how-it-works.md.
 */
import t from 'tap'
import { crashAndRestart } from '../support/poll.js'

// Jobs run while the test waits: generous on a busy machine.
t.setTimeout(10 * 60_000)

crashAndRestart(t, 'claimed')
