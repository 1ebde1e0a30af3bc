/**
 * Test-only TLS material for the sandbox FTPS server: a private CA and a
 * certificate for localhost / 127.0.0.1 / ::1 signed by it (valid until 2046).
 * The CA key was discarded after signing, so nothing else can be issued with it.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const here = (name: string): string => fileURLToPath(new URL(name, import.meta.url))

export const caPath = here('./ca.pem')
export const serverCertPath = here('./server.pem')
export const serverKeyPath = here('./server-key.pem')

export const caPem = readFileSync(caPath, 'utf8')
export const serverCertPem = readFileSync(serverCertPath, 'utf8')
export const serverKeyPem = readFileSync(serverKeyPath, 'utf8')
