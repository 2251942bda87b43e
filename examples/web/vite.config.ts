import { defineConfig } from 'vite'

import { devTokenPlugin } from './dev-token.ts'

export default defineConfig({
  plugins: [devTokenPlugin({ secret: process.env.DEV_JWT_SECRET })],
  // LiveStore's web adapter runs SQLite (wa-sqlite, Wasm) in workers started as ES modules
  worker: { format: 'es' },
  optimizeDeps: {
    // wa-sqlite must not be pre-bundled, or its .wasm file is not found (LiveStore's web adapter docs)
    exclude: ['@livestore/wa-sqlite'],
    // the leader worker's imports, pre-bundled up front: found only when the worker first loads, they
    // would make the dev server re-optimize and reload the page in the middle of the first boot
    include: ['@livestore/adapter-web/worker', '@livestore/sync-cf/client'],
  },
  server: { host: '127.0.0.1', strictPort: true },
  preview: { host: '127.0.0.1', strictPort: true },
  build: {
    target: 'es2022',
    // LiveStore's workers are big single chunks (SQLite, Effect): no point warning about it, nor
    // about how long plugins took on a slow machine
    chunkSizeWarningLimit: 1000,
    rolldownOptions: { checks: { bundlerTimings: false } },
  },
})
