// Entry point of the packed-package test (`npm run test:package`): installs the package's tarball
// once per wrangler version into an install root outside the repository, with only Node on PATH,
// and runs the app Workers of tests/package/apps from folders inside that root under its own
// wrangler dev; then the same apps against the reference, @livestore/sync-cf 0.4.0 (their import
// line switched back), from the repository's node_modules. See package.test.mjs and rig.mjs.
//
//   PACKAGE_TARBALL=path.tgz          install this tarball instead of packing the repository (the
//                                     pack's prepack builds the Wasm: a release build into build/)
//   PACKAGE_WRANGLERS=4.50.0,4.164.0  the wrangler versions ours runs under (default: 4.50.0, the
//                                     one @livestore/sync-cf 0.4.0 uses, and the repository's)
//   PACKAGE_REFERENCE=0               leave the reference's runs out
//   PACKAGE_KEEP_WORK=1               keep the install roots, the apps' state and the wrangler
//                                     logs (wrangler-<n>.log in each app folder) after the run
//
// Extra arguments are passed to `node --test`; write a name pattern as one word
// (`--test-name-pattern=d1-ws-only`): a separate word is taken for a test file.
import { requirePackages, runTests } from '../support/runner.mjs'

requirePackages(['wrangler', '@livestore/sync-cf', '@livestore/adapter-node', '@livestore/adapter-cloudflare'])
// the npm installs (and a pack, without PACKAGE_TARBALL) take the longest
runTests('tests/package', ['--test-timeout=900000', ...process.argv.slice(2)])
