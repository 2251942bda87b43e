// The TypeScript declarations of `livestore-sync-rs/cf-worker` (js/cf-worker.d.ts) against those of
// `@livestore/sync-cf/cf-worker` 0.4.0: the app Worker files in tests/types/apps/ are type-checked
// (`tsc --noEmit`, strict, an app's Workers settings: tests/types/tsconfig.json) twice, as written
// (importing `@livestore/sync-cf/cf-worker`) and with that one import changed to
// `livestore-sync-rs/cf-worker`, which resolves through this repository's package.json `exports`
// to js/cf-worker.d.ts (a self-reference, as an app's node_modules would resolve it).
//
// - Every file must pass on both sides, its `// @ts-expect-error` lines included (each must be an
//   error on both: negative.ts).
// - The same files with the directives removed must give errors on exactly those lines on both
//   sides: no error elsewhere (ours adds no false error the reference lacks), none missing.
// - differences.ts lists where ours is looser on purpose: an error with the reference on each line
//   after a `// ref-only-error:` comment, no error with ours.
// - js/cf-worker.d.ts itself is checked without skipLibCheck.
//
// Run by tests/types/run.mjs (`npm run test:types`). Needs `typescript` in node_modules (or
// TYPESCRIPT_DIR pointing at a folder holding the package).
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const REPO = path.resolve(here, '../..')
const TSC = path.join(process.env.TYPESCRIPT_DIR ?? path.join(REPO, 'node_modules/typescript'), 'bin/tsc')
const REF_IMPORT = `'@livestore/sync-cf/cf-worker'`
const OUR_IMPORT = `'livestore-sync-rs/cf-worker'`
const SIDES = { ref: REF_IMPORT, ours: OUR_IMPORT }
const DIRECTIVE = /\/\/ @ts-expect-error\b/
const REF_ONLY = /\/\/ ref-only-error:/
// inside the repository, so that `livestore-sync-rs/cf-worker` resolves through its package.json
const WORK = path.join(here, '.work')

/** Runs tsc; returns its diagnostics as {file, line, code, text} (continuation lines appended). */
const tsc = (args) => {
  const t0 = performance.now()
  const res = spawnSync(process.execPath, [TSC, ...args, '--pretty', 'false'], { cwd: REPO, encoding: 'utf8' })
  const diagnostics = []
  for (const line of `${res.stdout}${res.stderr}`.split('\n')) {
    const m = line.match(/^(.+?)\((\d+),(\d+)\): error (TS\d+): (.*)$/)
    if (m) diagnostics.push({ file: path.resolve(REPO, m[1]), line: Number(m[2]), code: m[4], text: m[5] })
    else if (line.trim() && diagnostics.length) diagnostics.at(-1).text += `\n${line}`
    else if (line.trim()) diagnostics.push({ file: '', line: 0, code: '', text: line })
  }
  return { status: res.status, diagnostics, seconds: (performance.now() - t0) / 1000 }
}

const apps = readdirSync(path.join(here, 'apps'))
  .filter((f) => f.endsWith('.ts'))
  .sort()
/** Per side: the tsc result and, per written file, the lines that must (and alone may) be errors. */
const runs = {}

const show = (ds) => ds.map((d) => `${path.relative(REPO, d.file)}:${d.line} ${d.code} ${d.text}`).join('\n')

before(() => {
  assert.ok(existsSync(TSC), `${TSC} is missing: run \`npm ci\` (typescript is a devDependency)`)
  rmSync(WORK, { recursive: true, force: true })
  for (const [side, specifier] of Object.entries(SIDES)) {
    const dir = path.join(WORK, side)
    mkdirSync(dir, { recursive: true })
    const expected = {} // file -> lines that must be errors (and the only ones)
    for (const name of apps) {
      const source = readFileSync(path.join(here, 'apps', name), 'utf8')
      assert.ok(source.includes(REF_IMPORT), `${name} imports ${REF_IMPORT}`)
      // the one change an app makes: its import line
      const text = source.replaceAll(REF_IMPORT, specifier)
      const lines = text.split('\n')
      const write = (file, body, errorLines) => {
        writeFileSync(path.join(dir, file), body)
        expected[path.join(dir, file)] = errorLines
      }
      const after = (re) => lines.flatMap((l, i) => (re.test(l) ? [i + 2] : []))
      if (name === 'differences.ts') {
        write(name, text, side === 'ref' ? after(REF_ONLY) : [])
        continue
      }
      write(name, text, [])
      const directives = after(DIRECTIVE)
      if (directives.length) {
        // the same file without its directives: errors on exactly the lines they stood before
        write(name.replace(/\.ts$/, '.bare.ts'), lines.map((l) => l.replace(DIRECTIVE, '// (expected error)')).join('\n'), directives)
      }
    }
    writeFileSync(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({ extends: '../../tsconfig.json', include: ['*.ts'] }, null, 2),
    )
    runs[side] = { ...tsc(['-p', path.join(dir, 'tsconfig.json')]), expected }
    console.log(`tsc (${side}, ${specifier}): ${runs[side].seconds.toFixed(1)} s, ${runs[side].diagnostics.length} diagnostics`)
  }
})

/** Diagnostics of `side` grouped: those on expected lines, those elsewhere, expected lines without one. */
const judge = (side) => {
  const { diagnostics, expected } = runs[side]
  const unexpected = diagnostics.filter((d) => !(expected[d.file] ?? []).includes(d.line))
  const missing = Object.entries(expected).flatMap(([file, lines]) =>
    lines.filter((line) => !diagnostics.some((d) => d.file === file && d.line === line)).map((line) => `${path.relative(REPO, file)}:${line}`),
  )
  return { unexpected, missing }
}

for (const side of Object.keys(SIDES)) {
  describe(`${side}: the app files importing ${SIDES[side]}`, () => {
    test('pass tsc --noEmit (strict), @ts-expect-error lines included, and report no error elsewhere', () => {
      const { unexpected } = judge(side)
      assert.equal(unexpected.length, 0, `errors not expected:\n${show(unexpected)}`)
    })
    test('without the directives, every expected line is an error', () => {
      const { missing } = judge(side)
      assert.deepEqual(missing, [], 'lines that should be errors but are not')
    })
  })
}

test('the negative cases are errors on the same lines on both sides (their codes listed)', () => {
  const bare = (side) => runs[side].diagnostics.filter((d) => d.file.endsWith('.bare.ts'))
  const key = (d) => `${path.basename(d.file)}:${d.line}`
  const codes = (side) => {
    const m = new Map()
    for (const d of bare(side)) m.set(key(d), [...(m.get(key(d)) ?? []), d.code])
    return m
  }
  const [ref, ours] = [codes('ref'), codes('ours')]
  const rows = [...new Set([...ref.keys(), ...ours.keys()])].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
  for (const r of rows) console.log(`${r.padEnd(24)} ref ${(ref.get(r) ?? ['-']).join(',').padEnd(16)} ours ${(ours.get(r) ?? ['-']).join(',')}`)
  assert.deepEqual([...ours.keys()].sort(), [...ref.keys()].sort(), 'the same lines are errors on both sides')
})

test('js/cf-worker.d.ts itself type-checks without skipLibCheck', () => {
  const res = tsc([
    '--noEmit',
    '--strict',
    '--skipLibCheck',
    'false',
    '--target',
    'ES2022',
    '--lib',
    'ES2022',
    '--module',
    'ES2022',
    '--moduleResolution',
    'bundler',
    '--types',
    '@cloudflare/workers-types',
    path.join(REPO, 'js/cf-worker.d.ts'),
  ])
  console.log(`tsc (js/cf-worker.d.ts): ${res.seconds.toFixed(1)} s`)
  const ours = res.diagnostics.filter((d) => d.file === path.join(REPO, 'js/cf-worker.d.ts') || d.file === '')
  assert.equal(ours.length, 0, show(ours))
})
