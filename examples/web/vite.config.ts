import { defineConfig } from 'vite'

import { devTokenPlugin } from './dev-token.ts'

export default defineConfig({
  plugins: [devTokenPlugin({ secret: process.env.DEV_JWT_SECRET })],
  // LiveStore's web adapter runs SQLite (wa-sqlite, Wasm) in workers started as ES modules
  worker: { format: 'es' },
  // wa-sqlite must not be pre-bundled, or its .wasm file is not found (LiveStore's web adapter docs)
  optimizeDeps: { exclude: ['@livestore/wa-sqlite'] },
  server: { host: '127.0.0.1', strictPort: true },
  preview: { host: '127.0.0.1', strictPort: true },
  // LiveStore's workers are big single chunks (SQLite, Effect): no point warning about it
  build: { target: 'es2022', chunkSizeWarningLimit: 1000 },
})
