/**
 * Per-call state that jsforce cannot carry: the abort signal, how often this
 * call already re-authenticated, and the HTTP status of its last response.
 * AsyncLocalStorage hands it from our retry loop through jsforce's HttpApi to
 * the transport and to the session refresh function.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import type { BridgeError } from '../../domain/errors.js'

export interface CallContext {
  signal: AbortSignal
  /** Re-authentications done for this logical call; jsforce would otherwise re-mint forever on repeated 401s. */
  reauths: number
  /** Status of the last HTTP response (jsforce's errors do not carry it). */
  lastStatus?: number
  /** Why re-authentication failed, since jsforce wraps it into a plain Error. */
  authError?: BridgeError
}

export const callContext = new AsyncLocalStorage<CallContext>()
