/**
 * openpgp is loaded by the first use of a PGP key or message, not at start: most services have
 * no PGP flow, and the library adds ~4 MiB of heap and its module code to the resting process.
 */
export const loadOpenpgp = () => import('openpgp')
