#!/usr/bin/env node
// One kafkajs consumer in its own process, driven over JSON lines (docs/worker-protocol.md).
//
//     node worker.js --id m1
//
// kafkajs pushes batches into `eachBatch`; this worker keeps them in a bounded buffer (at most
// one fetched batch per partition) and hands them out on `poll`. An eachBatch call returns only
// once every record of its batch was taken and processed (or the batch was dropped by a pause,
// seek or rebalance), so kafkajs neither fetches further nor resolves an offset before the
// harness has the records. Offsets are resolved after processing and committed explicitly
// (autoCommit off), except for the `auto` strategy. stdout carries protocol lines only.
'use strict'

const readline = require('readline')

const ADAPTER = 'kafkajs'
let kafkajs
let CLIENT_VERSION
// kafkajs is loaded when this file runs as the worker (not when a test requires its watch)
function loadClient() {
  try {
    kafkajs = require('kafkajs')
  } catch (e) {
    process.stderr.write(`cannot load kafkajs: ${e.message}\n`)
    process.exit(3)
  }
  CLIENT_VERSION = require('kafkajs/package.json').version
}

// -- output: stdout is the protocol's; everything else goes to stderr -----------------------
const protocolOut = process.stdout
const args = process.argv.slice(2)
const MEMBER = args.includes('--id') ? args[args.indexOf('--id') + 1] : 'm1'

const monotonic = () => Number(process.hrtime.bigint()) / 1e9
function write(obj) {
  protocolOut.write(JSON.stringify(obj) + '\n')
}
function emit(type, data = {}) {
  write({ type, ts: monotonic(), source: MEMBER, ...data })
}
function reply(msg, data = {}) {
  write({ type: `${msg.type}_ok`, in_reply_to: msg.msg_id, ts: monotonic(), source: MEMBER, ...data })
}
function replyError(msg, code, message, fatal = false, retriable = false) {
  write({ type: 'error', in_reply_to: msg && msg.msg_id !== undefined ? msg.msg_id : null,
    ts: monotonic(), source: MEMBER, code, message, fatal, retriable })
}
function log(level, text) {
  process.stderr.write(`${new Date().toISOString()} ${level} [${MEMBER}] ${text}\n`)
}

class ProtocolError extends Error {}
class ConsumerError extends Error {
  constructor(code, message, retriable = false) {
    super(message)
    this.code = code
    this.retriable = retriable
  }
}

const CAPABILITIES = {
  consumer_protocol: false, cooperative: false, manual_assignment: false, pause_resume: true,
  async_commit: true, offset_reset_none: false, on_lost: false, commit_on_revoke: false,
  // no max.poll.interval: kafkajs heartbeats between batches whether or not the application
  // takes records (the worker skips its own heartbeats only), so a member that stops polling
  // stays in the group (S5-commit-after-removal: the second member never got the partition)
  poll_interval: false,
  unsubscribe: false,
  seek_to_end: false,
  reports_calls: true, // CallWatch below
}
const CONFIG_KEYS = new Set(['bootstrap_servers', 'group_id', 'auto_offset_reset',
  'enable_auto_commit', 'auto_commit_interval_ms', 'group_protocol', 'assignment_strategy',
  'max_poll_records', 'session_timeout_ms', 'heartbeat_interval_ms', 'max_poll_interval_ms',
  'metadata_max_age_ms', 'fetch_max_bytes', 'max_partition_fetch_bytes', 'partition_eof',
  'client_id', 'isolation_level', 'extra', 'early_access'])
const CONFIG_DEFAULTS = { auto_offset_reset: 'earliest', enable_auto_commit: false,
  auto_commit_interval_ms: 5000, group_protocol: 'classic', assignment_strategy: 'range',
  max_poll_records: 500, session_timeout_ms: 6000, heartbeat_interval_ms: 500,
  max_poll_interval_ms: 30000, metadata_max_age_ms: 300000, fetch_max_bytes: null,
  max_partition_fetch_bytes: null, partition_eof: false, client_id: null,
  isolation_level: 'read_uncommitted', extra: {}, early_access: false }

function parseConfig(raw) {
  if (raw === null || typeof raw !== 'object') throw new ProtocolError('config must be an object')
  const unknown = Object.keys(raw).filter(k => !CONFIG_KEYS.has(k))
  if (unknown.length) throw new ProtocolError(`unknown consumer config keys: ${unknown.sort().join(', ')}`)
  if (!raw.bootstrap_servers) throw new ProtocolError('config needs bootstrap_servers')
  return { ...CONFIG_DEFAULTS, ...raw }
}

/** Why kafkajs cannot run this config (null: it can). */
function unsupportedReason(config) {
  if (config.group_protocol === 'consumer') {
    return 'kafkajs does not support group.protocol=consumer (KIP-848): it implements the classic group protocol only'
  }
  if (config.assignment_strategy === 'cooperative-sticky') {
    return 'kafkajs does not support cooperative rebalancing: it has eager assignors only and no rebalance listener'
  }
  if (config.auto_offset_reset === 'none') {
    return 'kafkajs does not support auto.offset.reset=none: subscribe takes fromBeginning true or false only'
  }
  return null
}

// -- strategies (conformance/strategies.py) ---------------------------------------------------
const STRATEGIES = ['auto', 'RECORD', 'BATCH', 'TIME', 'COUNT', 'COUNT_TIME', 'MANUAL', 'MANUAL_IMMEDIATE']
function parseStrategy(raw) {
  const s = { name: 'BATCH', interval_ms: 1000, count: 10, asynchronous: false,
    commit_on_revoke: false, processing: 'in-loop', process_ms: 0, ...(raw || {}) }
  if (!STRATEGIES.includes(s.name)) throw new ProtocolError(`unknown commit strategy ${s.name}`)
  if (!['in-loop', 'pool', 'per-partition'].includes(s.processing)) {
    throw new ProtocolError(`unknown processing model ${s.processing}`)
  }
  return s
}

class CommitClock {
  constructor(strategy) {
    this.s = strategy
    this.committed()
  }
  committed() {
    this.sinceCommit = 0
    this.lastCommit = monotonic()
    this.ackedPending = false
  }
  afterRecord() {
    const s = this.s
    this.sinceCommit += 1
    if (s.name === 'BATCH' || s.name === 'auto') return false
    if (s.name === 'RECORD' || s.name === 'MANUAL_IMMEDIATE') return true
    if (s.name === 'MANUAL') {
      this.ackedPending = true
      return false
    }
    const countDue = this.sinceCommit >= s.count
    const timeDue = (monotonic() - this.lastCommit) * 1000 >= s.interval_ms
    if (s.name === 'COUNT') return countDue
    if (s.name === 'TIME') return timeDue
    if (s.name === 'COUNT_TIME') return countDue || timeDue
    return false
  }
  afterBatch() { return this.s.name === 'BATCH' && this.sinceCommit > 0 }
  beforePoll() { return this.s.name === 'MANUAL' && this.ackedPending }
}

// -- helpers ------------------------------------------------------------------------------------
const tpKey = (topic, partition) => `${topic}\u0000${partition}`
const tpOf = key => {
  const [topic, p] = key.split('\u0000')
  return [topic, Number(p)]
}
const sortTps = keys => keys.map(tpOf).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]))
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
const utf8 = new TextDecoder('utf-8', { fatal: true })
function keyText(key) {
  if (key === null || key === undefined) return null
  try {
    return utf8.decode(key)
  } catch (_) {
    return Buffer.from(key).toString('hex')
  }
}
const offsetsJson = map => sortTps([...map.keys()]).map(([t, p]) => [t, p, map.get(tpKey(t, p))])
const commitKey = list => list.map(([t, p, o]) => `${t}|${p}|${o}`).sort().join(',')

// -- the call watch (conformance/calls.py) ---------------------------------------------------
// Every call the worker makes into kafkajs is watched: one still outstanding (its promise not
// settled) past its bound is reported once as `call_outstanding`, and as `call_returned` should
// it settle after all. A synchronous kafkajs call (pause, seek) that hung would block the event
// loop and this timer with it: it is watched, but only a hung promise can be reported.
const API_TIMEOUT = 60 // seconds a blocking client call may take (default.api.timeout.ms)
const CLOSE_TIMEOUT = 30 // seconds close may take (the Java client's default)
const MARGIN = 5

/** Seconds `call` may be outstanding, as conformance.calls.bound. */
function callBound(call, timeout = null) {
  if (call === 'poll') return (timeout || 0) + API_TIMEOUT + MARGIN
  if (call === 'close') return CLOSE_TIMEOUT + MARGIN
  return API_TIMEOUT + MARGIN
}

const round3 = x => Math.round(x * 1000) / 1000

class CallWatch {
  /** `emit(type, data)`: the event writer; `bound(call, timeout)`: seconds (tests inject it). */
  constructor(emit, { bound = callBound, tick = 0.5 } = {}) {
    this.emit = emit
    this.bound = bound
    this.tick = tick
    this.ids = 0
    this.open = new Map() // id -> {call, since, bound, reported}
    this.timer = null
  }

  /** `fn()` (a promise or a value) under the watch as `call`; resolves or throws as it does. */
  async call(call, fn, timeout = null) {
    const id = ++this.ids
    const entry = { call, since: monotonic(), bound: this.bound(call, timeout), reported: false }
    this.open.set(id, entry)
    if (this.timer === null) {
      this.timer = setInterval(() => this.check(), this.tick * 1000)
      this.timer.unref() // the watch never keeps the process alive
    }
    try {
      return await fn()
    } finally {
      this.open.delete(id)
      if (entry.reported) this.emit('call_returned', { call, id, seconds: round3(monotonic() - entry.since) })
    }
  }

  check() {
    const now = monotonic()
    for (const [id, entry] of this.open) {
      if (entry.reported || now - entry.since <= entry.bound) continue
      entry.reported = true
      this.emit('call_outstanding', { call: entry.call, id, since: entry.since,
        seconds: round3(now - entry.since), bound: entry.bound })
    }
  }
}

const REVOKING = new Set(['REBALANCE_IN_PROGRESS', 'UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION'])
const REVOKING_TEXT = /not initialized|not running|not aware of this member|generation id is not valid|group is rebalancing/i
function normalize(e, commit = false) {
  if (e instanceof ConsumerError) return e
  const type = e && (e.type || (e.cause && e.cause.type))
  const text = `${(e && e.name) || 'Error'}: ${(e && e.message) || e}`
  if (type === 'FENCED_INSTANCE_ID') return new ConsumerError('fenced-member', text)
  // kafkajs's retrier re-throws a protocol error as KafkaJSNonRetriableError without its type:
  // the messages of REVOKING's codes (kafkajs src/protocol/error.js) identify them then
  if (commit && (REVOKING.has(type) || REVOKING_TEXT.test(text))) {
    return new ConsumerError('commit-failed', text)
  }
  return new ConsumerError('consumer-error', text, Boolean(e && e.retriable))
}

/** The range assignor (Kafka's RangeAssignor), through kafkajs's public assigner API. */
const RangeAssigner = ({ cluster }) => ({
  name: 'range',
  version: 0,
  async assign({ members, topics }) {
    const { MemberMetadata, MemberAssignment } = kafkajs.AssignerProtocol
    const subscribed = new Map(members.map(({ memberId, memberMetadata }) => {
      const meta = MemberMetadata.decode(memberMetadata)
      return [memberId, new Set((meta && meta.topics) || topics)]
    }))
    const assignment = Object.fromEntries(members.map(m => [m.memberId, {}]))
    for (const topic of topics) {
      const partitions = cluster.findTopicPartitionMetadata(topic).map(m => m.partitionId).sort((a, b) => a - b)
      const consumers = members.map(m => m.memberId).filter(id => subscribed.get(id).has(topic)).sort()
      if (!consumers.length) continue
      const per = Math.floor(partitions.length / consumers.length)
      const extra = partitions.length % consumers.length
      let start = 0
      consumers.forEach((id, i) => {
        const n = per + (i < extra ? 1 : 0)
        if (n > 0) assignment[id][topic] = partitions.slice(start, start + n)
        start += n
      })
    }
    return Object.entries(assignment).map(([memberId, topicsOf]) => ({
      memberId,
      memberAssignment: MemberAssignment.encode({ version: this.version, assignment: topicsOf, userData: Buffer.alloc(0) }),
    }))
  },
  protocol({ topics }) {
    return { name: this.name, metadata: kafkajs.AssignerProtocol.MemberMetadata.encode({ version: this.version, topics }) }
  },
})

// -- the worker -------------------------------------------------------------------------------
class Worker {
  constructor() {
    this.consumer = null
    this.admin = null
    this.config = null
    this.strategy = parseStrategy({})
    this.clock = new CommitClock(this.strategy)
    this.maxRecords = 100
    this.owned = new Set() // tp keys, from the latest GROUP_JOIN
    this.revokedSinceJoin = true
    this.epoch = 0 // bumped whenever the owned partitions' kafkajs positions are reset
    this.buffers = new Map() // tp key -> entry of the eachBatch call waiting on it
    this.waiters = new Set() // resolve functions of polls waiting for records
    this.position = new Map() // tp key -> next offset poll returns (when known)
    this.processedNext = new Map()
    this.polledNext = new Map()
    this.paused = new Set()
    this.inflight = new Map() // commit key -> {seen}
    this.pool = new Set()
    this.running = false
    this.pollTimeout = 0.1
    this.lastPollAt = monotonic()
    this.topics = []
    this.done = false
    this.watch = new CallWatch(emit)
  }

  // -- group events (no rebalance listener in kafkajs: inferred from instrumentation) -------
  onGroupJoin(event) {
    const assignment = (event.payload && event.payload.memberAssignment) || {}
    const now = new Set()
    for (const [topic, partitions] of Object.entries(assignment)) {
      if (!this.topics.includes(topic)) continue
      for (const p of partitions) now.add(tpKey(topic, p))
    }
    // every join builds a new kafkajs offset manager: each partition restarts at its
    // committed offset, so the previous assignment is revoked as a whole (eager)
    this.revokeAll('group join')
    this.owned = now
    this.revokedSinceJoin = false
    emit('assigned', { partitions: sortTps([...now]) })
  }

  /** Everything owned is revoked (if not already since the last join): emit `revoked`,
   * drop buffered records, forget positions; the revoke commit of the strategy first. */
  revokeAll(why) {
    if (this.revokedSinceJoin) {
      this.dropAll()
      return null
    }
    this.revokedSinceJoin = true
    const owned = [...this.owned]
    emit('revoked', { partitions: sortTps(owned) })
    log('INFO', `revoked ${owned.length} partition(s): ${why}`)
    let pending = null
    if (this.strategy.commit_on_revoke && this.consumer) {
      const offsets = new Map([...this.processedNext].filter(([k]) => this.owned.has(k)))
      if (offsets.size) pending = this.commit(offsets, 'revoke', false).catch(() => null)
    }
    this.owned = new Set()
    this.dropAll()
    this.processedNext.clear()
    this.polledNext.clear()
    this.position.clear()
    return pending
  }

  dropAll() {
    this.epoch += 1
    for (const entry of this.buffers.values()) entry.dropped = true
    this.buffers.clear()
  }

  drop(key) {
    const entry = this.buffers.get(key)
    if (entry) {
      entry.dropped = true
      this.buffers.delete(key)
    }
  }

  onCommitOffsets(event) {
    const topics = (event.payload && event.payload.topics) || []
    const list = []
    for (const { topic, partitions } of topics) {
      for (const { partition, offset } of partitions) list.push([topic, Number(partition), Number(String(offset))])
    }
    const key = commitKey(list)
    const mine = this.inflight.get(key)
    if (mine) {
      mine.seen = true
      return
    }
    if (this.strategy.name === 'auto') {
      list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]))
      emit('committed', { mode: 'auto', ok: true, offsets: list, error: null })
    }
  }

  // -- eachBatch: fill the buffer, wait until it was taken ---------------------------------
  async eachBatch({ batch, resolveOffset, heartbeat, isRunning }) {
    const key = tpKey(batch.topic, batch.partition)
    if (!this.owned.has(key) || this.paused.has(key) || !batch.messages.length) return
    const entry = {
      key, epoch: this.epoch, dropped: false, next: 0, outstanding: 0, resolveOffset,
      records: batch.messages.map(m => [batch.topic, batch.partition, Number(m.offset), keyText(m.key)]),
    }
    this.drop(key)
    this.buffers.set(key, entry)
    this.wake()
    const interval = this.config.max_poll_interval_ms / 1000
    while (!entry.dropped && isRunning()) {
      if (entry.next >= entry.records.length && entry.outstanding === 0) {
        resolveOffset(String(entry.records[entry.records.length - 1][2])) // to batch.lastOffset()
        break
      }
      await new Promise(resolve => {
        entry.wake = resolve
        setTimeout(resolve, 100)
      })
      // the application is busy with this batch as long as it polls (max.poll.interval.ms)
      if (entry.dropped || !(this.running || monotonic() - this.lastPollAt < interval)) continue
      try {
        await this.watch.call('heartbeat', heartbeat)
      } catch (e) {
        if (REVOKING.has(e.type)) {
          const pending = this.revokeAll(`heartbeat: ${e.type}`)
          if (pending) await pending
        }
        throw e
      }
    }
    if (this.buffers.get(key) === entry) this.buffers.delete(key)
  }

  wake() {
    for (const resolve of this.waiters) resolve()
    this.waiters.clear()
  }

  /** Records for one poll: up to `max` from the buffer, waiting up to `timeout` s. */
  async take(timeout, max) {
    const deadline = monotonic() + timeout
    for (;;) {
      const out = []
      for (const entry of this.buffers.values()) {
        if (entry.dropped || entry.epoch !== this.epoch) continue
        while (out.length < max && entry.next < entry.records.length) {
          out.push({ rec: entry.records[entry.next], entry })
          entry.next += 1
          entry.outstanding += 1
        }
        if (out.length >= max) break
      }
      if (out.length) return out
      const left = deadline - monotonic()
      if (left <= 0) return out
      await new Promise(resolve => {
        this.waiters.add(resolve)
        setTimeout(resolve, Math.min(left, 0.1) * 1000)
      })
    }
  }

  /** The application is done with these records: kafkajs may fetch past them. */
  release(items) {
    for (const { rec, entry } of items) {
      entry.outstanding -= 1
      if (!entry.dropped && entry.epoch === this.epoch) entry.resolveOffset(String(rec[2]))
      if (entry.wake && entry.outstanding === 0) entry.wake()
    }
  }

  // -- commits --------------------------------------------------------------------------
  /** Commit `offsets` (Map tp key -> next offset); resolves to the committed Map or throws
   * a ConsumerError; `committed` is emitted with the outcome. */
  async commit(offsets, mode, asynchronous) {
    const list = offsetsJson(offsets)
    emit('commit_requested', { mode, offsets: list })
    const attempt = this.send(list).then(
      () => {
        emit('committed', { mode, ok: true, offsets: list, error: null })
        return offsets
      },
      e => {
        const err = normalize(e, true)
        emit('committed', { mode, ok: false, offsets: list, error: `${err.code}: ${err.message}` })
        throw err
      })
    if (asynchronous) {
      attempt.catch(() => null)
      this.clock.committed()
      return null
    }
    const result = await attempt
    this.clock.committed()
    return result
  }

  async send(list) {
    if (!this.consumer) throw new ConsumerError('illegal-state', 'no consumer')
    const key = commitKey(list)
    const mark = { seen: false }
    this.inflight.set(key, mark)
    try {
      await this.watch.call('commit', () => this.consumer.commitOffsets(
        list.map(([topic, partition, offset]) => ({ topic, partition, offset: String(offset) }))))
    } finally {
      if (this.inflight.get(key) === mark) this.inflight.delete(key)
    }
    if (!mark.seen) {
      // kafkajs returns without error when its runner stopped meanwhile, commit not sent
      throw new ConsumerError('commit-failed', 'kafkajs dropped the commit: the consumer is not running')
    }
  }

  async commitProcessed(mode) {
    const offsets = new Map([...this.processedNext].filter(([k]) => this.owned.has(k)))
    if (offsets.size) {
      try {
        await this.commit(offsets, mode, this.strategy.asynchronous)
      } catch (_) { /* reported as a failed commit */ }
    }
  }

  // -- poll ------------------------------------------------------------------------------
  async pollOnce(timeout, max, processRecords = true) {
    this.lastPollAt = monotonic()
    try {
      if (processRecords && this.clock.beforePoll()) await this.commitProcessed('manual')
      // The poll: kafkajs has no poll call; its runner fetches, joins and heartbeats in the
      // background and hands batches to eachBatch. What stands for a poll is the wait for the
      // next batch within the poll's timeout, watched with a poll's bound. It is bounded by
      // this worker, so a hung kafkajs shows in the calls this worker awaits instead: run
      // (the first join), heartbeat, commit, close and the admin calls, each watched.
      const items = await this.watch.call('poll', () => this.take(timeout, max), timeout)
      if (!items.length) return []
      const recs = items.map(i => i.rec)
      for (const r of recs) {
        const key = tpKey(r[0], r[1])
        this.polledNext.set(key, r[2] + 1)
        this.position.set(key, r[2] + 1)
      }
      emit('polled', { records: recs })
      if (!processRecords) {
        this.release(items)
      } else if (this.strategy.processing === 'pool') {
        this.release(items)
        this.processInPool(recs)
        const offsets = new Map([...this.polledNext].filter(([k]) => this.owned.has(k)))
        if (offsets.size && this.strategy.name !== 'auto') {
          try {
            await this.commit(offsets, 'batch', this.strategy.asynchronous)
          } catch (_) { /* reported */ }
        }
      } else {
        await this.processInLoop(items)
      }
      return recs
    } finally {
      this.lastPollAt = monotonic()
    }
  }

  async processInLoop(items) {
    const perRecord = this.strategy.process_ms > 0
    let done = []
    const flush = () => {
      if (done.length) {
        emit('processed', { records: done.map(i => i.rec) })
        this.release(done)
        done = []
      }
    }
    const skipped = []
    for (const item of items) {
      const key = tpKey(item.rec[0], item.rec[1])
      if (!this.owned.has(key) || item.entry.epoch !== this.epoch) {
        skipped.push(item) // revoked while this batch was in hand: not ours to process
        continue
      }
      if (perRecord) await sleep(this.strategy.process_ms)
      if (!this.owned.has(key) || item.entry.epoch !== this.epoch) {
        skipped.push(item)
        continue
      }
      done.push(item)
      this.processedNext.set(key, item.rec[2] + 1)
      const commitNow = this.clock.afterRecord()
      if (perRecord || commitNow) flush()
      if (commitNow) await this.commitProcessed(this.strategy.name.toLowerCase())
    }
    flush()
    this.release(skipped)
    if (this.clock.afterBatch()) await this.commitProcessed('batch')
  }

  processInPool(recs) {
    for (const rec of recs) {
      const ms = Math.random() * Math.max(this.strategy.process_ms, 1) * 4
      const task = sleep(ms).then(() => emit('processed', { records: [rec] }))
      this.pool.add(task)
      task.finally(() => this.pool.delete(task))
    }
  }

  // -- commands ----------------------------------------------------------------------------
  async handle(msg) {
    const kind = msg.type
    const handler = typeof kind === 'string' ? this[`cmd_${kind}`] : undefined
    if (typeof handler !== 'function') throw new ProtocolError(`unknown command type '${kind}'`)
    if (kind !== 'init' && kind !== 'describe' && !this.config) {
      throw new ProtocolError("the first command must be 'init'")
    }
    await handler.call(this, msg)
  }

  checkAdapter(msg) {
    const name = String(msg.adapter || '')
    if (name !== ADAPTER) {
      const err = new ConsumerError('unknown-adapter', `unknown client adapter '${name}': this worker runs '${ADAPTER}'`)
      err.fatal = true
      throw err
    }
  }

  info() {
    return { adapter: ADAPTER, client: 'kafkajs', client_version: CLIENT_VERSION,
      capabilities: CAPABILITIES, pid: process.pid }
  }

  async cmd_describe(msg) {
    this.checkAdapter(msg)
    const reasons = (msg.configs || []).map(raw => unsupportedReason(parseConfig(raw)))
    reply(msg, { adapter: ADAPTER, client: 'kafkajs', client_version: CLIENT_VERSION,
      capabilities: CAPABILITIES, unsupported: reasons, variants: [], python: null,
      runtime: `node ${process.version}`, executable: process.execPath })
  }

  async cmd_init(msg) {
    if (this.config) throw new ProtocolError('init was already done')
    this.checkAdapter(msg)
    const config = parseConfig(msg.config || {})
    const strategy = parseStrategy(msg.strategy)
    const reason = unsupportedReason(config)
    if (reason) {
      const err = new ConsumerError('unsupported', reason)
      err.fatal = true
      throw err
    }
    if (strategy.name === 'auto') config.enable_auto_commit = true
    this.strategy = strategy
    this.clock = new CommitClock(strategy)
    this.maxRecords = Number(msg.max_records || config.max_poll_records)
    const logLevel = { ERROR: 1, WARN: 2, INFO: 4, DEBUG: 5 }[process.env.KAFKAJS_LOG_LEVEL || 'INFO'] || 4
    const kafka = new kafkajs.Kafka({
      clientId: config.client_id || 'kafka-conformance',
      brokers: String(config.bootstrap_servers).split(','),
      logLevel,
      logCreator: () => ({ namespace, level, label, log: entry }) => {
        const { message, timestamp, ...extra } = entry
        log(label, `${namespace} ${message} ${JSON.stringify(extra)}`)
      },
    })
    const assigners = { range: [RangeAssigner], roundrobin: [kafkajs.PartitionAssigners.roundRobin] }
    const session = config.session_timeout_ms
    this.consumer = kafka.consumer({
      groupId: config.group_id,
      sessionTimeout: session,
      heartbeatInterval: Math.min(config.heartbeat_interval_ms, Math.floor(session / 3)),
      rebalanceTimeout: config.max_poll_interval_ms,
      maxWaitTimeInMs: Math.min(500, Math.floor(session / 4)),
      metadataMaxAge: config.metadata_max_age_ms,
      partitionAssigners: assigners[config.assignment_strategy] || assigners.range,
      ...(config.fetch_max_bytes ? { maxBytes: config.fetch_max_bytes } : {}),
      ...(config.max_partition_fetch_bytes ? { maxBytesPerPartition: config.max_partition_fetch_bytes } : {}),
      // kafkajs reads committed by default; Kafka's (and the config's) default is uncommitted.
      // Its public option is readUncommitted (kafka.consumer() drops an isolationLevel key)
      readUncommitted: config.isolation_level !== 'read_committed',
      retry: { retries: 5 },
    })
    this.admin = kafka.admin()
    this.config = config
    const ev = this.consumer.events
    this.consumer.on(ev.GROUP_JOIN, e => this.onGroupJoin(e))
    this.consumer.on(ev.REBALANCING, () => this.revokeAll('rebalancing'))
    this.consumer.on(ev.COMMIT_OFFSETS, e => this.onCommitOffsets(e))
    this.consumer.on(ev.CRASH, e => {
      const error = e.payload && e.payload.error
      this.revokeAll('crash')
      // a crash kafkajs restarts from (e.g. the coordinator still loading) is logged only
      if (!(e.payload && e.payload.restart)) {
        emit('error', { code: normalize(error).code, message: `kafkajs consumer crashed: ${error && error.message}`, fatal: true })
      }
    })
    const info = this.info()
    emit('ready', info)
    reply(msg, info)
  }

  async cmd_subscribe(msg) {
    if (!Array.isArray(msg.topics)) throw new ProtocolError("subscribe needs 'topics'")
    if (this.topics.length) throw new ConsumerError('illegal-state', 'already subscribed')
    this.topics = msg.topics.map(String)
    try {
      await this.watch.call('subscribe', async () => {
        await this.consumer.connect()
        await this.subscribeTopics()
      })
    } catch (e) {
      if (e.type !== 'UNKNOWN_TOPIC_OR_PARTITION') {
        this.topics = []
        throw normalize(e)
      }
      // the topic does not exist (yet): kafkajs refuses to subscribe to it, so the worker
      // tries again in the background, as other clients wait for the topic to appear
      log('WARN', `subscribe: ${e.message}; retrying until the topic exists`)
      this.subscribeLater()
      reply(msg)
      return
    }
    this.startRunner()
    reply(msg)
  }

  async subscribeTopics() {
    await this.consumer.subscribe({ topics: this.topics, fromBeginning: this.config.auto_offset_reset !== 'latest' })
  }

  subscribeLater() {
    const attempt = async () => {
      if (this.done || this.closing) return
      try {
        await this.watch.call('subscribe', () => this.subscribeTopics())
      } catch (e) {
        setTimeout(attempt, 500)
        return
      }
      this.startRunner()
    }
    setTimeout(attempt, 500)
  }

  startRunner() {
    // consumer.run resolves after the first join: the group is joined in the background and
    // `assigned` arrives as an event, like a listener's on_assigned during a poll. It is
    // watched as `run` (kafkajs's method) with any call's bound: a first join that never ends
    this.watch.call('run', () => this.consumer.run({
      autoCommit: this.strategy.name === 'auto',
      autoCommitInterval: this.strategy.name === 'auto' ? this.config.auto_commit_interval_ms : null,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 64,
      eachBatch: payload => this.eachBatch(payload),
    })).catch(e => emit('error', { code: normalize(e).code, message: String(e.message || e), fatal: false }))
  }

  async cmd_assign(msg) {
    throw new ConsumerError('unsupported', 'kafkajs has no manual assignment: a consumer always joins a group (subscribe)')
  }

  async cmd_poll(msg) {
    const recs = await this.pollOnce(Number(msg.timeout ?? 1.0), Number(msg.max_records ?? this.maxRecords),
      msg.process === undefined ? true : Boolean(msg.process))
    reply(msg, { records: recs })
  }

  async cmd_run(msg) {
    this.pollTimeout = Number(msg.poll_timeout ?? 0.1)
    this.running = true
    reply(msg)
  }

  async cmd_halt(msg) {
    this.running = false
    this.lastPollAt = monotonic()
    reply(msg)
  }

  async cmd_commit(msg) {
    const raw = msg.offsets
    const asynchronous = Boolean(msg.asynchronous)
    let offsets
    if (raw === undefined || raw === null) {
      const source = msg.processed ? this.processedNext : this.polledNext
      offsets = new Map([...source].filter(([k]) => this.owned.has(k)))
      if (!offsets.size) {
        reply(msg, { offsets: [] }) // nothing processed (or polled) since the last assignment or seek
        return
      }
    } else {
      offsets = new Map(raw.map(([t, p, o]) => [tpKey(String(t), Number(p)), Number(o)]))
    }
    const result = await this.commit(offsets, asynchronous ? 'async' : 'sync', asynchronous)
    reply(msg, { offsets: result === null ? null : offsetsJson(result) })
  }

  requireOwned(keys, what) {
    const missing = keys.filter(k => !this.owned.has(k))
    if (missing.length) {
      throw new ConsumerError('illegal-state', `${what}: partition(s) not assigned to this member: ` +
        JSON.stringify(sortTps(missing)))
    }
  }

  async cmd_seek(msg) {
    const topic = String(msg.topic)
    const partition = Number(msg.partition)
    const offset = Number(msg.offset)
    if (!Number.isInteger(partition) || !Number.isInteger(offset)) throw new ProtocolError('seek needs topic, partition, offset')
    const key = tpKey(topic, partition)
    this.requireOwned([key], 'seek')
    try {
      await this.watch.call('seek', () => this.consumer.seek({ topic, partition, offset: String(offset) }))
    } catch (e) {
      throw new ConsumerError('illegal-state', String(e.message || e))
    }
    this.drop(key) // the buffered batch is stale; kafkajs fetches from `offset` next
    this.position.set(key, offset)
    this.processedNext.delete(key)
    emit('seeked', { topic, partition, offset })
    reply(msg)
  }

  async cmd_position(msg) {
    const topic = String(msg.topic)
    const partition = Number(msg.partition)
    const key = tpKey(topic, partition)
    this.requireOwned([key], 'position')
    const entry = this.buffers.get(key)
    if (entry && !entry.dropped && entry.next < entry.records.length) {
      reply(msg, { offset: entry.records[entry.next][2] })
      return
    }
    if (this.position.has(key)) {
      reply(msg, { offset: this.position.get(key) })
      return
    }
    // nothing read since the assignment: the committed offset, else the reset point
    const [committed] = await this.committedOffsets(topic, [partition], 'position')
    let offset = committed[2]
    if (offset === null) {
      const marks = await this.withAdmin('position', a => a.fetchTopicOffsets(topic))
      const mark = marks.find(m => Number(m.partition) === partition)
      offset = Number(this.config.auto_offset_reset === 'latest' ? mark.high : mark.low)
    }
    reply(msg, { offset })
  }

  /** `fn(admin)`, watched as `call`; once more with fresh metadata when it fails (e.g.
   * partitions were added). */
  withAdmin(call, fn) {
    return this.watch.call(call, () => this.adminAttempts(fn))
  }

  async adminAttempts(fn) {
    for (let attempt = 0; ; attempt++) {
      try {
        if (!this.adminConnected) {
          await this.admin.connect()
          this.adminConnected = true
        }
        return await fn(this.admin)
      } catch (e) {
        if (attempt >= 1) throw normalize(e)
        log('WARN', `admin request failed (${e.message}), reconnecting`)
        this.adminConnected = false
        await this.admin.disconnect().catch(() => null)
      }
    }
  }

  async committedOffsets(topic, partitions, call = 'committed') {
    const res = await this.withAdmin(call, a => a.fetchOffsets({ groupId: this.config.group_id, topics: [topic] }))
    const found = new Map()
    for (const t of res) {
      for (const p of t.partitions) found.set(Number(p.partition), Number(p.offset))
    }
    return partitions.map(p => [topic, p, found.has(p) && found.get(p) >= 0 ? found.get(p) : null])
  }

  async cmd_committed(msg) {
    const byTopic = new Map()
    for (const [t, p] of msg.partitions) {
      if (!byTopic.has(String(t))) byTopic.set(String(t), [])
      byTopic.get(String(t)).push(Number(p))
    }
    const out = []
    for (const [topic, parts] of byTopic) out.push(...(await this.committedOffsets(topic, parts)))
    out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]))
    reply(msg, { offsets: out })
  }

  partitionsArg(msg) {
    if (!Array.isArray(msg.partitions)) throw new ProtocolError("needs 'partitions'")
    return msg.partitions.map(([t, p]) => tpKey(String(t), Number(p)))
  }

  byTopic(keys) {
    const grouped = new Map()
    for (const [t, p] of sortTps(keys)) {
      if (!grouped.has(t)) grouped.set(t, [])
      grouped.get(t).push(p)
    }
    return [...grouped].map(([topic, partitions]) => ({ topic, partitions }))
  }

  async cmd_pause(msg) {
    const keys = this.partitionsArg(msg)
    this.requireOwned(keys, 'pause')
    await this.watch.call('pause', () => this.consumer.pause(this.byTopic(keys)))
    for (const key of keys) {
      this.paused.add(key)
      this.drop(key) // untaken records are fetched again after resume (from the position)
    }
    emit('paused', { partitions: sortTps(keys) })
    reply(msg)
  }

  async cmd_resume(msg) {
    const keys = this.partitionsArg(msg)
    this.requireOwned(keys, 'resume')
    await this.watch.call('resume', () => this.consumer.resume(this.byTopic(keys)))
    for (const key of keys) this.paused.delete(key)
    emit('resumed', { partitions: sortTps(keys) })
    reply(msg)
  }

  async cmd_assignment(msg) {
    reply(msg, { partitions: sortTps([...this.owned]) })
  }

  async cmd_close(msg) {
    this.running = false
    this.closing = true
    await Promise.allSettled([...this.pool])
    if (msg.commit) await this.commitProcessed('close')
    this.revokedSinceJoin = true // kafkajs calls no listener on close: no revoke is reported
    this.dropAll()
    try {
      await this.watch.call('close', async () => {
        await this.consumer.disconnect()
        if (this.adminConnected) await this.admin.disconnect()
      })
    } catch (e) {
      log('WARN', `close: ${e.message}`)
    }
    emit('closed')
    reply(msg)
    this.done = true
  }

  // -- main loop -----------------------------------------------------------------------------
  async execute(msg) {
    try {
      if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) {
        throw new ProtocolError("a command must be a JSON object with a 'type'")
      }
      await this.handle(msg)
    } catch (e) {
      const m = msg && typeof msg === 'object' ? msg : null
      if (e instanceof ProtocolError) replyError(m, 'malformed-command', e.message)
      else if (e instanceof ConsumerError) replyError(m, e.code, e.message, Boolean(e.fatal), e.retriable)
      else if (e instanceof TypeError || e instanceof RangeError) replyError(m, 'malformed-command', `${e.name}: ${e.message}`)
      else {
        log('ERROR', (e && e.stack) || String(e))
        replyError(m, 'adapter-error', `${(e && e.name) || 'Error'}: ${(e && e.message) || e}`)
      }
    }
  }
}

async function main() {
  const worker = new Worker()
  const queue = []
  let notify = null
  const rl = readline.createInterface({ input: process.stdin, terminal: false })
  rl.on('line', line => {
    line = line.trim()
    if (!line) return
    try {
      queue.push(JSON.parse(line))
    } catch (e) {
      replyError(null, 'malformed-command', `not JSON: ${e.message}`)
      return
    }
    if (notify) notify()
  })
  rl.on('close', () => {
    queue.push(EOF)
    if (notify) notify()
  })
  while (!worker.done) {
    if (!queue.length && !worker.running) {
      await new Promise(resolve => { notify = resolve })
      notify = null
    }
    if (queue.length) {
      const item = queue.shift()
      if (item === EOF) break // end of stdin: exit now, without closing the consumer
      await worker.execute(item)
      continue
    }
    if (worker.running) {
      try {
        await worker.pollOnce(worker.pollTimeout, worker.maxRecords)
      } catch (e) {
        const err = normalize(e)
        if (!(e instanceof ConsumerError)) log('ERROR', (e && e.stack) || String(e))
        emit('error', { code: e instanceof ConsumerError ? err.code : 'adapter-error', message: err.message, fatal: false })
        if (!(e instanceof ConsumerError)) worker.running = false
      }
    }
  }
  process.exit(0)
}

const EOF = Symbol('eof')
if (require.main === module) {
  console.log = console.info = console.debug = console.warn = console.error
  process.on('unhandledRejection', e => log('ERROR', `unhandled rejection: ${(e && e.stack) || e}`))
  loadClient()
  main()
} else {
  module.exports = { CallWatch, callBound } // for callwatch.test.js
}
