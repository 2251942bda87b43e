// The benchmark's metered copy of our server: js/entry.mjs unchanged, its Durable Object wrapped so
// that bench/usage/meter.mjs counts the SQLite and D1 rows it reads and writes. Imported paths are
// relative to the private snapshot the benchmark runs (tests/support/wrangler-dev.mjs copies this
// folder there as usage/, beside js/ and build/), not to this repository folder.
import Worker, { SyncBackendDO as Base } from '../js/entry.mjs'
import { metered } from './meter.mjs'

export default Worker

export class SyncBackendDO extends metered(Base) {}
