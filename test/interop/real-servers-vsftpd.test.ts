/**
 * Interop with the real vsftpd: the inbound flow and the outbound export end to
 * end (Salesforce/S-Drive sandbox ↔ bridge ↔ daemon); see
 * support/real-servers-suite.ts for what is covered and how the daemon runs.
 */
import { realServersSuite } from '../support/real-servers-suite.js'

realServersSuite('vsftpd')
