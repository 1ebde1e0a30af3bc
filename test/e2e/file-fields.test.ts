/**
 * File fields from the name and the folder (`target.fields`) end to end
 * (SFTP, sandbox): named groups and {segments} that are not lookup keys set
 * typed fields of the S-Drive file record in one batched update per run; a
 * value that is not its type fails the file before anything is uploaded; a
 * record that refuses its fields fails the item with FIELDS_REFUSED (the
 * document is in S-Drive, the source stays); a field the file object does
 * not have makes the flow misconfigured, not every file failed.
 */
import t from 'tap'
import { type Harness, sdriveFiles, seedRecords, startHarness } from '../support/harness.js'

const catalogue = (endpoint: string, name: string, fields: Record<string, unknown>) => ({
  name,
  kind: 'inbound',
  source: { endpoint, directory: `/${name}`, include: ['**/*.pdf'], recursive: true },
  readiness: { mode: 'stable', stableSeconds: 0, minAgeSeconds: 60 },
  match: [
    {
      type: 'filename',
      pattern: '^(?<AccountNumber>[A-Z]+-\\d+)_(?<type>[a-z]+)_(?<lang>[a-z]{2})\\.pdf$',
      object: 'Account',
      lookup: ['AccountNumber'],
    },
    {
      type: 'folder',
      template: 'products/{AccountNumber}/{lang}',
      object: 'Account',
      lookup: ['AccountNumber'],
      target: { fields: { Language__c: '{lang}', Document_Type__c: 'photo' } },
    },
  ],
  target: { fileObject: 'cg__AccountFile__c', parentField: 'cg__Account__c', fields },
  existing: 'duplicate',
  after: { success: 'move', processedDirectory: `/${name}-done`, errorDirectory: `/${name}-errors` },
})

t.test('target.fields', async (t) => {
  const h: Harness = await startHarness({
    protocol: 'sftp',
    flows: (e) => [
      catalogue(e, 'sheets', {
        Document_Type__c: { value: '{type}', type: 'picklist', values: ['spec', 'brochure', 'photo'] },
        Language__c: '{lang}',
        cg__Description__c: 'Spec sheet {AccountNumber} ({file.stem})',
      }),
      catalogue(e, 'typo', { Documnt_Type__c: '{type}' }),
    ],
  })
  t.teardown(() => h.close())
  const ids = seedRecords(h.sandbox)
  // The org's file object has the two custom fields (the sandbox learns fields from a record).
  h.sandbox.insert('cg__AccountFile__c', {
    cg__File_Name__c: 'schema-seed',
    cg__Account__c: ids.globex,
    cg__WIP__c: false,
    Document_Type__c: null,
    Language__c: null,
  })
  h.sandbox.addValidationRule('cg__AccountFile__c', 'Language__c', (v) =>
    v === 'xx' ? 'Language__c: xx is no language' : null,
  )
  const file = (name: string) => sdriveFiles(h.sandbox).find((f) => f.cg__File_Name__c === name)

  t.test('named groups and segments set typed fields, one update for the run', async (t) => {
    await h.put('sheets/ACME-001_spec_de.pdf', 'spec de')
    await h.put('sheets/ACME-001_brochure_en.pdf', 'brochure en')
    await h.put('sheets/products/ACME-001/fr/photo.pdf', 'photo fr')
    const before = { ...h.sandbox.calls }
    const run = await h.runAndWait('sheets')
    t.equal(run.counts.done, 3)
    t.match(file('ACME-001_spec_de.pdf'), {
      Document_Type__c: 'spec',
      Language__c: 'de',
      cg__Description__c: 'Spec sheet ACME-001 (ACME-001_spec_de)',
    })
    t.match(file('ACME-001_brochure_en.pdf'), { Document_Type__c: 'brochure', Language__c: 'en' })
    t.match(file('photo.pdf'), { Document_Type__c: 'photo', Language__c: 'fr' }, "a rule's own fields")
    const updates = (h.sandbox.calls.composite ?? 0) - (before.composite ?? 0)
    t.equal(updates, 1, 'one collections update sets the fields of all three files')
  })

  t.test('a value that is not its type fails the file before upload', async (t) => {
    await h.put('sheets/ACME-001_manual_en.pdf', 'manual')
    const run = await h.runAndWait('sheets')
    t.equal(run.counts.failed, 1)
    t.match(run.items[0], {
      errorCode: 'FIELD_VALUE_INVALID',
      errorMessage: /Document_Type__c: "manual" is not one of the allowed values/,
      sdriveFileId: null,
    })
    t.equal(file('ACME-001_manual_en.pdf'), undefined, 'nothing uploaded')
    t.same(await h.list('sheets-errors'), ['ACME-001_manual_en.pdf', 'ACME-001_manual_en.pdf.error.json'])
  })

  t.test('a record that refuses its fields: FIELDS_REFUSED, the source stays', async (t) => {
    await h.put('sheets/ACME-001_spec_xx.pdf', 'spec xx')
    await h.put('sheets/ACME-001_spec_it.pdf', 'spec it')
    const run = await h.runAndWait('sheets')
    t.same([run.counts.done, run.counts.failed], [1, 1], 'the other file of the batch is done')
    const refused = run.items.find((i) => i.name === 'ACME-001_spec_xx.pdf')
    t.equal(refused?.errorCode, 'FIELDS_REFUSED')
    t.match(refused?.errorMessage ?? '', /xx is no language/)
    t.ok(refused?.sdriveFileId, 'the document is in S-Drive and the item says where')
    t.ok(await h.exists('sheets/ACME-001_spec_xx.pdf'), 'its source stays for a person to look at')
    t.match(file('ACME-001_spec_it.pdf'), { Language__c: 'it' })
  })

  t.test('a field the file object lacks: the flow is misconfigured, no file touched', async (t) => {
    await h.put('typo/ACME-001_spec_de.pdf', 'typo')
    const run = await h.runAndWait('typo')
    t.equal(run.errorCode, 'FLOW_MISCONFIGURED')
    t.match(
      run.errorMessage,
      /flows\[1\]\.target\.fields\.Documnt_Type__c: field "Documnt_Type__c" is not a field/,
    )
    t.same(await h.list('typo'), ['ACME-001_spec_de.pdf'])
  })
})
