// Entry point of the TypeScript declarations test (`npm run test:types`): the app Worker files of
// tests/types/apps type-checked against @livestore/sync-cf's declarations and against ours
// (types.test.mjs). No build, no server: about 15 s. Extra arguments go to `node --test`.
import path from 'node:path'

import { requirePackages, runTests } from '../support/runner.mjs'

if (!process.env.TYPESCRIPT_DIR) requirePackages(['typescript', '@cloudflare/workers-types', '@livestore/sync-cf'])
runTests('tests/types', [...process.argv.slice(2)].map((a) => (a.endsWith('.mjs') ? path.resolve(a) : a)))
