/**
 * Per-flow OpenPGP settings. Keys are armored text, usually `${VAR}`
 * references; check-config reads every key (src/config/pgp-checks.ts).
 */
import { type Static, Type as T } from '@sinclair/typebox'

const ArmoredKey = (description: string) => T.String({ minLength: 1, description })

const PrivateKeySchema = (purpose: string) =>
  T.Object(
    {
      privateKey: ArmoredKey(`Armored OpenPGP private key ${purpose}; use a \${VAR} reference.`),
      passphrase: T.Optional(T.String({ description: 'Of the private key; use a ${VAR} reference.' })),
    },
    { additionalProperties: false },
  )

export const OutboundPgpSchema = T.Object(
  {
    encryptTo: T.Array(ArmoredKey('Armored OpenPGP public key of a recipient (or a ${VAR} reference).'), {
      minItems: 1,
      description: 'Every file is encrypted to each of these keys.',
    }),
    sign: T.Optional(
      T.Object(PrivateKeySchema('that signs the files').properties, {
        additionalProperties: false,
        description: 'Sign each file with this key (the recipient checks it with its public key).',
      }),
    ),
    armor: T.Boolean({
      default: false,
      description: 'true: ASCII-armored output (-----BEGIN PGP MESSAGE-----); false: binary.',
    }),
    suffix: T.String({
      default: '.pgp',
      pattern: '^[^/\\\\]*$',
      description: 'Added to the delivered file name ("" for none).',
    }),
  },
  {
    additionalProperties: false,
    description:
      'Encrypt (and sign) files on their way out, streamed. The job records the SHA-256 of the plaintext (what S-Drive holds) and of the bytes delivered.',
  },
)

export const InboundPgpSchema = T.Object(
  {
    decrypt: T.Object(PrivateKeySchema('that the partner encrypts to').properties, {
      additionalProperties: false,
      description: "The bridge's private key for this partner's files.",
    }),
    requireSignatureFrom: T.Optional(
      T.Array(ArmoredKey('Armored OpenPGP public key of the partner (or a ${VAR} reference).'), {
        minItems: 1,
        description:
          'A file must be signed by one of these keys, else it fails with PGP_SIGNATURE_INVALID. Absent: signatures are not checked.',
      }),
    ),
  },
  {
    additionalProperties: false,
    description:
      'Decrypt files on their way in. The S-Drive file is the plaintext, named without .pgp/.gpg/.asc; a file that does not decrypt fails with PGP_DECRYPT_FAILED, goes to the error directory and nothing is uploaded.',
  },
)

export type OutboundPgp = Static<typeof OutboundPgpSchema>
export type InboundPgp = Static<typeof InboundPgpSchema>
