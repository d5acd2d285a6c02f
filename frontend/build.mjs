// Bundles src/upload.js (Uppy core + dashboard + tus and the page's own code) into
// webapp/pages/static/pages/vendor/uppy-upload.{js,css}, minified, with a header naming
// what is inside and a LICENSES file with every bundled package's license text.
//
//   node build.mjs           build (what `npm run build` and build.sh run)
//   node build.mjs --check   build into a temporary directory and fail if the committed
//                            files differ

import { createHash } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import * as esbuild from 'esbuild'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const OUT_DIR = path.resolve(HERE, '../webapp/pages/static/pages/vendor')
const NAME = 'uppy-upload'
const LICENSE_FILES = /^(licen[cs]e|copying)(\.(md|txt))?$/i

async function build(outDir) {
  const result = await esbuild.build({
    entryPoints: [path.join(HERE, 'src/upload.js')],
    outfile: path.join(outDir, `${NAME}.js`),
    bundle: true,
    minify: true,
    format: 'iife',
    target: ['es2020', 'chrome90', 'firefox90', 'safari15'],
    legalComments: 'none',
    metafile: true,
    write: false,
    logLevel: 'warning',
  })
  const packages = await bundledPackages(Object.keys(result.metafile.inputs))
  await mkdir(outDir, { recursive: true })
  for (const file of result.outputFiles) {
    const output = result.metafile.outputs[path.relative(process.cwd(), file.path)]
    const used = await bundledPackages(Object.keys(output?.inputs || {}))
    const comment = header(used.length ? used : packages, path.extname(file.path))
    await writeFile(file.path, withHeader(file.text, comment))
  }
  await writeFile(path.join(outDir, `${NAME}.LICENSES.txt`), await licenses(packages))
  return packages
}

/** Every npm package among the bundle's inputs, by name, sorted. */
async function bundledPackages(inputs) {
  const roots = new Map()
  for (const input of inputs) {
    const match = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//)
    if (match) roots.set(match[1], path.join(HERE, 'node_modules', match[1]))
  }
  const packages = []
  for (const [name, dir] of [...roots].sort(([a], [b]) => a.localeCompare(b))) {
    const manifest = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8'))
    packages.push({ name, dir, version: manifest.version, license: manifest.license || '' })
  }
  return packages
}

/** The header first, except after a stylesheet's @charset, which must stay first. */
function withHeader(text, comment) {
  const charset = text.match(/^@charset "[^"]*";/)
  if (!charset) return `${comment}\n${text}`
  return `${charset[0]}\n${comment}\n${text.slice(charset[0].length)}`
}

function header(packages, extension) {
  const list = packages.map((p) => `${p.name}@${p.version} (${p.license || 'see LICENSES'})`)
  const lines = [
    `upload-store-process: the upload page's ${extension === '.css' ? 'styles' : 'script'}.`,
    'Built by frontend/build.mjs from frontend/src/upload.js; do not edit by hand.',
    `Bundles: ${list.join(', ')}.`,
    `License texts: ${NAME}.LICENSES.txt next to this file.`,
  ]
  return `/*! ${lines.join('\n * ')}\n */`
}

async function licenses(packages) {
  const sections = []
  for (const p of packages) {
    const names = (await readdir(p.dir)).filter((f) => LICENSE_FILES.test(f)).sort()
    const texts = await Promise.all(names.map((f) => readFile(path.join(p.dir, f), 'utf8')))
    const body = texts.join('\n').trim() || `License: ${p.license || 'unknown'} (no license file in the package).`
    sections.push(`${p.name}@${p.version} — ${p.license}\n\n${body}\n`)
  }
  const rule = `\n${'-'.repeat(78)}\n\n`
  return `Third-party software bundled in ${NAME}.js and ${NAME}.css\n${rule}${sections.join(rule)}`
}

async function check() {
  const scratch = await mkdtemp(path.join(tmpdir(), 'usp-frontend-'))
  try {
    await build(scratch)
    const stale = []
    for (const file of await readdir(scratch)) {
      const fresh = await readFile(path.join(scratch, file))
      const committed = await readFile(path.join(OUT_DIR, file)).catch(() => Buffer.alloc(0))
      if (digest(fresh) !== digest(committed)) stale.push(file)
    }
    if (stale.length) {
      console.error(`Out of date (run frontend/build.sh): ${stale.join(', ')}`)
      process.exitCode = 1
    } else {
      console.log('The committed bundle matches the sources.')
    }
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}

function digest(buffer) {
  return createHash('sha256').update(buffer).digest('hex')
}

if (process.argv.includes('--check')) {
  await check()
} else {
  const packages = await build(OUT_DIR)
  console.log(`Built ${path.relative(process.cwd(), OUT_DIR)}/${NAME}.{js,css} with ${packages.length} packages.`)
}
