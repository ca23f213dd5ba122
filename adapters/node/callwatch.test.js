// The worker's watch over its kafkajs calls (CallWatch in worker.js): node --test callwatch.test.js
'use strict'

const test = require('node:test')
const assert = require('node:assert')
const { CallWatch, callBound } = require('./worker.js')

const monotonic = () => Number(process.hrtime.bigint()) / 1e9
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

/** A watch with a tiny bound and tick, recording what it emits. */
function watching(bound) {
  const events = []
  const asked = []
  const watch = new CallWatch((type, data) => events.push({ type, ...data }), {
    bound: (call, timeout) => {
      asked.push([call, timeout])
      return bound
    },
    tick: 0.01,
  })
  return { watch, events, asked }
}

function deferred() {
  let resolve, reject
  const promise = new Promise((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

test('bounds as conformance/calls.py bound()', () => {
  assert.strictEqual(callBound('poll', 2), 67)
  assert.strictEqual(callBound('poll'), 65)
  assert.strictEqual(callBound('close'), 35)
  assert.strictEqual(callBound('commit'), 65)
  assert.strictEqual(callBound('heartbeat', 2), 65)
})

test('a call outstanding past its bound is reported once, and when it returns', async () => {
  const { watch, events, asked } = watching(0.05)
  const pending = deferred()
  const before = monotonic()
  const call = watch.call('poll', () => pending.promise, 1.5)
  assert.strictEqual(watch.timer.hasRef(), false) // never keeps the worker alive
  await sleep(250)
  assert.deepStrictEqual(asked, [['poll', 1.5]])
  assert.strictEqual(events.length, 1)
  const [out] = events
  assert.deepStrictEqual(Object.keys(out).sort(), ['bound', 'call', 'id', 'seconds', 'since', 'type'])
  assert.strictEqual(out.type, 'call_outstanding')
  assert.strictEqual(out.call, 'poll')
  assert.strictEqual(out.id, 1)
  assert.strictEqual(out.bound, 0.05)
  assert.ok(out.since >= before && out.since <= before + 1, `since ${out.since}`)
  // rounded to ms: a call just past its bound may read as the bound itself (seen: 0.05)
  assert.ok(out.seconds >= 0.05 && out.seconds <= monotonic() - before, `seconds ${out.seconds}`)
  assert.strictEqual(Math.round(out.seconds * 1000) / 1000, out.seconds)
  pending.resolve('records')
  assert.strictEqual(await call, 'records')
  assert.strictEqual(events.length, 2)
  const back = events[1]
  assert.deepStrictEqual(Object.keys(back).sort(), ['call', 'id', 'seconds', 'type'])
  assert.strictEqual(back.type, 'call_returned')
  assert.strictEqual(back.call, 'poll')
  assert.strictEqual(back.id, 1)
  assert.ok(back.seconds >= 0.2, `seconds ${back.seconds}`)
  await sleep(50)
  assert.strictEqual(events.length, 2)
})

test('a reported call that throws returns too, and the error goes through', async () => {
  const { watch, events } = watching(0.02)
  const pending = deferred()
  const call = watch.call('commit', () => pending.promise)
  await sleep(100)
  pending.reject(new Error('coordinator gone'))
  await assert.rejects(call, /coordinator gone/)
  assert.deepStrictEqual(events.map(e => [e.type, e.call, e.id]),
    [['call_outstanding', 'commit', 1], ['call_returned', 'commit', 1]])
})

test('a call that settles within its bound is never reported', async () => {
  const { watch, events } = watching(1) // far above the calls' 30 ms, even on a loaded machine
  assert.strictEqual(await watch.call('seek', () => 'done'), 'done') // a synchronous call
  assert.strictEqual(await watch.call('commit', () => sleep(30).then(() => 7)), 7)
  await assert.rejects(watch.call('pause', () => { throw new Error('not assigned') }), /not assigned/)
  await sleep(1100) // past the bound after every call returned
  assert.deepStrictEqual(events, [])
  assert.strictEqual(watch.open.size, 0)
  assert.strictEqual(watch.ids, 3)
})
