/**
 * The faults a test arms on a file-server sandbox (FTP or SFTP). They are
 * shared by every connection of the sandbox and spent by the first one that
 * meets them.
 */
export interface ArmedFaults {
  /** The next connection to move at least this many file bytes is cut off. */
  dropThreshold: number | undefined
  /** This many next requests go unanswered. */
  stallsLeft: number
}

export function noArmedFaults(): ArmedFaults {
  return { dropThreshold: undefined, stallsLeft: 0 }
}

/** The controls a sandbox hands to tests to arm its faults. */
export function faultControls(armed: ArmedFaults) {
  return {
    dropAfterBytes: (bytes: number) => {
      armed.dropThreshold = bytes
    },
    stall: (count: number) => {
      armed.stallsLeft = count
    },
  }
}

/** True, and one stall spent, when the request at hand is to go unanswered. */
export function spendStall(armed: ArmedFaults): boolean {
  if (armed.stallsLeft <= 0) return false
  armed.stallsLeft--
  return true
}

/**
 * One connection's count of file bytes moved, against the drop fault: the
 * returned function answers true (fault spent, connection cut by `cut`)
 * when the bytes at hand reach the threshold.
 */
export function dropCounter(armed: ArmedFaults, cut: () => void): (bytes: number) => boolean {
  let moved = 0
  return (bytes) => {
    moved += bytes
    if (armed.dropThreshold === undefined || moved < armed.dropThreshold) return false
    armed.dropThreshold = undefined
    cut()
    return true
  }
}
