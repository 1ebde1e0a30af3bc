import t from 'tap'
import { changedKeys, configChanges } from '../../src/domain/config-changes.js'

t.test('changedKeys names the differing key paths, arrays whole, never values', async (t) => {
  t.same(changedKeys({ a: 1, b: { c: 2, d: [1] } }, { a: 1, b: { c: 3, d: [1, 2] }, e: true }), [
    'b.c',
    'b.d',
    'e',
  ])
  t.same(changedKeys({ password: 'old' }, { password: 'new' }), ['password'])
  t.same(changedKeys({ x: 1 }, { x: 1 }), [])
})

t.test('configChanges: flows by name, endpoints by key, other sections need a restart', async (t) => {
  const before = {
    server: { port: 1 },
    endpoints: { a: { host: 'h', password: 'p1' }, b: { host: 'h' } },
    flows: [
      { name: 'f1', x: 1 },
      { name: 'f2', pgp: { encryptTo: ['k1'] } },
    ],
  }
  const after = {
    server: { port: 2 },
    endpoints: { a: { host: 'h', password: 'p2' }, c: { host: 'h' } },
    flows: [{ name: 'f2', pgp: { encryptTo: ['k2'] } }, { name: 'f3' }],
  }
  const changes = configChanges(before, after)
  t.same(changes.flows, {
    added: ['f3'],
    removed: ['f1'],
    changed: [{ name: 'f2', keys: ['pgp.encryptTo'] }],
    unchanged: 0,
  })
  t.same(changes.endpoints, {
    added: ['c'],
    removed: ['b'],
    changed: [{ name: 'a', keys: ['password'] }],
    unchanged: 0,
  })
  t.same(changes.restartRequired, ['server'])
  t.notOk(JSON.stringify(changes).includes('p2'), 'no value in the answer')
})
