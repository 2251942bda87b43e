// Entry point of the packed-package test (`npm run test:package`): packs the package (its prepack
// builds the Wasm), installs the tarball into fresh app folders outside the repository with only
// Node on PATH, and runs the app Workers of tests/package/apps under each app's own wrangler dev.
//
//   PACKAGE_WRANGLERS=4.50.0,4.164.0  the wrangler versions the apps install (default: 4.50.0, the
//                                     one @livestore/sync-cf 0.4.0 uses, and ours)
//
// Extra arguments are passed to `node --test`. The pack leaves build/ as a release build.
import { requirePackages, runTests } from '../support/runner.mjs'

requirePackages(['wrangler'])
// installing wrangler into each app folder takes most of a test's time
runTests('tests/package', ['--test-timeout=900000', ...process.argv.slice(2)])
